"""Rows of the database as the platform would leave them after users voted and the sandbox scored."""

import json
import shutil
from pathlib import Path

import pytest
from django.core.management import call_command
from django.test import override_settings

from builder.models import AppVersion, Turn
from feedback.models import Feedback, PreferencePair
from generation.models import Generation, ModelVersion, OutputDefect
from generation.prompts import build_messages
from sandbox import docker_driver
from sandbox.image import ensure_runtime_image
from sandbox.models import Build
from training.corpus import target_text, training_items


@pytest.fixture(autouse=True)
def datasets_cache(tmp_path_factory, monkeypatch):
    # load_dataset writes Arrow copies of every file it reads: keep them out of the home folder.
    monkeypatch.setenv("HF_DATASETS_CACHE", str(tmp_path_factory.mktemp("hf-cache")))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")


class Platform:
    """Builds generations, votes, pairs, defects and builds the way Kiln records them."""

    def __init__(self, owner, project, model_version):
        self.owner = owner
        self.project = project
        self.model_version = model_version
        self._n = 0

    def turn(self, prompt="a todo list", *, history=(), files=None):
        turn = Turn.objects.create(project=self.project, prompt=prompt, seed=1)
        turn.messages = build_messages(history=list(history), files=files or {}, prompt=prompt)
        return turn

    def answer(self, turn=None, *, text=None, kind=Generation.Kind.FIRST, model_version=None,
               status=Generation.Status.DONE, messages=None, repair_of=None):
        turn = turn or self.turn()
        self._n += 1
        return Generation.objects.create(
            turn=turn, kind=kind, model_version=model_version or self.model_version, candidate=self._n, seed=self._n,
            status=status, request_messages=messages or getattr(turn, "messages", None)
            or build_messages(history=[], files={}, prompt=turn.prompt), repair_of=repair_of,
            raw_output=text if text is not None else f"Here is answer {self._n}.\n<file path=\"app.json\">{{}}</file>",
            prompt_tokens=100 + self._n, completion_tokens=40 + self._n,
        )

    def vote(self, generation, verdict):
        return Feedback.objects.create(user=self.owner, generation=generation, verdict=verdict)

    def pair(self, source, *, chosen=None, rejected=None, review_status="pending", feedback=None, chosen_text=None,
             prompt=None):
        turn = (chosen or rejected).turn if (chosen or rejected) else self.turn(f"prompt for a {source} pair")
        chosen = chosen or self.answer(turn)
        rejected = rejected or self.answer(turn)
        return PreferencePair.objects.create(
            prompt=prompt or chosen.request_messages,
            chosen=[{"role": "assistant", "content": chosen_text or chosen.raw_output}],
            rejected=[{"role": "assistant", "content": rejected.raw_output}],
            chosen_generation=chosen, rejected_generation=rejected, source=source, feedback=feedback,
            review_status=review_status,
        )

    def defect(self, generation, kind):
        return OutputDefect.objects.create(generation=generation, kind=kind, message=f"{kind} found")

    def build(self, generation, *, status=Build.Status.READY, failed_step="", build_passed=True, smoke_passed=True,
              scores=None):
        if generation.app_version_id is None:
            version = AppVersion.objects.create(project=self.project, manifest={}, digest=f"d{generation.id}")
            Generation.objects.filter(id=generation.id).update(app_version=version)
            generation.app_version = version
        return Build.objects.create(
            app_version=generation.app_version, status=status, failed_step=failed_step, build_passed=build_passed,
            smoke_passed=smoke_passed, scores=scores if scores is not None else {"console_errors": 0, "render_ms": 120},
        )

    def other_model(self, name="kiln-round-1"):
        return ModelVersion.objects.get_or_create(name=name, defaults={"base_model": name})[0]


@pytest.fixture
def platform(owner, project, model_version):
    return Platform(owner, project, model_version)


def export(out: Path, *args) -> dict:
    call_command("export_dataset", "--out", str(out), *args)
    return json.loads((out / "manifest.json").read_text())


def read_rows(out: Path, fmt: str, splits=("train", "test")) -> list[dict]:
    rows = []
    for split in splits:
        path = out / fmt / f"{split}.jsonl"
        rows += [json.loads(line) for line in path.read_text().splitlines()]
    return rows


@pytest.fixture
def voted_snapshot(platform, tmp_path):
    """What users leave behind, exported: on six prompts, a pick, an accept and a reject between the
    offline model's whole app and a broken answer (app.json cut off)."""
    for item in training_items(6, seed=5, follow_up_share=0.0):
        turn = platform.turn(item.prompt)
        good = platform.answer(turn, text=target_text(item, target="full"))
        bad = platform.answer(turn, text=f"Here is your {item.noun} app.\n<file path=\"app.json\">\n{{\"name\": ")
        platform.pair("pick", chosen=good, rejected=bad, feedback=platform.vote(good, "pick"))
        platform.vote(good, "accept")
        platform.vote(bad, "reject")
    out = tmp_path / "snapshot"
    export(out, "--holdout", "0")
    return out


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory):
    """The real runtime image and a sandbox folder of the module's own; smoke test on, no warm pool."""
    ensure_runtime_image()
    path = tmp_path_factory.mktemp("sbx")  # short: a Unix socket path must fit in 108 bytes
    with override_settings(SANDBOX_DIR=path, SMOKE_TEST=True, PREVIEW_POOL_SIZE=0):
        yield path
    docker_driver.remove_all_for_instance()
    shutil.rmtree(path, ignore_errors=True)
