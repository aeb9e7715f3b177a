"""Side-by-side votes below the browser: the rows each vote writes (and the rows the dataset export
makes of them), blind mode, the server's refusals, and another user's ids. The browser story is
tests/builder/test_compare_in_browser.py."""

import pytest
from django.test import Client

from builder.models import Turn
from builder.services import current_version
from builder.versions import create_version
from feedback import votes
from feedback.models import Feedback, PreferencePair
from feedback.services import record_verdict
from generation.models import Generation, ModelVersion
from tests.training.conftest import export, read_rows

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def datasets_cache(tmp_path_factory, monkeypatch):
    monkeypatch.setenv("HF_DATASETS_CACHE", str(tmp_path_factory.mktemp("hf-cache")))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")


@pytest.fixture
def challenger(db):
    return ModelVersion.objects.create(name="challenger", base_model="other-model")


@pytest.fixture
def comparison(project, model_version, challenger):
    """A compare turn whose two candidates finished, each with its own app version, A from the default
    model and B from the challenger."""
    turn = Turn.objects.create(project=project, prompt="a habit tracker", seed=7, compare=True)
    sides = []
    for candidate, (version, text) in enumerate([(model_version, "answer A"), (challenger, "answer B")], start=1):
        app = create_version(project=project, files={"app.json": f'{{"name": "{text}"}}'}, parent=None)
        sides.append(Generation.objects.create(
            turn=turn, kind=Generation.Kind.COMPARE, candidate=candidate, seed=candidate, model_version=version,
            status=Generation.Status.DONE, raw_output=text, app_version=app,
            request_messages=[{"role": "system", "content": "sys"}, {"role": "user", "content": turn.prompt}],
        ))
    return turn, sides[0], sides[1]


