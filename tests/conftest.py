"""Shared fixtures: named personas (owner, stranger, staff) and a clean Redis database per test."""

import pytest
import redis
from django.conf import settings


@pytest.fixture(autouse=True)
def clean_redis():
    # tests/settings.py points Kiln at a Redis database of its own; empty it so stream sequence
    # numbers from one test never leak into the next.
    client = redis.Redis.from_url(settings.REDIS_URL)
    client.flushdb()
    yield client
    client.close()


@pytest.fixture
def owner(django_user_model):
    return django_user_model.objects.create_user(username="olivia", password="owner-pass-123")


@pytest.fixture
def stranger(django_user_model):
    return django_user_model.objects.create_user(username="sam", password="stranger-pass-123")


@pytest.fixture
def staff(django_user_model):
    return django_user_model.objects.create_user(username="riley", password="staff-pass-123", is_staff=True,
                                                 is_superuser=True)


@pytest.fixture
def model_version(db):
    from generation.models import ModelVersion

    # Transactional tests flush the data migration's row; make sure the default exists.
    version, _ = ModelVersion.objects.get_or_create(name="default", defaults={"backend": "openai"})
    return version


@pytest.fixture
def project(owner):
    from builder.models import Project

    return Project.objects.create(owner=owner, name="Chores")


@pytest.fixture
def make_generation(project, model_version):
    """A finished generation with raw output, as a model would have written it."""
    from builder.models import Turn
    from generation.models import Generation

    def make(turn=None, *, raw_output="Here is your app.\n<file path=\"app.json\">{}</file>", candidate=1,
             status=Generation.Status.DONE, prompt="a todo list"):
        turn = turn or Turn.objects.create(project=project, prompt=prompt, seed=1)
        return Generation.objects.create(
            turn=turn,
            model_version=model_version,
            candidate=candidate,
            seed=candidate,
            status=status,
            request_messages=[{"role": "system", "content": "sys"}, {"role": "user", "content": turn.prompt}],
            raw_output=raw_output,
        )

    return make


@pytest.fixture
def queue_generation(project, model_version):
    """A queued first generation for `prompt`, with the messages Kiln would send the model."""
    from builder.models import Turn
    from generation.models import Generation
    from generation.prompts import build_messages

    def queue(prompt: str, *, seed: int = 1):
        turn = Turn.objects.create(project=project, prompt=prompt, seed=seed)
        return Generation.objects.create(
            turn=turn, model_version=model_version, seed=seed,
            request_messages=build_messages(history=[], files={}, prompt=prompt),
        )

    return queue


@pytest.fixture(scope="module")
def browser():
    """Headless Chromium (Debian's), one per test module that drives pages."""
    from playwright.sync_api import sync_playwright

    from tests.browser import CHROMIUM_ARGS

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
        yield browser
        browser.close()
