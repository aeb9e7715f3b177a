"""Evaluation: model versions answer the same prompts through Kiln's real turn path, and are compared.

Each prompt is a turn of its own evaluation project, owned by the system account
`builder.pipeline.EVALUATION_ACCOUNT` (no usable password, not staff). Each version answers it in a
generation pinned to that version, run in this process exactly as the Celery tasks run it
(builder.tasks): `pipeline.generate` streams the answer, parses it and stores the version, whose build
`pipeline.build` bundles, previews and smoke-tests in Chromium. The pipeline never repairs an
evaluation account's build (pipeline.after_build): an evaluation measures the version's own first
answer.

Run as a command (autocommit), the pipeline's own admission (`dispatch`, on commit) also hands each
requested build to the build queue. The evaluation does not wait for a worker: it runs the build
itself, and a worker that takes the message later finds the build done (its claim makes that a
no-op). When Kiln's workers are running and one takes the build first, the evaluation waits for its
verdict: the same function, so the same result.

`sandbox_sample=k` sends only the first k prompts (the same ones for every version, so the comparison
stays paired) through build and smoke test; the others stop after the model's part of the turn
(`generation.runs.run_generation`: stream, parse, defects) and are scored without building.

Every answer is scored by `training.scoring` (the reward of a training round); a sandboxed answer's
reward counts the pipeline's own build and smoke verdicts. Per version the summary holds the
protocol-valid rate, the right-entity rate, field F1, build-pass and smoke-pass rates, the share of
expected names the page shows, tokens and seconds per working app and mean reward, each with a 95 %
percentile bootstrap interval (scipy.stats.bootstrap, seeded); with two versions, the paired
difference A − B in reward on the same prompts, with its interval.
"""

from __future__ import annotations

import json
import time
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from django.contrib.auth import get_user_model
from django.db import transaction
from django.utils import timezone
from scipy import stats
from tqdm import tqdm

from builder import fair_use, pipeline, services
from builder.models import Project, Turn
from builder.versions import create_version
from config.leases import LeaseHeld
from generation import runs
from generation.models import Generation, ModelVersion
from generation.prompts import build_messages, spec_messages
from sandbox import lifecycle
from sandbox.models import Build
from training import scoring
from training.corpus import PromptItem
from training.models import EvaluationResult, EvaluationRun

CONFIDENCE = 0.95
RESAMPLES = 2000
SEED = 13  # bootstrap and turn seeds: the same run gives the same intervals
BUILD_WAIT_S = 300.0

VERSION_COUNT = "Evaluate one or two model versions (got {count})."
NO_PROMPTS = "There are no prompts to evaluate."
SAME_VERSION = "Compare two different model versions (got {name} twice)."
MODEL_FAILED = "{version} could not answer, so the evaluation stopped: {error}"
SANDBOX_FAILED = "The sandbox could not build an app, so the evaluation stopped: {error}"
BUILD_TIMED_OUT = "Build {build_id} gave no verdict within {seconds:g} s; is a build worker stuck on it?"
BAD_PROMPT_FILE = (
    '{path}:{line}: each line must be a JSON object with "prompt" (text), "entity" (the expected main entity, '
    'as app.json spells it) and "fields" (a list of field names).'
)
NO_PROMPT_FILE = "There is no prompt file at {path}."

# Generation failures that are the machine's, not the model's answer: the evaluation stops on them
# rather than scoring the version zero.
_MODEL_DOWN = (runs.MODEL_UNREACHABLE.split("{")[0], runs.MODEL_ERROR.split("{")[0])


class EvaluationError(RuntimeError):
    """str(exc) says what went wrong and what to do."""


