"""The review console in headless Chromium against the real ASGI server: a reviewer works three items
with the keyboard only (approve, relabel, exclude with a reason), under the strict CSP without a
violation, and the dataset export follows each decision; a reviewer votes blind on three comparisons
with the keyboard; the dashboards draw their charts; the admin shows a build with its screenshot.
Screenshots go to docs/screenshots/."""

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
    stack.django("from tests.feedback.comparisons import add; add(3)")  # for the blind votes
    stack.django("from django.contrib.auth.models import User; "
                 "User.objects.create_user('riley', password='riley-pass-123', is_staff=True); "
                 "User.objects.create_superuser('root', password='root-pass-123')")
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


VERSIONS = ("kiln-7b-dpo-r2", "kiln-7b-dpo-r1", "kiln-7b-sft", "qwen-7b-base")


def _images_loaded(page, selector: str) -> list[int]:
    return page.evaluate(f"Array.from(document.querySelectorAll('{selector}')).map((i) => i.naturalWidth)")


def test_a_reviewer_votes_blind_with_the_keyboard_and_sees_the_versions_only_after(stack, page):
    staff_votes_before = int(stack.django("from feedback.models import Feedback; "
                                          "print(Feedback.objects.filter(from_staff=True).count())"))
    page.goto(stack.url + "/review/blind/")
    expect(page.locator("h1")).to_contain_text("3 comparisons waiting")
    page.screenshot(path=SHOTS / "review-blind-vote.png", full_page=False)

    seconds, revealed = [], []
    for key, said in (("a", "A is better"), ("t", "Tie"), ("x", "Both bad")):
        started = time.perf_counter()
        expect(page.locator(".blind-side")).to_have_count(2)
        # Hidden until the vote (the message above the page reveals the previous comparison's).
        assert [v for v in VERSIONS if v in page.locator("main").inner_html()] == []
        if not seconds:
            assert [v for v in VERSIONS if v in page.content()] == []
        assert all(width > 0 for width in _images_loaded(page, ".blind-side img.shot"))
        left, right = (int(page.locator(f"input[name={side}]").get_attribute("value")) for side in ("left", "right"))
        with page.expect_navigation():
            page.keyboard.press(key)
        message = page.locator(".messages li").first
        expect(message).to_contain_text(f"Your vote: {said}.")
        seconds.append(time.perf_counter() - started)
        names = json.loads(stack.django(
            "import json; from generation.models import Generation as G; "
            f"print(json.dumps([G.objects.get(id=i).model_version.name for i in ({left}, {right})]))"))
        expect(message).to_have_text(f"Your vote: {said}. A was {names[0]}, B was {names[1]}.")
        revealed.append(names)
        if key == "a":
            page.screenshot(path=SHOTS / "review-blind-vote-revealed.png", full_page=False)
    print(f"\nseconds per blind vote with the keyboard: {', '.join(f'{s:.2f}' for s in seconds)}")
    expect(page.locator(".empty")).to_contain_text("Nothing to vote on")
    assert csp_violations(page) == []

    stored = json.loads(stack.django(
        "import json; from feedback.models import Feedback as F; "
        "print(json.dumps(list(F.objects.filter(from_staff=True).order_by('id').values_list('verdict', 'user__username'))))"))
    assert stored[staff_votes_before:] == [["pick", "riley"], ["tie", "riley"], ["both_bad", "riley"]]
    page.goto(stack.url + "/review/leaderboard/")
    expect(page.locator("#staff-votes")).to_have_text("2")  # the pick and the tie; both bad orders nothing
    page.screenshot(path=SHOTS / "review-leaderboard.png", full_page=False)


def test_live_previews_load_on_demand_from_the_preview_host(stack, page):
    # A comparison whose two apps are "ready" with a preview address, but whose containers are gone (no
    # build worker runs here): the preview host admits the reviewer and says the preview stopped.
    stack.django("from tests.feedback.comparisons import add; from sandbox.models import Build; "
                 "from sandbox.access import new_preview_token; "
                 "turn, = add(1); builds = Build.objects.filter(app_version__generations__turn_id=turn); "
                 "[builds.filter(id=b.id).update(preview_token=new_preview_token(), container_id=f'kiln-gone-{b.id}') "
                 "for b in builds]")
    page.goto(stack.url + "/review/blind/")
    frames = page.locator("iframe.live")
    expect(frames).to_have_count(2)
    expect(frames.first).to_be_hidden()  # nothing runs until asked for
    page.keyboard.press("p")
    expect(frames.first).to_be_visible()
    for n in range(2):
        body = page.frame_locator("iframe.live").nth(n).locator("body")
        expect(body).to_contain_text("Preview stopped", timeout=15000)  # admitted: not "Open this preview from…"
    assert csp_violations(page) == []
    page.screenshot(path=SHOTS / "review-blind-vote-live.png", full_page=False)


def test_the_dashboards_draw_every_chart(stack, page):
    version_id = stack.django("from generation.models import ModelVersion as M; "
                              "print(M.objects.get(name='qwen-7b-base').id)")
    page.goto(stack.url + f"/review/versions/{version_id}/")
    expect(page.locator("section.panel")).to_have_count(9)
    heights = dict(page.evaluate("Array.from(document.querySelectorAll('section.panel')).map((s) => [s.id, "
                                 "Math.max(-1, ...Array.from(s.querySelectorAll('svg rect')).map((r) => r.getBBox().height))])"))
    assert len(heights) == 9 and all(h >= 0 for h in heights.values())  # a bar per row in every chart
    # Drawn, not flat: the demo has no repairs, so its repair rate is 0 every day.
    assert [panel for panel, h in heights.items() if h == 0] == ["repair-rate"]
    page.screenshot(path=SHOTS / "review-dashboard.png", full_page=True)
    page.goto(stack.url + "/review/versions/")
    expect(page.locator("#traffic-by-day svg rect")).not_to_have_count(0)
    expect(page.locator("#accept-rate-table tbody tr")).to_have_count(4)
    page.screenshot(path=SHOTS / "review-versions.png", full_page=True)
    assert csp_violations(page) == []


def test_the_admin_shows_a_build_read_only_with_its_screenshot(stack, browser):
    build_id = stack.django("from sandbox.models import Build; "
                            "print(Build.objects.filter(smoke_status='failed').exclude(screenshot='').get().id)")
    admin = open_page(browser, stack, "root", "root-pass-123")
    admin.goto(stack.url + f"/admin/sandbox/build/{build_id}/change/")
    expect(admin.locator("h1")).to_contain_text("View build")
    expect(admin.locator("input[name=_save]")).to_have_count(0)
    assert _images_loaded(admin, ".field-screenshot_image img")[0] > 0
    expect(admin.locator("mark.error-line")).to_have_count(0)  # its build passed; the smoke test failed
    admin.screenshot(path=SHOTS / "admin-build.png", full_page=True)
    failed_id = stack.django("from sandbox.models import Build; print(Build.objects.get(failed_step='bundle').id)")
    admin.goto(stack.url + f"/admin/sandbox/build/{failed_id}/change/")
    expect(admin.locator("mark.error-line")).to_have_count(3)  # ✘ [ERROR] …, 1 error, Build failed with 1 error
    admin.locator("mark.error-line").first.scroll_into_view_if_needed()
    admin.screenshot(path=SHOTS / "admin-build-failed.png", full_page=False)
    assert csp_violations(admin) == []
    admin.context.close()
