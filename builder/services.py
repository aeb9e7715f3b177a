"""Builder services: the only code that creates projects and turns."""

import secrets

from django.db import transaction

from builder.models import Project, Turn
from generation.models import Generation
from generation.prompts import build_messages
from generation.router import pick_model_version, pick_model_versions
from sandbox.previews import delete_project_data

MAX_PROMPT_CHARS = 20_000
PROMPT_EMPTY = "Type what you want to build."
PROMPT_TOO_LONG = f"That prompt is too long (over {MAX_PROMPT_CHARS:,} characters). Shorten it and send again."
NAME_EMPTY = "Give the project a name."


class InvalidRequest(ValueError):
    """A user-correctable problem; str(exc) is the message shown to the user."""


def delete_project(*, project: Project) -> None:
    """Delete a project with everything it made: its previews are stopped and its apps' stored
    records (the per-project entity data) are deleted with it."""
    delete_project_data(project_id=project.id)
    project.delete()


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


def _enqueue_generation(*, turn: Turn, candidate: int, kind: str, seed: int, model_version) -> Generation:
    files = turn.base_version.files() if turn.base_version else {}
    generation = Generation.objects.create(
        turn=turn,
        candidate=candidate,
        kind=kind,
        seed=seed,
        model_version=model_version,
        request_messages=build_messages(history=_history(turn.project, before=turn), files=files, prompt=turn.prompt),
    )
    from generation.tasks import run

    transaction.on_commit(lambda: run.delay(generation.id))
    return generation


@transaction.atomic
def start_turn(*, project: Project, prompt: str, compare: bool = False) -> list[Generation]:
    """Store a turn on top of the project's current version and enqueue its generation, or two
    generations from two different model versions when the user asked to compare."""
    prompt = prompt.strip()
    if not prompt:
        raise InvalidRequest(PROMPT_EMPTY)
    if len(prompt) > MAX_PROMPT_CHARS:
        raise InvalidRequest(PROMPT_TOO_LONG)
    seed = secrets.randbits(31)
    turn = Turn.objects.create(
        project=project, prompt=prompt, base_version=current_version(project), seed=seed, compare=compare
    )
    versions = pick_model_versions(seed=seed, count=2 if compare else 1)
    kind = Generation.Kind.COMPARE if compare else Generation.Kind.FIRST
    return [
        _enqueue_generation(turn=turn, candidate=i, kind=kind, seed=seed + i - 1, model_version=version)
        for i, version in enumerate(versions, start=1)
    ]


@transaction.atomic
def regenerate(*, turn: Turn) -> Generation:
    """Another candidate for the same prompt and the same starting version, with a new seed."""
    seed = secrets.randbits(31)
    return _enqueue_generation(
        turn=turn,
        candidate=turn.generations.count() + 1,
        kind=Generation.Kind.REGENERATE,
        seed=seed,
        model_version=pick_model_version(seed=seed),
    )


def current_version(project: Project):
    """The version the next turn builds on: the newest accepted one, else the newest generated one."""
    from feedback.models import Feedback

    accepted = (
        Feedback.objects.filter(generation__turn__project=project, verdict=Feedback.Verdict.ACCEPT)
        .exclude(generation__app_version=None)
        .select_related("generation__app_version")
        .first()
    )
    newest = project.versions.order_by("-created_at", "-id").first()
    if accepted and (newest is None or accepted.created_at >= newest.created_at):
        return accepted.generation.app_version
    return newest
