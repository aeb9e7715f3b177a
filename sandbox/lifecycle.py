"""Preview lifecycle after a build: which previews keep running, and the safety nets that stop, restart
and sweep them. Every function here takes builds and returns what it did; none publishes a frame (the
turn pipeline in builder tells the browser) and none enqueues the build task (the pipeline does).

Folders (all under SANDBOX_DIR):

    builds/<build id>/src   the AppVersion's files (mounted read-only into the build step)
    builds/<build id>/out   the build step's output (copied into the preview's slot, plain files only)
    slots/<slot>/           the preview's one mount: app.sock, app/, data/ (see sandbox.slots)
    pool/<slot>/            warm-pool slots waiting for an app (see sandbox.pool)
    data/<project id>       the project's SQLite folder while no preview holds it
    shots/<build id>.png    the smoke test's screenshot
"""

import datetime
import logging
import shutil
import time
from pathlib import Path

import docker.errors
from django.conf import settings
from django.db.models import F
from django.utils import timezone

from config.leases import Lease
from sandbox import docker_driver, pool, slots
from sandbox.errors import (
    KILN_RESTARTED,
    PREVIEW_CRASHED,
    PREVIEW_EXPIRED,
    PREVIEW_GONE,
    PREVIEW_OVER_CAP,
    EngineUnavailable,
    SandboxError,
)
from sandbox.models import Build

logger = logging.getLogger(__name__)
data_dir = slots.data_dir


# A side preview: a build started only to look at an older version (the builder's History, "Preview this
# version"), marked by its stream key. It runs beside the project's current preview without replacing it:
# it never retires the current one, the watchdog's one-preview-per-project rule ignores it, and it gets a
# copy of the project's data (thrown away when it stops), so the current preview keeps its records.
SIDE_PREVIEW_STREAM = "kiln:side-preview:"


def is_side_preview(build: Build) -> bool:
    return build.stream_key.startswith(SIDE_PREVIEW_STREAM)


def build_dir(build_id: int) -> Path:
    return settings.SANDBOX_DIR / "builds" / str(build_id)


def socket_path(build: Build) -> Path:
    """The preview's socket (only meaningful while the build has a slot)."""
    return slots.socket_in(slots.slot_dir(build.slot or "none"))


def screenshot_path(build: Build) -> Path | None:
    """The smoke test's PNG of this build, if it has one (for the builder to serve to the owner)."""
    return settings.SANDBOX_DIR / build.screenshot if build.screenshot else None


def build_lease(build_id: int) -> Lease:
    return Lease("build", build_id)


def claimer_lost(build: Build) -> bool:
    """Whether the worker that claimed this build is gone: its lease (config.leases) ran out."""
    return build_lease(build.id).holder() is None


# --- stopping ----------------------------------------------------------------------------------------


def release(build: Build, *, project_gone: bool = False) -> None:
    """Remove whatever a build holds: containers, the slot (the project's data goes home first, unless
    the project was deleted: then it goes with the slot), folders."""
    docker_driver.remove_build_containers(build.id)
    if build.container_id:
        docker_driver.remove_container(build.container_id)
    if build.slot:
        folder = slots.slot_dir(build.slot)
        if not project_gone:  # a copy (a side preview's, a comparison's second candidate's) is dropped
            slots.return_project_data(build.app_version.project_id, folder)
        shutil.rmtree(folder, ignore_errors=True)
        slots.copy_marker(folder).unlink(missing_ok=True)
    shutil.rmtree(build_dir(build.id), ignore_errors=True)


def stop_preview(build: Build, *, reason: str = "") -> None:
    """Remove the build's container and folders, move the project's data home; mark it stopped
    (`reason`, if any, goes to Build.error for the proxy's page)."""
    release(build)
    if build.status not in (Build.Status.FAILED, Build.Status.STOPPED):
        build.status = Build.Status.STOPPED
        build.error = reason or build.error
        build.finished_at = build.finished_at or timezone.now()
        build.save(update_fields=["status", "finished_at", "error"])


def retire_older_previews(build: Build, *, keep: frozenset[int] = frozenset()) -> None:
    """One live preview per project: the newest ready build wins, except the builds in `keep` (the
    candidates of the turn on screen, shown side by side)."""
    project_id = build.app_version.project_id
    ready = Build.objects.filter(app_version__project_id=project_id, status=Build.Status.READY).exclude(id__in=keep)
    if is_side_preview(build):  # one side preview per project, beside the current one
        for older in ready.filter(stream_key__startswith=SIDE_PREVIEW_STREAM).exclude(id=build.id):
            stop_preview(older)
        return
    for older in ready.filter(id__lt=build.id):
        stop_preview(older)
    newer = ready.filter(id__gt=build.id).exclude(stream_key__startswith=SIDE_PREVIEW_STREAM)
    if build.id not in keep and newer.exists():  # a newer build finished first
        stop_preview(build)


