"""Picks model versions for generations: by traffic weight, deterministically from the turn's seed."""

import random

from generation.models import ModelVersion


class NoModelAvailable(Exception):
    MESSAGE = "No model is active. A staff member can activate one in the admin (Model versions)."


def active_versions() -> list[ModelVersion]:
    return list(ModelVersion.objects.filter(is_active=True, weight__gt=0).order_by("id"))


def pick_model_versions(*, seed: int, count: int = 1) -> list[ModelVersion]:
    """`count` versions drawn by weight without replacement, so a comparison gets two *different*
    versions. With fewer active versions than asked, the last one drawn is reused (a comparison of
    one model with two seeds) rather than refusing the user."""
    pool = active_versions()
    if not pool:
        raise NoModelAvailable(NoModelAvailable.MESSAGE)
    rng = random.Random(seed)
    picked: list[ModelVersion] = []
    while len(picked) < count:
        if pool:
            choice = rng.choices(pool, weights=[v.weight for v in pool], k=1)[0]
            pool.remove(choice)
        picked.append(choice)
    return picked


def pick_model_version(*, seed: int) -> ModelVersion:
    return pick_model_versions(seed=seed)[0]
