"""A project's version history: every version listed and opened, and Restore / Undo.

Versions are immutable and history is never rewritten. A restore is a *new* version holding an earlier
version's files, made current like any other answer: it gets a turn of its own ("Restore version 3"),
and a generation of kind `restore` that made no model call, whose app version is the restored copy.
So the chat shows it, the page follows its build through its stream like any generation's, and the
preference data stays between two generations (feedback.pairs), the way every exporter reads it.

The copy enters the turn pipeline at `builder.pipeline.request_build`: built, previewed and smoke-tested
the same way, never sent to the model for repair (pipeline.after_build leaves a restore alone).

The project's entity data (the records its app stored) is not versioned: a restore leaves it as it is.
"""

from django.db import transaction
from django.shortcuts import get_object_or_404
from django.utils import timezone

from builder import pipeline, selectors
from builder.models import AppVersion, Project, Turn
from builder.services import InvalidRequest, current_version
from builder.versions import create_version
from feedback.models import Feedback, PreferencePair
from feedback.pairs import record_pair
from generation import frames
from generation.models import Generation
from generation.router import pick_model_version
from generation.streaming import append_event
from sandbox.models import Build

ALREADY_CURRENT = "That version is already the current one: nothing to restore."
NOTHING_TO_UNDO = "Nothing to undo: this is the project's first version."
NO_VERSION_YET = "Nothing to undo yet: build something first."
RESTORE_PROMPT = "Restore version {number}"
UNDO_PROMPT = "Undo: back to version {number}"
RESTORED = (
    "Restored the files of version {number} as a new version (the versions after it are kept in History). "
    "The app's stored data is left as it is."
)
# How far back a chain of restores is followed to find the request a replaced answer was given.
CONTEXT_CHAIN_LIMIT = 100
SOURCES = {
    Generation.Kind.FIRST: "generation",
    Generation.Kind.REGENERATE: "generation",
    Generation.Kind.COMPARE: "generation",
    Generation.Kind.REPAIR: "repair",
    Generation.Kind.RESTORE: "restore",
    Generation.Kind.EDIT: "edit",
}
# Generations that made no model call (a restore, a hand edit): no raw answer of their own.
USER_KINDS = (Generation.Kind.RESTORE, Generation.Kind.EDIT)


# --- reads -------------------------------------------------------------------------------------------


def version_for(user, project_id, version_id) -> AppVersion:
    """A version of the user's own project, or 404: another user's looks exactly like a missing one."""
    return get_object_or_404(
        AppVersion.objects.select_related("project"),
        pk=version_id,
        project_id=project_id,
        project__owner=user,
    )


def version_numbers(project: Project) -> dict[int, int]:
    """version id -> its number in the project (1 for the first), as the user reads it."""
    ids = project.versions.order_by("id").values_list("id", flat=True)
    return {pk: number for number, pk in enumerate(ids, start=1)}


def versions_of(project: Project, user) -> dict:
    """Every version of the project, newest first: its number, where it came from (the turn's prompt,
    generation / repair / restore), its time, its latest build and smoke verdict, and which is current."""
    numbers = version_numbers(project)
    versions = list(
        project.versions.order_by("-id").only(
            "id", "project_id", "parent_id", "manifest", "digest", "created_at"
        )
    )
    origins = {}
    for generation in (
        Generation.objects.filter(app_version__project=project)
        .select_related("turn")
        .only("id", "kind", "app_version_id", "turn__prompt", "turn_id")
        .order_by("id")
    ):
        origins.setdefault(generation.app_version_id, generation)
    latest_builds = {}
    for build in (
        Build.objects.filter(app_version__project=project)
        .defer("log", "timings", "scores")
        .order_by("-created_at", "-id")
    ):
        latest_builds.setdefault(build.app_version_id, build)
    current = current_version(project)
    listed = []
    for version in versions:
        origin = origins.get(version.id)
        prompt = selectors.clip(origin.turn.prompt, selectors.PROMPT_BYTES)[0] if origin else ""
        listed.append(
            {
                "id": version.id,
                "number": numbers[version.id],
                "parent": version.parent_id,
                "parent_number": numbers.get(version.parent_id),
                "created_at": version.created_at.isoformat(),
                "source": SOURCES.get(origin.kind, "generation") if origin else "unknown",
                "generation": origin.id if origin else None,
                "turn": origin.turn_id if origin else None,
                "prompt": prompt,
                "file_count": len(version.manifest),
                "build": selectors.build_state(
                    latest_builds.get(version.id), user, message_bytes=selectors.MESSAGE_BYTES
                ),
                "current": current is not None and version.id == current.id,
                # The same files as the current version: restoring it would change nothing.
                "same_as_current": current is not None and version.digest == current.digest,
            }
        )
    return {"project": project.id, "current": current.id if current else None, "versions": listed}


def version_files(version: AppVersion) -> dict:
    """A version's files by path, size and hash (their content comes over HTTP, as for a generation)."""
    sizes = {
        sha: size
        for sha, size in selectors.Blob.objects.filter(pk__in=set(version.manifest.values()))
        .annotate(size=selectors.ByteLength("content"))
        .values_list("sha256", "size")
    }
    return {
        "id": version.id,
        "number": version_numbers(version.project)[version.id],
        "parent": version.parent_id,
        "files": [
            {"path": path, "sha256": sha, "size": sizes.get(sha, 0)}
            for path, sha in sorted(version.manifest.items())
        ],
    }