# (key, label, how it reads): the rows of the table, in order.
METRICS = (
    ("valid", "protocol-valid rate", "rate"),
    ("entity_right", "right entity", "rate"),
    ("field_f1", "field F1", "mean"),
    ("build_passed", "build-pass rate", "rate"),
    ("smoke_passed", "smoke-pass rate", "rate"),
    ("entities_shown", "expected names shown", "rate"),
    ("tokens_per_working_app", "tokens per working app", "amount"),
    ("seconds_per_working_app", "seconds per working app", "amount"),
    ("reward", "mean reward", "mean"),
)


# --- the system account ------------------------------------------------------------------------------


def evaluation_account():
    """The account that owns evaluation projects: it cannot sign in and is not staff."""
    user, created = get_user_model().objects.get_or_create(username=pipeline.EVALUATION_ACCOUNT,
                                                           defaults={"is_staff": False})
    if created:
        user.set_unusable_password()
        user.save(update_fields=["password"])
    return user


# --- running an evaluation ---------------------------------------------------------------------------


def evaluate(versions: list[ModelVersion], items: list, *, sandbox_sample: int | None = None, progress: bool = True,
             prompt_source: str = "held-out") -> EvaluationRun:
    """Every version answers every prompt (training.corpus.PromptItem) through the real turn path; the
    stored run's summary holds the per-version metrics and, for two versions, the paired difference.
    Stops with EvaluationError when a model server or the sandbox is down (not the version's fault)."""
    if not 1 <= len(versions) <= 2:
        raise EvaluationError(VERSION_COUNT.format(count=len(versions)))
    if len(versions) == 2 and versions[0].id == versions[1].id:
        raise EvaluationError(SAME_VERSION.format(name=versions[0].name))
    if not items:
        raise EvaluationError(NO_PROMPTS)
    account = evaluation_account()
    run = EvaluationRun.objects.create(
        version_a=versions[0], version_b=versions[1] if len(versions) > 1 else None, prompt_source=prompt_source,
        n=len(items), sandbox_sample=sandbox_sample,
    )
    for position, item in enumerate(tqdm(items, desc=f"evaluation {run.id}", unit="prompt", disable=not progress)):
        sandboxed = sandbox_sample is None or position < sandbox_sample
        project = Project.objects.create(owner=account, name=f"Evaluation {run.id}, prompt {position + 1}")
        # One turn per prompt, one candidate per version, as "Compare two" stores them.
        turn = Turn.objects.create(project=project, prompt=item.prompt, seed=SEED + position)
        for candidate, version in enumerate(versions, start=1):
            _answer(run, turn, item, version, position=position, candidate=candidate, sandboxed=sandboxed)
    run.summary = summarise(run)
    run.finished_at = timezone.now()
    run.save(update_fields=["summary", "finished_at"])
    return run


def load_items(path: Path) -> list[PromptItem]:
    """Prompts from a JSONL file, one {"prompt", "entity", "fields", "noun"?} object a line, as
    training.corpus.PromptItem (messages: what Kiln sends a spec-mode model for the prompt)."""
    if not path.is_file():
        raise EvaluationError(NO_PROMPT_FILE.format(path=path))
    items = []
    for line_number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
            prompt, entity, fields = row["prompt"], row["entity"], row["fields"]
            if not (isinstance(prompt, str) and isinstance(entity, str) and isinstance(fields, list)):
                raise TypeError
        except (ValueError, KeyError, TypeError):
            raise EvaluationError(BAD_PROMPT_FILE.format(path=path, line=line_number)) from None
        items.append(PromptItem(prompt=prompt, entity=entity, fields=tuple(map(str, fields)),
                                noun=str(row.get("noun", "")), messages=tuple(spec_messages(prompt))))
    return items


