"""Reads for the builder: what a user may see, and the project state sent to a connecting browser.

The state a socket sends on connect is bounded whatever the project holds (Daphne closes a socket with
1011 on a message over 1 MiB, and the page could then never open): the latest turns with summaries of
their generations — text clipped, a version's files listed by path, size and SHA-256 but never their
content. Older turns, a turn in full and a file's content come over HTTP when the user asks for them
(builder.views), so the page opens in the same time for a project of 1,000 turns as for an empty one.
"""

import json
from collections import defaultdict

from django.db.models import Func, IntegerField
from django.http import Http404
from django.shortcuts import get_object_or_404
from django.urls import reverse

from builder.diffs import change_summary
from builder.models import AppVersion, Blob, Project, Turn
from generation import frames
from generation.models import Generation
from generation.streaming import last_seqs
from sandbox.access import preview_entry_url
from sandbox.models import Build

# What the first socket message holds. The byte limits are of the JSON text as it is sent (non-ASCII
# escaped), so with these a state stays under STATE_MAX_BYTES however long or exotic the texts are:
# at most GENERATIONS_PER_TURN summaries of at most ~8 KB each for the newest turn, which is always sent.
STATE_MAX_BYTES = 64_000
STATE_TURNS = 8  # the newest turns sent on connect (screenfuls of chat), fewer if they fill the budget
TURNS_PAGE = 20  # older turns fetched over HTTP a page at a time
GENERATIONS_PER_TURN = 6  # two candidates with two repairs each; more (regenerations) come with the full turn
PROMPT_BYTES = 1_000
EXPLANATION_BYTES = 1_500
MESSAGE_BYTES = 500  # an error, a build's message, the smoke test's message
FILES_LIST_BYTES = 3_000  # of a version's file list; the rest is listed by the full turn
_SIZE_PLACEHOLDER = 9_999_999  # wider than any file's size, to reserve its room in the list


class ByteLength(Func):
    """UTF-8 bytes of a text column, counted by the database so the content is never loaded."""

    function = "OCTET_LENGTH"
    output_field = IntegerField()

    def as_sqlite(self, compiler, connection, **extra):
        return self.as_sql(compiler, connection, template="LENGTH(CAST(%(expressions)s AS BLOB))", **extra)


def json_size(value) -> int:
    """Bytes of `value` as a websocket message carries it (channels' json.dumps, non-ASCII escaped)."""
    return len(json.dumps(value))


def clip(text: str, limit: int | None) -> tuple[str, bool]:
    """The longest prefix of `text` whose JSON encoding fits in `limit` bytes, and whether it was cut."""
    if limit is None or json_size(text) - 2 <= limit:
        return text, False
    # Every character takes at least one byte, and the encoded length only grows with the prefix.
    low, high = 0, min(len(text), limit)
    while low < high:
        middle = (low + high + 1) // 2
        if json_size(text[:middle]) - 2 <= limit:
            low = middle
        else:
            high = middle - 1
    return text[:low], True


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


def turn_for(user, project_id, turn_id) -> Turn:
    return get_object_or_404(Turn, pk=turn_id, project_id=project_id, project__owner=user)


def blob_for(user, project_id, version_id, sha256) -> Blob:
    """A file's content, if it belongs to a version of the user's project; 404 otherwise, the same for
    another user's blob as for a missing one (a content hash alone never grants access)."""
    version = get_object_or_404(AppVersion, pk=version_id, project_id=project_id, project__owner=user)
    if sha256 not in version.manifest.values():
        raise Http404("No such file in this version.")
    return get_object_or_404(Blob, pk=sha256)


def build_state(build: Build | None, user, *, message_bytes: int | None = None) -> dict | None:
    if build is None:
        return None
    return {
        "id": build.id,
        "status": build.status,
        "message": clip(build.error, message_bytes)[0],
        "preview_url": preview_entry_url(build, user) if build.status == Build.Status.READY else None,
        "smoke_passed": build.smoke_passed,
        "smoke_message": clip(build.smoke_message, message_bytes)[0],
        "screenshot_url": reverse("build_screenshot", args=[build.id]) if build.screenshot else None,
        "smoke_status": build.smoke_status,
        "final": frames.build_is_final(status=build.status, smoke_status=build.smoke_status),
    }


