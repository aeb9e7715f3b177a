"""A preview's folder (its "slot") and the container serving it.

Every preview container has exactly one mount: SANDBOX_DIR/slots/<slot> at /run/preview, holding

    app.sock   the app server's Unix socket (the proxy's only way in)
    app/       the built app, copied in by Kiln: owned by Kiln, read-only for the container's user
    data/      the project's SQLite folder, moved in from SANDBOX_DIR/data/<project> (or from the
               project's previous preview) and moved back home when the preview stops

A container starts idle (no app) and binds its socket; then Kiln *locks* the slot folder (owned by
Kiln, 0755), so the container can no longer replace app.sock with a symlink to some other socket on
the host (dockerd's, another preview's) that the proxy would then talk to. Because the mounts are fixed
when a container starts, this one layout serves both a cold start and a warm-pool slot started long
before its app existed: the app and the data arrive as files, and POST /__kiln/load tells the server.
A slot folder can be renamed while its container runs (pool/<slot> -> slots/<slot>): the bind mount
and the socket follow the folder.
"""

import contextlib
import fcntl
import os
import shutil
import stat
import time
from pathlib import Path

import httpx
from django.conf import settings

from sandbox import docker_driver
from sandbox.errors import LINK_IN_OUTPUT, PREVIEW_UNHEALTHY, BuildFailed, PreviewFailed

START_TIMEOUT_S = 15


def slots_root() -> Path:
    return settings.SANDBOX_DIR / "slots"


def slot_dir(slot: str) -> Path:
    return slots_root() / slot


def data_dir(project_id: int) -> Path:
    return settings.SANDBOX_DIR / "data" / str(project_id)


def socket_in(folder: Path) -> Path:
    return folder / "app.sock"


def writable_by_sandbox(path: Path) -> Path:
    """Create path and let the container's user (65534) write there, without opening it to others."""
    path.mkdir(parents=True, exist_ok=True)
    if os.geteuid() == 0:
        os.chown(path, docker_driver.SANDBOX_UID, docker_driver.SANDBOX_UID)
    else:
        # A non-root worker cannot chown; the folder's parent (SANDBOX_DIR) is the worker's own.
        path.chmod(0o777)
    return path


def lock(path: Path) -> None:
    """Take write access to the folder itself away from the container (its entries stay as they are)."""
    if os.geteuid() == 0:
        os.chown(path, 0, 0)
    path.chmod(0o755)


def socket_is_real(folder: Path) -> bool:
    """app.sock is a socket, not a symlink or anything else the container could have put there."""
    try:
        return stat.S_ISSOCK(os.lstat(socket_in(folder)).st_mode)
    except FileNotFoundError:
        return False


def wait_answer(folder: Path, container_id: str, *, statuses=(200, 503), timeout: float = START_TIMEOUT_S) -> None:
    """Poll /healthz on the folder's socket until it answers one of statuses; PreviewFailed otherwise."""
    sock = socket_in(folder)
    deadline = time.monotonic() + timeout
    checks = 0
    with httpx.Client(transport=httpx.HTTPTransport(uds=str(sock)), base_url="http://preview", timeout=2) as http:
        while time.monotonic() < deadline:
            checks += 1
            if sock.exists():
                try:
                    if http.get("/healthz").status_code in statuses:
                        return
                except httpx.TransportError:
                    pass  # the server is between bind() and accept(): try again shortly
            # A crashed server never binds: ask the engine now and then instead of waiting it out.
            if checks % 25 == 0 and not docker_driver.container_state(container_id)["running"]:
                raise PreviewFailed(PREVIEW_UNHEALTHY.format(reason="the app server exited"),
                                    log=docker_driver.container_logs(container_id))
            time.sleep(0.01)
    raise PreviewFailed(PREVIEW_UNHEALTHY.format(reason=f"no answer within {timeout:g} s"),
                        log=docker_driver.container_logs(container_id))


def answers(folder: Path, timeout: float = 2) -> bool:
    """Whether the server on folder's socket answers /healthz with 200 within timeout."""
    if not socket_is_real(folder):
        return False
    transport = httpx.HTTPTransport(uds=str(socket_in(folder)))
    try:
        with httpx.Client(transport=transport, base_url="http://preview", timeout=timeout) as http:
            return http.get("/healthz").status_code == 200
    except httpx.TransportError:
        return False


def seal(folder: Path, container_id: str) -> None:
    """Lock the folder once the server has bound its socket, and check that the socket is real."""
    lock(folder)
    if not socket_is_real(folder):
        raise PreviewFailed(PREVIEW_UNHEALTHY.format(reason="app.sock is not a socket"))


def open_slot(*, image: str, folder: Path, slot: str, role: str, ttl_s: int, **labels):
    """Start an idle app server on folder and seal it; returns the container. Cleans up on failure."""
    shutil.rmtree(folder, ignore_errors=True)
    writable_by_sandbox(folder)
    container = docker_driver.start_slot(image=image, slot_dir=folder, slot=slot, role=role, ttl_s=ttl_s, **labels)
    try:
        wait_answer(folder, container.id)
        seal(folder, container.id)
    except BaseException:
        docker_driver.remove_container(container.id)
        shutil.rmtree(folder, ignore_errors=True)
        raise
    return container


def reopen(folder: Path, container_id: str) -> None:
    """Start an exited slot container again: unlock for the server's bind, wait, seal again."""
    writable_by_sandbox(folder)
    socket_in(folder).unlink(missing_ok=True)
    docker_driver.start_again(container_id)
    wait_answer(folder, container_id, statuses=(200,))
    seal(folder, container_id)


