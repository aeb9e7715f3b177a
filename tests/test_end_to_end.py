"""One real turn, end to end, as a person does it: in headless Chromium against the real ASGI server,
Celery workers, Redis, Docker engine and the offline model server."""

import json
import time
from pathlib import Path

import pytest
from playwright.sync_api import expect

from tests.browser import log_in
from tests.stack import ROOT, Stack

pytestmark = pytest.mark.e2e

SHOTS = ROOT / "var" / "screenshots"
TODO_PROMPT = "a todo list where I can add, tick and delete tasks"


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    stack = Stack(tmp_path_factory.mktemp("kiln-e2e")).start()
    stack.manage(
        "shell", "-c",
        "from django.contrib.auth.models import User;"
        "User.objects.create_user('alice', password='alice-pass-123');"
        "User.objects.create_user('root', password='root-pass-123', is_staff=True, is_superuser=True)",
    )
    yield stack
    stack.stop()
    stack.manage("shell", "-c", "from sandbox.docker_driver import remove_all_for_instance; remove_all_for_instance()")



class FrameRecorder:
    """Every websocket frame the page receives, with its arrival time."""

    def __init__(self, page):
        self.frames: list[tuple[float, dict]] = []
        page.on("websocket", lambda ws: ws.on("framereceived", self._record))

    def _record(self, payload):
        self.frames.append((time.monotonic(), json.loads(payload)))

    def times(self, kind, **match) -> list[float]:
        return [
            t for t, f in self.frames
            if f.get("type") == "frame" and f.get("kind") == kind and all(f.get(k) == v for k, v in match.items())
        ]


def wait_for_ready(page, timeout_ms=120_000):
    status = page.locator("#build-status")
    expect(status).to_have_attribute("data-status", "ready", timeout=timeout_ms)


def test_a_person_builds_uses_and_judges_an_app(stack, browser):
    SHOTS.mkdir(parents=True, exist_ok=True)
    page = browser.new_page(viewport={"width": 1600, "height": 950})
    recorder = FrameRecorder(page)
    log_in(page, stack, "alice", "alice-pass-123")
    page.fill("input[name=name]", "Todo")
    page.get_by_role("button", name="Create project").click()
    expect(page.locator("#connection")).to_have_attribute("data-state", "open")

    # 1. Files stream in while the model is still writing.
    page.fill("#prompt", TODO_PROMPT)
    page.get_by_role("button", name="Build").click()
    expect(page.locator(".file.writing")).to_be_visible(timeout=30_000)
    page.screenshot(path=SHOTS / "01-streaming.png")
    wait_for_ready(page)
    # The smoke test checked the app in a browser; its verdict and screenshot reach the page.
    expect(page.locator("#checks")).to_have_attribute("data-state", "passed", timeout=60_000)
    shot = page.request.get(stack.url + page.locator("#checks a").get_attribute("href"))
    assert shot.status == 200 and shot.body()[:8] == b"\x89PNG\r\n\x1a\n"
    page.screenshot(path=SHOTS / "02-ready.png")

    first_file = min(recorder.times("file_start"))
    done = recorder.times("done")[0]
    ready = recorder.times("build", status="ready")[0]
    assert first_file < done - 0.3, "files must arrive while the generation runs, not all at the end"
    assert len(recorder.times("file_done")) >= 4
    (ROOT / "var" / "e2e-timings.json").write_text(
        json.dumps({"last_file_to_ready_s": round(ready - max(recorder.times("file_done")), 2),
                    "first_file_to_done_s": round(done - first_file, 2)})
    )
    expect(page.locator(".file", has_text="src/App.jsx")).to_be_visible()
    expect(page.get_by_test_id("explanation")).not_to_have_text("…")

    # 2. The app works: an item added in the preview is stored by the entity API and survives a reload.
    preview = page.frame_locator("#preview")
    form = preview.locator("form[aria-label='Add Task']")
    form.locator("input[name=title]").fill("Buy oat milk")
    form.get_by_role("button", name="Add").click()
    expect(preview.locator("li", has_text="Buy oat milk")).to_be_visible(timeout=10_000)
    page.screenshot(path=SHOTS / "03-item-added.png")
    page.reload()
    wait_for_ready(page, timeout_ms=20_000)
    expect(page.frame_locator("#preview").locator("li", has_text="Buy oat milk")).to_be_visible(timeout=20_000)

    # 3. Reject with a reason, regenerate, accept the second candidate: a preference pair.
    page.get_by_role("button", name="Reject").first.click()
    page.fill("#reject-reason", "too plain")
    page.locator("#reject-form").get_by_role("button", name="Reject").click()
    expect(page.locator(".candidate .verdict.reject")).to_be_visible()
    page.get_by_role("button", name="Regenerate").click()
    expect(page.locator(".candidate")).to_have_count(2)
    expect(page.locator(".candidate.selected")).to_contain_text("Candidate 2")
    wait_for_ready(page)
    page.get_by_role("button", name="Accept").click()
    expect(page.locator(".candidate.selected .verdict.accept")).to_be_visible()
    page.screenshot(path=SHOTS / "04-accepted.png")

    # 4. Staff see the verdicts and the pair in the admin; the builder user cannot open it.
    page.goto(stack.url + "/admin/feedback/feedback/")
    expect(page.locator("body")).to_contain_text("not authorized")
    staff_page = browser.new_page(viewport={"width": 1400, "height": 900})
    log_in(staff_page, stack, "root", "root-pass-123", path="/admin/login/?next=/admin/feedback/feedback/")
    expect(staff_page.locator("#result_list")).to_contain_text("too plain")
    expect(staff_page.locator("#result_list")).to_contain_text("Accept")
    staff_page.screenshot(path=SHOTS / "05-admin-feedback.png")
    staff_page.goto(stack.url + "/admin/feedback/preferencepair/")
    expect(staff_page.locator("#result_list")).to_contain_text("accept vs reject")

    out = Path(stack.workdir) / "export"
    stack.manage("export_preferences", "--out", str(out))
    rows = [json.loads(line) for line in (out / "preferences.jsonl").read_text().splitlines()]
    assert len(rows) == 1
    assert rows[0]["chosen"][0]["role"] == "assistant" and "<file" in rows[0]["chosen"][0]["content"]