def _answer(run: EvaluationRun, turn: Turn, item, version: ModelVersion, *, position: int, candidate: int,
            sandboxed: bool) -> EvaluationResult:
    # As builder.services stores a project's first turn (a spec-mode version's run swaps in its short
    # prompt, generation.runs.spec_request). Queued, not waiting: this process runs it at once.
    generation = Generation.objects.create(
        turn=turn, model_version=version, candidate=candidate, seed=turn.seed, kind=Generation.Kind.FIRST,
        status=Generation.Status.QUEUED, request_messages=build_messages(history=[], files={}, prompt=item.prompt),
    )
    started = time.monotonic()
    build = None
    if sandboxed:
        pipeline.generate(generation.id)  # as builder.tasks.generate runs it: stream, store the version, request its build
        generation.refresh_from_db()
        if generation.app_version_id:
            build = _build(Build.objects.filter(app_version_id=generation.app_version_id).order_by("id").first())
    else:
        runs.run_generation(generation.id)  # the model's part of the turn only: no version, no build
        generation.refresh_from_db()
    seconds = time.monotonic() - started
    if generation.status == Generation.Status.FAILED and generation.error.startswith(_MODEL_DOWN):
        raise EvaluationError(MODEL_FAILED.format(version=version.name, error=generation.error))

    score = scoring.score_answer(item, generation.raw_output, mode=version.output_mode,
                                 finish_reason=generation.finish_reason or None)
    build_passed = smoke_passed = None
    if sandboxed:
        # An answer Kiln would not keep never reaches the sandbox: it neither builds nor runs.
        build_passed = bool(build and build.build_passed)
        smoke_passed = bool(build and build.smoke_passed)
        if build is not None and build.smoke_status in (Build.Smoke.NOT_SCORED, Build.Smoke.SKIPPED):
            smoke_passed = None  # no verdict on the app
    reward = scoring.reward({"valid": score.valid, "entity_right": score.entity_right, "field_f1": score.field_f1,
                             "build_passed": build_passed, "smoke_passed": smoke_passed})
    working = score.valid and build_passed is not False and smoke_passed is not False
    reason = score.reason or (_build_problem(build) if build and not working else "")
    scores = build.scores if build else {}
    return EvaluationResult.objects.create(
        run=run, version=version, position=position, prompt=item.prompt, expected=_expected(item),
        generation=generation, build=build, sandboxed=sandboxed, valid=score.valid, entity_right=score.entity_right,
        field_f1=score.field_f1, build_passed=build_passed, smoke_passed=smoke_passed,
        terms_shown=scores.get("terms_shown"), terms_expected=scores.get("terms_expected"), working=working,
        reward=reward, completion_tokens=generation.completion_tokens, seconds=seconds, reason=reason[:2000],
    )


def _build_problem(build: Build) -> str:
    if build.status == Build.Status.FAILED:
        return build.error
    return build.smoke_message if build.smoke_passed is False else ""


def _expected(item) -> dict:
    return {"entity": item.entity, "fields": list(item.fields), "noun": getattr(item, "noun", "")}


def _build(build: Build | None) -> Build | None:
    """Run a version's requested build in this process, as builder.tasks.build runs it, and return it
    with its verdict; its preview is stopped once scored (an evaluation keeps no preview)."""
    if build is None:
        return None
    # Admission, as pipeline.dispatch does after commit (a no-op when it already did).
    fair_use.take_waiting_builds(owner_id=build.app_version.project.owner_id)
    try:
        pipeline.build(build.id)
    except LeaseHeld:
        pass  # a running Kiln build worker took it first (dispatch enqueued it on commit): wait for its verdict
    build = _verdict(build.id)
    if build.failed_step in ("engine", "image", "internal"):
        raise EvaluationError(SANDBOX_FAILED.format(error=build.error))
    lifecycle.stop_preview(build)
    return build


def _verdict(build_id: int) -> Build:
    deadline = time.monotonic() + BUILD_WAIT_S
    while True:
        build = Build.objects.get(id=build_id)
        if build.status in Build.FINAL_STATUSES and not (
            build.status == Build.Status.READY and build.smoke_status == Build.Smoke.PENDING
        ):
            return build
        if time.monotonic() > deadline:
            raise EvaluationError(BUILD_TIMED_OUT.format(build_id=build_id, seconds=BUILD_WAIT_S))
        time.sleep(0.5)


