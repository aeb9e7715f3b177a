"""History's "Preview this version" below the browser (builder.version_previews and the sandbox's side
previews): what a request builds or reuses, that the current version and its preview are left alone, and
that another user's ids look missing. The browser story is test_version_preview_in_browser.py."""

import json

import pytest
from django.test import Client

from builder import pipeline, version_previews
from builder.models import Turn
from builder.services import current_version
from builder.versions import create_version
from generation.models import Generation
from sandbox import lifecycle, slots
from sandbox.models import Build

pytestmark = pytest.mark.django_db(transaction=True)

APP_JSON = json.dumps({"name": "Chores", "entities": {"Chore": {"fields": {"title": {"type": "string"}}}}})
V1 = {"app.json": APP_JSON, "index.html": "<div id=root></div>", "src/main.jsx": "render('v1');\n"}
V2 = {"app.json": APP_JSON, "index.html": "<div id=root></div>", "src/main.jsx": "render('v2');\n"}


@pytest.fixture
def two_versions(project, make_generation):
    first = make_generation(prompt="a chores list")
    first.app_version = create_version(project=project, files=V1, parent=None)
    first.save()
    turn = Turn.objects.create(project=project, prompt="make it v2", seed=2, base_version=first.app_version)
    second = make_generation(turn)
    second.app_version = create_version(project=project, files=V2, parent=first.app_version)
    second.save()
    return first.app_version, second.app_version


@pytest.fixture
def sandbox_dir(settings, tmp_path):
    settings.SANDBOX_DIR = tmp_path
    return tmp_path


