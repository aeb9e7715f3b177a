"""Preview lifecycle: queue a build, bundle it, run its preview, smoke-test it, admit its owner, stop it.

Folders (all under SANDBOX_DIR):

    builds/<build id>/src   the AppVersion's files (mounted read-only into the build step)
    builds/<build id>/out   the build step's output (copied into the preview's slot, plain files only)
    slots/<slot>/           the preview's one mount: app.sock, app/, data/ (see sandbox.slots)
    pool/<slot>/            warm-pool slots waiting for an app (see sandbox.pool)
    data/<project id>       the project's SQLite folder while no preview holds it
    shots/<build id>.png    the smoke test's screenshot
"""

import datetime
import json
import logging
import os
import re
import secrets
import shutil
import socket
import string
import time
import traceback
from pathlib import Path, PurePosixPath

from django.conf import settings
from django.core import signing
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from generation.streaming import append_event
from sandbox import docker_driver, pool, slots, smoke
from sandbox.errors import (
    BUILD_LOST,
    INVALID_APP,
    KILN_RESTARTED,
    PREVIEW_CRASHED,
    PREVIEW_EXPIRED,
    PREVIEW_GONE,
    PREVIEW_OVER_CAP,
    BuildFailed,
    BuildLost,
    EngineUnavailable,
    InvalidApp,
    SandboxError,
)
from sandbox.image import ensure_runtime_image
from sandbox.models import Build
from sandbox.signals import build_finished

logger = logging.getLogger(__name__)

TICKET_MAX_AGE_S = 300
TICKET_SALT = "kiln.preview.ticket"
COOKIE_SALT = "kiln.preview.cookie"
COOKIE_NAME = "kiln_preview"
ENTER_PATH = "/__kiln/enter"
INTERNAL_ERROR = "Kiln hit an internal error while building this preview."
_TOKEN_ALPHABET = string.ascii_lowercase + string.digits
WORKER_ID = f"{socket.gethostname()}:{{pid}}"

# Re-exported for callers and tests that knew them here.
data_dir = slots.data_dir


# --- folders -----------------------------------------------------------------------------------------


def build_dir(build_id: int) -> Path:
    return settings.SANDBOX_DIR / "builds" / str(build_id)


def socket_path(build: Build) -> Path:
    """The preview's socket (only meaningful while the build has a slot)."""
    return slots.socket_in(slots.slot_dir(build.slot or "none"))


def screenshot_path(build: Build) -> Path | None:
    """The smoke test's PNG of this build, if it has one (for the builder to serve to the owner)."""
    return settings.SANDBOX_DIR / build.screenshot if build.screenshot else None


# --- events ------------------------------------------------------------------------------------------


