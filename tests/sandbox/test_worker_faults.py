"""A build worker SIGKILLed mid-build, 20 times, with the real Celery worker: no build is lost.

The worker runs as `./kiln start` runs it (celery -A config worker -Q build), against a SQLite file and
a Redis database of its own. Builds are queued through the product's own service in `manage.py shell`;
the test reads their state straight from the SQLite file and kills the process named in Build.worker
(the pool process running the build). Every fifth kill takes the whole worker down (parent and child,
as an OOM kill or a reboot would): then a new worker is started and the watchdog brings back what the
dead worker had taken. runc keeps this test quick; the runtime plays no part in it.
"""

import json
import os
import random
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import docker
import pytest
import redis

from tests.stack import ROOT, VENV_BIN

BUILDS = 24
KILLS = 20
INSTANCE = "killtest"
REDIS_DB = 11

QUEUE_BUILDS = """
import json
from django.contrib.auth import get_user_model
from builder.models import AppVersion, Blob, Project
from builder import pipeline
from tests.sandbox.conftest import TODO_APP
owner = get_user_model().objects.create_user(username="killtest", password="x-kill-test-1")
project = Project.objects.create(owner=owner, name="Kill test")
ids = []
for n in range({n}):
    files = dict(TODO_APP, **{{"src/style.css": "h1 {{ color: #a%02d; }}\\n" % n}})
    manifest = {{}}
    for path, content in files.items():
        sha = Blob.digest(content)
        Blob.objects.get_or_create(sha256=sha, defaults={{"content": content}})
        manifest[path] = sha
    version = AppVersion.objects.create(project=project, manifest=manifest, digest=AppVersion.manifest_digest(manifest))
    ids.append(pipeline.request_build(version, stream_key="").id)
print(json.dumps(ids))
"""


class Kiln:
    def __init__(self, workdir: Path):
        self.workdir = workdir
        self.db = workdir / "kiln.sqlite3"
        self.worker = None
        self.env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "tests.settings",
            "DATABASE_URL": f"sqlite:///{self.db}",
            "KILN_VAR_DIR": str(workdir / "var"),
            "SANDBOX_DIR": str(workdir / "s"),
            "REDIS_URL": f"redis://127.0.0.1:6379/{REDIS_DB}",
            "KILN_INSTANCE": INSTANCE,
            "SANDBOX_RUNTIME": "runc",
            "SMOKE_TEST": "false",
            "PREVIEW_POOL_SIZE": "0",
            "BUILD_STALE_S": "3",
            "LEASE_TTL_MS": "1500",  # a killed worker's builds are taken over after 1.5 s, not 6
            "FAIR_RUNNING_BUILDS": "24",  # one user queues all 24 builds at once, as before fair use
            "PYTHONUNBUFFERED": "1",
        }

    def manage(self, *args: str) -> str:
        result = subprocess.run([sys.executable, "manage.py", *args], cwd=ROOT, env=self.env, capture_output=True,
                                text=True, timeout=120)
        assert result.returncode == 0, result.stderr[-3000:]
        return result.stdout

    def start_worker(self) -> None:
        log = open(self.workdir / "worker.log", "a")  # noqa: SIM115 - closed with the process
        self.worker = subprocess.Popen(
            [str(VENV_BIN / "celery"), "-A", "config", "worker", "-Q", "build", "-n", f"{INSTANCE}@%h", "-c", "1",
             "--without-heartbeat", "--without-mingle", "--without-gossip", "--loglevel", "INFO"],
            cwd=ROOT, env=self.env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        )

    def stop_worker(self, sig=signal.SIGTERM) -> None:
        if self.worker and self.worker.poll() is None:
            os.killpg(self.worker.pid, sig)  # the worker's own process group: the one this test started
            self.worker.wait(30)

    def builds(self) -> list[dict]:
        with sqlite3.connect(self.db, timeout=20) as db:
            db.row_factory = sqlite3.Row
            return [dict(row) for row in db.execute("SELECT * FROM sandbox_build ORDER BY id")]


