"""export_dataset as an ML engineer uses it: files that load, splits that never leak, reviewers'
exclusions respected, and snapshots that can be reproduced byte for byte."""

import ast
import hashlib
import json
import re
import tracemalloc
from datetime import timedelta
from pathlib import Path

import datasets
import orjson
import pyarrow.parquet as pq
import pytest
import yaml
from django.core.management import CommandError, call_command
from django.utils import timezone

import training
from feedback.models import Feedback
from feedback.review import decide
from tests.training.conftest import export, read_rows
from training.mapping import normalised_prompt, prompt_group, to_json
from training.snapshot import SeenRows

pytestmark = pytest.mark.django_db

COLUMNS = {
    "dpo": {"prompt", "chosen", "rejected"},
    "reward": {"prompt", "chosen", "rejected"},
    "kto": {"prompt", "completion", "label"},
    "sft": {"messages"},
}
METADATA = {"generations", "turn", "project", "source", "voter", "review_status", "review_decisions", "prompt_group",
            "created_at"}


def votes_on(platform, prompt: str, *, n: int = 0):
    """A compared turn: A picked over B, A accepted, B rejected, and a third answer that failed to build."""
    turn = platform.turn(prompt)
    picked = platform.answer(turn, text=f"picked app for {prompt} #{n}")
    other = platform.answer(turn, text=f"other app for {prompt} #{n}")
    platform.pair("pick", chosen=picked, rejected=other, feedback=platform.vote(picked, "pick"))
    platform.vote(picked, "accept")
    platform.vote(other, "reject")
    broken = platform.answer(turn, text=f"broken app for {prompt} #{n}")
    platform.build(broken, status="failed", failed_step="bundle", build_passed=False, smoke_passed=None)


@pytest.fixture
def busy_platform(platform):
    for i in range(30):
        votes_on(platform, f"An app for tracking item {i}")
    return platform


def all_rows(out, formats=("dpo", "reward", "kto", "sft")):
    return {fmt: {split: read_rows(out, fmt, (split,)) for split in ("train", "test")} for fmt in formats}


def test_every_file_loads_with_datasets_with_the_trl_columns(busy_platform, tmp_path):
    out = tmp_path / "snapshot"
    manifest = export(out, "--holdout", "0.3", "--seed", "3")

    for fmt, columns in COLUMNS.items():
        for split in ("train", "test"):
            assert manifest["counts"][fmt][split] > 0, (fmt, split)
            from_jsonl = datasets.load_dataset("json", data_files=str(out / fmt / f"{split}.jsonl"), split="train")
            from_parquet = datasets.load_dataset("parquet", data_files=str(out / fmt / f"{split}.parquet"), split="train")
            assert set(from_jsonl.column_names) == set(from_parquet.column_names) == columns | METADATA
            assert len(from_jsonl) == len(from_parquet) == manifest["counts"][fmt][split]
            for column in columns:
                assert from_jsonl[column] == from_parquet[column]
        # The card's configs name the Parquet files: the snapshot folder loads as a dataset by config.
        by_card = datasets.load_dataset(str(out), fmt)
        assert {split: len(rows) for split, rows in by_card.items()} == manifest["counts"][fmt]
    kto = datasets.load_dataset("parquet", data_files=str(out / "kto" / "train.parquet"), split="train")
    assert set(kto["label"]) == {True, False}
    assert kto.features["prompt"].feature["role"].dtype == "string"


def test_no_prompt_is_on_both_sides_of_the_split(busy_platform, tmp_path):
    out = tmp_path / "snapshot"
    export(out, "--holdout", "0.3", "--seed", "3")

    for fmt, by_split in all_rows(out).items():
        first_message = "messages" if fmt == "sft" else "prompt"
        sides = {split: {normalised_prompt(r[first_message]) for r in rows} for split, rows in by_split.items()}
        assert sides["train"] and sides["test"], fmt
        assert not sides["train"] & sides["test"], fmt
        for rows in by_split.values():
            assert all(r["prompt_group"] == prompt_group(r[first_message]) for r in rows)


