"""A hand edit as a person makes it: in headless Chromium against the real stack (ASGI server, both
Celery workers, Redis, Docker, the offline model server), under the builder's strict
Content-Security-Policy. They open a file (coloured by CodeMirror's highlighter), type into the editor,
save, and the new version builds and its preview shows the change; the chat says what each turn
changed; the diff is coloured; a broken edit names file and line and goes to the model only when asked.
Screenshots go to docs/screenshots/."""

import json
import re

import pytest
from playwright.sync_api import expect

from tests.browser import csp_violations
from tests.browser import open_page as browser_page
from tests.stack import ROOT, stack_with_alice_and_bob
from tests.test_builder_in_browser import new_project
from tests.test_end_to_end import TODO_PROMPT

pytestmark = pytest.mark.e2e

SHOTS = ROOT / "docs" / "screenshots"
TAGLINE = "Edited by hand in Kiln"


@pytest.fixture(autouse=True)
def clean_redis():
    # The stack's processes own its Redis database (see tests/builder/test_history_in_browser.py).
    yield None


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    from builder.editor_bundle import ensure_bundle

    ensure_bundle()  # what ./kiln setup does: the page loads CodeMirror from static/vendor/
    yield from stack_with_alice_and_bob(tmp_path_factory.mktemp("kiln-hand-edit"))


def wait_until_selected_is_ready(page, turns, timeout_ms=180_000):
    expect(page.locator(".turn")).to_have_count(turns, timeout=timeout_ms)
    status = page.locator("#build-status")
    expect(status).to_have_attribute("data-status", re.compile("ready|failed"), timeout=timeout_ms)
    assert status.get_attribute("data-status") == "ready", page.locator(".preview").inner_text()
    expect(page.locator("#checks")).to_have_attribute("data-state", "passed", timeout=timeout_ms)


def open_file(page, path):
    page.get_by_role("tab", name="Files").click()
    page.locator("#file-list .file", has_text=path).first.click()
    expect(page.locator("#edit-file")).to_be_enabled(timeout=10_000)


def replace_line(page, starts_with, text):
    """With the keyboard, as a person would: go down the editor to the line that starts with
    `starts_with` (found in the file as the read-only view shows it), select it and type `text`."""
    lines = page.locator("#file-code").text_content().split("\n")
    number = next(i for i, line in enumerate(lines) if line.startswith(starts_with))
    page.locator("#editor .cm-content").click()
    page.keyboard.press("Control+Home")
    for _ in range(number):
        page.keyboard.press("ArrowDown")
    expect(page.locator("#editor .cm-activeLine")).to_contain_text(starts_with)
    page.keyboard.press("Home")
    page.keyboard.press("Shift+End")
    page.keyboard.type(text)
    page.keyboard.press("Escape")  # close an autocompletion list, if one opened
    return number + 1


