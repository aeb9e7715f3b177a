"""What the turn pipeline does with previews that a user is looking at: the two candidates of a
comparison both stay up whatever the caps say; a smoke test that Kiln itself could not run is "not
scored" (never a failed app, a repair or a negative); deleting a project mid-build leaves nothing."""

import json
import threading
import time

import pytest

from builder import pipeline, services
from builder.models import Turn
from feedback.models import PreferencePair
from generation.models import Generation
from sandbox import docker_driver, lifecycle, slots, smoke
from sandbox.models import Build

pytestmark = pytest.mark.django_db(transaction=True)


def candidates(project, model_version, make_version, n=2, prompt="a todo list"):
    turn = Turn.objects.create(project=project, prompt=prompt, seed=1, compare=True)
    versions = []
    for candidate in range(1, n + 1):
        version = make_version()
        Generation.objects.create(turn=turn, model_version=model_version, candidate=candidate, seed=candidate,
                                  kind="compare", status="done", app_version=version)
        versions.append(version)
    return versions


def test_the_two_candidates_of_a_comparison_both_stay_live_under_a_cap_of_one(
        settings, project, model_version, make_version, build_preview):
    settings.PREVIEW_MAX_PER_USER = 1
    older = build_preview()  # the user's previous preview: this one may go to make room
    first, second = (build_preview(version=v) for v in candidates(project, model_version, make_version))

    for build in (older, first, second):
        build.refresh_from_db()
    assert (first.status, second.status) == ("ready", "ready")
    assert docker_driver.container_running(first.container_id) and docker_driver.container_running(second.container_id)
    assert older.status == "stopped"


def test_both_candidates_of_a_comparison_serve_the_projects_records_and_the_copy_never_replaces_them(
        project, owner, model_version, make_version, build_preview, preview_client):
    """Both candidates start side by side on the same project: the second must not pull the data folder
    from under the first (its app answered 502, or its build failed to open the database)."""
    earlier = build_preview()
    browser = preview_client(earlier)
    browser.enter(earlier, owner)
    assert browser.post("/api/entities/Task", data=json.dumps({"title": "Keep me"}),
                        content_type="application/json").status_code == 201

    first, second = (build_preview(version=v) for v in candidates(project, model_version, make_version))
    titles = {}
    for build in (first, second):
        assert build.status == "ready", build.error
        client = preview_client(build)
        client.enter(build, owner)
        titles[build.id] = [t["title"] for t in client.get("/api/entities/Task").json()]
    assert titles == {first.id: ["Keep me"], second.id: ["Keep me"]}
    assert slots.holds_a_copy(slots.slot_dir(second.slot)) and not slots.holds_a_copy(slots.slot_dir(first.slot))

    # What the second candidate's app writes stays in its copy; the project's records are the first's.
    client = preview_client(second)
    client.enter(second, owner)
    client.post("/api/entities/Task", data=json.dumps({"title": "Only in the copy"}), content_type="application/json")
    lifecycle.stop_preview(second)
    assert not slots.copy_marker(slots.slot_dir(second.slot)).exists()
    lifecycle.stop_preview(first)
    assert slots.data_dir(project.id).is_dir()  # the real folder went home
    after = build_preview()
    client = preview_client(after)
    client.enter(after, owner)
    assert [t["title"] for t in client.get("/api/entities/Task").json()] == ["Keep me"]


def test_a_smoke_test_kiln_could_not_run_is_not_scored_and_starts_no_repair(
        settings, project, model_version, make_version, build_preview):
    settings.SMOKE_TEST = True
    settings.CHROMIUM_PATH = "/nonexistent/chromium"
    smoke.browser.close()  # the warm browser of this process would not look at the path again
    try:
        (version,) = candidates(project, model_version, make_version, n=1)
        build = build_preview(version=version, stream_key="test:not-scored")
    finally:
        smoke.browser.close()

    assert build.status == "ready"
    assert (build.smoke_status, build.smoke_passed) == ("not_scored", None)
    assert build.smoke_message.startswith("Smoke test not scored: Kiln could not run it")
    assert not Generation.objects.filter(kind="repair").exists()
    assert not PreferencePair.objects.exists()


@pytest.mark.filterwarnings("error::pytest.PytestUnhandledThreadExceptionWarning")  # the worker stops quietly
def test_deleting_a_project_while_it_builds_leaves_no_container_folder_or_data(
        project, model_version, make_version, django_capture_on_commit_callbacks):
    (version,) = candidates(project, model_version, make_version, n=1)
    with django_capture_on_commit_callbacks(execute=False):
        build = pipeline.request_build(version, stream_key="test:deleted")
    Build.objects.filter(id=build.id).update(status="queued")
    worker = threading.Thread(target=pipeline.build, args=(build.id,))
    worker.start()
    deadline = time.monotonic() + 60
    while not docker_driver.instance_containers(project=str(project.id)) and time.monotonic() < deadline:
        time.sleep(0.05)  # until its bundling container runs
    assert docker_driver.instance_containers(project=str(project.id)), "the build never started a container"

    services.delete_project(project=project)
    worker.join(120)

    assert not worker.is_alive()
    assert docker_driver.instance_containers(project=str(project.id)) == []
    assert not Build.objects.filter(id=build.id).exists()
    assert not slots.data_dir(project.id).exists()
    assert not any(slots.slots_root().iterdir()) if slots.slots_root().exists() else True


def test_the_smoke_test_counts_what_the_prompt_asked_for_on_the_page(
        settings, project, model_version, make_version, build_preview):
    settings.SMOKE_TEST = True
    asked = candidates(project, model_version, make_version, n=1, prompt="tasks with a title and a done flag")
    build = build_preview(version=asked[0])

    assert build.smoke_status == "passed", build.smoke_message
    # "tasks", "title", "done": the test app shows "Task" (its placeholder and form label) and neither
    # a title label nor a done flag.
    assert (build.scores["terms_expected"], build.scores["terms_shown"]) == (3, 1)
