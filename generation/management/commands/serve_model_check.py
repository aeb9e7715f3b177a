import time

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from generation.backends import ModelError, ModelUnreachable, OpenAICompatibleBackend
from generation.models import ModelVersion
from generation.prompts import build_messages
from generation.protocol import StreamParser

DEFAULT_PROMPT = "a todo list where I can add, tick and delete tasks"


class Command(BaseCommand):
    help = "Stream one app from an OpenAI-compatible endpoint (vLLM or any) and report speed and protocol."

    def add_arguments(self, parser):
        parser.add_argument("--url", required=True, help="Base URL, e.g. http://127.0.0.1:8001/v1")
        parser.add_argument("--model", default=settings.MODEL_NAME, help="Model or LoRA adapter name.")
        parser.add_argument("--prompt", default=DEFAULT_PROMPT)
        parser.add_argument("--max-tokens", type=int, default=settings.MODEL_MAX_TOKENS)

    def handle(self, *args, url, model, prompt, max_tokens, **options):
        backend = OpenAICompatibleBackend(ModelVersion(name="check", endpoint=url, base_model=model))
        parser = StreamParser()
        started = time.monotonic()
        first_token_at = None
        chunks = 0
        try:
            stream = backend.stream(build_messages(history=[], files={}, prompt=prompt), seed=1, max_tokens=max_tokens)
            with tqdm(unit="chunk", desc=f"streaming from {model}", file=self.stderr._out) as bar:
                for text in stream:
                    first_token_at = first_token_at or time.monotonic()
                    chunks += 1
                    parser.feed(text)
                    bar.update(1)
        except (ModelUnreachable, ModelError) as exc:
            raise CommandError(f"The endpoint failed: {exc}") from exc
        parser.finish(stream.result.finish_reason)
        total_s = time.monotonic() - started
        tokens = stream.result.completion_tokens or chunks
        generating_s = max(total_s - (first_token_at - started), 1e-9) if first_token_at else None
        self.stdout.write(f"endpoint:            {url} (model {model})")
        self.stdout.write(f"time to first token: {(first_token_at - started) * 1000:.0f} ms" if first_token_at
                          else "time to first token: no token arrived")
        self.stdout.write(f"completion tokens:   {tokens} ({'reported by the server' if stream.result.completion_tokens else 'counted as chunks'})")
        self.stdout.write(f"tokens per second:   {tokens / generating_s:.1f}" if generating_s else "tokens per second:   -")
        self.stdout.write(f"total time:          {total_s:.2f} s, finish_reason={stream.result.finish_reason}")
        verdict = "parsed" if parser.files and not parser.issues else "FAILED"
        self.stdout.write(f"protocol:            {verdict}: {len(parser.files)} files, {len(parser.issues)} issues")
        for issue in parser.issues:
            self.stdout.write(f"  - {issue.message}")
        if verdict == "FAILED":
            raise CommandError("The output did not parse as Kiln's protocol.")
