"""Runs the real Kiln stack for end-to-end tests: the offline model server, both Celery workers and the
ASGI server, as separate processes on free ports, against a SQLite file and a Redis database of their
own. Nothing is mocked; the processes are the ones `./kiln start` runs."""

import json
import os
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
_USERS = """
import json
from django.contrib.auth.models import User
from django.contrib.sessions.backends.db import SessionStore
from builder.models import Project
out = {{}}
for name in {names}:
    user = User.objects.create_user(name)
    session = SessionStore()
    session.update({{'_auth_user_id': str(user.pk), '_auth_user_hash': user.get_session_auth_hash(),
                    '_auth_user_backend': 'django.contrib.auth.backends.ModelBackend'}})
    session.create()
    projects = [Project.objects.create(owner=user, name=f"{{name}} {{n}}").id for n in range({projects_each})]
    out[name] = {{'session': session.session_key, 'project': projects[0], 'projects': projects}}
print(json.dumps(out))
"""
VENV_BIN = Path(sys.executable).parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Stack:
    workdir: Path
    port: int = field(default_factory=free_port)
    blueprint_port: int = field(default_factory=free_port)
    processes: list = field(default_factory=list)
    # KILN_E2E_REDIS_DB: two stacks on one Redis database would take each other's Celery tasks.
    redis_db: int = field(default_factory=lambda: int(os.environ.get("KILN_E2E_REDIS_DB", "14")))
    # The pool `./kiln start` runs: threads, since a generation mostly waits for the model's tokens.
    # Tests of a killed pool process ask for ("-P", "prefork", "-c", "2").
    generation_pool: tuple = ("-P", "threads", "-c", "8")
    extra_env: dict = field(default_factory=dict)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def env(self) -> dict:
        return {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "tests.settings",
            "DATABASE_URL": f"sqlite:///{self.workdir / 'kiln.sqlite3'}",
            "KILN_VAR_DIR": str(self.workdir / "var"),
            "SANDBOX_DIR": str(self.workdir / "sandbox"),
            "REDIS_URL": f"redis://127.0.0.1:6379/{self.redis_db}",
            "KILN_CHANNEL_PREFIX": "kiln-e2e:asgi",
            "KILN_INSTANCE": "e2e",
            "KILN_PORT": str(self.port),
            "PREVIEW_PORT": str(self.port),
            "MODEL_BASE_URL": f"http://127.0.0.1:{self.blueprint_port}/v1",
            # Slow enough that files visibly stream in, fast enough for CI.
            "BLUEPRINT_TOKEN_DELAY_MS": "1.5",
            "PYTHONUNBUFFERED": "1",
            **self.extra_env,
        }

    def manage(self, *args: str) -> str:
        result = subprocess.run(
            [sys.executable, "manage.py", *args], cwd=ROOT, env=self.env, capture_output=True, text=True, timeout=120
        )
        assert result.returncode == 0, result.stderr
        return result.stdout

    def spawn(self, name: str, *argv: str) -> None:
        log = open(self.workdir / f"{name}.log", "w")
        self.processes.append(
            (name, subprocess.Popen(argv, cwd=ROOT, env=self.env, stdout=log, stderr=subprocess.STDOUT))
        )

    ALL_SERVICES = ("blueprint", "worker-generation", "worker-build", "web")

    def start(self, services=ALL_SERVICES) -> "Stack":
        import redis

        redis.Redis(db=self.redis_db).flushdb()
        self.manage("migrate", "--noinput", "-v", "0")
        for service in services:
            self.start_service(service)
        self.wait_until_up(services)
        return self

    def start_service(self, service: str) -> None:
        celery = str(VENV_BIN / "celery")
        argv = {
            "blueprint": (sys.executable, "manage.py", "serve_blueprint", "--port", str(self.blueprint_port)),
            "worker-generation": (celery, "-A", "config", "worker", "-Q", "generation", "-n", "gen-e2e@%h",
                                  *self.generation_pool, "--loglevel", "INFO"),
            "worker-build": (celery, "-A", "config", "worker", "-Q", "build", "-n", "build-e2e@%h",
                             "-c", "2", "--loglevel", "INFO"),
            "web": (str(VENV_BIN / "daphne"), "-b", "127.0.0.1", "-p", str(self.port), "config.asgi:application"),
        }[service]
        self.spawn(service, *argv)

    def wait_until_up(self, services=ALL_SERVICES, timeout_s: float = 60) -> None:
        checks = []
        if "web" in services:
            checks.append(f"{self.url}/accounts/login/")
        if "blueprint" in services:
            checks.append(f"http://127.0.0.1:{self.blueprint_port}/v1/models")
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            for name, process in self.processes:
                if process.poll() is not None:
                    raise RuntimeError(f"{name} exited early:\n{self.log(name)}")
            try:
                for url in checks:
                    httpx.get(url, timeout=1).raise_for_status()
                if any(s.startswith("worker") for s in services):
                    self.wait_for_log_line("ready.", [s for s in services if s.startswith("worker")])
                return
            except (httpx.HTTPError, TimeoutError):
                time.sleep(0.25)
        raise RuntimeError("the Kiln stack did not come up:\n" + "\n".join(self.log(n) for n, _ in self.processes))

    def wait_for_log_line(self, text: str, names, timeout_s: float = 0.1) -> None:
        if not all(text in self.log(name) for name in names):
            raise TimeoutError(text)

    def process(self, name: str) -> subprocess.Popen:
        return next(p for n, p in self.processes if n == name and p.poll() is None)

    def django(self, code: str) -> str:
        """Run Python in Django's shell against this stack's database; returns what it prints."""
        return self.manage("shell", "--no-imports", "-c", code).strip()

    def users(self, names: tuple[str, ...], *, projects_each: int = 1) -> dict:
        """Users with a signed-in session and projects of their own, as a browser would hold them:
        {name: {"session", "project" (the first), "projects"}}."""
        return json.loads(self.django(_USERS.format(names=list(names), projects_each=projects_each)))

    def log(self, name: str) -> str:
        return (self.workdir / f"{name}.log").read_text()[-20000:]

    def stop(self) -> None:
        for _, process in self.processes:
            process.terminate()
        for _, process in self.processes:
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()


def stack_with_alice_and_bob(workdir: Path, *, setup: str = ""):
    """A module fixture's body: a running stack (its own Redis database, KILN_E2E_REDIS_DB, and Docker
    instance, KILN_INSTANCE) where alice and bob can sign in, `setup` run in its Django shell after;
    stopped, and its containers removed, when the module is done."""
    instance = os.environ.get("KILN_INSTANCE", "e2e")
    stack = Stack(workdir, extra_env={"KILN_INSTANCE": instance, "KILN_CHANNEL_PREFIX": f"kiln-{instance}:asgi"})
    stack.start()
    try:
        stack.django("from django.contrib.auth.models import User\n"
                     "User.objects.create_user('alice', password='alice-pass-123')\n"
                     "User.objects.create_user('bob', password='bob-pass-123')\n" + setup)
        yield stack
    finally:
        stack.stop()
        stack.manage("shell", "-c", "from sandbox.docker_driver import remove_all_for_instance; remove_all_for_instance()")

