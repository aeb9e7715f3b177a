"""The turn pipeline: everything that happens to a turn after the browser sends a prompt, in order.

    start (builder.services)  a turn and its generation(s) are stored; `dispatch` enqueues what fair
                              use allows (builder.fair_use) and leaves the rest waiting
    generate    queue "generation"   the model streams (generation.runs.run_generation)
      store_answer                    the parsed files become an immutable AppVersion; "done" frame
      request_build                   a Build is created and the build task enqueued
      dispatch                        the user's next waiting generation may start
    build       queue "build"         bundle, start the preview, smoke-test (sandbox.builds), each
                                      step published as a "build" frame as it happens
      after_build                     decide: a repair (bounded), or the pair a repair earned
      the build's final frame         the browser stops following this generation

A version that did not come from a user's generation (a restore, a hand edit, an evaluation rollout)
enters at `request_build` with its own stream: it is built, previewed and scored the same way, and is
never sent to the model for repair (there is no answer of the model to repair).

Each step is a Celery task taking an id (builder.tasks), idempotent through the claim it calls
(generation.runs.claim, sandbox.builds._claim, and the version compare-and-set in store_answer).
Frames are built by generation.frames and nowhere else. `recover` is the one watchdog of the pipeline:
it queues again generations and builds whose worker died.
"""

import logging

from celery import current_app
from django.db import transaction

from builder import fair_use, repairs
from builder.models import AppVersion
from builder.versions import create_version
from generation import frames, runs
from generation.blueprint import relevance
from generation.models import Generation
from generation.streaming import append_event, expire
from sandbox import builds, lifecycle
from sandbox.models import Build

log = logging.getLogger(__name__)

# Task names (builder.tasks): enqueued by name, so this module and the task module do not import
# each other.
GENERATE = "builder.generate"
BUILD = "builder.build"

# The system account that owns evaluation projects (training.evaluation). An evaluation measures a
# model version's own first answer, so the pipeline never sends its broken builds back for repair.
EVALUATION_ACCOUNT = "kiln-eval"


def enqueue(task_name: str, object_id: int) -> None:
    """Send a pipeline task once the current transaction commits (the row it names exists by then)."""
    transaction.on_commit(lambda: current_app.send_task(task_name, args=[object_id]))


# --- generate ----------------------------------------------------------------------------------------


def generate(generation_id: int) -> None:
    """Stream one generation, then hand a complete answer on to be stored and built."""
    try:
        run = runs.run_generation(generation_id)
        generation = run.generation if run else Generation.objects.filter(id=generation_id).first()
        if generation is not None and generation.status == Generation.Status.DONE and not generation.app_version_id:
            # A redelivered task whose worker died between the answer and its version: parse it again.
            store_answer(generation, files=run.files if run else runs.answer_files(generation))
    finally:
        owner_id = Generation.objects.filter(id=generation_id).values_list("turn__project__owner_id", flat=True).first()
        if owner_id is not None:
            dispatch(owner_id=owner_id)


def store_answer(generation: Generation, *, files: dict[str, str]) -> AppVersion | None:
    """Store the answer's files as an immutable version (once: a second call finds it taken) and
    request its build."""
    with transaction.atomic():
        version = create_version(project=generation.turn.project, files=files, parent=runs.base_version(generation))
        if not Generation.objects.filter(id=generation.id, app_version=None).update(app_version=version):
            transaction.set_rollback(True)
            return None
        generation.app_version = version
        append_event(generation.stream_key, frames.done(version_id=version.id, paths=list(version.manifest)))
        request_build(version, stream_key=generation.stream_key)
    expire(generation.stream_key)
    return version


def request_build(version: AppVersion, *, stream_key: str) -> Build:
    """The entry for every new version: a Build waiting its turn (fair use), its first frame, and the
    build task as soon as the owner has room."""
    build = builds.create_build(app_version=version, stream_key=stream_key, status=Build.Status.WAITING)
    _publish(build, "queued", "Waiting for a build worker")
    transaction.on_commit(lambda: dispatch(owner_id=version.project.owner_id))
    return build


def admit(generations: list[Generation]) -> None:
    """New generations (stored as waiting): hand on what fair use allows, and tell the browser where
    each one still waiting stands."""
    if not generations:
        return
    dispatch(owner_id=generations[0].turn.project.owner_id)
    for generation in generations:  # the caller's objects say what the browser is told next
        generation.refresh_from_db(fields=["status"])
    for generation in Generation.objects.filter(id__in=[g.id for g in generations], status=Generation.Status.WAITING):
        append_event(generation.stream_key, frames.status("waiting", message=fair_use.waiting_message(generation),
                                                          position=fair_use.waiting_ahead(generation) + 1))


def dispatch(*, owner_id: int) -> None:
    """Hand the user's waiting generations and builds to the workers, oldest first, as far as fair use
    allows (called whenever some of the user's work is added or ends)."""
    for generation_id in fair_use.take_waiting(owner_id=owner_id):
        enqueue(GENERATE, generation_id)
    for build_id in fair_use.take_waiting_builds(owner_id=owner_id):
        enqueue(BUILD, build_id)


# --- build -------------------------------------------------------------------------------------------


def build(build_id: int) -> None:
    """Build, preview and smoke-test a version, publishing each step; then decide on a repair and
    publish the build's final frame (after the repair frame, so the browser follows the repair)."""
    seen = Build.objects.select_related("app_version__project").filter(id=build_id).first()
    if seen is None:
        return
    try:
        reporter = _Reporter()
        done = builds.build_and_preview(build_id, report=reporter, keep=_builds_to_keep(seen),
                                        expected_terms=_asked_for(seen))
        if done is None:
            return
        if done.status == Build.Status.FAILED or done.smoke_status != Build.Smoke.PENDING:
            after_build(done)
        reporter.publish_final()
        if done.stream_key:
            expire(done.stream_key)
    finally:
        dispatch(owner_id=seen.app_version.project.owner_id)


