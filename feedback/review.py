"""Reviewers' decisions on queue items: approve, relabel (swap chosen and rejected), exclude with a
reason, tag. Each one is a ReviewDecision row (who, when, what) and, for a pair, its review_status —
the column the dataset export reads (training.selectors)."""

from django.db import IntegrityError, transaction

from feedback.models import PreferencePair, ReviewDecision
from feedback.selectors import generation_status
from generation.models import Generation

Action = ReviewDecision.Action
Status = PreferencePair.ReviewStatus

REASON_NEEDED = "Say why you exclude it (a few words), then press Enter."
NO_TAGS = "Type one or more tags, separated by commas, then press Enter."
RELABEL_ONLY_PAIRS = "Only a pair can be relabelled: a single answer has no other side to swap with."
REVERSE_PAIR_EXISTS = "The opposite ordering of these two answers is already a pair of its own: exclude one of them instead."
UNKNOWN_ACTION = "Unknown action: approve (a), relabel (r), exclude (x) or tag (t)."

STATUS_AFTER = {Action.APPROVE: Status.APPROVED, Action.RELABEL: Status.RELABELLED, Action.EXCLUDE: Status.EXCLUDED}


class InvalidDecision(ValueError):
    pass


def parse_tags(text: str) -> list[str]:
    return sorted({tag.strip().lower()[:40] for tag in text.split(",") if tag.strip()})


@transaction.atomic
def decide(*, reviewer, action: str, pair: PreferencePair | None = None, generation: Generation | None = None,
           reason: str = "", tags: str = "") -> ReviewDecision:
    """Apply one decision to a pair or a generation and record it in the audit trail."""
    reason = reason.strip()[:200]
    tag_list = parse_tags(tags)
    if action not in Action.values:
        raise InvalidDecision(UNKNOWN_ACTION)
    if action == Action.EXCLUDE and not reason:
        raise InvalidDecision(REASON_NEEDED)
    if action == Action.TAG and not tag_list:
        raise InvalidDecision(NO_TAGS)
    if pair is not None:
        pair = PreferencePair.objects.select_for_update().get(pk=pair.pk)
        status = STATUS_AFTER.get(action, pair.review_status)
        if action == Action.RELABEL:
            _swap(pair)
        if status != pair.review_status:
            pair.review_status = status
            pair.save(update_fields=["review_status"])
    else:
        if action == Action.RELABEL:
            raise InvalidDecision(RELABEL_ONLY_PAIRS)
        status = STATUS_AFTER.get(action, generation_status(generation))
    return ReviewDecision.objects.create(
        reviewer=reviewer, pair=pair, generation=generation, action=action, review_status=status,
        reason=reason, tags=tag_list,
    )


def _swap(pair: PreferencePair) -> None:
    """The reviewer says the user's ordering was wrong: the rejected answer is the better one."""
    pair.chosen, pair.rejected = pair.rejected, pair.chosen
    pair.chosen_generation_id, pair.rejected_generation_id = pair.rejected_generation_id, pair.chosen_generation_id
    try:
        with transaction.atomic():
            pair.save(update_fields=["chosen", "rejected", "chosen_generation", "rejected_generation"])
    except IntegrityError:
        raise InvalidDecision(REVERSE_PAIR_EXISTS) from None
