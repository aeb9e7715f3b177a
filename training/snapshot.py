"""A dataset snapshot: every format as JSONL and Parquet, a dataset card and a manifest, written in one
streaming pass over the signals (docs/datasets.md).

Memory stays flat whatever the size of the tables: signals are read a chunk at a time, rows are
encoded once (orjson) into small batches that a writer thread appends to the JSONL file and, parsed by
Arrow's JSON reader, to the Parquet file in row groups (pyarrow's ParquetWriter); the hashes seen for
deduplication are 8 bytes each in sorted NumPy arrays, not Python objects. The same database and
options give the same bytes: rows are read in primary-key order, one thread writes every file in
order, nothing depends on the clock, and the manifest records the git commit of the code that wrote
them.
"""

from __future__ import annotations

import ctypes
import gc
import hashlib
import json
import os
import shutil
import subprocess
import tempfile
from collections import Counter, defaultdict, deque
from collections.abc import Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.json as pa_json
import pyarrow.parquet as pq
from django.conf import settings

from training import card
from training.mapping import KTO, MAPPING, PREFERENCE, REVIEW_KEEPS, SFT, IdHasher, Row, rows_for, split_of
from training.selectors import STREAMS, Window

# 2: review_decisions (the audit trail) and voter (user, staff or kiln) on every row.
SCHEMA_VERSION = 2
FORMATS = ("dpo", "reward", "kto", "sft")
FORMAT_KIND = {"dpo": PREFERENCE, "reward": PREFERENCE, "kto": KTO, "sft": SFT}
SPLITS = ("train", "test")
# Rows per Parquet row group and per JSONL write. Each batch in flight costs ~10x its JSON size while
# Arrow parses, encodes and compresses it: 500 rows (~2 MB) keep that small and writes still cheap.
BATCH_ROWS = 500
# Parsed batches per Parquet row group (2,000 rows). The writer keeps the metadata of every row group
# until the file closes, ~0.9 KB per column chunk (23 KB a row group of kto's 26 columns, measured), so
# one row group per 500-row batch grew RSS by ~50 MB at 300k pairs; parsed batches waiting for their
# row group cost about their size in Arrow memory (~2 MB each), whatever the size of the export.
ROW_GROUP_BATCHES = 4
GC_THRESHOLD = 10_000  # net new container objects between collections of the youngest generation
MANIFEST = "manifest.json"
CARD = "README.md"

OUT_NOT_EMPTY = "{path} already holds files. A snapshot is never overwritten: choose a new folder."

# --- Schemas: TRL's conversational columns, then the same metadata on every row ----------------------

MESSAGES = pa.list_(pa.struct([pa.field("role", pa.string()), pa.field("content", pa.string())]))
GENERATION = pa.struct([
    pa.field("id", pa.int64()),
    pa.field("model_version", pa.string()),
    pa.field("kind", pa.string()),
    pa.field("build_passed", pa.bool_()),
    pa.field("smoke_passed", pa.bool_()),
    pa.field("console_errors", pa.int64()),
    pa.field("render_ms", pa.int64()),
    pa.field("prompt_tokens", pa.int64()),
    pa.field("completion_tokens", pa.int64()),
])
DECISION = pa.struct([
    pa.field("reviewer", pa.string()),
    pa.field("action", pa.string()),
    pa.field("tags", pa.list_(pa.string())),
    pa.field("created_at", pa.string()),
])
METADATA = [
    pa.field("generations", pa.list_(GENERATION)),
    pa.field("turn", pa.string()),
    pa.field("project", pa.string()),
    pa.field("source", pa.string()),
    pa.field("voter", pa.string()),
    pa.field("review_status", pa.string()),
    pa.field("review_decisions", pa.list_(DECISION)),
    pa.field("prompt_group", pa.string()),
    pa.field("created_at", pa.string()),
]
SCHEMAS = {
    PREFERENCE: pa.schema([pa.field("prompt", MESSAGES), pa.field("chosen", MESSAGES), pa.field("rejected", MESSAGES),
                           *METADATA]),
    KTO: pa.schema([pa.field("prompt", MESSAGES), pa.field("completion", MESSAGES), pa.field("label", pa.bool_()),
                    *METADATA]),
    SFT: pa.schema([pa.field("messages", MESSAGES), *METADATA]),
}