def test_a_person_edits_a_file_by_hand_and_the_new_version_builds(stack, browser):
    SHOTS.mkdir(parents=True, exist_ok=True)
    page = browser_page(browser, stack, "alice", "alice-pass-123", viewport={"width": 1440, "height": 900})
    new_project(page, "Chores")
    project_id = page.locator("#app").get_attribute("data-project")
    preview = page.frame_locator("#preview")
    page.fill("#prompt", TODO_PROMPT)
    page.get_by_role("button", name="Build").click()
    wait_until_selected_is_ready(page, 1)
    # The first turn's line says it added the app's files.
    expect(page.locator(".turn").first.locator(".turn-changes .change.added")).to_contain_text("src/App.jsx")

    # The file view is coloured by the same highlighter the editor uses.
    open_file(page, "src/App.jsx")
    expect(page.locator("#file-code")).to_have_attribute("data-highlighted", "true")
    expect(page.locator("#file-code .tok-keyword").first).to_be_visible()

    # Edit: the file opens in CodeMirror; type a new tagline into it.
    page.get_by_role("button", name="Edit", exact=True).click()
    expect(page.locator("#editor .cm-editor")).to_be_visible()
    expect(page.locator("#edit-save")).to_be_disabled()  # nothing changed yet
    replace_line(page, "const TAGLINE", f'const TAGLINE = "{TAGLINE}";')
    expect(page.locator("#edit-state")).to_contain_text("Editing src/App.jsx (from version 1) — not saved")
    expect(page.locator("#editor .cm-line", has_text=TAGLINE)).to_have_count(1)
    expect(page.locator("#editor .tok-string", has_text=TAGLINE)).to_be_visible()
    page.screenshot(path=SHOTS / "hand-edit.png")

    # Save: a new turn and version, built and previewed like any other; the preview shows the change.
    page.get_by_role("button", name="Save as new version").click()
    wait_until_selected_is_ready(page, 2)
    edit_turn = page.locator(".turn").last
    expect(edit_turn.locator(".bubble.you")).to_have_text("Hand edit of src/App.jsx")
    expect(edit_turn.locator(".candidate.selected")).to_contain_text("Hand edit")
    expect(preview.get_by_text(TAGLINE)).to_be_visible(timeout=20_000)
    expect(page.locator("#accept")).to_be_hidden()  # the person's own version: nothing to accept
    # The chat says what the turn changed, and links to its diff.
    expect(edit_turn.locator(".turn-changes")).to_contain_text("Edited src/App.jsx")
    expect(edit_turn.locator(".turn-changes .change.added")).to_have_count(0)
    page.locator(".turns").screenshot(path=SHOTS / "chat-changes.png")

    # The diff, coloured: the added line's string is a highlighted token inside the green line.
    edit_turn.get_by_role("button", name="What changed").click()
    expect(page.locator("#history-view-title")).to_have_text("Changes in version 2 (from version 1)")
    app = page.locator(".diff-file[data-path='src/App.jsx']")
    expect(app.locator(".diff .add .tok-string", has_text=TAGLINE)).to_be_visible()
    expect(app.locator(".diff .del", has_text="const TAGLINE").locator(".tok-string")).to_have_count(1)
    assert app.locator(".diff .tok-keyword").count() > 0
    added = app.locator(".diff .add", has_text=TAGLINE)
    assert added.evaluate("line => getComputedStyle(line).backgroundColor") == "rgb(220, 252, 231)"
    token = app.locator(".diff .add .tok-string", has_text=TAGLINE)
    assert token.evaluate("t => getComputedStyle(t).color") != added.evaluate("l => getComputedStyle(l).color")
    expect(page.locator("#versions .version[data-number='2'] .badge.source")).to_have_text("hand edit")
    page.screenshot(path=SHOTS / "diff-highlighted.png")

    # The rows written: an edit verdict and an edit pair, the edited app over the model's answer, under
    # the request that answer was given.
    rows = stack.django(
        "from feedback.models import Feedback, PreferencePair; p = PreferencePair.objects.get();"
        "print([f.verdict for f in Feedback.objects.order_by('id')]);"
        "print((p.source, p.chosen_generation.kind, p.rejected_generation.kind, p.feedback.verdict));"
        "print(p.prompt == p.rejected_generation.request_messages, p.rejected[0]['content'] == p.rejected_generation.raw_output);"
        f"print({TAGLINE!r} in p.chosen[0]['content'], {TAGLINE!r} in p.rejected[0]['content'])"
    ).splitlines()
    assert rows == ["['edit']", "('edit', 'edit', 'first', 'edit')", "True True", "True False"]

    # A new file, made where the app's modules live; anywhere else it is refused, with the reason.
    page.get_by_role("tab", name="Files").click()
    page.once("dialog", lambda dialog: dialog.accept("server.py"))
    page.get_by_role("button", name="New file").click()
    expect(page.locator("#edit-state")).to_contain_text("New file server.py")
    page.locator("#editor .cm-content").click()
    page.keyboard.type("print(1)")
    page.get_by_role("button", name="Save as new version").click()
    expect(page.locator("#edit-error")).to_contain_text("A new file can only be made under src/")
    page.once("dialog", lambda dialog: dialog.accept())  # yes, discard the unsaved text
    page.get_by_role("button", name="Cancel").click()
    page.once("dialog", lambda dialog: dialog.accept("src/note.js"))
    page.get_by_role("button", name="New file").click()
    page.locator("#editor .cm-content").click()
    page.keyboard.type("export const NOTE = 1;")
    page.get_by_role("button", name="Save as new version").click()
    expect(page.locator(".turn")).to_have_count(3)
    expect(page.locator(".turn").last.locator(".turn-changes .change.added")).to_have_text("Added src/note.js")

    # A broken edit: the build error names the file and line, and nothing goes to the model.
    open_file(page, "src/App.jsx")
    page.get_by_role("button", name="Edit", exact=True).click()
    expect(page.locator("#editor .cm-editor")).to_be_visible()
    line = replace_line(page, "const TAGLINE", "const TAGLINE = = 1;")
    page.get_by_role("button", name="Save as new version").click()
    expect(page.locator(".turn")).to_have_count(4)
    expect(page.locator("#build-status")).to_have_attribute("data-status", "failed", timeout=120_000)
    where = page.locator("#build-errors .build-error .where").first
    expect(where).to_have_text(f"src/App.jsx, line {line}")
    expect(page.locator("#build-errors")).to_contain_text("(column 16)")
    expect(page.get_by_role("button", name="Ask the model to fix it")).to_be_visible()
    page.screenshot(path=SHOTS / "hand-edit-build-error.png")
    page.wait_for_timeout(3000)  # had the pipeline sent it for repair, the repair would exist by now
    assert stack.django("from generation.models import Generation; print(Generation.objects.filter(kind='repair').count())") == "0"
    expect(page.locator(".turn").last.locator(".candidate")).to_have_count(1)
    # The file and line open the editor there.
    where.click()
    expect(page.locator("#editor .cm-activeLine")).to_contain_text("const TAGLINE = = 1;")
    page.get_by_role("button", name="Cancel").click()

    # Asked, the model repairs it: a repair of the edit's turn, followed and built like any other.
    page.get_by_role("button", name="Ask the model to fix it").click()
    expect(page.locator(".turn").last.locator(".candidate", has_text="Repair")).to_have_count(1, timeout=20_000)
    expect(page.locator("#build-status")).to_have_attribute("data-status", "ready", timeout=180_000)
    assert stack.django(
        "from generation.models import Generation; r = Generation.objects.get(kind='repair');"
        "print(r.repair_of.app_version.generations.first().kind, r.turn.prompt)"
    ) == "edit Hand edit of src/App.jsx"
    assert csp_violations(page) == []

    # Another user's ids answer 404 on the save and repair endpoints (with a valid CSRF token of their own).
    version_id = page.locator("#versions .version[data-number='2']").get_attribute("data-version")
    edit_id = stack.django("from generation.models import Generation; print(Generation.objects.filter(kind='edit').first().id)")
    bob = browser_page(browser, stack, "bob", "bob-pass-123")
    token = next(c["value"] for c in bob.context.cookies() if c["name"] == "csrftoken")
    headers = {"X-CSRFToken": token, "Content-Type": "application/json"}
    save = bob.request.post(f"{stack.url}/projects/{project_id}/versions/{version_id}/edit/", headers=headers,
                            data=json.dumps({"path": "src/App.jsx", "content": "export default () => null;\n"}))
    assert save.status == 404
    repair = bob.request.post(f"{stack.url}/projects/{project_id}/generations/{edit_id}/repair/", headers=headers)
    assert repair.status == 404
    bob.context.close()
    page.context.close()
