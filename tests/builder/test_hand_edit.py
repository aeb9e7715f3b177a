"""Hand edits below the browser: what a save stores and writes, what the export makes of it, what is
refused, and who may reach it. The browser story is tests/builder/test_hand_edit_in_browser.py."""

import json

import pytest
from django.test import Client

from builder import edits, history, pipeline, selectors
from builder.models import Turn
from builder.services import InvalidRequest, current_version, regenerate
from builder.versions import create_version
from feedback.models import Feedback, PreferencePair
from generation.models import Generation
from sandbox.models import Build
from tests.training.conftest import export, read_rows

pytestmark = pytest.mark.django_db(transaction=True)

APP_JSON = json.dumps({"name": "Chores", "entities": {"Chore": {"fields": {"title": {"type": "string", "required": True}}}}})
V1 = {"app.json": APP_JSON, "index.html": "<div id=root></div>", "src/main.jsx": "const title = 'Chores';\nrender();\n"}
V2 = {"app.json": APP_JSON, "index.html": "<div id=root></div>", "src/main.jsx": "const title = 'My chores';\nrender();\n",
      "src/extra.css": "body { color: red; }\n"}
EDITED = "const title = 'Our chores';\nrender();\n"
REQUEST = [{"role": "system", "content": "You write apps."}, {"role": "user", "content": "call it My chores, make it red"}]
ANSWER = 'Renamed it and made it red.\n<file path="src/main.jsx">\nconst title = \'My chores\';\nrender();\n</file>'


@pytest.fixture
def answered(project, make_generation):
    """Two answers of two turns, as the pipeline stores them: v1, then the model's v2 built on it."""
    first = make_generation(prompt="a chores list")
    first.app_version = create_version(project=project, files=V1, parent=None)
    first.save()
    turn = Turn.objects.create(project=project, prompt="call it My chores, make it red", seed=2,
                               base_version=first.app_version)
    second = make_generation(turn, raw_output=ANSWER)
    second.app_version = create_version(project=project, files=V2, parent=first.app_version)
    second.request_messages = REQUEST
    second.explanation = "Renamed it and made it red."
    second.save()
    return first, second


def client_for(user, **options) -> Client:
    client = Client(**options)
    client.force_login(user)
    return client


def save_url(project_id, version_id):
    return f"/projects/{project_id}/versions/{version_id}/edit/"


def post_json(client, url, body):
    return client.post(url, data=json.dumps(body), content_type="application/json")


def test_saving_an_edit_makes_a_new_current_version_built_like_any_other(owner, project, answered):
    _, second = answered

    edit = edits.save_edit(user=owner, project=project, version=second.app_version, path="src/main.jsx", content=EDITED)

    copy = edit.app_version
    assert copy.files() == {**V2, "src/main.jsx": EDITED}
    assert copy.parent_id == second.app_version_id
    assert second.app_version.files() == V2  # history is never rewritten
    assert current_version(project) == copy
    assert edit.kind == Generation.Kind.EDIT and edit.status == Generation.Status.DONE
    assert edit.turn.prompt == "Hand edit of src/main.jsx"
    assert edit.raw_output == "" and edit.model_version_id == second.model_version_id
    build = Build.objects.get(app_version=copy)  # entered the pipeline at request_build
    assert build.stream_key == edit.stream_key
    assert history.versions_of(project, owner)["versions"][0]["source"] == "edit"


def test_an_edit_records_edit_feedback_and_the_edited_app_over_the_models_answer(owner, project, answered):
    _, second = answered

    edit = edits.save_edit(user=owner, project=project, version=second.app_version, path="src/main.jsx", content=EDITED)

    feedback = Feedback.objects.get(generation=edit)
    assert (feedback.verdict, feedback.user) == ("edit", owner)
    pair = PreferencePair.objects.get()
    assert (pair.source, pair.chosen_generation, pair.rejected_generation, pair.feedback) == ("edit", edit, second, feedback)
    assert pair.prompt == REQUEST  # the request the edited answer was given
    assert pair.rejected == [{"role": "assistant", "content": ANSWER}]
    [chosen] = pair.chosen
    assert chosen["role"] == "assistant"
    assert chosen["content"].startswith("Renamed it and made it red.\n")  # the answer's words, the user's files
    assert f'<file path="src/main.jsx">\n{EDITED}\n</file>' in chosen["content"]
    assert '<file path="src/extra.css">' in chosen["content"]  # the whole app


