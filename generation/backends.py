"""Model backends. Every backend Kiln talks to speaks the OpenAI chat-completions streaming protocol:
vLLM (a base model or a LoRA adapter by name), any hosted endpoint, and Kiln's own offline blueprint
server. So there is one client, configured per ModelVersion.

The client is a plain urllib3 request and a server-sent-events reader, not the `openai` package: a
generation worker reads 50 streams at once, a token per read, and that read path is the worker's
largest cost. Measured on one stream of 1,200 tokens paced 5 ms apart (this machine, CPU per token
read): the openai client's iteration through httpx, httpcore and h11 ~190 us; urllib3's
`read_chunked` ~70 us; a bare socket ~50 us (waking up for a read costs that much here)."""

from collections.abc import Iterator
from dataclasses import dataclass
from functools import lru_cache

import orjson
import urllib3
from django.conf import settings

from generation.models import ModelVersion

CONNECT_TIMEOUT_S = 10.0
MAX_ERROR_BODY = 2000  # characters of an error response kept in the message
# Connections kept open per model server: more than the generation worker's threads
# (KILN_GENERATION_CONCURRENCY, 50 by default in ./kiln), so each streaming generation keeps its own.
POOL_CONNECTIONS = 64


class ModelUnreachable(Exception):
    """The model server could not be reached, or the connection broke mid-answer. str() is a short
    reason a user can read."""


class ModelError(Exception):
    """The model server answered with an error (an HTTP error status, or an error event in the
    stream). str() is the server's own message."""


@dataclass
class StreamResult:
    """Filled in while the stream is consumed; complete once iteration ends."""

    finish_reason: str | None = None
    prompt_tokens: int | None = None
    completion_tokens: int | None = None


class ModelStream:
    """Iterates the text deltas of one completion. `close()` ends the HTTP request (used by cancel).
    Chunks are read as plain JSON (orjson), not as pydantic models: building a model per token cost
    ~150 us of CPU each at 50 concurrent streams (bench/stream_overhead.py)."""

    def __init__(self, response: urllib3.BaseHTTPResponse):
        self._response = response
        self._finished = False
        self.result = StreamResult()

    def __iter__(self) -> Iterator[str]:
        try:
            for data in _sse_data(_chunks(self._response)):
                if data == b"[DONE]":
                    break
                chunk = orjson.loads(data)
                if chunk.get("error"):
                    raise ModelError(_error_message(chunk))
                if chunk.get("usage"):
                    self.result.prompt_tokens = chunk["usage"].get("prompt_tokens")
                    self.result.completion_tokens = chunk["usage"].get("completion_tokens")
                for choice in chunk.get("choices") or ():
                    if choice.get("finish_reason"):
                        self.result.finish_reason = choice["finish_reason"]
                    content = (choice.get("delta") or {}).get("content")
                    if content:
                        yield content
            self._finished = True
        except urllib3.exceptions.HTTPError as exc:  # the connection broke or went silent mid-stream
            raise ModelUnreachable(_reason(exc)) from exc
        except orjson.JSONDecodeError as exc:
            raise ModelError(f"the server sent an event that is not JSON ({exc})") from exc
        finally:
            self.close()

    def close(self) -> None:
        if not self._finished:
            self._response.close()  # unread data left: the connection cannot be reused
        self._response.release_conn()


def _chunks(response: urllib3.BaseHTTPResponse) -> Iterator[bytes]:
    """The body's bytes as they arrive: chunk by chunk (what vLLM and the blueprint server send),
    or whatever one read returns for a body that is not chunked."""
    if response.chunked:
        yield from response.read_chunked(decode_content=True)
    else:
        while data := response.read1():
            yield data


def _sse_data(chunks: Iterator[bytes]) -> Iterator[bytes]:
    """The data of each server-sent event line, from the response's bytes as they arrive."""
    buffer = b""
    for chunk in chunks:
        buffer += chunk
        if b"\n" not in chunk:
            continue
        *lines, buffer = buffer.split(b"\n")
        for line in lines:
            if line.startswith(b"data:"):
                yield line[5:].strip()
    if buffer.startswith(b"data:"):
        yield buffer[5:].strip()


