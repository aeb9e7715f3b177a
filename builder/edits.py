"""Hand edits: the user changes a file in the page's code editor and saves it as a new version.

History is never rewritten: a save makes a *new* version (the edited version's files with that one file
changed), current like any new answer. Like a restore it gets a turn of its own ("Hand edit of
src/App.jsx") and a generation of kind `edit` that made no model call, whose version is the edited copy;
so the chat shows it, the page follows its build through its stream, and the preference data stays
between two generations. It enters the turn pipeline at `builder.pipeline.request_build`: built,
previewed and smoke-tested like any version, and never sent to the model for repair
(pipeline.after_build) unless the user asks (`ask_for_repair`).

What the user saves passes the same checks as a model's output: the file is written in the file
protocol and read back by `generation.protocol.StreamParser` (path rules, size, binary content, a line
that would end the block early), so every stored version can be written whole in the protocol, as its
preference pair's chosen completion is. A new file may only be created where an app's modules live.

Rows: `Feedback(verdict="edit")` on the edit's generation, and `PreferencePair(source="edit")`: chosen =
the edited app written whole (with the edited answer's explanation), rejected = the answer whose
version was edited, under the request that answer was given. training.mapping turns that pair into one
DPO row (edited > model's) and one SFT row (the request -> the edited app).
"""

from django.db import transaction

from builder import history, pipeline, repairs
from builder.models import AppVersion, Project
from builder.services import InvalidRequest
from feedback.models import Feedback, PreferencePair
from generation import frames, protocol
from generation.errors import ProtocolError
from generation.models import Generation
from generation.streaming import append_event
from sandbox.models import Build

EDIT_PROMPT = "Hand edit of {path}"
EDITED = "You edited {path} by hand, starting from version {number}. Kiln built it like any other version."
CREATED = "You made {path} by hand, starting from version {number}. Kiln built it like any other version."
NOTHING_CHANGED = "Nothing to save: the file is the same as in that version."
NOT_TEXT = "Send the file as text: a path and its content."
NOT_ROUND_TRIP = (
    "{path} cannot be stored exactly as written: a line that is exactly </file> would end it in Kiln's file "
    "format. Indent that line or write it another way."
)
NEW_FILE_PLACE = (
    "A new file can only be made under src/ as .js, .jsx, .css or .json (the app's modules); "
    "{path} is not one."
)
# Where the user may create a file: the modules esbuild bundles (docs/app-format.md).
NEW_FILE_FOLDER = "src/"
NEW_FILE_EXTENSIONS = (".js", ".jsx", ".css", ".json")
# A model's laziness ("rest unchanged") is not a fault of a person's own code: only that check is skipped.
USER_ISSUES_IGNORED = frozenset({protocol.LAZY_PLACEHOLDER})

NOT_AN_EDIT = "Only a hand edit's broken build is sent to the model on request; other answers are repaired on their own."
NOTHING_TO_REPAIR = "This version built and works: there is nothing for the model to fix."
STILL_BUILDING = "Wait for the build to finish first."
ALREADY_ASKED = "The model is already fixing this version."
REPAIR_ASKED = "You asked the model to fix your edit of {path}."


def checked_file(*, base: dict[str, str], path: str, content: str) -> tuple[str, str]:
    """(normalised path, content) when saving `content` at `path` over the `base` files is allowed; else
    InvalidRequest with the message the user sees (the protocol's own for a path or content it refuses)."""
    if not isinstance(path, str) or not isinstance(content, str):
        raise InvalidRequest(NOT_TEXT)
    try:
        path = protocol.normalise_path(path)
    except ProtocolError as exc:
        raise InvalidRequest(str(exc)) from exc
    if path not in base and not (path.startswith(NEW_FILE_FOLDER) and path.endswith(NEW_FILE_EXTENSIONS)):
        raise InvalidRequest(NEW_FILE_PLACE.format(path=path))
    parser = protocol.StreamParser(base)
    parser.feed(f'<file path="{path}">\n{content}\n</file>\n')
    parser.finish("stop")
    issues = [issue for issue in parser.fatal_issues if issue.kind not in USER_ISSUES_IGNORED]
    if issues:
        raise InvalidRequest(issues[0].message)
    written = parser.files.get(path)
    if written != content:  # whatever the parser read differently would not round-trip: refuse it
        raise InvalidRequest(NOT_ROUND_TRIP.format(path=path))
    if base.get(path) == content:
        raise InvalidRequest(NOTHING_CHANGED)
    return path, content


@transaction.atomic
def save_edit(*, user, project: Project, version: AppVersion, path: str, content: str) -> Generation:
    """Store `version`'s files with `path` set to `content` as a new version, make it current and build it.

    Guarantees: no existing version changes; the content passed the model output's checks
    (`checked_file`) or nothing is stored; an `edit` Feedback row is stored, and an `edit` PreferencePair
    orders the edited app over the answer whose version was edited (when a generation made it, which is
    every version Kiln stores).
    """
    files = version.files()
    path, content = checked_file(base=files, path=path, content=content)
    number = history.version_numbers(project)[version.id]
    edited = version.generations.order_by("id").first()  # the answer the user edited, if a model wrote it
    edit = history.record_without_model(
        project=project, kind=Generation.Kind.EDIT, prompt=EDIT_PROMPT.format(path=path), base_version=version,
        files={**files, path: content}, origin=version,
        explanation=(EDITED if path in files else CREATED).format(path=path, number=number),
    )
    copy = edit.app_version
    feedback = Feedback.objects.create(user=user, generation=edit, verdict=Feedback.Verdict.EDIT)
    if edited is not None:
        answer = history.model_answer(edited)
        history.record_user_pair(
            chosen=edit, rejected=edited, source=PreferencePair.Source.EDIT, feedback=feedback,
            # The answer's own words with the user's files: the completion the model should have written.
            chosen_messages=history.app_messages(answer.explanation if answer else "", copy.files()),
        )
    append_event(edit.stream_key, frames.done(version_id=copy.id, paths=list(copy.manifest)))
    pipeline.request_build(copy, stream_key=edit.stream_key)
    return edit


@transaction.atomic
def ask_for_repair(*, generation: Generation) -> Generation:
    """Send a hand edit whose build failed (or whose app broke in the browser) to the model to fix,
    once the user asks: a repair generation like the pipeline's own (`builder.repairs`), queued now."""
    if generation.kind != Generation.Kind.EDIT:
        raise InvalidRequest(NOT_AN_EDIT)
    build = Build.objects.filter(app_version=generation.app_version_id).order_by("-id").first()
    if build is None or build.status in (Build.Status.WAITING, Build.Status.QUEUED, Build.Status.BUILDING) or (
        build.status == Build.Status.READY and build.smoke_status == Build.Smoke.PENDING
    ):
        raise InvalidRequest(STILL_BUILDING)
    problem = repairs.problem_of(build)
    if problem is None:
        raise InvalidRequest(NOTHING_TO_REPAIR)
    if Generation.objects.filter(repair_of=build).exists():
        raise InvalidRequest(ALREADY_ASKED)
    repair = repairs.start_repair(generation=generation, build=build, problem=problem)
    pipeline.enqueue(pipeline.GENERATE, repair.id)
    return repair
