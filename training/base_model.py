"""Kiln's own base model, made from scratch: no weights can be downloaded anywhere Kiln runs, so it
bootstraps a small specialist the way a new product would: a synthetic corpus from the offline
blueprint model (training.corpus), a tokenizer trained on it (training.tokenizer), a small Qwen2-shaped
transformer built from its config, supervised fine-tuning with TRL on the assistant's answers only, and
the result saved in the standard format (`save_pretrained`: what transformers, PEFT and vLLM load) and
registered as a ModelVersion (inactive, weight 0: promotion gives it traffic).

`bootstrap` measures what it made on held-out prompts whose nouns never appear in the corpus: the share
of answers naming the right entity (copying the noun is the only way to get it), valid specs and field
F1, and writes it all to bootstrap.json beside the weights.
"""

from __future__ import annotations

import json
import os
import random
import resource
import tempfile
import time
from pathlib import Path

# No hub is reachable: loading must never try one (and datasets' Arrow copies go to a scratch folder).
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_CACHE", os.path.join(tempfile.gettempdir(), "kiln-hf-datasets"))

import torch  # noqa: E402
from transformers import (  # noqa: E402
    GenerationConfig,
    PreTrainedTokenizerFast,
    Qwen2Config,
    Qwen2ForCausalLM,
    TrainerCallback,
)

from generation.models import ModelVersion  # noqa: E402
from training import corpus, scoring  # noqa: E402
from training.tokenizer import train_tokenizer  # noqa: E402

MAX_LENGTH = 1024  # the context the model is trained and served with (vLLM --max-model-len)

# Qwen2Config kwargs per size, and the tokenizer's vocabulary. Figures for this 2-core machine are in
# bootstrap.json of a run and in the report of issue 13.
SIZES = {
    "tiny": {
        "vocab_size": 600,
        "hidden_size": 64,
        "intermediate_size": 128,
        "num_hidden_layers": 2,
        # head size 32: vLLM's CPU attention takes head sizes of 32 and up (16 fails on the first request).
        "num_attention_heads": 2,
        "num_key_value_heads": 1,
    },
    "small": {
        "vocab_size": 1200,
        "hidden_size": 128,
        "intermediate_size": 384,
        "num_hidden_layers": 4,
        "num_attention_heads": 4,
        "num_key_value_heads": 2,
    },
}
# What a bootstrap does by default at each size (the command's options override them).
DEFAULTS = {
    "tiny": {"examples": 160, "explanations": 80, "steps": 16, "batch_size": 8, "learning_rate": 3e-3, "eval_n": 4,
             "probe_every": None},
    # 9,000 steps: the copy of an unseen noun appears around step 3,000 and passes 80 % near 6,000
    # (docs/learning.md, kiln-small-spec-5: 82 % of 100 held-out prompts, 57 min on one thread).
    "small": {"examples": 2880, "explanations": 5760, "steps": 9000, "batch_size": 8, "learning_rate": 3e-3,
              "eval_n": 100, "probe_every": 500},
}
MAX_NEW_TOKENS = {"spec": 360, "full": MAX_LENGTH}  # a spec answer is about 200 tokens
PROBE_N = 16  # held-out prompts measured at each probe during training (a seed of their own)
SERVING_TEMPERATURE = 0.5  # the default sampling temperature vLLM serves the model with (see _save)

NAME_TAKEN = "A model version named {name!r} exists already: choose another name."
NOT_A_MODEL = "{path} holds no saved model (config.json and tokenizer.json are missing)."
UNKNOWN_SIZE = "Unknown size {size!r}: choose one of {choices}."


def chat_rows(items: list[corpus.PromptItem], target: str) -> list[dict]:
    """TRL's conversational rows: the item's messages and the offline model's answer."""
    rows = []
    for item in items:
        answer = corpus.target_text(item, target=target)
        rows.append({"messages": [*item.messages, {"role": "assistant", "content": answer}]})
    return rows