@dataclass(frozen=True)
class ExportOptions:
    formats: tuple[str, ...] = FORMATS
    since: datetime | None = None
    until: datetime | None = None
    model_versions: tuple[str, ...] = ()
    sources: tuple[str, ...] = ()
    review: str = "not-excluded"
    holdout: float = 0.1
    seed: int = 0

    @property
    def kinds(self) -> set[str]:
        return {FORMAT_KIND[f] for f in self.formats}

    def filters(self) -> dict:
        return {
            "formats": list(self.formats),
            "since": self.since.isoformat() if self.since else None,
            "until": self.until.isoformat() if self.until else None,
            "model_versions": list(self.model_versions),
            "sources": list(self.sources),
            "review": self.review,
        }

    def drop_reason(self, row: Row) -> str | None:
        """Why `row` stays out of this snapshot, or None when it goes in."""
        status = row.data["review_status"]
        if status not in REVIEW_KEEPS[self.review]:
            return "excluded by a reviewer" if status == "excluded" else f"review status {status}"
        if self.sources and row.source not in self.sources:
            return "other source"
        if self.model_versions and not any(g["model_version"] in self.model_versions for g in row.data["generations"]):
            return "other model version"
        return None


class Progress:
    """What an export reports as it goes; the command draws it (rich), tests and benches ignore it."""

    def stream_started(self, stream: str, total: int | None) -> None:
        """`total`: about how many signals the stream holds (selectors.STREAMS), None when unknown."""

    def stream_advanced(self, stream: str, n: int) -> None: ...

    def stream_finished(self, stream: str) -> None: ...

    def rows_written(self, fmt: str, n: int) -> None: ...


@dataclass
class Stats:
    counts: dict = field(default_factory=lambda: defaultdict(Counter))  # kind -> split -> n
    by_source: dict = field(default_factory=lambda: defaultdict(lambda: defaultdict(Counter)))  # kind -> source -> split
    dropped: dict = field(default_factory=lambda: defaultdict(lambda: defaultdict(Counter)))  # kind -> reason -> source


class SeenRows:
    """Deduplication keys (64-bit hashes) already written, per row kind, in constant memory per row: 8
    bytes each in a sorted NumPy array, plus a Python set of the latest ones that is merged into the
    array when it reaches RECENT_LIMIT. A set of every key would cost ~70 bytes a row (+80 MB at 300k
    pairs); a SQLite table (the first version) cost more CPU than anything else in the export. Rows
    are checked a chunk at a time: one vectorised search of the array for the chunk, then the set."""

    # A set of 32,768 keys held ~2 MB per row kind (the ints and the table); 4,096 keys measured 7 MB
    # less peak RSS at 100k pairs, and merging more often costs little: each merge is one linear pass.
    RECENT_LIMIT = 1 << 12

    def __init__(self):
        self._sorted: dict[str, np.ndarray] = defaultdict(lambda: np.empty(0, dtype=np.uint64))
        self._recent: dict[str, set[int]] = defaultdict(set)

    def first_seen(self, kind: str, keys: list[int]) -> list[bool]:
        """For each key in order, True the first time (kind, key) is seen (earlier keys of the same
        call included)."""
        merged, recent = self._sorted[kind], self._recent[kind]
        if merged.size:
            wanted = np.fromiter(keys, dtype=np.uint64, count=len(keys))
            at = merged.searchsorted(wanted).clip(max=merged.size - 1)
            known = (merged[at] == wanted).tolist()
        else:
            known = [False] * len(keys)
        first = []
        for key, old in zip(keys, known):
            new = not old and key not in recent
            if new:
                recent.add(key)
            first.append(new)
        if len(recent) >= self.RECENT_LIMIT:
            # The recent keys are in neither the array nor each other: sorted, they go in at their places
            # in one pass (np.insert), rather than re-sorting the whole array.
            added = np.fromiter(recent, dtype=np.uint64, count=len(recent))
            added.sort()
            self._sorted[kind] = np.insert(merged, merged.searchsorted(added), added)
            recent.clear()
        return first


# malloc rather than Arrow's default jemalloc pool: jemalloc keeps freed pages of every parsing
# thread's arena for reuse, which measured here as ~40 MB more peak RSS for the same export.
_MEMORY_POOL = pa.system_memory_pool()

