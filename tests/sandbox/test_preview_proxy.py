"""Who may open a preview, and what the preview proxy answers."""

import pytest
from django.core import signing

from sandbox import access, builds, lifecycle
from sandbox.models import Build

pytestmark = pytest.mark.django_db


@pytest.fixture
def ready(build_preview):
    build = build_preview()
    assert build.status == Build.Status.READY, build.error
    return build


def test_unknown_token_is_a_404_page_that_says_so(preview_client):
    build = Build(preview_token="z" * 32)

    response = preview_client(build).get("/")

    assert response.status_code == 404
    assert b"no preview at this address" in response.content.lower()


def test_builder_pages_and_static_files_are_not_served_on_a_preview_host(preview_client):
    build = Build(preview_token="z" * 32)

    for path in ("/static/builder/kiln.css", "/admin/", "/accounts/login/"):
        response = preview_client(build).get(path)
        assert response.status_code == 404, path
        assert b"no preview at this address" in response.content.lower()


def test_it_refuses_a_request_without_the_cookie(ready, preview_client):
    response = preview_client(ready).get("/")

    assert response.status_code == 403
    assert b"Open this preview from the Kiln builder" in response.content


def test_it_refuses_a_ticket_for_another_users_preview(ready, stranger, preview_client):
    client = preview_client(ready)

    entered = client.enter(ready, stranger)

    assert entered.status_code == 403
    assert "Set-Cookie" not in entered.headers
    assert client.get("/").status_code == 403


def test_it_refuses_a_forged_ticket(ready, owner, preview_client):
    forged = signing.TimestampSigner(salt="not-kiln").sign(f"{ready.id}:{owner.id}")

    response = preview_client(ready).get(f"{access.ENTER_PATH}?ticket={forged}")

    assert response.status_code == 403


def test_a_ticket_for_one_preview_does_not_open_another(ready, build_preview, owner, preview_client):
    other = build_preview()  # same owner, but a different build (and host)
    ticket = access.preview_entry_url(ready, owner).split("ticket=", 1)[1]

    response = preview_client(other).get(f"{access.ENTER_PATH}?ticket={ticket}")

    assert response.status_code == 403


def test_owner_gets_through_with_a_cross_site_cookie(ready, owner, preview_client):
    client = preview_client(ready)

    entered = client.enter(ready, owner)
    page = client.get("/")

    assert entered.status_code == 302 and entered.headers["Location"] == "/"
    cookie = entered.headers["Set-Cookie"]
    for attribute in ("HttpOnly", "Secure", "SameSite=None", "Partitioned", "Path=/"):
        assert attribute in cookie
    assert "Domain=" not in cookie  # host-only: no other preview host receives it
    assert page.status_code == 200
    assert b'<div id="root"></div>' in page.content


def test_staff_gets_through(ready, staff, preview_client):
    client = preview_client(ready)

    assert client.enter(ready, staff).status_code == 302
    assert client.get("/").status_code == 200


def test_entry_url_points_at_the_preview_host(ready, owner, settings):
    url = access.preview_entry_url(ready, owner)

    assert url.startswith(f"http://p-{ready.preview_token}.localhost:{settings.PREVIEW_PORT}/__kiln/enter?ticket=")


def test_proxied_responses_carry_a_strict_csp(ready, owner, preview_client, settings):
    client = preview_client(ready)
    client.enter(ready, owner)

    for path in ("/", "/bundle.js", "/api/entities/Task"):
        response = client.get(path)
        assert response.status_code == 200
        assert response.headers["Content-Security-Policy"] == (
            "default-src 'self'; connect-src 'self'; img-src 'self' data:; "
            "style-src 'self' 'unsafe-inline'; script-src 'self'; "
            f"frame-ancestors http://127.0.0.1:{settings.PREVIEW_PORT} http://localhost:{settings.PREVIEW_PORT}"
        )
        assert response.headers["X-Content-Type-Options"] == "nosniff"
        assert "X-Frame-Options" not in response.headers
    assert client.get("/bundle.js").headers["Content-Type"].startswith("text/javascript")
    assert client.get("/bundle.css").content.strip() == b"h1{color:#a33}"


def test_a_build_in_progress_shows_a_page_not_a_blank(make_version, owner, preview_client,
                                                      django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=False):
        build = builds.create_build(app_version=make_version(), stream_key="")
    client = preview_client(build)
    client.enter(build, owner)

    response = client.get("/")

    assert response.status_code == 503
    assert b"Preview queued" in response.content
    assert "Content-Security-Policy" in response.headers


