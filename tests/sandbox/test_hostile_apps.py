"""Hostile apps against the real engine, under gVisor (runsc) and runc alike.

The app's own code runs in the browser, so a hostile *app server* is simulated the way a compromised
one would act: `docker exec` as the container's user (65534) runs the attack inside the running
preview. A hostile *build step* is simulated by a container with the build step's profile planting a
symlink in the build output. Each test prints the runtime in force. See docs/security.md.
"""

import ipaddress
import socket
import subprocess
import time

import httpx
import pytest
from django.conf import settings as django_settings

from sandbox import docker_driver, lifecycle, slots
from sandbox.errors import PREVIEW_EXPIRED
from sandbox.models import Build

pytestmark = pytest.mark.django_db


@pytest.fixture(params=["runsc", "runc"])
def runtime(request, settings):
    settings.SANDBOX_RUNTIME = request.param
    docker_driver.runtime_name.cache_clear()
    print(f"\n[runtime in force: {request.param}]")
    yield request.param
    docker_driver.runtime_name.cache_clear()


@pytest.fixture
def preview(runtime, build_preview):
    build = build_preview()
    assert build.status == Build.Status.READY and build.runtime == runtime, build.error
    return build


@pytest.fixture
def bystander(runtime, build_preview, make_version, django_user_model):
    """Another user's preview on the same engine: it must keep answering."""
    from builder.models import Project

    other = django_user_model.objects.create_user(username="bystander", password="bystander-pass-1")
    build = build_preview(version=make_version(on=Project.objects.create(owner=other, name="Other")))
    assert build.status == Build.Status.READY, build.error
    return build


def attack(build: Build, script: str, timeout: float = 20) -> subprocess.CompletedProcess:
    """Run script inside the preview as its own user, as a compromised app server would."""
    return subprocess.run(["timeout", "-s", "KILL", str(timeout), "docker", "exec", "-u", "65534:65534",
                           build.container_id, "sh", "-c", script], capture_output=True, text=True)


def answers(build: Build, timeout: float = 3) -> bool:
    transport = httpx.HTTPTransport(uds=str(lifecycle.socket_path(build)))
    try:
        with httpx.Client(transport=transport, base_url="http://preview", timeout=timeout) as http:
            return http.get("/healthz").status_code == 200
    except httpx.TransportError:
        return False


def settle(build: Build) -> Build:
    """What the user is left with after an attack: the watchdog restarts a dead preview (bounded)."""
    lifecycle.watchdog()
    build.refresh_from_db()
    assert build.status in (Build.Status.READY, Build.Status.STOPPED)
    if build.status == Build.Status.READY:
        assert answers(build), "a ready preview must answer"
    else:
        assert build.error, "a stopped preview must say why"
    return build


def test_fork_bomb_is_contained(preview, bystander):
    result = attack(preview, "python3 -c 'import os\nwhile True:\n  try: os.fork()\n  except OSError: pass'", 8)
    assert answers(bystander)
    state = docker_driver.container_state(preview.container_id)
    print(f"fork bomb: exec exit {result.returncode}, preview running afterwards: {state['running']}")
    build = settle(preview)
    print(f"fork bomb: preview {build.status} after the watchdog (restarts {build.restarts})")


def test_memory_bomb_is_killed(preview, bystander):
    result = attack(preview, "python3 -c 'a=[]\nwhile True: a.append(bytearray(16*1024*1024))'", 20)
    assert result.returncode != 0  # killed (out of memory), never finished
    assert answers(bystander)
    build = settle(preview)
    print(f"memory bomb: exec exit {result.returncode}; preview {build.status} (restarts {build.restarts})")


def test_cpu_spin_leaves_others_responsive(preview, bystander):
    spin = subprocess.Popen(["docker", "exec", "-u", "65534:65534", preview.container_id, "sh", "-c",
                             "for i in 1 2 3 4; do timeout 6 sh -c 'while :; do :; done' & done; wait"])
    try:
        time.sleep(1.5)
        started = time.perf_counter()
        assert answers(bystander) and answers(preview)
        latency = time.perf_counter() - started
        stats = docker_driver.client().containers.get(preview.container_id).stats(stream=False)
    finally:
        spin.wait(20)
    cpu = stats["cpu_stats"]["cpu_usage"]["total_usage"] - stats["precpu_stats"]["cpu_usage"]["total_usage"]
    print(f"cpu spin: both previews answered in {latency * 1000:.0f} ms; limit {django_settings.PREVIEW_NANO_CPUS / 1e9} CPU")
    assert latency < 2
    assert cpu >= 0


def test_log_flood_is_capped(preview, bystander):
    attack(preview, "head -c 30000000 /dev/zero | tr '\\0' x | fold -w 1000 > /proc/1/fd/1", 30)
    container = docker_driver.client().containers.get(preview.container_id)
    log_path = container.attrs["LogPath"]
    size = int(subprocess.run(["stat", "-c", "%s", log_path], capture_output=True, text=True).stdout or 0)
    print(f"log flood: 30 MB written, the engine kept {size} bytes")
    assert size <= 2 * 1024 * 1024
    assert len(docker_driver.container_logs(preview.container_id)) <= 65536
    assert answers(bystander)


