"""Opening a project that has grown large, as a person does it: headless Chromium against the real ASGI
server. The latest turn shows at once, a 300 KB file opens when clicked, earlier turns load on demand;
and a socket that keeps being closed is retried with growing delays, not in a storm."""

import re
import time

import pytest
from playwright.sync_api import expect

from tests.browser import log_in
from tests.builder.big_project import BIG_FILE_BYTES
from tests.stack import Stack

pytestmark = pytest.mark.e2e

TURNS = 1000
FIRST_MESSAGE_LIMIT = 64 * 1024
PREVIEW_HOSTS = re.compile(r"^https?://p-")
LONG_PROMPT = "Make it a kanban board. " + "Cards need a due date, a colour and an owner. " * 60


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    # Only the ASGI server: opening a project needs no worker, and the project is made in the database.
    stack = Stack(tmp_path_factory.mktemp("kiln-open"), redis_db=12).start(services=("web",))
    stack.project_id, stack.regenerated_id = map(int, stack.django(
        "from django.contrib.auth.models import User\n"
        "from tests.builder.big_project import make_project, make_regenerated_turn\n"
        "owner = User.objects.create_user('olivia', password='owner-pass-123')\n"
        f"big = make_project(owner=owner, name='Long-lived', turns={TURNS})\n"
        f"again = make_regenerated_turn(owner=owner, name='Again', prompt={LONG_PROMPT!r}, candidates=9)\n"
        "print(big.id, again.id)"
    ).split())
    yield stack
    stack.stop()



@pytest.fixture
def page(stack, browser):
    page = browser.new_page(viewport={"width": 1400, "height": 900})
    # The made-up builds have no preview containers; their iframes are not what this test is about.
    page.route(PREVIEW_HOSTS, lambda route: route.abort())
    log_in(page, stack, "olivia", "owner-pass-123")
    expect(page.get_by_role("button", name="Create project")).to_be_visible()
    yield page
    page.close()


def test_a_big_project_opens_on_its_latest_turn_and_a_big_file_opens(stack, page):
    first_messages = []
    page.on("websocket", lambda ws: ws.on("framereceived", lambda payload: first_messages.append(payload)))

    page.goto(f"{stack.url}/projects/{stack.project_id}/")

    expect(page.locator("#app")).to_have_attribute("data-ready", "true")
    assert len(first_messages[0].encode()) <= FIRST_MESSAGE_LIMIT
    latest = page.locator(".turn").last
    expect(latest.locator(".bubble.you")).to_have_text(re.compile(rf"^Turn {TURNS}: "))
    expect(latest.locator(".candidate.selected")).to_have_count(1)
    expect(page.locator(".file", has_text="src/data/table1.js")).to_contain_text("300 KB")

    page.locator(".file", has_text="src/data/table1.js").click()

    code = page.locator("#file-code")
    expect(code).to_contain_text("export const TABLE_1 = [")
    assert len(code.text_content()) == BIG_FILE_BYTES

    earlier = page.locator("#earlier-turns")
    shown = page.locator(".turn").count()
    expect(earlier).to_have_text(f"Show earlier turns ({TURNS - shown})")
    earlier.click()
    expect(earlier).to_have_text(f"Show earlier turns ({TURNS - shown - 20})")
    expect(page.locator(".turn .bubble.you", has_text=f"Turn {TURNS - shown - 19}: ")).to_have_count(1)
    expect(page.locator(".turn")).to_have_count(shown + 20)


def test_show_all_brings_the_whole_prompt_and_every_candidate(stack, page):
    page.goto(f"{stack.url}/projects/{stack.regenerated_id}/")
    turn = page.locator(".turn").last
    expect(turn.locator(".candidate")).to_have_count(6)  # the newest six come with the state
    expect(turn.locator(".bubble.you")).not_to_have_text(LONG_PROMPT)

    turn.get_by_role("button", name="Show all (3 earlier candidates)").click()

    expect(turn.locator(".candidate")).to_have_count(9)
    expect(turn.locator(".candidate").first).to_contain_text("Candidate 1")
    expect(turn.locator(".bubble.you")).to_have_text(LONG_PROMPT)
    expect(turn.get_by_role("button", name=re.compile("^Show all"))).to_have_count(0)
    turn.locator(".candidate").first.click()
    page.locator(".file", has_text="src/App.jsx").click()
    expect(page.locator("#file-code")).to_contain_text("Todo, turn 1")


def test_a_socket_closed_after_each_open_is_retried_with_growing_delays(stack, page):
    attempts = []

    def close_on_first_message(ws):
        # What an oversized state did: the server accepts, sends, and the socket closes with 1011.
        attempts.append(time.monotonic())
        server = ws.connect_to_server()
        server.on_message(lambda message: ws.close(code=1011, reason="message too big"))

    page.route_web_socket(re.compile(r"/ws/projects/"), close_on_first_message)
    page.goto(f"{stack.url}/projects/{stack.project_id}/")
    page.wait_for_timeout(8_000)

    # Delays of 0.25–0.5 s, then 0.5–1, 1–2, 2–4 s...: at most 6 tries in 8 s. A delay that went back to
    # its first step on each open made it a storm.
    assert 3 <= len(attempts) <= 6, attempts
    gaps = [b - a for a, b in zip(attempts, attempts[1:])]
    # Each delay is at least half its step (0.25 s, doubling); the margin is for a busy machine's jitter.
    assert all(gap >= 0.25 * 2**i * 0.6 for i, gap in enumerate(gaps)), gaps
    expect(page.locator("#connection")).to_contain_text("reconnecting in")