def build_and_smoke(files: dict[str, str], prompt: str) -> tuple[bool, bool]:
    """(build passed, smoke test passed) for an app's files, through the path every version takes
    that no generation made (`pipeline.request_build`, then `pipeline.build`): bundled in the
    sandbox, previewed, smoke-tested in Chromium. For the GRPO scorer (training.scoring); the project
    it makes is deleted afterwards, containers and folders with it."""
    account = evaluation_account()
    with transaction.atomic():
        project = Project.objects.create(owner=account, name=f"Scoring: {prompt[:80]}")
        version = create_version(project=project, files=files, parent=None)
        build = pipeline.request_build(version, stream_key="")
    try:
        done = _build(build)
        return bool(done.build_passed), bool(done.smoke_passed)
    finally:
        services.delete_project(project=project)


# --- the numbers --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Estimate:
    value: float | None
    low: float | None
    high: float | None
    n: int

    def as_dict(self) -> dict:
        return {"value": self.value, "low": self.low, "high": self.high, "n": self.n}


def _finite(x) -> float | None:
    """JSON has no infinity: an unbounded or undefined figure is stored as None."""
    return float(x) if x is not None and np.isfinite(x) else None


def _mean(values, axis=-1):
    return np.mean(values, axis=axis)


def _ratio(numerators, denominators, axis=-1):
    """sum / sum, infinite where the denominator is zero (tokens spent, no working app)."""
    top, bottom = np.sum(numerators, axis=axis), np.sum(denominators, axis=axis)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(bottom > 0, top / np.where(bottom > 0, bottom, 1), np.inf)


def estimate(statistic, *samples) -> Estimate:
    """The statistic of the samples (paired, same length) with its 95 % percentile bootstrap interval.
    No interval from fewer than two observations."""
    arrays = [np.asarray(sample, dtype=float) for sample in samples]
    n = len(arrays[0]) if arrays else 0
    if n == 0:
        return Estimate(None, None, None, 0)
    value = _finite(statistic(*arrays))
    if n < 2 or value is None:
        return Estimate(value, None, None, n)
    # All values equal: the interval is that value. Some resamples with no working app: their ratio is
    # infinite, the interval unbounded above (stored as None).
    with warnings.catch_warnings(), np.errstate(invalid="ignore"):
        warnings.simplefilter("ignore", stats.DegenerateDataWarning)
        result = stats.bootstrap(arrays, statistic, paired=True, vectorized=True, n_resamples=RESAMPLES,
                                 confidence_level=CONFIDENCE, method="percentile",
                                 random_state=np.random.default_rng(SEED))
    low, high = result.confidence_interval
    return Estimate(value, _finite(low), _finite(high), n)


def version_metrics(results: list[EvaluationResult]) -> dict[str, dict]:
    """The per-version figures of one version's results (see METRICS)."""
    built = [r for r in results if r.sandboxed]
    smoked = [r for r in built if r.smoke_passed is not None]
    shown = [r for r in built if r.terms_expected]
    tokens = [r.completion_tokens or 0 for r in results]
    working = [float(r.working) for r in results]
    figures = {
        "valid": estimate(_mean, [r.valid for r in results]),
        "entity_right": estimate(_mean, [r.entity_right for r in results]),
        "field_f1": estimate(_mean, [r.field_f1 for r in results]),
        "build_passed": estimate(_mean, [bool(r.build_passed) for r in built]),
        "smoke_passed": estimate(_mean, [bool(r.smoke_passed) for r in smoked]),
        "entities_shown": estimate(_ratio, [r.terms_shown or 0 for r in shown], [r.terms_expected for r in shown]),
        "tokens_per_working_app": estimate(_ratio, tokens, working),
        "seconds_per_working_app": estimate(_ratio, [r.seconds for r in results], working),
        "reward": estimate(_mean, [r.reward for r in results]),
    }
    return {key: figure.as_dict() for key, figure in figures.items()}


