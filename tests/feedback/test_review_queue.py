"""The review console's queue: staff only (404 for everyone else), filters, order, pages, and a fixed
number of queries whatever the page holds."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from builder.review_demo import seed
from feedback.models import PreferencePair
from feedback.selectors import user_hash

pytestmark = pytest.mark.django_db

REVIEW_URLS = ["/review/", "/review/go/?i=0", "/review/leaderboard/", "/review/pair/{pair}/",
               "/review/generation/{generation}/"]


@pytest.fixture
def demo(settings, tmp_path):
    settings.SANDBOX_DIR = tmp_path
    return seed(turns=6)


def _rows(response):
    return response.context["rows"]


def test_a_normal_user_and_anonymous_get_404_on_every_review_url(client, owner, demo):
    pair = PreferencePair.objects.first()
    generation = pair.chosen_generation
    urls = [u.format(pair=pair.id, generation=generation.id) for u in REVIEW_URLS]
    for url in urls:
        assert client.get(url).status_code == 404, url
    assert client.post(f"/review/pair/{pair.id}/decide/", {"action": "approve"}).status_code == 404
    client.force_login(owner)
    for url in urls:
        assert client.get(url).status_code == 404, url
    assert client.post(f"/review/pair/{pair.id}/decide/", {"action": "approve"}).status_code == 404
    pair.refresh_from_db()
    assert pair.review_status == "pending"


def test_the_queue_lists_pending_pairs_and_automatic_negatives_oldest_first(client, staff, demo):
    client.force_login(staff)
    rows = _rows(client.get("/review/"))
    kinds = [row["kind"] for row in rows]
    # 6 picks, and 4 automatic negatives: 2 with a defect, 1 failed build, 1 failed smoke test.
    assert kinds.count("pair") == 6
    assert kinds.count("generation") == 4
    assert [r["created_at"] for r in rows] == sorted(r["created_at"] for r in rows)
    sources = {r["source"] for r in rows if r["kind"] == "generation"}
    assert sources == {"lazy_placeholder", "cut_off", "failed_build", "broken_preview"}


def test_filters_narrow_the_queue(client, staff, demo):
    client.force_login(staff)
    assert {r["kind"] for r in _rows(client.get("/review/?kind=generation"))} == {"generation"}
    by_version = _rows(client.get("/review/?model_version=qwen-7b-base"))
    assert by_version and all("qwen-7b-base" in (r["version_a"], r["version_b"]) for r in by_version)
    assert [r["source"] for r in _rows(client.get("/review/?defect=cut_off"))] == ["cut_off"]
    assert {r["source"] for r in _rows(client.get("/review/?source=pick"))} == {"pick"}
    assert _rows(client.get("/review/?since=2999-01-01")) == []
    assert len(_rows(client.get("/review/?status=approved"))) == 0
    noah = PreferencePair.objects.filter(feedback__user__username="noah").count()
    hashed = user_hash(PreferencePair.objects.filter(feedback__user__username="noah").first().feedback.user_id)
    by_user = _rows(client.get(f"/review/?kind=pair&user={hashed}"))
    assert len(by_user) == noah and {r["user"] for r in by_user} == {hashed}
    assert b"noah" not in client.get("/review/").content  # users are shown hashed


def test_sorting_and_pages(client, staff, demo, monkeypatch):
    client.force_login(staff)
    newest = _rows(client.get("/review/?sort=newest"))
    assert [r["created_at"] for r in newest] == sorted((r["created_at"] for r in newest), reverse=True)
    monkeypatch.setattr("feedback.views.PAGE_SIZE", 4)
    first, third = client.get("/review/"), client.get("/review/?page=3")
    assert first.context["page"].paginator.num_pages == 3
    assert len(_rows(first)) == 4 and len(_rows(third)) == 2


def test_the_queue_costs_the_same_queries_for_a_page_of_ten_or_of_fifty(client, staff, settings, tmp_path):
    settings.SANDBOX_DIR = tmp_path
    seed(turns=4)
    client.force_login(staff)
    client.get("/review/")  # warm the session and the content types
    with CaptureQueriesContext(connection) as small:
        client.get("/review/")
    seed(turns=40)
    with CaptureQueriesContext(connection) as large:
        response = client.get("/review/")
    assert len(_rows(response)) == 50
    assert len(large) == len(small)
    assert len(large) <= 6, [q["sql"][:120] for q in large]


def test_a_position_edited_by_hand_opens_the_first_item(client, staff, demo):
    client.force_login(staff)
    first = _rows(client.get("/review/"))[0]
    response = client.get("/review/go/?i=abc")
    assert response.status_code == 302
    assert response["Location"].startswith(f"/review/{first['kind']}/{first['item_id']}/?")
    assert client.get(f"/review/{first['kind']}/{first['item_id']}/?i=-3").status_code == 200