# glibc's malloc keeps the pages freed by Arrow's parsing threads in per-thread arenas, fragmented:
# without trimming, RSS crept from ~260 to 320 MB over a 100k-pair export (255-290 MB with it).
# malloc_trim(0) hands the free pages of every arena back to the kernel; the writer thread calls it
# every TRIM_EVERY batches.
TRIM_EVERY = 8
try:
    _malloc_trim = ctypes.CDLL("libc.so.6").malloc_trim
except (OSError, AttributeError):  # not glibc: nothing to trim
    _malloc_trim = None


# Min/max statistics only where a reader can use them (short metadata columns). On the message texts
# they are kilobytes per row group, kept in the writer's memory until the file closes: with them, peak
# RSS grew with the size of the export (+23 % from 100k to 300k pairs).
_STATISTICS = {"label", "turn", "project", "source", "voter", "review_status", "prompt_group", "created_at"}


class BackgroundWriter:
    """One thread that writes full batches while the main thread reads and maps the next ones. Arrow's
    JSON reader and the Parquet writer release the GIL, so on two cores the two overlap. At most
    `max_pending` batches wait (bounded memory); a failure is raised in the main thread."""

    def __init__(self, max_pending: int = 2):
        self.pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="snapshot-writer")
        self.pending: deque[Future] = deque()
        self.max_pending = max_pending
        self.submitted = 0

    def submit(self, fn, *args) -> None:
        self.pending.append(self.pool.submit(fn, *args))
        self.submitted += 1
        if _malloc_trim is not None and self.submitted % TRIM_EVERY == 0:
            self.pending.append(self.pool.submit(_malloc_trim, 0))
        while len(self.pending) > self.max_pending:
            self.pending.popleft().result()

    def close(self) -> None:
        try:
            while self.pending:
                self.pending.popleft().result()
        finally:
            self.pool.shutdown(cancel_futures=True)


class SplitFiles:
    """One split of one row kind: `<fmt>/<split>.jsonl` and `.parquet`, written as rows arrive. Rows
    are kept as JSON lines until a batch is full; the writer thread then appends the batch to the JSONL
    file, parses it with Arrow's JSON reader against the schema (C++ off the GIL; converting the Python
    dicts instead holds the GIL and makes pyarrow import pandas, +45 MB); every ROW_GROUP_BATCHES parsed
    batches go to the Parquet file as one row group. Formats that hold the same rows (reward beside
    dpo) get hard links to the same files when they are closed."""

    def __init__(self, folder: Path, formats: list[str], split: str, schema: pa.Schema, writer: BackgroundWriter):
        self.paths = [folder / fmt / f"{split}" for fmt in formats]
        for path in self.paths:
            path.parent.mkdir(parents=True, exist_ok=True)
        self.writer = writer
        self.parse_options = pa_json.ParseOptions(explicit_schema=schema, unexpected_field_behavior="error")
        self.jsonl = self.paths[0].with_suffix(".jsonl").open("wb")
        # The JSONL file is hashed as it is written (by the writer thread), not read back for the manifest.
        self.jsonl_sha256 = hashlib.sha256()
        self.parquet_sha256 = ""
        # No dictionary encoding: building a dictionary of every message text in a row group (up to
        # 1 MB a column before it gives up) cost 10 MB of peak RSS, and zstd already finds what repeats
        # (Kiln's system prompt in every row): the files came out the same size without it.
        self.parquet = pq.ParquetWriter(
            self.paths[0].with_suffix(".parquet"), schema, compression="zstd", memory_pool=_MEMORY_POOL,
            write_statistics=[name for name in schema.names if name in _STATISTICS], use_dictionary=False,
        )
        # The batch's JSON lines, appended as rows arrive: each line's own bytes (which orjson allocates
        # at up to twice their size, never shrunk) are freed at once instead of held until the batch
        # is full, and the writer thread gets one block to write, hash and parse.
        self.block = bytearray()
        self.rows = 0
        self.parsed: list[pa.Table] = []  # batches of the next row group (writer thread only)

    def write(self, row: Row) -> None:
        # Row.line() encodes with orjson: several times faster than json.dumps, deterministic, UTF-8 kept.
        self.block += row.line()
        self.block += b"\n"
        self.rows += 1
        if self.rows >= BATCH_ROWS:
            self.flush()

    def flush(self) -> None:
        if self.rows:
            self.writer.submit(self._write_batch, self.block)
            self.block = bytearray()
            self.rows = 0

    def _write_batch(self, block: bytearray) -> None:
        self.jsonl.write(block)
        self.jsonl_sha256.update(block)
        self.parsed.append(pa_json.read_json(pa.BufferReader(block), parse_options=self.parse_options,
                                             memory_pool=_MEMORY_POOL))
        if len(self.parsed) >= ROW_GROUP_BATCHES:
            self._write_row_group()

    def _write_row_group(self) -> None:
        if self.parsed:
            self.parquet.write_table(pa.concat_tables(self.parsed))
            self.parsed = []

    def close(self) -> None:
        """Flush the last batch (the caller waits for the writer before linking)."""
        self.flush()
        self.writer.submit(self._close_files)

    def _close_files(self) -> None:
        self._write_row_group()
        self.parquet.close()
        self.jsonl.close()
        self.parquet_sha256 = file_entry(self.paths[0].with_suffix(".parquet"))["sha256"]
        for path in self.paths[1:]:
            for suffix in (".jsonl", ".parquet"):
                os.link(self.paths[0].with_suffix(suffix), path.with_suffix(suffix))

    def digests(self) -> dict[Path, str]:
        """sha256 of each file written (linked ones too), once closed."""
        found = {}
        for path in self.paths:
            found[path.with_suffix(".jsonl")] = self.jsonl_sha256.hexdigest()
            found[path.with_suffix(".parquet")] = self.parquet_sha256
        return found