def test_a_stopped_preview_says_so(ready, owner, preview_client):
    client = preview_client(ready)
    client.enter(ready, owner)
    lifecycle.stop_preview(ready)

    response = client.get("/")

    assert response.status_code == 503
    assert b"Preview stopped" in response.content


def test_a_preview_whose_container_is_gone_says_so_and_is_stopped(ready, owner, preview_client):
    from sandbox import docker_driver

    client = preview_client(ready)
    client.enter(ready, owner)
    docker_driver.remove_container(ready.container_id)  # the engine lost it; the build still says ready

    response = client.get("/")

    assert response.status_code == 503
    assert b"container was gone" in response.content
    ready.refresh_from_db()
    assert ready.status == Build.Status.STOPPED


def test_kiln_paths_of_the_app_server_are_not_reachable_from_the_browser(ready, owner, preview_client):
    client = preview_client(ready)
    client.enter(ready, owner)

    assert client.post("/__kiln/load").status_code == 404


# Spellings of POST /__kiln/load that a check on Django's decoded path missed: httpx (or the browser)
# resolves the dot segments after the check, "//" reads as a host, and the app server takes any case.
KILN_LOAD_SPELLINGS = [
    "/x%2f..%2f__kiln/load",
    "/./__kiln/load",
    "/.%2f__kiln/load",
    "/x/%2e%2e/__kiln/load",
    "/x%252f..%252f__kiln/load",
    "/x\\..\\__kiln/load",
    "/%2f__kiln/load",  # "//__kiln/load" once decoded (the test client would read "//x" as a host)
    "/__KILN/load",
    "/%5f_kiln/load",
]


@pytest.mark.parametrize("path", KILN_LOAD_SPELLINGS)
def test_no_spelling_of_kilns_own_paths_reaches_the_app_server(path, ready, owner, preview_client):
    client = preview_client(ready)
    client.enter(ready, owner)

    response = client.post(path)

    assert response.status_code == 404, response.content[:200]
    assert b"no preview at this address" in response.content.lower()


def test_the_app_server_gets_the_path_as_it_was_checked(ready, owner, preview_client):
    client = preview_client(ready)
    client.enter(ready, owner)

    bundle = client.get("/x/../bundle.js")
    api = client.get("/api//entities/Task")

    assert bundle.status_code == 200 and bundle.headers["Content-Type"].startswith("text/javascript")
    assert api.status_code == 200 and api.json() == []


PROBE_JSX = """\
const paths = %s;
async function probe() {
  const lines = [];
  for (const path of paths) {
    const answer = await fetch(path, {method: "POST"});
    lines.push(`${path} ${answer.status}`);
  }
  const api = await fetch("/api/entities/Task");
  lines.push(`api ${api.status}`);
  const list = document.createElement("ul");
  list.id = "probe";
  for (const line of lines) {
    const item = document.createElement("li");
    item.textContent = line;
    list.append(item);
  }
  document.getElementById("root").append(list);
}
probe();
"""


@pytest.mark.urls("tests.sandbox.frame_urls")
@pytest.mark.django_db(transaction=True)
def test_the_previews_own_javascript_cannot_reach_kilns_paths(live_server, settings, build_preview, owner):
    import json
    from urllib.parse import urlencode

    from playwright.sync_api import expect, sync_playwright

    from tests.sandbox.conftest import TODO_APP
    from tests.sandbox.test_preview_in_browser import CHROMIUM_ARGS

    port = int(live_server.url.rsplit(":", 1)[1])
    settings.PREVIEW_PORT = port
    # What a hostile app would try from the browser (Chromium itself resolves "/./" and "/x/../").
    paths = ["/x%2f..%2f__kiln/load", "/.%2f__kiln/load", "/x/..%2f__kiln/load", "/__KILN/load",
             "/x%5c..%5c__kiln/load"]
    build = build_preview({**TODO_APP, "src/main.jsx": PROBE_JSX % json.dumps(paths)})
    assert build.status == Build.Status.READY, build.error
    builder_url = f"http://127.0.0.1:{port}/frame/?" + urlencode({"src": access.preview_entry_url(build, owner)})
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
        page = browser.new_page()
        page.goto(builder_url)
        probe = page.frame_locator("#preview").locator("#probe li")
        expect(probe).to_have_count(len(paths) + 1, timeout=15_000)
        lines = probe.all_inner_texts()
        browser.close()

    assert lines == [f"{path} 404" for path in paths] + ["api 200"]
