"""A training round: a LoRA adapter trained on top of one of Kiln's own model versions, saved with a
`round.json` beside it and registered as a new, inactive ModelVersion.

Methods:

- `sft`, `dpo`, `kto`: TRL's trainers on a dataset snapshot written by `manage.py export_dataset`
  (`<format>/train.jsonl`, docs/datasets.md).
- `grpo`: TRL's GRPOTrainer (no vLLM: completions are sampled by the trained model itself) on training
  prompts from `training.corpus.training_items`, rendered with the tokenizer's chat template; the reward
  is Kiln's own scorer (`training.scoring.score_answer`).

Choices, kept simple on purpose:

- **LoRA** r=8, alpha 16, on all linear layers (PEFT). A round of a round *continues training the
  parent's adapter* (loaded trainable from its folder): every round's adapter applies to the same base
  model, so vLLM serves any round beside the base with `/v1/load_lora_adapter`, and TRL keeps a frozen
  copy of the parent's adapter as the reference policy of DPO, KTO (and GRPO when beta > 0).
- **Spec-mode bases and snapshots.** A snapshot's prompts are Kiln's full chat messages (system prompt,
  earlier turns, current files, the request). For a spec-mode base each row is converted to what that
  model is really sent and writes: the prompt becomes `generation.prompts.spec_messages(request,
  app_json=<the current app.json, for a follow-up>)`, and a completion becomes the spec answer
  (`training.corpus.spec_answer`: the explanation before the first block, then the app.json the answer
  leaves, written whole) when it parses with no fatal issue and writes or edits app.json. A row whose
  *good* side (SFT's answer, DPO's chosen, a KTO positive) cannot be cut to a spec is dropped; a *bad*
  side (DPO's rejected, a KTO negative) that cannot be cut is kept as written, since what was wrong with
  it is the lesson. The counts are in `round.json` (`rows`).
- **GRPO** samples at temperature 0.5 (see `Hyperparameters.temperature`), `num_generations` answers per
  prompt; an answer that reached `max_completion_length` without the end-of-turn token is scored as cut
  off (reward 0), as Kiln scores an answer the model server stopped at its token limit. `sandbox=True`
  (`--sandbox`) also builds and smoke-tests each distinct valid app (about 12 s each here); off by default.
- **CPU threads**: one when the machine is already busy, else torch's default (`cpu_threads`, measured).
- **Per step**: the trainer's loss (and GRPO's mean reward as Kiln's scorer computed it, with a few
  sampled completions and their scores, so a reader can check a reward by hand).
- **Peak RSS** is the process's (`resource.getrusage`), so it includes the imports and anything the
  process did before the round.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import resource
import tempfile
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from django.utils import timezone

from generation import protocol
from generation.models import ModelVersion

METHODS = ("sft", "dpo", "kto", "grpo")
SNAPSHOT_METHODS = ("sft", "dpo", "kto")
ROUND_JSON = "round.json"
LORA = {"r": 8, "lora_alpha": 16, "lora_dropout": 0.0, "target_modules": "all-linear"}
# TRL's default (1e-6) does not move a short LoRA round (platform notes). Measured with GRPO, 40 steps of
# 8 answers on a tiny spec base (300 SFT steps), greedy held-out reward on 32 unseen nouns: 0.17 -> 0.47
# at 5e-4 (valid specs 28 % -> 91 %), 0.17 -> 0.18 at 2e-4.
DEFAULT_LR = 5e-4
SAMPLES_PER_STEP = 2  # GRPO completions kept in round.json per step, with their scores

UNKNOWN_METHOD = "Unknown training method {method!r}: choose one of " + ", ".join(METHODS) + "."
NEEDS_SNAPSHOT = "--method {method} trains on a dataset snapshot: give --snapshot DIR (manage.py export_dataset)."
NOT_A_SNAPSHOT = "{path} is not a dataset snapshot: it has no manifest.json (manage.py export_dataset writes one)."
NO_FORMAT = "The snapshot has no {fmt}/train.jsonl: export it with --formats including {fmt}."
NO_ROWS = "The snapshot's {fmt} training split has no row this {mode}-mode model can learn from ({read} read)."
NOT_OWN_MODEL = "{name} is not one of Kiln's own models (backend kiln with an artifact_dir), so it cannot be trained."
MISSING_ARTIFACT = "{name}'s model folder {path} does not exist."
OUT_NOT_EMPTY = "{path} is not empty: a round writes into a new or empty folder."
NAME_TAKEN = "A model version named {name!r} exists already: choose another --name."
PROMPT_NOUNS = ("fresh", "training")
BAD_PROMPT_NOUNS = "prompt_nouns must be one of " + ", ".join(PROMPT_NOUNS) + ", not {value!r}."
BAD_BATCH = "The batch size ({batch}) must be a multiple of the number of generations per prompt ({generations})."


@dataclass
class Hyperparameters:
    steps: int = 20
    lr: float = DEFAULT_LR
    batch_size: int = 4
    max_length: int = 1024  # prompt + completion, in tokens (the model's context)
    # GRPO
    num_generations: int = 4  # completions per prompt, compared with each other
    max_completion_length: int = 256  # a spec answer is about 200 tokens
    # Sampling temperature. A small model sampled at 1.0 breaks its own protocol: a tiny base after 300
    # SFT steps earned a non-zero reward on 1 of 96 GRPO samples at 1.0, and on 59 of 96 at 0.5 (answers
    # that differ in reward are what GRPO learns from).
    temperature: float = 0.5
    beta: float = 0.0  # KL weight to the reference (TRL's default for GRPO)
    # GRPO's training prompts (each names a fresh noun). Many, so a round does not go over the same few
    # nouns again and again: 400 steps of 2 prompts each see 800 (1.3 s to make 512 of them).
    prompts: int = 1024
    # Whose nouns GRPO's training prompts name. "fresh": invented nouns the base never saw (neither its
    # training nor its held-out list). A base answers its own training nouns right every time, so their
    # groups all score alike and GRPO has nothing to compare: on kiln-small-spec-5, 120 steps on training
    # nouns gave reward 1.0 with zero spread in every group and +0.012 [-0.009, 0.037] held out
    # (docs/learning.md). "training": the bootstrap's own nouns.
    prompt_nouns: str = "fresh"
    sandbox: bool = False  # build and smoke-test rewarded apps (slow: seconds an answer)
    seed: int = 0
    threads: int = 0  # torch CPU threads; 0: all cores on an idle machine, one on a busy one (cpu_threads)
    lora: dict = field(default_factory=lambda: dict(LORA))


class RoundError(Exception):
    """A round that cannot start; the message says what to do."""


def train_round(base: ModelVersion, *, method: str, snapshot: Path | str | None = None, out_dir: Path | str,
                steps: int = 20, lr: float = DEFAULT_LR, name: str | None = None, progress: bool = True,
                **hyperparameters) -> ModelVersion:
    """Train one round on top of `base`, save its adapter and `round.json` in `out_dir` (a new or empty
    folder) and register it as an inactive ModelVersion (weight 0) whose parent is `base`.

    Extra keyword arguments are `Hyperparameters` fields (batch_size, num_generations, prompts,
    max_completion_length, sandbox, seed, ...)."""
    if method not in METHODS:
        raise RoundError(UNKNOWN_METHOD.format(method=method))
    if method in SNAPSHOT_METHODS and snapshot is None:
        raise RoundError(NEEDS_SNAPSHOT.format(method=method))
    params = Hyperparameters(steps=steps, lr=lr, **hyperparameters)
    if params.prompt_nouns not in PROMPT_NOUNS:
        raise RoundError(BAD_PROMPT_NOUNS.format(value=params.prompt_nouns))
    if method == "grpo" and params.batch_size % params.num_generations:
        raise RoundError(BAD_BATCH.format(batch=params.batch_size, generations=params.num_generations))
    base_dir, parent_adapter = model_folders(base)
    out = Path(out_dir)
    if out.exists() and any(out.iterdir()):
        raise RoundError(OUT_NOT_EMPTY.format(path=out))
    name = name or _round_name(base, method)
    if ModelVersion.objects.filter(name=name).exists():
        raise RoundError(NAME_TAKEN.format(name=name))
    snapshot = Path(snapshot) if snapshot is not None else None
    manifest_sha256 = _manifest_sha256(snapshot) if snapshot is not None else None

    started, started_at = time.monotonic(), timezone.now()
    import torch  # the ML stack loads only when a round really runs (it costs seconds)
    from transformers import AutoTokenizer

    torch.manual_seed(params.seed)
    params.threads = params.threads or cpu_threads(torch.get_num_threads())
    log = RoundLog()
    with tempfile.TemporaryDirectory(prefix="kiln-round-") as scratch, torch_threads(params.threads):
        tokenizer = AutoTokenizer.from_pretrained(base_dir)
        model = _load_model(base_dir, parent_adapter)
        if method == "grpo":
            rows = None
            trainer = _grpo_trainer(model, tokenizer, base, params, scratch, log, progress, parent_adapter)
        else:
            dataset, rows = snapshot_rows(snapshot, method, mode=base.output_mode)
            trainer = _preference_trainer(method, model, tokenizer, dataset, params, scratch, progress,
                                          parent_adapter)
        trainer.train()
        out.mkdir(parents=True, exist_ok=True)
        trainer.model.save_pretrained(out, selected_adapters=["default"])
        log_history = list(trainer.state.log_history)

    record = {
        "name": name,
        "parent": {"name": base.name, "id": base.id},
        "base_dir": str(base_dir),
        "parent_adapter": str(parent_adapter) if parent_adapter else None,
        "output_mode": base.output_mode,
        "method": method,
        "snapshot": {"path": str(snapshot.resolve()), "manifest_sha256": manifest_sha256} if snapshot else None,
        "hyperparameters": _jsonable(params.__dict__),
        "rows": rows,
        "steps": log.per_step(log_history),
        "train_s_per_step": _seconds_per_step(log_history),
        "samples": log.samples,
        "started_at": started_at.isoformat(),
        "wall_s": round(time.monotonic() - started, 2),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "versions": _versions(),
    }
    (out / ROUND_JSON).write_text(json.dumps(record, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return register_round(base, out, record)


def model_folders(version: ModelVersion) -> tuple[Path, Path | None]:
    """(the base model's folder, the parent's adapter folder or None) of one of Kiln's own versions."""
    if version.backend != ModelVersion.Backend.KILN or not version.artifact_dir:
        raise RoundError(NOT_OWN_MODEL.format(name=version.name))
    artifact = Path(version.artifact_dir)
    if not artifact.is_dir():
        raise RoundError(MISSING_ARTIFACT.format(name=version.name, path=artifact))
    if (version.training or {}).get("kind") == "round":
        return Path(version.training["base_dir"]), artifact
    return artifact, None


