"""Running one generation: stream from the model, parse as tokens arrive, publish frames, and end the
generation done (with the parsed files), failed or cancelled. What happens to the files next is the
turn pipeline's (builder.pipeline): this room imports nothing of builder's or the sandbox's."""

import logging
import threading
import time
from dataclasses import dataclass
from functools import lru_cache

from django.conf import settings
from django.db.models import F
from django.utils import timezone

from config.leases import LeaseHeld
from generation import claims, frames, protocol, specs
from generation.backends import ModelError, ModelUnreachable, backend_for
from generation.models import Generation, OutputDefect
from generation.prompts import REQUEST_HEADING, spec_messages
from generation.protocol import StreamParser
from generation.streaming import background_appender, expire

log = logging.getLogger(__name__)

MODEL_UNREACHABLE = "The model server could not be reached ({detail}). Nothing was lost: try again."
MODEL_ERROR = "The model server answered with an error: {detail}"
CUT_OFF = "The response was cut off by the length limit before the app was complete; nothing was kept."
NO_FILES = "The model answered without writing any files, so there is nothing to build."
PROTOCOL_FAILED = "The model's output broke Kiln's file protocol: {detail}"
CANCELLED = "Stopped. The partial files were not kept; your last version is unchanged."
TOO_SLOW = (
    "The model was still writing after {limit:g} seconds, so Kiln stopped it. The partial files were not "
    "kept; your last version is unchanged. Try a smaller request."
)
RESTARTED = "The worker running this generation stopped; starting it again from the beginning."
REQUEUED = "The worker running this generation stopped. It starts again from the beginning as soon as a worker is free."
WORKER_LOST = (
    "The worker running this generation stopped ({attempts} attempt(s)) and it could not finish. "
    "Nothing else was lost: send the prompt again."
)

STOPPED_READING = "[Kiln stopped reading this answer at its first fatal protocol error; the rest was not read.]"

MAX_ATTEMPTS = 2
CHECK_EVERY_S = 0.5  # how often a streaming run looks for a cancel request and its time limit
STUCK_AFTER_S = 60


class FramePublisher:
    """Coalesces frames: consecutive text or same-file chunks become one frame, written at most every
    GENERATION_COALESCE_MS, so a fast model costs a few Redis writes per second instead of one per
    token. A frame held back to merge with what follows is written by the process's `_Flusher` when
    its time is up, so it never waits for the model's next token (which may be far off).

    Text and file chunks are handed to the process's background appender and not waited for (the
    generation thread goes back to reading the model); any other frame (status, failed, cancelled…)
    and `flush()` wait until everything this publisher handed over is in Redis, so what is written
    after them (the database, the pipeline's own frames) comes after them, and a Redis failure raises
    here, in the generation's thread.

    Each frame carries `t`: the wall-clock time its first piece arrived from the model, so a client
    (and bench/stream_overhead.py) can tell exactly how long Kiln's path took to deliver it."""

    def __init__(self, stream_key: str):
        self.stream_key = stream_key
        self.pending: list[dict] = []
        self.window_s = settings.GENERATION_COALESCE_MS / 1000
        self.last_flush = 0.0
        self.last_ticket = 0
        self.lock = threading.Lock()  # the generation's thread and the flusher's

    def add(self, frame: dict, *, arrived_at: float | None = None) -> None:
        with self.lock:
            last = self.pending[-1] if self.pending else None
            mergeable = frame["type"] in ("text", "file_delta")
            if mergeable and last and last["type"] == frame["type"] and last.get("path") == frame.get("path"):
                last["text"] += frame["text"]
            else:
                self.pending.append({**frame, "t": round(arrived_at or time.time(), 4)})
            due_at = self.last_flush + self.window_s
            if mergeable and time.monotonic() < due_at:
                _flusher().flush_at(self, due_at)
                return
            self._hand_over()
        if not mergeable:
            self._wait()

    def flush(self, *, wait: bool = True) -> None:
        with self.lock:
            self._hand_over()
        if wait:
            self._wait()

    def _hand_over(self) -> None:
        if self.pending:
            self.last_ticket = background_appender().submit(self.stream_key, self.pending)
            self.pending = []
            self.last_flush = time.monotonic()

    def _wait(self) -> None:
        if self.last_ticket:
            background_appender().wait(self.stream_key, self.last_ticket)


