"""The mapping of votes to rows, row by row: each signal recorded the way the platform records it,
exported, and counted in every format."""

import re
from pathlib import Path

import pytest
from django.conf import settings

from feedback.models import Feedback
from tests.training.conftest import export, read_rows
from training.mapping import MAPPING, mapping_table_markdown

pytestmark = pytest.mark.django_db


def _pick(p):
    left = p.answer(text="left candidate")
    right = p.answer(left.turn, text="right candidate")
    p.pair("pick", chosen=left, rejected=right, feedback=p.vote(left, "pick"))
    return {"dpo": [("left candidate", "right candidate")]}


def _tie(p):
    left = p.answer(text="left candidate")
    p.answer(left.turn, text="right candidate")
    p.vote(left, "tie")
    return {}


def _both_bad(p):
    left = p.answer(text="left candidate", kind="compare")
    p.answer(left.turn, text="right candidate", kind="compare")
    p.vote(left, "both_bad")
    return {"kto": [("left candidate", False), ("right candidate", False)]}


def _accept(p):
    p.vote(p.answer(text="a good app"), "accept")
    return {"kto": [("a good app", True)], "sft": ["a good app"]}


def _reject(p):
    p.vote(p.answer(text="a bad app"), "reject")
    return {"kto": [("a bad app", False)]}


def _regenerate(p):
    first = p.answer(text="first try")
    second = p.answer(first.turn, text="second try", kind="regenerate")
    p.pair("regenerate", chosen=second, rejected=first, feedback=p.vote(second, "accept"))
    # The accept itself is a KTO row and a demonstration too.
    return {"dpo": [("second try", "first try")], "kto": [("second try", True)], "sft": ["second try"]}


def _repair(p):
    broken = p.answer(text="the broken app")
    p.build(broken, status="failed", failed_step="bundle", build_passed=False, smoke_passed=None)
    fixed = p.answer(broken.turn, kind="repair", text="the repair's edit", messages=[
        {"role": "system", "content": "sys"},
        {"role": "user", "content": "The app does not work yet: it failed to build."}])
    p.build(fixed)
    p.pair("repair", chosen=fixed, rejected=broken, chosen_text="the fixed app, whole", prompt=broken.request_messages)
    # The broken answer is also an automatic negative (its build failed).
    return {"dpo": [("the fixed app, whole", "the broken app")], "sft": ["the fixed app, whole"],
            "kto": [("the broken app", False)]}


def _restore(p):
    older = p.answer(text="the older version")
    newer = p.answer(p.turn("make it blue"), text="the replaced version")
    p.pair("restore", chosen=older, rejected=newer, feedback=p.vote(older, "restore"), prompt=newer.request_messages)
    return {"dpo": [("the older version", "the replaced version")]}


def _edit(p):
    model = p.answer(text="the model's version")
    # A hand edit has no generation of its own: the pair orders the edited text over the model's.
    p.pair("edit", chosen=model, rejected=model, chosen_text="the hand-edited version", feedback=p.vote(model, "edit"))
    return {"dpo": [("the hand-edited version", "the model's version")], "sft": ["the hand-edited version"]}


def _synthetic(p):
    good = p.answer(text="scripted good")
    p.pair("synthetic", chosen=good, rejected=p.answer(good.turn, text="scripted bad"))
    return {"dpo": [("scripted good", "scripted bad")]}


def _defect(kind):
    def make(p):
        p.defect(p.answer(text=f"an answer with {kind}"), kind)
        return {"kto": [(f"an answer with {kind}", False)]}
    make.__name__ = f"_{kind}"
    return make


def _failed_build(p):
    p.build(p.answer(text="does not bundle"), status="failed", failed_step="bundle", build_passed=False,
            smoke_passed=None)
    return {"kto": [("does not bundle", False)]}


def _broken_preview(p):
    p.build(p.answer(text="renders blank"), smoke_passed=False, scores={"blank": True, "console_errors": 3})
    return {"kto": [("renders blank", False)]}


def _smoke_not_scored(p):
    # Chromium itself was broken: "not scored", never a negative.
    p.build(p.answer(text="never looked at"), smoke_passed=None, scores={})
    return {}


def _engine_down(p):
    # Docker was down: Kiln's failure, not the model's.
    p.build(p.answer(text="never built"), status="failed", failed_step="engine", build_passed=None, smoke_passed=None)
    return {}


def _rebuilt_and_passed(p):
    # The version's latest build decides: a rebuild that passed clears an earlier broken render.
    answer = p.answer(text="flaky at first")
    p.build(answer, smoke_passed=False)
    p.build(answer, smoke_passed=True)
    return {}


CASES = [_pick, _tie, _both_bad, _accept, _reject, _regenerate, _repair, _restore, _edit, _synthetic,
         *[_defect(k) for k in ("protocol", "cut_off", "lazy_placeholder", "code_in_chat", "no_files")],
         _failed_build, _broken_preview, _smoke_not_scored, _engine_down, _rebuilt_and_passed]


