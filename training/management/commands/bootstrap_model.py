"""manage.py bootstrap_model: make Kiln's own base model from scratch and register it
(training.base_model)."""

import json
import shlex
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from training import base_model, corpus


class Command(BaseCommand):
    help = (
        "Bootstrap Kiln's own base model: a synthetic corpus from the offline model, a tokenizer, a small "
        "transformer trained with TRL, saved to --out with bootstrap.json, registered as an inactive "
        "model version (weight 0)."
    )

    def add_arguments(self, parser):
        parser.add_argument("--size", choices=sorted(base_model.SIZES), default="tiny")
        parser.add_argument("--target", choices=corpus.TARGETS, default="spec",
                            help="spec: the model writes the explanation and app.json; full: every file")
        parser.add_argument("--out", required=True, type=Path, help="the model's folder (under var/models/)")
        parser.add_argument("--examples", type=int, help="training prompts in the corpus")
        parser.add_argument("--explanations", type=int,
                            help="more training prompts, learned on their answers' explanations only")
        parser.add_argument("--steps", type=int, help="optimizer steps")
        parser.add_argument("--batch-size", type=int)
        parser.add_argument("--learning-rate", type=float)
        parser.add_argument("--eval", type=int, dest="eval_n", help="held-out prompts to measure it on")
        parser.add_argument("--seed", type=int, default=0)
        parser.add_argument("--max-minutes", type=float, help="stop training after this much wall time")
        parser.add_argument("--probe-every", type=int,
                            help=f"measure {base_model.PROBE_N} held-out prompts every this many steps")
        parser.add_argument("--name", help="the model version's name (default: the --out folder's name)")
        parser.add_argument("--no-register", action="store_true", help="save the model, register no version")

    def handle(self, *args, size, target, out, examples, explanations, steps, batch_size, learning_rate, eval_n,
               seed, max_minutes, probe_every, name, no_register, verbosity, **options):
        name = name or out.resolve().name
        if not no_register and base_model.ModelVersion.objects.filter(name=name).exists():
            raise CommandError(base_model.NAME_TAKEN.format(name=name))
        summary = base_model.bootstrap(
            out, size=size, target=target, examples=examples, explanations=explanations, steps=steps,
            batch_size=batch_size, learning_rate=learning_rate, eval_n=eval_n, seed=seed, max_minutes=max_minutes,
            probe_every=probe_every, progress=verbosity > 0,
        )
        # The command that makes it again (every option that shaped it, defaults resolved).
        summary["command"] = "python manage.py bootstrap_model " + shlex.join([
            "--size", size, "--target", target, "--out", str(out),
            "--examples", str(summary["corpus"]["examples"]),
            "--explanations", str(summary["corpus"]["explanation_only"]),
            "--steps", str(summary["max_steps"]), "--batch-size", str(summary["batch_size"]),
            "--learning-rate", str(summary["learning_rate"]), "--eval", str(summary["held_out"].get("n", 0)),
            "--seed", str(seed), *(["--max-minutes", str(max_minutes)] if max_minutes else []),
            *(["--probe-every", str(probe_every)] if probe_every else []),
        ])
        (out / "bootstrap.json").write_text(json.dumps(summary, indent=2) + "\n")
        held = summary["held_out"]
        if held:
            self.stdout.write(
                f"held-out prompts with unseen nouns: {held['n']}; "
                f"right entity {held['entity_accuracy']:.0%}, "
                f"valid spec {held['valid_spec_rate']:.0%}, field F1 {held['field_f1']:.2f}"
            )
        self.stdout.write(
            f"{summary['parameters']:,} parameters, {summary['corpus']['examples']} examples "
            f"({summary['corpus']['distinct_nouns']} distinct nouns), {summary['steps']} steps, "
            f"final loss {summary['final_loss']}, {summary['seconds']['total']:.0f} s "
            f"({summary['cpu_seconds']:.0f} s of CPU), peak RSS {summary['peak_rss_mb']} MB"
        )
        if not no_register:
            version = base_model.register_base(out, name=name, target=target)
            self.stdout.write(
                f"registered model version {version.name!r} (inactive, weight 0): {version.artifact_dir}"
            )
