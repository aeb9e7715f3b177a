"""Recording what the user thought of a generation, and the preference pairs that implies."""

from django.db import transaction
from django.db.models import Q

from feedback.models import Feedback, PreferencePair
from feedback.pairs import record_pair
from generation.models import Generation

VERDICTS_FROM_USER = (Feedback.Verdict.ACCEPT, Feedback.Verdict.REJECT)
# Pairs that follow from the user's accepts and rejects; repair pairs and the like are not theirs to undo.
VERDICT_SOURCES = (
    PreferencePair.Source.PICK, PreferencePair.Source.ACCEPT_VS_REJECT, PreferencePair.Source.REGENERATE,
)
UNKNOWN_VERDICT = "Unknown verdict: choose accept or reject."
NOT_FINISHED = "This candidate has not finished yet; wait for it, then accept or reject."
NOT_JUDGEABLE = (
    "This candidate failed or was stopped, so there is no app to accept or reject. Press Regenerate."
)


class InvalidFeedback(ValueError):
    pass


@transaction.atomic
def record_verdict(*, user, generation: Generation, verdict: str, reason: str = "", comment: str = "") -> Feedback:
    """Store an accept or reject, and bring the turn's pairs in line with the user's latest verdicts.

    Only the latest verdict of a user on a generation counts. An accepted candidate is ordered above
    each other finished candidate of its turn that the user has not also accepted: source "accept vs
    reject" when the user rejected the other, "pick" between two compared candidates, else
    "regenerate". A pair that a changed verdict no longer implies is removed.
    """
    if verdict not in VERDICTS_FROM_USER:
        raise InvalidFeedback(UNKNOWN_VERDICT)
    if generation.status not in Generation.FINAL_STATUSES:
        raise InvalidFeedback(NOT_FINISHED)
    if generation.status != Generation.Status.DONE:
        raise InvalidFeedback(NOT_JUDGEABLE)
    feedback = Feedback.objects.create(
        user=user, generation=generation, verdict=verdict, reason=reason.strip()[:200], comment=comment.strip()
    )
    verdicts = latest_verdicts(user=user, turn_id=generation.turn_id)
    others = generation.turn.generations.exclude(pk=generation.pk).filter(status__in=Generation.FINAL_STATUSES)
    for other in others:
        _sync_pair(user=user, judged=generation, other=other, verdicts=verdicts, feedback=feedback)
    return feedback


def latest_verdicts(*, user, turn_id: int) -> dict[int, str]:
    """generation id -> the user's latest accept or reject on it, for one turn."""
    rows = (
        Feedback.objects.filter(user=user, generation__turn_id=turn_id, verdict__in=VERDICTS_FROM_USER)
        .order_by("created_at", "id")
        .values_list("generation_id", "verdict")
    )
    return dict(rows)  # later rows overwrite earlier ones


def _sync_pair(*, user, judged: Generation, other: Generation, verdicts: dict[int, str],
               feedback: Feedback) -> None:
    wanted = _ordering(judged, other, verdicts)
    between = PreferencePair.objects.filter(
        Q(chosen_generation=judged, rejected_generation=other)
        | Q(chosen_generation=other, rejected_generation=judged),
        source__in=VERDICT_SOURCES,
        feedback__user=user,
    )
    if wanted is None:
        between.delete()
        return
    chosen, rejected, source = wanted
    between.exclude(chosen_generation=chosen, rejected_generation=rejected).delete()
    pair = record_pair(chosen=chosen, rejected=rejected, source=source, feedback=feedback)
    if pair.source != source:
        pair.source, pair.feedback = source, feedback
        pair.save(update_fields=["source", "feedback"])


def _ordering(judged: Generation, other: Generation, verdicts: dict[int, str]):
    """(chosen, rejected, source) that the two latest verdicts imply, or None."""
    mine, theirs = verdicts.get(judged.pk), verdicts.get(other.pk)
    if mine == Feedback.Verdict.ACCEPT and theirs != Feedback.Verdict.ACCEPT:
        return judged, other, _pair_source(judged, other, theirs)
    if theirs == Feedback.Verdict.ACCEPT and mine != Feedback.Verdict.ACCEPT:
        return other, judged, _pair_source(other, judged, mine)
    return None  # both accepted, or neither: no preference between them


def _pair_source(accepted: Generation, other: Generation, other_verdict: str | None) -> str:
    if other_verdict == Feedback.Verdict.REJECT:
        return PreferencePair.Source.ACCEPT_VS_REJECT
    if accepted.kind == Generation.Kind.COMPARE and other.kind == Generation.Kind.COMPARE:
        return PreferencePair.Source.PICK  # shown side by side, one chosen: an explicit pick
    return PreferencePair.Source.REGENERATE
