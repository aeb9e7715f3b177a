"""A generation run against the offline model server: what it stores, what it streams, how it fails."""

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from builder.models import Turn
from builder.pipeline import generate
from config import leases
from generation import claims
from generation.blueprint.server import split_tokens
from generation.models import Generation
from generation.runs import CUT_OFF, MAX_ATTEMPTS, WORKER_LOST, recover_stuck_generations
from generation.streaming import read_after, redis_client
from sandbox.models import Build
from tests.stack import free_port

pytestmark = pytest.mark.django_db

TODO_PROMPT = "a todo list where I can add, tick and delete tasks"


@pytest.fixture(scope="module")
def model_server():
    from generation.blueprint.server import start_in_thread

    server, base_url = start_in_thread(port=0)
    yield base_url
    server.shutdown()


@pytest.fixture
def queued_generation(queue_generation):
    return queue_generation(TODO_PROMPT, seed=7)


def test_a_comparison_candidates_stream_does_not_name_its_model(settings, model_server, queued_generation):
    """Blind mode: which version wrote a candidate is revealed by the compare view after the vote, so
    the stream a browser follows does not carry it; a plain turn's does."""
    settings.MODEL_BASE_URL = model_server
    Turn.objects.filter(id=queued_generation.turn_id).update(compare=True)

    generate(queued_generation.id)

    running = [f for f in read_after(queued_generation.stream_key) if f["type"] == "status" and f["status"] == "running"]
    assert running and all("model" not in frame for frame in running)


def test_a_finished_run_stores_a_version_and_queues_its_build(settings, model_server, queued_generation):
    settings.MODEL_BASE_URL = model_server

    generate(queued_generation.id)

    generation = Generation.objects.get(id=queued_generation.id)
    assert generation.status == "done", generation.error
    files = generation.app_version.files()
    assert {"app.json", "index.html", "src/main.jsx"} <= set(files)
    assert generation.explanation and "<file" not in generation.explanation
    assert generation.completion_tokens and generation.prompt_tokens
    assert generation.time_to_first_token_ms is not None and generation.duration_ms >= generation.time_to_first_token_ms
    assert Build.objects.get(app_version=generation.app_version).status == "queued"

    frames = read_after(generation.stream_key)
    assert [f["seq"] for f in frames] == list(range(1, len(frames) + 1))
    assert any(f["type"] == "status" and f.get("model") == generation.model_version.name for f in frames)
    kinds = [f["type"] for f in frames]
    assert kinds.index("file_start") < kinds.index("done") < kinds.index("build")
    streamed = "".join(f["text"] for f in frames if f["type"] == "file_delta" and f["path"] == "app.json")
    assert streamed == files["app.json"]


def test_a_second_run_of_the_same_generation_does_nothing(settings, model_server, queued_generation):
    settings.MODEL_BASE_URL = model_server
    generate(queued_generation.id)
    frames_after_first = len(read_after(queued_generation.stream_key))

    generate(queued_generation.id)

    assert len(read_after(queued_generation.stream_key)) == frames_after_first
    assert Build.objects.count() == 1


def test_a_response_cut_off_by_the_length_limit_is_not_kept(settings, model_server, queued_generation):
    settings.MODEL_BASE_URL = model_server
    settings.MODEL_MAX_TOKENS = 300

    generate(queued_generation.id)

    generation = Generation.objects.get(id=queued_generation.id)
    assert generation.status == "failed"
    assert generation.error == CUT_OFF
    assert generation.finish_reason == "length"
    assert generation.app_version is None
    last_frame = read_after(generation.stream_key)[-1]
    assert (last_frame["type"], last_frame["message"]) == ("failed", CUT_OFF)


def test_an_unreachable_model_fails_with_a_clear_message(settings, queued_generation):
    settings.MODEL_BASE_URL = f"http://127.0.0.1:{free_port()}/v1"

    generate(queued_generation.id)

    generation = Generation.objects.get(id=queued_generation.id)
    assert generation.status == "failed"
    assert generation.error == "The model server could not be reached (connection refused). Nothing was lost: try again."
    assert read_after(generation.stream_key)[-1]["type"] == "failed"


