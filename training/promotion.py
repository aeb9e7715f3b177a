"""Promotion: a model version gets a share of live traffic only when its latest evaluation against its
parent shows it better.

The rule: the newest finished EvaluationRun that compared the version with its parent (either way
round) has a paired reward difference (version − parent) above zero whose 95 % bootstrap interval
excludes zero. Otherwise `promote` refuses with the numbers. `force=True` overrides the rule and is
recorded in the Promotion row with whatever numbers there were.

Traffic arithmetic. `generation.router` draws a version with probability weight / (sum of the active
versions' weights). To give version v the share s (0 < s < 1) whatever the others' weights are, the
weights are put on a common scale of TOTAL_WEIGHT = 1000: v gets round(1000·s), and every other
version that gets traffic now (active, weight above 0) keeps its proportion of the rest,
round(1000·(1 − s)·w / W), where W is the sum of their weights before (at least 1 each, so none is
silently switched off by rounding; an active version at weight 0 stays at 0). So
`promote v --share 0.1` next to one default version of weight 1 gives weights 100 and 900: v answers
10 % of new turns, the default 90 %. With no other active version, v gets all the traffic whatever s is.
"""

from __future__ import annotations

from django.db import transaction
from django.db.models import Q

from generation.models import ModelVersion
from training.models import EvaluationRun, Promotion

TOTAL_WEIGHT = 1000

NO_PARENT = "{version} has no parent version to be compared with; use --force to promote it anyway."
NO_EVALUATION = (
    "{version} has no finished evaluation against its parent {parent}. Run "
    "`manage.py evaluate --versions {version},{parent}` first, or use --force."
)
NOT_BETTER = (
    "{version} is not shown better than its parent {parent} (evaluation {run}): paired reward difference "
    "{difference}, 95 % interval [{low}, {high}] on {n} prompts. Promotion needs a difference above zero "
    "whose interval excludes zero; use --force to promote it anyway."
)
BAD_SHARE = "The share must be above 0 and below 1 (got {share})."


class PromotionRefused(Exception):
    """str(exc) gives the numbers and what to do."""


def latest_comparison(version: ModelVersion) -> tuple[EvaluationRun | None, dict | None]:
    """The newest finished run comparing `version` with its parent, and its paired difference seen
    from `version` (version − parent)."""
    if version.parent_id is None:
        return None, None
    pair = Q(version_a=version, version_b_id=version.parent_id) | Q(version_a_id=version.parent_id, version_b=version)
    run = EvaluationRun.objects.filter(pair, finished_at__isnull=False).order_by("-finished_at", "-id").first()
    if run is None or not run.summary.get("paired"):
        return run, None
    paired = run.summary["paired"]
    if run.version_a_id == version.id:
        return run, dict(paired)
    # Stored as parent − version: turn it round.
    return run, {**paired, "a": paired["b"], "b": paired["a"], "mean_difference": _negated(paired["mean_difference"]),
                 "low": _negated(paired["high"]), "high": _negated(paired["low"])}


def _negated(x: float | None) -> float | None:
    return None if x is None else -x


def _signed(x: float | None) -> str:
    return "–" if x is None else f"{x:+.3f}"


def is_better(paired: dict | None) -> bool:
    """A difference above zero with its whole interval above zero."""
    return bool(paired and paired["mean_difference"] is not None and paired["low"] is not None
                and paired["mean_difference"] > 0 and paired["low"] > 0)


def _refusal(version: ModelVersion, run: EvaluationRun | None, paired: dict | None) -> str:
    if version.parent_id is None:
        return NO_PARENT.format(version=version.name)
    if run is None or paired is None:
        return NO_EVALUATION.format(version=version.name, parent=version.parent.name)
    return NOT_BETTER.format(version=version.name, parent=version.parent.name, run=run.id,
                             difference=_signed(paired["mean_difference"]), low=_signed(paired["low"]),
                             high=_signed(paired["high"]), n=paired["n"])


def weights_for(version: ModelVersion, share: float) -> dict[int, int]:
    """{version id: new weight} for the version and every other active version (module docstring)."""
    # The versions that get traffic now (generation.router): active with a weight above zero.
    others = list(ModelVersion.objects.filter(is_active=True, weight__gt=0).exclude(id=version.id).order_by("id"))
    if not others:
        return {version.id: TOTAL_WEIGHT}
    total = sum(other.weight for other in others)
    rest = TOTAL_WEIGHT - round(TOTAL_WEIGHT * share)
    weights = {other.id: max(1, round(rest * other.weight / total)) for other in others}
    weights[version.id] = max(1, round(TOTAL_WEIGHT * share))
    return weights


def promote(version: ModelVersion, share: float, *, force: bool = False, by=None) -> Promotion:
    """Give `version` the share of traffic, if its latest evaluation against its parent shows it
    better (PromotionRefused, with the numbers, otherwise); `force` overrides and is recorded."""
    if not 0 < share < 1:
        raise ValueError(BAD_SHARE.format(share=share))
    run, paired = latest_comparison(version)
    if not is_better(paired) and not force:
        raise PromotionRefused(_refusal(version, run, paired))
    with transaction.atomic():
        before = dict(ModelVersion.objects.filter(is_active=True).values_list("name", "weight"))
        weights = weights_for(version, share)
        for version_id, weight in weights.items():
            ModelVersion.objects.filter(id=version_id).update(weight=weight, is_active=True)
        version.refresh_from_db()
        after = dict(ModelVersion.objects.filter(is_active=True).values_list("name", "weight"))
        return Promotion.objects.create(
            version=version, share=share, weight=version.weight, forced=force,
            evaluation=run, by=by,
            numbers={"paired": paired, "weights_before": before, "weights_after": after,
                     "share_given": version.weight / sum(after.values())},
        )