def test_an_edit_exports_as_one_dpo_row_and_one_sft_row(owner, project, answered, tmp_path):
    _, second = answered
    edits.save_edit(user=owner, project=project, version=second.app_version, path="src/main.jsx", content=EDITED)
    pair = PreferencePair.objects.get()

    export(tmp_path)

    [dpo] = read_rows(tmp_path, "dpo")
    assert dpo["source"] == "edit"
    assert (dpo["prompt"], dpo["chosen"], dpo["rejected"]) == (REQUEST, pair.chosen, pair.rejected)
    [sft] = read_rows(tmp_path, "sft")
    assert sft["source"] == "edit" and sft["messages"] == [*REQUEST, *pair.chosen]  # prompt -> edited files
    assert read_rows(tmp_path, "kto") == []  # the edit has no answer of its own; its verdict rides on the pair


def test_editing_a_hand_edit_ranks_it_against_that_edit_under_the_models_request(owner, project, answered):
    _, second = answered
    once = edits.save_edit(user=owner, project=project, version=second.app_version, path="src/main.jsx", content=EDITED)

    twice = edits.save_edit(user=owner, project=project, version=once.app_version, path="src/extra.css",
                            content="body { color: green; }\n")

    pair = PreferencePair.objects.get(chosen_generation=twice)
    assert pair.rejected_generation == once
    assert pair.prompt == REQUEST
    assert f'<file path="src/main.jsx">\n{EDITED}\n</file>' in pair.rejected[0]["content"]
    assert "color: green" in pair.chosen[0]["content"] and "color: green" not in pair.rejected[0]["content"]


def test_a_new_file_may_be_made_under_src(owner, project, answered):
    _, second = answered

    edit = edits.save_edit(user=owner, project=project, version=second.app_version, path="./src//Footer.jsx",
                           content="export default () => <footer>hi</footer>;\n")

    assert edit.app_version.files()["src/Footer.jsx"].startswith("export default")
    assert edit.app_version.parent_id == second.app_version_id


@pytest.mark.parametrize(
    ("path", "content", "message"),
    [
        ("../secrets.js", "x", "paths must stay inside the app"),
        ("/etc/passwd", "x", "is absolute"),
        ("server.py", "print(1)", "A new file can only be made under src/"),
        ("src/main.jsx", "a\x00b", "NUL byte"),
        ("src/main.jsx", "x" * 400_001, "larger than 400 KB"),
        ("src/main.jsx", "const a = 1;\n</file>\nconst b = 2;\n", "exactly </file>"),
        ("src/main.jsx", V2["src/main.jsx"], edits.NOTHING_CHANGED),
        ("src/main.jsx", None, edits.NOT_TEXT),
    ],
)
def test_what_a_model_could_not_write_a_person_cannot_save(owner, project, answered, path, content, message):
    _, second = answered
    client = client_for(owner)

    response = post_json(client, save_url(project.id, second.app_version_id), {"path": path, "content": content})

    assert response.status_code == 400
    assert message in response.json()["error"]
    assert project.versions.count() == 2 and not Feedback.objects.exists() and not PreferencePair.objects.exists()


def test_the_save_endpoint_answers_with_the_new_generation_for_the_page_to_follow(owner, project, answered):
    _, second = answered

    response = post_json(client_for(owner), save_url(project.id, second.app_version_id),
                         {"path": "src/main.jsx", "content": EDITED})

    assert response.status_code == 201
    state = response.json()["generation"]
    edit = Generation.objects.get(kind=Generation.Kind.EDIT)
    assert (state["id"], state["kind"], state["status"], state["version"]) == (edit.id, "edit", "done", edit.app_version_id)
    assert state["changes"]["edited"] == {"count": 1, "paths": ["src/main.jsx"]}
    assert state["build"]["status"] in ("waiting", "queued")  # handed to a build worker once fair use allows


def test_the_save_endpoint_needs_the_csrf_token(owner, project, answered):
    _, second = answered
    client = client_for(owner, enforce_csrf_checks=True)

    response = post_json(client, save_url(project.id, second.app_version_id), {"path": "src/main.jsx", "content": EDITED})

    assert response.status_code == 403
    assert project.versions.count() == 2


def test_another_user_gets_404_exactly_like_a_missing_id(stranger, owner, project, answered):
    _, second = answered
    edit = edits.save_edit(user=owner, project=project, version=second.app_version, path="src/main.jsx", content=EDITED)
    body = {"path": "src/main.jsx", "content": "const hacked = 1;\n"}
    theirs = client_for(stranger)

    assert post_json(theirs, save_url(project.id, second.app_version_id), body).status_code == 404
    assert post_json(theirs, save_url(project.id, 999_999), body).status_code == 404
    assert theirs.post(f"/projects/{project.id}/generations/{edit.id}/repair/").status_code == 404
    assert theirs.post(f"/projects/{project.id}/generations/999999/repair/").status_code == 404
    # The owner's own ids under another project's id are not found either.
    other = type(project).objects.create(owner=owner, name="Other")
    assert post_json(client_for(owner), save_url(other.id, second.app_version_id), body).status_code == 404
    assert project.versions.count() == 3 and Generation.objects.filter(kind=Generation.Kind.REPAIR).count() == 0


