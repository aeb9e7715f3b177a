"""Builds: bundle an AppVersion in a locked-down container, start its preview, smoke-test it.

`build_and_preview` is the sandbox's whole service for one build. It reports each step through a
callback (the turn pipeline in builder turns them into frames; the sandbox publishes nothing) and
returns the Build, ready or failed, with its scores. Claimed with a status compare-and-set plus a
lease (config.leases), so a second run does nothing and a build whose worker died is taken over.
"""

import json
import logging
import re
import shutil
import time
import traceback
from collections.abc import Callable
from pathlib import Path, PurePosixPath

from django.conf import settings
from django.db.models import F
from django.utils import timezone

from config.leases import LeaseHeld, holder_name
from sandbox import docker_driver, lifecycle, pool, slots, smoke, tasks
from sandbox.access import content_security_policy, new_preview_token
from sandbox.errors import (
    BUILD_LOST,
    INVALID_APP,
    BuildFailed,
    BuildLost,
    EngineUnavailable,
    InvalidApp,
    SandboxError,
)
from sandbox.image import ensure_runtime_image
from sandbox.models import Build

logger = logging.getLogger(__name__)

INTERNAL_ERROR = "Kiln hit an internal error while building this preview."
SMOKE_STOPPED = "Smoke test not scored: the preview was stopped before it finished."
SMOKE_DISABLED = "Smoke test skipped (SMOKE_TEST is off)."

# report(step, message="", **extra): told as each step starts; the build row is current when called.
Report = Callable[..., None]


class BuildGone(Exception):
    """The build's row was deleted while it ran (its project was deleted): stop and leave nothing."""


def _silent(build: Build, step: str, message: str = "", **extra) -> None:
    pass


def create_build(*, app_version, stream_key: str = "", status: str = Build.Status.QUEUED) -> Build:
    """A Build for app_version, queued (or waiting, for fair use); the caller enqueues its task."""
    return Build.objects.create(app_version=app_version, stream_key=stream_key, status=status,
                                preview_token=new_preview_token())


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


def check_app(files: dict[str, str]) -> None:
    """Public form of the checks a build runs before it starts a container (raises InvalidApp with the
    user-facing reason), for code that scores an answer without building it (training.scoring)."""
    _check_app(files)


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


# --- claims ------------------------------------------------------------------------------------------


def _claim(build_id: int) -> str | None:
    """"build": queued -> building, or a building build whose worker died. "smoke": a ready build whose
    worker died before its smoke verdict. None: nothing to do. Raises LeaseHeld while another worker's
    lease has not run out (it may have just died: the task retries after it)."""
    lease = lifecycle.build_lease(build_id)
    if not lease.acquire():
        seen = Build.objects.filter(id=build_id).only("status").first()
        if seen is None or seen.status in (Build.Status.FAILED, Build.Status.STOPPED):
            return None
        raise LeaseHeld(lease.remaining_ms() / 1000 + 0.5)
    me = {"worker": holder_name(), "heartbeat_at": timezone.now(), "claims": F("claims") + 1}
    if Build.objects.filter(id=build_id, status=Build.Status.QUEUED).update(
        status=Build.Status.BUILDING, started_at=timezone.now(), **me
    ):
        return "build"
    seen = Build.objects.filter(id=build_id).first()
    mode = None
    if seen is not None and seen.status == Build.Status.BUILDING:
        mode = "build"
    elif seen is not None and seen.status == Build.Status.READY and seen.smoke_status == Build.Smoke.PENDING:
        mode = "smoke"
    if mode and Build.objects.filter(id=build_id, status=seen.status, claims=seen.claims).update(**me):
        return mode
    lease.release()
    return None


def _heartbeat(build: Build) -> None:
    build.heartbeat_at = timezone.now()
    if not Build.objects.filter(id=build.id).update(heartbeat_at=build.heartbeat_at):
        raise BuildGone(build.id)


def fail(build: Build, error: SandboxError, *, report: Report = _silent) -> None:
    """End the build as failed with the user-facing message of `error`, leaving nothing running."""
    try:
        lifecycle.release(build)
    except EngineUnavailable:
        pass  # the engine is gone: its containers with it; the sweep at the next start tidies up
    build.status = Build.Status.FAILED
    build.error = str(error)
    build.failed_step = error.step
    if error.step in ("bundle", "invalid", "image") and build.build_passed is None or error.step == "bundle":
        build.build_passed = False
    build.scores = {**build.scores, "build_passed": build.build_passed}
    build.log = "\n".join(part for part in (build.log, error.log) if part)[-200_000:]
    build.finished_at = timezone.now()
    fields = ("status", "error", "failed_step", "build_passed", "scores", "log", "finished_at", "timings", "runtime",
              "container_id", "slot", "warm")
    if not Build.objects.filter(id=build.id).update(**{name: getattr(build, name) for name in fields}):
        raise BuildGone(build.id)
    report(build, "failed", build.error, failed_step=build.failed_step)