def client_for(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def vote(user, turn, choice, reason=""):
    return client_for(user).post(f"/projects/{turn.project_id}/turns/{turn.id}/vote/",
                                 {"choice": choice, "reason": reason})


def stored_feedback():
    return [(f.verdict, f.generation_id, f.reason) for f in Feedback.objects.order_by("id")]


def stored_pairs():
    return [(p.source, p.chosen_generation_id, p.rejected_generation_id, p.feedback.verdict)
            for p in PreferencePair.objects.order_by("id")]


def exported(tmp_path):
    export(tmp_path / "out", "--holdout", "0")
    dpo = [(r["chosen"][0]["content"], r["rejected"][0]["content"], r["source"])
           for r in read_rows(tmp_path / "out", "dpo")]
    kto = sorted((r["completion"][0]["content"], r["label"], r["source"]) for r in read_rows(tmp_path / "out", "kto"))
    sft = read_rows(tmp_path / "out", "sft")
    return dpo, kto, sft


def test_a_vote_for_a_records_one_pair_with_a_chosen_and_the_reason(owner, comparison, tmp_path):
    turn, a, b = comparison

    response = vote(owner, turn, "a", "  the list keeps its order  ")

    assert response.status_code == 200
    assert stored_feedback() == [("pick", a.id, "the list keeps its order")]
    assert stored_pairs() == [("pick", a.id, b.id, "pick")]
    assert exported(tmp_path) == ([("answer A", "answer B", "pick")], [], [])


def test_a_vote_for_b_records_one_pair_with_b_chosen(owner, comparison, tmp_path):
    turn, a, b = comparison

    assert vote(owner, turn, "b").status_code == 200

    assert stored_feedback() == [("pick", b.id, "")]
    assert stored_pairs() == [("pick", b.id, a.id, "pick")]
    assert exported(tmp_path) == ([("answer B", "answer A", "pick")], [], [])


def test_a_tie_records_the_vote_and_no_pair(owner, comparison, tmp_path):
    turn, a, _b = comparison

    assert vote(owner, turn, "tie", "same app").status_code == 200

    assert stored_feedback() == [("tie", a.id, "same app")]
    assert stored_pairs() == []
    assert exported(tmp_path) == ([], [], [])


def test_both_bad_records_one_vote_that_exports_as_two_negatives(owner, comparison, tmp_path):
    turn, a, _b = comparison

    assert vote(owner, turn, "both_bad", "neither saves habits").status_code == 200

    assert stored_feedback() == [("both_bad", a.id, "neither saves habits")]
    assert stored_pairs() == []
    assert exported(tmp_path) == ([], [("answer A", False, "both_bad"), ("answer B", False, "both_bad")], [])


def test_blind_mode_is_on_by_default_and_hides_the_models_until_the_vote(owner, comparison):
    turn, _a, _b = comparison
    url = f"/projects/{turn.project_id}/turns/{turn.id}/compare/"

    before = client_for(owner).get(url).json()
    after = vote(owner, turn, "a").json()

    assert (before["blind"], before["revealed"], before["can_vote"]) == (True, False, True)
    assert [side["model"] for side in before["sides"]] == [None, None]
    assert (after["revealed"], after["can_vote"]) == (True, False)
    assert [side["model"] for side in after["sides"]] == ["default", "challenger"]
    assert after["vote"] == {"choice": "a", "label": "A is better", "reason": ""}


def test_the_blind_state_never_carries_a_model_name(owner, comparison):
    turn, _a, _b = comparison

    body = client_for(owner).get(f"/projects/{turn.project_id}/turns/{turn.id}/compare/").content.decode()

    assert "challenger" not in body and '"default"' not in body


def test_with_blind_mode_off_the_models_show_before_the_vote(owner, comparison):
    turn, _a, _b = comparison
    client = client_for(owner)

    assert client.post("/compare/blind/", {"blind": "off"}).json() == {"blind": False}
    state = client.get(f"/projects/{turn.project_id}/turns/{turn.id}/compare/").json()

    assert (state["blind"], state["revealed"]) == (False, True)
    assert [side["model"] for side in state["sides"]] == ["default", "challenger"]
    assert client.post("/compare/blind/", {"blind": "maybe"}).status_code == 400


def test_both_sides_come_with_their_files_and_versions(owner, comparison):
    turn, a, b = comparison

    state = client_for(owner).get(f"/projects/{turn.project_id}/turns/{turn.id}/compare/").json()

    assert [(s["letter"], s["generation"], s["version"]) for s in state["sides"]] == [
        ("A", a.id, a.app_version_id), ("B", b.id, b.app_version_id)]
    assert [[f["path"] for f in s["files"]] for s in state["sides"]] == [["app.json"], ["app.json"]]


def test_another_users_vote_and_view_on_these_ids_are_refused(owner, stranger, comparison):
    turn, _a, _b = comparison
    client = client_for(stranger)

    assert vote(stranger, turn, "a").status_code == 404
    assert client.get(f"/projects/{turn.project_id}/turns/{turn.id}/compare/").status_code == 404
    # The stranger's own project id with the owner's turn id is no way in either.
    own = stranger.projects.create(name="Mine")
    assert client.post(f"/projects/{own.id}/turns/{turn.id}/vote/", {"choice": "a"}).status_code == 404
    assert stored_feedback() == [] and stored_pairs() == []


def test_a_second_vote_is_refused_and_the_first_stands(owner, comparison):
    turn, a, b = comparison
    vote(owner, turn, "a")

    response = vote(owner, turn, "b")

    assert (response.status_code, response.json()) == (400, {"error": votes.ALREADY_VOTED})
    assert stored_pairs() == [("pick", a.id, b.id, "pick")]


@pytest.mark.parametrize("choice, reason, message", [
    ("c", "", votes.UNKNOWN_CHOICE),
    ("", "", votes.UNKNOWN_CHOICE),
    ("a", "x" * 201, votes.REASON_TOO_LONG),
])
def test_the_server_refuses_a_vote_it_does_not_understand(owner, comparison, choice, reason, message):
    turn, _a, _b = comparison

    response = vote(owner, turn, choice, reason)

    assert (response.status_code, response.json()) == (400, {"error": message})
    assert stored_feedback() == []


def test_a_vote_waits_for_both_candidates_and_needs_two_apps(owner, comparison):
    turn, _a, b = comparison
    Generation.objects.filter(pk=b.pk).update(status=Generation.Status.RUNNING)
    assert vote(owner, turn, "a").json() == {"error": votes.NOT_FINISHED}

    Generation.objects.filter(pk=b.pk).update(status=Generation.Status.FAILED)
    assert vote(owner, turn, "a").json() == {"error": votes.NOT_JUDGEABLE.format(letter="B")}
    assert stored_feedback() == []


def test_a_turn_without_two_candidates_is_not_a_comparison(owner, project, make_generation):
    single = make_generation()
    url = f"/projects/{project.id}/turns/{single.turn_id}/"

    assert client_for(owner).get(url + "compare/").status_code == 404
    assert vote(owner, single.turn, "a").json() == {"error": votes.NOT_A_COMPARISON}


def test_the_vote_replaces_the_ordering_an_earlier_accept_implied(owner, comparison, tmp_path):
    turn, a, b = comparison
    record_verdict(user=owner, generation=b, verdict="accept")
    assert stored_pairs() == [("pick", b.id, a.id, "accept")]

    vote(owner, turn, "a")

    assert stored_pairs() == [("pick", a.id, b.id, "pick")]


def test_the_picked_candidate_is_the_version_the_next_turn_builds_on(owner, project, comparison):
    turn, a, _b = comparison

    vote(owner, turn, "a")

    assert current_version(project) == a.app_version


def test_a_repaired_candidate_shows_the_repaired_app_and_the_vote_stays_on_the_candidate(owner, project, comparison):
    from sandbox.models import Build

    turn, a, b = comparison
    failed = Build.objects.create(app_version=b.app_version, status=Build.Status.FAILED, failed_step="bundle")
    fixed = create_version(project=project, files={"app.json": '{"name": "answer B, fixed"}'}, parent=b.app_version)
    repair = Generation.objects.create(
        turn=turn, kind=Generation.Kind.REPAIR, candidate=3, seed=3, model_version=b.model_version,
        status=Generation.Status.DONE, raw_output="the fix", app_version=fixed, repair_of=failed)

    state = client_for(owner).get(f"/projects/{turn.project_id}/turns/{turn.id}/compare/").json()
    voted = vote(owner, turn, "b").json()

    assert [(s["generation"], s["shown"], s["repaired"], s["version"]) for s in state["sides"]] == [
        (a.id, a.id, False, a.app_version_id), (b.id, repair.id, True, fixed.id)]
    assert voted["vote"]["choice"] == "b"
    assert stored_pairs() == [("pick", b.id, a.id, "pick")]
