"""Kiln's own model versions served by the real vLLM CPU build (training.serving, docs/vllm.md).

One vLLM start for the module: `manage.py serve_models` runs exactly as `./kiln start` runs it, against a
database of its own where a tiny base made on the spot and one round (a PEFT adapter) are registered.
Kiln's generation client streams from it; a second adapter is loaded and unloaded at run time. One more,
short-lived start shows what a model vLLM cannot load gives."""

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import peft
import pytest
import torch
from django.core.management import CommandError, call_command
from transformers import AutoModelForCausalLM

from generation.backends import backend_for
from generation.models import ModelVersion
from tests.stack import ROOT, free_port
from tests.training.factory import make_tiny_base
from training.serving import (
    ADAPTER_NOT_LOADED,
    MODEL_DIR_MISSING,
    NOTHING_REGISTERED,
    VLLM_MISSING,
    VLLM_PYTHON,
    ModelServer,
    ServingError,
    load_adapter,
    served_models,
    unload_adapter,
)

BASE = "kiln-tiny-base"
ROUND = "kiln-tiny-round-1"
START_TIMEOUT_S = 300  # vLLM is up in 35-45 s on a quiet 2-core machine; far slower when it is shared
MESSAGES = [{"role": "user", "content": "An app to track my chores"}]
_REGISTER = """
from django.core.management import call_command
from generation.models import ModelVersion
call_command("migrate", verbosity=0)
# An older base whose folder is gone: serve_models must pick the newest base.
old = ModelVersion.objects.create(name="kiln-old-base", backend="kiln", artifact_dir="/nonexistent", weight=0,
                                  is_active=False, training={{"kind": "base"}})
base = ModelVersion.objects.create(name={base!r}, backend="kiln", artifact_dir={base_dir!r}, weight=0,
                                   is_active=False, training={{"kind": "base"}})
ModelVersion.objects.create(name={round!r}, backend="kiln", parent=base, artifact_dir={adapter_dir!r},
                            weight=0, is_active=False, training={{"kind": "round", "method": "sft"}})
# A round whose adapter folder was deleted: the base and the other rounds are served all the same.
ModelVersion.objects.create(name="kiln-tiny-round-gone", backend="kiln", parent=base,
                            artifact_dir="/nonexistent", weight=0, is_active=False,
                            training={{"kind": "round", "method": "dpo"}})
"""


def make_adapter(base_dir: Path, out: Path, *, seed: int) -> Path:
    """A PEFT LoRA adapter on the base, saved the way a round saves one. Its B matrices are random
    (PEFT starts them at zero, which would leave the base's answers unchanged)."""
    model = AutoModelForCausalLM.from_pretrained(base_dir)
    model = peft.get_peft_model(model, peft.LoraConfig(r=8, lora_alpha=16, target_modules="all-linear"))
    torch.manual_seed(seed)
    for name, param in model.named_parameters():
        if "lora_B" in name:
            torch.nn.init.normal_(param, std=0.5)
    model.save_pretrained(out)
    return out


def greedy(base_url: str, model: str) -> str:
    response = httpx.post(f"{base_url}/completions", timeout=60, json={
        "model": model, "prompt": "Here is your app", "max_tokens": 16, "temperature": 0,
    })
    response.raise_for_status()
    return response.json()["choices"][0]["text"]


def stream(base_url: str, name: str, *, max_tokens: int) -> dict:
    """One completion through Kiln's own client, as a generation worker streams it."""
    version = ModelVersion(name=name, backend=ModelVersion.Backend.KILN, endpoint=base_url)
    started = time.monotonic()
    model_stream = backend_for(version).stream(MESSAGES, seed=7, max_tokens=max_tokens)
    deltas, first_at = [], None
    for delta in model_stream:
        first_at = first_at or time.monotonic()
        deltas.append(delta)
    ended = time.monotonic()
    result = model_stream.result
    return {
        "deltas": deltas, "finish_reason": result.finish_reason, "prompt_tokens": result.prompt_tokens,
        "completion_tokens": result.completion_tokens, "first_token_s": first_at - started,
        # Over the whole request: the first request's deltas can arrive bunched after a slow first token.
        "tokens_per_s": result.completion_tokens / (ended - started),
    }


class Served:
    def __init__(self, process, log: Path, base_url: str, model_dir: Path):
        self.process, self.log, self.base_url, self.model_dir = process, log, base_url, model_dir
        self.started = time.monotonic()

    def output(self) -> str:
        return self.log.read_text(errors="replace")


