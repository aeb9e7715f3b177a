"""manage.py run_round: snapshot → train → register → load into the model server → evaluate against the
parent → promote if better, with report.md beside the adapter (training.loop)."""

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from generation.models import ModelVersion
from training import evaluation, loop, rounds, serving

UNKNOWN_VERSION = "No model version is named {name!r}."


class Command(BaseCommand):
    help = ("One training round end to end: dataset snapshot, LoRA round, registration, adapter loaded into the "
            "running model server, evaluation against the parent on held-out prompts, promotion if better, "
            "report.md beside the adapter.")

    def add_arguments(self, parser):
        parser.add_argument("--base", required=True, help="The version the round starts from (its parent).")
        parser.add_argument("--method", required=True, choices=rounds.METHODS)
        source = parser.add_mutually_exclusive_group()
        source.add_argument("--snapshot", type=Path, help="A dataset snapshot folder (export_dataset output).")
        source.add_argument("--export", action="store_true", help="Export a new snapshot first (into OUT/snapshot).")
        parser.add_argument("--out", type=Path, required=True, help="A new folder: OUT/adapter gets the round.")
        parser.add_argument("--n", type=int, default=100, help="Held-out prompts to evaluate on (default 100).")
        parser.add_argument("--steps", type=int, default=20, help="Training steps (default 20).")
        parser.add_argument("--lr", type=float, default=rounds.DEFAULT_LR,
                            help=f"Learning rate (default {rounds.DEFAULT_LR:g}; a 400-step GRPO round on the small "
                                 "base needed 1e-3, docs/learning.md).")
        parser.add_argument("--seed", type=int, default=0, help="Seed of the training and held-out prompts.")
        parser.add_argument("--share", type=float, default=0.1, help="Traffic share if promoted (default 0.1).")
        parser.add_argument("--sandbox-sample", type=int, default=loop.SANDBOX_SAMPLE,
                            help=f"Build and smoke-test only the first K evaluation prompts (default {loop.SANDBOX_SAMPLE}).")
        parser.add_argument("--server", default=None, help="The model server's URL (default OWN_MODEL_BASE_URL).")

    def handle(self, *args, base, method, snapshot, export, out, n, steps, lr, seed, share, sandbox_sample, server,
               **options):
        parent = ModelVersion.objects.filter(name=base).first()
        if parent is None:
            raise CommandError(UNKNOWN_VERSION.format(name=base))
        try:
            outcome = loop.run_round(base=parent, method=method, out_dir=out, snapshot=snapshot, export=export, n=n,
                                     steps=steps, lr=lr, seed=seed, share=share, sandbox_sample=sandbox_sample,
                                     server_url=server)
        except (rounds.RoundError, serving.ServingError, evaluation.EvaluationError, ValueError) as error:
            raise CommandError(str(error)) from None
        evaluation.print_table(outcome.evaluation, file=self.stdout._out)
        self.stdout.write(outcome.decision)
        self.stdout.write(f"Report: {outcome.report}")