@pytest.fixture
def kiln():
    redis.Redis(db=REDIS_DB).flushdb()
    with tempfile.TemporaryDirectory(prefix="kk-") as tmp:  # short: a socket path fits in 108 bytes
        stack = Kiln(Path(tmp))
        stack.manage("migrate", "--noinput", "-v", "0")
        try:
            yield stack
        finally:
            stack.stop_worker(signal.SIGKILL)
            engine = docker.from_env()
            for container in engine.containers.list(all=True, filters={"label": f"kiln.instance={INSTANCE}"}, ignore_removed=True):
                container.remove(force=True)
            redis.Redis(db=REDIS_DB).flushdb()


def _wait(predicate, timeout: float, step: float = 0.02):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = predicate()
        if found:
            return found
        time.sleep(step)
    return None


def test_builds_survive_their_worker_being_killed_twenty_times(kiln):
    kiln.start_worker()
    ids = json.loads(kiln.manage("shell", "-c", QUEUE_BUILDS.format(n=BUILDS)).strip().splitlines()[-1])
    rng = random.Random(5)
    killed_mid_build, whole_worker, dead = 0, 0, set()
    for kill in range(KILLS):
        building = _wait(lambda: [b for b in kiln.builds() if b["status"] == "building" and b["claims"] < 3
                                  and b["worker"] and b["worker"] not in dead], timeout=20)
        assert building, f"nothing building after {kill} kills: {[(b['id'], b['status']) for b in kiln.builds()]}"
        target = building[0]
        time.sleep(rng.uniform(0, 0.35))  # land in a different step each time
        pid = int(target["worker"].rsplit(":", 1)[1])
        dead.add(target["worker"])
        state = next(b for b in kiln.builds() if b["id"] == target["id"])
        killed_mid_build += state["status"] == "building"
        if kill % 5 == 4:  # the whole worker dies (parent and pool process), then Kiln starts a new one
            kiln.stop_worker(signal.SIGKILL)
            whole_worker += 1
            kiln.start_worker()
            time.sleep(3.5)  # BUILD_STALE_S: a queued build's message may have died with the worker
            kiln.manage("shell", "-c", "from builder.pipeline import recover; print(recover())")
        else:
            os.kill(pid, signal.SIGKILL)  # the pool process running the build; Celery's parent lives on

    def all_final():
        builds = kiln.builds()
        return builds if all(b["status"] in ("ready", "failed", "stopped") for b in builds) else None

    done = None
    for _ in range(12):  # the watchdog runs every 30 s in production; here, whenever progress stalls
        done = _wait(all_final, timeout=15, step=0.2)
        if done:
            break
        kiln.manage("shell", "-c", "from builder.pipeline import recover; print(recover())")
    assert done, [(b["id"], b["status"], b["claims"]) for b in kiln.builds()]
    # The watchdog's periodic round (beat, 30 s): also retires an older preview whose newer build's
    # worker died between "ready" and retiring it.
    kiln.manage("shell", "-c", "from builder.pipeline import recover; print(recover())")
    done = kiln.builds()
    outcome = {s: sum(b["status"] == s for b in done) for s in ("ready", "stopped", "failed")}
    print(f"\nkill loop: {KILLS} kills ({killed_mid_build} mid-build, {whole_worker} of the whole worker), "
          f"{len(ids)} builds: {outcome}, re-claimed: {sum(b['claims'] > 1 for b in done)}, lost: 0")
    assert {b["id"] for b in done} == set(ids)
    for build in done:
        if build["status"] == "failed":
            assert build["error"], build
    # One live preview per project: the newest ready build; every other container is gone.
    live = {b["container_id"] for b in done if b["status"] == "ready"}
    assert len(live) == 1
    engine = docker.from_env()
    containers = {c.id for c in engine.containers.list(all=True, filters={"label": f"kiln.instance={INSTANCE}"}, ignore_removed=True)}
    assert containers == live