def _publish(build: Build, *, step: str, message: str = "", final: bool = False, **extra) -> None:
    """`final` marks the build's last frame: the websocket stops following the stream after it.
    Exactly one frame per build is final, and it is the last: the pipeline's end (failed, ready
    without a smoke test, or the smoke result). Later changes (stopped, reaped) send no frame."""
    if final:
        for receiver, error in build_finished.send_robust(sender=Build, build=build):
            if error is not None:  # the final frame must go out whatever a receiver did
                logger.error("build_finished receiver %s failed", receiver, exc_info=error)
    if build.stream_key:
        append_event(
            build.stream_key,
            {"type": "build", "build": build.id, "status": build.status, "step": step, "message": message,
             **extra, "final": final},
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


_ESBUILD_ERROR = re.compile(r"\[ERROR\] (?P<message>.+?)\n\s*\n\s+(?P<where>\S+?:\d+:\d+):", re.DOTALL)


def summarise_build_errors(logs: str, *, exit_code: int) -> str:
    """esbuild's errors as 'file:line:column: message' lines (the part the user must act on)."""
    found = [f"{m['where']}: {m['message'].strip()}" for m in _ESBUILD_ERROR.finditer(logs)]
    if found:
        return "Build failed:\n" + "\n".join(found[:10])
    lines = [line for line in logs.strip().splitlines() if line.strip()]
    # Silence usually means the sandbox itself was stopped (memory or process limit).
    silent = f"the build step exited with code {exit_code} without a message (out of memory or processes?)"
    return "Build failed:\n" + "\n".join(lines[-10:] or [silent])


# --- claims: one worker builds a build; a dead worker's build is taken over ---------------------------


def _me() -> str:
    return WORKER_ID.format(pid=os.getpid())


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:  # a killed child its parent has not reaped yet is a zombie: dead for our purpose
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return False


def claimer_lost(build: Build, *, now=None) -> bool:
    """Whether the worker that claimed this build is gone: on this host, its process is dead (or it is
    this very process, whose earlier run ended without finishing); elsewhere, its heartbeat is older
    than BUILD_STALE_S."""
    host, _, pid = build.worker.rpartition(":")
    if host == socket.gethostname() and pid.isdigit():
        return int(pid) == os.getpid() or not _pid_alive(int(pid))
    now = now or timezone.now()
    return build.heartbeat_at is None or build.heartbeat_at < now - datetime.timedelta(seconds=settings.BUILD_STALE_S)


def _claim(build_id: int) -> str | None:
    """Compare-and-set claims. "build": queued -> building, or a building build whose worker died.
    "smoke": a ready build whose worker died before its smoke result. None: someone else has it."""
    now = timezone.now()
    me = {"worker": _me(), "heartbeat_at": now, "claims": F("claims") + 1}
    if Build.objects.filter(id=build_id, status=Build.Status.QUEUED).update(
        status=Build.Status.BUILDING, started_at=now, **me
    ):
        return "build"
    seen = Build.objects.filter(id=build_id).first()
    if seen is None or not seen.worker or not claimer_lost(seen):
        return None
    if seen.status == Build.Status.BUILDING:
        mode = "build"
    elif seen.status == Build.Status.READY and settings.SMOKE_TEST and seen.smoke_passed is None:
        mode = "smoke"
    else:
        return None
    taken = Build.objects.filter(id=build_id, status=seen.status, worker=seen.worker, claims=seen.claims).update(**me)
    return mode if taken else None


def _heartbeat(build: Build) -> None:
    build.heartbeat_at = timezone.now()
    Build.objects.filter(id=build.id).update(heartbeat_at=build.heartbeat_at)


def _release(build: Build) -> None:
    """Remove whatever an earlier attempt (or this one) left: containers, the slot (data goes home), folders."""
    docker_driver.remove_build_containers(build.id)
    if build.container_id:
        docker_driver.remove_container(build.container_id)
    if build.slot:
        folder = slots.slot_dir(build.slot)
        slots.return_project_data(build.app_version.project_id, folder)
        shutil.rmtree(folder, ignore_errors=True)
    shutil.rmtree(build_dir(build.id), ignore_errors=True)


def _fail(build: Build, error: SandboxError) -> None:
    try:
        _release(build)
    except EngineUnavailable:
        pass  # the engine is gone: its containers with it; the sweep at the next start tidies up
    build.status = Build.Status.FAILED
    build.error = str(error)
    build.failed_step = error.step
    if error.step != "bundle" and build.build_passed is None and error.step in ("invalid", "image"):
        build.build_passed = False
    if error.step == "bundle":
        build.build_passed = False
    build.scores = {**build.scores, "build_passed": build.build_passed}
    build.log = "\n".join(part for part in (build.log, error.log) if part)[-200_000:]
    build.finished_at = timezone.now()
    build.save(update_fields=["status", "error", "failed_step", "build_passed", "scores", "log", "finished_at",
                              "timings", "runtime", "container_id", "slot", "warm"])
    _publish(build, step="failed", message=build.error, final=True, failed_step=build.failed_step)


def build_and_preview(build_id: int) -> Build | None:
    """Bundle the build's AppVersion, start its preview, smoke-test it; leave it ready or failed.

    Claims the build with a compare-and-set, so a second run (a retried or duplicated task) does
    nothing and returns None; a build whose worker died is taken over (BUILD_MAX_CLAIMS times at most,
    then it fails). When the preview is ready, older previews of the project are stopped, and the
    owner's oldest previews beyond PREVIEW_MAX_PER_USER.
    """
    mode = _claim(build_id)
    if mode is None:
        return None
    build = Build.objects.select_related("app_version__project").get(id=build_id)
    if mode == "smoke":
        _smoke(build)
        return build
    if build.claims > 1:  # an earlier worker died mid-build: start again from a clean slate
        try:
            _release(build)
        except EngineUnavailable as error:
            _fail(build, error)
            return build
        build.slot, build.container_id, build.warm, build.timings = "", "", False, {}
    if build.claims > settings.BUILD_MAX_CLAIMS:
        _fail(build, BuildLost(BUILD_LOST.format(claims=build.claims - 1)))
        return build
    try:
        _build_and_start(build)
    except SandboxError as error:
        _fail(build, error)
        return build
    except Exception:
        # Not the user's fault: record it so the page shows something, then let Celery log it.
        _fail(build, SandboxError(INTERNAL_ERROR, log=traceback.format_exc()))
        raise
    _publish(build, step="ready", message=f"Preview ready in {build.timings['total_ms'] / 1000:.1f} s",
             final=not settings.SMOKE_TEST, warm=build.warm)
    _retire_older_previews(build)
    _enforce_user_cap(build)
    if settings.SMOKE_TEST:
        _smoke(build)
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
        _heartbeat(build)

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
    out_dir = slots.writable_by_sandbox(root / "out")
    lap("write")

    _publish(build, step="bundling with esbuild")
    result = docker_driver.run_build(image=image, src_dir=root / "src", out_dir=out_dir, **labels)
    build.log = result.logs[-200_000:]
    lap("bundle")
    if result.exit_code != 0:
        raise BuildFailed(summarise_build_errors(result.logs, exit_code=result.exit_code))
    build.build_passed = True

    _publish(build, step="starting the preview")
    claimed = pool.claim(image) if settings.PREVIEW_POOL_SIZE > 0 else None
    if claimed:
        build.slot, build.container_id = claimed
        build.warm = True
    else:
        build.slot = pool.new_slot_name()
        # Saved before the container exists: a worker killed from here on leaves a slot its
        # successor (or the sweep) knows about.
        Build.objects.filter(id=build.id).update(slot=build.slot)
        container = slots.open_slot(image=image, folder=slots.slot_dir(build.slot), slot=build.slot,
                                    role="preview", ttl_s=settings.PREVIEW_TTL_S, **labels)
        build.container_id = container.id
    build.save(update_fields=["slot", "container_id", "warm", "runtime", "build_passed", "log", "timings"])
    if claimed:
        _refill_pool()
    lap("start")

    _publish(build, step="loading the app")
    folder = slots.slot_dir(build.slot)
    slots.install_app(folder, out_dir)
    holders = list(
        Build.objects.filter(app_version__project_id=project.id).exclude(slot="").exclude(id=build.id)
        .order_by("-id").values_list("slot", flat=True)
    )
    slots.take_project_data(project.id, folder, holders=holders)
    slots.load(folder, build.container_id)
    shutil.rmtree(root, ignore_errors=True)  # sources and output are in the AppVersion and the slot
    lap("load")

    build.timings["total_ms"] = round((time.perf_counter() - started) * 1000)
    build.status = Build.Status.READY
    build.finished_at = timezone.now()
    build.scores = {**build.scores, "build_passed": True}
    build.save(update_fields=["status", "finished_at", "timings", "scores"])


def _refill_pool() -> None:
    from sandbox import tasks

    tasks.fill_pool.delay()


def _smoke(build: Build) -> None:
    """Run the smoke test on a ready preview, store its scores, publish the build's final frame."""
    _heartbeat(build)
    build.refresh_from_db(fields=["status", "slot", "container_id"])
    if build.status != Build.Status.READY:  # replaced or stopped while we got here
        scores = {"passed": None, "message": "Smoke test skipped: the preview was stopped."}
    else:
        shot = Path("shots") / f"{build.id}.png"
        scores = smoke.run(
            socket_path=socket_path(build),
            app_json=smoke.app_json_of(slots.slot_dir(build.slot) / "app"),
            screenshot=settings.SANDBOX_DIR / shot,
            csp=_csp(),
        )
        if (settings.SANDBOX_DIR / shot).exists():
            build.screenshot = str(shot)
    passed = scores.pop("passed")
    message = scores.pop("message")
    build.smoke_passed = passed
    build.smoke_message = message
    build.scores = {**build.scores, **scores, "build_passed": True, "smoke_passed": passed}
    build.timings["smoke_ms"] = scores.get("smoke_ms")
    # Saved field by field: a reaper or a newer build may have stopped the preview meanwhile.
    Build.objects.filter(id=build.id).update(smoke_passed=passed, smoke_message=message, scores=build.scores,
                                             screenshot=build.screenshot, timings=build.timings)
    build.refresh_from_db(fields=["status"])
    step = "smoke test passed" if passed else ("smoke test skipped" if passed is None else "smoke test failed")
    _publish(build, step=step, message=message, final=True, scores=build.scores)


def _csp() -> str:
    from sandbox.views import content_security_policy

    return content_security_policy()


def _retire_older_previews(build: Build) -> None:
    """One live preview per project: the newest ready build wins."""
    project_id = build.app_version.project_id
    ready = Build.objects.filter(app_version__project_id=project_id, status=Build.Status.READY)
    for older in ready.filter(id__lt=build.id):
        stop_preview(older)
    if ready.filter(id__gt=build.id).exists():  # a newer build finished first
        stop_preview(build)


def _enforce_user_cap(build: Build) -> None:
    """Stop the owner's oldest running previews beyond PREVIEW_MAX_PER_USER (this one is the newest)."""
    cap = settings.PREVIEW_MAX_PER_USER
    owner_id = build.app_version.project.owner_id
    running = Build.objects.filter(app_version__project__owner_id=owner_id, status=Build.Status.READY)
    over = running.exclude(id=build.id).order_by("-finished_at", "-id")[max(cap - 1, 0):]
    for older in over:
        stop_preview(older, reason=PREVIEW_OVER_CAP.format(cap=cap))


def stop_preview(build: Build, *, reason: str = "") -> None:
    """Remove the build's container and folders, move the project's data home; mark it stopped
    (`reason`, if any, goes to Build.error for the proxy's page). Sends no frame (see _publish)."""
    _release(build)
    if build.status not in (Build.Status.FAILED, Build.Status.STOPPED):
        build.status = Build.Status.STOPPED
        build.error = reason or build.error
        build.finished_at = build.finished_at or timezone.now()
        build.save(update_fields=["status", "finished_at", "error"])


def delete_project_data(*, project_id: int) -> None:
    """Stop the project's previews and delete its preview data (for when the project is deleted)."""
    for build in Build.objects.filter(app_version__project_id=project_id).exclude(slot=""):
        stop_preview(build)
    shutil.rmtree(data_dir(project_id), ignore_errors=True)


def _live_builds():
    return Build.objects.filter(status=Build.Status.READY).exclude(container_id="").select_related("app_version")


def reap_expired_previews(*, now: float | None = None) -> int:
    """Stop previews past their time-to-live (PREVIEW_TTL_S after they went live) and remove any other
    container of this instance whose kiln.expires_at has passed; return how many containers went."""
    now = time.time() if now is None else now
    cutoff = datetime.datetime.fromtimestamp(now - settings.PREVIEW_TTL_S, tz=datetime.UTC)
    reaped = 0
    for build in _live_builds().filter(finished_at__lte=cutoff):
        stop_preview(build, reason=PREVIEW_EXPIRED)
        reaped += 1
    live = set(_live_builds().values_list("container_id", flat=True))
    building = {str(b) for b in Build.objects.filter(status=Build.Status.BUILDING).values_list("id", flat=True)}
    for container in docker_driver.instance_containers():
        if container.id in live or container.labels.get("kiln.build") in building:
            continue
        if docker_driver.expired(container, now):
            docker_driver.remove_container(container.id)
            reaped += 1
    return reaped


def revive_preview(build: Build) -> str:
    """Restart a ready preview whose server died, PREVIEW_MAX_RESTARTS times at most (then stop it).
    Returns "running", "restarted" or "stopped"."""
    state = docker_driver.container_state(build.container_id)
    hung = False
    if state["running"]:
        if slots.answers(slots.slot_dir(build.slot)):
            return "running"
        hung = True  # running but not answering (its processes or memory used up): restart it
    if state["missing"]:
        stop_preview(build, reason=PREVIEW_GONE)
        return "stopped"
    if build.restarts >= settings.PREVIEW_MAX_RESTARTS:
        stop_preview(build, reason=PREVIEW_CRASHED.format(times=build.restarts + 1))
        return "stopped"
    if not Build.objects.filter(id=build.id, status=Build.Status.READY, restarts=build.restarts).update(
        restarts=F("restarts") + 1
    ):
        return "running"  # someone else is restarting it
    build.restarts += 1
    try:
        if hung:
            docker_driver.kill_container(build.container_id)
        slots.reopen(slots.slot_dir(build.slot), build.container_id)
    except SandboxError as error:
        stop_preview(build, reason=str(error))
        return "stopped"
    return "restarted"


def watchdog() -> dict:
    """The periodic safety net (Celery beat): re-enqueue builds whose worker died or whose message was
    lost, restart crashed previews, refill the warm pool. Returns what it did."""
    from sandbox import tasks

    done = {"requeued": 0, "revived": 0, "stopped": 0, "pool_started": 0}
    now = timezone.now()
    stale = now - datetime.timedelta(seconds=settings.BUILD_STALE_S)
    for build in Build.objects.filter(status=Build.Status.BUILDING):
        if claimer_lost(build, now=now):
            tasks.build_and_preview.delay(build.id)
            done["requeued"] += 1
    for build in Build.objects.filter(status=Build.Status.QUEUED, created_at__lt=stale):
        tasks.build_and_preview.delay(build.id)
        done["requeued"] += 1
    if settings.SMOKE_TEST:
        for build in Build.objects.filter(status=Build.Status.READY, smoke_passed__isnull=True).exclude(worker=""):
            if not build.smoke_message and claimer_lost(build, now=now):
                tasks.build_and_preview.delay(build.id)
                done["requeued"] += 1
    # One live preview per project, even when a worker died between "ready" and retiring the older one.
    newest = {}
    for build in _live_builds().order_by("-id"):
        if build.app_version.project_id in newest:
            stop_preview(build)
            done["stopped"] += 1
        else:
            newest[build.app_version.project_id] = build.id
    try:
        for build in _live_builds():
            outcome = revive_preview(build)  # a dead or hung preview is restarted (bounded)
            if outcome != "running":
                done["revived" if outcome == "restarted" else "stopped"] += 1
        done["pool_started"] = pool.fill()
    except EngineUnavailable:
        pass  # nothing to restart on; the next round tries again
    return done


def sweep() -> dict:
    """Startup sweep (manage.py sweep_previews, run by ./kiln start before the workers): no orphan
    survives a restart of Kiln. Removes every container of this KILN_INSTANCE that is not a live
    preview (build steps, idle pool slots, previews of stopped builds), stops live builds whose
    container is gone or dead, fails builds left "building" by a dead worker, and deletes folders
    nobody uses (a slot's data goes home first). Returns counts."""
    done = {"containers_removed": 0, "builds_failed": 0, "builds_stopped": 0, "folders_removed": 0}
    for build in Build.objects.filter(status=Build.Status.BUILDING).select_related("app_version"):
        if claimer_lost(build):
            _fail(build, SandboxError(KILN_RESTARTED))
            done["builds_failed"] += 1
    running = {c.id for c in docker_driver.instance_containers() if c.status == "running"}
    for build in _live_builds():
        if build.container_id not in running:
            stop_preview(build, reason=PREVIEW_GONE)
            done["builds_stopped"] += 1
    live = {b.container_id: b.slot for b in _live_builds()}
    building = Build.objects.filter(status=Build.Status.BUILDING)
    busy_ids = {str(i) for i in building.values_list("id", flat=True)}
    busy_slots = set(live.values()) | set(building.exclude(slot="").values_list("slot", flat=True))
    for container in docker_driver.instance_containers():
        if container.id not in live and container.labels.get("kiln.build") not in busy_ids:
            docker_driver.remove_container(container.id)
            done["containers_removed"] += 1
    done["folders_removed"] += pool.drain()
    root = slots.slots_root()
    for folder in root.iterdir() if root.is_dir() else []:
        if folder.name in busy_slots:
            continue
        owner = Build.objects.filter(slot=folder.name).values_list("app_version__project_id", flat=True).first()
        if owner is not None:
            slots.return_project_data(owner, folder)
        shutil.rmtree(folder, ignore_errors=True)
        done["folders_removed"] += 1
    builds = settings.SANDBOX_DIR / "builds"
    for folder in builds.iterdir() if builds.is_dir() else []:
        if folder.name not in busy_ids:
            shutil.rmtree(folder, ignore_errors=True)
            done["folders_removed"] += 1
    return done


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
