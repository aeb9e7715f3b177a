"""History, restore, undo, diff and download, below the browser: what each writes and who may reach it.

The browser story is tests/builder/test_history_in_browser.py; here each guarantee is checked on the
real database and Redis, and every endpoint is tried with another user's ids (a 404, exactly like an id
that does not exist)."""

import io
import json
import zipfile

import pytest
from channels.db import database_sync_to_async
from django.test import Client

from builder import history
from builder.models import Turn
from builder.services import InvalidRequest, current_version, regenerate
from builder.versions import create_version
from feedback.models import Feedback, PreferencePair
from generation.models import Generation
from sandbox.models import Build
from tests.builder.test_project_socket import connect
from tests.training.conftest import export, read_rows

pytestmark = pytest.mark.django_db(transaction=True)

APP_JSON = json.dumps({"name": "Chores", "entities": {"Chore": {"fields": {"title": {"type": "string", "required": True}}}}})
V1 = {"app.json": APP_JSON, "index.html": "<div id=root></div>", "src/main.jsx": "const title = 'Chores';\nrender();\n"}
V2 = {"app.json": APP_JSON, "index.html": "<div id=root></div>", "src/main.jsx": "const title = 'My chores';\nrender();\n",
      "src/extra.css": "body { color: red; }\n"}


@pytest.fixture
def two_versions(project, make_generation):
    """Two answers of two turns, as the pipeline stores them: v1, then v2 built on it."""
    first = make_generation(prompt="a chores list")
    first.app_version = create_version(project=project, files=V1, parent=None)
    first.save()
    turn = Turn.objects.create(project=project, prompt="call it My chores, make it red", seed=2,
                               base_version=first.app_version)
    second = make_generation(turn)
    second.app_version = create_version(project=project, files=V2, parent=first.app_version)
    second.save()
    return first, second


