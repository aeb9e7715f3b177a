"""Staff blind votes: two candidates for one prompt, side by side, model versions hidden until the vote.

The matchups are compare turns nobody has voted on yet (no verdict of any kind on the turn, no pick
between its candidates) whose two candidates finished with an answer and come from different model
versions — a vote between one version and itself says nothing about versions. Oldest turn first; which
candidate shows on the left is drawn per reviewer and turn (position bias is real in arenas), the same
on every reload.

A vote is stored like a user's side-by-side vote (feedback.votes), with `Feedback.from_staff` set:

- **A / B**: a `pick` Feedback on the chosen candidate and one `pick` PreferencePair chosen > other —
  a vote on the leaderboard (feedback.leaderboard) and one DPO row in an export.
- **tie**: a `tie` Feedback on the first candidate (half a win each on the leaderboard; no pair).
- **both bad**: a `both_bad` Feedback on the first candidate (one KTO negative per candidate in an
  export; nothing on the leaderboard).

Only turns nobody voted on are offered, so a staff vote never meets a user's pair of the same ordering
(PreferencePair keeps one row per ordering, and a user's pick must stay the user's).
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from django.db import transaction
from django.db.models import Count, Exists, OuterRef

from feedback.models import Feedback, PreferencePair
from feedback.pairs import record_pair
from generation.models import Generation

A, B, TIE, BOTH_BAD = "a", "b", "tie", "both_bad"
CHOICES = (A, B, TIE, BOTH_BAD)
CHOICE_LABELS = {A: "A is better", B: "B is better", TIE: "Tie", BOTH_BAD: "Both bad"}

UNKNOWN_CHOICE = "Choose one: A is better (a), B is better (b), tie (t) or both bad (x)."
NOT_A_MATCHUP = "These two answers are not two finished candidates of one prompt from different model versions."
ALREADY_VOTED = "Someone has voted on this comparison already (a user or another reviewer): here is the next one."


class InvalidVote(ValueError):
    """A blind vote Kiln refuses; str(exc) is the message shown to the reviewer."""


@dataclass(frozen=True)
class Matchup:
    turn_id: int
    left: Generation  # shown as A
    right: Generation  # shown as B

    @property
    def prompt(self) -> list[dict]:
        return [m for m in self.left.request_messages if m.get("role") != "system"]


def _candidates():
    return (Generation.objects.filter(kind=Generation.Kind.COMPARE, status=Generation.Status.DONE)
            .exclude(raw_output=""))


def _voted():
    """Turns somebody already said something about: any verdict, or a pick between two candidates."""
    return (Exists(Feedback.objects.filter(generation__turn_id=OuterRef("turn_id")))
            | Exists(PreferencePair.objects.filter(source=PreferencePair.Source.PICK,
                                                   chosen_generation__turn_id=OuterRef("turn_id"))))


def open_turn_ids():
    """Turn ids waiting for a blind vote, oldest first (a queryset of ints)."""
    return (_candidates().exclude(_voted()).values("turn_id")
            .annotate(versions=Count("model_version", distinct=True)).filter(versions__gte=2)
            .order_by("turn_id").values_list("turn_id", flat=True))


def matchup(*, turn_id: int, reviewer) -> Matchup | None:
    """The turn's first two candidates from different versions, in this reviewer's left/right order."""
    found = list(_candidates().filter(turn_id=turn_id).select_related("model_version").order_by("candidate", "id"))
    if not found:
        return None
    first = found[0]
    second = next((g for g in found[1:] if g.model_version_id != first.model_version_id), None)
    if second is None:
        return None
    swap = random.Random(f"blind:{turn_id}:{reviewer.pk}").random() < 0.5
    return Matchup(turn_id, *((second, first) if swap else (first, second)))


def next_matchup(*, reviewer, after_turn: int = 0) -> Matchup | None:
    """The oldest open matchup after `after_turn` (a skip moves past one), else None."""
    turn_id = open_turn_ids().filter(turn_id__gt=after_turn).first()
    return matchup(turn_id=turn_id, reviewer=reviewer) if turn_id is not None else None


def open_count() -> int:
    return open_turn_ids().count()


@transaction.atomic
def record_staff_vote(*, reviewer, left_id: int, right_id: int, choice: str) -> Feedback:
    """Store a reviewer's blind vote on the candidates shown as A (left) and B (right), as the module's
    docstring says. Refuses with InvalidVote, storing nothing: an unknown choice, two answers that are
    not an open matchup, and a comparison somebody voted on meanwhile (the second of two reviewers)."""
    if choice not in CHOICES:
        raise InvalidVote(UNKNOWN_CHOICE)
    shown = {g.id: g for g in _candidates().select_for_update().filter(id__in=(left_id, right_id))}
    left, right = shown.get(left_id), shown.get(right_id)
    if left is None or right is None or left.turn_id != right.turn_id or left.model_version_id == right.model_version_id:
        raise InvalidVote(NOT_A_MATCHUP)
    if not open_turn_ids().filter(turn_id=left.turn_id).exists():
        raise InvalidVote(ALREADY_VOTED)
    if choice in (A, B):
        chosen, rejected = (left, right) if choice == A else (right, left)
        feedback = Feedback.objects.create(user=reviewer, generation=chosen, verdict=Feedback.Verdict.PICK,
                                           from_staff=True)
        record_pair(chosen=chosen, rejected=rejected, source=PreferencePair.Source.PICK, feedback=feedback)
        return feedback
    first = min((left, right), key=lambda g: (g.candidate, g.id))
    verdict = Feedback.Verdict.TIE if choice == TIE else Feedback.Verdict.BOTH_BAD
    return Feedback.objects.create(user=reviewer, generation=first, verdict=verdict, from_staff=True)


def reveal(feedback: Feedback, *, left_id: int, right_id: int) -> str:
    """What the reviewer sees after voting: which version wrote A and which wrote B."""
    names = dict(Generation.objects.filter(id__in=(left_id, right_id)).values_list("id", "model_version__name"))
    if feedback.verdict == Feedback.Verdict.PICK:
        said = CHOICE_LABELS[A if feedback.generation_id == left_id else B]
    else:
        said = CHOICE_LABELS[TIE if feedback.verdict == Feedback.Verdict.TIE else BOTH_BAD]
    return f"Your vote: {said}. A was {names[left_id]}, B was {names[right_id]}."