def test_a_prompt_keeps_its_side_when_more_data_arrives(busy_platform, tmp_path):
    before = all_rows_by_group(export_to(tmp_path / "before", "--seed", "11", "--holdout", "0.3"))
    for i in range(30, 60):
        votes_on(busy_platform, f"An app for tracking item {i}")
    for i in range(0, 30, 3):  # new votes on old prompts too
        votes_on(busy_platform, f"An app for tracking item {i}", n=1)
    after = all_rows_by_group(export_to(tmp_path / "after", "--seed", "11", "--holdout", "0.3"))

    assert len(after) > len(before)
    assert all(after[group] == side for group, side in before.items())
    other_seed = all_rows_by_group(export_to(tmp_path / "other-seed", "--seed", "12", "--holdout", "0.3"))
    assert other_seed != after  # the seed really decides


def export_to(out, *args):
    export(out, *args)
    return out


def all_rows_by_group(out) -> dict[str, str]:
    sides = {}
    for by_split in all_rows(out).values():
        for split, rows in by_split.items():
            for row in rows:
                assert sides.setdefault(row["prompt_group"], split) == split
    return sides


def test_every_turn_of_a_conversation_lands_with_its_opening_request(platform, tmp_path):
    opening = platform.answer(platform.turn("A Todo   List\n"), text="first app")
    platform.vote(opening, "accept")
    follow_up = platform.turn("make it blue", history=[("a todo list", opening.raw_output)],
                              files={"src/App.jsx": "export default function App() { return <h1>Todo</h1>; }"})
    platform.vote(platform.answer(follow_up, text="blue app"), "accept")
    repair = platform.answer(follow_up, kind="repair", text="repair attempt", messages=[
        {"role": "system", "content": "sys"},
        {"role": "user", "content": "The app's current files:\n<file path=\"a\">x</file>\n\n## Request\nThe app does not work yet"}])
    platform.defect(repair, "no_files")

    export(tmp_path / "out", "--holdout", "0.5")

    rows = read_rows(tmp_path / "out", "kto")
    assert [r["completion"][0]["content"] for r in rows] == ["first app", "blue app", "repair attempt"]
    assert len({r["prompt_group"] for r in rows}) == 1
    assert normalised_prompt(rows[1]["prompt"]) == "a todo list"
    assert "<file" in rows[1]["prompt"][-1]["content"]  # the row itself keeps the app's files


def test_excluded_pairs_and_the_votes_behind_them_never_appear(platform, tmp_path):
    kept = platform.answer(text="kept app")
    platform.pair("pick", chosen=kept, rejected=platform.answer(kept.turn, text="kept loser"))
    hidden = platform.answer(platform.turn("SECRET prompt"), text="SECRET chosen")
    loser = platform.answer(hidden.turn, text="SECRET rejected")
    accept = platform.vote(hidden, "accept")
    platform.pair("regenerate", chosen=hidden, rejected=loser, feedback=accept, review_status="excluded")
    edited = platform.answer(text="model text")
    platform.pair("edit", chosen=edited, rejected=edited, chosen_text="SECRET edit", review_status="excluded")

    for review in ("not-excluded", "approved"):
        out = tmp_path / review
        manifest = export(out, "--review", review, "--holdout", "0.5")
        for path in out.rglob("*l"):  # .jsonl
            assert "SECRET" not in path.read_text()
        for path in out.rglob("*.parquet"):
            assert "SECRET" not in json.dumps(pq.read_table(path).to_pylist())
        if review == "not-excluded":
            assert sum(manifest["dropped"]["dpo"]["excluded by a reviewer"].values()) == 2
            assert manifest["dropped"]["kto"]["excluded by a reviewer"] == {"accept": 1}
            assert manifest["dropped"]["sft"]["excluded by a reviewer"] == {"accept": 1, "edit": 1}


