"""What a bench needs running: started here the way ./kiln starts it, or one line saying what to start.

./kiln start leaves Redis and the Docker engine running, but a bench run on a machine where they are
not (after a reboot, or after ./kiln setup, which stops what it started) must not end in a connection
traceback.
"""

import atexit
import shutil
import subprocess
import sys
import time
from urllib.parse import urlsplit

import redis


def _redis_answers(url: str) -> bool:
    try:
        return redis.Redis.from_url(url, socket_connect_timeout=1).ping()
    except redis.RedisError:  # refused, timed out, or something else listening there
        return False


def ensure_redis(url: str) -> None:
    """Redis answers at `url`. A local one that is not running is started for this run with ./kiln's
    flags (loopback only, nothing written to disk) and stopped when the bench exits."""
    if _redis_answers(url):
        return
    parts = urlsplit(url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 6379
    if host not in ("127.0.0.1", "localhost") or not shutil.which("redis-server"):
        sys.exit(f"Redis is not reachable at {url}: start it (./kiln start does) and run this again.")
    print(f"[bench] Redis was not running: starting it on 127.0.0.1:{port} for this run", file=sys.stderr)
    server = subprocess.Popen(
        ["redis-server", "--bind", "127.0.0.1", "--port", str(port), "--save", "", "--appendonly", "no"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    atexit.register(server.terminate)
    deadline = time.monotonic() + 10
    while not _redis_answers(url):
        if server.poll() is not None or time.monotonic() > deadline:
            sys.exit(f"Redis did not start on port {port}: run `redis-server --port {port}` to see why.")
        time.sleep(0.2)


def require_docker() -> None:
    """The Docker engine answers, or the bench stops with one line saying to start it."""
    running = shutil.which("docker") and subprocess.run(["docker", "info"], capture_output=True).returncode == 0
    if not running:
        sys.exit("The Docker engine is not running: start it (./kiln start does, or `dockerd &` as root) "
                 "and run this again.")
