"""History, diff, restore, undo and download as a person uses them: in headless Chromium against the real
stack (ASGI server, both Celery workers, Redis, Docker, the offline model server), under the builder's
strict Content-Security-Policy. Screenshots go to docs/screenshots/ (shown in the README)."""

import json
import time
import zipfile
from pathlib import Path

import pytest
from playwright.sync_api import expect

from tests.browser import csp_violations
from tests.browser import open_page as browser_page
from tests.stack import ROOT, stack_with_alice_and_bob
from tests.test_builder_in_browser import new_project
from tests.test_end_to_end import TODO_PROMPT

pytestmark = pytest.mark.e2e

SHOTS = ROOT / "docs" / "screenshots"
FOLLOW_UP = "add a due date"
# Several engineers run the stack at once: each uses its own Redis database and Docker label.


@pytest.fixture(autouse=True)
def clean_redis():
    # The stack's processes own its Redis database; the autouse flush of tests/conftest.py would drop
    # their Celery queue bindings mid-test when a run points both at the same database.
    yield None


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    yield from stack_with_alice_and_bob(tmp_path_factory.mktemp("kiln-history"))



def open_page(browser, stack, username, password):
    return browser_page(browser, stack, username, password, viewport={"width": 1440, "height": 900},
                        accept_downloads=True)


def wait_until_turn_is_ready(page, count, timeout_ms=180_000):
    """The newest of `count` turns is selected, built, and its smoke verdict is in."""
    expect(page.locator(".turn")).to_have_count(count, timeout=timeout_ms)
    expect(page.locator(".turn").last.locator(".candidate.selected")).to_have_count(1)
    expect(page.locator("#build-status")).to_have_attribute("data-status", "ready", timeout=timeout_ms)
    expect(page.locator("#checks")).to_have_attribute("data-state", "passed", timeout=timeout_ms)


def versions(page):
    return page.locator("#versions .version")


def version(page, number):
    return page.locator(f"#versions .version[data-number='{number}']")


