"""History's "Preview this version" as a person uses it: in headless Chromium at 1280×800 against the real
stack (ASGI server, both Celery workers, Redis, Docker, the offline model server). An old version's app
runs live beside the current one, labelled as old; the current version and its preview are untouched
(its records too: the old one runs on a copy). Screenshot: docs/screenshots/version-preview.png."""

import json

import httpx
import pytest
from playwright.sync_api import expect

from tests.browser import csp_violations
from tests.browser import open_page as browser_page
from tests.stack import ROOT, stack_with_alice_and_bob
from tests.test_end_to_end import TODO_PROMPT

pytestmark = pytest.mark.e2e

SHOTS = ROOT / "docs" / "screenshots"
ADD_TASK = "form[aria-label='Add Task']"


@pytest.fixture(autouse=True)
def clean_redis():
    # The stack's processes own its Redis database (see test_history_in_browser).
    yield None


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    yield from stack_with_alice_and_bob(tmp_path_factory.mktemp("kiln-version-preview"))


def new_project(page, name):
    page.fill("input[name=name]", name)
    page.get_by_role("button", name="Create project").click()
    # A machine shared by several test runs can take a while to open the socket.
    expect(page.locator("#connection")).to_have_attribute("data-state", "open", timeout=30_000)


def wait_until_turn_is_ready(page, count, timeout_ms=180_000):
    expect(page.locator(".turn")).to_have_count(count, timeout=timeout_ms)
    expect(page.locator("#build-status")).to_have_attribute("data-status", "ready", timeout=timeout_ms)
    expect(page.locator("#checks")).to_have_attribute("data-state", "passed", timeout=timeout_ms)


def version(page, number):
    return page.locator(f"#versions .version[data-number='{number}']")


def builds_of(stack, project_id):
    """{build id: (version number, status)} of the project, read from the database."""
    out = stack.django(
        "import json; from sandbox.models import Build; from builder.models import Project\n"
        "from builder.history import version_numbers\n"
        f"p = Project.objects.get(id={project_id}); n = version_numbers(p)\n"
        "print(json.dumps([(b.id, n[b.app_version_id], b.status)\n"
        "                  for b in Build.objects.filter(app_version__project=p)]))"
    )
    return {build: (number, status) for build, number, status in json.loads(out)}


