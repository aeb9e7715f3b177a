"""manage.py train_round --base NAME --method sft|dpo|kto|grpo [--snapshot DIR] [--steps N] --out DIR"""

import argparse
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from generation.models import ModelVersion
from sandbox import docker_driver
from sandbox.errors import EngineUnavailable
from training.rounds import DEFAULT_LR, METHODS, PROMPT_NOUNS, Hyperparameters, RoundError, train_round

NO_VERSION = "There is no model version named {name!r}."
DEFAULTS = Hyperparameters()


class Command(BaseCommand):
    help = "Train one LoRA round on one of Kiln's own model versions and register it (inactive, weight 0)."

    def add_arguments(self, parser):
        parser.add_argument("--base", required=True, help="name of the model version to train on top of")
        parser.add_argument("--method", required=True, choices=METHODS)
        parser.add_argument("--snapshot", type=Path, help="dataset snapshot (export_dataset) for sft, dpo, kto")
        parser.add_argument("--out", type=Path, required=True, help="new or empty folder for the adapter")
        parser.add_argument("--steps", type=int, default=DEFAULTS.steps)
        parser.add_argument("--lr", type=float, default=DEFAULT_LR)
        parser.add_argument("--name", help="name of the new version (default: <base>-<method>-<n>)")
        parser.add_argument("--batch-size", type=int, default=DEFAULTS.batch_size)
        parser.add_argument("--max-length", type=int, default=DEFAULTS.max_length)
        parser.add_argument("--num-generations", type=int, default=DEFAULTS.num_generations,
                            help="grpo: completions sampled per prompt")
        parser.add_argument("--max-completion-length", type=int, default=DEFAULTS.max_completion_length)
        parser.add_argument("--prompts", type=int, default=DEFAULTS.prompts, help="grpo: training prompts")
        parser.add_argument("--prompt-nouns", choices=PROMPT_NOUNS, default=DEFAULTS.prompt_nouns,
                            help="grpo: name fresh invented nouns in the training prompts (default), or the "
                                 "bootstrap's own training nouns")
        parser.add_argument("--beta", type=float, default=DEFAULTS.beta, help="grpo: KL weight")
        parser.add_argument("--temperature", type=float, default=DEFAULTS.temperature, help="grpo: sampling")
        parser.add_argument("--sandbox", action=argparse.BooleanOptionalAction, default=None,
                            help="grpo: build and smoke-test each distinct rewarded app in the sandbox (about "
                                 "12 s an app here). Default: on where the Docker engine answers")
        parser.add_argument("--seed", type=int, default=DEFAULTS.seed)
        parser.add_argument("--threads", type=int, default=DEFAULTS.threads,
                            help="torch CPU threads (default: all cores, or one when the machine is busy)")
        parser.add_argument("--no-progress", action="store_true", help="no progress bars")

    def handle(self, *args, **opts):
        try:
            base = ModelVersion.objects.get(name=opts["base"])
        except ModelVersion.DoesNotExist:
            raise CommandError(NO_VERSION.format(name=opts["base"])) from None
        if opts["sandbox"] is None:
            opts["sandbox"] = opts["method"] == "grpo" and _engine_answers()
        if opts["method"] == "grpo":
            self.stdout.write(f"Sandbox in the reward: {'on' if opts['sandbox'] else 'off'}")
        try:
            version = train_round(
                base, method=opts["method"], snapshot=opts["snapshot"], out_dir=opts["out"], steps=opts["steps"],
                lr=opts["lr"], name=opts["name"], progress=not opts["no_progress"],
                batch_size=opts["batch_size"], max_length=opts["max_length"],
                num_generations=opts["num_generations"], max_completion_length=opts["max_completion_length"],
                prompts=opts["prompts"], beta=opts["beta"], sandbox=opts["sandbox"], seed=opts["seed"],
                threads=opts["threads"], temperature=opts["temperature"], prompt_nouns=opts["prompt_nouns"],
            )
        except RoundError as error:
            raise CommandError(str(error)) from None
        record = version.training
        self.stdout.write(
            f"Registered {version.name} (inactive, weight 0; parent {base.name}): {opts['method']}, "
            f"{record['steps']} steps in {record['wall_s']} s; adapter and round.json in {version.artifact_dir}"
        )


def _engine_answers() -> bool:
    try:
        docker_driver.client()
    except EngineUnavailable:
        return False
    return True
