"""A training round on a tiny spec-mode base made on the spot (tests/training/factory.py): each method
runs a few steps, saves an adapter PEFT loads, writes round.json and registers an inactive version
whose parent is the base; GRPO's rewards are Kiln's scorer's."""

import hashlib
import json
import math
from pathlib import Path

import pytest
import torch
from django.core.management import CommandError, call_command
from peft import PeftModel
from transformers import AutoModelForCausalLM

from generation import protocol
from generation.blueprint.responder import respond
from generation.models import ModelVersion
from generation.prompts import build_messages, spec_messages
from tests.training.conftest import export
from tests.training.factory import make_tiny_base
from training.corpus import fresh_nouns, noun_split, target_text, training_items
from training.rounds import (
    NEEDS_SNAPSHOT,
    NO_ROWS,
    NOT_OWN_MODEL,
    ROUND_JSON,
    KilnReward,
    RoundError,
    RoundLog,
    cpu_threads,
    spec_completion,
    spec_prompt,
    torch_threads,
    train_round,
)
from training.scoring import score_answer

pytestmark = pytest.mark.django_db

ROUND_FIELDS = {"name", "parent", "base_dir", "method", "snapshot", "hyperparameters", "steps", "wall_s",
                "peak_rss_mb", "started_at", "rows", "samples", "versions", "output_mode"}
# Small and fast: the tiny model's context is short and these runs only prove the machinery.
FAST = {"batch_size": 4, "max_length": 512}


@pytest.fixture(scope="module")
def base_dir(tmp_path_factory):
    # The same thread rule as a round's: on a busy machine one thread trains several times faster.
    with torch_threads(cpu_threads(torch.get_num_threads())):
        return make_tiny_base(tmp_path_factory.mktemp("tiny-base"), trained=True)


@pytest.fixture
def base(base_dir):
    return ModelVersion.objects.create(
        name="tiny-spec", backend=ModelVersion.Backend.KILN, is_active=False, weight=0,
        output_mode=ModelVersion.OutputMode.SPEC, artifact_dir=str(base_dir), training={"kind": "base"},
    )


def read_round(version) -> dict:
    return json.loads(Path(version.training["round_json"]).read_text(encoding="utf-8"))


def load_adapter(base_dir, version):
    model = AutoModelForCausalLM.from_pretrained(base_dir, dtype=torch.float32)
    return PeftModel.from_pretrained(model, version.artifact_dir)


def lora_b_norm(model) -> float:
    """LoRA's B matrices start at zero: a non-zero norm means the adapter learned something."""
    return sum(p.abs().sum().item() for n, p in model.named_parameters() if "lora_B" in n)


def assert_registered(version, base, method, steps):
    assert version.parent == base and version.backend == ModelVersion.Backend.KILN
    assert (version.is_active, version.weight, version.output_mode) == (False, 0, base.output_mode)
    assert version.training["kind"] == "round" and version.training["method"] == method
    assert version.training["base_dir"] == (base.training.get("base_dir") or base.artifact_dir)
    assert Path(version.training["round_json"]) == Path(version.artifact_dir) / ROUND_JSON
    record = read_round(version)
    assert ROUND_FIELDS <= set(record)
    assert record["parent"] == {"name": base.name, "id": base.id} and record["method"] == method
    assert [s["step"] for s in record["steps"]] == list(range(1, steps + 1))
    assert all(math.isfinite(s["loss"]) for s in record["steps"])
    assert record["wall_s"] > 0 and record["peak_rss_mb"] > 100
    return record


