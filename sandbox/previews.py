"""Preview lifecycle: queue a build, bundle it, run its preview, admit its owner, stop it.

Folders (all under SANDBOX_DIR):

    builds/<build id>/src   the AppVersion's files (mounted read-only into the build step)
    builds/<build id>/out   the built app (written by the build step, mounted read-only into the preview)
    builds/<build id>/run   the preview's Unix socket app.sock (the proxy's only way in)
    data/<project id>       the project's SQLite file: survives reloads, restarts and new versions
"""

import json
import os
import re
import secrets
import shutil
import string
import time
import traceback
from pathlib import Path, PurePosixPath

import httpx
from django.conf import settings
from django.core import signing
from django.db import transaction
from django.utils import timezone

from generation.streaming import append_event
from sandbox import docker_driver
from sandbox.errors import (
    INVALID_APP,
    PREVIEW_UNHEALTHY,
    BuildFailed,
    InvalidApp,
    PreviewFailed,
    SandboxError,
)
from sandbox.image import ensure_runtime_image
from sandbox.models import Build


HEALTH_TIMEOUT_S = 15
TICKET_MAX_AGE_S = 300
TICKET_SALT = "kiln.preview.ticket"
COOKIE_SALT = "kiln.preview.cookie"
COOKIE_NAME = "kiln_preview"
ENTER_PATH = "/__kiln/enter"
INTERNAL_ERROR = "Kiln hit an internal error while building this preview."
_TOKEN_ALPHABET = string.ascii_lowercase + string.digits


# --- folders -----------------------------------------------------------------------------------------


def build_dir(build_id: int) -> Path:
    return settings.SANDBOX_DIR / "builds" / str(build_id)


def socket_path(build_id: int) -> Path:
    return build_dir(build_id) / "run" / "app.sock"


def data_dir(project_id: int) -> Path:
    return settings.SANDBOX_DIR / "data" / str(project_id)


def _writable_by_sandbox(path: Path) -> Path:
    """Create path and let the container's user (65534) write there, without opening it to others."""
    path.mkdir(parents=True, exist_ok=True)
    if os.geteuid() == 0:
        os.chown(path, docker_driver.SANDBOX_UID, docker_driver.SANDBOX_UID)
    else:
        # A non-root worker cannot chown; the folder's parent (SANDBOX_DIR) is the worker's own.
        path.chmod(0o777)
    return path


# --- events ------------------------------------------------------------------------------------------


def _publish(build: Build, *, step: str, message: str = "", final: bool = False) -> None:
    """`final` marks the build's last frame: the websocket stops following the stream after it."""
    if build.stream_key:
        append_event(
            build.stream_key,
            {"type": "build", "build": build.id, "status": build.status, "step": step, "message": message,
             "final": final},
        )


# --- services ----------------------------------------------------------------------------------------


def new_preview_token() -> str:
    """32 characters of a-z0-9 (about 165 bits): unguessable, and valid as a DNS label."""
    return "".join(secrets.choice(_TOKEN_ALPHABET) for _ in range(32))


def request_build(*, app_version, stream_key: str) -> Build:
    """Create a queued Build for app_version and enqueue its task once the transaction commits."""
    from sandbox import tasks  # tasks imports this module

    build = Build.objects.create(app_version=app_version, stream_key=stream_key, preview_token=new_preview_token())
    _publish(build, step="queued", message="Waiting for a build worker")
    transaction.on_commit(lambda: tasks.build_and_preview.delay(build.id))
    return build


def _write_files(files: dict[str, str], root: Path) -> None:
    for name, content in files.items():
        rel = PurePosixPath(name)
        if rel.is_absolute() or ".." in rel.parts or "\\" in name or "\x00" in name or not rel.parts:
            raise InvalidApp(INVALID_APP.format(reason=f"unsafe file path {name!r}"))
        target = root.joinpath(*rel.parts)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(content, encoding="utf-8")