def enforce_user_cap(build: Build, *, keep: frozenset[int] = frozenset()) -> None:
    """Stop the owner's oldest running previews beyond PREVIEW_MAX_PER_USER. This build and those in
    `keep` (the turn on screen) are never stopped to make room: the cap may be exceeded by them."""
    cap = settings.PREVIEW_MAX_PER_USER
    owner_id = build.app_version.project.owner_id
    protected = {build.id, *keep}
    running = Build.objects.filter(app_version__project__owner_id=owner_id, status=Build.Status.READY)
    room_left = max(cap - running.filter(id__in=protected).count(), 0)
    over = running.exclude(id__in=protected).order_by("-finished_at", "-id")[room_left:]
    for older in over:
        stop_preview(older, reason=PREVIEW_OVER_CAP.format(cap=cap))


def delete_project_data(*, project_id: int, builds: list[Build] | None = None) -> dict:
    """Everything a deleted project left in the sandbox goes at once: every container labelled with
    the project (previews and build steps still running), its builds' containers and folders, and its
    stored records. Called after the rows are deleted (`builds` read before), so a build worker whose
    container vanishes under it finds its row gone and stops quietly (builds.BuildGone)."""
    done = {"containers": 0, "folders": 0}
    if builds is None:
        builds = list(Build.objects.filter(app_version__project_id=project_id))
    for container in docker_driver.instance_containers(project=str(project_id)):
        docker_driver.remove_container(container.id)
        done["containers"] += 1
    for build in builds:
        if build.container_id:  # a warm-pool container carries no project label
            docker_driver.remove_container(build.container_id)
            done["containers"] += 1
        for folder in (slots.slot_dir(build.slot) if build.slot else None, build_dir(build.id)):
            if folder is not None and folder.exists():
                shutil.rmtree(folder, ignore_errors=True)
                done["folders"] += 1
    shutil.rmtree(data_dir(project_id), ignore_errors=True)
    return done


# --- safety nets -------------------------------------------------------------------------------------


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


def builds_to_requeue() -> list[int]:
    """Builds whose worker died (lease gone) or whose queued message was lost, for the pipeline's
    watchdog to enqueue again (their claim makes a duplicate harmless)."""
    stale = timezone.now() - datetime.timedelta(seconds=settings.BUILD_STALE_S)
    ids = [b.id for b in Build.objects.filter(status=Build.Status.BUILDING) if claimer_lost(b)]
    ids += list(Build.objects.filter(status=Build.Status.QUEUED, created_at__lt=stale).values_list("id", flat=True))
    if settings.SMOKE_TEST:
        pending = Build.objects.filter(status=Build.Status.READY, smoke_status=Build.Smoke.PENDING).exclude(worker="")
        ids += [b.id for b in pending if claimer_lost(b)]
    return ids


def watchdog() -> dict:
    """The periodic safety net for previews: one live preview per project, dead or hung previews
    restarted (bounded), the warm pool refilled. Returns what it did."""
    done = {"revived": 0, "stopped": 0, "pool_started": 0}
    newest = {}
    for build in _live_builds().exclude(stream_key__startswith=SIDE_PREVIEW_STREAM).order_by("-id"):
        if build.app_version.project_id in newest and not _same_turn(build.id, newest[build.app_version.project_id]):
            stop_preview(build)
            done["stopped"] += 1
        else:
            newest.setdefault(build.app_version.project_id, build.id)
    try:
        for build in _live_builds():
            outcome = revive_preview(build)
            if outcome != "running":
                done["revived" if outcome == "restarted" else "stopped"] += 1
        done["pool_started"] = pool.fill()
    except EngineUnavailable:
        pass  # nothing to restart on; the next round tries again
    except docker.errors.APIError:  # a container removed under us, say: the next round tries again
        logger.exception("preview watchdog")
    return done


def _same_turn(build_id: int, other_id: int) -> bool:
    """Two candidates of one turn (compared side by side) may both be live."""
    turns = set(
        Build.objects.filter(id__in=(build_id, other_id)).values_list("app_version__generations__turn_id", flat=True)
    )
    return len(turns) == 1 and None not in turns


def sweep(*, fail_build) -> dict:
    """Startup sweep (manage.py sweep_previews, run by ./kiln start before the workers, and on its
    Ctrl-C): no orphan survives a restart of Kiln. Removes every container of this KILN_INSTANCE that
    is not a live preview, stops live builds whose container is gone, fails builds left "building" by
    a dead worker (with `fail_build(build, error)`), and deletes folders nobody uses."""
    done = {"containers_removed": 0, "builds_failed": 0, "builds_stopped": 0, "folders_removed": 0}
    for build in Build.objects.filter(status=Build.Status.BUILDING).select_related("app_version"):
        if claimer_lost(build):
            fail_build(build, SandboxError(KILN_RESTARTED))
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