# --- restore and undo --------------------------------------------------------------------------------


@transaction.atomic
def restore_version(
    *, user, project: Project, version: AppVersion, prompt: str = RESTORE_PROMPT
) -> Generation:
    """Make a new version holding `version`'s files, make it current, and build it like any other.

    Guarantees: no existing version changes; the project's entity data is untouched; a `restore`
    Feedback row is stored, and a `restore` PreferencePair orders the restored version over the one it
    replaces (when a generation made that one, which is every version Kiln stores). Restoring the
    version that is already current is refused with ALREADY_CURRENT and stores nothing.
    """
    replaced = current_version(project)
    if replaced is not None and replaced.digest == version.digest:
        raise InvalidRequest(ALREADY_CURRENT)
    number = version_numbers(project)[version.id]
    restore = record_without_model(
        project=project, kind=Generation.Kind.RESTORE, prompt=prompt.format(number=number), base_version=replaced,
        files=version.files(), origin=version, explanation=RESTORED.format(number=number),
    )
    copy = restore.app_version
    feedback = Feedback.objects.create(user=user, generation=restore, verdict=Feedback.Verdict.RESTORE)
    loser = replaced.generations.order_by("id").first() if replaced is not None else None
    if loser is not None:
        record_user_pair(
            chosen=restore, rejected=loser, source=PreferencePair.Source.RESTORE, feedback=feedback,
            chosen_messages=whole_app_messages(restore),
        )
    append_event(restore.stream_key, frames.done(version_id=copy.id, paths=list(copy.manifest)))
    pipeline.request_build(copy, stream_key=restore.stream_key)
    return restore


def record_without_model(*, project: Project, kind: str, prompt: str, base_version: AppVersion | None,
                         files: dict[str, str], origin: AppVersion, explanation: str) -> Generation:
    """A turn whose new version no model wrote (a restore, a hand edit): the turn, the version (its parent
    is `base_version`) and a finished generation holding it. Its model version is the one that wrote
    `origin`'s files (none was called), so datasets filtered by model keep the row."""
    first = origin.generations.select_related("model_version").order_by("id").first()
    turn = Turn.objects.create(project=project, prompt=prompt, base_version=base_version, seed=0)
    copy = create_version(project=project, files=files, parent=base_version)
    now = timezone.now()
    return Generation.objects.create(
        turn=turn, kind=kind, candidate=1, seed=0,
        model_version=first.model_version if first else pick_model_version(seed=0),
        status=Generation.Status.DONE, explanation=explanation, app_version=copy, started_at=now, finished_at=now,
    )


def undo(*, user, project: Project) -> Generation:
    """Restore the version the current one was made from (undoing a restore brings back what it replaced)."""
    current = current_version(project)
    if current is None:
        raise InvalidRequest(NO_VERSION_YET)
    if current.parent_id is None:
        raise InvalidRequest(NOTHING_TO_UNDO)
    return restore_version(user=user, project=project, version=current.parent, prompt=UNDO_PROMPT)


def record_user_pair(
    *, chosen: Generation, rejected: Generation, source: str, feedback: Feedback, chosen_messages: list[dict]
) -> PreferencePair:
    """chosen > rejected for a choice of the user's own (a restore, a hand edit), under the request the
    rejected answer was given. A rejected restore or hand edit has no raw answer: its app written whole
    in the file protocol stands for it."""
    pair = record_pair(
        chosen=chosen,
        rejected=rejected,
        source=source,
        feedback=feedback,
        chosen_messages=chosen_messages,
        prompt=request_context(rejected),
    )
    if rejected.kind in USER_KINDS:
        pair.rejected = whole_app_messages(rejected)
        pair.save(update_fields=["rejected"])
    return pair


def app_messages(explanation: str, files: dict[str, str]) -> list[dict]:
    """An app as one assistant answer in the file protocol: the explanation, then every file whole."""
    blocks = [f'<file path="{path}">\n{content}\n</file>' for path, content in files.items()]
    return [{"role": "assistant", "content": "\n".join([explanation, "", *blocks]).strip() + "\n"}]


def whole_app_messages(generation: Generation) -> list[dict]:
    """The generation's app as one assistant answer: its explanation, then every file whole."""
    return app_messages(generation.explanation, generation.app_version.files())


def request_context(generation: Generation) -> list[dict]:
    """The messages the model was given for the answer that produced this generation's version: its own
    request; for a restore, the request of the answer it brought back; for a hand edit, the request of
    the answer it edited."""
    answer = model_answer(generation)
    return answer.request_messages if answer is not None else []


def model_answer(generation: Generation) -> Generation | None:
    """The model's answer behind a generation: itself, or the one a restore brought back or a hand edit
    started from (followed through chains of them); None when the chain ends without one."""
    for _ in range(CONTEXT_CHAIN_LIMIT):
        if generation.kind not in USER_KINDS:
            return generation
        if generation.kind == Generation.Kind.EDIT:
            source = generation.turn.base_version
        else:
            source = (
                AppVersion.objects.filter(
                    digest=generation.app_version.digest,
                    project=generation.turn.project_id,
                    id__lt=generation.app_version_id,
                )
                .order_by("-id")
                .first()
            )
        origin = source.generations.order_by("id").first() if source else None
        if origin is None:
            return None
        generation = origin
    return None
