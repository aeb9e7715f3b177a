"""Stopping a generation: the model request is closed and the partial files never become a version."""

import threading
import time

import pytest

from generation.models import Generation
from builder.pipeline import generate
from generation.runs import CANCELLED, TOO_SLOW, request_cancel
from generation.streaming import read_after
from sandbox.models import Build

pytestmark = pytest.mark.django_db(transaction=True)

PROMPT = "an inventory of my tools with name, location and quantity"


@pytest.fixture
def slow_model_server(settings):
    from generation.blueprint.server import start_in_thread

    server, base_url = start_in_thread(port=0, delay_ms=3)
    settings.MODEL_BASE_URL = base_url
    yield server
    server.shutdown()


@pytest.fixture
def queued_generation(queue_generation):
    return queue_generation(PROMPT, seed=3)


def test_a_queued_generation_stops_at_once_and_never_runs(queued_generation):
    assert request_cancel(queued_generation) is True

    generate(queued_generation.id)  # the task arrives afterwards: nothing to do

    generation = Generation.objects.get(id=queued_generation.id)
    assert generation.status == "cancelled" and generation.error == CANCELLED
    assert [f["type"] for f in read_after(generation.stream_key)] == ["cancelled"]


def test_a_running_generation_stops_and_keeps_no_partial_files(slow_model_server, queued_generation):
    worker = threading.Thread(target=generate, args=(queued_generation.id,))
    started = time.monotonic()
    worker.start()
    deadline = time.monotonic() + 20
    while not any(f["type"] == "file_delta" for f in read_after(queued_generation.stream_key)):
        assert time.monotonic() < deadline, "no file streamed"
        time.sleep(0.02)

    assert request_cancel(Generation.objects.get(id=queued_generation.id)) is True
    worker.join(timeout=5)

    assert not worker.is_alive(), "the worker must stop within a second or so"
    generation = Generation.objects.get(id=queued_generation.id)
    assert generation.status == "cancelled"
    assert generation.app_version is None
    assert Build.objects.count() == 0
    frames = read_after(generation.stream_key)
    assert frames[-1]["type"] == "cancelled"
    assert "done" not in [f["type"] for f in frames]
    assert time.monotonic() - started < 10  # far less than the whole app takes at this pace


def test_cancelling_a_finished_generation_says_so(make_generation):
    assert request_cancel(make_generation()) is False


def test_a_generation_that_runs_past_its_time_limit_is_stopped_and_keeps_nothing(
    settings, slow_model_server, queued_generation
):
    settings.GENERATION_MAX_S = 1.0
    started = time.monotonic()

    generate(queued_generation.id)

    generation = Generation.objects.get(id=queued_generation.id)
    assert time.monotonic() - started < 5  # the whole app takes far longer at this pace
    assert generation.status == "failed" and generation.error == TOO_SLOW.format(limit=1.0)
    assert generation.app_version is None and Build.objects.count() == 0
    assert read_after(generation.stream_key)[-1]["message"] == generation.error