def test_root_filesystem_and_the_app_files_are_read_only(preview):
    result = attack(preview, "touch /etc/x; touch /opt/kiln/server.py; echo hacked > /run/preview/app/bundle.js; "
                             "rm -f /run/preview/app.sock; ln -s /var/run/docker.sock /run/preview/d.sock; "
                             "touch /tmp/ok && echo TMP_OK")
    assert "TMP_OK" in result.stdout  # its own scratch space works
    for needle in ("/etc/x", "server.py", "bundle.js", "app.sock", "d.sock"):
        assert needle in result.stderr, result.stderr
    assert slots.socket_is_real(slots.slot_dir(preview.slot)) and answers(preview)
    assert b"hacked" not in (slots.slot_dir(preview.slot) / "app" / "bundle.js").read_bytes()


def test_no_setuid_and_no_capabilities(preview):
    result = attack(preview, "grep -E '^(CapEff|CapPrm|NoNewPrivs)' /proc/self/status; "
                             "python3 -c 'import os; os.setuid(0)' 2>&1 | tail -1; chown 0 /tmp 2>&1 | tail -1")
    out = result.stdout
    assert "CapEff:\t0000000000000000" in out and "CapPrm:\t0000000000000000" in out
    assert "PermissionError" in out and "Operation not permitted" in out
    print("setuid/caps:", " | ".join(line for line in out.splitlines() if line))


def test_host_files_are_out_of_reach(preview, tmp_path):
    secret = tmp_path / "host-secret.txt"
    secret.write_text("HOST-SECRET")
    result = attack(preview, f"cat {secret}; cat /etc/shadow; ls /work /root; cat /proc/1/root/etc/hostname; "
                             "cat /run/preview/../../etc/hostname >/dev/null; echo DONE")
    assert "HOST-SECRET" not in result.stdout and "DONE" in result.stdout
    assert "No such file" in result.stderr and "Permission denied" in result.stderr


def test_no_way_to_the_host_or_another_preview_over_the_network(preview, bystander):
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    abstract = socket.socket(socket.AF_UNIX)
    abstract.bind(b"\0kiln-hostile-test")
    abstract.listen()
    # 127.0.0.1 and this machine's own public-range IPv4 addresses only (never private ranges).
    host_ips = ["127.0.0.1"] + [
        ip for ip in subprocess.run(["hostname", "-I"], capture_output=True, text=True).stdout.split()
        if ip.count(".") == 3 and not ipaddress.ip_address(ip).is_private
    ]
    port = listener.getsockname()[1]
    probe = (
        "import socket\n"
        f"for ip in {host_ips!r}:\n"
        "  s = socket.socket(); s.settimeout(2)\n"
        f"  print(ip, s.connect_ex((ip, {port})))\n"
        "u = socket.socket(socket.AF_UNIX)\n"
        "try: u.connect(b'\\0kiln-hostile-test'); print('ABSTRACT CONNECTED')\n"
        "except OSError as e: print('abstract', e.errno)\n"
        "print(open('/proc/net/dev').read())\n"
    )
    try:
        result = attack(preview, f"python3 -c \"{probe}\"")
    finally:
        listener.close()
        abstract.close()
    lines = result.stdout.splitlines()
    for ip in host_ips:
        assert any(line.startswith(ip + " ") and not line.endswith(" 0") for line in lines), result.stdout
    assert "ABSTRACT CONNECTED" not in result.stdout
    interfaces = [line.split(":")[0].strip() for line in lines if ":" in line and "|" not in line]
    assert interfaces == ["lo"], result.stdout
    # The other preview's socket is in a folder this container has no mount for.
    assert attack(preview, f"ls {slots.slot_dir(bystander.slot)}").returncode != 0


def test_a_preview_past_its_ttl_is_reaped(preview, preview_client, owner):
    client = preview_client(preview)
    client.enter(preview, owner)

    lifecycle.reap_expired_previews(now=time.time() + django_settings.PREVIEW_TTL_S + 1)

    preview.refresh_from_db()
    assert preview.status == Build.Status.STOPPED and preview.error == PREVIEW_EXPIRED
    assert docker_driver.instance_containers() == []
    assert PREVIEW_EXPIRED.encode() in client.get("/").content


def test_a_symlink_in_the_build_output_fails_the_build(runtime, build_preview, monkeypatch, runtime_image):
    real_run_build = docker_driver.run_build

    def hostile_build_step(*, image, src_dir, out_dir, **labels):
        result = real_run_build(image=image, src_dir=src_dir, out_dir=out_dir, **labels)
        # A compromised build step, with the build step's own profile, plants a link in its output.
        docker_driver.client().containers.run(
            image, ["sh", "-c", "ln -sf /etc/shadow /out/bundle.js"], volumes={str(out_dir): {"bind": "/out", "mode": "rw"}},
            remove=True, **{k: v for k, v in docker_driver._hardened().items() if k != "detach"},
        )
        return result

    monkeypatch.setattr(docker_driver, "run_build", hostile_build_step)
    build = build_preview()

    assert build.status == Build.Status.FAILED and build.failed_step == "bundle"
    assert "bundle.js, which is not a plain file" in build.error
    assert docker_driver.instance_containers() == []