@pytest.mark.parametrize("case", CASES, ids=lambda case: case.__name__.strip("_"))
def test_each_signal_becomes_the_rows_of_the_mapping_table(case, platform, tmp_path):
    expected = case(platform)

    manifest = export(tmp_path / "out", "--holdout", "0")

    dpo = [(r["chosen"][0]["content"], r["rejected"][0]["content"]) for r in read_rows(tmp_path / "out", "dpo")]
    reward = [(r["chosen"][0]["content"], r["rejected"][0]["content"]) for r in read_rows(tmp_path / "out", "reward")]
    kto = [(r["completion"][0]["content"], r["label"]) for r in read_rows(tmp_path / "out", "kto")]
    sft = [r["messages"][-1]["content"] for r in read_rows(tmp_path / "out", "sft")]
    assert dpo == expected.get("dpo", [])
    assert reward == dpo
    assert sorted(kto) == sorted(expected.get("kto", []))
    assert sft == expected.get("sft", [])
    assert {fmt: c["train"] for fmt, c in manifest["counts"].items()} == {
        "dpo": len(dpo), "reward": len(dpo), "kto": len(kto), "sft": len(sft)}


def test_a_both_bad_vote_is_one_negative_per_candidate_with_its_own_model_version(platform, tmp_path):
    left = platform.answer(text="left", kind="compare")
    platform.answer(left.turn, text="right", kind="compare", model_version=platform.other_model())
    platform.vote(left, "both_bad")

    export(tmp_path / "out", "--holdout", "0")

    rows = read_rows(tmp_path / "out", "kto")
    assert [(r["completion"][0]["content"], r["generations"][0]["model_version"], r["source"]) for r in rows] == [
        ("left", "default", "both_bad"), ("right", "kiln-round-1", "both_bad")]


def test_rows_carry_the_metadata_of_the_answers_behind_them(platform, tmp_path):
    chosen = platform.answer(text="chosen app")
    rejected = platform.answer(chosen.turn, text="rejected app", model_version=platform.other_model())
    platform.build(chosen, scores={"console_errors": 0, "render_ms": 85})
    platform.build(rejected, smoke_passed=False, scores={"console_errors": 2, "render_ms": 300})
    platform.pair("pick", chosen=chosen, rejected=rejected, review_status="approved")

    export(tmp_path / "out", "--holdout", "0")

    row = read_rows(tmp_path / "out", "dpo")[0]
    assert row["generations"] == [
        {"id": chosen.id, "model_version": "default", "kind": "first", "build_passed": True, "smoke_passed": True,
         "console_errors": 0, "render_ms": 85, "prompt_tokens": chosen.prompt_tokens,
         "completion_tokens": chosen.completion_tokens},
        {"id": rejected.id, "model_version": "kiln-round-1", "kind": "first", "build_passed": True,
         "smoke_passed": False, "console_errors": 2, "render_ms": 300, "prompt_tokens": rejected.prompt_tokens,
         "completion_tokens": rejected.completion_tokens},
    ]
    assert (row["source"], row["review_status"]) == ("pick", "approved")
    assert re.fullmatch(r"[0-9a-f]{16}", row["turn"]) and re.fullmatch(r"[0-9a-f]{16}", row["project"])
    assert row["created_at"].startswith(str(chosen.created_at.date()))


def test_the_docs_show_the_mapping_table_of_the_code():
    docs = (Path(settings.BASE_DIR) / "docs" / "datasets.md").read_text()
    assert mapping_table_markdown() in docs
    assert len(mapping_table_markdown().splitlines()) == len(MAPPING) + 2


def test_every_automatic_reason_and_every_verdict_has_a_rule():
    from feedback.models import Feedback, PreferencePair
    from training.mapping import AUTOMATIC, AUTOMATIC_REASONS, PAIR, VERDICT

    assert {name for kind, name in MAPPING if kind == AUTOMATIC} == set(AUTOMATIC_REASONS)
    assert {name for kind, name in MAPPING if kind == VERDICT} == set(Feedback.Verdict.values)
    assert {name for kind, name in MAPPING if kind == PAIR} == set(PreferencePair.Source.values)


def test_each_row_says_whose_judgement_it_is(platform, tmp_path):
    users = platform.answer(text="the owner's pick")
    platform.pair("pick", chosen=users, rejected=platform.answer(users.turn, text="the owner's other"),
                  feedback=platform.vote(users, "pick"))
    staffs = platform.answer(text="staff's pick", kind="compare")
    blind = platform.vote(staffs, "pick")
    Feedback.objects.filter(pk=blind.pk).update(from_staff=True)  # a blind vote in the review console
    platform.pair("pick", chosen=staffs, rejected=platform.answer(staffs.turn, text="staff's other", kind="compare"),
                  feedback=blind)
    platform.vote(platform.answer(text="an accepted app"), "accept")
    platform.defect(platform.answer(text="a lazy app"), "lazy_placeholder")

    export(tmp_path / "out", "--holdout", "0")

    rows = read_rows(tmp_path / "out", "dpo") + read_rows(tmp_path / "out", "kto")
    assert {(r.get("chosen") or r["completion"])[0]["content"]: r["voter"] for r in rows} == {
        "the owner's pick": "user", "staff's pick": "staff", "an accepted app": "user", "a lazy app": "kiln"}