def tokenized_rows(rows: list[dict], tokenizer: PreTrainedTokenizerFast, *, explanation_only: bool = False
                   ) -> list[dict]:
    """The rows as token ids and the assistant mask TRL's assistant-only loss takes. `explanation_only`:
    each answer cut after its explanation (before app.json), with no end token, so the model learns that
    prefix of the real answer and nothing about where an answer ends. The explanation names the noun
    three times and the fields once: dense in copying from the prompt, at a third of a whole answer."""
    out = []
    for row in rows:
        messages = row["messages"]
        if explanation_only:
            intro = messages[-1]["content"].split("\n\n<file ", 1)[0]
            messages = [*messages[:-1], {"role": "assistant", "content": intro}]
        rendered = tokenizer.apply_chat_template(messages, tokenize=True, return_dict=True,
                                                 return_assistant_tokens_mask=True)
        ids, mask = list(rendered["input_ids"]), list(rendered["assistant_masks"])
        if explanation_only:
            end = len(ids) - 1 - ids[::-1].index(tokenizer.eos_token_id)
            ids, mask = ids[:end], mask[:end]
        out.append({"input_ids": ids, "assistant_masks": mask})
    return out


def _texts(rows: list[dict]) -> list[str]:
    return [m["content"] for row in rows for m in row["messages"]]


def _config(size: str, tokenizer: PreTrainedTokenizerFast) -> Qwen2Config:
    if size not in SIZES:
        raise ValueError(UNKNOWN_SIZE.format(size=size, choices=", ".join(SIZES)))
    kwargs = {k: v for k, v in SIZES[size].items() if k != "vocab_size"}
    return Qwen2Config(
        vocab_size=len(tokenizer), max_position_embeddings=MAX_LENGTH, tie_word_embeddings=True,
        eos_token_id=tokenizer.eos_token_id, pad_token_id=tokenizer.pad_token_id, bos_token_id=None,
        **kwargs,
    )


def share_letter_embeddings(model, tokenizer: PreTrainedTokenizerFast) -> int:
    """Starts the first-letter tokens ("z", "Z", " z", " Z": a piece of their own, see training.tokenizer)
    as one vector per letter plus one for capitals and one for a leading space. Copying a noun means
    matching "Zorblat" in the answer with " zorblats" in the prompt: from a random start the model has to
    learn that "Z" and " z" are the same letter before any copy can work (measured: 0 % right entity
    after 1,000 steps); with this start they are alike from the first step and it learns the case and the
    space as two directions. Returns how many tokens it set (a start only: training moves them all)."""
    embeddings = model.get_input_embeddings().weight
    std = model.config.initializer_range
    generator = torch.Generator().manual_seed(0)
    letters = {c: torch.randn(embeddings.shape[1], generator=generator) * std for c in "abcdefghijklmnopqrstuvwxyz"}
    capital = torch.randn(embeddings.shape[1], generator=generator) * std
    space = torch.randn(embeddings.shape[1], generator=generator) * std
    count = 0
    with torch.no_grad():
        for token, index in tokenizer.get_vocab().items():
            letter = token[1:] if token.startswith("Ġ") else token
            if len(letter) != 1 or not letter.isascii() or not letter.isalpha():
                continue
            vector = letters[letter.lower()] + (capital if letter.isupper() else 0) + (space if token != letter else 0)
            embeddings[index] = vector + torch.randn(embeddings.shape[1], generator=generator) * std * 0.1
            count += 1
    return count


def _save(model, tokenizer: PreTrainedTokenizerFast, out_dir: Path) -> None:
    # vLLM takes its default sampling from this file, and Kiln's generation path sends no temperature:
    # sampled at 1.0 a small model breaks its own protocol (a tiny base: 25 % valid specs served at 1.0
    # where greedy decoding gave 100 %). 0.5 is what GRPO rounds sample at (training.rounds).
    model.generation_config = GenerationConfig(
        eos_token_id=tokenizer.eos_token_id, pad_token_id=tokenizer.pad_token_id, do_sample=True,
        temperature=SERVING_TEMPERATURE,
    )
    model.save_pretrained(str(out_dir))
    tokenizer.save_pretrained(str(out_dir))


