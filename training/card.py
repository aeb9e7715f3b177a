"""The snapshot's README.md: a Hugging Face dataset card (YAML front matter that `datasets` reads:
configs, splits, features, size category, license) and a plain summary for people."""

from __future__ import annotations

import pyarrow as pa
import yaml
from django.conf import settings

from training.mapping import mapping_table_markdown

_DTYPES = {pa.string(): "string", pa.bool_(): "bool", pa.int64(): "int64"}
_SIZE_CATEGORIES = ((1_000, "n<1K"), (10_000, "1K<n<10K"), (100_000, "10K<n<100K"), (1_000_000, "100K<n<1M"),
                    (10_000_000, "1M<n<10M"))

_PURPOSE = {
    "dpo": "preference pairs for TRL's `DPOTrainer`",
    "reward": "the same pairs, for TRL's `RewardTrainer`",
    "kto": "single completions labelled good or bad, for TRL's `KTOTrainer`",
    "sft": "demonstrations (prompt and a good answer as one conversation), for TRL's `SFTTrainer`",
}


def license_name() -> str:
    return settings.DATASET_LICENSE


def features_yaml(schema: pa.Schema | pa.StructType) -> list[dict]:
    """An Arrow schema in the card's `features` form (the form `datasets` writes and reads)."""
    out = []
    for arrow_field in schema:
        kind = arrow_field.type
        if pa.types.is_list(kind) and pa.types.is_struct(kind.value_type):
            out.append({"name": arrow_field.name, "list": features_yaml(kind.value_type)})
        elif pa.types.is_list(kind):
            out.append({"name": arrow_field.name, "list": _DTYPES[kind.value_type]})
        else:
            out.append({"name": arrow_field.name, "dtype": _DTYPES[kind]})
    return out


def size_category(rows: int) -> str:
    return next(name for limit, name in _SIZE_CATEGORIES if rows < limit)