def test_review_approved_keeps_only_what_a_reviewer_approved(platform, tmp_path):
    approved = platform.answer(text="approved chosen")
    platform.pair("pick", chosen=approved, rejected=platform.answer(approved.turn), review_status="approved")
    relabelled = platform.answer(text="relabelled chosen")
    platform.pair("pick", chosen=relabelled, rejected=platform.answer(relabelled.turn), review_status="relabelled")
    pending = platform.answer(text="pending chosen")
    platform.pair("pick", chosen=pending, rejected=platform.answer(pending.turn))
    platform.vote(platform.answer(text="lone accept"), "accept")
    platform.defect(platform.answer(text="cut off"), "cut_off")

    export(tmp_path / "out", "--review", "approved", "--holdout", "0")

    assert [r["chosen"][0]["content"] for r in read_rows(tmp_path / "out", "dpo")] == [
        "approved chosen", "relabelled chosen"]
    assert read_rows(tmp_path / "out", "kto") == [] and read_rows(tmp_path / "out", "sft") == []


def test_a_vote_whose_pair_a_reviewer_relabelled_is_overruled(platform, tmp_path):
    accepted = platform.answer(text="accepted by the user")
    better = platform.answer(accepted.turn, text="better, says the reviewer")
    # The reviewer swapped the ordering the accept implied (feedback.review relabels this way).
    platform.pair("regenerate", chosen=better, rejected=accepted, feedback=platform.vote(accepted, "accept"),
                  review_status="relabelled")

    export(tmp_path / "all", "--holdout", "0")
    export(tmp_path / "approved", "--review", "approved", "--holdout", "0")

    assert [(r["source"], r["review_status"]) for r in read_rows(tmp_path / "all", "kto")] == [("accept", "overruled")]
    assert [r["chosen"][0]["content"] for r in read_rows(tmp_path / "approved", "dpo")] == ["better, says the reviewer"]
    assert read_rows(tmp_path / "approved", "kto") == [] and read_rows(tmp_path / "approved", "sft") == []


def test_an_automatic_negative_a_reviewer_approved_is_kept_by_review_approved(platform, staff, tmp_path):
    approved = platform.answer(text="approved negative")
    platform.defect(approved, "cut_off")
    decide(reviewer=staff, action="approve", generation=approved)
    decide(reviewer=staff, action="tag", generation=approved, tags="truncated")  # a tag keeps the approval
    platform.defect(platform.answer(text="unreviewed negative"), "no_files")
    excluded = platform.answer(text="excluded negative")
    platform.build(excluded, status="failed", failed_step="bundle", build_passed=False, smoke_passed=None)
    decide(reviewer=staff, action="exclude", generation=excluded, reason="the bundle error is Kiln's")

    strict = export(tmp_path / "approved", "--review", "approved", "--holdout", "0")
    loose = export(tmp_path / "all", "--holdout", "0")

    def kto(out):
        return [(r["completion"][0]["content"], r["label"], r["review_status"]) for r in read_rows(tmp_path / out, "kto")]
    assert kto("approved") == [("approved negative", False, "approved")]
    assert kto("all") == [("approved negative", False, "approved"), ("unreviewed negative", False, "automatic")]
    assert strict["dropped"]["kto"]["review status automatic"] == {"no_files": 1}
    for manifest in (strict, loose):
        assert manifest["dropped"]["kto"]["excluded by a reviewer"] == {"failed_build": 1}


