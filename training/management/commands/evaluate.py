"""manage.py evaluate --versions A,B: model versions answer the same prompts through Kiln's real turn
path (training.evaluation); the run is stored and printed as a table with 95 % intervals."""

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from generation.models import ModelVersion
from training import corpus, evaluation

UNKNOWN_VERSION = "No model version is named {name!r}."
HELD_OUT = "held-out"
DEFAULT_N = 20


class Command(BaseCommand):
    help = ("Evaluate one or two model versions on the same prompts through the real turn path (generate, build, "
            "preview, smoke test): per-version rates with 95 % bootstrap intervals and the paired difference A − B.")

    def add_arguments(self, parser):
        parser.add_argument("--versions", required=True, help="A,B: the version to measure, then the one to compare.")
        parser.add_argument("--prompts", default=HELD_OUT,
                            help="held-out (default: prompts with nouns no training item uses) or a JSONL file of "
                            '{"prompt", "entity", "fields"} objects.')
        parser.add_argument("--n", type=int, default=None,
                            help=f"How many prompts (default: {DEFAULT_N} held-out ones, or the whole file).")
        parser.add_argument("--sandbox-sample", type=int, default=None,
                            help="Build and smoke-test only the first K prompts (default: all).")
        parser.add_argument("--seed", type=int, default=0, help="Seed of the held-out prompts (default 0).")

    def handle(self, *args, versions, prompts, n, sandbox_sample, seed, **options):
        chosen = []
        for name in [v.strip() for v in versions.split(",") if v.strip()]:
            version = ModelVersion.objects.filter(name=name).first()
            if version is None:
                raise CommandError(UNKNOWN_VERSION.format(name=name))
            chosen.append(version)
        if prompts == HELD_OUT:
            items = corpus.held_out_items(n or DEFAULT_N, seed=seed)
        else:
            try:
                items = evaluation.load_items(Path(prompts))[:n]
            except evaluation.EvaluationError as error:
                raise CommandError(str(error)) from None
        try:
            run = evaluation.evaluate(chosen, items, sandbox_sample=sandbox_sample, prompt_source=prompts,
                                      progress=True)
        except evaluation.EvaluationError as error:
            raise CommandError(str(error)) from None
        evaluation.print_table(run, file=self.stdout._out)
        self.stdout.write(f"Stored as evaluation run {run.id} (/review/evaluations/).")
