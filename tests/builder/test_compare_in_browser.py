"""Compare side by side as a person uses it, in headless Chromium against the real stack (ASGI server,
both Celery workers, Redis, Docker, the offline model server behind two model versions), at 1280×800,
under the builder's Content-Security-Policy. Screenshots go to docs/screenshots/ (shown in the README).

The rows each vote writes are checked in the database and in what `export_dataset` makes of them;
tests/builder/test_compare_votes.py checks the same below the browser, case by case."""

import json

import pytest
from playwright.sync_api import expect

from tests.browser import csp_violations
from tests.browser import open_page as browser_page
from tests.stack import ROOT, stack_with_alice_and_bob
from tests.test_builder_in_browser import new_project
from tests.test_end_to_end import TODO_PROMPT

pytestmark = pytest.mark.e2e

SHOTS = ROOT / "docs" / "screenshots"
BUILD_TIMEOUT_MS = 300_000
REASON = "A keeps the list in the order I added"


@pytest.fixture(autouse=True)
def clean_redis():
    # The stack's processes own its Redis database (see tests/builder/test_history_in_browser.py).
    yield None


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    # Two model versions served by the same offline model: a comparison draws one of each.
    yield from stack_with_alice_and_bob(tmp_path_factory.mktemp("kiln-compare"), setup=(
        "from generation.models import ModelVersion\n"
        "default = ModelVersion.objects.get(name='default')\n"
        "ModelVersion.objects.create(name='challenger', backend=default.backend, endpoint=default.endpoint,"
        " base_model=default.base_model, output_mode=default.output_mode)"
    ))


def open_page(browser, stack, username, password):
    return browser_page(browser, stack, username, password, viewport={"width": 1280, "height": 800})


def side(page, letter):
    return page.locator(f"#sbs [data-side='{letter}']")


def send_compare(page, prompt):
    page.fill("#prompt", prompt)
    page.locator("#compare").check()
    page.get_by_role("button", name="Build").click()
    expect(page.locator("#sbs")).to_be_visible()  # "Compare two" opens the side-by-side view by itself


def wait_until_votable(page):
    expect(page.get_by_role("button", name="A is better")).to_be_enabled(timeout=BUILD_TIMEOUT_MS)


def rows(stack, code):
    return json.loads(stack.django("import json; from feedback.models import Feedback, PreferencePair\n" + code))