def test_every_row_carries_the_reviewers_audit_trail(platform, staff, tmp_path):
    picked = platform.answer(text="picked app")
    pair = platform.pair("pick", chosen=picked, rejected=platform.answer(picked.turn, text="other app"),
                         feedback=platform.vote(picked, "accept"))
    decide(reviewer=staff, action="tag", pair=pair, tags="Layout, slow")
    decide(reviewer=staff, action="approve", pair=pair)
    negative = platform.answer(text="lazy app")
    platform.defect(negative, "lazy_placeholder")
    decide(reviewer=staff, action="tag", generation=negative, tags="placeholder")
    platform.vote(platform.answer(text="unreviewed accept"), "accept")

    export(tmp_path / "out", "--holdout", "0")

    def trail(fmt):
        return {(r.get("chosen") or r.get("completion") or r["messages"][-1:])[0]["content"]: r["review_decisions"]
                for r in read_rows(tmp_path / "out", fmt)}
    dpo, kto, sft = trail("dpo"), trail("kto"), trail("sft")
    reviewer = dpo["picked app"][0]["reviewer"]
    assert re.fullmatch(r"[0-9a-f]{16}", reviewer) and reviewer != str(staff.id)
    assert [(d["reviewer"], d["action"], d["tags"]) for d in dpo["picked app"]] == [
        (reviewer, "tag", ["layout", "slow"]), (reviewer, "approve", [])]
    assert all(d["created_at"].startswith(str(timezone.localdate())) for d in dpo["picked app"])
    assert kto["picked app"] == sft["picked app"] == dpo["picked app"]  # the accept recorded that pair
    assert [(d["reviewer"], d["action"], d["tags"]) for d in kto["lazy app"]] == [(reviewer, "tag", ["placeholder"])]
    assert kto["unreviewed accept"] == [] and sft["unreviewed accept"] == []
    parquet = pq.read_table(tmp_path / "out" / "dpo" / "train.parquet").to_pylist()
    assert parquet[0]["review_decisions"] == dpo["picked app"]


def test_the_same_database_and_options_give_byte_identical_files(busy_platform, tmp_path):
    export(tmp_path / "one", "--holdout", "0.2", "--seed", "5")
    export(tmp_path / "two", "--holdout", "0.2", "--seed", "5")

    files = sorted(p.relative_to(tmp_path / "one") for p in (tmp_path / "one").rglob("*") if p.is_file())
    assert len(files) == 18  # 4 formats x 2 splits x 2 encodings, the card and the manifest
    for path in files:
        assert (tmp_path / "one" / path).read_bytes() == (tmp_path / "two" / path).read_bytes(), path


def test_the_manifest_holds_every_file_hash_and_row_count(busy_platform, tmp_path):
    out = tmp_path / "snapshot"
    manifest = export(out, "--holdout", "0.2", "--since", "2020-01-01", "--source", "pick,accept",
                      "--source", "failed_build")

    on_disk = {str(p.relative_to(out)) for p in out.rglob("*") if p.is_file()} - {"manifest.json"}
    assert set(manifest["files"]) == on_disk
    for path, entry in manifest["files"].items():
        data = (out / path).read_bytes()
        assert entry["sha256"] == hashlib.sha256(data).hexdigest() and entry["bytes"] == len(data)
        if path.endswith(".jsonl"):
            assert entry["rows"] == len(data.splitlines())
        elif path.endswith(".parquet"):
            assert entry["rows"] == pq.ParquetFile(out / path).metadata.num_rows
    assert manifest["schema_version"] == 2 and len(manifest["kiln_commit"]) == 40
    assert manifest["filters"]["sources"] == ["pick", "accept", "failed_build"]
    assert manifest["filters"]["since"].startswith("2020-01-01T00:00:00")
    assert (manifest["seed"], manifest["holdout"]) == (0, 0.2)
    assert {fmt: sum(c.values()) for fmt, c in manifest["counts"].items()} == {
        "dpo": 30, "reward": 30, "kto": 60, "sft": 30}
    assert {s: sum(c.values()) for s, c in manifest["counts_by_source"]["kto"].items()} == {
        "accept": 30, "failed_build": 30}
    assert sum(manifest["dropped"]["kto"]["other source"].values()) == 30  # the rejects


