"""The preview proxy: every request to p-<token>.<PREVIEW_BASE_DOMAIN> lands here.

It admits only the project's owner (and staff), via the ticket handshake in sandbox.previews, and
forwards to the preview's app server over its Unix socket. Every answer, including the error pages,
carries a strict CSP whose frame-ancestors names the builder, so only the builder can frame it.
"""

import html
import posixpath
from urllib.parse import quote, unquote

import httpx
from asgiref.sync import sync_to_async
from django.conf import settings
from django.contrib.auth import get_user_model
from django.core import signing
from django.http import HttpResponse, HttpResponseRedirect
from django.views.decorators.clickjacking import xframe_options_exempt
from django.views.decorators.csrf import csrf_exempt

from sandbox import access, docker_driver, lifecycle, slots, tasks
from sandbox.errors import ENGINE_UNAVAILABLE, EngineUnavailable
from sandbox.models import Build

FORWARD_REQUEST_HEADERS = ("content-type", "accept", "accept-language", "if-none-match", "if-modified-since")
FORWARD_RESPONSE_HEADERS = ("content-type", "cache-control", "etag", "last-modified", "location")
UPSTREAM_TIMEOUT_S = 30

NOT_FOUND = "There is no preview at this address. It may have been replaced by a newer version."
ENGINE_DOWN = "Kiln cannot reach the engine that runs previews. It comes back by itself when the engine does."
RESTARTING = "The preview's server stopped; Kiln is restarting it (restart {n} of {max})…"
NOT_ANSWERING = "The preview's server is not answering. Rebuild the app to restart it."
NOT_ADMITTED = "Open this preview from the Kiln builder: only the project's owner may see it."
LINK_EXPIRED = "This preview link has expired. Open the preview again from the Kiln builder."
STATUS_PAGES = {
    Build.Status.QUEUED: ("Preview queued", "Waiting for a build worker…"),
    Build.Status.BUILDING: ("Building the preview", "Bundling the app and starting its server…"),
    Build.Status.STOPPED: ("Preview stopped", "This preview was stopped. A newer version may have replaced it."),
}


# Characters of a path forwarded as they are; everything else (%, ?, #, spaces, …) is percent-encoded,
# so the app server reads exactly the normalised path, whatever it decodes or not.
PATH_SAFE = "/-._~!$&'()*+,;=:@"


def normalised_path(path: str) -> str:
    """The path the app server will see for a request path, in the one spelling Kiln checks and forwards.

    Django hands us the path decoded once; a second encoding (%252f) is decoded too, backslashes count
    as slashes (browsers and WHATWG URL parsers read them so), runs of slashes become one (httpx reads
    "//x" as a host), and dot segments are resolved (httpx would resolve them after our check).
    """
    previous = None
    while previous != path:
        previous, path = path, unquote(path)
    path = path.replace("\\", "/")
    trailing = path.endswith("/") or path.endswith("/.") or path.endswith("/..")
    # normpath on an absolute path resolves "." and "..", never climbs above "/", and drops "//".
    path = posixpath.normpath("/" + path.lstrip("/"))
    path = "/" + path.lstrip("/")  # normpath keeps a leading "//"
    if trailing and path != "/":
        path += "/"
    return path


def reaches_kiln(path: str) -> bool:
    """Kiln's own paths on the app server (POST /__kiln/load) are never the browser's, in any case."""
    return "__kiln" in path.casefold()


def _harden(response: HttpResponse) -> HttpResponse:
    response["Content-Security-Policy"] = access.content_security_policy()
    response["X-Content-Type-Options"] = "nosniff"
    response["Referrer-Policy"] = "no-referrer"
    return response


def _page(status: int, title: str, message: str, *, refresh: bool = False) -> HttpResponse:
    # A tiny page in the iframe instead of a blank one; no inline script (the CSP forbids it).
    meta = '<meta http-equiv="refresh" content="1">' if refresh else ""
    body = (
        f'<!doctype html><html><head><meta charset="utf-8"><title>{html.escape(title)}</title>{meta}'
        "<style>body{font:15px system-ui,sans-serif;color:#333;margin:2rem}h1{font-size:1.1rem}"
        "pre{white-space:pre-wrap;background:#f6f6f6;padding:.75rem}</style></head>"
        f"<body><h1>{html.escape(title)}</h1><pre>{html.escape(message)}</pre></body></html>"
    )
    return _harden(HttpResponse(body, status=status, content_type="text/html; charset=utf-8"))


