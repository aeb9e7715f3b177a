"""Bench: a bare `docker run --rm IMAGE true` vs Kiln's generation-done -> preview-ready, cold and warm.

    DJANGO_SETTINGS_MODULE=tests.settings .venv/bin/python bench/preview_ready.py [--runs 5] [--runtime runsc]

"Generation done -> preview ready" is what the user waits for once the model's last file has arrived:
sandbox.builds.create_build() (the Build row) then the build service itself (bundle with
esbuild in a container, start or claim a preview container, load the app, /healthz), without the smoke
test (it runs after the user already sees the preview). Cold: PREVIEW_POOL_SIZE=0 (a container is
started for the build). Warm: a ready pool slot is claimed (the pool is refilled between runs, untimed).
Runs against a throwaway SQLite file and KILN_INSTANCE=bench; removes its containers when done.
Goal: warm <= 4x bare, cold <= 12x bare (medians).
"""

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--runtime", default="auto", help="auto, runsc or runc")
    args = parser.parse_args()

    tmp = tempfile.mkdtemp(prefix="kb-")
    os.environ.update({
        "DJANGO_SETTINGS_MODULE": os.environ.get("DJANGO_SETTINGS_MODULE", "tests.settings"),
        "DATABASE_URL": f"sqlite:///{tmp}/bench.sqlite3", "SANDBOX_DIR": f"{tmp}/s", "KILN_INSTANCE": "bench",
        "SANDBOX_RUNTIME": args.runtime, "SMOKE_TEST": "false", "REDIS_URL": "redis://127.0.0.1:6379/10",
    })
    from bench.services import ensure_redis, require_docker

    ensure_redis(os.environ["REDIS_URL"])  # build leases live in Redis
    require_docker()
    import django

    django.setup()
    from django.conf import settings
    from django.contrib.auth import get_user_model
    from django.core.management import call_command

    from builder.models import AppVersion, Blob, Project
    from sandbox import builds, docker_driver, pool
    from sandbox.image import ensure_runtime_image
    from tests.sandbox.conftest import TODO_APP

    call_command("migrate", verbosity=0)
    image = ensure_runtime_image()
    runtime = docker_driver.runtime_name()
    owner = get_user_model().objects.create_user(username="bench", password="bench-pass-123")
    project = Project.objects.create(owner=owner, name="Bench")
    manifest = {}
    for path, content in TODO_APP.items():
        Blob.objects.get_or_create(sha256=Blob.digest(content), defaults={"content": content})
        manifest[path] = Blob.digest(content)
    version = AppVersion.objects.create(project=project, manifest=manifest, digest=AppVersion.manifest_digest(manifest))

    def bare() -> float:
        started = time.perf_counter()
        subprocess.run(["docker", "run", "--rm", "--runtime", runtime, "--network", "none", image, "true"],
                       check=True, capture_output=True)
        return time.perf_counter() - started

    def kiln(*, warm: bool) -> float:
        settings.PREVIEW_POOL_SIZE = 1 if warm else 0
        if warm:
            pool.fill(image)  # untimed: the pool is refilled in the background in production
        started = time.perf_counter()
        build = builds.create_build(app_version=version)
        builds.build_and_preview(build.id)
        elapsed = time.perf_counter() - started
        build.refresh_from_db()
        assert build.status == "ready" and build.warm == warm, (build.status, build.error)
        return elapsed

    try:
        bare()  # warm the engine's caches once
        rows = {"bare docker run": [bare() for _ in range(args.runs)],
                "Kiln cold": [kiln(warm=False) for _ in range(args.runs)],
                "Kiln warm": [kiln(warm=True) for _ in range(args.runs)]}
    finally:
        docker_driver.remove_all_for_instance()
        subprocess.run(["redis-cli", "-n", "10", "flushdb"], capture_output=True)
    base = statistics.median(rows["bare docker run"])
    print(f"\nruntime {runtime}, {args.runs} runs each, median seconds (min-max)")
    print(f"{'':18} {'median':>8} {'min':>7} {'max':>7} {'x bare':>7}  goal")
    goals = {"Kiln cold": 12, "Kiln warm": 4}
    for name, times in rows.items():
        median = statistics.median(times)
        goal = f"<= {goals[name]}x {'met' if median / base <= goals[name] else 'MISSED'}" if name in goals else ""
        print(f"{name:18} {median:8.3f} {min(times):7.3f} {max(times):7.3f} {median / base:6.2f}x  {goal}")


if __name__ == "__main__":
    main()