def test_a_kto_round_on_a_snapshot_trains_an_adapter_and_registers_it(base, base_dir, voted_snapshot, tmp_path):
    version = train_round(base, method="kto", snapshot=voted_snapshot, out_dir=tmp_path / "round", steps=2, lr=1e-3,
                          progress=False, **FAST)
    record = assert_registered(version, base, "kto", steps=2)
    manifest_sha256 = hashlib.sha256((voted_snapshot / "manifest.json").read_bytes()).hexdigest()
    assert record["snapshot"]["manifest_sha256"] == version.training["snapshot_sha256"] == manifest_sha256
    assert record["hyperparameters"]["lr"] == 1e-3 and record["hyperparameters"]["lora"]["r"] == 8
    # Six good answers (whole apps, cut to specs) and six broken ones (kept as negatives).
    assert record["rows"] == {"read": 12, "kept": 12}
    assert lora_b_norm(load_adapter(base_dir, version)) > 0


def test_snapshot_rows_are_cut_to_the_spec_prompt_and_answer_of_a_spec_model(voted_snapshot):
    from generation.prompts import SPEC_SYSTEM_PROMPT
    from training.rounds import snapshot_rows

    dataset, counts = snapshot_rows(voted_snapshot, "sft", mode="spec")
    assert counts == {"read": 6, "kept": 6}
    for row in dataset:
        system, user, answer = row["messages"]
        assert system["content"] == SPEC_SYSTEM_PROMPT and "## Request" not in user["content"]
        # A spec answer: only app.json, and the answer is worth the full reward for its prompt.
        assert answer["content"].count("<file ") == 1 and 'path="app.json"' in answer["content"]
    dataset, counts = snapshot_rows(voted_snapshot, "dpo", mode="spec")
    assert counts["kept"] == 6 and all('<file path="app.json">' in r["rejected"][0]["content"] for r in dataset)


def test_a_follow_up_row_becomes_the_spec_prompt_with_the_current_app_json_and_the_new_spec():
    item = training_items(1, seed=2, follow_up_share=0.0)[0]
    first = target_text(item, target="full")
    files = protocol.parse(first).result_files()
    request = "add a notes field"
    messages = build_messages(history=[(item.prompt, first)], files=files, prompt=request)
    answer = respond(messages, seed=0)  # the offline model's follow-up: <edit> blocks against the files
    assert "<edit " in answer

    spec_prompt_messages, current = spec_prompt(messages)
    assert spec_prompt_messages == spec_messages(request, app_json=files["app.json"]) and current == files
    spec = spec_completion(answer, current)
    written = protocol.parse(spec).result_files()
    assert list(written) == ["app.json"] and written["app.json"] != files["app.json"]
    assert "notes" in json.loads(written["app.json"])["entities"][item.entity]["fields"]
    # An answer that wrote no app.json is no spec.
    assert spec_completion("I cannot do that.", current) is None


def test_the_grpo_reward_is_kilns_score_of_each_completion():
    items = training_items(2, seed=0, follow_up_share=0.0)
    log = RoundLog()
    reward = KilnReward(items, mode="spec", sandbox=False, log=log, eos_ids={7})
    right, wrong = target_text(items[0]), target_text(items[1])
    # The third completion never wrote the end-of-turn token (7): the model ran out of tokens.
    rewards = reward(prompts=["p"] * 3, completions=[right, wrong, right], completion_ids=[[1, 7], [1, 7], [1, 2]],
                     item_index=[0, 0, 0])
    assert rewards == [1.0, score_answer(items[0], wrong).reward, 0.0]
    assert 0 < rewards[1] < 1
    assert log.rewards == {0: rewards} and [s["finish_reason"] for s in log.samples] == ["stop", "stop"]


