"""The blueprint model server: Kiln's offline default model behind the OpenAI chat-completions API.

It speaks the real wire protocol, so Kiln talks to it with the same client it uses for vLLM:

    POST /v1/chat/completions   {"stream": true} -> text/event-stream of chat.completion.chunk
                                 objects, then "data: [DONE]"; otherwise one chat.completion
    GET  /v1/models              the one model it serves

The answer comes from generation.blueprint.responder, cut into token-like pieces (3-4 characters,
word-aware) with a pause between them (BLUEPRINT_TOKEN_DELAY_MS) so a person can watch files form.
max_tokens (or max_completion_tokens) cuts the answer and reports finish_reason "length"; one piece
counts as one token. Standard library only: ThreadingHTTPServer serves requests concurrently, and a
client that hangs up mid-stream just ends that request.
"""

from __future__ import annotations

import json
import logging
import math
import re
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import orjson

from generation.blueprint.responder import message_text, respond

log = logging.getLogger(__name__)

DEFAULT_MODEL = "kiln-blueprint"
MAX_BODY = 8 * 1024 * 1024
_PIECE = re.compile(r" ?[A-Za-z]{1,4}| ?\d{1,3}| ?[^\sA-Za-z\d]|\s{1,4}")


def split_tokens(text: str) -> list[str]:
    """Token-like pieces: a word part of up to 4 letters (with one space before it), a few digits,
    one other character, or up to 4 whitespace characters. Joined, they give back the text exactly."""
    return _PIECE.findall(text)


def count_prompt_tokens(messages: list[dict]) -> int:
    return max(1, math.ceil(sum(len(message_text(m)) for m in messages) / 4))


class BadRequest(Exception):
    def __init__(self, message: str, param: str | None = None, status: int = 400):
        super().__init__(message)
        self.param = param
        self.status = status


class BlueprintServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, address: tuple[str, int], *, model_name: str = DEFAULT_MODEL, delay_ms: float = 0.0):
        self.model_name = model_name
        self.delay_ms = delay_ms
        # What answers a conversation. Tests may swap in a scripted answer (a broken app, a lazy
        # placeholder) and still get it over the real streaming wire protocol.
        self.respond = respond
        super().__init__(address, Handler)

    @property
    def base_url(self) -> str:
        host, port = self.server_address[:2]
        return f"http://{host}:{port}/v1"


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # Tokens are small writes: with Nagle's algorithm on, one waits for the client's delayed ACK of
    # the one before (~40 ms on Linux), as a real server's first tokens never do.
    disable_nagle_algorithm = True
    server_version = "kiln-blueprint"
    sys_version = ""

    def log_message(self, format, *args):
        log.debug("%s %s", self.address_string(), format % args)

    # --- routing

    def do_GET(self):
        path = self.path.split("?", 1)[0].rstrip("/")
        if path in ("/v1/models", "/models"):
            model = {"id": self.server.model_name, "object": "model", "created": 0, "owned_by": "kiln"}
            return self._send_json(200, {"object": "list", "data": [model]})
        if path in ("/health", "/healthz"):
            return self._send_json(200, {"status": "ok"})
        self._send_error(404, f"no route for GET {path}", code="not_found")

    def do_POST(self):
        path = self.path.split("?", 1)[0].rstrip("/")
        try:
            raw = self._read_body()  # read even for a wrong route, so the connection stays usable
            if path not in ("/v1/chat/completions", "/chat/completions"):
                return self._send_error(404, f"no route for POST {path}", code="not_found")
            body = self._parse_request(raw)
        except BadRequest as error:
            return self._send_error(error.status, str(error), param=error.param)
        self._complete(body)

    # --- chat completions

    def _parse_request(self, raw: bytes) -> dict:
        try:
            body = json.loads(raw or b"null")
        except ValueError:
            raise BadRequest("The request body is not valid JSON.") from None
        if not isinstance(body, dict):
            raise BadRequest("The request body must be a JSON object.")
        messages = body.get("messages")
        if not isinstance(messages, list) or not messages or not all(isinstance(m, dict) for m in messages):
            raise BadRequest("'messages' must be a non-empty list of message objects.", "messages")
        limit = body.get("max_completion_tokens", body.get("max_tokens"))
        if limit is not None and (not isinstance(limit, int) or isinstance(limit, bool) or limit < 1):
            raise BadRequest("'max_tokens' must be a positive integer.", "max_tokens")
        seed = body.get("seed")
        if seed is not None and (not isinstance(seed, int) or isinstance(seed, bool)):
            raise BadRequest("'seed' must be an integer.", "seed")
        if body.get("n", 1) != 1:
            raise BadRequest("Only n=1 is supported.", "n")
        return body

    def _complete(self, body: dict) -> None:
        messages = body["messages"]
        pieces = split_tokens(self.server.respond(messages, seed=body.get("seed")))
        limit = body.get("max_completion_tokens", body.get("max_tokens"))
        finish_reason = "stop"
        if limit is not None and len(pieces) > limit:
            pieces, finish_reason = pieces[:limit], "length"
        usage = {
            "prompt_tokens": count_prompt_tokens(messages),
            "completion_tokens": len(pieces),
        }
        usage["total_tokens"] = usage["prompt_tokens"] + usage["completion_tokens"]
        model = body.get("model") or self.server.model_name
        completion_id = f"chatcmpl-{uuid.uuid4().hex}"
        created = int(time.time())

        if not body.get("stream"):
            return self._send_json(
                200,
                {
                    "id": completion_id,
                    "object": "chat.completion",
                    "created": created,
                    "model": model,
                    "system_fingerprint": None,
                    "choices": [
                        {
                            "index": 0,
                            "message": {"role": "assistant", "content": "".join(pieces)},
                            "logprobs": None,
                            "finish_reason": finish_reason,
                        }
                    ],
                    "usage": usage,
                },
            )

        include_usage = bool((body.get("stream_options") or {}).get("include_usage"))

        def chunk(delta: dict, finish: str | None = None, choices: bool = True) -> dict:
            data = {
                "id": completion_id,
                "object": "chat.completion.chunk",
                "created": created,
                "model": model,
                "system_fingerprint": None,
                "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}]
                if choices
                else [],
            }
            if include_usage:
                data["usage"] = None
            return data

        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream; charset=utf-8")
        self.send_header("Cache-Control", "no-cache")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        delay_s = max(0.0, self.server.delay_ms) / 1000
        try:
            self._send_event(chunk({"role": "assistant", "content": ""}))
            started = time.monotonic()
            for i, piece in enumerate(pieces):
                # Piece i is due at started + i * delay: a fixed schedule, so sleep overshoot never
                # accumulates and two streams of the same answer stay in step (bench/stream_overhead).
                wait = started + i * delay_s - time.monotonic()
                if wait > 0:
                    time.sleep(wait)
                self._send_event(chunk({"content": piece}))
            self._send_event(chunk({}, finish_reason))
            if include_usage:
                final = chunk({}, choices=False)
                final["usage"] = usage
                self._send_event(final)
            self._write_chunk(b"data: [DONE]\n\n")
            self._write_chunk(b"")
        except (BrokenPipeError, ConnectionResetError, ConnectionAbortedError):
            # The client went away mid-stream (a cancelled generation): nothing to clean up.
            self.close_connection = True
            log.info("client closed the stream of %s early", completion_id)

    # --- plumbing

    def _read_body(self) -> bytes:
        length = int(self.headers.get("Content-Length") or 0)
        if length > MAX_BODY:
            self.close_connection = True
            raise BadRequest("The request body is too large.", status=413)
        return self.rfile.read(length) if length else b""

    def _send_event(self, data: dict) -> None:
        # orjson: one event per token, and at 50 streams this server shares the machine with Kiln.
        self._write_chunk(b"data: " + orjson.dumps(data) + b"\n\n")

    def _write_chunk(self, payload: bytes) -> None:
        self.wfile.write(b"%x\r\n%s\r\n" % (len(payload), payload))
        self.wfile.flush()

    def _send_json(self, status: int, payload: dict) -> None:
        body = json.dumps(payload, ensure_ascii=False).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _send_error(self, status: int, message: str, *, param: str | None = None, code: str | None = None):
        kind = "invalid_request_error" if status < 500 else "server_error"
        self._send_json(status, {"error": {"message": message, "type": kind, "param": param, "code": code}})


def make_server(
    *, host: str = "127.0.0.1", port: int = 0, model_name: str | None = None, delay_ms: float | None = None
) -> BlueprintServer:
    """A bound, not yet serving, blueprint server. Unset options come from Django settings."""
    if model_name is None or delay_ms is None:
        from django.conf import settings

        model_name = model_name if model_name is not None else getattr(settings, "MODEL_NAME", DEFAULT_MODEL)
        delay_ms = delay_ms if delay_ms is not None else getattr(settings, "BLUEPRINT_TOKEN_DELAY_MS", 0.0)
    return BlueprintServer((host, port), model_name=model_name, delay_ms=delay_ms)


def start_in_thread(
    *, port: int = 0, host: str = "127.0.0.1", model_name: str | None = None, delay_ms: float | None = None
) -> tuple[BlueprintServer, str]:
    """Serve in a daemon thread (for tests and dev tools). Returns the server and its base URL
    ("http://127.0.0.1:<port>/v1"); stop it with server.shutdown(); server.server_close()."""
    server = make_server(host=host, port=port, model_name=model_name, delay_ms=delay_ms)
    thread = threading.Thread(target=server.serve_forever, name="blueprint-server", daemon=True)
    thread.start()
    return server, server.base_url