def render(manifest: dict, schemas: dict[str, pa.Schema], num_bytes: dict[str, dict[str, int]]) -> str:
    """The card of a snapshot; `num_bytes` is each split's uncompressed size (the card's splits need it)."""
    counts = manifest["counts"]
    largest = max((sum(c.values()) for c in counts.values()), default=0)
    front = {
        "license": license_name(),
        "pretty_name": "Kiln app-builder preference data",
        "language": ["en"],
        "task_categories": ["text-generation"],
        "tags": ["trl", "dpo", "kto", "sft", "reward-modeling", "code"],
        "size_categories": [size_category(largest)],
        # A split with no rows is still written (empty files) but left out here: `datasets` refuses to
        # load a config that names an empty split, and a config with no rows at all.
        "configs": [
            {"config_name": fmt, "data_files": [{"split": split, "path": f"{fmt}/{split}.parquet"}
                                                for split, n in counts[fmt].items() if n]}
            for fmt in counts if any(counts[fmt].values())
        ],
        "dataset_info": [
            {"config_name": fmt, "features": features_yaml(schemas[fmt]),
             "splits": [{"name": split, "num_bytes": num_bytes[fmt][split], "num_examples": n}
                        for split, n in counts[fmt].items() if n]}
            for fmt in counts if any(counts[fmt].values())
        ],
    }
    filters = manifest["filters"]
    lines = [
        "---",
        yaml.safe_dump(front, sort_keys=False, allow_unicode=True).rstrip(),
        "---",
        "",
        "# Kiln app-builder preference data",
        "",
        "A snapshot of what users of one Kiln installation asked for, what the model answered, and what",
        "they (and Kiln's automatic checks) thought of the answers, in TRL's conversational formats.",
        f"Written by `manage.py export_dataset` at Kiln commit `{manifest['kiln_commit']}`; `manifest.json`",
        "holds the filters, counts and the sha256 of every file.",
        "",
        "## Configs",
        "",
        "| config | train | test | what |",
        "| --- | --- | --- | --- |",
        *[f"| `{fmt}` | {c['train']} | {c['test']} | {_PURPOSE[fmt]} |" for fmt, c in counts.items()],
        "",
        "Each config is in `<config>/<split>.parquet` (the card's configs point there) and the same rows in",
        "`<config>/<split>.jsonl`. Every row also carries metadata: `generations` (id, model version, kind,",
        "build and smoke-test results, console errors, render time and token counts of each answer behind",
        "it, chosen first), `turn` and `project` (keyed hashes), `source`, `voter` (`user`: the app's",
        "owner; `staff`: a staff blind vote; `kiln`: no person, an automatic check or a repair), `review_status`,",
        "`review_decisions` (the reviewers' audit trail: reviewer as a keyed hash, action, tags, time),",
        "`prompt_group` and `created_at`. Drop them before training if your trainer complains about extra",
        "columns.",
        "",
        "## Where the data comes from",
        "",
        "Users describe an app in Kiln; a model writes its files; Kiln builds the app in a sandbox and",
        "loads it in a headless browser. The prompt of every row is exactly what the model was sent (system",
        "prompt, earlier turns, the app's current files, the request). Orderings come from explicit picks",
        "between two candidates, accepting one candidate over another, restoring an older version, editing",
        "by hand, and repairs that turned a failed build into a working one. Single labels come from",
        "accepts, rejects and \"both bad\" votes, and from automatic checks that need no user: protocol",
        "errors, answers cut off by the length limit, lazy placeholders, code in the chat instead of",
        "files, no files at all, failed builds and broken previews.",
        "",
        "## How votes became rows",
        "",
        mapping_table_markdown(),
        "",
        "## What was left out, and why",
        "",
        f"- Review filter `{filters['review']}`: pairs a reviewer excluded never appear, nor do the votes",
        "  that recorded them" + (
            "; only rows a reviewer approved or relabelled are kept (approved automatic negatives too; unreviewed"
            " ones, unreviewed and overruled votes are not)." if filters["review"] == "approved" else "."),
        "- Duplicates: a row whose (prompt, completion) was already written is dropped; the first one read",
        "  wins (pairs, then verdicts, then automatic negatives), so a person's verdict outranks the scorer's",
        "  label of the same answer.",
        "- A smoke test that could not run (the browser itself broken) is \"not scored\": never a negative.",
        "  Build failures of Kiln's own making (engine down, worker lost) are not labels either.",
        "- Cancelled answers and answers with no text are not examples.",
        f"- Filters: since {filters['since'] or 'the start'}, until {filters['until'] or 'now'}"
        + (f", model versions {', '.join(filters['model_versions'])}" if filters["model_versions"] else "")
        + (f", sources {', '.join(filters['sources'])}" if filters["sources"] else "") + ".",
        "",
        "| config | dropped | by source |",
        "| --- | --- | --- |",
        *[f"| `{fmt}` | {reason} | {', '.join(f'{s}: {n}' for s, n in by.items())} |"
          for fmt, reasons in manifest["dropped"].items() for reason, by in reasons.items()],
        "",
        "## Splits",
        "",
        f"`test` holds about {manifest['holdout']:.0%} of prompt groups, chosen by a hash of the seed",
        f"({manifest['seed']}) and the normalised opening request of the conversation (lower case, whitespace",
        "collapsed, the app's files removed). Every turn of a conversation shares its opening request, so no",
        "prompt, nor an app made for it, is on both sides, and a prompt keeps its side in later snapshots.",
        "",
        "## Known biases",
        "",
        "- The people who vote are the people who use this installation: few, self-selected, and mostly",
        "  asking for small CRUD apps.",
        "- Early data comes from Kiln's offline blueprint model, whose answers follow a few templates.",
        "- Accepts far outnumber rejects; KTO weights should account for the imbalance.",
        "- Automatic negatives only catch what the checks can see (it builds, it renders); an app that",
        "  works but does the wrong thing is only caught by a person.",
        "- Side-by-side picks may favour the candidate shown first.",
        "",
    ]
    return "\n".join(lines)