def register_round(base: ModelVersion, out: Path, record: dict) -> ModelVersion:
    return ModelVersion.objects.create(
        name=record["name"], backend=ModelVersion.Backend.KILN, is_active=False, weight=0, parent=base,
        output_mode=base.output_mode, artifact_dir=str(out.resolve()),
        training={
            "kind": "round", "method": record["method"], "base_dir": record["base_dir"],
            "snapshot_sha256": (record["snapshot"] or {}).get("manifest_sha256"),
            "round_json": str((out / ROUND_JSON).resolve()), "steps": record["hyperparameters"]["steps"],
            "wall_s": record["wall_s"],
        },
    )


# --- snapshot rows ---------------------------------------------------------------------------------

def snapshot_rows(snapshot: Path, method: str, *, mode: str):
    """The training split of the method's format as a `datasets.Dataset` in TRL's conversational form,
    converted for a spec-mode model (module docstring), and the counts {read, kept}."""
    import datasets

    fmt = method  # each snapshot method trains on the format of its name
    path = snapshot / fmt / "train.jsonl"
    if not path.is_file():
        raise RoundError(NO_FORMAT.format(fmt=fmt))
    rows, read = [], 0
    with path.open(encoding="utf-8") as lines:
        for line in lines:
            if not line.strip():
                continue
            read += 1
            row = json.loads(line)
            converted = _convert(row, method) if mode == ModelVersion.OutputMode.SPEC else _plain(row, method)
            if converted is not None:
                rows.append(converted)
    if not rows:
        raise RoundError(NO_ROWS.format(fmt=fmt, mode=mode, read=read))
    return datasets.Dataset.from_list(rows), {"read": read, "kept": len(rows)}