def build_and_preview(build_id: int, *, report: Report = _silent, keep: frozenset[int] = frozenset(),
                      expected_terms: list[str] | None = None) -> Build | None:
    """Bundle the build's AppVersion, start its preview, smoke-test it; leave it ready or failed, with
    its smoke verdict (passed, failed, not scored or skipped). Returns None when there was nothing to
    do (another run has it, or it is over, or its project was deleted meanwhile).

    When the preview is ready, older previews of the project are stopped, and the owner's oldest
    previews beyond PREVIEW_MAX_PER_USER — never the builds in `keep` (the turn on screen).
    `expected_terms` (what the prompt asked for) makes the smoke test count how many the page shows."""
    mode = _claim(build_id)
    if mode is None:
        return None
    lease = lifecycle.build_lease(build_id)
    build = Build.objects.select_related("app_version__project").get(id=build_id)
    try:
        with lease.keep_alive():
            return _run(build, mode, report=report, keep=keep, expected_terms=expected_terms)
    except BuildGone:
        logger.info("build %s: its project was deleted while it ran; removing what it started", build_id)
        lifecycle.release(build, project_gone=True)
        return None
    finally:
        lease.release()


def _run(build: Build, mode: str, *, report: Report, keep: frozenset[int], expected_terms: list[str] | None) -> Build:
    if mode == "smoke":
        smoke_test(build, report=report, expected_terms=expected_terms)
        return build
    if build.claims > 1:  # an earlier worker died mid-build: start again from a clean slate
        try:
            lifecycle.release(build)
        except EngineUnavailable as error:
            fail(build, error, report=report)
            return build
        build.slot, build.container_id, build.warm, build.timings = "", "", False, {}
    if build.claims > settings.BUILD_MAX_CLAIMS:
        fail(build, BuildLost(BUILD_LOST.format(claims=build.claims - 1)), report=report)
        return build
    try:
        _build_and_start(build, report, keep)
    except BuildGone:
        raise
    except Exception as error:
        if not Build.objects.filter(id=build.id).exists():  # deleted under it: its containers went too
            raise BuildGone(build.id) from error
        if isinstance(error, SandboxError):
            fail(build, error, report=report)
            return build
        # Not the user's fault: record it so the page shows something, then let Celery log it.
        fail(build, SandboxError(INTERNAL_ERROR, log=traceback.format_exc()), report=report)
        raise
    lifecycle.retire_older_previews(build, keep=keep)
    lifecycle.enforce_user_cap(build, keep=keep)
    if not settings.SMOKE_TEST:
        _save_smoke(build, Build.Smoke.SKIPPED, None, SMOKE_DISABLED, {})
    report(build, "ready", f"Preview ready in {build.timings['total_ms'] / 1000:.1f} s", warm=build.warm)
    if settings.SMOKE_TEST:
        smoke_test(build, report=report, expected_terms=expected_terms)
    return build


