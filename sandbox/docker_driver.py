"""The one place Kiln talks to the Docker Engine: build containers, preview containers, the reaper.

Every container Kiln starts gets the same hardening (non-root, read-only root, no capabilities,
no-new-privileges, memory/CPU/pids limits, no network at all) and labels that say which Kiln
instance, user, project and build it belongs to, so a reaper (or a test run) removes only its own.
"""

import time
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import docker
import docker.errors
import docker.types
import requests.exceptions
from django.conf import settings

from sandbox.errors import BUILD_TIMED_OUT, PREVIEW_GONE, BuildFailed, EngineUnavailable, PreviewFailed

SANDBOX_UID = 65534  # "nobody": owns nothing in the image
# A preview's only mount: its slot folder, holding the socket (app.sock), the built app (app/,
# read-only for the container's user) and the project's data (data/). See docs/sandbox.md.
RUN_MOUNT = "/run/preview"
SRC_MOUNT = "/app"  # the app's sources, during the build step
OUT_MOUNT = "/out"  # where the build step writes the built app


@lru_cache(maxsize=1)
def client() -> docker.DockerClient:
    """A docker-py client that has answered a ping; EngineUnavailable when dockerd is not there."""
    try:
        engine = docker.from_env(timeout=30)
        engine.ping()
    except (docker.errors.DockerException, requests.exceptions.RequestException) as error:
        client.cache_clear()
        raise EngineUnavailable(str(error)) from error
    return engine


def engine_call(fn, *args, **kwargs):
    """Run one engine call, turning a vanished dockerd into EngineUnavailable (and a fresh client)."""
    try:
        return fn(*args, **kwargs)
    except requests.exceptions.ConnectionError as error:
        client.cache_clear()
        raise EngineUnavailable(str(error)) from error


@lru_cache(maxsize=1)
def runtime_name() -> str:
    """"runsc" (gVisor) when settings allow it and the engine has it registered; "runc" otherwise."""
    wanted = settings.SANDBOX_RUNTIME
    if wanted == "runc":
        return "runc"
    available = engine_call(client().info).get("Runtimes", {})
    if "runsc" in available:
        return "runsc"
    if wanted == "runsc":
        raise EngineUnavailable("SANDBOX_RUNTIME is runsc but the engine has no runsc runtime")
    return "runc"


# Under gVisor (ptrace platform) every sandboxed task is backed by host threads of the sandbox, and all
# of them count in the container's pids cgroup: measured here, the idle app server holds ~51 host pids,
# 20 concurrent requests ~65, 60 `sleep` processes ~550, and crossing pids.max kills the whole sandbox
# (exit 2, no log) instead of failing one fork(). So the same budget of app processes needs a larger
# host limit under runsc; the host stays protected either way.
GVISOR_PIDS_FACTOR = 8


def pids_limit() -> int:
    """The pids limit of Kiln's containers: PREVIEW_PIDS_LIMIT app tasks in the runtime in force."""
    factor = GVISOR_PIDS_FACTOR if runtime_name() == "runsc" else 1
    return settings.PREVIEW_PIDS_LIMIT * factor


def _labels(*, role: str, ttl_s: int, owner_id: int | None = None, project_id: int | None = None,
            build_id: int | None = None, **extra: str) -> dict[str, str]:
    """Labels of a Kiln container. A warm-pool slot has no owner, project or build yet (labels cannot
    change after the start): Build.container_id says which build holds it."""
    labels = {
        "kiln.instance": settings.KILN_INSTANCE,
        "kiln.role": role,
        "kiln.expires_at": str(int(time.time()) + ttl_s),
        **extra,
    }
    for name, value in (("owner", owner_id), ("project", project_id), ("build", build_id)):
        if value is not None:
            labels[f"kiln.{name}"] = str(value)
    return labels


def _hardened(**extra) -> dict:
    """The container profile shared by build and preview containers."""
    return {
        "user": f"{SANDBOX_UID}:{SANDBOX_UID}",
        "read_only": True,
        "tmpfs": {"/tmp": "size=16m"},
        "cap_drop": ["ALL"],
        "security_opt": ["no-new-privileges"],
        "mem_limit": settings.PREVIEW_MEMORY,
        "nano_cpus": settings.PREVIEW_NANO_CPUS,
        "pids_limit": pids_limit(),
        "network_mode": "none",
        # A flood of output must not fill the host's disk: the engine keeps 1 MiB of log per container.
        "log_config": docker.types.LogConfig(type="json-file", config={"max-size": "1m", "max-file": "1"}),
        "runtime": runtime_name(),
        "detach": True,
        **extra,
    }


def _bind(host: Path, target: str, mode: str) -> dict:
    return {str(host): {"bind": target, "mode": mode}}


@dataclass
class BuildResult:
    exit_code: int
    logs: str


