"""Picks the model version for a generation: by traffic weight, deterministically from a seed."""

import random

from generation.models import ModelVersion


class NoModelAvailable(Exception):
    MESSAGE = "No model is active. A staff member can activate one in the admin (Model versions)."


def pick_model_version(*, seed: int) -> ModelVersion:
    versions = list(ModelVersion.objects.filter(is_active=True, weight__gt=0).order_by("id"))
    if not versions:
        raise NoModelAvailable(NoModelAvailable.MESSAGE)
    return random.Random(seed).choices(versions, weights=[v.weight for v in versions], k=1)[0]
