"""Run Kiln's offline blueprint model server in the foreground (an OpenAI-compatible endpoint)."""

from django.conf import settings
from django.core.management.base import BaseCommand

from generation.blueprint.server import make_server


class Command(BaseCommand):
    help = "Serve the offline blueprint model on an OpenAI-compatible chat-completions endpoint."

    def add_arguments(self, parser):
        parser.add_argument("--host", default="127.0.0.1", help="Interface to listen on (default 127.0.0.1).")
        parser.add_argument(
            "--port",
            type=int,
            default=settings.BLUEPRINT_PORT,
            help="Port to listen on (default BLUEPRINT_PORT, %(default)s).",
        )
        parser.add_argument(
            "--delay-ms",
            type=float,
            default=settings.BLUEPRINT_TOKEN_DELAY_MS,
            help="Pause between streamed tokens in ms; 0 = as fast as possible "
            "(default BLUEPRINT_TOKEN_DELAY_MS, %(default)s).",
        )
        parser.add_argument(
            "--model-name",
            default=settings.MODEL_NAME,
            help="Model name listed by /v1/models (default MODEL_NAME, %(default)s).",
        )

    def handle(self, *args, host, port, delay_ms, model_name, **options):
        server = make_server(host=host, port=port, model_name=model_name, delay_ms=delay_ms)
        self.stdout.write(
            f"Blueprint model {model_name!r} serving at {server.base_url} "
            f"({delay_ms:g} ms per token). Press Ctrl+C to stop."
        )
        self.stdout.flush()
        try:
            server.serve_forever()
        except KeyboardInterrupt:
            self.stdout.write("Stopped.")
        finally:
            server.server_close()
