"""The preview proxy: every request to p-<token>.<PREVIEW_BASE_DOMAIN> lands here.

It admits only the project's owner (and staff), via the ticket handshake in sandbox.previews, and
forwards to the preview's app server over its Unix socket. Every answer, including the error pages,
carries a strict CSP whose frame-ancestors names the builder, so only the builder can frame it.
"""

import html

import httpx
from django.conf import settings
from django.contrib.auth import get_user_model
from django.core import signing
from django.http import HttpResponse, HttpResponseRedirect
from django.views.decorators.clickjacking import xframe_options_exempt
from django.views.decorators.csrf import csrf_exempt

from sandbox import previews
from sandbox.errors import ENGINE_UNAVAILABLE
from sandbox.models import Build

FORWARD_REQUEST_HEADERS = ("content-type", "accept", "accept-language", "if-none-match", "if-modified-since")
FORWARD_RESPONSE_HEADERS = ("content-type", "cache-control", "etag", "last-modified", "location")
UPSTREAM_TIMEOUT_S = 30

NOT_FOUND = "There is no preview at this address. It may have been replaced by a newer version."
NOT_ADMITTED = "Open this preview from the Kiln builder: only the project's owner may see it."
LINK_EXPIRED = "This preview link has expired. Open the preview again from the Kiln builder."
STATUS_PAGES = {
    Build.Status.QUEUED: ("Preview queued", "Waiting for a build worker…"),
    Build.Status.BUILDING: ("Building the preview", "Bundling the app and starting its server…"),
    Build.Status.STOPPED: ("Preview stopped", "This preview was stopped. A newer version may have replaced it."),
}


def content_security_policy() -> str:
    port = settings.PREVIEW_PORT
    builders = " ".join(f"{settings.PREVIEW_SCHEME}://{host}:{port}" for host in settings.BUILDER_HOSTS)
    return (
        "default-src 'self'; connect-src 'self'; img-src 'self' data:; "
        "style-src 'self' 'unsafe-inline'; script-src 'self'; "
        f"frame-ancestors {builders}"
    )


def _harden(response: HttpResponse) -> HttpResponse:
    response["Content-Security-Policy"] = content_security_policy()
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
        build_id, user_id = previews.read_ticket(request.GET.get("ticket", ""))
    except signing.SignatureExpired:
        return _page(403, "Link expired", LINK_EXPIRED)
    except (signing.BadSignature, ValueError):
        return _page(403, "Not allowed", NOT_ADMITTED)
    user = await get_user_model().objects.filter(pk=user_id, is_active=True).only("is_staff").afirst()
    if build_id != build.id or user is None or not previews.may_open(build, user_id=user.pk, is_staff=user.is_staff):
        return _page(403, "Not allowed", NOT_ADMITTED)
    response = _harden(HttpResponseRedirect("/"))
    response["Set-Cookie"] = previews.cookie_header(build, user.pk)
    response["Cache-Control"] = "no-store"
    return response


async def _forward(request, build: Build, path: str) -> HttpResponse:
    url = "/" + path
    if request.META.get("QUERY_STRING"):
        url += "?" + request.META["QUERY_STRING"]
    headers = {name: request.headers[name] for name in FORWARD_REQUEST_HEADERS if name in request.headers}
    transport = httpx.AsyncHTTPTransport(uds=str(previews.socket_path(build.id)))
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://preview", timeout=UPSTREAM_TIMEOUT_S) as http:
            upstream = await http.request(request.method, url, headers=headers, content=request.body)
    except httpx.TransportError:
        return _page(502, ENGINE_UNAVAILABLE, "The preview's server is not answering. Rebuild the app to restart it.")
    response = HttpResponse(upstream.content, status=upstream.status_code)
    for name in FORWARD_RESPONSE_HEADERS:
        if name in upstream.headers:
            response[name] = upstream.headers[name]
    return _harden(response)


@csrf_exempt  # the preview's own API calls; no builder cookie ever reaches this host
@xframe_options_exempt  # framable by the builder only, through CSP frame-ancestors
async def preview_proxy(request, path: str) -> HttpResponse:
    build = await (
        Build.objects.select_related("app_version__project").filter(preview_token=request.preview_token).afirst()
    )
    if build is None:
        return _page(404, "Preview not found", NOT_FOUND)
    if "/" + path == previews.ENTER_PATH:
        return await _enter(request, build)
    if not previews.cookie_admits(build, request.COOKIES.get(previews.COOKIE_NAME)):
        return _page(403, "Not allowed", NOT_ADMITTED)
    if build.status == Build.Status.FAILED:
        return _page(503, "The build failed", build.error or "The build failed.")
    if build.status != Build.Status.READY:
        title, message = STATUS_PAGES[build.status]
        return _page(503, title, message, refresh=build.status != Build.Status.STOPPED)
    return await _forward(request, build, path)