def _plain(row: dict, method: str) -> dict:
    keys = {"sft": ("messages",), "dpo": ("prompt", "chosen", "rejected"), "kto": ("prompt", "completion", "label")}
    return {key: row[key] for key in keys[method]}


def _convert(row: dict, method: str) -> dict | None:
    if method == "sft":
        *prompt, answer = row["messages"]
        messages, files = spec_prompt(prompt)
        spec = spec_completion(answer["content"], files)
        return None if spec is None else {"messages": [*messages, _assistant(spec)]}
    messages, files = spec_prompt(row["prompt"])
    if method == "dpo":
        chosen = spec_completion(row["chosen"][-1]["content"], files)
        if chosen is None:
            return None
        rejected = spec_completion(row["rejected"][-1]["content"], files) or row["rejected"][-1]["content"]
        return {"prompt": messages, "chosen": [_assistant(chosen)], "rejected": [_assistant(rejected)]}
    text = row["completion"][-1]["content"]
    spec = spec_completion(text, files)
    if spec is None and row["label"]:
        return None
    return {"prompt": messages, "completion": [_assistant(spec or text)], "label": row["label"]}


def _assistant(text: str) -> dict:
    return {"role": "assistant", "content": text}


def spec_prompt(messages: list[dict]) -> tuple[list[dict], dict[str, str]]:
    """Kiln's full prompt as a spec-mode model is sent it (`spec_messages`), and the app's current files
    (the base an answer's edits apply to). A prompt already in spec form is kept."""
    from generation.prompts import REQUEST_HEADING, SPEC_SYSTEM_PROMPT, spec_messages

    if messages and messages[0].get("role") == "system" and messages[0].get("content") == SPEC_SYSTEM_PROMPT:
        last = messages[-1]["content"]
        files = protocol.parse(last.split(REQUEST_HEADING, 1)[0]).files if REQUEST_HEADING in last else {}
        return [dict(m) for m in messages], files
    last = messages[-1]["content"]
    files, request = {}, last
    # build_context puts the current files first, then context notes, then the heading and the request:
    # the heading that counts is the first one after the last file block (a file may contain one too).
    heading = last.find(f"\n{REQUEST_HEADING}\n", max(last.rfind("</file>"), 0))
    if heading != -1:
        files = protocol.parse(last[:heading]).files
        request = last[heading + len(REQUEST_HEADING) + 2:]
    elif _CONTEXT_NOTE.match(last):
        request = last.split("\n\n", 1)[-1]
    return spec_messages(request, app_json=files.get("app.json")), files