def fail_bundle(generation) -> Build:
    build = Build.objects.get(app_version=generation.app_version)
    build.status, build.failed_step = Build.Status.FAILED, "bundle"
    build.error = 'Build failed:\nsrc/main.jsx:1:14: ERROR: Expected ";" but found "chores"'
    build.save()
    return build


def test_a_broken_hand_edit_is_not_sent_to_the_model_until_the_user_asks(owner, project, answered):
    _, second = answered
    edit = edits.save_edit(user=owner, project=project, version=second.app_version, path="src/main.jsx",
                           content="const title = 'Our' chores';\n")
    build = fail_bundle(edit)

    assert pipeline.after_build(build) is None
    assert not Generation.objects.filter(kind=Generation.Kind.REPAIR).exists()

    response = client_for(owner).post(f"/projects/{project.id}/generations/{edit.id}/repair/")

    assert response.status_code == 201
    repair = Generation.objects.get(kind=Generation.Kind.REPAIR)
    assert response.json()["generation"]["id"] == repair.id
    assert (repair.turn, repair.repair_of, repair.model_version) == (edit.turn, build, second.model_version)
    assert "src/main.jsx:1:14" in repair.request_messages[-1]["content"]
    again = client_for(owner).post(f"/projects/{project.id}/generations/{edit.id}/repair/")
    assert (again.status_code, again.json()["error"]) == (400, edits.ALREADY_ASKED)


def test_only_a_broken_hand_edit_can_be_sent_for_repair_on_request(owner, project, answered):
    _, second = answered
    edit = edits.save_edit(user=owner, project=project, version=second.app_version, path="src/main.jsx", content=EDITED)

    with pytest.raises(InvalidRequest, match=edits.STILL_BUILDING):
        edits.ask_for_repair(generation=edit)
    Build.objects.filter(app_version=edit.app_version).update(status=Build.Status.READY, smoke_status="passed")
    with pytest.raises(InvalidRequest, match=edits.NOTHING_TO_REPAIR):
        edits.ask_for_repair(generation=edit)
    with pytest.raises(InvalidRequest, match="Only a hand edit"):
        edits.ask_for_repair(generation=second)


def test_a_fixed_hand_edit_records_no_repair_pair(owner, project, answered):
    """The model's fix of a person's broken edit ranks no answer of a model: no pair from it."""
    _, second = answered
    edit = edits.save_edit(user=owner, project=project, version=second.app_version, path="src/main.jsx",
                           content="const title = 'Our' chores';\n")
    fail_bundle(edit)
    repair = edits.ask_for_repair(generation=edit)
    repair.app_version = create_version(project=project, files={**V2, "src/main.jsx": EDITED}, parent=edit.app_version)
    repair.status, repair.raw_output = Generation.Status.DONE, "Fixed the quote."
    repair.save()
    fixed = Build.objects.create(app_version=repair.app_version, status=Build.Status.READY, smoke_status="passed")

    pipeline.after_build(fixed)

    assert list(PreferencePair.objects.values_list("source", flat=True)) == ["edit"]


def test_a_hand_edit_cannot_be_regenerated_it_has_no_prompt(owner, project, answered):
    _, second = answered
    edit = edits.save_edit(user=owner, project=project, version=second.app_version, path="src/main.jsx", content=EDITED)

    with pytest.raises(InvalidRequest, match="no prompt to regenerate"):
        regenerate(turn=edit.turn)


def test_each_turn_says_which_files_it_added_edited_and_deleted(owner, project, answered):
    first, second = answered
    third_turn = Turn.objects.create(project=project, prompt="drop the css", seed=3, base_version=second.app_version)
    third = Generation.objects.create(turn=third_turn, model_version=second.model_version, seed=3,
                                      status=Generation.Status.DONE,
                                      app_version=create_version(project=project, files=V1, parent=second.app_version))

    states = {g.id: selectors.generation_state(g, owner)["changes"] for g in (first, second, third)}

    assert states[first.id] == {"added": {"count": 3, "paths": ["app.json", "index.html", "src/main.jsx"]},
                                "edited": {"count": 0, "paths": []}, "deleted": {"count": 0, "paths": []}}
    assert states[second.id]["added"] == {"count": 1, "paths": ["src/extra.css"]}
    assert states[second.id]["edited"] == {"count": 1, "paths": ["src/main.jsx"]}
    assert states[third.id]["deleted"] == {"count": 1, "paths": ["src/extra.css"]}
    state = selectors.project_state(project, owner)
    assert [g["changes"]["added"]["count"] for t in state["turns"] for g in t["generations"]] == [3, 1, 0]