def build_for(user, build_id) -> Build:
    """A build of one of the user's projects (any project for staff, who review feedback)."""
    builds = Build.objects.select_related("app_version__project")
    if not user.is_staff:
        builds = builds.filter(app_version__project__owner=user)
    return get_object_or_404(builds, pk=build_id)


def _listed_paths(manifest: dict[str, str], limit: int | None) -> list[str]:
    """The version's paths, sorted, as many as fit in `limit` bytes of file list."""
    paths = sorted(manifest)
    if limit is None:
        return paths
    listed, used = [], 2
    for path in paths:
        used += json_size({"path": path, "size": _SIZE_PLACEHOLDER, "sha256": manifest[path]}) + 2
        if used > limit:
            break
        listed.append(path)
    return listed


def _generation_summaries(generation_ids: list[int], user, *, full: bool = False) -> dict[int, dict]:
    """Summaries of these generations by id: state and build, a clipped explanation, and the version's
    files by path, size and hash (their content comes over HTTP). `full` lifts every limit."""
    # Read the stream positions before the database, so no frame can fall between the two. A finished
    # generation's text and files come from the database (the browser then takes only build frames
    # after `seq`); an unfinished one is replayed from its first frame.
    stream_keys = {pk: Generation(pk=pk).stream_key for pk in generation_ids}
    seqs = last_seqs(list(stream_keys.values()))
    generations = list(
        Generation.objects.filter(pk__in=generation_ids)
        .select_related("model_version", "app_version")
        .prefetch_related("feedback")
        # What was sent to the model (the app's prior files) and its raw answer weigh megabytes a row.
        .defer("request_messages", "raw_output", "protocol_errors")
    )
    versions = {g.app_version_id: g.app_version for g in generations if g.app_version_id}
    # Each version's parent manifest, for what it changed (the chat's line under a turn).
    parents = dict(AppVersion.objects.filter(pk__in={v.parent_id for v in versions.values() if v.parent_id})
                   .values_list("id", "manifest"))
    latest_builds: dict[int, Build] = {}
    builds = Build.objects.filter(app_version__in=list(versions)).defer("log", "timings", "scores")
    for build in builds.order_by("-created_at", "-id"):
        latest_builds.setdefault(build.app_version_id, build)
    listed = {pk: _listed_paths(v.manifest, None if full else FILES_LIST_BYTES) for pk, v in versions.items()}
    shas = {versions[pk].manifest[path] for pk, paths in listed.items() for path in paths}
    sizes = dict(Blob.objects.filter(pk__in=shas).annotate(size=ByteLength("content")).values_list("sha256", "size"))

    def text(value: str, limit: int) -> tuple[str, bool]:
        return clip(value, None if full else limit)

    # Which model wrote a candidate of a comparison is the compare view's to reveal (blind mode,
    # builder.compare), after the vote: the socket never carries it, where developer tools would show it.
    compare_turns = set(Turn.objects.filter(id__in={g.turn_id for g in generations}, compare=True)
                        .values_list("id", flat=True))
    summaries = {}
    for g in generations:
        version = g.app_version
        explanation, explanation_cut = text(g.explanation, EXPLANATION_BYTES)
        verdicts = [f.verdict for f in g.feedback.all()]
        summaries[g.id] = {
            "id": g.id,
            "seq": seqs[stream_keys[g.id]] if g.status in Generation.FINAL_STATUSES else 0,
            "turn": g.turn_id,
            "candidate": g.candidate,
            "kind": g.kind,
            "seed": g.seed,  # with the model version, enough to reproduce this candidate
            "status": g.status,
            "model": None if g.turn_id in compare_turns else g.model_version.name,
            "explanation": explanation,
            "explanation_truncated": explanation_cut,
            "error": text(g.error, MESSAGE_BYTES)[0],
            "version": version.id if version else None,
            "files": [
                {"path": path, "size": sizes[version.manifest[path]], "sha256": version.manifest[path]}
                for path in listed[version.id]
            ] if version else [],
            "file_count": len(version.manifest) if version else 0,
            "changes": change_summary(parents.get(version.parent_id), version.manifest) if version else None,
            "build": build_state(latest_builds.get(version.id) if version else None, user,
                                 message_bytes=None if full else MESSAGE_BYTES),
            "verdict": verdicts[0] if verdicts else None,
        }
    return summaries