def export_snapshot(*, out: Path, options: ExportOptions, progress: Progress | None = None) -> dict:
    """Write a snapshot into `out` (a new or empty folder) and return its manifest. The folder
    appears whole or not at all: files are written next to it and moved into place at the end."""
    progress = progress or Progress()
    out = out.resolve()
    if out.exists() and any(out.iterdir()):
        raise FileExistsError(OUT_NOT_EMPTY.format(path=out))
    out.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out.name}.partial-", dir=out.parent))
    # The export makes millions of short-lived objects, so Python's cyclic GC runs thousands of times,
    # and its older generations walked the ~180k objects Django and the imports had made before: at
    # 100k pairs, 8.8 of the main thread's 33 CPU-seconds went to GC, 2.2 with those objects frozen
    # (measured). Unfreezing hands them back to the collector afterwards. The youngest generation was
    # still collected every 700 net new containers: 6,451 times at 100k pairs, and 586 collections of
    # the next one, ~1.6 s; the export's objects are freed by reference counting as each chunk ends,
    # so with a threshold of GC_THRESHOLD the collector ran 3 times (cycles still get collected).
    gc.freeze()
    thresholds = gc.get_threshold()
    gc.set_threshold(GC_THRESHOLD, *thresholds[1:])
    try:
        stats, digests = _write_rows(staging, options, progress)
        manifest = _write_card_and_manifest(staging, options, stats, digests)
        if out.exists():
            out.rmdir()
        os.replace(staging, out)
    finally:
        gc.set_threshold(*thresholds)
        gc.unfreeze()
        if staging.exists():
            shutil.rmtree(staging)
    return manifest


def _write_rows(folder: Path, options: ExportOptions, progress: Progress) -> tuple[Stats, dict[Path, str]]:
    stats = Stats()
    ids = IdHasher(settings.SECRET_KEY)
    formats_of = {kind: [f for f in options.formats if FORMAT_KIND[f] == kind] for kind in options.kinds}
    writer = BackgroundWriter()
    files = {kind: {split: SplitFiles(folder, formats, split, SCHEMAS[kind], writer) for split in SPLITS}
             for kind, formats in formats_of.items()}
    window = Window(options.since, options.until)
    reported = Counter()
    seen = SeenRows()
    try:
        for stream, (total, read) in STREAMS.items():
            if not any(made.kind in files for (k, _), rule in MAPPING.items() if k == stream for made in rule.yields):
                continue  # nothing this stream yields was asked for
            progress.stream_started(stream, total(window))
            for signals in read(window):
                _place([row for signal in signals for row in rows_for(signal, ids=ids) if row.kind in files],
                       options, stats, seen, files)
                progress.stream_advanced(stream, len(signals))
                for kind, formats in formats_of.items():
                    written = sum(stats.counts[kind].values())
                    for fmt in formats:
                        progress.rows_written(fmt, written - reported[fmt])
                        reported[fmt] = written
            progress.stream_finished(stream)
        for by_split in files.values():
            for split_files in by_split.values():
                split_files.close()
    finally:
        writer.close()
    digests = {path: digest for by_split in files.values() for split_files in by_split.values()
               for path, digest in split_files.digests().items()}
    return stats, digests


