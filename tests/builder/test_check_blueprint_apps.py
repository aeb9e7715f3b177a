"""A sample of the blueprint yardstick through the real pipeline: each app is bundled in the runtime
image, previewed, smoke-tested in Chromium, and its expected names are found on the page."""

import pytest
from django.core.management import call_command

from builder.models import Project

pytestmark = pytest.mark.django_db


def test_a_sample_of_the_yardstick_builds_passes_the_smoke_test_and_shows_what_was_asked(capsys):
    call_command("check_blueprint_apps", "--sample", "4")  # raises CommandError when any app does not work

    out = capsys.readouterr().out
    assert (
        "built and smoke-tested: 6 of 6" in out
    )  # 4 prompts and 2 of 3 follow-ups (a refusal changes nothing)
    assert "prompts right: 4/4" in out and "junk fields: 0" in out
    assert "the page shows" not in out  # every expected entity and field was on the page
    assert not Project.objects.exists()  # the check cleans up after itself


def test_without_docker_it_scores_the_answers_only(capsys):
    call_command("check_blueprint_apps", "--no-docker", "--kind", "french", "--kind", "rollup")

    out = capsys.readouterr().out
    assert "french" in out and "rollup" in out and "(--no-docker: answers only)" in out
    assert "built and smoke-tested: 0 of 0" in out
