"""The frames contract: every message a browser receives on a project's websocket is built here.

Two layers (docs/frames.md has the table of kinds, their fields and who sends each):

- *stream frames* (`kind`): what happened to one generation — the model's text and file events, its
  status, its end, its build's steps, repairs. They are appended to the generation's Redis Stream by
  `generation.runs` (model side) and `builder.pipeline` (everything after the model), numbered there,
  and forwarded by the consumer inside a `frame` message.
- *socket messages* (`type`): what the consumer itself says — the project's state on connect, one
  generation's state, an error, a prompt taken.

Whether a generation's stream or a build is *final* is decided here, once (`is_last`,
`build_is_final`), so the live stream and the state sent on connect never disagree.
"""

from generation.protocol import (
    EditApplied,
    Event,
    FileCompleted,
    FileDeleted,
    FileDelta,
    FileStarted,
    ProtocolIssue,
    TextDelta,
)

# Stream frame kinds, by who appends them.
MODEL_KINDS = ("text", "file_start", "file_delta", "file_done", "edit", "file_delete", "protocol_error")
RUN_KINDS = ("status", "reset", "failed", "cancelled")  # generation.runs
PIPELINE_KINDS = ("done", "build", "repair", "repair_gave_up")  # builder.pipeline
STREAM_KINDS = MODEL_KINDS + RUN_KINDS + PIPELINE_KINDS
# Socket message types (builder.consumers).
SOCKET_TYPES = ("state", "generation", "frame", "error", "prompt_accepted", "turns")

# Smoke verdicts on a Build (sandbox.models.Build.smoke_status): everything but "pending" ends it.
SMOKE_PENDING = "pending"


# --- stream frames -----------------------------------------------------------------------------------


def from_parser_event(event: Event) -> dict:
    """The frame for a parser event (text, file started / growing / done, edit, delete, issue)."""
    if isinstance(event, TextDelta):
        return {"type": "text", "text": event.text}
    if isinstance(event, FileStarted):
        return {"type": "file_start", "path": event.path}
    if isinstance(event, FileDelta):
        return {"type": "file_delta", "path": event.path, "text": event.text}
    if isinstance(event, FileCompleted):
        return {"type": "file_done", "path": event.path, "size": len(event.content.encode("utf-8"))}
    if isinstance(event, EditApplied):
        return {"type": "edit", "path": event.path, "diff": event.diff}
    if isinstance(event, FileDeleted):
        return {"type": "file_delete", "path": event.path}
    if isinstance(event, ProtocolIssue):
        return {"type": "protocol_error", "message": event.message, "path": event.path, "kind": event.kind,
                "fatal": event.fatal}
    raise TypeError(f"not a protocol event: {event!r}")


def status(state: str, *, model: str = "", message: str = "", position: int | None = None) -> dict:
    """running / queued / waiting; `position` is the user's place among their own waiting prompts."""
    frame = {"type": "status", "status": state, "message": message}
    if model:
        frame["model"] = model
    if position is not None:
        frame["position"] = position
    return frame


def reset(*, attempt: int, message: str) -> dict:
    """A new attempt starts over: the browser drops what the earlier attempt wrote."""
    return {"type": "reset", "attempt": attempt, "message": message}


def failed(message: str) -> dict:
    return {"type": "failed", "message": message}


def cancelled(message: str) -> dict:
    return {"type": "cancelled", "message": message}


def done(*, version_id: int, paths: list[str]) -> dict:
    """The answer is stored as a version (its files are fetched by the state message that follows)."""
    return {"type": "done", "version": version_id, "files": sorted(paths)}


def build_is_final(*, status: str, smoke_status: str) -> bool:
    """A build's story is over when it failed or was stopped, or its smoke verdict is in (passed,
    failed, not scored, skipped)."""
    return status in ("failed", "stopped") or smoke_status != SMOKE_PENDING


def build(*, build_id: int, status: str, smoke_status: str, step: str, message: str = "", **extra) -> dict:
    """One step of a build as it happens; `final` on the last one (see build_is_final)."""
    return {"type": "build", "build": build_id, "status": status, "step": step, "message": message, **extra,
            "final": build_is_final(status=status, smoke_status=smoke_status)}


def repair(*, repair_id: int, attempt: int, message: str) -> dict:
    return {"type": "repair", "repair": repair_id, "attempt": attempt, "message": message}


def repair_gave_up(message: str) -> dict:
    return {"type": "repair_gave_up", "message": message}


def is_last(frame: dict) -> bool:
    """The last frame of a generation's stream: it failed, was cancelled, or its build is final."""
    return frame.get("type") in ("failed", "cancelled") or bool(frame.get("final"))


# --- socket messages ---------------------------------------------------------------------------------


def socket_frame(frame: dict, *, generation_id: int) -> dict:
    return {**frame, "type": "frame", "kind": frame["type"], "generation": generation_id}


def socket_state(state: dict) -> dict:
    """The project's state, the first message a socket gets (bounded: builder.selectors.project_state)."""
    return {**state, "type": "state"}


def socket_generation(state: dict, *, select: bool = False) -> dict:
    return {"type": "generation", "generation": state, "select": select}


def socket_error(message: str, *, ref: str | None = None) -> dict:
    return {"type": "error", "message": message, **({"ref": ref} if ref else {})}


def socket_prompt_accepted(*, ref: str | None, turn_id: int, waiting: int) -> dict:
    """The turn is stored: the browser may clear the prompt box. `waiting`: how many of the user's
    prompts wait for a free slot (fair use) including this one's generations."""
    return {"type": "prompt_accepted", "ref": ref, "turn": turn_id, "waiting": waiting}


def socket_turns(page: dict) -> dict:
    """Older turns, asked for by the browser."""
    return {**page, "type": "turns"}