def summarise(run: EvaluationRun) -> dict:
    """{"versions": {name: metrics}, "order": [names], "paired": {...} or None}; paired is A − B in
    reward on the prompts both answered."""
    results = list(run.results.select_related("version"))
    by_version = {v.id: [r for r in results if r.version_id == v.id] for v in run.versions}
    summary = {
        "order": [v.name for v in run.versions],
        "versions": {v.name: version_metrics(by_version[v.id]) for v in run.versions},
        "paired": None,
    }
    if run.version_b_id:
        a = {r.position: r.reward for r in by_version[run.version_a_id]}
        b = {r.position: r.reward for r in by_version[run.version_b_id]}
        both = sorted(a.keys() & b.keys())
        difference = estimate(_mean, [a[p] - b[p] for p in both])
        summary["paired"] = {"a": run.version_a.name, "b": run.version_b.name, "metric": "reward",
                             "mean_difference": difference.value, "low": difference.low, "high": difference.high,
                             "n": difference.n}
    return summary


# --- tables (the command, report.md and the review page read the same rows) ---------------------------


def _number(x: float | None, kind: str) -> str:
    if x is None:
        return "–"
    if kind == "amount":
        return f"{x:,.0f}" if x >= 100 else f"{x:.1f}"
    return f"{x:.3f}"


def metric_rows(summary: dict) -> list[list[str]]:
    """[label, "value [low, high] (n)" per version] for each metric ("–": unknown or unbounded)."""
    rows = []
    for key, label, kind in METRICS:
        row = [label]
        for name in summary["order"]:
            figure = summary["versions"][name][key]
            if figure["value"] is None:
                row.append("–")
                continue
            text = _number(figure["value"], kind)
            if figure["low"] is not None or figure["high"] is not None:
                text += f" [{_number(figure['low'], kind)}, {_number(figure['high'], kind)}]"
            row.append(f"{text} (n={figure['n']})")
        rows.append(row)
    return rows


def paired_text(summary: dict) -> str:
    paired = summary.get("paired")
    if not paired:
        return ""
    return (f"paired reward difference {paired['a']} − {paired['b']}: {_number(paired['mean_difference'], 'mean')} "
            f"[{_number(paired['low'], 'mean')}, {_number(paired['high'], 'mean')}] on {paired['n']} prompts "
            f"({CONFIDENCE * 100:.0f} % bootstrap interval)")


def markdown(run: EvaluationRun) -> str:
    """The run's tables in Markdown (report.md)."""
    summary = run.summary
    head = ["metric", *summary["order"]]
    lines = ["| " + " | ".join(head) + " |", "| " + " | ".join("---" for _ in head) + " |"]
    lines += ["| " + " | ".join(row) + " |" for row in metric_rows(summary)]
    sample = "all" if run.sandbox_sample is None else str(min(run.sandbox_sample, run.n))
    note = (f"{run.n} prompts ({run.prompt_source}); build and smoke test on {sample} of them; "
            f"values with their {CONFIDENCE * 100:.0f} % bootstrap interval [low, high]; –: not measured, or "
            "no working app to count.")
    lines += ["", note]
    paired = paired_text(summary)
    if paired:
        lines += ["", f"**{paired}**"]
    return "\n".join(lines) + "\n"


def print_table(run: EvaluationRun, *, file=None) -> None:
    """The run's table on a terminal (rich)."""
    from rich.console import Console
    from rich.table import Table

    summary = run.summary
    table = Table(title=f"Evaluation {run.id}: {run.n} prompts ({run.prompt_source})")
    table.add_column("metric")
    for name in summary["order"]:
        table.add_column(f"{name}  value [95 % interval] (n)", justify="right")
    for row in metric_rows(summary):
        table.add_row(*row)
    console = Console(file=file, width=160)
    console.print(table)
    if summary.get("paired"):
        console.print(paired_text(summary))
