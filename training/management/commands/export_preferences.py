import os
from pathlib import Path

from django.core.management import call_command
from django.core.management.base import BaseCommand

LEGACY_FILE = "preferences.jsonl"


class Command(BaseCommand):
    requires_system_checks = []  # as export_dataset, which it runs: the checks cost 65 MB of RSS
    help = ("Kept for old scripts: `export_dataset --formats dpo --holdout 0`, with the DPO rows also at "
            "OUT/preferences.jsonl (the file this command used to write). Use export_dataset.")

    def add_arguments(self, parser):
        parser.add_argument("--out", required=True, type=Path, help="A new (or empty) folder for the snapshot.")

    def handle(self, *args, out: Path, **options):
        call_command("export_dataset", "--out", str(out), "--formats", "dpo", "--holdout", "0",
                     stdout=self.stdout._out, stderr=self.stderr._out)
        # A hard link, not a copy: the same bytes as dpo/train.jsonl, whose hash the manifest holds.
        os.link(out / "dpo" / "train.jsonl", out / LEGACY_FILE)
