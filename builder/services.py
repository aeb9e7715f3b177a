"""Builder services: the only code that creates projects and turns."""

import secrets

from django.db import transaction

from builder import fair_use, pipeline
from builder.models import Project, Turn
from feedback.models import Feedback
from generation import claims
from generation.models import Generation
from generation.prompts import build_messages
from generation.router import pick_model_version, pick_model_versions
from sandbox.lifecycle import delete_project_data
from sandbox.models import Build

MAX_PROMPT_CHARS = 20_000
PROMPT_EMPTY = "Type what you want to build."
PROMPT_TOO_LONG = f"That prompt is too long (over {MAX_PROMPT_CHARS:,} characters). Shorten it and send again."
NAME_EMPTY = "Give the project a name."
NOTHING_TO_REGENERATE = (
    "A restore or a hand edit holds files you chose; there is no prompt to regenerate. Send a new prompt instead."
)


class InvalidRequest(ValueError):
    """A user-correctable problem; str(exc) is the message shown to the user."""


def delete_project(*, project: Project) -> None:
    """Delete a project with everything it made, at once: its running generations are told to stop,
    its containers (previews and builds still running) and folders go, and its apps' stored records
    (the per-project entity data) with them. A build worker still busy with one of its builds finds
    the row gone at its next step and removes what it started (sandbox.builds.BuildGone)."""
    running = Generation.objects.filter(turn__project=project, status=Generation.Status.RUNNING)
    for generation_id in running.values_list("id", flat=True):
        claims.request_cancel(generation_id)
    builds = list(Build.objects.filter(app_version__project=project))
    project_id = project.id
    project.delete()  # first: a build worker that loses its container next finds its row gone
    delete_project_data(project_id=project_id, builds=builds)


def create_project(*, owner, name: str) -> Project:
    name = name.strip()
    if not name:
        raise InvalidRequest(NAME_EMPTY)
    return Project.objects.create(owner=owner, name=name[:120])


def _history(project: Project, before: Turn | None = None) -> list[tuple[str, str]]:
    """(prompt, explanation) of earlier turns whose answer produced the version now in use."""
    history = []
    turns = project.turns.exclude(pk=before.pk) if before else project.turns.all()
    for turn in turns.prefetch_related("generations"):
        done = [g for g in turn.generations.all() if g.status == Generation.Status.DONE]
        if done:
            history.append((turn.prompt, done[-1].explanation))
    return history


def _new_generation(*, turn: Turn, candidate: int, kind: str, seed: int, model_version) -> Generation:
    """A generation waiting for fair use to hand it on (builder.pipeline.admit, after commit)."""
    files = turn.base_version.files() if turn.base_version else {}
    return Generation.objects.create(
        turn=turn,
        candidate=candidate,
        kind=kind,
        seed=seed,
        model_version=model_version,
        status=Generation.Status.WAITING,
        request_messages=build_messages(history=_history(turn.project, before=turn), files=files, prompt=turn.prompt),
    )


@transaction.atomic
def start_turn(*, project: Project, prompt: str, compare: bool = False) -> list[Generation]:
    """Store a turn on top of the project's current version and start its generation, or two
    generations from two different model versions when the user asked to compare. Within the user's
    fair-use limits (builder.fair_use) they start at once; beyond, they wait their turn; past the
    waiting limit the prompt is refused and nothing is stored."""
    prompt = prompt.strip()
    if not prompt:
        raise InvalidRequest(PROMPT_EMPTY)
    if len(prompt) > MAX_PROMPT_CHARS:
        raise InvalidRequest(PROMPT_TOO_LONG)
    try:
        fair_use.check_room_for(owner_id=project.owner_id, count=2 if compare else 1)
    except fair_use.FairUseLimit as exc:
        raise InvalidRequest(str(exc)) from exc
    seed = secrets.randbits(31)
    turn = Turn.objects.create(
        project=project, prompt=prompt, base_version=current_version(project), seed=seed, compare=compare
    )
    versions = pick_model_versions(seed=seed, count=2 if compare else 1)
    kind = Generation.Kind.COMPARE if compare else Generation.Kind.FIRST
    generations = [
        _new_generation(turn=turn, candidate=i, kind=kind, seed=seed + i - 1, model_version=version)
        for i, version in enumerate(versions, start=1)
    ]
    transaction.on_commit(lambda: pipeline.admit(generations))
    return generations


@transaction.atomic
def regenerate(*, turn: Turn) -> Generation:
    """Another candidate for the same prompt and the same starting version, with a new seed. A restore
    or undo is the user's own choice of files, not a prompt: there is nothing to regenerate."""
    if turn.generations.filter(kind__in=(Generation.Kind.RESTORE, Generation.Kind.EDIT)).exists():
        raise InvalidRequest(NOTHING_TO_REGENERATE)
    try:
        fair_use.check_room_for(owner_id=turn.project.owner_id, count=1)
    except fair_use.FairUseLimit as exc:
        raise InvalidRequest(str(exc)) from exc
    seed = secrets.randbits(31)
    generation = _new_generation(
        turn=turn,
        candidate=turn.generations.count() + 1,
        kind=Generation.Kind.REGENERATE,
        seed=seed,
        model_version=pick_model_version(seed=seed),
    )
    transaction.on_commit(lambda: pipeline.admit([generation]))
    return generation


def current_version(project: Project):
    """The version the next turn builds on: the newest accepted (or picked side by side) one, else the
    newest generated one."""
    accepted = (
        Feedback.objects.filter(generation__turn__project=project,
                                verdict__in=(Feedback.Verdict.ACCEPT, Feedback.Verdict.PICK))
        .exclude(generation__app_version=None)
        .select_related("generation__app_version")
        .first()
    )
    newest = project.versions.order_by("-created_at", "-id").first()
    if accepted and (newest is None or accepted.created_at >= newest.created_at):
        return accepted.generation.app_version
    return newest