def _check_app(files: dict[str, str]) -> None:
    """The checks that need no container: the files the runtime needs, and an app.json it can read."""
    for required in ("app.json", "index.html", "src/main.jsx"):
        if required not in files:
            raise InvalidApp(INVALID_APP.format(reason=f"{required} is missing"))
    try:
        app = json.loads(files["app.json"])
    except ValueError as error:
        raise InvalidApp(INVALID_APP.format(reason=f"app.json:{error.lineno}: {error.msg}")) from error
    if not isinstance(app, dict) or not isinstance(app.get("entities", {}), dict):
        raise InvalidApp(INVALID_APP.format(reason='app.json must be an object with an "entities" object'))


_ESBUILD_ERROR = re.compile(r"\[ERROR\] (?P<message>.+?)\n\s*\n\s+(?P<where>\S+?:\d+:\d+):", re.S)


def summarise_build_errors(logs: str, *, exit_code: int) -> str:
    """esbuild's errors as 'file:line:column: message' lines (the part the user must act on)."""
    found = [f"{m['where']}: {m['message'].strip()}" for m in _ESBUILD_ERROR.finditer(logs)]
    if found:
        return "Build failed:\n" + "\n".join(found[:10])
    lines = [line for line in logs.strip().splitlines() if line.strip()]
    # Silence usually means the sandbox itself was stopped (memory or process limit).
    silent = f"the build step exited with code {exit_code} without a message (out of memory or processes?)"
    return "Build failed:\n" + "\n".join(lines[-10:] or [silent])


def _wait_healthy(build: Build) -> None:
    """Poll /healthz on the preview's socket until it answers 200; PreviewFailed when it never does."""
    sock = socket_path(build.id)
    deadline = time.monotonic() + HEALTH_TIMEOUT_S
    checks = 0
    with httpx.Client(transport=httpx.HTTPTransport(uds=str(sock)), base_url="http://preview", timeout=2) as http:
        while time.monotonic() < deadline:
            checks += 1
            if sock.exists():
                try:
                    if http.get("/healthz").status_code == 200:
                        return
                except httpx.TransportError:
                    pass  # the server is between bind() and accept(): try again shortly
            # A crashed server never binds: ask the engine now and then instead of waiting it out.
            if checks % 25 == 0 and not docker_driver.container_running(build.container_id):
                raise PreviewFailed(PREVIEW_UNHEALTHY.format(reason="the app server exited"),
                                    log=docker_driver.container_logs(build.container_id))
            time.sleep(0.01)
    raise PreviewFailed(PREVIEW_UNHEALTHY.format(reason=f"no answer within {HEALTH_TIMEOUT_S} s"),
                        log=docker_driver.container_logs(build.container_id))


def _fail(build: Build, error: SandboxError) -> None:
    if build.container_id:
        docker_driver.remove_container(build.container_id)
    # The log keeps what went wrong; the files are in the AppVersion, so the folder is dead weight.
    shutil.rmtree(build_dir(build.id), ignore_errors=True)
    build.status = Build.Status.FAILED
    build.error = str(error)
    build.log = "\n".join(part for part in (build.log, error.log) if part)
    build.finished_at = timezone.now()
    build.save(update_fields=["status", "error", "log", "finished_at", "timings", "runtime", "container_id"])
    _publish(build, step="failed", message=build.error, final=True)


def build_and_preview(build_id: int) -> Build | None:
    """Bundle the build's AppVersion and start its preview; leave it ready or failed, never building.

    Claims the build with a compare-and-set, so a second run (a retried or duplicated task) does
    nothing and returns None. When the preview is ready, older previews of the project are stopped.
    """
    claimed = Build.objects.filter(id=build_id, status=Build.Status.QUEUED).update(
        status=Build.Status.BUILDING, started_at=timezone.now()
    )
    if claimed != 1:
        return None
    build = Build.objects.select_related("app_version__project").get(id=build_id)
    try:
        _build_and_start(build)
    except SandboxError as error:
        _fail(build, error)
        return build
    except Exception:
        # Not the user's fault: record it so the page shows something, then let Celery log it.
        _fail(build, SandboxError(INTERNAL_ERROR, log=traceback.format_exc()))
        raise
    _retire_older_previews(build)
    return build


