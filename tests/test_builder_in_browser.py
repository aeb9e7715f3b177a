"""The builder's pages in headless Chromium against the real stack: they run under their strict
Content-Security-Policy without a single violation, a prompt stays in the box until the server has it,
and a failed generation offers no Accept or Reject."""

import pytest
from playwright.sync_api import expect

from tests.browser import csp_violations, open_page
from tests.stack import Stack
from tests.test_end_to_end import TODO_PROMPT, wait_for_ready

pytestmark = pytest.mark.e2e

@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    stack = Stack(tmp_path_factory.mktemp("kiln-pages")).start()
    stack.manage("shell", "-c",
                 "from django.contrib.auth.models import User; User.objects.create_user('alice', password='alice-pass-123')")
    yield stack
    stack.stop()
    stack.manage("shell", "-c", "from sandbox.docker_driver import remove_all_for_instance; remove_all_for_instance()")



@pytest.fixture
def page(stack, browser):
    page = open_page(browser, stack, "alice", "alice-pass-123")
    yield page
    page.context.close()


def new_project(page, name):
    page.fill("input[name=name]", name)
    page.get_by_role("button", name="Create project").click()
    expect(page.locator("#connection")).to_have_attribute("data-state", "open")


def stop(stack, service):
    stack.process(service).terminate()
    stack.process(service).wait(timeout=15)
    stack.processes = [(name, process) for name, process in stack.processes if process.poll() is None]


def restart(stack, service):
    stack.start_service(service)
    stack.wait_until_up((service,))


def test_the_project_page_works_under_its_policy_without_a_violation(stack, page):
    new_project(page, "Todo")
    assert "script-src 'self'" in page.evaluate("() => fetch(location.href).then((r) => r.headers.get('content-security-policy'))")

    page.fill("#prompt", TODO_PROMPT)
    page.get_by_role("button", name="Build").click()
    wait_for_ready(page)
    preview = page.frame_locator("#preview")
    preview.locator("form[aria-label='Add Task'] input[name=title]").fill("Buy oat milk")
    preview.locator("form[aria-label='Add Task']").get_by_role("button", name="Add").click()
    expect(preview.locator("li", has_text="Buy oat milk")).to_be_visible(timeout=10_000)
    page.locator(".file", has_text="src/App.jsx").click()
    expect(page.locator("#file-code")).to_contain_text("export default")
    assert csp_violations(page) == []

    # The project list's delete confirmation now comes from a static script, not an inline handler.
    page.goto(stack.url + "/")
    page.once("dialog", lambda dialog: dialog.dismiss())
    page.locator("li", has_text="Todo").get_by_role("button", name="Delete").click()
    expect(page.locator(".projects li", has_text="Todo")).to_be_visible()
    page.once("dialog", lambda dialog: dialog.accept())
    page.locator("li", has_text="Todo").get_by_role("button", name="Delete").click()
    expect(page.locator(".projects li", has_text="Todo")).to_have_count(0)
    assert csp_violations(page) == []


def test_a_prompt_stays_in_the_box_until_the_server_has_it(stack, page):
    new_project(page, "Offline")
    stop(stack, "web")  # the server goes away: the socket drops
    expect(page.locator("#connection")).to_have_attribute("data-state", "offline")

    page.fill("#prompt", TODO_PROMPT)
    page.get_by_role("button", name="Build").click()
    expect(page.locator("#prompt")).to_have_value(TODO_PROMPT)
    expect(page.locator("#connection")).to_contain_text("your prompt is kept")

    restart(stack, "web")
    expect(page.locator("#connection")).to_have_attribute("data-state", "open", timeout=30_000)
    page.get_by_role("button", name="Build").click()
    expect(page.locator("#prompt")).to_have_value("")  # cleared once the server said it stored the turn
    expect(page.locator(".turn .bubble.you")).to_have_text([TODO_PROMPT])


def test_a_prompt_the_server_refuses_stays_in_the_box(stack, page):
    new_project(page, "Too long")
    too_long = "a todo list " * 2000  # over the 20,000 characters a prompt may have

    page.locator("#prompt").evaluate("(box, text) => { box.value = text; }", too_long)  # past maxlength
    page.get_by_role("button", name="Build").click()

    expect(page.locator("#prompt-error")).to_contain_text("That prompt is too long")
    assert page.locator("#prompt").input_value() == too_long
    expect(page.get_by_role("button", name="Build")).to_be_enabled()


def test_a_failed_generation_offers_regenerate_but_no_accept_or_reject(stack, page):
    new_project(page, "No model")
    stop(stack, "blueprint")  # the model server is unreachable: the generation fails
    try:
        page.fill("#prompt", TODO_PROMPT)
        page.get_by_role("button", name="Build").click()
        expect(page.locator(".candidate.selected")).to_have_attribute("data-status", "failed", timeout=60_000)

        expect(page.get_by_role("button", name="Regenerate")).to_be_visible()
        expect(page.locator("#accept")).to_be_hidden()
        expect(page.locator("#reject")).to_be_hidden()
    finally:
        restart(stack, "blueprint")