@pytest.fixture
def scripted_model(settings, model_server):
    """The model server answering with a fixed text (over the same streaming protocol)."""
    from generation.blueprint.server import start_in_thread

    server, base_url = start_in_thread(port=0)
    settings.MODEL_BASE_URL = base_url

    def answer(text):
        server.respond = lambda messages, seed=None: text

    yield answer
    server.shutdown()


def test_a_follow_up_applies_its_edits_to_the_previous_version(settings, model_server, queued_generation):
    from builder.pipeline import dispatch
    from builder.services import _new_generation

    settings.MODEL_BASE_URL = model_server
    generate(queued_generation.id)
    first = Generation.objects.get(id=queued_generation.id)
    turn = Turn.objects.create(project=first.turn.project, prompt="add a due date", seed=9,
                               base_version=first.app_version)
    follow_up = _new_generation(turn=turn, candidate=1, kind="first", seed=9, model_version=first.model_version)
    dispatch(owner_id=turn.project.owner_id)  # fair use hands it on (the task itself is run below)

    generate(follow_up.id)

    follow_up.refresh_from_db()
    assert follow_up.status == "done", follow_up.error
    assert "<edit" in follow_up.raw_output and "<file" not in follow_up.raw_output
    before, after = first.app_version.files(), follow_up.app_version.files()
    assert set(after) == set(before)  # an edit keeps every file it did not touch
    assert "due_date" in json.loads(after["app.json"])["entities"]["Task"]["fields"]
    assert follow_up.app_version.parent == first.app_version


LAZY = 'Updated.\n<file path="src/App.jsx">\nexport default function App() {\n  // ... rest of the code unchanged ...\n}\n</file>\n'
CODE_IN_CHAT = "Here is the code:\n```jsx\nexport default function App() {\n  return <div>Hi</div>;\n}\n```\n"


@pytest.mark.parametrize("answer, kind", [(LAZY, "lazy_placeholder"), (CODE_IN_CHAT, "code_in_chat")])
def test_a_defective_answer_is_refused_shown_and_stored_as_a_negative(scripted_model, queued_generation, answer, kind):
    scripted_model(answer)

    generate(queued_generation.id)

    generation = Generation.objects.get(id=queued_generation.id)
    assert generation.status == "failed" and generation.app_version is None
    assert kind in [d.kind for d in generation.defects.all()]
    assert read_after(generation.stream_key)[-1]["type"] == "failed"
    assert generation.error  # the user sees why


def test_the_watchdog_fails_a_dead_generation_that_has_used_its_last_attempt(queued_generation):
    Generation.objects.filter(id=queued_generation.id).update(status="running", attempts=MAX_ATTEMPTS)

    outcome = recover_stuck_generations(silent_for_s=0)

    generation = Generation.objects.get(id=queued_generation.id)
    message = WORKER_LOST.format(attempts=MAX_ATTEMPTS)
    assert outcome == {"requeued": [], "failed": [generation.id]}
    assert generation.status == "failed" and generation.error == message
    told = read_after(generation.stream_key)[-1]
    assert told["type"] == "failed" and told["message"] == message


def test_the_watchdog_leaves_a_generation_whose_worker_still_holds_its_lease(queued_generation):
    Generation.objects.filter(id=queued_generation.id).update(status="running", attempts=1)
    assert claims.acquire(queued_generation.id)
    try:
        assert recover_stuck_generations(silent_for_s=0) == {"requeued": [], "failed": []}
    finally:
        claims.release(queued_generation.id)
    assert Generation.objects.get(id=queued_generation.id).status == "running"


BURST_PAUSE_S = 0.25
BURSTY_ANSWER = 'Here is a small list.\n<file path="src/App.jsx">\nexport default function App() {\n  return <h1>Hi</h1>;\n}\n</file>\n'