def _stat(pid: int) -> list[str]:
    """/proc/PID/stat's fields after the command name: [0] state, [3] session, [11] utime, [12] stime."""
    return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()


def _processes() -> list[int]:
    return [int(p.name) for p in Path("/proc").iterdir() if p.name.isdigit()]


def _vllm_processes(model_dir: Path) -> list[int]:
    """vLLM's API server (its command line names the model folder) and every process in its session: the
    engine and worker it spawns (ModelServer starts vLLM in a session of its own)."""
    sessions = set()
    for pid in _processes():
        try:
            if str(model_dir).encode() in Path(f"/proc/{pid}/cmdline").read_bytes():
                sessions.add(int(_stat(pid)[3]))
        except OSError:
            continue
    pids = []
    for pid in _processes():
        try:
            if int(_stat(pid)[3]) in sessions:
                pids.append(pid)
        except OSError:
            continue
    return pids


def _cpu_s(pids: list[int]) -> float:
    """CPU seconds the processes have used so far (user + system)."""
    return sum(int(_stat(pid)[11]) + int(_stat(pid)[12]) for pid in pids) / os.sysconf("SC_CLK_TCK")


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    if not VLLM_PYTHON.exists():
        pytest.fail(VLLM_MISSING.format(python=VLLM_PYTHON))
    work = tmp_path_factory.mktemp("serving")
    base_dir = make_tiny_base(work)
    adapter_dir = make_adapter(base_dir, work / "round-1", seed=1)
    env = {
        **os.environ, "DJANGO_SETTINGS_MODULE": "tests.settings", "PYTHONUNBUFFERED": "1",
        "DATABASE_URL": f"sqlite:///{work / 'kiln.sqlite3'}", "KILN_VAR_DIR": str(work / "var"),
    }
    register = _REGISTER.format(base=BASE, round=ROUND, base_dir=str(base_dir), adapter_dir=str(adapter_dir))
    subprocess.run([sys.executable, "manage.py", "shell", "-c", register], cwd=ROOT, env=env, check=True,
                   timeout=180)
    port = free_port()
    log = work / "serve_models.log"
    with log.open("w") as out:
        process = subprocess.Popen([sys.executable, "manage.py", "serve_models", "--port", str(port)],
                                   cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)
    server = Served(process, log, f"http://127.0.0.1:{port}/v1", base_dir)
    deadline = time.monotonic() + START_TIMEOUT_S
    while "served by vLLM at" not in server.output():
        if process.poll() is not None or time.monotonic() > deadline:
            _stop(process)
            pytest.fail(f"serve_models did not come up:\n{server.output()}")
        time.sleep(0.5)
    print(f"\nserve_models up in {time.monotonic() - server.started:.0f} s")
    yield server
    _stop(process)


def _stop(process):
    # SIGTERM, as ./kiln sends it: serve_models then stops vLLM, which runs in a process group of its own
    # and would outlive a SIGKILL of serve_models.
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def test_serve_models_serves_the_newest_base_with_its_rounds_adapter(served):
    served_line = f"Kiln's own model {BASE} served by vLLM at {served.base_url}; adapters loaded: {ROUND} "
    assert served_line in served.output()
    assert "Round kiln-tiny-round-gone is not served: vLLM could not load the adapter" in served.output()
    models = httpx.get(f"{served.base_url}/models").json()["data"]
    assert [(m["id"], m["parent"]) for m in models] == [(BASE, None), (ROUND, BASE)]
    assert served_models(served.base_url) == [BASE, ROUND]


def test_kilns_generation_client_streams_from_vllm(served):
    for request in ("first", "second"):
        answer = stream(served.base_url, BASE, max_tokens=200)

        assert len(answer["deltas"]) >= 5, answer["deltas"]
        assert answer["finish_reason"] in ("stop", "length")
        assert answer["prompt_tokens"] > 5
        assert 0 < answer["completion_tokens"] <= 200
        print(f"\nbase, {request} chat request: first token {answer['first_token_s']:.3f} s, "
              f"{answer['completion_tokens']} tokens, {answer['tokens_per_s']:.0f} tokens/s")


