"""Side-by-side votes: which of a compare turn's two candidates is better, and the rows a vote records.

The rows follow docs/design.md ("Preference data"), as public model arenas count votes:

- **A is better / B is better**: a `pick` Feedback on the chosen candidate (with the reason) and one
  `pick` PreferencePair, chosen > other: one DPO row in an export.
- **tie**: a `tie` Feedback on candidate A; no pair (a tie says nothing about which is better).
- **both bad**: one `both_bad` Feedback on candidate A; the export turns it into one KTO negative per
  candidate of the turn (training.selectors.verdict_signals), so it is stored once, not twice.

A user votes once per comparison: the vote reveals which model version wrote which candidate, so a
second vote would no longer be blind. The vote is the user's latest word on the two candidates: an
ordering between them that their earlier accept or reject implied is removed.
"""

from django.db import transaction
from django.db.models import Q

from feedback.models import Feedback, PreferencePair
from feedback.pairs import record_pair
from feedback.services import VERDICT_SOURCES
from generation.models import Generation

A, B, TIE, BOTH_BAD = "a", "b", "tie", "both_bad"
CHOICES = (A, B, TIE, BOTH_BAD)
CHOICE_LABELS = {A: "A is better", B: "B is better", TIE: "Tie", BOTH_BAD: "Both bad"}
VOTE_VERDICTS = (Feedback.Verdict.PICK, Feedback.Verdict.TIE, Feedback.Verdict.BOTH_BAD)
REASON_MAX_CHARS = 200

UNKNOWN_CHOICE = "Choose one: A is better, B is better, tie or both bad."
REASON_TOO_LONG = f"Keep the reason under {REASON_MAX_CHARS} characters."
NOT_A_COMPARISON = "This turn has no two candidates side by side to vote on."
NOT_FINISHED = "Wait until both candidates have finished, then vote."
NOT_JUDGEABLE = (
    "Candidate {letter} failed or was stopped, so there is nothing to compare. "
    "Accept or reject the other candidate instead."
)
ALREADY_VOTED = "You have already voted on this comparison: a vote shows the models, so it is final."


class InvalidVote(ValueError):
    """A vote Kiln refuses; str(exc) is the message shown to the user."""


def compare_candidates(turn, *, lock: bool = False) -> list[Generation]:
    """The turn's two side-by-side candidates, A (candidate 1) then B; an empty list when the turn is
    not a comparison."""
    candidates = (Generation.objects.filter(turn=turn, kind=Generation.Kind.COMPARE)
                  .select_related("model_version").order_by("candidate", "id"))
    if lock:
        candidates = candidates.select_for_update()
    found = list(candidates)
    return found if len(found) == 2 else []


def vote_of(*, user, turn) -> Feedback | None:
    """The user's vote on this comparison, if any."""
    return (
        Feedback.objects.filter(user=user, generation__turn=turn, generation__kind=Generation.Kind.COMPARE,
                                verdict__in=VOTE_VERDICTS)
        .order_by("id")
        .first()
    )


def choice_of(vote: Feedback, candidates: list[Generation]) -> str:
    """What the user chose, as one of CHOICES."""
    if vote.verdict == Feedback.Verdict.PICK:
        return A if vote.generation_id == candidates[0].id else B
    return TIE if vote.verdict == Feedback.Verdict.TIE else BOTH_BAD


def refusal(candidates: list[Generation]) -> str | None:
    """Why these candidates cannot be voted on yet (or at all), or None when they can."""
    if not candidates:
        return NOT_A_COMPARISON
    if any(g.status not in Generation.FINAL_STATUSES for g in candidates):
        return NOT_FINISHED
    for letter, generation in zip("AB", candidates):
        if generation.status != Generation.Status.DONE:
            return NOT_JUDGEABLE.format(letter=letter)
    return None


@transaction.atomic
def record_vote(*, user, turn, choice: str, reason: str = "") -> Feedback:
    """Store the user's vote on a compare turn and the preference rows it implies (see the module's
    docstring). Refuses, with InvalidVote and nothing stored: an unknown choice, a reason over
    REASON_MAX_CHARS, a turn that is not a comparison, a candidate still running or without an app,
    and a second vote. The caller has checked that the turn is the user's."""
    if choice not in CHOICES:
        raise InvalidVote(UNKNOWN_CHOICE)
    reason = reason.strip()
    if len(reason) > REASON_MAX_CHARS:
        raise InvalidVote(REASON_TOO_LONG)
    candidates = compare_candidates(turn, lock=True)  # two votes at once: the second waits, then is refused
    problem = refusal(candidates)
    if problem:
        raise InvalidVote(problem)
    if vote_of(user=user, turn=turn) is not None:
        raise InvalidVote(ALREADY_VOTED)
    first, second = candidates
    PreferencePair.objects.filter(
        Q(chosen_generation=first, rejected_generation=second) | Q(chosen_generation=second, rejected_generation=first),
        source__in=VERDICT_SOURCES,
        feedback__user=user,
    ).delete()
    if choice in (A, B):
        chosen, rejected = (first, second) if choice == A else (second, first)
        feedback = Feedback.objects.create(user=user, generation=chosen, verdict=Feedback.Verdict.PICK, reason=reason)
        pair = record_pair(chosen=chosen, rejected=rejected, source=PreferencePair.Source.PICK, feedback=feedback)
        if pair.feedback_id != feedback.id:  # an ordering another signal stored first: the vote now carries it
            pair.source, pair.feedback = PreferencePair.Source.PICK, feedback
            pair.save(update_fields=["source", "feedback"])
        return feedback
    verdict = Feedback.Verdict.TIE if choice == TIE else Feedback.Verdict.BOTH_BAD
    return Feedback.objects.create(user=user, generation=first, verdict=verdict, reason=reason)
