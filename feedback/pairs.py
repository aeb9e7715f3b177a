"""Preference pairs in TRL's conversational form, built from two generations of the same turn."""

from feedback.models import Feedback, PreferencePair
from generation.models import Generation


def completion_messages(generation: Generation) -> list[dict]:
    return [{"role": "assistant", "content": generation.raw_output}]


def record_pair(
    *,
    chosen: Generation,
    rejected: Generation,
    source: str,
    feedback: Feedback | None = None,
    chosen_messages: list[dict] | None = None,
    prompt: list[dict] | None = None,
) -> PreferencePair:
    """Store (or return the existing) ordering chosen > rejected. By default both answered the same
    prompt context, so the chosen generation's request messages are the pair's prompt; a repair pair
    passes the original prompt and the fixed app written whole instead."""
    pair, _ = PreferencePair.objects.get_or_create(
        chosen_generation=chosen,
        rejected_generation=rejected,
        defaults={
            "prompt": prompt if prompt is not None else chosen.request_messages,
            "chosen": chosen_messages if chosen_messages is not None else completion_messages(chosen),
            "rejected": completion_messages(rejected),
            "source": source,
            "feedback": feedback,
        },
    )
    return pair