def install_app(folder: Path, out_dir: Path) -> None:
    """Copy the built app (plain files and folders only) into folder/app, read-only for the container.

    The build step ran untrusted input as the container's user and wrote out_dir: anything there that
    is not a plain file or folder (a symlink to /etc/shadow, a FIFO) is refused, never followed.
    """
    target = folder / "app"
    shutil.rmtree(target, ignore_errors=True)
    target.mkdir()
    for dirpath, dirnames, filenames in os.walk(out_dir):
        rel = Path(dirpath).relative_to(out_dir)
        for name in dirnames + filenames:
            mode = os.lstat(Path(dirpath) / name).st_mode
            if not (stat.S_ISREG(mode) or stat.S_ISDIR(mode)):
                raise BuildFailed(LINK_IN_OUTPUT.format(name=(rel / name).as_posix()))
        for name in dirnames:
            (target / rel / name).mkdir()
        for name in filenames:
            source = os.open(Path(dirpath) / name, os.O_RDONLY | os.O_NOFOLLOW)
            with os.fdopen(source, "rb") as src, open(target / rel / name, "wb") as dst:
                shutil.copyfileobj(src, dst)
    for dirpath, dirnames, filenames in os.walk(target):
        for name in filenames:
            os.chmod(Path(dirpath) / name, 0o644)
        os.chmod(dirpath, 0o755)


@contextlib.contextmanager
def _project_lock(project_id: int):
    locks = settings.SANDBOX_DIR / "locks"
    locks.mkdir(parents=True, exist_ok=True)
    with open(locks / f"data-{project_id}.lock", "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        yield


def take_project_data(project_id: int, folder: Path, *, holders: list[str], siblings: frozenset[str] = frozenset()
                      ) -> None:
    """Move the project's data into folder/data: from its home, or from the slot of the project's
    previous preview (holders: slot names, newest first); a new project gets an empty folder.

    Only ever one folder holds a project's data, and only that project's previews mount it. When it
    sits in a sibling's slot (siblings: the slots of the same turn's other candidates, running side by
    side for a comparison), this preview gets a copy instead: moving it would pull the data from under
    the preview the user is looking at (its app answered 502, or its build failed to load the data).
    """
    with _project_lock(project_id):
        target = folder / "data"
        if target.exists():
            return
        originals = [slot for slot in holders if not holds_a_copy(slot_dir(slot))]
        for source in [data_dir(project_id)] + [slot_dir(slot) / "data" for slot in originals]:
            if source.is_dir():
                if source.parent.name in siblings:
                    _copy_data(source, folder)
                else:
                    os.rename(source, target)
                return
        writable_by_sandbox(target)


def copy_project_data(project_id: int, folder: Path, *, holders: list[str]) -> None:
    """Copy the project's data into folder/data for a side preview (an older version looked at beside
    the current one): the current preview keeps the real folder, and the copy goes with the slot."""
    with _project_lock(project_id):
        target = folder / "data"
        if target.exists():
            return
        originals = [slot for slot in holders if not holds_a_copy(slot_dir(slot))]
        for source in [data_dir(project_id)] + [slot_dir(slot) / "data" for slot in originals]:
            if source.is_dir():
                _copy_data(source, folder)
                return
        writable_by_sandbox(target)
        copy_marker(folder).touch()


def holds_a_copy(folder: Path) -> bool:
    """Whether the slot's data is a copy (thrown away when the preview stops, never handed on)."""
    return copy_marker(folder).exists()


def copy_marker(folder: Path) -> Path:
    """Beside the slot folder, not in it: the preview mounts its slot writable and must not be able to
    turn its copy into the project's data by deleting the mark."""
    return folder.with_name(folder.name + ".data-copy")


def _copy_data(source: Path, folder: Path) -> None:
    target = folder / "data"
    shutil.copytree(source, target)
    copy_marker(folder).touch()
    writable_by_sandbox(target)
    for path in target.rglob("*"):  # the copy is the worker's: give it to the container's user
        if os.geteuid() == 0:
            os.chown(path, docker_driver.SANDBOX_UID, docker_driver.SANDBOX_UID)
        else:
            path.chmod(0o777 if path.is_dir() else 0o666)


def return_project_data(project_id: int, folder: Path) -> None:
    """Move folder/data back home (the preview is stopping); its records survive the next version."""
    with _project_lock(project_id):
        source = folder / "data"
        if not source.is_dir():
            return
        if holds_a_copy(folder):  # a side preview's or a comparison's copy: the real data is elsewhere
            shutil.rmtree(source)
            copy_marker(folder).unlink(missing_ok=True)
            return
        home = data_dir(project_id)
        if home.exists():
            shutil.rmtree(source)  # a newer preview already handed the data home: that copy wins
            return
        home.parent.mkdir(parents=True, exist_ok=True)
        os.rename(source, home)


def load(folder: Path, container_id: str) -> int:
    """Tell the server to (re)load the app now in folder/app; returns its number of entities."""
    transport = httpx.HTTPTransport(uds=str(socket_in(folder)))
    try:
        with httpx.Client(transport=transport, base_url="http://preview", timeout=10) as http:
            answer = http.post("/__kiln/load")
    except httpx.TransportError as error:
        raise PreviewFailed(PREVIEW_UNHEALTHY.format(reason="the app server did not answer"),
                            log=docker_driver.container_logs(container_id)) from error
    if answer.status_code != 200:
        raise PreviewFailed(PREVIEW_UNHEALTHY.format(reason=f"loading the app answered {answer.status_code}"),
                            log=answer.text + docker_driver.container_logs(container_id))
    return answer.json()["entities"]
