from pathlib import Path

from django.core.management.base import BaseCommand
from tqdm import tqdm

from feedback.export import export_preferences, exportable_pairs


class Command(BaseCommand):
    help = "Export preference pairs as JSONL in TRL's conversational preference format."

    def add_arguments(self, parser):
        parser.add_argument("--out", required=True, type=Path, help="Folder to write preferences.jsonl into.")

    def handle(self, *args, out: Path, **options):
        total = exportable_pairs().count()
        with tqdm(total=total, unit="pair", desc="Exporting pairs", file=self.stderr._out) as bar:
            path = export_preferences(out_dir=out, on_row=lambda: bar.update(1))
        self.stdout.write(self.style.SUCCESS(f"Wrote {total} pairs to {path}"))