_CONTEXT_NOTE = re.compile(r"^Context note: ")


def spec_completion(answer: str, files: dict[str, str]) -> str | None:
    """The spec answer an answer amounts to (its explanation, then the app.json it leaves, whole), or
    None when it parses with a fatal issue or does not write or edit a readable app.json."""
    from training.corpus import spec_answer

    parsed = protocol.parse(answer, "stop", base_files=files)
    if parsed.has_fatal or "app.json" not in parsed.changed_paths or "app.json" not in parsed.result_files():
        return None
    try:
        data = json.loads(parsed.result_files()["app.json"])
    except ValueError:
        return None
    if not isinstance(data, dict):
        return None
    intro = answer.split("<file ", 1)[0].split("<edit ", 1)[0].strip()
    return spec_answer(intro, data)


# --- trainers --------------------------------------------------------------------------------------


def _load_model(base_dir: Path, parent_adapter: Path | None):
    import torch
    from peft import PeftModel
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(base_dir, dtype=torch.float32)
    if parent_adapter is not None:
        model = PeftModel.from_pretrained(model, parent_adapter, is_trainable=True)
    return model


def _lora(params: Hyperparameters, parent_adapter: Path | None):
    from peft import LoraConfig

    # A round of a round trains the parent's adapter further (it is already on the model).
    return None if parent_adapter is not None else LoraConfig(task_type="CAUSAL_LM", **params.lora)


