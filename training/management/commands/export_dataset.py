import argparse
from datetime import date, datetime, time, timedelta
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from training.mapping import ALL_SOURCES, AUTOMATIC, PAIR, VERDICT
from training.snapshot import FORMATS, ExportOptions, export_snapshot, summary_rows
from training.snapshot import Progress as ExportProgress

BAD_FORMAT = "unknown format {name!r}: choose from " + ", ".join(FORMATS)
BAD_SOURCE = "unknown source {name!r}: choose from " + ", ".join(ALL_SOURCES)
BAD_DATE = "{value!r} is not a date: write 2026-11-29 or 2026-11-29T14:00"
BAD_HOLDOUT = "--holdout is the fraction of prompts held out: a number from 0 to 1 (below 1)"
STREAM_LABELS = {PAIR: "preference pairs", VERDICT: "verdicts", AUTOMATIC: "automatic negatives"}


def _names(allowed, message):
    def parse(value: str) -> list[str]:
        names = [n.strip() for n in value.split(",") if n.strip()]
        for name in names:
            if name not in allowed:
                raise argparse.ArgumentTypeError(message.format(name=name))
        return names
    return parse


def _moment(value: str, *, end_of_day: bool = False) -> datetime:
    """A date or date-time, in the current time zone. A bare date given to --until includes that day."""
    try:
        if len(value) == 10:
            day = date.fromisoformat(value)
            moment = datetime.combine(day + timedelta(days=1) if end_of_day else day, time.min)
        else:
            moment = datetime.fromisoformat(value)
    except ValueError:
        raise argparse.ArgumentTypeError(BAD_DATE.format(value=value)) from None
    return moment if timezone.is_aware(moment) else timezone.make_aware(moment)


def _holdout(value: str) -> float:
    try:
        fraction = float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(BAD_HOLDOUT) from None
    if not 0 <= fraction < 1:
        raise argparse.ArgumentTypeError(BAD_HOLDOUT)
    return fraction


class RichProgress(ExportProgress):
    def __init__(self, progress: Progress, formats):
        self.progress = progress
        self.streams = {}
        self.read = {}
        self.formats = {fmt: progress.add_task(f"{fmt} rows", total=None) for fmt in formats}

    def stream_started(self, stream, total):
        self.streams[stream] = self.progress.add_task(f"reading {STREAM_LABELS[stream]}", total=total)
        self.read[stream] = 0

    def stream_advanced(self, stream, n):
        self.progress.advance(self.streams[stream], n)
        self.read[stream] += n

    def stream_finished(self, stream):
        # The total was an estimate (selectors.STREAMS): the bar ends at what was read.
        self.progress.update(self.streams[stream], total=self.read[stream])

    def rows_written(self, fmt, n):
        self.progress.advance(self.formats[fmt], n)


class Command(BaseCommand):
    # Django's system checks import every URLconf, view and consumer module to check them: +65 MB of RSS
    # before the first row (159 -> 224 MB, measured), in a command that reads the database and writes
    # files. `manage.py check` and the server still run them.
    requires_system_checks = []
    help = ("Write a dataset snapshot: DPO, reward, KTO and SFT rows in TRL's conversational form, as JSONL and "
            "Parquet, with a dataset card and a manifest (docs/datasets.md).")

    def add_arguments(self, parser):
        parser.add_argument("--out", required=True, type=Path, help="A new (or empty) folder for the snapshot.")
        parser.add_argument("--formats", type=_names(FORMATS, BAD_FORMAT), default=list(FORMATS),
                            help="Comma-separated: " + ",".join(FORMATS) + " (default: all).")
        parser.add_argument("--since", type=_moment, help="Only signals recorded on or after this date.")
        parser.add_argument("--until", type=lambda v: _moment(v, end_of_day=True),
                            help="Only signals recorded before this moment (a bare date includes that day).")
        parser.add_argument("--model-version", dest="model_versions", action="append", default=[],
                            help="Only rows with an answer from this model version (repeatable).")
        parser.add_argument("--source", dest="sources", action="append", type=_names(ALL_SOURCES, BAD_SOURCE),
                            default=[], help="Only rows of these sources (comma-separated, repeatable): "
                            + ", ".join(ALL_SOURCES) + ".")
        parser.add_argument("--review", choices=["approved", "not-excluded"], default="not-excluded",
                            help="approved: only rows a reviewer approved or relabelled; not-excluded (default): "
                            "everything a reviewer did not exclude.")
        parser.add_argument("--holdout", type=_holdout, default=0.1, help="Fraction of prompts held out (default 0.1).")
        parser.add_argument("--seed", type=int, default=0, help="Seed of the held-out split (default 0).")

    def handle(self, *args, out: Path, formats, since, until, model_versions, sources, review, holdout, seed,
               **options):
        export_options = ExportOptions(
            formats=tuple(f for f in FORMATS if f in formats), since=since, until=until,
            model_versions=tuple(model_versions), sources=tuple(s for group in sources for s in group),
            review=review, holdout=holdout, seed=seed,
        )
        console = Console(file=self.stdout._out, width=110)
        columns = (TextColumn("{task.description:<30}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
        with Progress(*columns, console=Console(file=self.stderr._out)) as bars:
            try:
                manifest = export_snapshot(out=out, options=export_options,
                                           progress=RichProgress(bars, export_options.formats))
            except FileExistsError as error:
                raise CommandError(str(error)) from None
        table = Table(title=f"rows (seed {seed}, holdout {holdout})")
        for column in ("format", "train", "test", "duplicates dropped"):
            table.add_column(column, justify="left" if column == "format" else "right")
        for fmt, train, test, duplicates in summary_rows(manifest):
            table.add_row(fmt, str(train), str(test), str(duplicates))
        console.print(table)
        console.print(f"Wrote {len(manifest['files'])} files and manifest.json to {out}")