@lru_cache(maxsize=1)
def _pool() -> urllib3.PoolManager:
    """One pool per worker process, shared by its threads (urllib3 pools are thread-safe), big
    enough to keep a connection open per concurrent generation. A refused connection is tried once
    more; a request that was sent is never repeated (the model may already be writing)."""
    return urllib3.PoolManager(
        maxsize=POOL_CONNECTIONS,
        retries=urllib3.Retry(total=1, connect=1, read=0, status=0, other=0, redirect=0),
    )


def _reason(exc: Exception) -> str:
    """A short, readable reason for a failed connection."""
    reason = getattr(exc, "reason", None) or exc  # MaxRetryError wraps the last attempt's error
    if isinstance(reason, urllib3.exceptions.NewConnectionError):
        return "connection refused"
    if isinstance(reason, urllib3.exceptions.ConnectTimeoutError):
        return f"no connection within {CONNECT_TIMEOUT_S:g} s"
    if isinstance(reason, urllib3.exceptions.ReadTimeoutError):
        return f"no answer for {settings.MODEL_TIMEOUT_S:g} s"
    if isinstance(reason, urllib3.exceptions.ProtocolError):
        return "the connection broke"
    return reason.__class__.__name__


def _error_message(body: dict) -> str:
    """The message of an OpenAI-style error body ({"error": {"message": ...}} or {"error": "..."})."""
    error = body.get("error")
    if isinstance(error, dict):
        return str(error.get("message") or error)[:MAX_ERROR_BODY]
    return str(error or body)[:MAX_ERROR_BODY]


class OpenAICompatibleBackend:
    def __init__(self, model_version: ModelVersion):
        self.model = model_version.request_model_name
        self.url = model_version.base_url.rstrip("/") + "/chat/completions"
        self.headers = {"Content-Type": "application/json", "Accept": "text/event-stream",
                        "Authorization": f"Bearer {settings.MODEL_API_KEY}"}
        # Kiln's own models are served with a short context (1,024 tokens on the CPU), and vLLM refuses a
        # max_tokens the context cannot hold: left out, it answers until the context is full, and the
        # answer still ends with finish_reason "length" when it was cut off.
        self.default_max_tokens = None if model_version.backend == ModelVersion.Backend.KILN else settings.MODEL_MAX_TOKENS

    def stream(self, messages: list[dict], *, seed: int, max_tokens: int | None = None) -> ModelStream:
        """Send the request; returns once the server has answered with a stream. Raises
        ModelUnreachable or ModelError (with the server's message) otherwise."""
        limit = max_tokens or self.default_max_tokens
        body = {"model": self.model, "messages": messages, "stream": True,
                "stream_options": {"include_usage": True}, "seed": seed,
                **({"max_tokens": limit} if limit else {})}
        try:
            response = _pool().request(
                "POST", self.url, body=orjson.dumps(body), headers=self.headers, preload_content=False,
                timeout=urllib3.Timeout(connect=CONNECT_TIMEOUT_S, read=settings.MODEL_TIMEOUT_S),
            )
        except urllib3.exceptions.HTTPError as exc:
            raise ModelUnreachable(_reason(exc)) from exc
        if response.status >= 400:
            text = response.data.decode("utf-8", "replace")
            response.release_conn()
            try:
                message = _error_message(orjson.loads(text))
            except orjson.JSONDecodeError:
                message = text[:MAX_ERROR_BODY]
            raise ModelError(f"HTTP {response.status}: {message}")
        return ModelStream(response)


def backend_for(model_version: ModelVersion) -> OpenAICompatibleBackend:
    # Both kinds of ModelVersion speak the same wire protocol; they differ only in where they live.
    return OpenAICompatibleBackend(model_version)
