"""Lifecycle: the warm pool keeps a project's data across versions, the startup sweep, the per-user cap,
and the engine going away and coming back."""

import os
import subprocess
import time
from pathlib import Path

import pytest
from django.core.management import call_command

from sandbox import docker_driver, lifecycle, pool
from sandbox.errors import PREVIEW_OVER_CAP
from sandbox.models import Build

pytestmark = pytest.mark.django_db


def _records(build, preview_client, owner):
    client = preview_client(build)
    client.enter(build, owner)
    return client


def test_a_warm_slot_serves_the_new_version_with_the_projects_data(settings, build_preview, preview_client, owner):
    settings.PREVIEW_POOL_SIZE = 1
    first = build_preview()
    client = _records(first, preview_client, owner)
    client.post("/api/entities/Task", {"title": "kept"}, content_type="application/json")
    pool.fill()

    second = build_preview()

    assert second.status == Build.Status.READY and second.warm is True
    assert [t["title"] for t in _records(second, preview_client, owner).get("/api/entities/Task").json()] == ["kept"]


def test_sweep_removes_orphans_and_keeps_live_previews(settings, build_preview):
    settings.PREVIEW_POOL_SIZE = 1
    live = build_preview()
    pool.fill()
    assert len(docker_driver.instance_containers()) == 2

    call_command("sweep_previews")

    assert [c.id for c in docker_driver.instance_containers()] == [live.container_id]
    live.refresh_from_db()
    assert live.status == Build.Status.READY


def test_a_user_over_the_cap_loses_the_oldest_preview(settings, build_preview, make_version, owner):
    from builder.models import Project

    settings.PREVIEW_MAX_PER_USER = 1
    first = build_preview()
    second = build_preview(version=make_version(on=Project.objects.create(owner=owner, name="Second")))

    first.refresh_from_db()
    assert second.status == Build.Status.READY
    assert first.status == Build.Status.STOPPED and first.error == PREVIEW_OVER_CAP.format(cap=1)


# Stops the machine's real dockerd and starts it again the way ./kiln does. Every process using the
# engine is affected, so it runs only where asked: KILN_TEST_RESTART_DOCKERD=1 (CI sets it).
@pytest.mark.skipif(os.environ.get("KILN_TEST_RESTART_DOCKERD") != "1", reason="set KILN_TEST_RESTART_DOCKERD=1")
def test_engine_stopped_shows_unavailable_and_recovers(build_preview, preview_client, owner, tmp_path):
    ready = build_preview()
    client = _records(ready, preview_client, owner)
    pid = int(Path("/var/run/docker.pid").read_text())
    os.kill(pid, 15)
    deadline = time.monotonic() + 60
    while Path(f"/proc/{pid}").exists() and time.monotonic() < deadline:
        time.sleep(0.2)
    try:
        failed = build_preview()
        assert failed.status == Build.Status.FAILED and failed.error == "Preview engine unavailable"
        assert b"Preview engine unavailable" in client.get("/").content
    finally:
        log = open(tmp_path / "dockerd.log", "w")  # noqa: SIM115 - the daemon keeps it
        subprocess.Popen(["dockerd"], stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        for _ in range(150):
            if subprocess.run(["docker", "info"], capture_output=True).returncode == 0:
                break
            time.sleep(0.2)
    docker_driver.client.cache_clear()
    assert build_preview().status == Build.Status.READY
    client.get("/")  # the old preview's container stopped with the engine: Kiln restarts it
    lifecycle.watchdog()
    ready.refresh_from_db()
    assert ready.status == Build.Status.STOPPED or client.get("/").status_code == 200