def test_a_repeated_prompt_and_completion_is_dropped_and_counted(platform, tmp_path):
    for _ in range(3):  # the same two answers recorded three times (three turns with the same prompt)
        winner = platform.answer(text="same winner")
        platform.pair("regenerate", chosen=winner, rejected=platform.answer(winner.turn, text="same loser"))
    accepted = platform.answer(text="accepted but with a placeholder")
    platform.vote(accepted, "accept")
    platform.defect(accepted, "lazy_placeholder")

    manifest = export(tmp_path / "out", "--holdout", "0")

    assert manifest["counts"]["dpo"]["train"] == 1
    assert manifest["dropped"]["dpo"]["duplicate (prompt, completion)"] == {"regenerate": 2}
    # The person's verdict is read first and wins over the scorer's label of the same answer.
    assert [(r["source"], r["label"]) for r in read_rows(tmp_path / "out", "kto")] == [("accept", True)]
    assert manifest["dropped"]["kto"]["duplicate (prompt, completion)"] == {"lazy_placeholder": 1}


def test_filters_by_date_model_version_and_source(platform, tmp_path):
    old = platform.answer(text="old accept")
    platform.vote(old, "accept")
    Feedback.objects.filter(generation=old).update(created_at=timezone.now() - timedelta(days=10))
    other_model = platform.answer(text="round-1 accept", model_version=platform.other_model())
    platform.vote(other_model, "accept")
    platform.vote(platform.answer(text="today's reject"), "reject")
    today = timezone.localdate().isoformat()

    export(tmp_path / "today", "--since", today, "--formats", "kto", "--holdout", "0")
    export(tmp_path / "until", "--until", (timezone.localdate() - timedelta(days=1)).isoformat(), "--holdout", "0")
    export(tmp_path / "model", "--model-version", "kiln-round-1", "--holdout", "0")
    export(tmp_path / "source", "--source", "reject", "--holdout", "0")

    def texts(out):
        return [r["completion"][0]["content"] for r in read_rows(tmp_path / out, "kto")]
    assert texts("today") == ["round-1 accept", "today's reject"]
    assert not (tmp_path / "today" / "dpo").exists()
    assert texts("until") == ["old accept"]
    assert texts("model") == ["round-1 accept"]
    assert texts("source") == ["today's reject"]


def test_the_dataset_card_has_hugging_face_front_matter(busy_platform, tmp_path, settings):
    settings.DATASET_LICENSE = "cc-by-4.0"
    out = tmp_path / "snapshot"
    manifest = export(out, "--holdout", "0.2")

    text = (out / "README.md").read_text()
    front = yaml.safe_load(text.split("---\n")[1])
    assert front["license"] == "cc-by-4.0"
    assert front["size_categories"] == ["n<1K"]
    assert [c["config_name"] for c in front["configs"]] == ["dpo", "reward", "kto", "sft"]
    for config in front["configs"]:
        assert all((out / f["path"]).exists() for f in config["data_files"])
    for info in front["dataset_info"]:
        assert {s["name"]: s["num_examples"] for s in info["splits"]} == manifest["counts"][info["config_name"]]
        assert {f["name"] for f in info["features"]} == COLUMNS[info["config_name"]] | METADATA
    assert "## How votes became rows" in text and "## Known biases" in text


def test_a_snapshot_with_an_empty_split_or_format_still_loads_by_config(platform, tmp_path):
    platform.vote(platform.answer(text="the only app"), "accept")  # one prompt: nothing held out, no pairs

    manifest = export(tmp_path / "out", "--holdout", "0.1")

    assert manifest["counts"]["kto"] == {"train": 1, "test": 0} and manifest["counts"]["dpo"] == {"train": 0, "test": 0}
    assert (tmp_path / "out" / "kto" / "test.parquet").exists() and (tmp_path / "out" / "dpo" / "train.jsonl").exists()
    kto = datasets.load_dataset(str(tmp_path / "out"), "kto")
    assert {split: len(rows) for split, rows in kto.items()} == {"train": 1}
    front = yaml.safe_load((tmp_path / "out" / "README.md").read_text().split("---\n")[1])
    assert [c["config_name"] for c in front["configs"]] == ["kto", "sft"]


