"""A snapshot is ready for training as it is: TRL's own trainers (DPO, KTO, SFT, reward), each with a
PEFT LoRA config, run two steps on the exported files against a tiny Qwen2 model built here (no
weights can be downloaded; platform notes, "Python machine learning stack")."""

import math

import datasets
import peft
import pytest
import torch
import trl
from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
from transformers import (
    AutoModelForCausalLM,
    AutoModelForSequenceClassification,
    AutoTokenizer,
    PreTrainedTokenizerFast,
    Qwen2Config,
    Qwen2ForCausalLM,
)

from generation.prompts import SYSTEM_PROMPT
from tests.training.conftest import export

pytestmark = pytest.mark.django_db

# Qwen's chat format. {% generation %} marks what the assistant wrote, so SFT can learn from the answer
# only; a prompt rendered with add_generation_prompt is a prefix of prompt + answer (DPO and KTO rely on it).
CHAT_TEMPLATE = (
    "{% for message in messages %}{% if message['role'] == 'assistant' %}<|im_start|>assistant\n"
    "{% generation %}{{ message['content'] }}<|im_end|>{% endgeneration %}\n"
    "{% else %}<|im_start|>{{ message['role'] }}\n{{ message['content'] }}<|im_end|>\n{% endif %}{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)
MAX_LENGTH = 1024


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory):
    """A byte-level BPE tokenizer trained on Kiln's own prompt and a 2-layer Qwen2 model, saved the way
    a real base model is, and loaded back through the usual from_pretrained path."""
    folder = tmp_path_factory.mktemp("tiny-qwen2")
    tokenizer = Tokenizer(models.BPE())
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = decoders.ByteLevel()
    tokenizer.train_from_iterator(
        [SYSTEM_PROMPT, 'Here is your app.\n<file path="app.json">{"name": "Todo"}</file> picked other broken'] * 20,
        trainers.BpeTrainer(vocab_size=1000, special_tokens=["<|endoftext|>", "<|im_start|>", "<|im_end|>"],
                            initial_alphabet=pre_tokenizers.ByteLevel.alphabet()),
    )
    fast = PreTrainedTokenizerFast(tokenizer_object=tokenizer, eos_token="<|im_end|>", pad_token="<|endoftext|>")
    fast.chat_template = CHAT_TEMPLATE
    fast.save_pretrained(folder)
    config = Qwen2Config(
        vocab_size=len(fast), hidden_size=64, intermediate_size=128, num_hidden_layers=2, num_attention_heads=4,
        num_key_value_heads=2, max_position_embeddings=MAX_LENGTH, tie_word_embeddings=True,
        eos_token_id=fast.eos_token_id, pad_token_id=fast.pad_token_id,
    )
    torch.manual_seed(0)
    Qwen2ForCausalLM(config).save_pretrained(folder)
    return folder


@pytest.fixture
def snapshot(platform, tmp_path):
    for i in range(8):
        turn = platform.turn(f"An app for tracking thing {i}")
        picked = platform.answer(turn, text=f'Here is your app.\n<file path="app.json">{{"name": "Thing{i}"}}</file>')
        other = platform.answer(turn, text="Here is your app.\nbroken")
        platform.pair("pick", chosen=picked, rejected=other, feedback=platform.vote(picked, "pick"))
        platform.vote(picked, "accept")
        platform.vote(other, "reject")
    out = tmp_path / "snapshot"
    export(out, "--holdout", "0.2", "--seed", "1")
    return out


def load(snapshot, fmt, encoding):
    loader = {"jsonl": "json", "parquet": "parquet"}[encoding]
    return datasets.load_dataset(loader, data_files=str(snapshot / fmt / f"train.{encoding}"), split="train")


def training_args(config_class, tmp_path, **extra):
    return config_class(
        output_dir=str(tmp_path / "run"), max_steps=2, per_device_train_batch_size=4, learning_rate=1e-3,
        use_cpu=True, bf16=False, gradient_checkpointing=False, logging_steps=1, report_to=[], save_strategy="no",
        disable_tqdm=True, seed=0, max_length=MAX_LENGTH, **extra,
    )


def lora(task_type="CAUSAL_LM"):
    return peft.LoraConfig(r=8, lora_alpha=16, target_modules="all-linear", task_type=task_type)


def causal_lm(folder):
    return AutoModelForCausalLM.from_pretrained(folder, dtype=torch.float32)


def run_two_steps(trainer, name) -> list[float]:
    trainer.train()
    losses = [entry["loss"] for entry in trainer.state.log_history if "loss" in entry]
    print(f"TRL {name} losses: {losses}")
    assert isinstance(trainer.model, peft.PeftModel)  # the LoRA adapter is what trained
    assert trainer.state.global_step == 2 and len(losses) == 2 and all(math.isfinite(x) for x in losses)
    return losses


def test_dpo_trainer_runs_on_the_dpo_parquet(tiny_model, snapshot, tmp_path):
    rows = load(snapshot, "dpo", "parquet")
    trainer = trl.DPOTrainer(model=causal_lm(tiny_model), args=training_args(trl.DPOConfig, tmp_path),
                             train_dataset=rows, processing_class=AutoTokenizer.from_pretrained(tiny_model),
                             peft_config=lora())
    losses = run_two_steps(trainer, "DPO")
    assert losses[0] == pytest.approx(math.log(2), abs=1e-3)  # policy == reference at the first step


def test_kto_trainer_runs_on_the_kto_jsonl(tiny_model, snapshot, tmp_path):
    rows = load(snapshot, "kto", "jsonl")
    assert set(rows["label"]) == {True, False}
    trainer = trl.KTOTrainer(model=causal_lm(tiny_model), args=training_args(trl.KTOConfig, tmp_path),
                             train_dataset=rows, processing_class=AutoTokenizer.from_pretrained(tiny_model),
                             peft_config=lora())
    run_two_steps(trainer, "KTO")


def test_sft_trainer_learns_the_answers_of_the_sft_parquet(tiny_model, snapshot, tmp_path):
    rows = load(snapshot, "sft", "parquet")
    trainer = trl.SFTTrainer(model=causal_lm(tiny_model),
                             args=training_args(trl.SFTConfig, tmp_path, assistant_only_loss=True),
                             train_dataset=rows, processing_class=AutoTokenizer.from_pretrained(tiny_model),
                             peft_config=lora())
    run_two_steps(trainer, "SFT")


def test_reward_trainer_runs_on_the_reward_jsonl(tiny_model, snapshot, tmp_path):
    rows = load(snapshot, "reward", "jsonl")
    tokenizer = AutoTokenizer.from_pretrained(tiny_model)
    model = AutoModelForSequenceClassification.from_pretrained(tiny_model, num_labels=1, dtype=torch.float32)
    model.config.pad_token_id = tokenizer.pad_token_id
    trainer = trl.RewardTrainer(model=model, args=training_args(trl.RewardConfig, tmp_path), train_dataset=rows,
                                processing_class=tokenizer, peft_config=lora("SEQ_CLS"))
    run_two_steps(trainer, "reward")