def client_for(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def url(version) -> str:
    return f"/projects/{version.project_id}/versions/{version.id}/preview/"


def test_an_old_version_is_built_as_a_side_preview_and_the_current_version_stays(owner, two_versions):
    v1, v2 = two_versions
    client = client_for(owner)

    response = client.post(url(v1))

    assert response.status_code == 202
    state = response.json()
    assert (state["number"], state["current"], state["current_number"]) == (1, False, 2)
    assert state["build"]["status"] in ("waiting", "queued") and not state["settled"]
    build = Build.objects.get(app_version=v1)
    assert lifecycle.is_side_preview(build)
    assert current_version(v1.project) == v2
    # Asked again (a second click), the same build answers: nothing more is built.
    assert client.post(url(v1)).json()["build"]["id"] == build.id
    assert Build.objects.filter(app_version=v1).count() == 1
    assert client.get(url(v1)).json()["build"]["id"] == build.id


def test_a_running_preview_is_reused_and_the_current_version_says_so(owner, two_versions):
    _, v2 = two_versions
    ready = Build.objects.create(app_version=v2, status=Build.Status.READY, stream_key="kiln:gen:2",
                                 preview_token="tok2", smoke_status=Build.Smoke.PASSED)

    state = client_for(owner).post(url(v2)).json()

    assert state["current"] is True
    assert state["build"]["id"] == ready.id and state["build"]["preview_url"] and state["settled"]
    assert Build.objects.filter(app_version=v2).count() == 1


def test_a_stopped_preview_is_built_again_but_an_app_that_did_not_bundle_is_refused(owner, two_versions):
    v1, v2 = two_versions
    Build.objects.create(app_version=v1, status=Build.Status.STOPPED)
    Build.objects.create(app_version=v2, status=Build.Status.FAILED, failed_step="bundle")
    client = client_for(owner)

    assert client.post(url(v1)).status_code == 202
    assert Build.objects.filter(app_version=v1).count() == 2

    refused = client.post(url(v2))
    assert refused.status_code == 400
    assert refused.json()["error"] == version_previews.BUILD_FAILED.format(step="bundle")
    assert Build.objects.filter(app_version=v2).count() == 1


def test_another_users_ids_look_missing_and_start_nothing(stranger, two_versions):
    v1, _ = two_versions
    client = client_for(stranger)
    for method in (client.get, client.post):
        assert method(url(v1)).status_code == 404
        assert method(f"/projects/{v1.project_id}/versions/999999/preview/").status_code == 404
    assert not Build.objects.exists()


def test_a_side_preview_never_retires_the_current_one_and_a_new_version_retires_both(two_versions, sandbox_dir):
    v1, v2 = two_versions
    current = Build.objects.create(app_version=v2, status=Build.Status.READY, stream_key="kiln:gen:2")
    side = Build.objects.create(app_version=v1, status=Build.Status.READY,
                                stream_key=version_previews.side_stream(v1))

    lifecycle.retire_older_previews(side, keep=pipeline._builds_to_keep(side))
    lifecycle.retire_older_previews(current)  # the side preview is newer, and does not count

    assert set(Build.objects.values_list("status", flat=True)) == {Build.Status.READY}
    assert current.id in pipeline._builds_to_keep(side)
    # A second side preview replaces the first; the current one stays.
    second = Build.objects.create(app_version=v1, status=Build.Status.READY,
                                  stream_key=version_previews.side_stream(v1))
    lifecycle.retire_older_previews(second, keep=pipeline._builds_to_keep(second))
    assert Build.objects.get(id=side.id).status == Build.Status.STOPPED
    assert Build.objects.get(id=current.id).status == Build.Status.READY
    # The next version's preview takes over from both.
    newer = Build.objects.create(app_version=v2, status=Build.Status.READY, stream_key="kiln:gen:3")
    lifecycle.retire_older_previews(newer)
    assert Build.objects.get(id=second.id).status == Build.Status.STOPPED
    assert Build.objects.get(id=current.id).status == Build.Status.STOPPED


def test_a_side_preview_works_on_a_copy_of_the_data_and_its_copy_goes_with_it(project, two_versions, sandbox_dir):
    v1, v2 = two_versions
    current = Build.objects.create(app_version=v2, status=Build.Status.READY, stream_key="kiln:gen:2", slot="cur")
    (slots.slot_dir("cur") / "data").mkdir(parents=True)
    (slots.slot_dir("cur") / "data" / "app.sqlite3").write_text("the real records")
    side = Build.objects.create(app_version=v1, status=Build.Status.READY,
                                stream_key=version_previews.side_stream(v1), slot="side")
    slots.slot_dir("side").mkdir(parents=True)

    slots.copy_project_data(project.id, slots.slot_dir("side"), holders=["cur"])
    (slots.slot_dir("side") / "data" / "app.sqlite3").write_text("changed in the old version")
    lifecycle.stop_preview(side)

    assert (slots.slot_dir("cur") / "data" / "app.sqlite3").read_text() == "the real records"
    assert not slots.data_dir(project.id).exists()  # the copy did not go home
    assert not slots.slot_dir("side").exists()
    assert Build.objects.get(id=current.id).status == Build.Status.READY


def test_a_side_preview_that_fails_is_never_sent_for_repair(two_versions):
    v1, _ = two_versions
    side = Build.objects.create(app_version=v1, status=Build.Status.FAILED, failed_step="bundle",
                                stream_key=version_previews.side_stream(v1))

    assert pipeline.after_build(side) is None
    assert not Generation.objects.filter(kind=Generation.Kind.REPAIR).exists()


def test_the_per_user_cap_never_stops_the_current_preview_for_a_side_one(owner, two_versions, settings, sandbox_dir):
    from builder.models import Project

    v1, v2 = two_versions
    settings.PREVIEW_MAX_PER_USER = 1
    other = create_version(project=Project.objects.create(owner=owner, name="Other"), files=V1, parent=None)
    elsewhere = Build.objects.create(app_version=other, status=Build.Status.READY, stream_key="kiln:gen:9")
    current = Build.objects.create(app_version=v2, status=Build.Status.READY, stream_key="kiln:gen:2")
    side = Build.objects.create(app_version=v1, status=Build.Status.READY,
                                stream_key=version_previews.side_stream(v1))

    lifecycle.enforce_user_cap(side, keep=pipeline._builds_to_keep(side))

    assert Build.objects.get(id=current.id).status == Build.Status.READY
    assert Build.objects.get(id=side.id).status == Build.Status.READY
    assert Build.objects.get(id=elsewhere.id).status == Build.Status.STOPPED  # the oldest, elsewhere