def _build_and_start(build: Build) -> None:
    project = build.app_version.project
    labels = {"build_id": build.id, "owner_id": project.owner_id, "project_id": project.id}
    started = time.perf_counter()
    mark = started

    def lap(name: str) -> None:
        nonlocal mark
        now = time.perf_counter()
        build.timings[f"{name}_ms"] = round((now - mark) * 1000)
        mark = now

    _publish(build, step="preparing the runtime")
    image = ensure_runtime_image()
    build.runtime = docker_driver.runtime_name()
    lap("image")

    _publish(build, step="writing files")
    files = build.app_version.files()
    _check_app(files)
    root = build_dir(build.id)
    shutil.rmtree(root, ignore_errors=True)  # a half-written folder from a crashed worker
    _write_files(files, root / "src")
    out_dir = _writable_by_sandbox(root / "out")
    lap("write")

    _publish(build, step="bundling with esbuild")
    result = docker_driver.run_build(image=image, src_dir=root / "src", out_dir=out_dir, **labels)
    build.log = result.logs
    lap("bundle")
    if result.exit_code != 0:
        raise BuildFailed(summarise_build_errors(result.logs, exit_code=result.exit_code))

    _publish(build, step="starting the preview")
    container = docker_driver.start_preview(
        image=image, app_dir=out_dir, run_dir=_writable_by_sandbox(root / "run"),
        data_dir=_writable_by_sandbox(data_dir(project.id)), **labels,
    )
    build.container_id = container.id
    lap("start")

    _publish(build, step="waiting for the app server")
    _wait_healthy(build)
    lap("health")

    build.timings["total_ms"] = round((time.perf_counter() - started) * 1000)
    build.status = Build.Status.READY
    build.finished_at = timezone.now()
    build.save(update_fields=["status", "finished_at", "timings", "runtime", "container_id", "log"])
    _publish(build, step="ready", message=f"Preview ready in {build.timings['total_ms'] / 1000:.1f} s", final=True)


def _retire_older_previews(build: Build) -> None:
    """One live preview per project: the newest ready build wins."""
    project_id = build.app_version.project_id
    ready = Build.objects.filter(app_version__project_id=project_id, status=Build.Status.READY)
    for older in ready.filter(id__lt=build.id):
        stop_preview(older)
    if ready.filter(id__gt=build.id).exists():  # a newer build finished first
        stop_preview(build)


def stop_preview(build: Build) -> None:
    """Remove the build's container and its folders (not the project's data); mark it stopped."""
    if build.container_id:
        docker_driver.remove_container(build.container_id)
    shutil.rmtree(build_dir(build.id), ignore_errors=True)
    if build.status not in (Build.Status.FAILED, Build.Status.STOPPED):
        build.status = Build.Status.STOPPED
        build.finished_at = build.finished_at or timezone.now()
        build.save(update_fields=["status", "finished_at"])
        _publish(build, step="stopped", message="This preview was stopped.")


def delete_project_data(*, project_id: int) -> None:
    """Stop the project's previews and delete its preview data (for when the project is deleted)."""
    for build in Build.objects.filter(app_version__project_id=project_id, status=Build.Status.READY):
        stop_preview(build)
    shutil.rmtree(data_dir(project_id), ignore_errors=True)


def reap_expired_previews(*, now: float | None = None) -> int:
    """Remove previews past their time-to-live and mark their builds stopped; return how many."""
    build_ids = [int(b) for b in docker_driver.reap_expired(now=now) if b.isdigit()]
    for build in Build.objects.filter(id__in=build_ids):
        stop_preview(build)
    return len(build_ids)


# --- who may open a preview ----------------------------------------------------------------------------
#
# The preview is a different site from the builder, so the builder's session cookie never reaches it.
# The builder hands the owner a short-lived signed ticket in the iframe's URL; the preview host trades
# it for a cookie of its own. In a cross-site iframe Chromium keeps only a cookie that is
# SameSite=None; Secure; Partitioned (CHIPS): see docs/sandbox.md for what was measured.


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
