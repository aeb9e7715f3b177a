"""The preview runtime image, built locally without any image registry and cached by its inputs.

Two layers of caching, both keyed by content hashes so a changed input means a new tag and an
unchanged checkout never rebuilds:

- base image `<RUNTIME_IMAGE_REPO>-base:<hash>`: a Debian minbase rootfs made by debootstrap from the
  machine's own apt mirror, with the packages in runtime/base-packages.txt, imported with
  `docker import` (there is no registry to pull from);
- runtime image `<RUNTIME_IMAGE_REPO>:<hash>`: the base plus esbuild, React and the app server, built
  with the engine's legacy builder (works offline).
"""

import fcntl
import hashlib
import re
import shutil
import subprocess
import tempfile
from collections.abc import Callable
from pathlib import Path

import docker.errors
from django.conf import settings

from sandbox import docker_driver
from sandbox.errors import ImageBuildError

RUNTIME_DIR = Path(__file__).resolve().parent / "runtime"
SUITE = "bookworm"
VARIANT = "minbase"
# Everything the runtime image is made of; a change to any of these is a new image.
RUNTIME_INPUTS = (
    "Dockerfile", ".dockerignore", "server.py", "build.sh", "package-lock.json", "base-packages.txt",
)
STEPS = ("check cache", "debian rootfs (debootstrap)", "docker import", "npm ci", "docker build")

Progress = Callable[[str], None]


def _digest(*parts: bytes) -> str:
    h = hashlib.sha256()
    for part in parts:
        h.update(hashlib.sha256(part).digest())
    return h.hexdigest()[:16]


def base_packages() -> list[str]:
    lines = (RUNTIME_DIR / "base-packages.txt").read_text().splitlines()
    return [line.strip() for line in lines if line.strip() and not line.startswith("#")]


def base_image_tag() -> str:
    recipe = f"{SUITE} {VARIANT} {','.join(base_packages())}".encode()
    return f"{settings.RUNTIME_IMAGE_REPO}-base:{_digest(recipe)}"


def runtime_image_tag() -> str:
    return f"{settings.RUNTIME_IMAGE_REPO}:{_digest(*[(RUNTIME_DIR / n).read_bytes() for n in RUNTIME_INPUTS])}"


def debian_mirror() -> str:
    """The Debian mirror this machine's apt already uses (deb822 sources first, then sources.list)."""
    deb822 = Path("/etc/apt/sources.list.d/debian.sources")
    if deb822.exists():
        for stanza in deb822.read_text().split("\n\n"):
            uris = re.search(r"^URIs:\s*(\S+)", stanza, re.MULTILINE)
            suites = re.search(r"^Suites:\s*(.+)$", stanza, re.MULTILINE)
            if uris and suites and SUITE in suites[1].split():
                return uris[1]
    legacy = Path("/etc/apt/sources.list")
    if legacy.exists():
        for line in legacy.read_text().splitlines():
            match = re.match(r"^deb\s+(?:\[[^\]]*\]\s+)?(\S+)\s+(\S+)", line.strip())
            if match and match[2] == SUITE:
                return match[1]
    raise ImageBuildError(f"No apt source for Debian {SUITE} found in /etc/apt; cannot debootstrap.")


def _image_exists(client, tag: str) -> bool:
    try:
        docker_driver.engine_call(client.images.get, tag)  # a stopped dockerd: EngineUnavailable
    except docker.errors.ImageNotFound:
        return False
    return True


def _run(cmd: list[str] | str, *, what: str, **kwargs) -> None:
    result = subprocess.run(cmd, capture_output=True, text=True, **kwargs)
    if result.returncode != 0:
        tail = (result.stdout + result.stderr)[-4000:]
        raise ImageBuildError(f"{what} failed (exit {result.returncode})", log=tail)


def _build_base_image(tag: str, step: Progress) -> None:
    mirror = debian_mirror()
    with tempfile.TemporaryDirectory(prefix="kiln-rootfs-") as tmp:
        rootfs = Path(tmp) / "rootfs"
        step(STEPS[1])
        _run(
            ["debootstrap", f"--variant={VARIANT}", f"--include={','.join(base_packages())}", SUITE,
             str(rootfs), mirror],
            what="debootstrap",
        )
        # The package cache and docs are dead weight in every preview container.
        for junk in ("var/cache/apt/archives", "var/lib/apt/lists", "usr/share/doc", "usr/share/man"):
            shutil.rmtree(rootfs / junk, ignore_errors=True)
        step(STEPS[2])
        _run(f"tar -C {rootfs} -c . | docker import - {tag}", shell=True, what="docker import")


def _lock_digest() -> str:
    return hashlib.sha256((RUNTIME_DIR / "package-lock.json").read_bytes()).hexdigest()


def _ensure_node_modules() -> None:
    """`npm ci` on the host when node_modules is missing or was installed from another lock file."""
    stamp = RUNTIME_DIR / "node_modules" / ".kiln-lock-sha256"
    if stamp.exists() and stamp.read_text() == _lock_digest():
        return
    if not shutil.which("npm"):
        raise ImageBuildError("npm is not installed; it is needed once to fetch esbuild and React.")
    _run(["npm", "ci", "--no-audit", "--no-fund"], cwd=RUNTIME_DIR, what="npm ci")
    stamp.write_text(_lock_digest())


def _docker_build(client, *, base_tag: str, tag: str) -> None:
    try:
        client.images.build(
            path=str(RUNTIME_DIR), tag=tag, buildargs={"BASE_IMAGE": base_tag}, rm=True, forcerm=True,
            pull=False,
        )
    except docker.errors.BuildError as error:
        log = "".join(chunk.get("stream", "") or chunk.get("error", "") for chunk in error.build_log)
        raise ImageBuildError(f"docker build failed: {error.msg}", log=log[-4000:]) from error


def ensure_runtime_image(progress: Progress | None = None) -> str:
    """Return the tag of the runtime image for the current inputs, building it only when missing.

    Guarantees: when the tag exists this is one engine call; concurrent callers (web, workers, tests)
    build at most once, serialised by a file lock.
    """
    step = progress or (lambda text: None)
    client = docker_driver.client()
    tag = runtime_image_tag()
    step(STEPS[0])
    if _image_exists(client, tag):
        return tag
    settings.SANDBOX_DIR.mkdir(parents=True, exist_ok=True)
    with open(settings.SANDBOX_DIR / "image.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if _image_exists(client, tag):  # another process built it while we waited
            return tag
        base_tag = base_image_tag()
        if _image_exists(client, base_tag):
            step(STEPS[1] + ": cached")
            step(STEPS[2] + ": cached")
        else:
            _build_base_image(base_tag, step)
        step(STEPS[3])
        _ensure_node_modules()
        step(STEPS[4])
        _docker_build(client, base_tag=base_tag, tag=tag)
    return tag
