"""The warm pool: PREVIEW_POOL_SIZE idle app servers, so a new version goes live without a cold start.

A slot is started under SANDBOX_DIR/pool-starting/<slot>, sealed (sandbox.slots), then renamed to
SANDBOX_DIR/pool/<slot>: everything in pool/ is ready. A build claims one by renaming it to
slots/<slot> (atomic: of two builds racing for a slot, one rename wins, the other moves on). The
container was started for no one, so its labels name no owner, project or build; Build.container_id
and Build.slot say who holds it. Claimed slots are refilled by the `sandbox.fill_pool` task.
"""

import contextlib
import fcntl
import os
import secrets
import shutil
from pathlib import Path

from django.conf import settings

from sandbox import docker_driver, slots
from sandbox.image import ensure_runtime_image


def pool_root() -> Path:
    return settings.SANDBOX_DIR / "pool"


def starting_root() -> Path:
    return settings.SANDBOX_DIR / "pool-starting"


def new_slot_name() -> str:
    return secrets.token_hex(6)


def container_name(slot: str) -> str:
    return f"kiln-{settings.KILN_INSTANCE}-slot-{slot}"


def ready_slots() -> list[str]:
    root = pool_root()
    if not root.is_dir():
        return []
    entries = []
    for folder in root.iterdir():
        with contextlib.suppress(FileNotFoundError):  # claimed while we looked
            entries.append((folder.stat().st_mtime, folder.name))
    return [name for _, name in sorted(entries)]  # oldest first


def claim(image: str) -> tuple[str, str] | None:
    """Take a ready slot for image: (slot name, container id), its folder now slots/<slot>; or None."""
    slots.slots_root().mkdir(parents=True, exist_ok=True)
    for slot in ready_slots():
        try:
            os.rename(pool_root() / slot, slots.slot_dir(slot))
        except FileNotFoundError:
            continue  # another build took it first
        container = docker_driver.get_container(container_name(slot))
        if (container is not None and container.status == "running"
                and container.labels.get("kiln.image") == image and slots.socket_is_real(slots.slot_dir(slot))):
            return slot, container.id
        # Stopped, or started from an older runtime image: not worth keeping.
        if container is not None:
            docker_driver.remove_container(container.id)
        shutil.rmtree(slots.slot_dir(slot), ignore_errors=True)
    return None


@contextlib.contextmanager
def _fill_lock():
    settings.SANDBOX_DIR.mkdir(parents=True, exist_ok=True)
    with open(settings.SANDBOX_DIR / "pool.lock", "w") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            yield False  # another process is filling the pool
            return
        yield True


def fill(image: str | None = None) -> int:
    """Start slots until PREVIEW_POOL_SIZE are ready; returns how many were started."""
    size = settings.PREVIEW_POOL_SIZE
    if size <= 0:
        return 0
    with _fill_lock() as mine:
        if not mine:
            return 0
        image = image or ensure_runtime_image()
        started = 0
        pool_root().mkdir(parents=True, exist_ok=True)
        while len(ready_slots()) < size:
            slot = new_slot_name()
            folder = starting_root() / slot
            slots.open_slot(image=image, folder=folder, slot=slot, role="pool", ttl_s=2 * settings.PREVIEW_TTL_S)
            os.rename(folder, pool_root() / slot)
            started += 1
        return started


def drain() -> int:
    """Remove every idle slot (their containers and folders); returns how many."""
    removed = 0
    for root in (pool_root(), starting_root()):
        if not root.is_dir():
            continue
        for folder in root.iterdir():
            docker_driver.remove_container(container_name(folder.name))
            shutil.rmtree(folder, ignore_errors=True)
            removed += 1
    return removed
