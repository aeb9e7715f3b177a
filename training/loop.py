"""One training round end to end (`manage.py run_round`): snapshot → train → register → load the adapter
into the running model server → evaluate against the parent on held-out prompts → promote if better,
with a Markdown report beside the adapter (report.md, next to round.json).

Each step is another module's function; this one only runs them in order and writes down what
happened, including a promotion the rule refused (that is a result, not an error).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings
from django.utils import timezone

from generation.models import ModelVersion
from training import corpus, evaluation, promotion, rounds, serving
from training.models import EvaluationRun, Promotion
from training.snapshot import ExportOptions, export_snapshot

REPORT = "report.md"
# Held-out prompts that go through build and smoke test by default (about 20 s each on two cores);
# the rest are scored from the answer alone.
SANDBOX_SAMPLE = 10
SNAPSHOT_AND_EXPORT = "Give --snapshot DIR or --export, not both."


@dataclass
class RoundOutcome:
    version: ModelVersion
    evaluation: EvaluationRun
    promotion: Promotion | None
    decision: str  # what the promotion rule said, in words
    report: Path


def run_round(*, base: ModelVersion, method: str, out_dir: Path, snapshot: Path | None = None, export: bool = False,
              n: int = 100, steps: int = 20, share: float = 0.1, sandbox_sample: int | None = SANDBOX_SAMPLE,
              server_url: str | None = None, seed: int = 0, progress: bool = True, **hyperparameters) -> RoundOutcome:
    """Train a round on `base` and decide on its promotion. `out_dir` gets `snapshot/` (with --export)
    and `adapter/` (the adapter, round.json and report.md). The model server at `server_url` (default
    OWN_MODEL_BASE_URL) must serve `base` already; the new adapter is loaded into it at run time."""
    if snapshot is not None and export:
        raise ValueError(SNAPSHOT_AND_EXPORT)
    out_dir = Path(out_dir)
    if export:
        snapshot = out_dir / "snapshot"
        export_snapshot(out=snapshot, options=ExportOptions(seed=seed))
    version = rounds.train_round(base, method=method, snapshot=snapshot, out_dir=out_dir / "adapter", steps=steps,
                                 progress=progress, seed=seed, **hyperparameters)
    server_url = server_url or settings.OWN_MODEL_BASE_URL
    serving.load_adapter(server_url, version.name, Path(version.artifact_dir))
    items = corpus.held_out_items(n, seed=seed)
    run = evaluation.evaluate([version, base], items, sandbox_sample=sandbox_sample, progress=progress)
    try:
        promoted = promotion.promote(version, share)
        decision = f"Promoted {version.name} to {share:.0%} of traffic (routing weight {promoted.weight})."
    except promotion.PromotionRefused as refused:
        promoted, decision = None, f"Not promoted. {refused}"
    report = Path(version.artifact_dir) / REPORT
    report.write_text(report_text(version, run, decision, method=method, snapshot=snapshot), encoding="utf-8")
    return RoundOutcome(version=version, evaluation=run, promotion=promoted, decision=decision, report=report)


def report_text(version: ModelVersion, run: EvaluationRun, decision: str, *, method: str,
                snapshot: Path | None) -> str:
    training = version.training or {}
    record = _round_record(training.get("round_json"))
    lines = [
        f"# Round {version.name}",
        "",
        "| | |",
        "| --- | --- |",
        f"| parent | {version.parent.name if version.parent_id else '–'} |",
        f"| method | {method} |",
        f"| snapshot | {snapshot or '–'} (manifest sha256 {training.get('snapshot_sha256') or '–'}) |",
        f"| training steps | {training.get('steps', '–')} |",
        f"| training wall time | {training.get('wall_s', '–')} s |",
        f"| peak memory (RSS) | {record.get('peak_rss_mb', '–')} MB |",
        f"| adapter | {version.artifact_dir} |",
        f"| written | {timezone.now():%Y-%m-%d %H:%M} UTC |",
        "",
        f"## Evaluation {run.id} against the parent",
        "",
        evaluation.markdown(run),
        "## Promotion",
        "",
        decision,
        "",
    ]
    return "\n".join(lines)


def _round_record(path: str | None) -> dict:
    """round.json (training.rounds), or nothing when it cannot be read."""
    try:
        return json.loads(Path(path).read_text(encoding="utf-8")) if path else {}
    except (OSError, ValueError):
        return {}