def _build_and_start(build: Build, report: Report, keep: frozenset[int] = frozenset()) -> None:
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

    report(build, "preparing the runtime")
    image = ensure_runtime_image()
    build.runtime = docker_driver.runtime_name()
    lap("image")

    report(build, "writing files")
    files = build.app_version.files()
    _check_app(files)
    root = lifecycle.build_dir(build.id)
    shutil.rmtree(root, ignore_errors=True)  # a half-written folder from a crashed worker
    _write_files(files, root / "src")
    out_dir = slots.writable_by_sandbox(root / "out")
    lap("write")

    report(build, "bundling with esbuild")
    result = docker_driver.run_build(image=image, src_dir=root / "src", out_dir=out_dir, **labels)
    build.log = result.logs[-200_000:]
    lap("bundle")
    if result.exit_code != 0:
        raise BuildFailed(summarise_build_errors(result.logs, exit_code=result.exit_code))
    build.build_passed = True

    report(build, "starting the preview")
    claimed = pool.claim(image) if settings.PREVIEW_POOL_SIZE > 0 else None
    if claimed:
        build.slot, build.container_id = claimed
        build.warm = True
    else:
        build.slot = pool.new_slot_name()
        # Saved before the container exists: a worker killed from here on leaves a slot its
        # successor (or the sweep) knows about.
        if not Build.objects.filter(id=build.id).update(slot=build.slot):
            raise BuildGone(build.id)
        container = slots.open_slot(image=image, folder=slots.slot_dir(build.slot), slot=build.slot,
                                    role="preview", ttl_s=settings.PREVIEW_TTL_S, **labels)
        build.container_id = container.id
    fields = {name: getattr(build, name) for name in ("slot", "container_id", "warm", "runtime", "build_passed",
                                                      "log", "timings")}
    if not Build.objects.filter(id=build.id).update(**fields):
        raise BuildGone(build.id)
    if claimed:
        tasks.fill_pool.delay()
    lap("start")

    report(build, "loading the app")
    folder = slots.slot_dir(build.slot)
    slots.install_app(folder, out_dir)
    holders = list(
        Build.objects.filter(app_version__project_id=project.id).exclude(slot="").exclude(id=build.id)
        .exclude(stream_key__startswith=lifecycle.SIDE_PREVIEW_STREAM)  # they hold copies
        .order_by("-id").values_list("slot", flat=True)
    )
    if lifecycle.is_side_preview(build):
        slots.copy_project_data(project.id, folder, holders=holders)
    else:
        siblings = Build.objects.filter(id__in=keep).exclude(id=build.id).exclude(slot="")
        slots.take_project_data(project.id, folder, holders=holders,
                                siblings=frozenset(siblings.values_list("slot", flat=True)))
    slots.load(folder, build.container_id)
    shutil.rmtree(root, ignore_errors=True)  # sources and output are in the AppVersion and the slot
    lap("load")

    build.timings["total_ms"] = round((time.perf_counter() - started) * 1000)
    build.status = Build.Status.READY
    build.finished_at = timezone.now()
    build.scores = {**build.scores, "build_passed": True}
    if not Build.objects.filter(id=build.id).update(status=build.status, finished_at=build.finished_at,
                                                    timings=build.timings, scores=build.scores):
        raise BuildGone(build.id)


def smoke_test(build: Build, *, report: Report = _silent, expected_terms: list[str] | None = None) -> None:
    """Run the smoke test on a ready preview and store its verdict. A test that could not run (Chromium
    missing or crashed, the preview stopped under it) is "not scored" with the reason: never a failed
    app, never a repair, never a negative example."""
    _heartbeat(build)
    build.refresh_from_db(fields=["status", "slot", "container_id"])
    if build.status != Build.Status.READY:  # replaced or stopped while we got here
        _save_smoke(build, Build.Smoke.NOT_SCORED, None, SMOKE_STOPPED, {})
    else:
        report(build, "smoke testing")
        shot = Path("shots") / f"{build.id}.png"
        scores = smoke.run(
            socket_path=lifecycle.socket_path(build),
            app_json=smoke.app_json_of(slots.slot_dir(build.slot) / "app"),
            screenshot=settings.SANDBOX_DIR / shot,
            csp=content_security_policy(),
            expected_terms=expected_terms,
        )
        if (settings.SANDBOX_DIR / shot).exists():
            build.screenshot = str(shot)
        passed, message = scores.pop("passed"), scores.pop("message")
        build.refresh_from_db(fields=["status"])
        if build.status != Build.Status.READY:  # stopped during the test: what it saw says nothing
            verdict, passed, message = Build.Smoke.NOT_SCORED, None, SMOKE_STOPPED
        elif passed is None:
            verdict = Build.Smoke.NOT_SCORED
            logger.error("build %s: %s", build.id, message)  # infrastructure: loud, never a label
        else:
            verdict = Build.Smoke.PASSED if passed else Build.Smoke.FAILED
        _save_smoke(build, verdict, passed, message, scores)
    step = {Build.Smoke.PASSED: "smoke test passed", Build.Smoke.FAILED: "smoke test failed"}.get(
        build.smoke_status, "smoke test not scored")
    report(build, step, build.smoke_message, scores=build.scores)


def _save_smoke(build: Build, verdict: str, passed: bool | None, message: str, scores: dict) -> None:
    build.smoke_status = verdict
    build.smoke_passed = passed
    build.smoke_message = message
    build.scores = {**build.scores, **scores, "build_passed": True, "smoke_passed": passed, "smoke_status": verdict}
    if "smoke_ms" in scores:
        build.timings["smoke_ms"] = scores["smoke_ms"]
    # Saved field by field: a reaper or a newer build may have stopped the preview meanwhile.
    if not Build.objects.filter(id=build.id).update(
        smoke_status=verdict, smoke_passed=passed, smoke_message=message, scores=build.scores,
        screenshot=build.screenshot, timings=build.timings,
    ):
        raise BuildGone(build.id)
    build.refresh_from_db(fields=["status"])
