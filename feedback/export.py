"""Dataset export: preference pairs as TRL's conversational preference rows."""

import json
from collections.abc import Callable
from pathlib import Path

from feedback.models import PreferencePair

DPO_FILE = "preferences.jsonl"


def exportable_pairs():
    return PreferencePair.objects.exclude(review_status=PreferencePair.ReviewStatus.EXCLUDED).order_by("id")


def pair_row(pair: PreferencePair) -> dict:
    """One row of TRL's conversational preference format (DPOTrainer): prompt / chosen / rejected,
    each a list of {"role", "content"} messages."""
    return {"prompt": pair.prompt, "chosen": pair.chosen, "rejected": pair.rejected}


def export_preferences(*, out_dir: Path, on_row: Callable[[], None] | None = None) -> Path:
    """Write every non-excluded pair to out_dir/preferences.jsonl; returns the file's path."""
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / DPO_FILE
    with path.open("w", encoding="utf-8") as handle:
        for pair in exportable_pairs().iterator():
            handle.write(json.dumps(pair_row(pair), ensure_ascii=False) + "\n")
            if on_row:
                on_row()
    return path