def after_build(build: Build) -> Generation | None:
    """Repair a broken version (bounded), or record the pair a successful repair earned. A smoke test
    that was not scored is no verdict: nothing happens."""
    if lifecycle.is_side_preview(build):
        return None  # an older version looked at again (History): its turn is long over
    generation = build.app_version.generations.select_related("turn__project__owner", "model_version").first()
    if generation is None or generation.kind in (Generation.Kind.RESTORE, Generation.Kind.EDIT):
        return None  # a restore or a hand edit: the user, not the model, decides what happens next
    if generation.turn.project.owner.username == EVALUATION_ACCOUNT:
        return None  # scored as the version answered: a repair would measure the repair, not the version
    problem = repairs.problem_of(build)
    if problem is None:
        if build.smoke_status in (Build.Smoke.PASSED, Build.Smoke.SKIPPED) and generation.kind == Generation.Kind.REPAIR:
            repairs.record_fix(generation)
        return None
    attempt = len(repairs.repair_chain(generation)) + 1
    message = repairs.message(problem=problem[0], attempt=attempt)
    if attempt > repairs.limit():
        append_event(build.stream_key, frames.repair_gave_up(message))
        return None
    with transaction.atomic():
        repair = repairs.start_repair(generation=generation, build=build, problem=problem)
        enqueue(GENERATE, repair.id)
    append_event(build.stream_key, frames.repair(repair_id=repair.id, attempt=attempt, message=message))
    return repair


def _asked_for(build: Build) -> list[str] | None:
    """The things and fields the person asked for (generation.blueprint.relevance), read from the
    project's first prompt, which names the app (a follow-up says what to change, not what it is);
    the smoke test counts how many the page shows: a score for an app that runs but is not what
    was asked. None for a version no generation made (a restore or hand edit)."""
    generation = build.app_version.generations.select_related("turn").first()
    if generation is None:
        return None
    first = generation.turn.project.turns.order_by("created_at", "id").first()
    return relevance.expected_terms(first.prompt if first else generation.turn.prompt)


def _builds_to_keep(build: Build) -> frozenset[int]:
    """The previews this build's must not stop: its turn's other candidates; for a side preview (an
    older version opened in History), the project's running previews but other side previews (it
    replaces those): the current one, or both candidates of a comparison."""
    if lifecycle.is_side_preview(build):
        running = Build.objects.filter(app_version__project_id=build.app_version.project_id, status=Build.Status.READY)
        return frozenset(running.exclude(stream_key__startswith=lifecycle.SIDE_PREVIEW_STREAM).values_list("id", flat=True))
    return _builds_of_same_turn(build)


def _builds_of_same_turn(build: Build) -> frozenset[int]:
    """The other candidates of this build's turn: previews shown side by side stay up together."""
    turn_ids = build.app_version.generations.values_list("turn_id", flat=True)
    return frozenset(
        Build.objects.filter(app_version__generations__turn_id__in=list(turn_ids)).values_list("id", flat=True)
    )


class _Reporter:
    """Publishes the sandbox's build steps as frames as they happen, except the final one, which
    `build` publishes after deciding on a repair."""

    def __init__(self):
        self.final: tuple[Build, dict] | None = None

    def __call__(self, build: Build, step: str, message: str = "", **extra) -> None:
        frame = _frame(build, step, message, **extra)
        if frame["final"]:
            self.final = (build, frame)
        elif build.stream_key:
            append_event(build.stream_key, frame)

    def publish_final(self) -> None:
        if self.final and self.final[0].stream_key:
            append_event(self.final[0].stream_key, self.final[1])


def _frame(build: Build, step: str, message: str = "", **extra) -> dict:
    return frames.build(build_id=build.id, status=build.status, smoke_status=build.smoke_status, step=step,
                        message=message, **extra)


def _publish(build: Build, step: str, message: str = "") -> None:
    if build.stream_key:
        append_event(build.stream_key, _frame(build, step, message))


# --- recovery ----------------------------------------------------------------------------------------


def recover(*, silent_for_s: float = runs.STUCK_AFTER_S) -> dict:
    """The pipeline's watchdog (beat): generations and builds whose worker died are queued again
    (their claims make a duplicate harmless), dead previews restarted, the warm pool refilled."""
    outcome = runs.recover_stuck_generations(silent_for_s=silent_for_s)
    for generation_id in outcome["requeued"]:
        enqueue(GENERATE, generation_id)
    requeued_builds = lifecycle.builds_to_requeue()
    for build_id in requeued_builds:
        enqueue(BUILD, build_id)
    # Work left waiting by a worker that died before handing on the next (its `finally` never ran).
    for owner_id in fair_use.owners_with_waiting_work():
        dispatch(owner_id=owner_id)
    return {**outcome, "builds_requeued": requeued_builds, **lifecycle.watchdog()}


def sweep() -> dict:
    """At start and stop of Kiln: no orphan container or folder survives (sandbox.lifecycle.sweep);
    a build left running by a dead worker fails with a message, and its stream says so."""

    def fail_build(build: Build, error) -> None:
        builds.fail(build, error)
        _publish_final(build)

    return lifecycle.sweep(fail_build=fail_build)


def _publish_final(build: Build) -> None:
    if build.stream_key:
        append_event(build.stream_key, _frame(build, "failed", build.error, failed_step=build.failed_step))