def _common_args(params: Hyperparameters, scratch: str, progress: bool) -> dict:
    import torch

    # Without a GPU, TRL must be told to use the CPU and not bf16 (platform notes); with one (not yet tried
    # here) it trains there, in float32 like the CPU. Checkpointing only slows a model this small.
    return {
        "output_dir": scratch, "max_steps": params.steps, "per_device_train_batch_size": params.batch_size,
        "learning_rate": params.lr, "use_cpu": not torch.cuda.is_available(), "bf16": False,
        "gradient_checkpointing": False, "logging_steps": 1, "report_to": [], "save_strategy": "no",
        "disable_tqdm": not progress, "seed": params.seed,
    }


def _preference_trainer(method, model, tokenizer, dataset, params, scratch, progress, parent_adapter):
    import trl

    args = _common_args(params, scratch, progress) | {"max_length": params.max_length}
    if method == "sft":
        config = trl.SFTConfig(**args, assistant_only_loss=True)
        trainer_class = trl.SFTTrainer
    elif method == "dpo":
        config = trl.DPOConfig(**args)
        trainer_class = trl.DPOTrainer
    else:
        # KTO estimates its KL term from rows in order: no shuffling (platform notes).
        config = trl.KTOConfig(**args)
        trainer_class = trl.KTOTrainer
    return trainer_class(model=model, args=config, train_dataset=dataset, processing_class=tokenizer,
                         peft_config=_lora(params, parent_adapter))


def _grpo_trainer(model, tokenizer, base, params, scratch, log, progress, parent_adapter):
    import datasets
    import trl

    from training.corpus import fresh_nouns, training_items

    nouns = fresh_nouns(params.prompts, seed=params.seed, stream="grpo") if params.prompt_nouns == "fresh" else None
    items = training_items(params.prompts, seed=params.seed, nouns=nouns)
    prompts = [tokenizer.apply_chat_template(list(item.messages), tokenize=False, add_generation_prompt=True)
               for item in items]
    dataset = datasets.Dataset.from_dict({"prompt": prompts, "item_index": list(range(len(items)))})
    reward = KilnReward(items, mode=base.output_mode, sandbox=params.sandbox, log=log,
                        eos_ids={tokenizer.eos_token_id, tokenizer.pad_token_id})
    config = trl.GRPOConfig(
        **_common_args(params, scratch, progress), num_generations=params.num_generations,
        max_completion_length=params.max_completion_length, temperature=params.temperature, beta=params.beta,
        use_vllm=False,
    )
    trainer = trl.GRPOTrainer(model=model, reward_funcs=reward, args=config, train_dataset=dataset,
                              processing_class=tokenizer, peft_config=_lora(params, parent_adapter))
    reward.trainer = trainer
    return trainer