class _Flusher:
    """One thread per worker process that hands held-back frames over when their time is up."""

    def __init__(self):
        self.due: dict[FramePublisher, float] = {}
        self.changed = threading.Condition()
        threading.Thread(target=self._run, name="frame-flusher", daemon=True).start()

    def flush_at(self, publisher: FramePublisher, due_at: float) -> None:
        with self.changed:
            if publisher not in self.due:
                self.due[publisher] = due_at
                self.changed.notify()

    def _run(self) -> None:
        while True:
            with self.changed:
                while not self.due:
                    self.changed.wait()
                now = time.monotonic()
                ready = [p for p, due_at in self.due.items() if due_at <= now]
                if not ready:
                    self.changed.wait(min(self.due.values()) - now)
                    continue
                for publisher in ready:
                    del self.due[publisher]
            for publisher in ready:
                publisher.flush(wait=False)  # a no-op when its own thread got there first


@lru_cache(maxsize=1)
def _flusher() -> _Flusher:
    return _Flusher()


@dataclass
class RunResult:
    """A generation this run ended, and its files when it ended done."""

    generation: Generation
    files: dict[str, str] | None = None


def claim(generation_id: int) -> Generation | None:
    """Take a generation for this worker, or return None when there is nothing to do.

    Exactly one worker streams a generation at a time: the Redis lease is the lock, and the status /
    attempts compare-and-set makes a second delivery of a finished generation a no-op. A generation
    whose worker died (status still running, lease expired) is taken over as a new attempt, at most
    MAX_ATTEMPTS times; then it fails with a clear message instead of looping.
    """
    if not claims.acquire(generation_id):
        raise LeaseHeld(claims.lease_remaining_ms(generation_id) / 1000 + 0.5)
    generation = Generation.objects.filter(id=generation_id).first()
    open_statuses = (Generation.Status.QUEUED, Generation.Status.RUNNING)
    if generation is None or generation.status not in open_statuses:
        claims.release(generation_id)
        return None
    if generation.attempts >= MAX_ATTEMPTS:
        _fail(generation, FramePublisher(generation.stream_key), WORKER_LOST.format(attempts=generation.attempts))
        claims.release(generation_id)
        return None
    taken = Generation.objects.filter(id=generation_id, attempts=generation.attempts, status__in=open_statuses).update(
        status=Generation.Status.RUNNING, attempts=F("attempts") + 1, started_at=timezone.now()
    )
    if not taken:
        claims.release(generation_id)
        return None
    return Generation.objects.select_related(
        "turn__project", "turn__base_version", "model_version", "repair_of__app_version"
    ).get(
        id=generation_id
    )


def run_generation(generation_id: int) -> RunResult | None:
    """Stream one generation to the end; None when there was nothing to do (another worker has it,
    or it already ended). Guarantees: the generation ends done, failed or cancelled with a
    user-facing message; it ends done only with whole files of a complete response, which the
    result carries; a retried attempt tells the browser to start over (its frames keep their
    numbers)."""
    generation = claim(generation_id)
    if generation is None:
        return None
    try:
        with claims.keep_alive(generation_id):
            files = _stream(generation)
    finally:
        claims.release(generation_id)
    return RunResult(generation, files)