def run_build(*, image: str, src_dir: Path, out_dir: Path, build_id: int, owner_id: int,
              project_id: int) -> BuildResult:
    """Bundle the app in src_dir (mounted read-only) into out_dir inside a throwaway container.

    Returns the exit code and combined output; the container is always removed. Raises BuildFailed
    when it runs past BUILD_TIMEOUT_S.
    """
    engine = client()
    container = engine_call(
        engine.containers.run,
        image,
        command=["/opt/kiln/build.sh"],
        volumes={**_bind(src_dir, SRC_MOUNT, "ro"), **_bind(out_dir, OUT_MOUNT, "rw")},
        labels=_labels(role="build", owner_id=owner_id, project_id=project_id, build_id=build_id,
                       ttl_s=settings.BUILD_TIMEOUT_S * 2),
        **_hardened(),
    )
    try:
        try:
            status = container.wait(timeout=settings.BUILD_TIMEOUT_S)
        except requests.exceptions.ReadTimeout as error:
            raise BuildFailed(BUILD_TIMED_OUT.format(seconds=settings.BUILD_TIMEOUT_S),
                              log=container.logs().decode(errors="replace")) from error
        logs = container.logs().decode(errors="replace")
        return BuildResult(exit_code=status["StatusCode"], logs=logs)
    finally:
        _remove(container)


def start_slot(*, image: str, slot_dir: Path, slot: str, role: str, ttl_s: int, owner_id: int | None = None,
               project_id: int | None = None, build_id: int | None = None):
    """Start an app server on slot_dir (mounted at /run/preview): it binds slot_dir/app.sock and waits
    for an app (POST /__kiln/load). role "preview" for a build's own (cold) start, "pool" for a warm slot."""
    return engine_call(
        client().containers.run,
        image,
        volumes=_bind(slot_dir, RUN_MOUNT, "rw"),
        labels=_labels(role=role, owner_id=owner_id, project_id=project_id, build_id=build_id, ttl_s=ttl_s,
                       **{"kiln.slot": slot, "kiln.image": image}),
        name=f"kiln-{settings.KILN_INSTANCE}-slot-{slot}",
        **_hardened(),
    )


def get_container(container_id: str):
    """The container, or None when the engine does not know it."""
    try:
        return engine_call(client().containers.get, container_id)
    except docker.errors.NotFound:
        return None


def container_state(container_id: str) -> dict:
    """{"running": bool, "exit_code": int | None, "oom_killed": bool}; a missing container is not running."""
    container = get_container(container_id)
    if container is None:
        return {"running": False, "exit_code": None, "oom_killed": False, "missing": True}
    state = container.attrs.get("State", {})
    return {"running": state.get("Running", False), "exit_code": state.get("ExitCode"),
            "oom_killed": state.get("OOMKilled", False), "missing": False}


def kill_container(container_id: str) -> None:
    """Stop a hung container at once (SIGKILL to its init ends every process in it)."""
    container = get_container(container_id)
    if container is not None and container.status == "running":
        engine_call(container.kill)
        engine_call(container.wait, timeout=30)


def start_again(container_id: str) -> None:
    """Start an exited container again, with the same profile and mounts. A container that vanished
    or is being removed meanwhile (a newer preview retired it) is a PreviewFailed, not a crash."""
    container = get_container(container_id)
    try:
        if container is None:
            raise docker.errors.NotFound(container_id)
        engine_call(container.start)
    except (docker.errors.NotFound, docker.errors.APIError) as error:
        if isinstance(error, docker.errors.APIError) and error.status_code not in (404, 409):
            raise
        raise PreviewFailed(PREVIEW_GONE, log=str(error)) from error


def container_logs(container_id: str) -> str:
    """The container's output (the last 64 KiB: a log flood must not flood Kiln's database)."""
    try:
        logs = engine_call(client().containers.get, container_id).logs(tail=400)
    except docker.errors.NotFound:
        return ""
    return logs[-65536:].decode(errors="replace")


def container_running(container_id: str) -> bool:
    try:
        container = engine_call(client().containers.get, container_id)
    except docker.errors.NotFound:
        return False
    return container.status == "running"


def _remove(container) -> None:
    try:
        engine_call(container.remove, force=True)
    except docker.errors.NotFound:
        pass  # already gone: that is the state we wanted
    except docker.errors.APIError as error:
        # Another worker (or the watchdog) is removing it right now: also the state we wanted.
        if error.status_code != 409 or "already in progress" not in str(error):
            raise


def remove_container(container_id: str) -> None:
    try:
        container = engine_call(client().containers.get, container_id)
    except docker.errors.NotFound:
        return
    _remove(container)


def instance_containers(**labels: str):
    """This KILN_INSTANCE's containers (running or not), optionally with more labels (role="pool")."""
    wanted = [f"kiln.instance={settings.KILN_INSTANCE}", *(f"kiln.{k}={v}" for k, v in labels.items())]
    # docker-py lists ids, then inspects each: one removed in between (another worker, the reaper)
    # would otherwise fail the whole call with NotFound.
    return engine_call(client().containers.list, all=True, filters={"label": wanted}, ignore_removed=True)



def remove_build_containers(build_id: int) -> int:
    """Remove the containers labelled with this build (a build step or cold preview of a dead worker)."""
    containers = instance_containers(build=str(build_id))
    for container in containers:
        _remove(container)
    return len(containers)


def expired(container, now: float) -> bool:
    expires_at = container.labels.get("kiln.expires_at", "")
    return expires_at.isdigit() and int(expires_at) <= now


def remove_all_for_instance() -> int:
    """Remove every container of this KILN_INSTANCE (test teardown); return how many."""
    containers = instance_containers()
    for container in containers:
        _remove(container)
    return len(containers)