def test_an_old_version_runs_live_beside_the_current_one(stack, browser):
    SHOTS.mkdir(parents=True, exist_ok=True)
    page = browser_page(browser, stack, "alice", "alice-pass-123", viewport={"width": 1280, "height": 800})
    new_project(page, "Chores")
    project_id = page.locator("#app").get_attribute("data-project")
    current = page.frame_locator("#preview")

    # Version 1 stores a record; version 2 adds a due date and is current.
    page.fill("#prompt", TODO_PROMPT)
    page.get_by_role("button", name="Build").click()
    wait_until_turn_is_ready(page, 1)
    current.locator(f"{ADD_TASK} input[name=title]").fill("Buy oat milk")
    current.locator(ADD_TASK).get_by_role("button", name="Add").click()
    expect(current.locator("li", has_text="Buy oat milk")).to_be_visible(timeout=10_000)
    page.fill("#prompt", "add a due date")
    page.get_by_role("button", name="Build").click()
    wait_until_turn_is_ready(page, 2)
    expect(current.locator("input[name=due_date]")).to_have_count(1, timeout=20_000)
    before = builds_of(stack, project_id)
    current_build = max(b for b, (number, status) in before.items() if number == 2 and status == "ready")

    # Preview version 1 from History: its app, live, labelled old; version 2 stays current.
    page.get_by_role("tab", name="History").click()
    version(page, 1).get_by_role("button", name="Preview this version").click()
    old = page.frame_locator("#version-preview-frame")
    expect(page.locator("#version-preview-title")).to_have_text("Version 1")
    expect(page.locator("#version-preview-badge")).to_have_text("old version, not current")
    expect(old.locator(f"{ADD_TASK} input[name=title]")).to_be_visible(timeout=180_000)
    expect(old.locator("input[name=due_date]")).to_have_count(0)
    expect(old.locator("li", has_text="Buy oat milk")).to_be_visible(timeout=10_000)  # a copy of the data
    expect(page.locator("#version-preview-note")).to_contain_text("The current version is still version 2")
    expect(version(page, 2)).to_contain_text("current")
    expect(version(page, 1)).not_to_contain_text("current")

    # A record added in the old version's copy stays there; the current preview keeps running, with
    # the project's real data, and still writes to it.
    old.locator(f"{ADD_TASK} input[name=title]").fill("Only in the copy")
    old.locator(ADD_TASK).get_by_role("button", name="Add").click()
    expect(old.locator("li", has_text="Only in the copy")).to_be_visible(timeout=10_000)
    expect(current.locator("input[name=due_date]")).to_have_count(1)
    current.locator(f"{ADD_TASK} input[name=title]").fill("Pay rent")
    current.locator(ADD_TASK).get_by_role("button", name="Add").click()
    expect(current.locator("li", has_text="Pay rent")).to_be_visible(timeout=10_000)
    expect(current.locator("li", has_text="Only in the copy")).to_have_count(0)
    expect(page.locator("#build-status")).to_have_attribute("data-status", "ready")
    # The list follows it: version 1's newest build is live, with its own smoke verdict and screenshot.
    expect(version(page, 1).locator(".badge.build")).to_contain_text("Ready · smoke test passed", timeout=60_000)
    expect(version(page, 1).locator("img.thumb")).to_be_visible()
    old.locator("h1").scroll_into_view_if_needed()
    page.screenshot(path=SHOTS / "version-preview.png")

    after = builds_of(stack, project_id)
    side = [b for b in after if b not in before]
    assert len(side) == 1 and after[side[0]] == (1, "ready")
    assert after[current_build] == (2, "ready")
    # The preview watchdog's one-preview-per-project rule leaves both running.
    stack.django("from sandbox import lifecycle; lifecycle.watchdog()")
    assert builds_of(stack, project_id)[current_build] == (2, "ready")
    assert builds_of(stack, project_id)[side[0]] == (1, "ready")
    expect(current.locator("li", has_text="Pay rent")).to_be_visible()

    # Asking again reuses the running preview: nothing new is built.
    page.get_by_role("button", name="Close preview").click()
    expect(page.locator("#version-preview")).to_be_hidden()
    version(page, 1).get_by_role("button", name="Preview this version").click()
    expect(old.locator(f"{ADD_TASK} input[name=title]")).to_be_visible(timeout=20_000)
    # The current version's own preview is reused too, and says it is the current one.
    version(page, 2).get_by_role("button", name="Preview this version").click()
    expect(page.locator("#version-preview-badge")).to_have_text("current version")
    expect(old.locator("input[name=due_date]")).to_have_count(1, timeout=20_000)
    assert len(builds_of(stack, project_id)) == len(after)
    assert csp_violations(page) == []

    # Another user reaches none of it: the same 404 as an id that does not exist.
    version_id = stack.django("from builder.models import AppVersion;"
                              f"print(AppVersion.objects.filter(project_id={project_id}).order_by('id').first().id)")
    bob = browser_page(browser, stack, "bob", "bob-pass-123")
    cookies = {c["name"]: c["value"] for c in bob.context.cookies()}
    with httpx.Client(base_url=stack.url, cookies=cookies) as http:
        headers = {"X-CSRFToken": cookies.get("csrftoken", ""), "Referer": stack.url + "/"}
        for method in ("GET", "POST"):
            for path in (f"/projects/{project_id}/versions/{version_id}/preview/",
                         f"/projects/{project_id}/versions/999999/preview/"):
                assert http.request(method, path, headers=headers).status_code == 404, (method, path)
    assert len(builds_of(stack, project_id)) == len(after)
    bob.context.close()
    page.context.close()