def _stream(generation: Generation) -> dict[str, str] | None:
    publisher = FramePublisher(generation.stream_key)
    if generation.attempts > 1:
        publisher.add(frames.reset(attempt=generation.attempts, message=RESTARTED))
    # A comparison's candidates stay anonymous on the socket (blind mode: builder.compare reveals them).
    publisher.add(frames.status("running", model="" if generation.turn.compare else generation.model_version.name))
    base = base_version(generation)
    parser = StreamParser(base_files=base.files() if base else {})
    if generation.model_version.writes_spec:
        generation.request_messages = spec_request(generation)
        Generation.objects.filter(id=generation.id).update(request_messages=generation.request_messages)
    raw_parts: list[str] = []
    started = time.monotonic()
    first_token_at = None
    next_check = started + CHECK_EVERY_S
    stopped_early = False
    try:
        stream = backend_for(generation.model_version).stream(generation.request_messages, seed=generation.seed)
        for text in stream:
            arrived_at = time.time()
            now = time.monotonic()
            if first_token_at is None:
                first_token_at = now
            if now >= next_check:
                next_check = now + CHECK_EVERY_S
                if claims.cancel_requested(generation.id):
                    stream.close()
                    return _cancel(generation, publisher)
                if now - started > settings.GENERATION_MAX_S:
                    stream.close()
                    return _fail(generation, publisher, TOO_SLOW.format(limit=settings.GENERATION_MAX_S))
            raw_parts.append(text)
            for event in parser.feed(text):
                publisher.add(frames.from_parser_event(event), arrived_at=arrived_at)
            if parser.has_fatal:  # the answer can no longer become a version: stop reading it
                stream.close()
                stopped_early = True
                break
        else:
            for event in parser.finish(stream.result.finish_reason):
                publisher.add(frames.from_parser_event(event))
        publisher.flush()  # the last text reaches the browser now, not after the database writes below
    except ModelUnreachable as exc:
        return _fail(generation, publisher, MODEL_UNREACHABLE.format(detail=exc))
    except ModelError as exc:
        return _fail(generation, publisher, MODEL_ERROR.format(detail=exc))

    raw_output, cut_note = protocol.bounded_raw_output("".join(raw_parts))
    if stopped_early and not cut_note:
        cut_note = STOPPED_READING
    generation.raw_output = f"{raw_output}\n{cut_note}" if cut_note else raw_output
    generation.explanation = parser.explanation
    generation.finish_reason = stream.result.finish_reason or ""
    generation.prompt_tokens = stream.result.prompt_tokens
    generation.completion_tokens = stream.result.completion_tokens
    generation.protocol_errors = [
        {"kind": i.kind, "message": i.message, "path": i.path, "fatal": i.fatal} for i in parser.issues
    ]
    generation.duration_ms = int((time.monotonic() - started) * 1000)
    if first_token_at is not None:
        generation.time_to_first_token_ms = int((first_token_at - started) * 1000)

    record_defects(generation, parser)
    if generation.finish_reason == "length":
        return _fail(generation, publisher, CUT_OFF)
    if parser.has_fatal:
        fatal = parser.fatal_issues
        more = f" (and {len(fatal) - 1} more)" if len(fatal) > 1 else ""
        return _fail(generation, publisher, PROTOCOL_FAILED.format(detail=fatal[0].message + more))
    if not parser.changed_paths:
        return _fail(generation, publisher, NO_FILES)
    files = parser.result_files()
    if generation.model_version.writes_spec:
        files, problem = _expanded(generation, files, parser.changed_paths)
        if problem:
            OutputDefect.objects.create(generation=generation, kind=OutputDefect.Kind.PROTOCOL, message=problem,
                                        path="app.json")
            return _fail(generation, publisher, problem)
    generation.status = Generation.Status.DONE
    generation.finished_at = timezone.now()
    generation.save()
    publisher.flush()
    return files


def spec_request(generation: Generation) -> list[dict]:
    """What a spec-mode version is sent (prompts.spec_messages): the request and, on top of an app, its
    current app.json alone; no history (Kiln's own small models have a 1,024-token context). A repair
    asks with the repair request that builder.repairs stored."""
    base = base_version(generation)
    app_json = base.files().get("app.json") if base else None
    request = generation.turn.prompt
    if generation.repair_of_id and generation.request_messages:
        last = generation.request_messages[-1].get("content") or ""
        request = last.rsplit(REQUEST_HEADING, 1)[-1].strip() or request
    return spec_messages(request, app_json=app_json)


def _expanded(generation: Generation, files: dict[str, str], changed) -> tuple[dict[str, str] | None, str]:
    """A spec-mode answer's files: the whole app its app.json implies (generation.specs), or the
    user-facing reason there is none."""
    if "app.json" not in changed:
        return None, specs.SPEC_MISSING
    app = specs.expand_spec({"app.json": files["app.json"]}, seed=generation.seed)
    return (app, "") if app is not None else (None, specs.SPEC_INVALID)


def answer_files(generation: Generation) -> dict[str, str]:
    """The files of a generation that ended done, parsed again from its stored answer (for a
    pipeline step whose worker died after the answer and before its version)."""
    base = base_version(generation)
    parsed = protocol.parse(generation.raw_output, generation.finish_reason or None,
                            base_files=base.files() if base else {})
    files = parsed.result_files()
    if generation.model_version.writes_spec:
        files = _expanded(generation, files, parsed.changed_paths)[0] or files
    return files


DEFECT_KINDS = {
    protocol.CUT_OFF: OutputDefect.Kind.CUT_OFF,
    protocol.LAZY_PLACEHOLDER: OutputDefect.Kind.LAZY_PLACEHOLDER,
    protocol.CODE_IN_CHAT: OutputDefect.Kind.CODE_IN_CHAT,
}


