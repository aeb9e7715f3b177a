"""Reading a snapshot's signals from the database: chunks of CHUNK_ROWS rows, oldest first, so an
export holds one chunk at a time whatever the size of the tables.

Each reader yields lists of `mapping.Signal`. A chunk is one query of dicts, with the facts of the
answers behind it (model version, tokens) joined in and the JSON columns read as text for orjson;
one more query finds the latest build of each answer's app version (its scores), one the reviewers'
decisions behind the chunk (the audit trail every row carries), and verdicts ask which of their pairs
a reviewer touched.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from operator import itemgetter

import orjson
from django.db.models import Exists, OuterRef, Q, QuerySet, TextField
from django.db.models.functions import Cast

from feedback.models import Feedback, PreferencePair, ReviewDecision
from generation.models import Generation, OutputDefect
from sandbox.models import Build
from training.mapping import (
    APPROVED,
    AUTOMATIC,
    AUTOMATIC_REVIEW,
    BROKEN_PREVIEW,
    DEFECT_KINDS,
    EXCLUDED,
    FAILED_BUILD,
    KILN,
    MAPPING,
    OVERRULED,
    PAIR,
    PENDING,
    RELABELLED,
    STAFF,
    USER,
    VERDICT,
    Completion,
    Decision,
    GenerationFacts,
    Signal,
    answer_messages,
)

# Signals per chunk. Everything read for a chunk (its rows' JSON text, decoded messages, rows) is alive
# at once: ~20 MB of Python objects for 1,000 pairs of the bench's size, half that for 500, while the
# queries of a chunk cost ~1 ms each.
CHUNK_ROWS = 500

# The build step that fails because of what the model wrote (esbuild rejected it). Other steps
# (engine, preview, lost, internal) are Kiln's or Docker's trouble: never a label.
MODEL_FAULT_STEP = "bundle"

VERDICTS_WITH_ROWS = tuple(name for (kind, name), rule in MAPPING.items() if kind == VERDICT and rule.yields)


@dataclass(frozen=True)
class Window:
    """Signals created in [since, until); either end open when None."""

    since: datetime | None = None
    until: datetime | None = None

    def apply(self, queryset: QuerySet, field: str = "created_at") -> QuerySet:
        if self.since is not None:
            queryset = queryset.filter(**{f"{field}__gte": self.since})
        if self.until is not None:
            queryset = queryset.filter(**{f"{field}__lt": self.until})
        return queryset


def _chunks(queryset: QuerySet, size: int = CHUNK_ROWS) -> Iterator[list[dict]]:
    """Keyset pagination on the primary key of a values() queryset: each chunk is a fresh, bounded
    query (no cursor held open across the whole export, no OFFSET that slows down as it goes), and
    rows come as dicts, not model instances (building those costs more than the rest of the export)."""
    last = 0
    while True:
        chunk = list(queryset.filter(pk__gt=last).order_by("pk")[:size])
        if not chunk:
            return
        yield chunk
        last = chunk[-1]["id"]


# --- Pairs -----------------------------------------------------------------------------------------

# What a row needs of an answer: its text, and the facts its metadata shows. They are read in the
# query of the pair or verdict itself (joined), not by id lists afterwards.
_FACT_FIELDS = ("id", "kind", "turn_id", "turn__project_id", "model_version__name", "prompt_tokens",
                "completion_tokens", "app_version_id")
_ANSWER_FIELDS = (*_FACT_FIELDS, "raw_output")


def _stored_text(field: str) -> Cast:
    """A column as the text the database stores, parsed by the caller on the hottest path of an export:
    JSON with orjson (several times faster than the json module JSONField decodes with), timestamps with
    _moment (Django's SQLite converter, parse_datetime then make_aware through the lazy connection
    timezone, cost ~4 µs a row: over a second of an export of 100k pairs)."""
    return Cast(field, output_field=TextField())


def _moment(text: str) -> datetime:
    """A timestamp read by _stored_text: stored in UTC, naive on SQLite, with its offset on PostgreSQL."""
    moment = datetime.fromisoformat(text)
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def _joined(prefix: str, fields: tuple[str, ...]) -> list[str]:
    return [f"{prefix}__{name}" for name in fields]


def _unjoiner(prefix: str, fields: tuple[str, ...]):
    """A function that takes the joined `prefix__name` columns of a row as a dict of `name`s."""
    get = itemgetter(*_joined(prefix, fields))

    def unjoined(row: dict) -> dict:
        return dict(zip(fields, get(row)))
    return unjoined


def _answers(queryset: QuerySet) -> QuerySet:
    """Generations as dicts of _ANSWER_FIELDS plus request_json (see _with_request)."""
    return queryset.annotate(request_json=_stored_text("request_messages")).values(*_ANSWER_FIELDS, "request_json")


def _with_request(answer: dict, request_json: str) -> dict:
    answer["request_messages"] = orjson.loads(request_json)
    return answer


def pairs(window: Window) -> QuerySet:
    return window.apply(PreferencePair.objects.annotate(
        prompt_json=_stored_text("prompt"), chosen_json=_stored_text("chosen"), rejected_json=_stored_text("rejected"),
        created_text=_stored_text("created_at"),
    ).values(
        "id", "prompt_json", "chosen_json", "rejected_json", "source", "review_status", "created_text",
        "feedback__from_staff",
        *_joined("chosen_generation", _FACT_FIELDS), *_joined("rejected_generation", _FACT_FIELDS),
    ))


def pair_signals(window: Window) -> Iterator[list[Signal]]:
    for chunk in _chunks(pairs(window)):
        facts, _builds = facts_of(chunk, prefixes=("chosen_generation__", "rejected_generation__"))
        decisions = decisions_of("pair_id", chunk)
        yield [
            Signal(
                kind=PAIR, name=p["source"], prompt=orjson.loads(p["prompt_json"]),
                completions=(Completion(facts[p["chosen_generation__id"]], orjson.loads(p["chosen_json"])),
                             Completion(facts[p["rejected_generation__id"]], orjson.loads(p["rejected_json"]))),
                review_status=p["review_status"], created_at=_moment(p["created_text"]),
                decisions=decisions.get(p["id"], []), voter=_voter(p["feedback__from_staff"]),
            )
            for p in chunk
        ]


# --- Verdicts --------------------------------------------------------------------------------------

def verdicts(window: Window) -> QuerySet:
    # A verdict on an answer with no text (a generation that failed before writing) teaches nothing.
    return window.apply(
        Feedback.objects.filter(verdict__in=VERDICTS_WITH_ROWS).exclude(generation__raw_output="")
        .annotate(request_json=_stored_text("generation__request_messages"), created_text=_stored_text("created_at"))
        .values("id", "verdict", "created_text", "request_json", "from_staff", *_joined("generation", _ANSWER_FIELDS))
    )


def verdict_signals(window: Window) -> Iterator[list[Signal]]:
    unjoined = _unjoiner("generation", _ANSWER_FIELDS)
    for chunk in _chunks(verdicts(window)):
        judged = [_with_request(unjoined(f), f["request_json"]) for f in chunk]
        candidates = _turn_candidates({g["turn_id"] for f, g in zip(chunk, judged) if f["verdict"] == "both_bad"})
        texts = {**{g["id"]: g for g in judged}, **{g["id"]: g for gens in candidates.values() for g in gens}}
        facts, _builds = facts_of(texts.values())
        origins = _origin_prompts(texts.values())
        reviews = verdict_review_status(chunk)
        decisions = decisions_of("pair__feedback_id", chunk)
        signals = []
        for feedback, generation in zip(chunk, judged):
            if feedback["verdict"] == "both_bad":
                # Both candidates of the turn were bad: each is a negative, the judged one first.
                others = [g for g in candidates.get(generation["turn_id"], []) if g["id"] != generation["id"]]
                group = [generation, *others]
            else:
                group = [generation]
            signals.append(Signal(
                kind=VERDICT, name=feedback["verdict"], prompt=generation["request_messages"],
                completions=tuple([Completion(facts[g["id"]], answer_messages(g["raw_output"])) for g in group]),
                review_status=reviews.get(feedback["id"], PENDING), created_at=_moment(feedback["created_text"]),
                group_prompt=origins.get(generation["id"]), decisions=decisions.get(feedback["id"], []),
                voter=_voter(feedback["from_staff"]),
            ))
        yield signals


def _voter(from_staff: bool | None) -> str:
    """Whose vote a pair or verdict is: a pair with no feedback (a repair, a script's) is no person's."""
    if from_staff is None:
        return KILN
    return STAFF if from_staff else USER


def _in_range_of(key: str, chunk: list[dict]) -> dict:
    """A filter on `key` for the ids a chunk spans. Chunks are id ranges (keyset pagination), so "what
    belongs to this chunk's rows" is a range: cheaper than an IN list of 1,000 ids, which Django
    prepares one parameter at a time. (Related fields have no __range lookup.)"""
    return {f"{key}__gte": chunk[0]["id"], f"{key}__lte": chunk[-1]["id"]}


def verdict_review_status(chunk: list[dict]) -> dict[int, str]:
    """A verdict is reviewed through the pairs it recorded: excluded when a reviewer excluded any of
    them, overruled when one was relabelled (the reviewer reversed the ordering the vote implied),
    approved when every one was approved, pending otherwise (a lone accept or reject, which records no
    pair, stays pending). Keyed by the feedback ids of `chunk`."""
    seen: dict[int, set[str]] = {}
    for feedback_id, status in PreferencePair.objects.filter(**_in_range_of("feedback_id", chunk)).values_list(
            "feedback_id", "review_status"):
        seen.setdefault(feedback_id, set()).add(status)
    result = {}
    for feedback_id, statuses in seen.items():
        if EXCLUDED in statuses:
            result[feedback_id] = EXCLUDED
        elif RELABELLED in statuses:
            result[feedback_id] = OVERRULED
        elif statuses == {APPROVED}:
            result[feedback_id] = APPROVED
        else:
            result[feedback_id] = PENDING
    return result


def decisions_of(key: str, chunk: list[dict]) -> dict[int, list[Decision]]:
    """The audit trail (feedback.ReviewDecision) behind a chunk's rows, oldest first, by `key`: the
    pair's id, the verdict's id (through the pairs it recorded), or the generation's id."""
    found: dict[int, list[Decision]] = {}
    rows = (ReviewDecision.objects.filter(**_in_range_of(key, chunk)).order_by("id")
            .values_list(key, "reviewer_id", "action", "tags", "created_at", "review_status"))
    for item_id, reviewer_id, action, tags, created_at, status in rows:
        found.setdefault(item_id, []).append(Decision(reviewer_id, action, list(tags or []), created_at, status))
    return found


def _turn_candidates(turn_ids: set[int]) -> dict[int, list[dict]]:
    """The finished answers to the user in each turn (repairs are not candidates the user saw)."""
    found: dict[int, list[dict]] = {}
    if not turn_ids:
        return found
    rows = _answers(Generation.objects.filter(turn_id__in=turn_ids, status=Generation.Status.DONE)
                    .exclude(kind=Generation.Kind.REPAIR).exclude(raw_output="").order_by("id"))
    for generation in rows:
        found.setdefault(generation["turn_id"], []).append(_with_request(generation, generation.pop("request_json")))
    return found


def _origin_prompts(generations) -> dict[int, list[dict]]:
    """For each repair generation, the request of the answer its turn started from: a repair's own
    prompt is "fix these errors" over the app's files, and it belongs to the same split group."""
    repairs = [g for g in generations if g["kind"] == Generation.Kind.REPAIR]
    if not repairs:
        return {}
    first: dict[int, list[dict]] = {}
    rows = (Generation.objects.filter(turn_id__in={g["turn_id"] for g in repairs}).exclude(kind=Generation.Kind.REPAIR)
            .order_by("id").values_list("turn_id", "request_messages"))
    for turn_id, messages in rows:
        first.setdefault(turn_id, messages)
    return {g["id"]: first[g["turn_id"]] for g in repairs if g["turn_id"] in first}


# --- Automatic negatives ---------------------------------------------------------------------------

def _model_fault_builds():
    return Build.objects.filter(app_version=OuterRef("app_version")).filter(
        Q(failed_step=MODEL_FAULT_STEP) | Q(status=Build.Status.READY, smoke_passed=False)
    )


def automatic_negatives(window: Window) -> QuerySet:
    """Answers with a defect, or whose app failed to build or rendered broken. Cancelled answers were
    stopped by the user, not judged; a smoke test that could not run (smoke_passed None) is "not
    scored" and never a negative. Whether a reviewer approved or excluded one is read per chunk
    (automatic_review_status), so the manifest counts what the review left out."""
    return window.apply(
        Generation.objects.filter(
            Exists(OutputDefect.objects.filter(generation=OuterRef("pk"))) | Exists(_model_fault_builds())
        ).exclude(status=Generation.Status.CANCELLED).exclude(raw_output="")
        .annotate(request_json=_stored_text("request_messages"), created_text=_stored_text("created_at"))
        .values(*_ANSWER_FIELDS, "request_json", "created_text")
    )


# The review console records a decision on a single answer with the item's status after it; an
# automatic negative takes the status of its latest decision. Only these two change what is exported: a
# tag keeps the status it had, and an answer nobody approved or excluded stays "automatic".
_AUTOMATIC_STATUS_AFTER = {APPROVED: APPROVED, EXCLUDED: EXCLUDED}


def automatic_review_status(decisions: list[Decision]) -> str:
    return _AUTOMATIC_STATUS_AFTER.get(decisions[-1].review_status, AUTOMATIC_REVIEW) if decisions else AUTOMATIC_REVIEW


def automatic_reasons(defect_kinds: set[str], build: dict | None) -> list[str]:
    """What is wrong with an answer, in mapping.AUTOMATIC_REASONS order; judged by the version's
    latest build (a rebuild that passed overrides an earlier failure)."""
    reasons = [kind for kind in DEFECT_KINDS if kind in defect_kinds]
    if build is not None:
        if build["failed_step"] == MODEL_FAULT_STEP:
            reasons.append(FAILED_BUILD)
        elif build["status"] == Build.Status.READY and build["smoke_passed"] is False:
            reasons.append(BROKEN_PREVIEW)
    return reasons


def automatic_signals(window: Window) -> Iterator[list[Signal]]:
    for chunk in _chunks(automatic_negatives(window)):
        chunk = [_with_request(g, g.pop("request_json")) for g in chunk]
        facts, builds = facts_of(chunk)
        defects: dict[int, set[str]] = {}
        for generation_id, kind in OutputDefect.objects.filter(**_in_range_of("generation_id", chunk)).values_list(
                "generation_id", "kind"):
            defects.setdefault(generation_id, set()).add(kind)
        origins = _origin_prompts(chunk)
        decisions = decisions_of("generation_id", chunk)
        signals = []
        for generation in chunk:
            reasons = automatic_reasons(defects.get(generation["id"], set()), builds.get(generation["id"]))
            if not reasons:
                continue
            trail = decisions.get(generation["id"], [])
            signals.append(Signal(
                kind=AUTOMATIC, name=reasons[0], prompt=generation["request_messages"],
                completions=(Completion(facts[generation["id"]], answer_messages(generation["raw_output"])),),
                review_status=automatic_review_status(trail), created_at=_moment(generation["created_text"]),
                group_prompt=origins.get(generation["id"]), decisions=trail,
            ))
        yield signals


# --- Facts about generations -----------------------------------------------------------------------

def facts_of(rows, prefixes: tuple[str, ...] = ("",)) -> tuple[dict[int, GenerationFacts], dict[int, dict]]:
    """GenerationFacts of the generations in `rows` (dicts with _FACT_FIELDS, each behind one of
    `prefixes`: a pair's row holds two, joined), with one query for the latest build of each one's app
    version; also those builds, by generation id."""
    rows = list(rows)
    getters = [itemgetter(*(f"{prefix}{name}" for name in _FACT_FIELDS)) for prefix in prefixes]
    generations = [get(r) for r in rows for get in getters]  # tuples in _FACT_FIELDS order
    latest: dict[int, dict] = {}
    version_ids = {g[-1] for g in generations if g[-1]}
    if version_ids:
        for build in Build.objects.filter(app_version_id__in=version_ids).order_by("app_version_id", "id").values(
                "app_version_id", "status", "failed_step", "build_passed", "smoke_passed", "scores"):
            latest[build["app_version_id"]] = build
    facts, builds = {}, {}
    for pk, kind, turn_id, project_id, model_version, prompt_tokens, completion_tokens, app_version_id in generations:
        build = latest.get(app_version_id) if app_version_id else None
        scores = (build or {}).get("scores") or {}
        facts[pk] = GenerationFacts(
            id=pk, kind=kind, turn_id=turn_id, project_id=project_id, model_version=model_version,
            prompt_tokens=prompt_tokens, completion_tokens=completion_tokens,
            build_passed=build["build_passed"] if build else None,
            smoke_passed=build["smoke_passed"] if build else None,
            console_errors=_int_or_none(scores.get("console_errors")),
            render_ms=_int_or_none(scores.get("render_ms")),
        )
        if build is not None:
            builds[pk] = build
    return facts, builds


def _int_or_none(value) -> int | None:
    return None if value is None else int(value)


# --- Totals for progress bars ----------------------------------------------------------------------

# What a progress bar shows before a stream is read: counted on the stream's own table, not through its
# joins and filters, which took 0.4-0.5 s each at 100k pairs (a scan of the generations' text); the bar
# is set to the count read when the stream ends. Automatic negatives have no cheap count (every answer
# is checked for defects and builds): their bar counts up with no total.

def pairs_total(window: Window) -> int:
    return window.apply(PreferencePair.objects.all()).count()


def verdicts_total(window: Window) -> int:
    """Verdicts on answers with no text are counted here and skipped by the reader."""
    return window.apply(Feedback.objects.filter(verdict__in=VERDICTS_WITH_ROWS)).count()


def automatic_total(window: Window) -> None:
    return None


STREAMS = {
    PAIR: (pairs_total, pair_signals),
    VERDICT: (verdicts_total, verdict_signals),
    AUTOMATIC: (automatic_total, automatic_signals),
}
