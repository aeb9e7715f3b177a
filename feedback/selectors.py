"""Reading the review console's queue and items. Views stay thin; every query is here.

The queue is one SQL UNION of two kinds of item, with the same columns, so it sorts and paginates as
one list in the database: preference pairs, and single generations held as automatic negatives (an
OutputDefect, a build esbuild rejected, or a preview whose smoke test failed — "not scored" is never a
negative).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import date, timedelta

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db.models import (
    Case,
    CharField,
    Exists,
    F,
    IntegerField,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Value,
    When,
)
from django.db.models.functions import Coalesce
from django.shortcuts import get_object_or_404

from feedback.models import Feedback, PreferencePair, ReviewDecision
from generation.diffs import diff_files
from generation.models import Generation, OutputDefect
from sandbox.access import preview_entry_url
from sandbox.logs import log_lines
from sandbox.models import Build

PAIR, GENERATION = "pair", "generation"
KINDS = (PAIR, GENERATION)
PENDING = PreferencePair.ReviewStatus.PENDING
ALL = "all"
# The build step that fails because of what the model wrote (as training.selectors says).
MODEL_FAULT_STEP = "bundle"
FAILED_BUILD, BROKEN_PREVIEW = "failed_build", "broken_preview"

COLUMNS = ("item_kind", "item_id", "created_at", "version_a", "version_b", "source", "review", "user_id", "turn_prompt")
SORTS = {
    "newest": ("-created_at", "-item_id"),
    "oldest": ("created_at", "item_id"),
    "version": ("version_a", "-created_at"),
    "source": ("source", "-created_at"),
}
DEFAULT_SORT = "oldest"  # a queue is worked first in, first out


def user_hash(user_id: int | None) -> str:
    """A reviewer sees who voted only as a keyed hash (as the dataset's metadata does)."""
    if user_id is None:
        return ""
    key = hashlib.sha256(settings.SECRET_KEY.encode()).digest()
    return hashlib.blake2b(f"user:{user_id}".encode(), key=key, digest_size=6).hexdigest()


@dataclass(frozen=True)
class QueueFilters:
    kind: str = ""
    model_version: str = ""
    source: str = ""
    status: str = PENDING
    defect: str = ""
    since: date | None = None
    until: date | None = None
    user: str = ""  # a user_hash
    sort: str = DEFAULT_SORT

    @classmethod
    def from_query(cls, query) -> QueueFilters:
        return cls(
            kind=query.get("kind", "") if query.get("kind") in KINDS else "",
            model_version=query.get("model_version", "").strip(),
            source=query.get("source", "").strip(),
            status=query.get("status", PENDING) or PENDING,
            defect=query.get("defect", "").strip(),
            since=_date(query.get("since")),
            until=_date(query.get("until")),
            user=query.get("user", "").strip(),
            sort=query.get("sort") if query.get("sort") in SORTS else DEFAULT_SORT,
        )


def _date(text: str | None) -> date | None:
    try:
        return date.fromisoformat(text) if text else None
    except ValueError:
        return None  # a mistyped date in the address bar filters nothing rather than failing


def _user_id_for_hash(hashed: str) -> int | None:
    # Hashes are one-way; a small staff tool can afford to hash every user id to find the one meant.
    for user_id in get_user_model().objects.values_list("id", flat=True).iterator():
        if user_hash(user_id) == hashed:
            return user_id
    return -1  # matches nobody


def _generation_status() -> Coalesce:
    latest = ReviewDecision.objects.filter(generation=OuterRef("pk")).order_by("-id").values("review_status")[:1]
    return Coalesce(Subquery(latest), Value(PENDING), output_field=CharField())


def _generation_source() -> Coalesce:
    """The automatic reason an answer is a negative: its first defect, else its build's fault."""
    first_defect = OutputDefect.objects.filter(generation=OuterRef("pk")).order_by("id").values("kind")[:1]
    failed_bundle = Build.objects.filter(app_version=OuterRef("app_version"), failed_step=MODEL_FAULT_STEP)

    return Coalesce(
        Subquery(first_defect),
        Case(When(Exists(failed_bundle), then=Value(FAILED_BUILD)), default=Value(BROKEN_PREVIEW)),
        output_field=CharField(),
    )


def automatic_negative_generations() -> QuerySet:
    model_fault = Build.objects.filter(app_version=OuterRef("app_version")).filter(
        Q(failed_step=MODEL_FAULT_STEP) | Q(status=Build.Status.READY, smoke_status=Build.Smoke.FAILED)
    )
    return (Generation.objects.filter(Exists(OutputDefect.objects.filter(generation=OuterRef("pk")))
                                      | Exists(model_fault))
            .exclude(status=Generation.Status.CANCELLED).exclude(raw_output=""))


def _pairs(f: QueueFilters, user_id: int | None) -> QuerySet:
    pairs = PreferencePair.objects.annotate(
        item_kind=Value(PAIR, output_field=CharField()), item_id=F("id"),
        version_a=F("chosen_generation__model_version__name"), version_b=F("rejected_generation__model_version__name"),
        review=F("review_status"), user_id=F("feedback__user_id"), turn_prompt=F("chosen_generation__turn__prompt"),
    )
    if f.model_version:
        pairs = pairs.filter(Q(version_a=f.model_version) | Q(version_b=f.model_version))
    if f.source:
        pairs = pairs.filter(source=f.source)
    if f.defect:
        pairs = pairs.filter(
            Exists(OutputDefect.objects.filter(kind=f.defect, generation=OuterRef("chosen_generation")))
            | Exists(OutputDefect.objects.filter(kind=f.defect, generation=OuterRef("rejected_generation")))
        )
    if user_id is not None:
        pairs = pairs.filter(feedback__user_id=user_id)
    return _common(pairs, f)


def _generations(f: QueueFilters, user_id: int | None) -> QuerySet:
    generations = automatic_negative_generations().annotate(
        item_kind=Value(GENERATION, output_field=CharField()), item_id=F("id"),
        version_a=F("model_version__name"), version_b=Value("", output_field=CharField()),
        source=_generation_source(), review=_generation_status(),
        user_id=F("turn__project__owner_id"), turn_prompt=F("turn__prompt"),
    )
    if f.model_version:
        generations = generations.filter(version_a=f.model_version)
    if f.source:
        generations = generations.filter(source=f.source)
    if f.defect:
        generations = generations.filter(Exists(OutputDefect.objects.filter(kind=f.defect, generation=OuterRef("pk"))))
    if user_id is not None:
        generations = generations.filter(user_id=Value(user_id, output_field=IntegerField()))
    return _common(generations, f)


def _common(queryset: QuerySet, f: QueueFilters) -> QuerySet:
    if f.status != ALL:
        queryset = queryset.filter(review=f.status)
    if f.since:
        queryset = queryset.filter(created_at__date__gte=f.since)
    if f.until:
        queryset = queryset.filter(created_at__date__lt=f.until + timedelta(days=1))
    return queryset.order_by().values_list(*COLUMNS)


def queue(f: QueueFilters) -> QuerySet:
    """Rows of COLUMNS (as tuples) in the filter's order; one query per page, one for the count."""
    user_id = _user_id_for_hash(f.user) if f.user else None
    parts = [builder(f, user_id) for kind, builder in ((PAIR, _pairs), (GENERATION, _generations))
             if not f.kind or f.kind == kind]
    combined = parts[0].union(*parts[1:], all=True) if len(parts) > 1 else parts[0]
    return combined.order_by(*SORTS[f.sort])


def queue_rows(rows) -> list[dict]:
    return [{**dict(zip(COLUMNS, row)), "kind": row[0], "user": user_hash(row[COLUMNS.index("user_id")])}
            for row in rows]


def filter_choices() -> dict:
    from generation.models import ModelVersion

    return {
        "model_versions": list(ModelVersion.objects.order_by("name").values_list("name", flat=True)),
        "sources": [*PreferencePair.Source.values, *OutputDefect.Kind.values, FAILED_BUILD, BROKEN_PREVIEW],
        "statuses": [*PreferencePair.ReviewStatus.values, ALL],
        "defects": OutputDefect.Kind.values,
        "sorts": list(SORTS),
        "kinds": KINDS,
    }


# --- One item --------------------------------------------------------------------------------------

def pair_for_review(pair_id: int) -> PreferencePair:
    return get_object_or_404(
        PreferencePair.objects.select_related("feedback__user", "chosen_generation__model_version",
                                              "rejected_generation__model_version"),
        pk=pair_id,
    )


def generation_for_review(generation_id: int) -> Generation:
    return get_object_or_404(
        Generation.objects.select_related("model_version", "turn", "app_version__parent"), pk=generation_id
    )


# Score keys the page shows in their own place (the verdict lines, the problem list) or not at all.
SHOWN_ELSEWHERE = {"build_passed", "smoke_passed", "smoke_status", "problems", "errors"}


def side(generation: Generation) -> dict:
    """Everything a reviewer needs about one answer: version, files and their diff, latest build with
    its screenshot, log and scores, defects, and the users' verdicts on it."""
    version = generation.app_version  # read through the relation: feedback imports nothing of builder's
    build = Build.objects.filter(app_version_id=generation.app_version_id).order_by("-id").first() if version else None
    return {
        "generation": generation,
        "version": version,
        "diff": _diff(version) if version else None,
        "build": build,
        "scores": [(name, value) for name, value in ((build.scores if build else None) or {}).items()
                   if name not in SHOWN_ELSEWHERE],
        "log_lines": log_lines(build.log if build else ""),
        "defects": list(generation.defects.all()),
        "verdicts": list(Feedback.objects.filter(generation=generation).select_related("user").order_by("created_at")),
    }


def blind_side(generation: Generation, reviewer) -> dict:
    """What a blind vote shows of one candidate: its app (the latest build's screenshot and verdicts, and
    the address of its live preview while it runs) and its answer — nothing that names the model version."""
    build = (Build.objects.filter(app_version_id=generation.app_version_id).order_by("-id").first()
             if generation.app_version_id else None)
    live = build is not None and build.status == Build.Status.READY and bool(build.preview_token)
    return {"id": generation.id, "build": build, "explanation": generation.explanation,
            "raw_output": generation.raw_output, "preview_url": preview_entry_url(build, reviewer) if live else None}


def _diff(version) -> dict:
    """The version against the one it was built on (or an empty app for a first version)."""
    parent = version.parent
    return {"from": parent.id if parent else None, "to": version.id,
            **diff_files(parent.files() if parent else {}, version.files())}


def conversation(messages: list[dict]) -> list[dict]:
    """The messages a reviewer reads: the user's and the assistant's, not Kiln's long system prompt."""
    return [m for m in messages if m.get("role") != "system"]


def decisions_of(*, pair: PreferencePair | None = None, generation: Generation | None = None) -> list[ReviewDecision]:
    found = ReviewDecision.objects.select_related("reviewer")
    found = found.filter(pair=pair) if pair is not None else found.filter(generation=generation)
    return list(found.order_by("created_at", "id"))


def generation_status(generation: Generation) -> str:
    latest = ReviewDecision.objects.filter(generation=generation).order_by("-id").first()
    return latest.review_status if latest else PENDING

