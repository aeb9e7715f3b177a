"""Kiln's own base model: `manage.py bootstrap_model` makes a corpus from the offline model, a tokenizer
and a tiny model trained with TRL, saves them in the standard format that loads offline, and registers
an inactive model version. The corpus makes copying the noun the only way to fit it."""

import json
import time

import pytest
import torch
from django.core.management import call_command
from transformers import AutoModelForCausalLM, AutoTokenizer, Qwen2ForCausalLM

from generation.blueprint.responder import respond
from generation.models import ModelVersion
from generation.prompts import REQUEST_HEADING, spec_messages
from generation.protocol import parse
from training import corpus
from training.base_model import SIZES, _config, register_base, share_letter_embeddings
from training.tokenizer import train_tokenizer

pytestmark = pytest.mark.django_db


def test_the_tiny_bootstrap_saves_a_model_that_loads_offline_and_registers_it(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    out = tmp_path / "kiln-tiny"
    started = time.monotonic()

    call_command("bootstrap_model", "--size", "tiny", "--target", "spec", "--out", str(out),
                 "--name", "kiln-tiny", "--probe-every", "8", verbosity=0)

    seconds = time.monotonic() - started
    print(f"tiny bootstrap: {seconds:.0f} s")
    for name in ("config.json", "model.safetensors", "generation_config.json", "tokenizer.json",
                 "tokenizer_config.json", "bootstrap.json"):
        assert (out / name).exists(), name
    summary = json.loads((out / "bootstrap.json").read_text())
    assert summary["size"] == "tiny" and summary["target"] == "spec"
    assert summary["corpus"]["examples"] > 0 and summary["corpus"]["distinct_nouns"] > 50
    losses = [entry["loss"] for entry in summary["losses"]]
    assert len(losses) >= 2 and losses[-1] < losses[0]  # it learned something
    assert summary["held_out"]["n"] > 0 and 0 <= summary["held_out"]["entity_accuracy"] <= 1
    # Some prompts are learned on their answers' explanations only; held-out probes show the way there.
    assert summary["corpus"]["explanation_only"] > 0
    assert [probe["step"] for probe in summary["probes"]] == [8, 16]
    assert all(0 <= probe["entity_accuracy"] <= 1 for probe in summary["probes"])
    assert summary["peak_rss_mb"] > 0 and summary["seconds"]["total"] > 0
    assert summary["command"].startswith("python manage.py bootstrap_model --size tiny --target spec")
    assert "--probe-every 8" in summary["command"]

    # Loads the way vLLM and the training rounds load it: from the folder alone, offline.
    tokenizer = AutoTokenizer.from_pretrained(out)
    model = AutoModelForCausalLM.from_pretrained(out)
    assert model.config.vocab_size == len(tokenizer)
    assert tokenizer.eos_token == "<|im_end|>"
    assert model.generation_config.eos_token_id == tokenizer.eos_token_id

    # The chat template marks exactly the answer (and its end token) for assistant-only loss, and the
    # prompt alone is a prefix of prompt + answer.
    messages = spec_messages("Track my zorblats")
    answer = "I built it.\n<file path=\"app.json\">\n{}\n</file>"
    full = [*messages, {"role": "assistant", "content": answer}]
    rendered = tokenizer.apply_chat_template(full, tokenize=True, return_dict=True,
                                             return_assistant_tokens_mask=True)
    marked = [t for t, m in zip(rendered["input_ids"], rendered["assistant_masks"], strict=True) if m]
    assert tokenizer.decode(marked) == answer + "<|im_end|>"
    prompt = tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
    assert tokenizer.apply_chat_template(full, tokenize=False).startswith(prompt)

    version = ModelVersion.objects.get(name="kiln-tiny")
    assert version.backend == ModelVersion.Backend.KILN and version.output_mode == "spec"
    assert not version.is_active and version.weight == 0
    assert version.artifact_dir == str(out.resolve()) and version.training["kind"] == "base"
    assert version.request_model_name == "kiln-tiny"


def test_a_name_taken_is_refused(tmp_path):
    from tests.training.factory import make_tiny_base

    folder = make_tiny_base(tmp_path)
    register_base(folder, name="kiln-base", target="spec")
    with pytest.raises(ValueError, match="exists already"):
        register_base(folder, name="kiln-base", target="spec")
    with pytest.raises(ValueError, match="holds no saved model"):
        register_base(tmp_path / "empty", name="kiln-other", target="spec")


def test_the_tokenizer_round_trips_text_and_splits_first_letters(tmp_path):
    prompts = ["Track my zorblats with a colour, a weight and a purchase date",
               "Plantes: nom, arrosage, lumière",
               "a café menu — naïve 😀 prices\twith tabs\r\nand CRLF",
               "Each quimble has a rating and notes"]
    answers = [respond(spec_messages(p), seed=0) for p in prompts]
    app_jsons = [parse(a).files["app.json"] for a in answers]
    tokenizer = train_tokenizer(answers + prompts, tmp_path / "tok", vocab_size=SIZES["tiny"]["vocab_size"])
    loaded = AutoTokenizer.from_pretrained(tmp_path / "tok")

    for text in app_jsons + prompts + answers:
        ids = loaded(text, add_special_tokens=False)["input_ids"]
        assert loaded.decode(ids) == text
    assert loaded("x")["input_ids"] == tokenizer("x")["input_ids"]
    # "zorblats" in a prompt and "Zorblat" in app.json share every piece after the first letter.
    lower = [t for t in loaded.tokenize(" zorblat") if t != "Ġ"]
    upper = loaded.tokenize('"Zorblat')[1:]
    assert lower[0] in ("z", "Ġz") and upper[0] == "Z" and lower[1:] == upper[1:]
    # The plural ends in a piece of its own: every form of the noun the answer writes is in the prompt's.
    for plural, singular in (("zorblats", "Zorblat"), ("glasses", "Glass"), ("mekarbs", "Mekarb")):
        pieces = [t for t in loaded.tokenize(" " + plural) if t != "Ġ"]
        stem = loaded.tokenize(singular)[1:]
        assert pieces[1 : len(stem) + 1] == stem and "".join(pieces[len(stem) + 1 :]) in ("s", "es"), plural


def test_a_new_model_starts_with_each_letter_alike_in_its_four_forms(tmp_path):
    # "Zorblat" in the answer copies " zorblats" in the prompt: "Z" and " z" start as the same letter.
    answers = [respond(spec_messages(p), seed=0) for p in ("Track my zorblats", "Each quimble has a rating")]
    tokenizer = train_tokenizer(answers + ["Zorblat zorblat quimble Quimble"], vocab_size=SIZES["tiny"]["vocab_size"])
    model = Qwen2ForCausalLM(_config("tiny", tokenizer))
    assert share_letter_embeddings(model, tokenizer) >= 52  # every letter, both cases, at least
    vectors = model.get_input_embeddings().weight
    vocab = tokenizer.get_vocab()

    def distance(a, b):
        return torch.dist(vectors[vocab[a]], vectors[vocab[b]]).item()

    assert distance("Z", "z") < distance("Z", "q") and distance("q", "Q") < distance("q", "z")


def test_the_corpus_has_many_nouns_and_held_out_nouns_never_seen_in_training():
    train_nouns, held_nouns = corpus.noun_split()
    assert len(train_nouns) + len(held_nouns) >= 1000 and not set(train_nouns) & set(held_nouns)
    invented = set(train_nouns) - set(corpus.REAL_NOUNS)
    assert len(invented) > 500

    items = corpus.training_items(120, seed=4)
    held = corpus.held_out_items(30, seed=4)
    # The explanation-only rows' nouns: new words, none of the fixed list, so none held out.
    fresh = corpus.fresh_nouns(200, seed=4)
    assert len(set(fresh)) == 200 and not set(fresh) & (set(train_nouns) | set(held_nouns))
    assert {i.noun for i in corpus.training_items(20, seed=4, nouns=fresh)} <= set(fresh)
    # GRPO's training prompts draw from another stream: new to a base whatever its bootstrap's seed.
    assert not set(corpus.fresh_nouns(200, seed=4, stream="grpo")) & set(fresh)
    with pytest.raises(ValueError, match="held-out nouns never appear in training"):
        corpus.training_items(5, nouns=held_nouns[:3])
    assert len({i.noun for i in items}) > 80
    assert not {i.noun for i in items} & {i.noun for i in held}
    assert any(i.noun in invented for i in items)
    follow_ups = [i for i in items if REQUEST_HEADING in i.messages[-1]["content"]]
    assert follow_ups and all('path="app.json"' in i.messages[-1]["content"] for i in follow_ups)
    assert len({i.messages[-1]["content"].split()[0] for i in items}) > 5  # varied wording

    for item in items[:20] + held[:10]:
        assert item.entity == item.noun[:1].upper() + item.noun[1:]
        spec = corpus.target_text(item, target="spec")
        written = parse(spec)
        assert list(written.files) == ["app.json"] and not written.has_fatal
        app = json.loads(written.files["app.json"])
        assert list(app["entities"]) == [item.entity]
        assert tuple(app["entities"][item.entity]["fields"]) == item.fields
        assert item.messages[0] == spec_messages("x")[0]
    full = corpus.target_text(held[0], target="full")
    assert {"app.json", "src/App.jsx", "index.html"} <= set(parse(full).files)
