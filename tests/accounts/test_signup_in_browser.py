"""Sign-up by invite and a password reset in headless Chromium, against Django's live server: the link
an administrator sends opens a filled-in form, the account works, and the same link is refused after.
Screenshots of the sign-up and reset pages go to docs/screenshots/."""

import re
from contextlib import contextmanager
from pathlib import Path

import pytest
from django.contrib.auth import get_user_model
from playwright.sync_api import expect, sync_playwright

from accounts.admin import signup_link
from accounts.forms import INVITE_USED
from accounts.models import Invite
from tests.browser import CHROMIUM_ARGS, RECORD_VIOLATIONS, csp_violations

pytestmark = pytest.mark.django_db(transaction=True)
SHOTS = Path(__file__).resolve().parent.parent.parent / "docs" / "screenshots"


@contextmanager
def chromium():
    """Chromium for one test, started after its database rows are made: Playwright's sync API runs an
    event loop in this thread, and Django refuses ORM calls (the live server's fixtures' included) while
    one runs. tests/conftest.py's module-wide `browser` would keep it running across the teardown."""
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


def new_page(browser):
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    page = context.new_page()
    page.add_init_script(RECORD_VIOLATIONS)
    page.console_messages = []
    page.on("console", lambda message: page.console_messages.append(message.text))
    return page


def test_a_person_signs_up_with_an_invite_link_once(live_server, staff, settings):
    settings.BUILDER_ORIGINS = [live_server.url]
    invite = Invite.objects.create(created_by=staff, note="for Nora")
    link = signup_link(invite)

    with chromium() as browser:
        signed_up, refused = sign_up_twice(browser, link, invite.code)

    assert signed_up == "nora" and INVITE_USED in refused
    assert sorted(get_user_model().objects.values_list("username", flat=True)) == ["nora", staff.username]
    invite.refresh_from_db()
    assert invite.used_by.username == "nora"


def sign_up_twice(browser, link: str, code: str) -> tuple[str, str]:
    page = new_page(browser)
    page.goto(link)
    expect(page.get_by_role("heading", name="Create your Kiln account")).to_be_visible()
    expect(page.get_by_label("Invite code")).to_have_value(code)
    page.get_by_label("Username").fill("nora")
    page.get_by_label("E-mail").fill("nora@example.com")
    page.get_by_label("Password", exact=True).fill("a long enough passphrase")
    page.get_by_label("Password again").fill("a long enough passphrase")
    page.screenshot(path=SHOTS / "signup.png")
    page.get_by_role("button", name="Sign up").click()

    expect(page.get_by_role("heading", name="Your projects")).to_be_visible()
    expect(page.locator(".messages")).to_contain_text("Welcome to Kiln, nora")
    expect(page.locator(".topbar .who")).to_have_text("nora")
    expect(page.locator(".limits")).to_contain_text("of yours run at a time")
    assert csp_violations(page) == []
    signed_up = page.locator(".topbar .who").inner_text()
    page.context.close()

    again = new_page(browser)
    again.goto(link)
    again.get_by_label("Username").fill("nora-again")
    again.get_by_label("E-mail").fill("nora2@example.com")
    again.get_by_label("Password", exact=True).fill("a long enough passphrase")
    again.get_by_label("Password again").fill("a long enough passphrase")
    again.get_by_role("button", name="Sign up").click()
    expect(again.locator("p.error")).to_contain_text(INVITE_USED)
    again.screenshot(path=SHOTS / "signup-invite-used.png")
    refused = again.locator("main").inner_text()
    again.context.close()
    return signed_up, refused


def test_a_person_resets_a_forgotten_password_from_the_mailed_link(live_server, owner, mailoutbox):
    owner.email = "olivia@example.com"
    owner.save()

    with chromium() as browser:
        reset_password(browser, live_server.url, owner.username, mailoutbox)

    owner.refresh_from_db()
    assert owner.check_password("reset passphrase 42")


def reset_password(browser, url: str, username: str, mailoutbox) -> None:
    page = new_page(browser)
    page.goto(url + "/accounts/login/")
    page.get_by_role("link", name="Forgot your password?").click()
    page.get_by_label("E-mail").fill("olivia@example.com")
    page.screenshot(path=SHOTS / "password-reset.png")
    page.get_by_role("button", name="Send the link").click()
    expect(page.get_by_role("heading", name="Check your e-mail")).to_be_visible()

    assert len(mailoutbox) == 1
    link = re.search(r"https?://\S+/accounts/reset/\S+/", mailoutbox[0].body).group(0)
    page.goto(link)
    expect(page.get_by_role("heading", name="Set a new password")).to_be_visible()
    page.get_by_label("New password", exact=True).fill("reset passphrase 42")
    page.get_by_label("New password again").fill("reset passphrase 42")
    page.screenshot(path=SHOTS / "password-reset-new.png")
    page.get_by_role("button", name="Set password").click()
    expect(page.get_by_role("heading", name="Your new password is set")).to_be_visible()

    page.get_by_role("link", name="Log in").click()
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", "reset passphrase 42")
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("heading", name="Your projects")).to_be_visible()
    assert csp_violations(page) == []
    page.context.close()
