"""Preference pairs in TRL's conversational form, built from two generations of the same turn."""

from feedback.models import Feedback, PreferencePair
from generation.models import Generation


def completion_messages(generation: Generation) -> list[dict]:
    return [{"role": "assistant", "content": generation.raw_output}]


def record_pair(
    *, chosen: Generation, rejected: Generation, source: str, feedback: Feedback | None = None
) -> PreferencePair:
    """Store (or return the existing) ordering chosen > rejected. Both answered the same prompt
    context, so the chosen generation's request messages are the pair's prompt."""
    pair, _ = PreferencePair.objects.get_or_create(
        chosen_generation=chosen,
        rejected_generation=rejected,
        defaults={
            "prompt": chosen.request_messages,
            "chosen": completion_messages(chosen),
            "rejected": completion_messages(rejected),
            "source": source,
            "feedback": feedback,
        },
    )
    return pair
