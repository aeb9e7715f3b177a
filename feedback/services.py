"""Recording what the user thought of a generation, and the preference pairs that implies."""

from django.db import transaction

from feedback.models import Feedback
from feedback.pairs import record_pair
from generation.models import Generation

VERDICTS_FROM_USER = (Feedback.Verdict.ACCEPT, Feedback.Verdict.REJECT)
UNKNOWN_VERDICT = "Unknown verdict: choose accept or reject."
NOT_FINISHED = "This candidate has not finished yet; wait for it, then accept or reject."


class InvalidFeedback(ValueError):
    pass


@transaction.atomic
def record_verdict(*, user, generation: Generation, verdict: str, reason: str = "", comment: str = "") -> Feedback:
    """Store an accept or reject. Accepting one candidate of a turn orders it above each other
    finished candidate (source "regenerate", or "accept vs reject" when the user rejected the other);
    rejecting one orders every accepted candidate above it."""
    if verdict not in VERDICTS_FROM_USER:
        raise InvalidFeedback(UNKNOWN_VERDICT)
    if generation.status not in Generation.FINAL_STATUSES:
        raise InvalidFeedback(NOT_FINISHED)
    feedback = Feedback.objects.create(
        user=user, generation=generation, verdict=verdict, reason=reason.strip()[:200], comment=comment.strip()
    )
    others = generation.turn.generations.exclude(pk=generation.pk).filter(status__in=Generation.FINAL_STATUSES)
    for other in others:
        other_verdicts = set(other.feedback.values_list("verdict", flat=True))
        if verdict == Feedback.Verdict.ACCEPT:
            source = _pair_source(generation, other, other_verdicts)
            record_pair(chosen=generation, rejected=other, source=source, feedback=feedback)
        elif Feedback.Verdict.ACCEPT in other_verdicts:
            record_pair(chosen=other, rejected=generation, source="accept_vs_reject", feedback=feedback)
    return feedback


def _pair_source(accepted: Generation, other: Generation, other_verdicts: set[str]) -> str:
    if Feedback.Verdict.REJECT in other_verdicts:
        return "accept_vs_reject"
    if accepted.kind == Generation.Kind.COMPARE and other.kind == Generation.Kind.COMPARE:
        return "pick"  # shown side by side, one chosen: an explicit pick
    return "regenerate"
