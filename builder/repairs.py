"""Repairs: when a version does not build (or renders broken), hand the errors back to the model for a
bounded number of attempts, each one stored as a generation of its own. A repair that turns a broken
build into a passing one becomes a preference pair (chosen = fixed, rejected = broken).

Runs in the build worker, from sandbox's `build_finished` signal, before the build's final frame is
published: the "repair" frame it adds to the stream therefore reaches the browser first, and the
page follows the new generation without a gap.
"""

import logging
import secrets

from django.conf import settings
from django.db import transaction

from feedback.pairs import record_pair
from generation.models import Generation
from generation.prompts import build_messages, repair_prompt
from generation.streaming import append_event
from sandbox.models import Build

log = logging.getLogger(__name__)

REPAIRING = "The app {problem}. Kiln asked the model to fix it (attempt {attempt} of {limit})."
GAVE_UP = "The app {problem}, and {limit} repair attempt(s) did not fix it. Your previous version is unchanged."


def problem_of(build: Build) -> tuple[str, str] | None:
    """(what went wrong, the errors to show the model) for a broken build, or None if it works."""
    if build.status == Build.Status.FAILED and build.failed_step == "bundle":
        return "failed to build", build.error
    if build.status == Build.Status.READY and build.smoke_passed is False:
        return "did not work in the browser", build.smoke_message
    return None


def repair_chain(generation: Generation) -> list[Generation]:
    """The repairs that led to `generation`, oldest first (empty for an answer to the user)."""
    chain = []
    while generation.kind == Generation.Kind.REPAIR and generation.repair_of_id:
        chain.insert(0, generation)
        broken = generation.repair_of.app_version.generations.first()
        if broken is None:
            break
        generation = broken
    return chain


def root_of(generation: Generation) -> Generation:
    chain = repair_chain(generation)
    return chain[0].repair_of.app_version.generations.first() if chain else generation


def after_build(build: Build) -> Generation | None:
    """Start a repair for a broken build, or record the pair when a repair made it pass."""
    generation = build.app_version.generations.select_related("turn", "model_version").first()
    if generation is None:
        return None
    problem = problem_of(build)
    if problem is None:
        if build.smoke_passed is not False and generation.kind == Generation.Kind.REPAIR:
            _record_fix(generation)
        return None
    attempt = len(repair_chain(generation)) + 1
    limit = settings.REPAIR_ATTEMPTS
    if attempt > limit:
        append_event(build.stream_key, {"type": "repair_gave_up",
                                        "message": GAVE_UP.format(problem=problem[0], limit=limit)})
        return None
    repair = start_repair(generation=generation, build=build, problem=problem)
    append_event(build.stream_key, {
        "type": "repair", "repair": repair.id, "attempt": attempt,
        "message": REPAIRING.format(problem=problem[0], attempt=attempt, limit=limit),
    })
    return repair


@transaction.atomic
def start_repair(*, generation: Generation, build: Build, problem: tuple[str, str]) -> Generation:
    from generation.tasks import run

    turn = generation.turn
    repair = Generation.objects.create(
        turn=turn,
        kind=Generation.Kind.REPAIR,
        repair_of=build,
        candidate=turn.generations.count() + 1,
        seed=secrets.randbits(31),
        model_version=generation.model_version,
        request_messages=build_messages(
            history=[], files=build.app_version.files(), prompt=repair_prompt(problem=problem[0], errors=problem[1])
        ),
    )
    transaction.on_commit(lambda: run.delay(repair.id))
    return repair


def _record_fix(fixed: Generation) -> None:
    """The broken answer and its working repair, as one ordering for the same original prompt: the
    chosen completion is the fixed app written whole, so both answer the user's request."""
    broken = root_of(fixed)
    changed = fixed.app_version.files()
    before = broken.turn.base_version.files() if broken.turn.base_version else {}
    blocks = [f'<file path="{path}">\n{content}\n</file>' for path, content in changed.items()
              if before.get(path) != content]
    chosen = "\n".join([broken.explanation, "", *blocks]).strip() + "\n"
    record_pair(chosen=fixed, rejected=broken, source="repair",
                chosen_messages=[{"role": "assistant", "content": chosen}], prompt=broken.request_messages)


def on_build_finished(sender, build: Build, **kwargs) -> None:
    after_build(build)