def test_grpo_rewards_each_step_with_kilns_scorer(base, base_dir, tmp_path):
    version = train_round(base, method="grpo", out_dir=tmp_path / "grpo", steps=2, lr=1e-3, progress=False,
                          batch_size=4, num_generations=4, max_completion_length=48, prompts=4)
    record = assert_registered(version, base, "grpo", steps=2)
    assert record["snapshot"] is None and version.training["snapshot_sha256"] is None
    for step in record["steps"]:
        assert len(step["rewards"]) == 4 and all(0.0 <= r <= 1.0 for r in step["rewards"])
        assert step["reward_mean"] == pytest.approx(sum(step["rewards"]) / 4)
    # The prompts name fresh invented nouns: ones the base never saw, so its answers differ in reward.
    assert record["hyperparameters"]["prompt_nouns"] == "fresh"
    fresh = fresh_nouns(4, seed=0, stream="grpo")
    assert not set(fresh) & set(noun_split()[0] + noun_split()[1])
    # A logged completion, scored again by hand, gets the reward the round recorded for it.
    items = {item.prompt: item for item in training_items(4, seed=0, nouns=fresh)}
    assert record["samples"] and all(items[sample["prompt"]].noun in fresh for sample in record["samples"])
    for sample in record["samples"]:
        again = score_answer(items[sample["prompt"]], sample["completion"], finish_reason=sample["finish_reason"])
        assert again.reward == sample["reward"]
        assert sample["reward"] in next(s["rewards"] for s in record["steps"] if s["step"] == sample["step"])
    load_adapter(base_dir, version)


def test_an_sft_round_then_a_dpo_round_on_it_through_the_command(base, base_dir, voted_snapshot, tmp_path):
    first = train_round(base, method="sft", snapshot=voted_snapshot, out_dir=tmp_path / "r1", steps=2, lr=1e-3,
                        progress=False, **FAST)
    assert assert_registered(first, base, "sft", steps=2)["rows"] == {"read": 6, "kept": 6}
    first_norm = lora_b_norm(load_adapter(base_dir, first))
    assert first_norm > 0
    # A round of a round trains the parent's adapter further.
    call_command("train_round", "--base", first.name, "--method", "dpo", "--snapshot", str(voted_snapshot), "--steps", "2",
                 "--lr", "1e-3", "--out", str(tmp_path / "r2"), "--no-progress", "--max-length", "512")
    second = ModelVersion.objects.get(parent=first)
    assert second.name == "tiny-spec-sft-1-dpo-1"
    record = assert_registered(second, first, "dpo", steps=2)
    assert record["parent_adapter"] == first.artifact_dir and record["base_dir"] == base.artifact_dir
    # The new adapter applies to the same base model (so vLLM serves it beside the base) and moved on
    # from the parent's weights.
    assert lora_b_norm(load_adapter(base_dir, second)) != first_norm


def test_a_round_refuses_what_it_cannot_train(base, platform, tmp_path):
    with pytest.raises(RoundError, match="give --snapshot"):
        train_round(base, method="dpo", out_dir=tmp_path / "x", steps=1)
    assert NEEDS_SNAPSHOT.format(method="dpo").startswith("--method dpo")
    offline = ModelVersion.objects.create(name="blueprint-x", backend=ModelVersion.Backend.BLUEPRINT)
    with pytest.raises(RoundError) as error:
        train_round(offline, method="grpo", out_dir=tmp_path / "x", steps=1)
    assert str(error.value) == NOT_OWN_MODEL.format(name="blueprint-x")
    with pytest.raises(RoundError, match="prompt_nouns must be one of fresh, training, not 'held-out'"):
        train_round(base, method="grpo", out_dir=tmp_path / "x", steps=1, prompt_nouns="held-out")
    with pytest.raises(CommandError, match="no model version named"):
        call_command("train_round", "--base", "nope", "--method", "grpo", "--out", str(tmp_path / "x"))


def test_a_snapshot_with_nothing_a_spec_model_can_learn_is_refused(base, platform, tmp_path):
    turn = platform.turn("a plant tracker")
    platform.vote(platform.answer(turn, text="I cannot write that, sorry."), "accept")
    out = tmp_path / "snapshot"
    export(out, "--holdout", "0")
    with pytest.raises(RoundError) as error:
        train_round(base, method="sft", snapshot=out, out_dir=tmp_path / "r", steps=1)
    assert str(error.value) == NO_ROWS.format(fmt="sft", mode="spec", read=1)