def test_it_refuses_to_write_into_a_folder_that_holds_files(platform, tmp_path):
    (tmp_path / "old").mkdir()
    (tmp_path / "old" / "notes.txt").write_text("mine")

    with pytest.raises(CommandError, match="already holds files"):
        call_command("export_dataset", "--out", str(tmp_path / "old"))
    assert [p.name for p in (tmp_path / "old").iterdir()] == ["notes.txt"]
    assert [p.name for p in tmp_path.iterdir()] == ["old"]  # no half-written snapshot left beside it


@pytest.mark.parametrize("args, message", [
    (["--formats", "dpo,grpo"], "unknown format 'grpo'"),
    (["--source", "thumbs_up"], "unknown source 'thumbs_up'"),
    (["--since", "last week"], "is not a date"),
    (["--holdout", "1.5"], "fraction of prompts held out"),
])
def test_it_explains_bad_arguments(args, message, tmp_path, db):
    with pytest.raises(CommandError, match=message):
        call_command("export_dataset", "--out", str(tmp_path / "out"), *args)


def test_the_dataset_export_reads_other_rooms_models_only_and_never_docker():
    # The export (mapping, selectors, snapshot, card, its commands) reads builder's, generation's,
    # sandbox's and feedback's data through their models: no services, views, consumers or Docker
    # (docs/design: Rooms). Training rounds and evaluation, elsewhere in training/, drive the pipeline.
    allowed = {"generation.prompts", "feedback.pairs"}
    folder = Path(training.__file__).parent
    export_modules = [folder / f"{name}.py" for name in ("mapping", "selectors", "snapshot", "card")] + [
        folder / "management" / "commands" / f"{name}.py" for name in ("export_dataset", "export_preferences")]
    for path in export_modules:
        for node in ast.walk(ast.parse(path.read_text())):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else (
                [node.module] if isinstance(node, ast.ImportFrom) and node.module else [])
            for name in names:
                room = name.split(".")[0]
                assert room != "docker", path
                if room in {"builder", "generation", "sandbox", "feedback"}:
                    assert name.endswith(".models") or name in allowed, (path, name)


def test_deduplication_remembers_every_key_across_merges(monkeypatch):
    monkeypatch.setattr(SeenRows, "RECENT_LIMIT", 3)  # merge into the sorted array every 3 new keys
    seen = SeenRows()
    big = 2**64 - 1  # keys are unsigned 64-bit hashes

    assert seen.first_seen("kto", [5, big, 5, 7]) == [True, True, False, True]  # merged after 7
    assert seen.first_seen("kto", [7, 1, big, 2, 3, 1]) == [False, True, False, True, True, False]
    assert seen.first_seen("kto", [1, 2, 3, 5, 7, big, 4]) == [False] * 6 + [True]
    assert seen.first_seen("sft", [5, 5]) == [True, False]  # each row kind on its own


def test_encoded_messages_hold_no_more_memory_than_their_json():
    # Every row of a chunk holds its prompt's and answers' JSON until it is written. orjson 3.12+ returns
    # its output buffer as it grew (16 KB for a 1.8 KB prompt) without shrinking it, which made one
    # chunk's rows take 33 MB instead of 5 and broke the export's memory goal (docs/datasets.md).
    prompt = [{"role": "system", "content": "You write apps. " * 90}, {"role": "user", "content": "A todo list"}]
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        kept = [to_json(prompt) for _ in range(200)]
        held = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()

    assert kept[0] == orjson.dumps(prompt)
    assert held < 1.2 * sum(len(encoded) for encoded in kept)
