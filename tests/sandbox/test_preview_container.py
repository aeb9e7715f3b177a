"""A preview runs under the full container profile, with no network at all."""

import time

import pytest
import redis
from django.conf import settings

from generation.streaming import read_after
from sandbox import docker_driver
from sandbox.models import Build

pytestmark = pytest.mark.django_db


def test_preview_runs_under_the_full_profile(build_preview, owner, project):
    build = build_preview()

    assert build.status == Build.Status.READY, build.error
    container = docker_driver.client().containers.get(build.container_id)
    config, host = container.attrs["Config"], container.attrs["HostConfig"]
    assert config["User"] == "65534:65534"
    assert host["ReadonlyRootfs"] is True
    assert host["Tmpfs"] == {"/tmp": "size=16m"}
    assert host["CapDrop"] == ["ALL"]
    assert host["SecurityOpt"] == ["no-new-privileges"]
    assert host["Memory"] == 256 * 1024 * 1024
    assert host["NanoCpus"] == settings.PREVIEW_NANO_CPUS
    # Under gVisor the host-side limit is scaled (see docker_driver.pids_limit); runc gets it as set.
    assert host["PidsLimit"] == docker_driver.pids_limit()
    assert host["PidsLimit"] == settings.PREVIEW_PIDS_LIMIT * (8 if build.runtime == "runsc" else 1)
    assert host["NetworkMode"] == "none"
    engine_runtimes = docker_driver.client().info()["Runtimes"]
    assert host["Runtime"] == ("runsc" if "runsc" in engine_runtimes else "runc") == build.runtime
    labels = config["Labels"]
    assert labels["kiln.instance"] == settings.KILN_INSTANCE
    assert labels["kiln.owner"] == str(owner.id)
    assert labels["kiln.project"] == str(project.id)
    assert labels["kiln.build"] == str(build.id)
    assert abs(int(labels["kiln.expires_at"]) - (time.time() + settings.PREVIEW_TTL_S)) < 60
    mounts = {m["Destination"]: m["RW"] for m in container.attrs["Mounts"]}
    assert mounts == {"/run/preview": True}  # its slot: app.sock, app/ (read-only for it), data/


def test_a_preview_has_no_network_interface_but_loopback(build_preview):
    build = build_preview()
    container = docker_driver.client().containers.get(build.container_id)

    # /proc/net/dev lists every interface (gVisor has no /sys/class/net).
    exit_code, output = container.exec_run(["cat", "/proc/net/dev"])

    assert exit_code == 0
    interfaces = [line.split(":")[0].strip() for line in output.decode().splitlines()[2:] if ":" in line]
    assert interfaces == ["lo"]


def test_build_reports_each_step_to_the_stream(build_preview):
    build = build_preview(stream_key="test:frames")

    frames = read_after("test:frames")
    assert frames[0]["step"] == "queued"  # the Build waits its turn (fair use), then a worker takes it
    assert frames[-1] == {
        "type": "build", "build": build.id, "status": "ready", "step": "ready",
        "message": frames[-1]["message"], "seq": len(frames), "final": True, "warm": False,
    }
    assert not any(f["final"] for f in frames[:-1])
    assert "bundling with esbuild" in [f["step"] for f in frames]
    assert {"write_ms", "bundle_ms", "start_ms", "load_ms", "total_ms"} <= set(build.timings)


def test_request_build_enqueues_the_task_on_the_build_queue(make_version, django_capture_on_commit_callbacks):
    from builder import pipeline

    with django_capture_on_commit_callbacks(execute=True):
        build = pipeline.request_build(make_version(), stream_key="")

    build.refresh_from_db()
    assert build.status == Build.Status.QUEUED  # the owner had room: handed on at once
    assert len(build.preview_token) >= 26 and build.preview_token.isalnum() and build.preview_token.islower()
    # Celery's Redis transport keeps each queue as a list named after it.
    assert redis.Redis.from_url(settings.CELERY_BROKER_URL).llen("build") == 1


def test_a_second_run_of_the_same_build_does_nothing(build_preview):
    from sandbox import builds

    build = build_preview()

    assert builds.build_and_preview(build.id) is None
    build.refresh_from_db()
    assert build.status == Build.Status.READY


def test_a_new_preview_of_the_project_replaces_the_old_one(build_preview):
    first = build_preview()
    second = build_preview()

    first.refresh_from_db()
    assert second.status == Build.Status.READY
    assert first.status == Build.Status.STOPPED
    assert not docker_driver.container_running(first.container_id)
    assert docker_driver.container_running(second.container_id)


def test_the_reaper_removes_expired_previews(build_preview):
    from sandbox import lifecycle

    build = build_preview()

    assert lifecycle.reap_expired_previews(now=time.time() + settings.PREVIEW_TTL_S + 1) == 1
    build.refresh_from_db()
    assert build.status == Build.Status.STOPPED
    assert not docker_driver.container_running(build.container_id)