def export_rows(stack, out):
    stack.manage("export_dataset", "--out", str(out), "--holdout", "0")
    read = {}
    for fmt in ("dpo", "kto", "sft"):
        path = out / fmt / "train.jsonl"
        read[fmt] = [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []
    return read


def test_a_person_compares_two_candidates_side_by_side_and_votes(stack, browser, tmp_path):
    SHOTS.mkdir(parents=True, exist_ok=True)
    page = open_page(browser, stack, "alice", "alice-pass-123")
    new_project(page, "Arena")
    project_id = page.locator("#app").get_attribute("data-project")

    # Compare two: both candidates' live previews next to each other, each with its files.
    send_compare(page, TODO_PROMPT)
    for letter in "AB":
        preview = page.frame_locator(f"#sbs [data-side='{letter}'] iframe")
        expect(preview.locator("form[aria-label='Add Task']")).to_be_visible(timeout=BUILD_TIMEOUT_MS)
        expect(side(page, letter).locator(".sbs-file", has_text="app.json")).to_be_visible()
        expect(side(page, letter).locator("[data-role='code']")).to_contain_text("export default")
    a_box = side(page, "A").locator("iframe").bounding_box()
    b_box = side(page, "B").locator("iframe").bounding_box()
    assert a_box["x"] + a_box["width"] <= b_box["x"] and abs(a_box["y"] - b_box["y"]) < 2  # side by side
    assert b_box["x"] + b_box["width"] <= 1280 and a_box["height"] >= 300  # usable at 1280×800
    vote_bar = page.get_by_role("button", name="Both bad").bounding_box()
    assert vote_bar["y"] + vote_bar["height"] <= 800

    # A file of B opens from the keyboard.
    side(page, "B").locator(".sbs-file", has_text="app.json").focus()
    page.keyboard.press("Enter")
    expect(side(page, "B").locator("[data-role='code']")).to_contain_text('"entities"')

    # Blind mode (on by default): nothing on the page names a model until the vote.
    wait_until_votable(page)
    for letter in "AB":
        expect(side(page, letter).locator("[data-role='model']")).to_have_text("Model hidden until you vote")
    expect(page.locator("#sbs-blind")).to_be_checked()
    assert "challenger" not in page.locator("#sbs").inner_text()
    page.screenshot(path=SHOTS / "compare-blind.png")

    # The vote, from the keyboard: a reason, then "1" (A is better). The models are revealed.
    page.fill("#sbs-reason", REASON)
    page.locator("#sbs").focus()
    page.keyboard.press("1")
    expect(page.locator("#sbs-result")).to_contain_text("You voted: A is better")
    models = [side(page, letter).locator("[data-role='model']").inner_text() for letter in "AB"]
    assert sorted(models) == ["Model: challenger", "Model: default"]
    expect(page.get_by_role("button", name="A is better")).to_have_attribute("aria-pressed", "true")
    expect(page.get_by_role("button", name="B is better")).to_be_disabled()
    page.screenshot(path=SHOTS / "compare-voted.png")

    # One pick: a `pick` verdict with the reason on A, one pair chosen = A, rejected = B; one DPO row.
    first = rows(stack, (
        "from generation.models import Generation\n"
        "a, b = Generation.objects.filter(kind='compare').order_by('candidate')\n"
        "print(json.dumps({'a': a.id, 'b': b.id, 'a_text': a.raw_output, 'b_text': b.raw_output,"
        " 'turn': a.turn_id,"
        " 'feedback': [[f.verdict, f.generation_id, f.reason] for f in Feedback.objects.order_by('id')],"
        " 'pairs': [[p.source, p.chosen_generation_id, p.rejected_generation_id] for p in PreferencePair.objects.all()]}))"
    ))
    assert first["feedback"] == [["pick", first["a"], REASON]]
    assert first["pairs"] == [["pick", first["a"], first["b"]]]
    exported = export_rows(stack, tmp_path / "after-pick")
    assert [(r["chosen"][0]["content"], r["rejected"][0]["content"], r["source"]) for r in exported["dpo"]] == [
        (first["a_text"], first["b_text"], "pick")]
    assert exported["kto"] == [] and exported["sft"] == []

    # Another user can neither see this comparison nor vote on it: 404, as for ids that do not exist.
    bob = open_page(browser, stack, "bob", "bob-pass-123")
    token = next(c["value"] for c in bob.context.cookies() if c["name"] == "csrftoken")
    base = f"{stack.url}/projects/{project_id}/turns/{first['turn']}"
    assert bob.request.get(base + "/compare/").status == 404
    refused = bob.request.post(base + "/vote/", form={"choice": "b"}, headers={"X-CSRFToken": token})
    assert refused.status == 404
    bob.context.close()

    # "?" lists the keys above the view; its Close button works there, and Esc closes the list first.
    page.locator("#sbs").focus()
    page.keyboard.press("?")
    help_box = page.get_by_role("dialog", name="Keyboard shortcuts")
    expect(help_box).to_contain_text("Both bad")
    help_box.get_by_role("button", name="Close").click()
    expect(help_box).to_be_hidden()
    page.get_by_role("button", name="Keys").click()
    expect(help_box).to_be_visible()
    page.keyboard.press("Escape")
    expect(help_box).to_be_hidden()
    expect(page.locator("#sbs")).to_be_visible()

    # The view closes with Esc; the chat's button brings it back, with the vote and the models shown.
    page.keyboard.press("Escape")
    expect(page.locator("#sbs")).to_be_hidden()
    expect(page.locator(".turn").first.locator(".candidate", has_text="Candidate 1")).to_contain_text("picked")
    page.locator(".turn").first.get_by_role("button", name="Compare side by side").click()
    expect(page.locator("#sbs-result")).to_contain_text("You voted: A is better")
    page.keyboard.press("Escape")

    # A tie (key "t"): the verdict is stored, no pair.
    send_compare(page, "make it dark")
    wait_until_votable(page)
    page.locator("#sbs").focus()
    page.keyboard.press("t")
    expect(page.locator("#sbs-result")).to_contain_text("You voted: Tie")
    page.keyboard.press("Escape")

    # Both bad (the button, with a reason): one verdict, two KTO negatives in the export. (The offline
    # model writes an added field in a different place for each candidate: two different answers. Two
    # identical answers would be one row, deduplicated by the export.)
    send_compare(page, "add a due date")
    wait_until_votable(page)
    page.fill("#sbs-reason", "neither shows the date")
    page.get_by_role("button", name="Both bad").click()
    expect(page.locator("#sbs-result")).to_contain_text("You voted: Both bad")
    page.keyboard.press("Escape")

    after = rows(stack, (
        "print(json.dumps({'feedback': [[f.verdict, f.generation.turn.prompt, f.reason] for f in Feedback.objects.order_by('id')],"
        " 'pairs': PreferencePair.objects.count()}))"
    ))
    assert after["feedback"] == [["pick", TODO_PROMPT, REASON], ["tie", "make it dark", ""],
                                 ["both_bad", "add a due date", "neither shows the date"]]
    assert after["pairs"] == 1
    exported = export_rows(stack, tmp_path / "after-all")
    assert len(exported["dpo"]) == 1
    assert [(r["source"], r["label"]) for r in exported["kto"]] == [("both_bad", False), ("both_bad", False)]
    assert len({r["generations"][0]["id"] for r in exported["kto"]}) == 2  # one negative per candidate
    assert csp_violations(page) == []
    page.context.close()


def test_the_help_popover_lists_the_shortcuts_and_the_keys_work(stack, browser):
    page = open_page(browser, stack, "alice", "alice-pass-123")
    page.goto(stack.url + "/")
    page.locator(".projects a", has_text="Arena").click()
    expect(page.locator("#app")).to_have_attribute("data-ready", "true")

    # "?" opens the list; Esc closes it; the visible button opens it too.
    page.keyboard.press("?")
    help_box = page.get_by_role("dialog", name="Keyboard shortcuts")
    expect(help_box).to_be_visible()
    for text in ("Send the prompt", "Accept the candidate", "Reject it", "Next / previous candidate",
                 "A is better", "B is better", "Tie", "Both bad"):
        expect(help_box).to_contain_text(text)
    page.screenshot(path=SHOTS / "shortcuts-help.png")
    page.keyboard.press("Escape")
    expect(help_box).to_be_hidden()
    page.get_by_role("button", name="Keyboard shortcuts").click()
    expect(help_box).to_be_visible()
    page.keyboard.press("Escape")

    # "/" goes to the prompt; letters typed there are text, not shortcuts.
    page.keyboard.press("/")
    expect(page.locator("#prompt")).to_be_focused()
    page.keyboard.type("an app")
    expect(page.locator("#prompt")).to_have_value("an app")
    expect(help_box).to_be_hidden()
    page.locator("#prompt").fill("")
    page.locator("#prompt").blur()

    # "n" moves to the next candidate of the newest turn (cycling), "p" back; "a" accepts the one on screen.
    last = page.locator(".turn").last
    expect(last.locator(".candidate.selected")).to_contain_text("Candidate 2")  # the newest, on opening
    page.keyboard.press("n")
    expect(last.locator(".candidate.selected")).to_contain_text("Candidate 1")
    page.keyboard.press("p")
    expect(last.locator(".candidate.selected")).to_contain_text("Candidate 2")
    page.keyboard.press("n")
    expect(last.locator(".candidate.selected")).to_contain_text("Candidate 1")
    page.keyboard.press("a")
    expect(last.locator(".candidate.selected .verdict")).to_have_text("accepted")

    # "c" opens the turn side by side; Tab walks its controls in order, each with a name.
    page.keyboard.press("c")
    expect(page.locator("#sbs")).to_be_visible()
    expect(page.locator("#sbs-result")).to_contain_text("You voted: Both bad")
    names = []
    for _ in range(3):
        page.keyboard.press("Tab")
        names.append(page.evaluate("document.activeElement.labels?.[0]?.innerText || document.activeElement.innerText"))
    assert [name.split()[0] for name in names] == ["Blind:", "Keys", "Close"]
    # Side A's app in place first. Once, in a full run beside a learning round, focus after this Tab was
    # outside side A (alone, it lands on A's preview): the Tab raced the preview's loading.
    expect(side(page, "A").frame_locator("iframe").locator("#root *").first).to_be_attached(timeout=BUILD_TIMEOUT_MS)
    page.keyboard.press("Tab")  # then side A (its preview, or its files while the preview starts), then B
    assert page.evaluate("document.activeElement.closest('[data-side]').dataset.side") == "A"
    assert csp_violations(page) == []
    page.context.close()