class KilnReward:
    """GRPO's reward function: `training.scoring.score_answer` for each completion. A completion that
    ended at max_completion_length without the end-of-turn token is scored as cut off, as Kiln scores an
    answer the model server stopped at its token limit."""

    __name__ = "kiln_score"  # TRL names the reward in its logs after the function

    def __init__(self, items, *, mode: str, sandbox: bool, log: RoundLog, eos_ids: set):
        self.items, self.mode, self.sandbox, self.log, self.eos_ids = items, mode, sandbox, log, eos_ids
        self.trainer = None

    def __call__(self, prompts, completions, completion_ids, item_index, **_) -> list[float]:
        from training.scoring import score_answer

        step = self.trainer.state.global_step + 1 if self.trainer is not None else 0
        rewards = []
        for text, ids, index in zip(completions, completion_ids, item_index, strict=True):
            finish = "length" if not ids or ids[-1] not in self.eos_ids else "stop"
            score = score_answer(self.items[index], text, mode=self.mode, sandbox=self.sandbox,
                                 finish_reason=finish)
            rewards.append(score.reward)
            self.log.sample(step, self.items[index], text, finish, score)
        self.log.rewards.setdefault(step, []).extend(rewards)
        return rewards


class RoundLog:
    """What a round records per step beside the trainer's own log."""

    def __init__(self):
        self.rewards: dict[int, list[float]] = {}
        self.samples: list[dict] = []
        self._kept: dict[int, int] = {}

    def sample(self, step: int, item, text: str, finish: str, score) -> None:
        if self._kept.get(step, 0) >= SAMPLES_PER_STEP:
            return
        self._kept[step] = self._kept.get(step, 0) + 1
        self.samples.append({
            "step": step, "prompt": item.prompt, "entity": item.entity, "fields": list(item.fields),
            "completion": text, "finish_reason": finish, "reward": score.reward, "valid": score.valid,
            "entity_right": score.entity_right, "field_f1": score.field_f1, "build_passed": score.build_passed,
            "smoke_passed": score.smoke_passed, "defects": list(score.defects),
        })

    def per_step(self, log_history: list[dict]) -> list[dict]:
        steps = []
        for entry in log_history:
            if "loss" not in entry or "step" not in entry:
                continue
            row = {"step": entry["step"], "loss": entry["loss"]}
            if "learning_rate" in entry:
                row["learning_rate"] = entry["learning_rate"]
            rewards = self.rewards.get(entry["step"])
            if rewards is not None:
                row["reward_mean"] = sum(rewards) / len(rewards)
                row["rewards"] = rewards
            steps.append(row)
        return steps


# --- small helpers ---------------------------------------------------------------------------------


def _manifest_sha256(snapshot: Path) -> str:
    manifest = snapshot / "manifest.json"
    if not manifest.is_file():
        raise RoundError(NOT_A_SNAPSHOT.format(path=snapshot))
    return hashlib.sha256(manifest.read_bytes()).hexdigest()


def _round_name(base: ModelVersion, method: str) -> str:
    """<base>-<method>-<n>, the first n not taken (names are unique; ModelVersion.name is 100 chars)."""
    stem = f"{base.name[:80]}-{method}"
    n = 1
    while ModelVersion.objects.filter(name=f"{stem}-{n}").exists():
        n += 1
    return f"{stem}-{n}"


def cpu_threads(default: int) -> int:
    """Torch's thread count, or one when other work already keeps the cores busy: threads that wait on
    each other on an oversubscribed machine cost more than they give (measured on the 2-core machine at
    load 9: a tiny model sampled 8 x 200 tokens in 31 s with two threads, in 2.2 s with one)."""
    cores = os.cpu_count() or 1
    return 1 if os.getloadavg()[0] >= cores else default


@contextmanager
def torch_threads(threads: int):
    """Torch's thread count is the whole process's: set it for the round and put it back after."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def _seconds_per_step(log_history: list[dict]) -> float | None:
    """The trainer's own time per step (its train_runtime over the steps), without loading the model."""
    summary = next((entry for entry in log_history if "train_runtime" in entry), None)
    if not summary or not summary.get("step"):
        return None
    return round(summary["train_runtime"] / summary["step"], 3)


def _jsonable(values: dict) -> dict:
    return json.loads(json.dumps(values, default=str))


def _versions() -> dict:
    import peft
    import torch
    import transformers
    import trl

    return {"torch": torch.__version__, "transformers": transformers.__version__, "trl": trl.__version__,
            "peft": peft.__version__}
