"""Staff blind votes (/review/blind/): two candidates of one prompt, model versions hidden until the
vote, recorded like a user's vote but marked as from staff, counted on the leaderboard and exported."""

import json
import re

import pytest
from django.core.management import call_command

from feedback import blind
from feedback.leaderboard import explicit_votes
from feedback.models import Feedback, PreferencePair
from generation.models import Generation, ModelVersion
from sandbox import access
from sandbox.models import Build
from tests.feedback.comparisons import add

pytestmark = pytest.mark.django_db


@pytest.fixture
def comparisons(settings, tmp_path):
    settings.SANDBOX_DIR = tmp_path
    return add(3)


def _shown(page: str) -> tuple[int, int]:
    left = int(page.split('name="left" value="')[1].split('"')[0])
    right = int(page.split('name="right" value="')[1].split('"')[0])
    return left, right


def test_the_page_hides_the_model_versions_until_the_vote(client, staff, comparisons):
    client.force_login(staff)
    names = list(ModelVersion.objects.filter(generations__isnull=False).distinct().values_list("name", flat=True))
    assert len(names) == 2

    page = client.get("/review/blind/").content.decode()

    assert "3 comparisons waiting" in page
    left, right = _shown(page)
    assert {g.turn_id for g in Generation.objects.filter(id__in=(left, right))} == {comparisons[0]}
    assert not [name for name in names if name in page]
    assert page.count('class="shot"') == 2  # both apps' screenshots

    response = client.post("/review/blind/vote/", {"left": left, "right": right, "choice": "b", "after": 0},
                           follow=True)

    revealed = response.content.decode()
    left_name, right_name = (Generation.objects.get(id=i).model_version.name for i in (left, right))
    assert f"Your vote: B is better. A was {left_name}, B was {right_name}." in revealed
    assert _shown(revealed)[0] not in (left, right)  # the next comparison, still hidden
    vote = Feedback.objects.get(from_staff=True)
    assert (vote.user, vote.verdict, vote.generation_id) == (staff, "pick", right)
    pair = PreferencePair.objects.get(feedback=vote)
    assert (pair.chosen_generation_id, pair.rejected_generation_id, pair.source) == (right, left, "pick")
    # In the review queue, the pair says whose vote it was.
    assert 'id="staff-vote"' in client.get(f"/review/pair/{pair.id}/").content.decode()


def test_the_leaderboard_counts_staff_votes_ties_as_half_and_both_bad_not_at_all(client, staff, comparisons):
    client.force_login(staff)
    before = len(explicit_votes())
    cast = []
    for choice in ("a", "tie", "both_bad"):
        left, right = _shown(client.get("/review/blind/").content.decode())
        client.post("/review/blind/vote/", {"left": left, "right": right, "choice": choice})
        cast.append((left, right))

    votes = explicit_votes()
    staff_votes = [v for v in votes if v.from_staff]
    name = {g.id: g.model_version.name for g in Generation.objects.select_related("model_version")}
    tied_first, tied_other = sorted(cast[1], key=lambda g: Generation.objects.get(id=g).candidate)
    assert len(votes) == before + 2  # a pick and a tie; both bad says nothing about the order
    assert sorted((v.first, v.second, v.outcome) for v in staff_votes) == sorted([
        (name[cast[0][0]], name[cast[0][1]], 1.0),  # A won
        (name[tied_first], name[tied_other], 0.5),
    ])
    page = client.get("/review/leaderboard/").content.decode()
    assert '<span id="staff-votes">2</span>' in page
    assert list(Feedback.objects.filter(from_staff=True).order_by("id").values_list("verdict", flat=True)) == [
        "pick", "tie", "both_bad"]
    assert "Nothing to vote on" in client.get("/review/blind/").content.decode()


def test_a_comparison_gets_one_vote_the_second_reviewer_is_refused(client, staff, comparisons, django_user_model):
    other = django_user_model.objects.create_user(username="quinn", password="quinn-pass-123", is_staff=True)
    client.force_login(staff)
    left, right = _shown(client.get("/review/blind/").content.decode())
    client.force_login(other)
    assert _shown(client.get("/review/blind/").content.decode()) in ((left, right), (right, left))
    client.force_login(staff)
    client.post("/review/blind/vote/", {"left": left, "right": right, "choice": "a"})
    client.force_login(other)

    response = client.post("/review/blind/vote/", {"left": right, "right": left, "choice": "a"}, follow=True)

    assert blind.ALREADY_VOTED in response.content.decode()
    assert Feedback.objects.filter(from_staff=True).count() == 1