def _place(rows: list[Row], options: ExportOptions, stats: Stats, seen: SeenRows,
           files: dict[str, dict[str, SplitFiles]]) -> None:
    """Write a chunk's rows, in order, to their split's files, or count why they were dropped."""
    kept: dict[str, list[Row]] = defaultdict(list)
    for row in rows:
        reason = options.drop_reason(row)
        if reason is None:
            kept[row.kind].append(row)
        else:
            stats.dropped[row.kind][reason][row.source] += 1
    for kind, candidates in kept.items():
        counts, by_source = stats.counts[kind], stats.by_source[kind]
        for row, first in zip(candidates, seen.first_seen(kind, [row.dedup_key for row in candidates])):
            if not first:
                stats.dropped[kind]["duplicate (prompt, completion)"][row.source] += 1
                continue
            split = split_of(row.group, seed=options.seed, holdout=options.holdout)
            files[kind][split].write(row)
            counts[split] += 1
            by_source[row.source][split] += 1


def _write_card_and_manifest(folder: Path, options: ExportOptions, stats: Stats, digests: dict[Path, str]) -> dict:
    counts = {fmt: {split: stats.counts[FORMAT_KIND[fmt]][split] for split in SPLITS} for fmt in options.formats}
    by_source = {
        fmt: {source: {split: n[split] for split in SPLITS} for source, n in sorted(stats.by_source[FORMAT_KIND[fmt]].items())}
        for fmt in options.formats
    }
    dropped = {
        fmt: {reason: dict(sorted(n.items())) for reason, n in sorted(stats.dropped[FORMAT_KIND[fmt]].items())}
        for fmt in options.formats
    }
    manifest = {
        "schema_version": SCHEMA_VERSION,
        "kiln_commit": kiln_commit(),
        "filters": options.filters(),
        "seed": options.seed,
        "holdout": options.holdout,
        "split": "sha256(seed:prompt_group) < holdout -> test; prompt_group = the normalised opening request",
        "counts": counts,
        "counts_by_source": by_source,
        "dropped": dropped,
        "files": {},
    }
    num_bytes = {fmt: {split: _uncompressed_bytes(folder / fmt / f"{split}.parquet") for split in SPLITS}
                 for fmt in options.formats}
    schemas = {fmt: SCHEMAS[FORMAT_KIND[fmt]] for fmt in options.formats}
    (folder / CARD).write_text(card.render(manifest, schemas, num_bytes), encoding="utf-8")
    paths = [CARD] + [f"{fmt}/{split}.{ext}" for fmt in options.formats for split in SPLITS for ext in ("jsonl", "parquet")]
    manifest["files"] = {path: file_entry(folder / path, digests.get(folder / path)) for path in paths}
    for fmt in options.formats:
        for split in SPLITS:
            for ext in ("jsonl", "parquet"):
                manifest["files"][f"{fmt}/{split}.{ext}"]["rows"] = counts[fmt][split]
    (folder / MANIFEST).write_text(json.dumps(manifest, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return manifest


def _uncompressed_bytes(path: Path) -> int:
    metadata = pq.ParquetFile(path).metadata
    return sum(metadata.row_group(i).total_byte_size for i in range(metadata.num_row_groups))


def file_entry(path: Path, sha256: str | None = None) -> dict:
    """sha256 and size of a file; the hash is read from disk unless the writer already made it."""
    if sha256 is None:
        digest = hashlib.sha256()
        with path.open("rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
        sha256 = digest.hexdigest()
    return {"sha256": sha256, "bytes": path.stat().st_size}


def kiln_commit() -> str:
    """The commit of the code that wrote the snapshot; "unknown" outside a git checkout."""
    try:
        result = subprocess.run(["git", "rev-parse", "HEAD"], cwd=settings.BASE_DIR, capture_output=True, text=True,
                                timeout=10, check=False)
    except OSError:
        return "unknown"
    return result.stdout.strip() if result.returncode == 0 else "unknown"


def summary_rows(manifest: dict) -> Iterable[tuple[str, int, int, int]]:
    """(format, train rows, test rows, rows dropped as duplicates) for the summary table."""
    for fmt, counts in manifest["counts"].items():
        duplicates = sum(manifest["dropped"][fmt].get("duplicate (prompt, completion)", {}).values())
        yield fmt, counts["train"], counts["test"], duplicates
