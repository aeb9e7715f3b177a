"""Running one generation: stream from the model, parse as tokens arrive, publish frames, store the
result as an AppVersion and hand it to the sandbox for a build."""

import logging
import time

import openai
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from builder.versions import create_version
from generation.backends import backend_for
from generation.models import Generation
from generation.protocol import StreamParser, event_to_frame
from generation.streaming import append_event, expire
from sandbox.previews import request_build

log = logging.getLogger(__name__)

MODEL_UNREACHABLE = "The model server could not be reached ({detail}). Nothing was lost: try again."
MODEL_ERROR = "The model server answered with an error: {detail}"
CUT_OFF = "The response was cut off by the length limit before the app was complete; nothing was kept."
NO_FILES = "The model answered without writing any files, so there is nothing to build."
PROTOCOL_FAILED = "The model's output broke Kiln's file protocol: {detail}"


class FramePublisher:
    """Coalesces frames for GENERATION_COALESCE_MS: consecutive text or same-file chunks become one
    frame, so a fast model costs a few Redis writes per second instead of one per token."""

    def __init__(self, stream_key: str):
        self.stream_key = stream_key
        self.pending: list[dict] = []
        self.window_s = settings.GENERATION_COALESCE_MS / 1000
        self.last_flush = time.monotonic()

    def add(self, frame: dict) -> None:
        last = self.pending[-1] if self.pending else None
        mergeable = frame["type"] in ("text", "file_delta")
        if mergeable and last and last["type"] == frame["type"] and last.get("path") == frame.get("path"):
            last["text"] += frame["text"]
        else:
            self.pending.append(dict(frame))
        if not mergeable or time.monotonic() - self.last_flush >= self.window_s:
            self.flush()

    def flush(self) -> None:
        for frame in self.pending:
            append_event(self.stream_key, frame)
        self.pending.clear()
        self.last_flush = time.monotonic()


def claim(generation_id: int) -> bool:
    """Atomically move a queued generation to running; only one worker ever wins."""
    return bool(
        Generation.objects.filter(id=generation_id, status=Generation.Status.QUEUED).update(
            status=Generation.Status.RUNNING, started_at=timezone.now()
        )
    )


def run_generation(generation_id: int) -> None:
    """Stream one generation to the end. Guarantees: the generation ends done or failed with a
    user-facing error; an AppVersion is created only from whole files of a complete response."""
    if not claim(generation_id):
        return
    generation = Generation.objects.select_related("turn__project", "turn__base_version", "model_version").get(
        id=generation_id
    )
    publisher = FramePublisher(generation.stream_key)
    publisher.add({"type": "status", "status": "running", "model": generation.model_version.name})
    parser = StreamParser()
    raw_parts: list[str] = []
    started = time.monotonic()
    first_token_at = None
    try:
        stream = backend_for(generation.model_version).stream(generation.request_messages, seed=generation.seed)
        for text in stream:
            if first_token_at is None:
                first_token_at = time.monotonic()
            raw_parts.append(text)
            for event in parser.feed(text):
                publisher.add(event_to_frame(event))
        for event in parser.finish(stream.result.finish_reason):
            publisher.add(event_to_frame(event))
    except openai.APIConnectionError as exc:
        return _fail(generation, publisher, MODEL_UNREACHABLE.format(detail=exc.__class__.__name__))
    except openai.APIError as exc:
        return _fail(generation, publisher, MODEL_ERROR.format(detail=exc.message))

    generation.raw_output = "".join(raw_parts)
    generation.explanation = parser.explanation
    generation.finish_reason = stream.result.finish_reason or ""
    generation.prompt_tokens = stream.result.prompt_tokens
    generation.completion_tokens = stream.result.completion_tokens
    generation.protocol_errors = [{"message": i.message, "path": i.path} for i in parser.issues]
    generation.duration_ms = int((time.monotonic() - started) * 1000)
    if first_token_at is not None:
        generation.time_to_first_token_ms = int((first_token_at - started) * 1000)

    if generation.finish_reason == "length":
        return _fail(generation, publisher, CUT_OFF)
    if parser.issues and not parser.files:
        return _fail(generation, publisher, PROTOCOL_FAILED.format(detail=parser.issues[0].message))
    if not parser.files:
        return _fail(generation, publisher, NO_FILES)
    _complete(generation, publisher, parser.files)


def _complete(generation: Generation, publisher: FramePublisher, files: dict[str, str]) -> None:
    turn = generation.turn
    base_files = turn.base_version.files() if turn.base_version else {}
    with transaction.atomic():
        version = create_version(project=turn.project, files={**base_files, **files}, parent=turn.base_version)
        generation.app_version = version
        generation.status = Generation.Status.DONE
        generation.finished_at = timezone.now()
        generation.save()
    publisher.add({"type": "done", "version": version.id, "files": sorted(version.manifest)})
    publisher.flush()
    request_build(app_version=version, stream_key=generation.stream_key)
    expire(generation.stream_key)


def _fail(generation: Generation, publisher: FramePublisher, message: str) -> None:
    log.info("generation %s failed: %s", generation.id, message)
    generation.status = Generation.Status.FAILED
    generation.error = message
    generation.finished_at = timezone.now()
    generation.save()
    publisher.add({"type": "failed", "message": message})
    publisher.flush()
    expire(generation.stream_key)