def test_a_rounds_adapter_answers_differently_from_its_base(served):
    assert greedy(served.base_url, ROUND) != greedy(served.base_url, BASE)
    answer = stream(served.base_url, ROUND, max_tokens=200)
    assert len(answer["deltas"]) >= 5 and answer["completion_tokens"] > 0
    print(f"\nadapter: first token {answer['first_token_s']:.3f} s, {answer['completion_tokens']} tokens, "
          f"{answer['tokens_per_s']:.0f} tokens/s")


def test_an_adapter_loads_and_unloads_at_run_time(served, tmp_path):
    adapter = make_adapter(served.model_dir, tmp_path / "round-2", seed=2)

    started = time.monotonic()
    load_adapter(served.base_url, "kiln-tiny-round-2", adapter)
    print(f"\nadapter loaded at run time in {time.monotonic() - started:.3f} s")
    load_adapter(served.base_url, "kiln-tiny-round-2", adapter)  # a second load of the same name is fine
    models = {m["id"]: m["parent"] for m in httpx.get(f"{served.base_url}/models").json()["data"]}
    assert models["kiln-tiny-round-2"] == BASE
    assert greedy(served.base_url, "kiln-tiny-round-2") not in (greedy(served.base_url, BASE),
                                                                greedy(served.base_url, ROUND))

    unload_adapter(served.base_url, "kiln-tiny-round-2")
    assert served_models(served.base_url) == [BASE, ROUND]
    gone = httpx.post(f"{served.base_url}/completions", json={"model": "kiln-tiny-round-2", "prompt": "Hi"})
    assert gone.status_code == 404


def test_an_adapter_folder_that_is_not_there_is_a_clear_error(served, tmp_path):
    with pytest.raises(ServingError) as error:
        load_adapter(served.base_url, "kiln-missing", tmp_path / "missing")
    assert str(error.value).startswith(ADAPTER_NOT_LOADED.split("{detail}")[0].format(
        name="kiln-missing", path=tmp_path / "missing"))
    assert "No adapter found" in str(error.value)  # vLLM's own reason follows
    with pytest.raises(ServingError, match="cannot be found"):
        unload_adapter(served.base_url, "kiln-missing")


def test_sigterm_stops_vllm_and_every_process_it_started(served):
    vllm = _vllm_processes(served.model_dir)
    assert len(vllm) >= 2  # the API server and its engine
    # CPU time says what wall time cannot on a shared machine: vLLM's processes, start and all tests.
    print(f"\nvLLM's {len(vllm)} processes used {_cpu_s(vllm):.0f} CPU seconds")

    served.process.send_signal(signal.SIGTERM)

    assert served.process.wait(timeout=60) == 0, served.output()
    assert "Stopping vLLM." in served.output()
    with pytest.raises(httpx.TransportError):
        httpx.get(f"{served.base_url}/models", timeout=2)
    assert [pid for pid in vllm if pid in _processes() and _stat(pid)[0] != "Z"] == []


def test_a_model_vllm_cannot_load_fails_to_start_with_vllms_reason(tmp_path):
    folder = tmp_path / "not-a-model"
    folder.mkdir()
    config = {"architectures": ["KilnNoSuchModel"], "model_type": "kiln-no-such"}
    (folder / "config.json").write_text(json.dumps(config))
    server = ModelServer(folder, log_path=tmp_path / "vllm.log")

    with pytest.raises(ServingError) as error:
        server.start()

    message = str(error.value)
    assert message.startswith(f"vLLM did not start serving {folder} (it exited with status 1)")
    assert f"The last lines of its log, {tmp_path / 'vllm.log'}:" in message
    assert "does not recognize this architecture" in message  # vLLM's own reason, from the log's tail
    assert server.process is None and _vllm_processes(folder) == []


@pytest.mark.django_db
def test_serve_models_check_names_the_base_it_would_serve(tmp_path, capsys):
    with pytest.raises(CommandError, match=re.escape(NOTHING_REGISTERED)):
        call_command("serve_models", "--check")

    base = ModelVersion.objects.create(name="kiln-check", backend="kiln", artifact_dir=str(tmp_path / "gone"))
    with pytest.raises(CommandError) as error:
        call_command("serve_models", "--check")
    assert str(error.value) == MODEL_DIR_MISSING.format(path=base.artifact_dir)

    base.artifact_dir = str(tmp_path)
    base.save()
    call_command("serve_models", "--check", "--port", "8299")
    assert capsys.readouterr().out.strip() == "kiln-check http://127.0.0.1:8299/v1"