def _turn_summaries(turns: list[Turn], user, *, full: bool = False) -> list[dict]:
    """Each turn with its newest GENERATIONS_PER_TURN generations (all of them when `full`)."""
    generation_ids = defaultdict(list)
    rows = Generation.objects.filter(turn__in=turns).order_by("created_at", "id").values_list("id", "turn_id")
    for pk, turn_id in rows:
        generation_ids[turn_id].append(pk)
    shown = {t.id: generation_ids[t.id] if full else generation_ids[t.id][-GENERATIONS_PER_TURN:] for t in turns}
    summaries = _generation_summaries([pk for ids in shown.values() for pk in ids], user, full=full)
    result = []
    for turn in turns:
        prompt, prompt_cut = clip(turn.prompt, None if full else PROMPT_BYTES)
        result.append({
            "id": turn.id,
            "prompt": prompt,
            "prompt_truncated": prompt_cut,
            "generation_count": len(generation_ids[turn.id]),
            "generations": [summaries[pk] for pk in shown[turn.id] if pk in summaries],
        })
    return result


def generation_state(generation: Generation, user) -> dict:
    """One generation's summary, as live updates send it (after `done` and a build's final frame):
    bounded like the project state, its files listed, their content fetched over HTTP."""
    state = _generation_summaries([generation.pk], user)[generation.pk]
    prompt = Turn.objects.values_list("prompt", flat=True).get(pk=state["turn"])
    state["prompt"], state["prompt_truncated"] = clip(prompt, PROMPT_BYTES)
    return state


def new_generation_state(generation: Generation) -> dict:
    """The state of a generation just created in this request, built from the objects in hand with no
    query, so the browser hears of it (and starts receiving its frames) at once."""
    prompt, prompt_cut = clip(generation.turn.prompt, PROMPT_BYTES)
    return {
        "id": generation.id, "seq": 0, "turn": generation.turn_id, "prompt": prompt, "prompt_truncated": prompt_cut,
        "candidate": generation.candidate, "kind": generation.kind, "seed": generation.seed,
        "status": generation.status, "model": None if generation.turn.compare else generation.model_version.name,
        "explanation": "",
        "explanation_truncated": False, "error": "", "version": None, "files": [], "file_count": 0, "changes": None,
        "build": None,
        "verdict": None,
    }


def project_state(project: Project, user) -> dict:
    """The first message of a project's socket: the newest turns that fit in STATE_MAX_BYTES (at least
    the newest one), and how many earlier turns there are to fetch with `turns_before`."""
    state = {"type": "state", "project": {"id": project.id, "name": project.name}, "turns": [], "earlier_turns": 0}
    size = json_size(state) + 20  # and room for the count of earlier turns
    newest = list(project.turns.order_by("-id")[:STATE_TURNS])
    for summary in _turn_summaries(newest, user):
        size += json_size(summary) + 2
        if state["turns"] and size > STATE_MAX_BYTES:
            break
        state["turns"].append(summary)
    state["turns"].reverse()
    if state["turns"]:
        state["earlier_turns"] = project.turns.filter(pk__lt=state["turns"][0]["id"]).count()
    return state


def turns_before(project: Project, user, before: int) -> dict:
    """A page of the turns older than turn `before`, oldest first, and how many remain before them."""
    turns = list(project.turns.filter(pk__lt=before).order_by("-id")[:TURNS_PAGE])
    earlier = project.turns.filter(pk__lt=turns[-1].id).count() if turns else 0
    return {"turns": _turn_summaries(turns, user)[::-1], "earlier_turns": earlier}


def turn_in_full(turn: Turn, user) -> dict:
    """One turn with every generation, whole texts and complete file lists: what "show all" asks for."""
    return _turn_summaries([turn], user, full=True)[0]
