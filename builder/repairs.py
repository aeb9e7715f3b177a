"""Repairs: a version that does not build (or renders broken) goes back to the model with its errors,
a bounded number of times, each attempt a generation of its own. A repair that turns a broken build
into a passing one becomes a preference pair (chosen = fixed, rejected = broken).

Plain functions: builder.pipeline.after_build decides when to call them.
"""

import secrets

from django.conf import settings

from feedback.pairs import record_pair
from generation.models import Generation
from generation.prompts import build_messages, repair_prompt
from sandbox.models import Build

REPAIRING = "The app {problem}. Kiln asked the model to fix it (attempt {attempt} of {limit})."
GAVE_UP = "The app {problem}, and {limit} repair attempt(s) did not fix it. Your previous version is unchanged."


def limit() -> int:
    return settings.REPAIR_ATTEMPTS


def message(*, problem: str, attempt: int) -> str:
    """What the user reads: the repair starting, or that Kiln gave up after the last attempt."""
    if attempt > limit():
        return GAVE_UP.format(problem=problem, limit=limit())
    return REPAIRING.format(problem=problem, attempt=attempt, limit=limit())


def problem_of(build: Build) -> tuple[str, str] | None:
    """(what went wrong, the errors to show the model) for a broken build, or None if it works or
    was not scored (a smoke test that could not run says nothing about the app)."""
    if build.status == Build.Status.FAILED and build.failed_step == "bundle":
        return "failed to build", build.error
    if build.status == Build.Status.READY and build.smoke_status == Build.Smoke.FAILED:
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


def start_repair(*, generation: Generation, build: Build, problem: tuple[str, str]) -> Generation:
    """A queued repair generation for `build`'s version (the caller enqueues it)."""
    turn = generation.turn
    return Generation.objects.create(
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


def record_fix(fixed: Generation) -> None:
    """The broken answer and its working repair, as one ordering for the same original prompt: the
    chosen completion is the fixed app written whole, so both answer the user's request."""
    broken = root_of(fixed)
    if not broken.raw_output:  # a hand edit the user asked the model to fix: no answer of a model to rank
        return
    changed = fixed.app_version.files()
    before = broken.turn.base_version.files() if broken.turn.base_version else {}
    blocks = [f'<file path="{path}">\n{content}\n</file>' for path, content in changed.items()
              if before.get(path) != content]
    chosen = "\n".join([broken.explanation, "", *blocks]).strip() + "\n"
    record_pair(chosen=fixed, rejected=broken, source="repair",
                chosen_messages=[{"role": "assistant", "content": chosen}], prompt=broken.request_messages)
