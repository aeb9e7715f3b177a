"""The preview as a person meets it: in a cross-site iframe of the builder, in headless Chromium.

The builder is on http://127.0.0.1:<port>, the preview on http://p-<token>.localhost:<port>: different
sites. The ticket handshake must leave Chromium with a cookie it keeps and sends inside the iframe.
"""

from urllib.parse import urlencode

import pytest
from playwright.sync_api import expect, sync_playwright

from sandbox import access
from sandbox.models import Build

CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]


@pytest.mark.urls("tests.sandbox.frame_urls")
@pytest.mark.django_db(transaction=True)
def test_owner_uses_the_app_inside_the_builders_iframe(live_server, settings, build_preview, owner, tmp_path):
    port = int(live_server.url.rsplit(":", 1)[1])
    settings.PREVIEW_PORT = port
    build = build_preview()
    assert build.status == Build.Status.READY, build.error
    # The builder's own page is not this room's; stand in for it with the one thing that matters here:
    # a page on the builder's origin whose iframe opens the entry URL.
    builder_url = f"http://127.0.0.1:{port}/frame/?" + urlencode({"src": access.preview_entry_url(build, owner)})
    # Playwright's sync API runs an event loop in this thread: no ORM calls from here on.
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
        page = browser.new_page()
        errors = []
        page.on("console", lambda message: message.type == "error" and errors.append(
            (message.text, message.location.get("url", ""))))

        page.goto(builder_url)
        preview = page.frame_locator("#preview")
        expect(preview.locator("h1", has_text="Chores")).to_be_visible(timeout=10_000)
        preview.locator("input[placeholder=Task]").fill("Buy oat milk")
        preview.get_by_role("button", name="Add").click()
        expect(preview.locator("li", has_text="Buy oat milk")).to_be_visible(timeout=5_000)
        page.screenshot(path=tmp_path / "preview-in-builder.png")

        page.reload()
        expect(page.frame_locator("#preview").locator("li", has_text="Buy oat milk")).to_be_visible(timeout=10_000)
        browser.close()
    # Chromium asks every page for /favicon.ico; neither page has one, and that is no error of the app.
    assert [error for error in errors if not error[1].endswith("/favicon.ico")] == []
