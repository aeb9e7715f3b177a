"""Accepting one of two candidates records a pair, and the export loads as a TRL preference dataset."""

import json

import datasets
import pytest
from django.core.management import call_command

from feedback.models import Feedback, PreferencePair
from feedback.services import InvalidFeedback, record_verdict
from generation.models import Generation

pytestmark = pytest.mark.django_db


def test_accepting_the_regenerated_candidate_records_a_pair(owner, make_generation):
    first = make_generation(raw_output="first try")
    second = make_generation(first.turn, raw_output="second try", candidate=2)

    record_verdict(user=owner, generation=second, verdict="accept")

    pair = PreferencePair.objects.get()
    assert pair.chosen_generation == second
    assert pair.rejected_generation == first
    assert pair.source == "regenerate"
    assert pair.chosen == [{"role": "assistant", "content": "second try"}]
    assert pair.rejected == [{"role": "assistant", "content": "first try"}]
    assert pair.prompt[-1] == {"role": "user", "content": "a todo list"}


def test_rejecting_after_an_accept_orders_the_accepted_one_first(owner, make_generation):
    first = make_generation(raw_output="good")
    record_verdict(user=owner, generation=first, verdict="accept")
    second = make_generation(first.turn, raw_output="worse", candidate=2)

    record_verdict(user=owner, generation=second, verdict="reject", reason="buttons do nothing")

    pair = PreferencePair.objects.get()
    assert (pair.chosen_generation, pair.rejected_generation, pair.source) == (first, second, "accept_vs_reject")
    assert Feedback.objects.get(verdict="reject").reason == "buttons do nothing"


def test_a_lone_accept_records_feedback_but_no_pair(owner, make_generation):
    record_verdict(user=owner, generation=make_generation(), verdict="accept")
    assert Feedback.objects.count() == 1
    assert PreferencePair.objects.count() == 0


def test_an_unfinished_candidate_cannot_be_judged(owner, make_generation):
    running = make_generation(status=Generation.Status.RUNNING)
    with pytest.raises(InvalidFeedback, match="has not finished"):
        record_verdict(user=owner, generation=running, verdict="accept")


def test_export_preferences_still_writes_preferences_jsonl_for_trl(owner, make_generation, tmp_path, monkeypatch):
    # export_preferences is an alias of export_dataset (DPO rows, nothing held out), keeping its old file.
    monkeypatch.setenv("HF_DATASETS_CACHE", str(tmp_path / "hf-cache"))
    first = make_generation(raw_output="candidate one")
    make_generation(first.turn, raw_output="candidate two", candidate=2)
    record_verdict(user=owner, generation=first, verdict="accept")
    excluded = make_generation(prompt="another prompt")
    other = make_generation(excluded.turn, candidate=2)
    record_verdict(user=owner, generation=other, verdict="accept")
    PreferencePair.objects.filter(chosen_generation=other).update(review_status="excluded")

    call_command("export_preferences", "--out", str(tmp_path / "out"))

    rows = datasets.load_dataset("json", data_files=str(tmp_path / "out" / "preferences.jsonl"), split="train")
    assert {"prompt", "chosen", "rejected"} <= set(rows.column_names)
    assert len(rows) == 1  # the excluded pair stays out
    assert rows[0]["chosen"] == [{"role": "assistant", "content": "candidate one"}]
    assert rows[0]["rejected"] == [{"role": "assistant", "content": "candidate two"}]
    assert {m["role"] for m in rows[0]["prompt"]} == {"system", "user"}
    lines = (tmp_path / "out" / "preferences.jsonl").read_text().splitlines()
    assert json.loads(lines[0])["prompt"] == first.request_messages
    assert (tmp_path / "out" / "dpo" / "train.jsonl").read_text().splitlines() == lines
    assert json.loads((tmp_path / "out" / "manifest.json").read_text())["counts"] == {"dpo": {"train": 1, "test": 0}}


def test_picking_one_of_two_compared_candidates_is_an_explicit_pick(owner, make_generation):
    first = make_generation(raw_output="left")
    second = make_generation(first.turn, raw_output="right", candidate=2)
    Generation.objects.filter(id__in=[first.id, second.id]).update(kind=Generation.Kind.COMPARE)
    first.refresh_from_db()

    record_verdict(user=owner, generation=first, verdict="accept")

    assert PreferencePair.objects.get().source == "pick"