def test_voted_turns_and_one_version_turns_are_not_offered_and_skip_moves_on(client, staff, owner, comparisons):
    first, second, third = comparisons
    # A user voted on the first; the second's candidates both come from one version.
    Feedback.objects.create(user=owner, generation=Generation.objects.filter(turn_id=first).first(), verdict="tie")
    one = Generation.objects.filter(turn_id=second)
    one.update(model_version=one.first().model_version)
    client.force_login(staff)

    page = client.get("/review/blind/").content.decode()

    assert "1 comparison waiting" in page
    assert Generation.objects.get(id=_shown(page)[0]).turn_id == third
    assert "Nothing to vote on" in client.get(f"/review/blind/?after={third}").content.decode()
    refused = client.post("/review/blind/vote/", {"left": one[0].id, "right": one[1].id, "choice": "a"}, follow=True)
    assert blind.NOT_A_MATCHUP in refused.content.decode()
    assert client.post("/review/blind/vote/", {"left": 1, "right": 2, "choice": "z"}, follow=True).status_code == 200
    assert not Feedback.objects.filter(from_staff=True).exists()


def test_which_candidate_is_on_the_left_is_drawn_per_turn(staff, settings, tmp_path):
    settings.SANDBOX_DIR = tmp_path
    turns = add(12)

    lefts = [blind.matchup(turn_id=t, reviewer=staff).left.candidate for t in turns]

    assert set(lefts) == {1, 2}
    assert lefts == [blind.matchup(turn_id=t, reviewer=staff).left.candidate for t in turns]  # the same on reload


def test_the_export_carries_a_staff_pick_as_a_preference_and_both_bad_as_negatives(client, staff, comparisons,
                                                                                 tmp_path):
    client.force_login(staff)
    picked = _shown(client.get("/review/blind/").content.decode())
    client.post("/review/blind/vote/", {"left": picked[0], "right": picked[1], "choice": "a"})
    bad = _shown(client.get("/review/blind/").content.decode())
    client.post("/review/blind/vote/", {"left": bad[0], "right": bad[1], "choice": "both_bad"})

    call_command("export_dataset", "--out", str(tmp_path / "out"), "--holdout", "0", "--formats", "dpo,kto")

    dpo = [json.loads(line) for line in (tmp_path / "out" / "dpo" / "train.jsonl").read_text().splitlines()]
    kto = [json.loads(line) for line in (tmp_path / "out" / "kto" / "train.jsonl").read_text().splitlines()]
    assert [[g["id"] for g in row["generations"]] for row in dpo] == [list(picked)]
    assert sorted(row["generations"][0]["id"] for row in kto if row["label"] is False) == sorted(bad)


def test_live_previews_are_offered_while_the_apps_run_with_a_ticket_for_the_reviewer(client, staff, comparisons):
    client.force_login(staff)
    assert "Live previews" not in client.get("/review/blind/").content.decode()  # stopped: screenshots only
    left, right = _shown(client.get("/review/blind/").content.decode())
    for generation in Generation.objects.filter(id__in=(left, right)):
        Build.objects.filter(app_version=generation.app_version).update(preview_token=access.new_preview_token())

    page = client.get("/review/blind/").content.decode()

    assert "<kbd>p</kbd> Live previews" in page
    urls = re.findall(r'<iframe class="live" data-src="([^"]+)"', page)
    assert len(urls) == 2 and all(".localhost:" in url and "/__kiln/enter?ticket=" in url for url in urls)
    tickets = [access.read_ticket(url.split("ticket=")[1].replace("&amp;", "&")) for url in urls]
    builds = [Build.objects.get(app_version__generations=i).id for i in (left, right)]
    assert tickets == [(builds[0], staff.id), (builds[1], staff.id)]  # A's then B's, for this reviewer