async def _enter(request, build: Build) -> HttpResponse:
    """Trade a builder-signed ticket for this preview host's own cookie."""
    try:
        build_id, user_id = access.read_ticket(request.GET.get("ticket", ""))
    except signing.SignatureExpired:
        return _page(403, "Link expired", LINK_EXPIRED)
    except (signing.BadSignature, ValueError):
        return _page(403, "Not allowed", NOT_ADMITTED)
    user = await get_user_model().objects.filter(pk=user_id, is_active=True).only("is_staff").afirst()
    if build_id != build.id or user is None or not access.may_open(build, user_id=user.pk, is_staff=user.is_staff):
        return _page(403, "Not allowed", NOT_ADMITTED)
    response = _harden(HttpResponseRedirect("/"))
    response["Set-Cookie"] = access.cookie_header(build, user.pk)
    response["Cache-Control"] = "no-store"
    return response


async def _forward(request, build: Build, path: str) -> HttpResponse:
    # `path` is normalised: no dot segments or "//" left for httpx to reinterpret after our check.
    url = quote(path, safe=PATH_SAFE)
    if request.META.get("QUERY_STRING"):
        url += "?" + request.META["QUERY_STRING"].replace("#", "%23")
    headers = {name: request.headers[name] for name in FORWARD_REQUEST_HEADERS if name in request.headers}
    folder = slots.slot_dir(build.slot)
    # The slot folder is sealed (sandbox.slots), so app.sock cannot become a symlink; checked anyway.
    if not slots.socket_is_real(folder):
        return await _server_down(build)
    transport = httpx.AsyncHTTPTransport(uds=str(slots.socket_in(folder)))
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://preview", timeout=UPSTREAM_TIMEOUT_S) as http:
            upstream = await http.request(request.method, url, headers=headers, content=request.body)
    except httpx.TransportError:
        return await _server_down(build)
    response = HttpResponse(upstream.content, status=upstream.status_code)
    for name in FORWARD_RESPONSE_HEADERS:
        if name in upstream.headers:
            response[name] = upstream.headers[name]
    return _harden(response)


def _diagnose(build: Build) -> tuple[str, int]:
    """Why a ready preview does not answer: ("engine", 0), ("restarting", n), ("stopped", 0), ("busy", 0)."""
    try:
        state = docker_driver.container_state(build.container_id)
    except EngineUnavailable:
        return "engine", 0
    if state["running"]:
        return "busy", 0
    if state["missing"] or build.restarts >= settings.PREVIEW_MAX_RESTARTS:
        lifecycle.revive_preview(build)  # stops it, with the reason on the Build
        return "stopped", 0
    tasks.revive_preview.delay(build.id)
    return "restarting", build.restarts + 1


async def _server_down(build: Build) -> HttpResponse:
    verdict, n = await sync_to_async(_diagnose)(build)
    if verdict == "engine":
        return _page(503, ENGINE_UNAVAILABLE, ENGINE_DOWN, refresh=True)
    if verdict == "restarting":
        return _page(503, "Restarting the preview", RESTARTING.format(n=n, max=settings.PREVIEW_MAX_RESTARTS),
                     refresh=True)
    if verdict == "stopped":
        await build.arefresh_from_db(fields=["status", "error"])
        return _page(503, "Preview stopped", build.error or STATUS_PAGES[Build.Status.STOPPED][1])
    return _page(502, "The preview is not answering", NOT_ANSWERING)


@csrf_exempt  # the preview's own API calls; no builder cookie ever reaches this host
@xframe_options_exempt  # framable by the builder only, through CSP frame-ancestors
async def preview_proxy(request, path: str) -> HttpResponse:
    build = await (
        Build.objects.select_related("app_version__project").filter(preview_token=request.preview_token).afirst()
    )
    if build is None:
        return _page(404, "Preview not found", NOT_FOUND)
    path = normalised_path("/" + path)
    if path == access.ENTER_PATH:
        return await _enter(request, build)
    if reaches_kiln(path):
        return _page(404, "Not found", NOT_FOUND)
    if not access.cookie_admits(build, request.COOKIES.get(access.COOKIE_NAME)):
        return _page(403, "Not allowed", NOT_ADMITTED)
    if build.status == Build.Status.FAILED:
        return _page(503, "The build failed", build.error or "The build failed.")
    if build.status == Build.Status.STOPPED:
        return _page(503, STATUS_PAGES[build.status][0], build.error or STATUS_PAGES[build.status][1])
    if build.status != Build.Status.READY:
        title, message = STATUS_PAGES[build.status]
        return _page(503, title, message, refresh=True)
    return await _forward(request, build, path)