class BurstyModel(BaseHTTPRequestHandler):
    """A model that sends its tokens two at a time, as separate writes, then pauses: the second
    token of each pair must not wait for the next pair."""

    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True

    def do_POST(self):
        self._start_stream()
        pieces = split_tokens(BURSTY_ANSWER)
        for start in range(0, len(pieces), 2):
            for piece in pieces[start:start + 2]:
                self._event({"choices": [{"index": 0, "delta": {"content": piece}, "finish_reason": None}]})
            time.sleep(BURST_PAUSE_S)
        self._event({"choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]})
        self._chunk(b"data: [DONE]\n\n")
        self._chunk(b"")

    def _start_stream(self):
        self.rfile.read(int(self.headers["Content-Length"]))
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()

    def _event(self, payload):
        self._chunk(b"data: " + json.dumps(payload).encode() + b"\n\n")

    def _chunk(self, data: bytes):
        self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
        self.wfile.flush()

    def log_message(self, *args):
        pass


def test_a_token_goes_out_at_once_even_when_the_next_one_is_a_long_way_off(settings, queued_generation):
    server = ThreadingHTTPServer(("127.0.0.1", 0), BurstyModel)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    settings.MODEL_BASE_URL = f"http://127.0.0.1:{server.server_port}/v1"
    waits = []

    def follow():
        last = "0-0"
        while True:
            for entry_id, fields in redis_client().xread({queued_generation.stream_key: last}, block=5000)[0][1]:
                last, frame = entry_id, json.loads(fields[b"e"])
                if frame["type"] in ("text", "file_delta"):
                    waits.append(time.time() - frame["t"])
                if frame["type"] in ("done", "failed"):
                    return

    follower = threading.Thread(target=follow)
    follower.start()
    try:
        generate(queued_generation.id)
    finally:
        follower.join(timeout=10)
        server.shutdown()

    assert Generation.objects.get(id=queued_generation.id).status == "done"
    assert len(waits) >= 5
    # Each frame reached Redis within a few ms of its first token, not a pause later.
    assert max(waits) < BURST_PAUSE_S / 2, sorted(waits)[-3:]


class SlowToStartModel(BurstyModel):
    """A model that sends nothing for a while (a request queued on a busy vLLM), then streams."""

    def do_POST(self):
        time.sleep(2.5)
        super().do_POST()


def test_a_generation_waiting_for_its_first_token_keeps_its_lease(settings, queued_generation, monkeypatch):
    monkeypatch.setattr(leases, "LEASE_TTL_MS", 1000)  # much shorter than the model's silence
    server = ThreadingHTTPServer(("127.0.0.1", 0), SlowToStartModel)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    settings.MODEL_BASE_URL = f"http://127.0.0.1:{server.server_port}/v1"
    holders = []

    def watch():
        for _ in range(9):
            time.sleep(0.25)
            holders.append(claims.lease_holder(queued_generation.id))

    watcher = threading.Thread(target=watch)
    watcher.start()
    try:
        generate(queued_generation.id)
    finally:
        watcher.join()
        server.shutdown()

    # Held all through the silent start, so neither a redelivery nor the watchdog takes it over.
    assert all(holders), holders
    assert Generation.objects.get(id=queued_generation.id).status == "done"


class RefusingModel(BurstyModel):
    """A model server that refuses the request, as vLLM does with an OpenAI-style error body."""

    def do_POST(self):
        self.rfile.read(int(self.headers["Content-Length"]))
        body = json.dumps({"error": {"message": "This model's maximum context length is 1024 tokens.",
                                     "type": "BadRequestError", "code": 400}}).encode()
        self.send_response(400)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


class FailingMidStreamModel(BurstyModel):
    """A model server that starts answering, then sends an error event instead of the rest."""

    def do_POST(self):
        self._start_stream()
        self._event({"choices": [{"index": 0, "delta": {"content": "Here is"}, "finish_reason": None}]})
        self._event({"error": {"message": "The engine ran out of KV cache.", "code": 500}})
        self._chunk(b"")


@pytest.mark.parametrize("handler, shown", [
    (RefusingModel, "The model server answered with an error: HTTP 400: This model's maximum context length is 1024 tokens."),
    (FailingMidStreamModel, "The model server answered with an error: The engine ran out of KV cache."),
])
def test_a_model_server_error_fails_the_generation_with_the_servers_own_message(settings, queued_generation,
                                                                               handler, shown):
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    settings.MODEL_BASE_URL = f"http://127.0.0.1:{server.server_port}/v1"
    try:
        generate(queued_generation.id)
    finally:
        server.shutdown()

    generation = Generation.objects.get(id=queued_generation.id)
    assert (generation.status, generation.error) == ("failed", shown)
    assert generation.app_version is None
    assert read_after(generation.stream_key)[-1] == {**read_after(generation.stream_key)[-1], "type": "failed",
                                                     "message": shown}
