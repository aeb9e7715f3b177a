"""A real saved model of Kiln's own, made on the spot for tests (no weights can be downloaded anywhere
Kiln runs): a tokenizer trained on the corpus and a tiny Qwen2 model, in the standard folder layout
that transformers, PEFT and vLLM load."""

import os
import shutil
import tempfile
from pathlib import Path

from training.base_model import bootstrap, create_untrained

_trained: Path | None = None


def make_tiny_base(tmp_path: Path, *, trained: bool = False) -> Path:
    """An untrained tiny base in `tmp_path` (a few seconds); with trained=True, one that went through a
    few SFT steps on the spec corpus, made once per test session and shared (treat it as read-only)."""
    global _trained
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    if not trained:
        return create_untrained(Path(tmp_path) / "tiny-base", size="tiny")
    if _trained is None or not (_trained / "config.json").exists():
        folder = Path(tempfile.mkdtemp(prefix="kiln-tiny-trained-")) / "tiny-base"
        try:
            bootstrap(folder, size="tiny", target="spec", eval_n=0, progress=False)
        except BaseException:
            shutil.rmtree(folder.parent, ignore_errors=True)
            raise
        _trained = folder
    return _trained
