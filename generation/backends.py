"""Model backends. Every backend Kiln talks to speaks the OpenAI chat-completions streaming protocol:
vLLM (a base model or a LoRA adapter by name), any hosted endpoint, and Kiln's own offline blueprint
server. So there is one client, the official `openai` package, configured per ModelVersion."""

import json
from collections.abc import Iterator
from dataclasses import dataclass
from functools import lru_cache

import httpx
import openai
from django.conf import settings

from generation.models import ModelVersion


@dataclass
class StreamResult:
    """Filled in while the stream is consumed; complete once iteration ends."""

    finish_reason: str | None = None
    prompt_tokens: int | None = None
    completion_tokens: int | None = None


class ModelStream:
    """Iterates the text deltas of one completion. `close()` ends the HTTP request (used by cancel).

    The HTTP request, its errors and retries are the openai client's; the chunks are read as plain
    JSON rather than as the client's pydantic models, because building a model per token cost
    ~150 us of CPU each, the largest part of a generation worker's time at 50 concurrent streams
    (measured with bench/stream_overhead.py)."""

    def __init__(self, manager):
        self._manager = manager
        self._response = manager.__enter__()
        self.result = StreamResult()

    def __iter__(self) -> Iterator[str]:
        try:
            for line in self._response.iter_lines():
                if not line.startswith("data:"):
                    continue
                data = line[5:].strip()
                if data == "[DONE]":
                    break
                chunk = json.loads(data)
                if chunk.get("error"):
                    raise openai.APIError(str(chunk["error"]), request=self._response.http_request, body=chunk)
                if chunk.get("usage"):
                    self.result.prompt_tokens = chunk["usage"].get("prompt_tokens")
                    self.result.completion_tokens = chunk["usage"].get("completion_tokens")
                for choice in chunk.get("choices") or ():
                    if choice.get("finish_reason"):
                        self.result.finish_reason = choice["finish_reason"]
                    content = (choice.get("delta") or {}).get("content")
                    if content:
                        yield content
        except httpx.HTTPError as exc:  # the connection broke mid-stream
            raise openai.APIConnectionError(message=str(exc), request=self._response.http_request) from exc
        finally:
            self.close()

    def close(self) -> None:
        self._manager.__exit__(None, None, None)


@lru_cache(maxsize=32)
def _client(base_url: str, api_key: str, timeout_s: float) -> openai.OpenAI:
    """One client per endpoint per worker process, shared by its threads (httpx clients are
    thread-safe): it keeps connections open, and building a client loads the CA bundle, ~20 ms of
    CPU that 50 generations starting at once would otherwise spend together."""
    return openai.OpenAI(base_url=base_url, api_key=api_key, timeout=timeout_s, max_retries=1)


class OpenAICompatibleBackend:
    def __init__(self, model_version: ModelVersion):
        self.model = model_version.request_model_name
        self.client = _client(model_version.base_url, settings.MODEL_API_KEY, settings.MODEL_TIMEOUT_S)
        # Kiln's own models are served with a short context (1,024 tokens on the CPU), and vLLM refuses a
        # max_tokens the context cannot hold: left out, it answers until the context is full, and the
        # answer still ends with finish_reason "length" when it was cut off.
        self.default_max_tokens = None if model_version.backend == ModelVersion.Backend.KILN else settings.MODEL_MAX_TOKENS

    def stream(self, messages: list[dict], *, seed: int, max_tokens: int | None = None) -> ModelStream:
        limit = max_tokens or self.default_max_tokens
        return ModelStream(
            self.client.chat.completions.with_streaming_response.create(
                model=self.model,
                messages=messages,
                stream=True,
                stream_options={"include_usage": True},
                **({"max_tokens": limit} if limit else {}),
                seed=seed,
            )
        )


def backend_for(model_version: ModelVersion) -> OpenAICompatibleBackend:
    # Both kinds of ModelVersion speak the same wire protocol; they differ only in where they live.
    return OpenAICompatibleBackend(model_version)