def create_untrained(out_dir: Path | str, *, size: str = "tiny", texts: list[str] | None = None) -> Path:
    """A tokenizer trained on `texts` (default: a small corpus sample) and a model with random weights,
    saved as a standard model folder. Fast: what tests use when they need a real model to load."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    if texts is None:
        texts = _texts(chat_rows(corpus.training_items(60, seed=0), "spec"))
    tokenizer = train_tokenizer(texts, vocab_size=SIZES[size]["vocab_size"])
    torch.manual_seed(0)
    _save(Qwen2ForCausalLM(_config(size, tokenizer)), tokenizer, out_dir)
    return out_dir


def bootstrap(
    out_dir: Path | str,
    *,
    size: str = "tiny",
    target: str = "spec",
    examples: int | None = None,
    explanations: int | None = None,
    steps: int | None = None,
    batch_size: int | None = None,
    learning_rate: float | None = None,
    eval_n: int | None = None,
    seed: int = 0,
    max_minutes: float | None = None,
    probe_every: int | None = None,
    progress: bool = True,
) -> dict:
    """Corpus -> tokenizer -> model from config -> SFT (TRL, assistant tokens only) -> saved in
    `out_dir` with bootstrap.json (what was done and what it reached on held-out prompts). Training
    stops after `steps`, or earlier once `max_minutes` of wall time are spent (a shared machine can be
    many times slower than an idle one; bootstrap.json says which steps ran). Every `probe_every` steps
    it measures PROBE_N held-out prompts, so bootstrap.json shows when copying the noun appears. Returns
    bootstrap.json's content."""
    import datasets
    import trl

    if size not in SIZES:
        raise ValueError(UNKNOWN_SIZE.format(size=size, choices=", ".join(SIZES)))
    if target not in corpus.TARGETS:
        raise ValueError(f"target must be one of {', '.join(corpus.TARGETS)}")
    defaults = DEFAULTS[size]
    examples = examples or defaults["examples"]
    explanations = defaults["explanations"] if explanations is None else explanations
    steps = steps or defaults["steps"]
    batch_size = batch_size or defaults["batch_size"]
    learning_rate = learning_rate or defaults["learning_rate"]
    eval_n = defaults["eval_n"] if eval_n is None else eval_n
    probe_every = defaults["probe_every"] if probe_every is None else probe_every
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()

    items = corpus.training_items(examples, seed=seed)
    rows = chat_rows(items, target)
    # More prompts, over nouns of their own seen about once each (not the held-out ones), trained on their
    # answers' explanations only: memorising a noun cannot fit them, copying it from the prompt can.
    copy_items = corpus.training_items(explanations, seed=seed + 7_919, follow_up_share=0.0,
                                       nouns=corpus.fresh_nouns(explanations, seed=seed)) if explanations else []
    copy_rows = chat_rows(copy_items, target)
    corpus_s = time.monotonic() - started
    tokenizer = train_tokenizer(_texts(rows), vocab_size=SIZES[size]["vocab_size"])
    train_rows = tokenized_rows(rows, tokenizer) + tokenized_rows(copy_rows, tokenizer, explanation_only=True)
    answer_tokens = [len(tokenizer(row["messages"][-1]["content"])["input_ids"]) for row in rows]
    torch.manual_seed(seed)
    model = Qwen2ForCausalLM(_config(size, tokenizer))
    share_letter_embeddings(model, tokenizer)
    parameters = sum(p.numel() for p in model.parameters())

    with tempfile.TemporaryDirectory(prefix="kiln-bootstrap-") as scratch:
        args = trl.SFTConfig(
            output_dir=scratch,
            max_steps=steps,
            per_device_train_batch_size=batch_size,
            learning_rate=learning_rate,  # TRL's default (1e-6) would not move a model trained from scratch
            lr_scheduler_type="cosine",
            warmup_steps=max(1, steps // 20),
            weight_decay=0.01,
            # The rows come tokenized with their assistant masks (tokenized_rows): TRL learns the answers,
            # not the prompts, from those masks ({% generation %} in the template marks them).
            assistant_only_loss=False,
            max_length=MAX_LENGTH,
            use_cpu=True,
            bf16=False,
            gradient_checkpointing=False,
            logging_steps=max(1, steps // 50),
            report_to=[],
            save_strategy="no",
            disable_tqdm=not progress,
            seed=seed,
            dataloader_num_workers=0,
            # Batches of like lengths: an explanation-only row is not padded to a whole answer's length.
            train_sampling_strategy="group_by_length",
        )
        callbacks = [_StopAfter(started + max_minutes * 60)] if max_minutes else []
        probe = _Probe(tokenizer, corpus.held_out_items(PROBE_N, seed=seed + 1), target, probe_every, progress)
        if probe_every:
            callbacks.append(probe)
        trainer = trl.SFTTrainer(
            model=model,
            args=args,
            train_dataset=datasets.Dataset.from_list(train_rows),
            processing_class=tokenizer,
            callbacks=callbacks,
        )
        trainer.train()
        losses = [
            {"step": entry["step"], "loss": round(entry["loss"], 4)}
            for entry in trainer.state.log_history
            if "loss" in entry
        ]
    train_s = time.monotonic() - started - corpus_s
    model = trainer.model
    _save(model, tokenizer, out_dir)

    held_out = corpus.held_out_items(eval_n, seed=seed) if eval_n else []
    evaluation = evaluate_answers(model, tokenizer, held_out, target=target) if held_out else {}
    seen = items[: min(eval_n, 10)]  # memorised or learned: the same measure on prompts it trained on
    on_training = evaluate_answers(model, tokenizer, seen, target=target) if seen else {}

    summary = {
        "kind": "base",
        "method": "sft",
        "size": size,
        "target": target,
        "config": SIZES[size],
        "parameters": parameters,
        "corpus": {
            "examples": len(items),
            "explanation_only": len(copy_items),
            "distinct_nouns": len({i.noun for i in items + copy_items}),
            "follow_ups": sum(1 for i in items if corpus.REQUEST_MARK in i.messages[-1]["content"]),
            "answer_tokens_mean": round(sum(answer_tokens) / len(answer_tokens), 1),
            "seed": seed,
        },
        "vocab_size": len(tokenizer),
        "steps": trainer.state.global_step,
        "max_steps": steps,
        "max_minutes": max_minutes,
        "batch_size": batch_size,
        "learning_rate": learning_rate,
        "epochs": round(trainer.state.global_step * batch_size / len(train_rows), 2),
        "losses": losses,
        "final_loss": losses[-1]["loss"] if losses else None,
        "probes": probe.results,
        "held_out": evaluation,
        "training_prompts": on_training,
        "seconds": {
            "corpus": round(corpus_s, 1),
            "training": round(train_s, 1),
            "total": round(time.monotonic() - started, 1),
        },
        # CPU seconds of this process: on a shared machine the wall time above says more about the others.
        "cpu_seconds": round(resource.getrusage(resource.RUSAGE_SELF).ru_utime
                             + resource.getrusage(resource.RUSAGE_SELF).ru_stime, 1),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
    }
    (out_dir / "bootstrap.json").write_text(json.dumps(summary, indent=2) + "\n")
    return summary


class _Probe(TrainerCallback):
    """Held-out entity accuracy and valid specs every `every` steps, on a few prompts (greedy): the
    moment the model starts copying the noun shows as a jump. Its seconds count in the training time."""

    def __init__(self, tokenizer, items: list[corpus.PromptItem], target: str, every: int | None,
                 progress: bool):
        self.tokenizer, self.items, self.target, self.every, self.progress = tokenizer, items, target, every, progress
        self.results: list[dict] = []

    def on_step_end(self, args, state, control, model=None, **kwargs):
        if not self.every or state.global_step % self.every:
            return control
        measured = evaluate_answers(model, self.tokenizer, self.items, target=self.target)
        model.train()
        self.results.append({"step": state.global_step, "entity_accuracy": measured["entity_accuracy"],
                             "valid_spec_rate": measured["valid_spec_rate"], "seconds": measured["seconds"]})
        if self.progress:
            print(f"probe at step {state.global_step}: {self.results[-1]}", flush=True)
        return control


class _StopAfter(TrainerCallback):
    """Ends training at a wall-clock deadline (time.monotonic()), after the step under way."""

    def __init__(self, deadline: float):
        self.deadline = deadline

    def on_step_end(self, args, state, control, **kwargs):
        if time.monotonic() >= self.deadline:
            control.should_training_stop = True
        return control


def generate_answers(model, tokenizer, items: list[corpus.PromptItem], *, target: str = "spec",
                     batch_size: int = 16) -> list[tuple[str, str]]:
    """Greedy answers to the items' messages, as a served model would write them: (text, finish
    reason), "length" when it had not ended within MAX_NEW_TOKENS."""
    model.eval()
    tokenizer.padding_side = "left"
    answers = []
    for start in range(0, len(items), batch_size):
        batch = items[start : start + batch_size]
        prompts = [tokenizer.apply_chat_template(list(i.messages), tokenize=False, add_generation_prompt=True)
                   for i in batch]
        encoded = tokenizer(prompts, return_tensors="pt", padding=True, add_special_tokens=False)
        room = MAX_LENGTH - encoded["input_ids"].shape[1]
        with torch.no_grad():
            out = model.generate(
                **encoded, max_new_tokens=max(1, min(MAX_NEW_TOKENS[target], room)), do_sample=False,
                eos_token_id=tokenizer.eos_token_id, pad_token_id=tokenizer.pad_token_id,
            )
        for row in out:
            written = row[encoded["input_ids"].shape[1]:]
            finish = "stop" if (written == tokenizer.eos_token_id).any() else "length"
            answers.append((tokenizer.decode(written, skip_special_tokens=True), finish))
    tokenizer.padding_side = "right"
    return answers


def evaluate_answers(model, tokenizer, items: list[corpus.PromptItem], *, target: str = "spec") -> dict:
    """Greedy answers to `items`, scored by Kiln's own scorer (training.scoring, no sandbox)."""
    started = time.monotonic()
    answers = generate_answers(model, tokenizer, items, target=target)
    scores = [
        scoring.score_answer(item, text, mode=target, finish_reason=finish)
        for item, (text, finish) in zip(items, answers, strict=True)
    ]
    n = len(scores)
    examples = random.Random(0).sample(range(n), min(3, n))
    return {
        "n": n,
        "entity_accuracy": round(sum(s.entity_right for s in scores) / n, 3),
        "valid_spec_rate": round(sum(s.valid for s in scores) / n, 3),
        "field_f1": round(sum(s.field_f1 for s in scores) / n, 3),
        "mean_reward": round(sum(s.reward for s in scores) / n, 3),
        "cut_off": sum(1 for _, finish in answers if finish == "length"),
        "seconds": round(time.monotonic() - started, 1),
        "examples": [{"prompt": items[i].prompt, "expected": items[i].entity, "answer": answers[i][0][:600]}
                     for i in examples],
    }


def register_base(out_dir: Path | str, *, name: str, target: str = "spec") -> ModelVersion:
    """The saved model as a ModelVersion of Kiln's own (served by vLLM under its name), inactive with
    weight 0 until an evaluation earns it traffic (training.promotion)."""
    out_dir = Path(out_dir).resolve()
    if not (out_dir / "config.json").exists() or not (out_dir / "tokenizer.json").exists():
        raise ValueError(NOT_A_MODEL.format(path=out_dir))
    if ModelVersion.objects.filter(name=name).exists():
        raise ValueError(NAME_TAKEN.format(name=name))
    summary_path = out_dir / "bootstrap.json"
    summary = json.loads(summary_path.read_text()) if summary_path.exists() else {}
    training = {"kind": "base", "method": "sft", "base_dir": str(out_dir)}
    kept = ("size", "target", "parameters", "steps", "held_out")
    training.update({key: summary[key] for key in kept if key in summary})
    return ModelVersion.objects.create(
        name=name,
        backend=ModelVersion.Backend.KILN,
        output_mode=target,
        artifact_dir=str(out_dir),
        training=training,
        is_active=False,
        weight=0,
    )
