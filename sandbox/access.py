"""Who may open a preview, and from where: the preview's origin, the builder's signed ticket, the
preview host's own cookie, and the Content-Security-Policy every preview answer carries.

The preview is a different site from the builder, so the builder's session cookie never reaches it.
The builder hands the owner a short-lived signed ticket in the iframe's URL; the preview host trades
it for a cookie of its own. In a cross-site iframe Chromium keeps only a cookie that is
SameSite=None; Secure; Partitioned (CHIPS): see docs/sandbox.md for what was measured.
"""

import secrets
import string

from django.conf import settings
from django.core import signing

from sandbox.models import Build

TICKET_MAX_AGE_S = 300
TICKET_SALT = "kiln.preview.ticket"
COOKIE_SALT = "kiln.preview.cookie"
COOKIE_NAME = "kiln_preview"
ENTER_PATH = "/__kiln/enter"
_TOKEN_ALPHABET = string.ascii_lowercase + string.digits


def new_preview_token() -> str:
    """32 characters of a-z0-9 (about 165 bits): unguessable, and valid as a DNS label."""
    return "".join(secrets.choice(_TOKEN_ALPHABET) for _ in range(32))


def content_security_policy() -> str:
    port = settings.PREVIEW_PORT
    builders = " ".join(f"{settings.PREVIEW_SCHEME}://{host}:{port}" for host in settings.BUILDER_HOSTS)
    return (
        "default-src 'self'; connect-src 'self'; img-src 'self' data:; "
        "style-src 'self' 'unsafe-inline'; script-src 'self'; "
        f"frame-ancestors {builders}"
    )


def preview_origin(build: Build) -> str:
    port = settings.PREVIEW_PORT
    default_port = {"http": 80, "https": 443}.get(settings.PREVIEW_SCHEME)
    suffix = "" if port == default_port else f":{port}"
    return f"{settings.PREVIEW_SCHEME}://p-{build.preview_token}.{settings.PREVIEW_BASE_DOMAIN}{suffix}"


def preview_entry_url(build: Build, user) -> str:
    """The URL for the builder's iframe: the preview host's entry path with a ticket for this user."""
    ticket = signing.TimestampSigner(salt=TICKET_SALT).sign(f"{build.id}:{user.pk}")
    return f"{preview_origin(build)}{ENTER_PATH}?ticket={ticket}"


def read_ticket(ticket: str) -> tuple[int, int]:
    """(build_id, user_id) of a ticket; signing.BadSignature (SignatureExpired after 5 min) if forged."""
    value = signing.TimestampSigner(salt=TICKET_SALT).unsign(ticket, max_age=TICKET_MAX_AGE_S)
    build_id, user_id = value.split(":")
    return int(build_id), int(user_id)


def may_open(build: Build, *, user_id: int, is_staff: bool) -> bool:
    return is_staff or build.app_version.project.owner_id == user_id


def cookie_header(build: Build, user_id: int) -> str:
    """The Set-Cookie value that admits user_id to this build's preview host (host-only, HttpOnly)."""
    value = signing.TimestampSigner(salt=COOKIE_SALT).sign(f"{build.id}:{user_id}")
    # Written by hand: Django 5.2 / Python 3.11 cookies cannot say "Partitioned".
    return (f"{COOKIE_NAME}={value}; Max-Age={settings.PREVIEW_TTL_S}; Path=/; HttpOnly; Secure; "
            "SameSite=None; Partitioned")


def cookie_admits(build: Build, cookie: str | None) -> bool:
    if not cookie:
        return False
    try:
        value = signing.TimestampSigner(salt=COOKIE_SALT).unsign(cookie, max_age=settings.PREVIEW_TTL_S)
    except signing.BadSignature:
        return False
    return value.split(":")[0] == str(build.id)
