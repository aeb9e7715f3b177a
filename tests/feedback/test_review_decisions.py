"""Deciding on queue items: approve, relabel (swap), exclude with a reason, tag; the audit trail; the
item page shows everything; and the dataset export follows every decision."""

import json

import pytest
from django.core.management import call_command

from builder.review_demo import seed
from feedback.models import PreferencePair, ReviewDecision
from feedback.review import REASON_NEEDED, RELABEL_ONLY_PAIRS
from generation.models import Generation

pytestmark = pytest.mark.django_db


@pytest.fixture
def demo(settings, tmp_path):
    settings.SANDBOX_DIR = tmp_path
    seed(turns=6)
    return list(PreferencePair.objects.order_by("id"))


def _decide(client, kind, item_id, **data):
    return client.post(f"/review/{kind}/{item_id}/decide/", {"i": "0", **data})


def _export(tmp_path, name, review):
    out = tmp_path / name
    call_command("export_dataset", "--out", str(out), "--holdout", "0", "--review", review)
    rows = {}
    for kind in ("dpo", "kto"):
        path = out / kind / "train.jsonl"
        rows[kind] = [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []
    return rows


def _ordering(row):
    return tuple(g["id"] for g in row["generations"])


def test_the_item_page_shows_both_sides_with_builds_logs_defects_and_verdicts(client, staff, demo):
    broken = Generation.objects.get(app_version__builds__failed_step="bundle")
    pair = PreferencePair.objects.get(rejected_generation=broken)
    client.force_login(staff)
    page = client.get(f"/review/pair/{pair.id}/?i=0").content.decode()

    assert page.count('class="side"') == 2 and "Chosen" in page and "Rejected" in page
    assert f"/builds/{pair.chosen_generation.app_version.builds.get().id}/screenshot.png" in page
    assert '<span class="error-line">✘ [ERROR] Expected &quot;)&quot; but found &quot;}&quot;</span>' in page
    assert '<span class="l-add">' in page  # the diff against the version it was built on
    assert "app/main.jsx" in page and "a gym log of sets and reps" in page
    assert "<b>accept</b>" in page  # the user's verdict
    assert "You are Kiln." not in page  # the system prompt is left out
    negative = Generation.objects.get(defects__kind="cut_off")
    page = client.get(f"/review/generation/{negative.id}/").content.decode()
    assert "cut off by the length limit" in page and 'data-key="r"' not in page
    screenshot = client.get(f"/builds/{pair.chosen_generation.app_version.builds.get().id}/screenshot.png")
    assert screenshot.status_code == 200 and b"".join(screenshot.streaming_content).startswith(b"\x89PNG")


def test_each_decision_is_recorded_and_the_export_follows_it(client, staff, demo, tmp_path):
    approved, relabelled, excluded, untouched = demo[0], demo[1], demo[2], demo[3]
    lazy = Generation.objects.get(defects__kind="lazy_placeholder")
    client.force_login(staff)

    _decide(client, "pair", approved.id, action="approve")
    _decide(client, "pair", relabelled.id, action="relabel")
    refused = _decide(client, "pair", excluded.id, action="exclude", reason="  ")
    _decide(client, "pair", excluded.id, action="exclude", reason="both apps are the same")
    _decide(client, "pair", untouched.id, action="tag", tags="Layout, slow,layout")
    _decide(client, "generation", lazy.id, action="exclude", reason="the placeholder is in a comment only")
    relabel_single = _decide(client, "generation", lazy.id, action="relabel")

    assert [m.message for m in refused.wsgi_request._messages][-1] == REASON_NEEDED
    assert [m.message for m in relabel_single.wsgi_request._messages][-1] == RELABEL_ONLY_PAIRS
    trail = list(ReviewDecision.objects.order_by("id").values_list("action", "review_status", "reason", "tags", "reviewer"))
    assert trail == [
        ("approve", "approved", "", [], staff.id),
        ("relabel", "relabelled", "", [], staff.id),
        ("exclude", "excluded", "both apps are the same", [], staff.id),
        ("tag", "pending", "", ["layout", "slow"], staff.id),
        ("exclude", "excluded", "the placeholder is in a comment only", [], staff.id),
    ]
    relabelled_before = (relabelled.chosen_generation_id, relabelled.rejected_generation_id)
    relabelled.refresh_from_db()
    assert (relabelled.rejected_generation_id, relabelled.chosen_generation_id) == relabelled_before
    assert relabelled.chosen == [{"role": "assistant", "content": Generation.objects.get(pk=relabelled_before[1]).raw_output}]

    strict = _export(tmp_path, "approved", "approved")
    assert sorted(_ordering(r) for r in strict["dpo"]) == sorted([
        (approved.chosen_generation_id, approved.rejected_generation_id),
        relabelled_before[::-1],  # swapped
    ])
    loose = _export(tmp_path, "not-excluded", "not-excluded")
    orderings = {_ordering(r) for r in loose["dpo"]}
    assert (excluded.chosen_generation_id, excluded.rejected_generation_id) not in orderings
    assert relabelled_before not in orderings and relabelled_before[::-1] in orderings
    assert (untouched.chosen_generation_id, untouched.rejected_generation_id) in orderings
    kto_ids = {_ordering(r) for r in loose["kto"]}
    assert (lazy.id,) not in kto_ids  # the excluded automatic negative
    assert (Generation.objects.get(defects__kind="cut_off").id,) in kto_ids  # the one nobody excluded


def test_after_a_decision_the_reviewer_lands_on_the_next_item(client, staff, demo):
    client.force_login(staff)
    queue = client.get("/review/").context["rows"]
    first, second = queue[0], queue[1]
    response = _decide(client, first["kind"], first["item_id"], action="approve")
    landed = client.get(response["Location"])
    assert landed.status_code == 302
    assert landed["Location"].startswith(f"/review/{second['kind']}/{second['item_id']}/?")
    # With status=all the decided item stays in the queue; the next one is still the one after it.
    response = client.post(f"/review/{second['kind']}/{second['item_id']}/decide/",
                           {"i": "1", "filters": "status=all", "action": "approve"})
    assert client.get(response["Location"])["Location"].startswith(f"/review/{queue[2]['kind']}/{queue[2]['item_id']}/?")


def test_the_audit_trail_is_in_the_admin_read_only(client, staff, demo):
    client.force_login(staff)
    _decide(client, "pair", demo[0].id, action="exclude", reason="duplicate of another pair")
    listing = client.get("/admin/feedback/reviewdecision/")
    assert listing.status_code == 200 and b"duplicate of another pair" in listing.content
    assert client.get("/admin/feedback/reviewdecision/add/").status_code == 403
