"""Model backends. Every backend Kiln talks to speaks the OpenAI chat-completions streaming protocol:
vLLM (a base model or a LoRA adapter by name), any hosted endpoint, and Kiln's own offline blueprint
server. So there is one client, the official `openai` package, configured per ModelVersion."""

from collections.abc import Iterator
from dataclasses import dataclass, field

import openai
from django.conf import settings

from generation.models import ModelVersion


@dataclass
class StreamResult:
    """Filled in while the stream is consumed; complete once iteration ends."""

    finish_reason: str | None = None
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    extra: dict = field(default_factory=dict)


class ModelStream:
    """Iterates the text deltas of one completion. `close()` ends the HTTP request (used by cancel)."""

    def __init__(self, response):
        self._response = response
        self.result = StreamResult()

    def __iter__(self) -> Iterator[str]:
        for chunk in self._response:
            if chunk.usage:
                self.result.prompt_tokens = chunk.usage.prompt_tokens
                self.result.completion_tokens = chunk.usage.completion_tokens
            for choice in chunk.choices:
                if choice.finish_reason:
                    self.result.finish_reason = choice.finish_reason
                if choice.delta and choice.delta.content:
                    yield choice.delta.content

    def close(self) -> None:
        self._response.close()


class OpenAICompatibleBackend:
    def __init__(self, model_version: ModelVersion):
        self.model = model_version.request_model_name
        self.client = openai.OpenAI(
            base_url=model_version.base_url,
            api_key=settings.MODEL_API_KEY,
            timeout=settings.MODEL_TIMEOUT_S,
            max_retries=1,
        )

    def stream(self, messages: list[dict], *, seed: int, max_tokens: int | None = None) -> ModelStream:
        response = self.client.chat.completions.create(
            model=self.model,
            messages=messages,
            stream=True,
            stream_options={"include_usage": True},
            max_tokens=max_tokens or settings.MODEL_MAX_TOKENS,
            seed=seed,
        )
        return ModelStream(response)


def backend_for(model_version: ModelVersion) -> OpenAICompatibleBackend:
    # Both kinds of ModelVersion speak the same wire protocol; they differ only in where they live.
    return OpenAICompatibleBackend(model_version)