def test_a_person_browses_history_diffs_restores_undoes_and_downloads(stack, browser):
    SHOTS.mkdir(parents=True, exist_ok=True)
    page = open_page(browser, stack, "alice", "alice-pass-123")
    new_project(page, "Chores")
    project_id = page.locator("#app").get_attribute("data-project")
    preview = page.frame_locator("#preview")

    # Version 1, with a record stored by the app; version 2 adds a due date.
    page.fill("#prompt", TODO_PROMPT)
    page.get_by_role("button", name="Build").click()
    wait_until_turn_is_ready(page, 1)
    preview.locator("form[aria-label='Add Task'] input[name=title]").fill("Buy oat milk")
    preview.locator("form[aria-label='Add Task']").get_by_role("button", name="Add").click()
    expect(preview.locator("li", has_text="Buy oat milk")).to_be_visible(timeout=10_000)
    page.fill("#prompt", FOLLOW_UP)
    page.get_by_role("button", name="Build").click()
    wait_until_turn_is_ready(page, 2)
    expect(preview.locator("input[name=due_date]")).to_have_count(1, timeout=20_000)

    # The chat links each turn to what it changed.
    page.locator(".turn").last.get_by_role("button", name="What changed").click()
    expect(page.locator("#history-view-title")).to_have_text("Changes in version 2 (from version 1)")
    expect(page.locator(".diff-file[data-path='app.json'] .diff .add", has_text="due_date").first).to_be_visible()
    page.get_by_role("button", name="Close").click()

    # History: both versions, newest first, each with its prompt, source, verdict and screenshot.
    page.get_by_role("tab", name="History").click()
    expect(versions(page)).to_have_count(2)
    expect(versions(page).first).to_have_attribute("data-number", "2")
    expect(version(page, 2)).to_contain_text(FOLLOW_UP)
    expect(version(page, 2)).to_contain_text("current")
    expect(version(page, 1)).to_contain_text(TODO_PROMPT)
    for number in (1, 2):
        expect(version(page, number).locator(".badge.source")).to_have_text("generation")
        expect(version(page, number).locator(".badge.build")).to_contain_text("smoke test passed")
        thumb = version(page, number).locator("img.thumb")
        expect(thumb).to_be_visible()
        page.wait_for_function("img => img.complete && img.naturalWidth > 0", arg=thumb.element_handle())
    page.screenshot(path=SHOTS / "history.png")

    # Diff against the parent: app.json changed, the added field's lines coloured as added.
    version(page, 2).get_by_role("button", name="Changes").click()
    expect(page.locator("#history-view-title")).to_have_text("Changes in version 2 (from version 1)")
    app_json = page.locator(".diff-file[data-path='app.json']")
    expect(app_json).to_have_attribute("data-status", "changed")
    expect(app_json.locator(".diff .add", has_text="due_date").first).to_be_visible()
    added = app_json.locator(".diff .add").first
    assert added.evaluate("line => getComputedStyle(line).backgroundColor") == "rgb(220, 252, 231)"
    page.screenshot(path=SHOTS / "diff.png")

    # Two picked versions compared the other way round read the same.
    version(page, 1).get_by_label("pick").check()
    version(page, 2).get_by_label("pick").check()
    page.get_by_role("button", name="Compare picked (2 of 2)").click()
    expect(page.locator("#history-view-title")).to_have_text("Changes from version 1 to version 2")
    expect(page.locator(".diff-file[data-path='app.json'] .diff .add", has_text="due_date").first).to_be_visible()

    # Opening version 1 shows its files; the current version stays version 2.
    version(page, 1).get_by_role("button", name="Files").click()
    expect(page.locator("#history-view-title")).to_have_text("Version 1: files")
    page.locator("#history-view-body .file", has_text="index.html").focus()
    page.keyboard.press("Enter")  # the keyboard opens a file too
    expect(page.locator("#history-view-body code")).to_contain_text("bundle.js")
    page.locator("#history-view-body .file", has_text="app.json").click()
    expect(page.locator("#history-view-body code")).to_contain_text('"Task"')
    expect(page.locator("#history-view-body code")).not_to_contain_text("due_date")
    expect(version(page, 2)).to_contain_text("current")
    expect(preview.locator("input[name=due_date]")).to_have_count(1)

    # Restore version 1: a new version 3, current, built; the preview shows the old app, the record kept.
    version(page, 1).get_by_role("button", name="Restore").click()
    wait_until_turn_is_ready(page, 3)
    expect(page.locator(".turn").last.locator(".bubble.you")).to_have_text("Restore version 1")
    expect(page.locator(".turn").last.locator(".candidate.selected")).to_contain_text("Restored")
    expect(page.locator("#accept")).to_be_hidden()
    expect(preview.locator("form[aria-label='Add Task'] input[name=title]")).to_be_visible(timeout=20_000)
    expect(preview.locator("input[name=due_date]")).to_have_count(0)
    expect(preview.locator("li", has_text="Buy oat milk")).to_be_visible()
    expect(versions(page)).to_have_count(3)
    expect(version(page, 3).locator(".badge.source")).to_have_text("restore")
    expect(version(page, 3)).to_contain_text("current")
    expect(page.locator("#history-note")).to_contain_text("stored data (its records) is left as it is")
    page.screenshot(path=SHOTS / "restore.png")

    # Undo: the version the restore replaced comes back, as version 4.
    page.get_by_role("button", name="Undo last change").click()
    wait_until_turn_is_ready(page, 4)
    expect(page.locator(".turn").last.locator(".bubble.you")).to_have_text("Undo: back to version 2")
    expect(preview.locator("input[name=due_date]")).to_have_count(1, timeout=20_000)
    expect(versions(page)).to_have_count(4)
    expect(version(page, 4)).to_contain_text("current")
    page.screenshot(path=SHOTS / "undo.png")

    # Version 2 has the same files as the current one: nothing to restore, so no Restore button.
    expect(version(page, 2).get_by_role("button", name="Restore")).to_have_count(0)
    expect(version(page, 3).get_by_role("button", name="Restore")).to_have_count(1)

    # Download version 1 as a zip, and the app's data as JSON.
    with page.expect_download() as download:
        version(page, 1).get_by_role("link", name="Download .zip").click()
    archive = zipfile.ZipFile(download.value.path())
    names = set(archive.namelist())
    assert {"app.json", "index.html", "src/main.jsx", "README.md"} <= names
    assert "due_date" not in archive.read("app.json").decode()
    assert "GET    /api/entities/Task" in archive.read("README.md").decode()
    # Given back to Kiln's runtime as they are, the zip's files build and pass the smoke test.
    given_back = stack.workdir / "given-back.json"
    given_back.write_text(json.dumps({name: archive.read(name).decode() for name in names - {"README.md"}}))
    build_id = stack.django(
        "import json; from django.db import transaction; from builder import pipeline;"
        "from builder.models import Project; from builder.versions import create_version\n"
        f"files = json.load(open({str(given_back)!r}))\n"
        "with transaction.atomic():\n"
        "    version = create_version(project=Project.objects.get(name='Chores'), files=files, parent=None)\n"
        "    print(pipeline.request_build(version, stream_key='').id)"
    )
    outcome = f"from sandbox.models import Build; b = Build.objects.get(id={build_id}); print(b.status, b.smoke_status)"
    deadline = time.monotonic() + 120
    while stack.django(outcome) not in ("ready passed", "failed pending") and time.monotonic() < deadline:
        time.sleep(2)
    assert stack.django(outcome) == "ready passed"

    with page.expect_download() as download:
        page.get_by_role("link", name="Download data (JSON)").click()
    data = json.loads(Path(download.value.path()).read_text())
    assert [record["title"] for record in data["entities"]["Task"]] == ["Buy oat milk"]

    # The preference rows: a restore verdict and a restore pair (restored > replaced) for each action.
    rows = stack.django(
        "from feedback.models import Feedback, PreferencePair;"
        "print([f.verdict for f in Feedback.objects.order_by('id')]);"
        "print([(p.source, p.chosen_generation.kind, p.rejected_generation.kind) for p in PreferencePair.objects.order_by('id')])"
    ).splitlines()
    assert rows == ["['restore', 'restore']", "[('restore', 'restore', 'first'), ('restore', 'restore', 'restore')]"]
    assert csp_violations(page) == []

    # Another user reaches none of it: the same 404 as for an id that does not exist.
    bob = open_page(browser, stack, "bob", "bob-pass-123")
    v1 = version(page, 1).get_attribute("data-version")
    for path in (f"/projects/{project_id}/versions/", f"/projects/{project_id}/versions/{v1}/",
                 f"/projects/{project_id}/versions/{v1}/diff/", f"/projects/{project_id}/versions/{v1}/download.zip",
                 f"/projects/{project_id}/data.json"):
        assert bob.request.get(stack.url + path).status == 404, path
    bob.context.close()
    page.context.close()
