"""Reads for the builder: what a user may see, and the project state sent to a connecting browser."""

from django.shortcuts import get_object_or_404
from django.urls import reverse

from builder.models import Project
from generation.models import Generation
from generation.streaming import last_seq
from sandbox.models import Build
from sandbox.previews import preview_entry_url


def projects_for(user):
    return Project.objects.filter(owner=user)


def project_for(user, project_id) -> Project:
    """The user's own project, or 404: another user's project looks exactly like a missing one."""
    return get_object_or_404(Project, pk=project_id, owner=user)


def generation_for(user, generation_id) -> Generation:
    return get_object_or_404(
        Generation.objects.select_related("turn__project", "app_version"),
        pk=generation_id,
        turn__project__owner=user,
    )


def build_state(build: Build | None, user) -> dict | None:
    if build is None:
        return None
    return {
        "id": build.id,
        "status": build.status,
        "message": build.error,
        "preview_url": preview_entry_url(build, user) if build.status == Build.Status.READY else None,
        "smoke_passed": build.smoke_passed,
        "smoke_message": build.smoke_message,
        "scores": build.scores,
        "screenshot_url": reverse("build_screenshot", args=[build.id]) if build.screenshot else None,
        "final": build.status == Build.Status.FAILED or build.smoke_passed is not None,
    }


def build_for(user, build_id) -> Build:
    """A build of one of the user's projects (any project for staff, who review feedback)."""
    builds = Build.objects.select_related("app_version__project")
    if not user.is_staff:
        builds = builds.filter(app_version__project__owner=user)
    return get_object_or_404(builds, pk=build_id)


def generation_state(generation: Generation, user) -> dict:
    # Read the stream position before the database, so no frame can fall between the two. A finished
    # generation's files and text come whole from the database (the browser then takes only build
    # frames after `seq`); an unfinished one is replayed from its first frame.
    seq = last_seq(generation.stream_key)
    generation = Generation.objects.select_related("turn", "model_version", "app_version").get(pk=generation.pk)
    if generation.status not in Generation.FINAL_STATUSES:
        seq = 0
    version = generation.app_version
    build = version.builds.order_by("-created_at", "-id").first() if version else None
    verdicts = [f.verdict for f in generation.feedback.all()]
    return {
        "id": generation.id,
        "seq": seq,
        "turn": generation.turn_id,
        "prompt": generation.turn.prompt,
        "candidate": generation.candidate,
        "kind": generation.kind,
        "seed": generation.seed,  # with the model version, enough to reproduce this candidate
        "status": generation.status,
        "model": generation.model_version.name,
        "explanation": generation.explanation,
        "error": generation.error,
        "files": version.files() if version else {},
        "version": version.id if version else None,
        "build": build_state(build, user),
        "verdict": verdicts[0] if verdicts else None,
    }


def new_generation_state(generation: Generation) -> dict:
    """The state of a generation just created in this request, built from the objects in hand with no
    query, so the browser hears of it (and starts receiving its frames) at once."""
    return {
        "id": generation.id, "seq": 0, "turn": generation.turn_id, "prompt": generation.turn.prompt,
        "candidate": generation.candidate, "kind": generation.kind, "seed": generation.seed,
        "status": generation.status, "model": generation.model_version.name, "explanation": "", "error": "",
        "files": {}, "version": None, "build": None, "verdict": None,
    }


def project_state(project: Project, user) -> dict:
    turns = project.turns.prefetch_related("generations__feedback", "generations__model_version")
    return {
        "type": "state",
        "project": {"id": project.id, "name": project.name},
        "turns": [
            {
                "id": turn.id,
                "prompt": turn.prompt,
                "generations": [generation_state(g, user) for g in turn.generations.all()],
            }
            for turn in turns
        ],
    }