def record_defects(generation: Generation, parser: StreamParser) -> list[OutputDefect]:
    """Store what is wrong with the output as automatic negative examples (no user needed)."""
    defects = [
        OutputDefect(generation=generation, kind=DEFECT_KINDS.get(issue.kind, OutputDefect.Kind.PROTOCOL),
                     message=issue.message, path=issue.path or "")
        for issue in parser.issues
    ]
    if generation.finish_reason == "length" and not any(d.kind == OutputDefect.Kind.CUT_OFF for d in defects):
        defects.append(OutputDefect(generation=generation, kind=OutputDefect.Kind.CUT_OFF, message=CUT_OFF))
    if not parser.changed_paths and generation.finish_reason != "length":
        defects.append(OutputDefect(generation=generation, kind=OutputDefect.Kind.NO_FILES, message=NO_FILES))
    return OutputDefect.objects.bulk_create(defects)


def request_cancel(generation: Generation) -> bool:
    """Ask to stop a generation. A queued one stops at once; a running one within a second or so
    (its worker closes the model request). Returns False when it had already finished."""
    Generation.objects.filter(id=generation.id, cancel_requested_at=None).update(cancel_requested_at=timezone.now())
    not_started = (Generation.Status.WAITING, Generation.Status.QUEUED)
    stopped_before_start = Generation.objects.filter(id=generation.id, status__in=not_started).update(
        status=Generation.Status.CANCELLED, finished_at=timezone.now(), error=CANCELLED
    )
    if stopped_before_start:
        publisher = FramePublisher(generation.stream_key)
        publisher.add(frames.cancelled(CANCELLED))
        publisher.flush()
        return True
    claims.request_cancel(generation.id)
    return Generation.objects.filter(id=generation.id, status=Generation.Status.RUNNING).exists()


def _cancel(generation: Generation, publisher: FramePublisher) -> None:
    generation.status = Generation.Status.CANCELLED
    generation.error = CANCELLED
    generation.finished_at = timezone.now()
    generation.save(update_fields=["status", "error", "finished_at"])
    publisher.add(frames.cancelled(CANCELLED))
    publisher.flush()
    expire(generation.stream_key)


def recover_stuck_generations(*, silent_for_s: float = STUCK_AFTER_S) -> dict[str, list[int]]:
    """For the pipeline's watchdog. A running generation with no lease holder and no heartbeat for
    `silent_for_s` lost its whole worker, so no pool will hand its task back: it is marked queued
    again while it has attempts left (returned in "requeued": the caller enqueues it; the next worker
    starts it over, with a `reset` frame), and failed with a clear message after that. Nothing stays
    "running" forever."""
    outcome = {"requeued": [], "failed": []}
    for generation in Generation.objects.filter(status=Generation.Status.RUNNING):
        silence = claims.seconds_since_heartbeat(generation.id)
        if claims.lease_holder(generation.id) is not None or (silence is not None and silence <= silent_for_s):
            continue
        publisher = FramePublisher(generation.stream_key)
        if generation.attempts < MAX_ATTEMPTS:
            taken = Generation.objects.filter(
                id=generation.id, status=Generation.Status.RUNNING, attempts=generation.attempts
            ).update(status=Generation.Status.QUEUED)
            if taken:
                publisher.add(frames.status("queued", message=REQUEUED))
                publisher.flush()
                outcome["requeued"].append(generation.id)
            continue
        message = WORKER_LOST.format(attempts=generation.attempts)
        taken = Generation.objects.filter(id=generation.id, status=Generation.Status.RUNNING).update(
            status=Generation.Status.FAILED, error=message, finished_at=timezone.now()
        )
        if taken:
            publisher.add(frames.failed(message))
            publisher.flush()
            outcome["failed"].append(generation.id)
    return outcome


def base_version(generation: Generation):
    """What the answer applies to: the failed version for a repair, else the turn's starting version."""
    return generation.repair_of.app_version if generation.repair_of_id else generation.turn.base_version


def _fail(generation: Generation, publisher: FramePublisher, message: str) -> None:
    log.info("generation %s failed: %s", generation.id, message)
    generation.status = Generation.Status.FAILED
    generation.error = message
    generation.finished_at = timezone.now()
    generation.save()
    publisher.add(frames.failed(message))
    publisher.flush()
    expire(generation.stream_key)