def client_for(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_restore_makes_a_new_current_version_with_the_old_files_and_keeps_history(owner, project, two_versions):
    first, second = two_versions

    restore = history.restore_version(user=owner, project=project, version=first.app_version)

    copy = restore.app_version
    assert copy.id not in (first.app_version_id, second.app_version_id)
    assert copy.files() == V1
    assert copy.parent_id == second.app_version_id  # what it replaced: Undo brings that back
    assert current_version(project) == copy
    assert second.app_version.files() == V2  # nothing rewritten
    assert project.versions.count() == 3
    assert restore.kind == Generation.Kind.RESTORE and restore.status == Generation.Status.DONE
    assert restore.turn.prompt == "Restore version 1"
    assert "stored data is left as it is" in restore.explanation
    build = Build.objects.get(app_version=copy)  # entered the pipeline like any new version
    assert build.stream_key == restore.stream_key


def test_a_restore_cannot_be_regenerated_it_has_no_prompt(owner, project, two_versions):
    first, _ = two_versions
    restore = history.restore_version(user=owner, project=project, version=first.app_version)

    with pytest.raises(InvalidRequest, match="no prompt to regenerate"):
        regenerate(turn=restore.turn)
    assert not restore.turn.generations.exclude(id=restore.id).exists()


def test_restore_records_a_restore_verdict_and_the_restored_version_over_the_replaced_one(owner, project, two_versions):
    first, second = two_versions

    restore = history.restore_version(user=owner, project=project, version=first.app_version)

    feedback = Feedback.objects.get()
    assert (feedback.user, feedback.generation, feedback.verdict) == (owner, restore, "restore")
    pair = PreferencePair.objects.get()
    assert (pair.chosen_generation, pair.rejected_generation, pair.source) == (restore, second, "restore")
    assert pair.feedback == feedback
    assert pair.prompt == second.request_messages  # the request the replaced answer was given
    assert "const title = 'Chores';" in pair.chosen[0]["content"]  # the restored app, written whole
    assert pair.rejected == [{"role": "assistant", "content": second.raw_output}]


def test_undo_restores_the_parent_and_undoing_that_brings_the_replaced_version_back(owner, project, two_versions):
    first, _ = two_versions

    undone = history.undo(user=owner, project=project)
    assert undone.app_version.files() == V1
    assert undone.turn.prompt == "Undo: back to version 1"
    redone = history.undo(user=owner, project=project)
    assert redone.app_version.files() == V2

    pair = PreferencePair.objects.get(chosen_generation=redone)
    assert pair.rejected_generation == undone
    assert pair.prompt == first.request_messages  # the undone restore answered in the context of v1
    assert "const title = 'Chores';" in pair.rejected[0]["content"]  # the undone restore, written whole
    assert Feedback.objects.filter(verdict="restore").count() == 2


def test_restoring_the_current_version_is_refused_and_stores_nothing(owner, project, two_versions):
    _, second = two_versions
    with pytest.raises(history.InvalidRequest, match=history.ALREADY_CURRENT):
        history.restore_version(user=owner, project=project, version=second.app_version)
    assert project.versions.count() == 2
    assert not Feedback.objects.exists()


def test_undo_of_the_first_version_says_there_is_nothing_to_undo(owner, project, make_generation):
    only = make_generation(prompt="a chores list")
    only.app_version = create_version(project=project, files=V1, parent=None)
    only.save()
    with pytest.raises(history.InvalidRequest, match=history.NOTHING_TO_UNDO):
        history.undo(user=owner, project=project)


def test_the_versions_list_is_newest_first_with_source_prompt_and_current(owner, project, two_versions):
    first, _ = two_versions
    history.restore_version(user=owner, project=project, version=first.app_version)

    listed = client_for(owner).get(f"/projects/{project.id}/versions/").json()["versions"]

    assert [v["number"] for v in listed] == [3, 2, 1]
    assert [v["source"] for v in listed] == ["restore", "generation", "generation"]
    assert [v["prompt"] for v in listed] == ["Restore version 1", "call it My chores, make it red", "a chores list"]
    assert [v["current"] for v in listed] == [True, False, False]
    assert [v["same_as_current"] for v in listed] == [True, False, True]
    assert listed[0]["build"]["status"] in ("waiting", "queued")  # handed to the build queue on commit


def test_a_diff_lists_added_and_changed_files_with_their_lines(owner, project, two_versions):
    _, second = two_versions

    diff = client_for(owner).get(f"/projects/{project.id}/versions/{second.app_version_id}/diff/").json()

    assert [(f["path"], f["status"]) for f in diff["files"]] == [("src/extra.css", "added"), ("src/main.jsx", "changed")]
    main = diff["files"][1]
    assert ["del", "-const title = 'Chores';"] in main["lines"]
    assert ["add", "+const title = 'My chores';"] in main["lines"]
    assert (main["added"], main["removed"]) == (1, 1)
    assert diff["unchanged"] == 2


def test_a_diff_between_two_picked_versions_goes_either_way(owner, project, two_versions):
    first, second = two_versions
    url = f"/projects/{project.id}/versions/{first.app_version_id}/diff/?against={second.app_version_id}"

    diff = client_for(owner).get(url).json()

    assert [(f["path"], f["status"]) for f in diff["files"]] == [("src/extra.css", "removed"), ("src/main.jsx", "changed")]
    assert client_for(owner).get(url.replace(f"={second.app_version_id}", "=abc")).status_code == 400


def test_the_zip_holds_the_files_and_a_readme_naming_the_entity_api(owner, project, two_versions):
    _, second = two_versions

    response = client_for(owner).get(f"/projects/{project.id}/versions/{second.app_version_id}/download.zip")

    assert response["Content-Type"] == "application/zip"
    assert 'filename="chores-v2.zip"' in response["Content-Disposition"]
    archive = zipfile.ZipFile(io.BytesIO(response.content))
    assert sorted(archive.namelist()) == sorted([*V2, "README.md"])
    assert archive.read("src/main.jsx").decode() == V2["src/main.jsx"]
    readme = archive.read("README.md").decode()
    assert "GET    /api/entities/Chore" in readme and "npx esbuild src/main.jsx" in readme


def test_the_entity_data_download_is_json_even_before_any_preview_ran(owner, project):
    response = client_for(owner).get(f"/projects/{project.id}/data.json")
    assert response.json() == {"project": "Chores", "entities": {}}
    assert 'filename="chores-data.json"' in response["Content-Disposition"]


@pytest.mark.parametrize("path", [
    "/projects/{p}/versions/", "/projects/{p}/versions/{v}/", "/projects/{p}/versions/{v}/diff/",
    "/projects/{p}/versions/{v}/download.zip", "/projects/{p}/data.json",
])
def test_another_user_gets_404_exactly_like_a_missing_id(stranger, owner, project, two_versions, path):
    _, second = two_versions
    theirs = path.format(p=project.id, v=second.app_version_id)
    missing = path.format(p=project.id + 1000, v=second.app_version_id + 1000)
    owners = client_for(owner).get(theirs)
    assert owners.status_code == 200
    for url in (theirs, missing):
        response = client_for(stranger).get(url)
        assert response.status_code == 404


async def restore_over_socket(project, user, version_id):
    communicator, connected, _ = await connect(project.id, user=user)
    assert connected
    await communicator.receive_json_from(timeout=5)  # the state
    await communicator.send_json_to({"type": "restore", "version": version_id, "ref": "r1"})
    answer = await communicator.receive_json_from(timeout=5)
    await communicator.disconnect()
    return answer


async def test_a_restore_over_the_socket_announces_the_new_version(owner, project, two_versions):
    first, _ = two_versions
    answer = await restore_over_socket(project, owner, first.app_version_id)
    assert answer["type"] == "generation" and answer["select"] is True
    assert answer["generation"]["kind"] == "restore"
    assert sorted(f["path"] for f in answer["generation"]["files"]) == sorted(V1)


async def test_restoring_another_users_version_answers_like_a_missing_one(stranger, owner, project, two_versions):
    first, _ = two_versions
    stranger_project = await database_sync_to_async(type(project).objects.create)(owner=stranger, name="Mine")
    theirs = await restore_over_socket(stranger_project, stranger, first.app_version_id)
    missing = await restore_over_socket(stranger_project, stranger, first.app_version_id + 1000)
    assert theirs == missing == {"type": "error", "message": "Kiln did not understand that message.", "ref": "r1"}
    assert await database_sync_to_async(project.versions.count)() == 2


def test_the_versions_list_takes_the_same_queries_for_three_versions_as_for_three_hundred(
    owner, project, make_generation, django_assert_max_num_queries
):
    def grow(count):
        parent = project.versions.order_by("-id").first()
        for i in range(count):
            generation = make_generation(prompt=f"change {i}")
            generation.app_version = parent = create_version(project=project, files={"app.json": str(i)}, parent=parent)
            generation.save()

    grow(3)
    with django_assert_max_num_queries(12) as few:
        assert len(history.versions_of(project, owner)["versions"]) == 3
    grow(297)
    with django_assert_max_num_queries(len(few.captured_queries)):
        assert len(history.versions_of(project, owner)["versions"]) == 300


async def test_undo_over_the_socket_with_nothing_to_undo_says_so_with_the_browsers_ref(owner, project, make_generation):
    def first_version():
        only = make_generation(prompt="a chores list")
        only.app_version = create_version(project=project, files=V1, parent=None)
        only.save()

    await database_sync_to_async(first_version)()
    communicator, connected, _ = await connect(project.id, user=owner)
    assert connected
    await communicator.receive_json_from(timeout=5)  # the state
    await communicator.send_json_to({"type": "undo", "ref": "history:undo"})
    answer = await communicator.receive_json_from(timeout=5)
    await communicator.disconnect()
    assert answer == {"type": "error", "message": history.NOTHING_TO_UNDO, "ref": "history:undo"}


def test_a_restore_exports_as_one_dpo_row_and_nothing_else(owner, project, two_versions, tmp_path):
    first, second = two_versions
    history.restore_version(user=owner, project=project, version=first.app_version)

    export(tmp_path)

    [row] = read_rows(tmp_path, "dpo")
    assert "const title = 'Chores';" in row["chosen"][0]["content"]
    assert row["rejected"] == [{"role": "assistant", "content": second.raw_output}]
    assert row["prompt"] == second.request_messages
    assert read_rows(tmp_path, "kto") == [] and read_rows(tmp_path, "sft") == []
