"""Serve Kiln's own model versions with vLLM in the foreground: the newest registered base model with
every round's adapter loaded (training.serving, docs/vllm.md). `./kiln start` runs it when a model of
Kiln's own is registered."""

import signal
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from training.serving import (
    MODEL_DIR_MISSING,
    NOTHING_REGISTERED,
    ServingError,
    registered_base,
    registered_rounds,
    serve_registered,
)

VLLM_EXITED = "vLLM exited on its own (status {status}); its log: {log}"


class Stop(Exception):
    """SIGTERM or SIGINT arrived: stop vLLM and leave."""


def _stop(signum, frame):
    raise Stop


class Command(BaseCommand):
    help = "Serve the newest registered Kiln base model and its rounds' adapters with vLLM (foreground)."

    def add_arguments(self, parser):
        parser.add_argument(
            "--port", type=int, default=settings.OWN_MODEL_PORT,
            help="Port vLLM listens on (default OWN_MODEL_PORT, %(default)s).",
        )
        parser.add_argument(
            "--check", action="store_true",
            help="Only print the name of the base model that would be served and its URL; exit 1 when "
                 "none is registered or its folder is missing.",
        )

    def handle(self, *args, port, check, **options):
        base = registered_base()
        if base is None:
            raise CommandError(NOTHING_REGISTERED)
        if check:
            if not Path(base.artifact_dir).is_dir():
                raise CommandError(MODEL_DIR_MISSING.format(path=base.artifact_dir))
            self.stdout.write(f"{base.name} http://127.0.0.1:{port}/v1")
            return
        # Both end Kiln's processes (./kiln start sends SIGTERM; Ctrl-C sends SIGINT): vLLM goes with us.
        signal.signal(signal.SIGTERM, _stop)
        signal.signal(signal.SIGINT, _stop)
        rounds = [version.name for version in registered_rounds(base)]
        self.stdout.write(f"Starting vLLM for Kiln's own model {base.name} ({base.artifact_dir}) "
                          f"with {len(rounds)} round adapter(s): {', '.join(rounds) or 'none'}")
        self.stdout.flush()
        server = None
        try:
            server = serve_registered(port=port)
            for name, error in server.failed_adapters.items():
                self.stderr.write(f"Round {name} is not served: {error}")
            self.stdout.write(f"Kiln's own model {base.name} served by vLLM at {server.base_url}; adapters "
                              f"loaded: {', '.join(server.adapters) or 'none'} (log: {server.log_path}). "
                              "Ctrl+C stops it.")
            self.stdout.flush()
            status = server.process.wait()
            raise CommandError(VLLM_EXITED.format(status=status, log=server.log_path))
        except ServingError as exc:
            raise CommandError(str(exc)) from exc
        except Stop:
            self.stdout.write("Stopping vLLM.")
        finally:
            if server is not None:
                # A second signal must not cut the stop short and leave vLLM running.
                signal.signal(signal.SIGTERM, signal.SIG_IGN)
                signal.signal(signal.SIGINT, signal.SIG_IGN)
                server.stop()
