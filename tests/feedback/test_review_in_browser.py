"""The review console in headless Chromium against the real ASGI server: a reviewer works three items
with the keyboard only (approve, relabel, exclude with a reason), under the strict CSP without a
violation, and the dataset export follows each decision. Screenshots go to docs/screenshots/."""

import json
import re
import time

import pytest
from playwright.sync_api import expect

from tests.browser import csp_violations, open_page
from tests.stack import ROOT, Stack

pytestmark = pytest.mark.e2e
SHOTS = ROOT / "docs" / "screenshots"


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    import os

    # Only the web server: the console reads the database, nothing here generates or builds.
    stack = Stack(tmp_path_factory.mktemp("kiln-review"), redis_db=int(os.environ.get("KILN_E2E_REDIS_DB", "14")),
                  extra_env={"KILN_INSTANCE": os.environ.get("KILN_INSTANCE", "e2e")})
    stack.start(services=("web",))
    stack.manage("seed_review_demo", "--turns", "6", "--extra-votes", "300")
    stack.django("from django.contrib.auth.models import User; "
                 "User.objects.create_user('riley', password='riley-pass-123', is_staff=True)")
    yield stack
    stack.stop()


@pytest.fixture
def page(stack, browser):
    page = open_page(browser, stack, "riley", "riley-pass-123")
    yield page
    page.context.close()


def _item(page) -> tuple[str, int]:
    kind, item_id = re.search(r"/review/(pair|generation)/(\d+)/", page.url).groups()
    return kind, int(item_id)


def test_a_reviewer_works_three_items_with_the_keyboard_and_the_export_follows(stack, page, tmp_path):
    page.goto(stack.url + "/review/?kind=pair")
    expect(page.locator("h1")).to_contain_text("Review queue")
    page.screenshot(path=SHOTS / "review-queue.png", full_page=False)

    worked, seconds = [], []
    with page.expect_navigation():
        page.keyboard.press("o")
    for key, reason in (("a", None), ("r", None), ("x", "both candidates are the same app")):
        started = time.perf_counter()
        expect(page.locator(".side").first).to_be_visible()
        worked.append(_item(page))
        if len(worked) == 1:
            page.screenshot(path=SHOTS / "review-item.png", full_page=False)
        if len(worked) == 3:  # its rejected side failed to bundle: the log's error lines are marked
            page.screenshot(path=SHOTS / "review-item-failed-build.png", full_page=True)
        if reason:
            page.keyboard.press(key)
            expect(page.locator("#reason")).to_be_focused()
            page.keyboard.type(reason)
            key = "Enter"
        with page.expect_navigation():
            page.keyboard.press(key)
        expect(page.locator("h1")).to_be_visible()
        seconds.append(time.perf_counter() - started)
    print(f"\nseconds per item with the keyboard: {', '.join(f'{s:.2f}' for s in seconds)}")
    assert len({w for w in worked}) == 3 and all(kind == "pair" for kind, _ in worked)
    assert csp_violations(page) == []

    # j and k move through the queue without deciding.
    here = _item(page)
    with page.expect_navigation():
        page.keyboard.press("j")
    assert _item(page) != here
    with page.expect_navigation():
        page.keyboard.press("k")
    assert _item(page) == here
    assert "script-src 'self'" in page.evaluate("() => fetch(location.href).then((r) => r.headers.get('content-security-policy'))")
    page.goto(stack.url + f"/review/pair/{worked[1][1]}/")
    expect(page.locator("#status")).to_have_text("relabelled")
    expect(page.locator(".audit")).to_contain_text("riley · relabel → relabelled")
    page.goto(stack.url + "/review/?kind=generation")
    with page.expect_navigation():
        page.keyboard.press("Enter")
    page.screenshot(path=SHOTS / "review-negative.png", full_page=False)
    page.goto(stack.url + "/review/leaderboard/")
    expect(page.locator("table.ranking tbody tr")).to_have_count(4)
    page.screenshot(path=SHOTS / "review-leaderboard.png", full_page=False)
    page.goto(stack.url + "/review/versions/")
    expect(page.locator("svg rect")).not_to_have_count(0)
    page.screenshot(path=SHOTS / "review-dashboard.png", full_page=True)
    assert csp_violations(page) == []

    ids = [item_id for _, item_id in worked]
    pairs = json.loads(stack.django(
        "import json; from feedback.models import PreferencePair as P; "
        f"print(json.dumps({{p.id: [p.review_status, p.chosen_generation_id, p.rejected_generation_id] "
        f"for p in P.objects.filter(id__in={ids})}}))"))
    assert [pairs[str(i)][0] for i in ids] == ["approved", "relabelled", "excluded"]
    stack.manage("export_dataset", "--out", str(tmp_path / "approved"), "--review", "approved", "--holdout", "0",
                 "--formats", "dpo")
    rows = [json.loads(line) for line in (tmp_path / "approved" / "dpo" / "train.jsonl").read_text().splitlines()]
    exported = sorted(tuple(g["id"] for g in row["generations"]) for row in rows)
    assert exported == sorted(tuple(pairs[str(i)][1:]) for i in ids[:2])  # relabelled as swapped, excluded never
