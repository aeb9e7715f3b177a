"""Bench: export_dataset's streaming writers against a naive export that loads every row first.

    .venv/bin/python bench/export_dataset.py                         # 100k pairs, streaming and naive
    .venv/bin/python bench/export_dataset.py --sizes 100000,300000   # and is peak RSS flat from 100k to 300k?

For each size, a scratch SQLite database gets that many preference pairs of realistic size (Kiln's
system prompt and a request, two answers of about 1 KB each: about 4 KB of messages a pair), their two
generations, the user's accept and reject, and some failed builds and output defects. Each export
then runs in a fresh process that reports its wall time, CPU time and peak RSS (ru_maxrss): the
streaming one is `manage.py export_dataset` itself (its Command, called in-process), every format (dpo,
reward, kto, sft) as JSONL and Parquet, card and manifest. The naive export reads the same
signals with the same mapping but keeps every row in memory and writes each file as one table.
Databases are kept under --workdir and reused by later runs; exports are deleted once measured.
Goal (docs/datasets.md): <= 30 s for all four formats, peak RSS <= 300 MB, and within 20 % from 100k to 300k.
"""

import argparse
import json
import os
import random
import resource
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
FILL_BATCH = 2000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="100000", help="Comma-separated numbers of pairs (default 100000).")
    parser.add_argument("--naive-sizes", default=None,
                        help="Sizes to run the naive export at too (default: the first size only; it needs GBs).")
    parser.add_argument("--workdir", type=Path, default=Path("/tmp/kiln-bench-export"))
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    naive_sizes = [int(s) for s in args.naive_sizes.split(",")] if args.naive_sizes else sizes[:1]
    args.workdir.mkdir(parents=True, exist_ok=True)

    results = []
    for size in sizes:
        db = args.workdir / f"pairs-{size}.sqlite3"
        if not (args.workdir / f"pairs-{size}.done").exists():
            started = time.perf_counter()
            db.unlink(missing_ok=True)
            _child(db, "fill", str(size))
            (args.workdir / f"pairs-{size}.done").write_text("filled\n")
            print(f"filled {size} pairs in {time.perf_counter() - started:.0f} s ({db.stat().st_size / 2**20:.0f} MB)",
                  flush=True)
        _child(db, "migrate")
        for mode in ("streaming", "naive") if size in naive_sizes else ("streaming",):
            out = args.workdir / f"export-{size}-{mode}"
            shutil.rmtree(out, ignore_errors=True)
            result = json.loads(_child(db, "export", mode, str(out)).strip().splitlines()[-1])
            result.update(size=size, mode=mode)
            results.append(result)
            print(json.dumps(result), flush=True)
            shutil.rmtree(out, ignore_errors=True)

    print()
    print(f"{'pairs':>8} {'export':>10} {'seconds':>8} {'CPU s':>6} {'load':>5} {'peak RSS MB':>12} "
          f"{'before export MB':>17} {'rows dpo/reward/kto/sft':>26} {'output MB':>10}")
    for r in results:
        rows = "/".join(str(r["rows"][f]) for f in ("dpo", "reward", "kto", "sft"))
        print(f"{r['size']:>8} {r['mode']:>10} {r['seconds']:>8.1f} {r['cpu_seconds']:>6.1f} "
              f"{r['load_average']:>5.1f} {r['peak_rss_mb']:>12.0f} "
              f"{r['rss_before_mb']:>17.0f} {rows:>26} {r['output_mb']:>10.0f}")
    streaming = {r["size"]: r for r in results if r["mode"] == "streaming"}
    naive = {r["size"]: r for r in results if r["mode"] == "naive"}
    for size in naive:
        print(f"{size} pairs: naive peak RSS / streaming = {naive[size]['peak_rss_mb'] / streaming[size]['peak_rss_mb']:.1f}x")
    if len(streaming) > 1:
        low, high = min(streaming), max(streaming)
        print(f"streaming peak RSS {high} vs {low} pairs: "
              f"{streaming[high]['peak_rss_mb'] / streaming[low]['peak_rss_mb'] - 1:+.0%}")


def _child(db: Path, *args: str) -> str:
    env = {**os.environ, "DATABASE_URL": f"sqlite:///{db}", "KILN_INSTANCE": "bench",
           "DJANGO_SETTINGS_MODULE": "config.settings"}
    done = subprocess.run([sys.executable, __file__, "--child", *args], env=env, check=True, stdout=subprocess.PIPE,
                          text=True)
    return done.stdout


# --- In the child process --------------------------------------------------------------------------

def child(args: list[str]) -> None:
    import django

    django.setup()
    if args[0] == "fill":
        fill(int(args[1]))
    elif args[0] == "migrate":
        # A database filled by an older checkout: migrated in a process of its own, so the export's
        # RSS does not count the migration loader's.
        from django.core.management import call_command

        call_command("migrate", verbosity=0)
    else:
        measure(args[1], Path(args[2]))


def fill(pairs: int) -> None:
    from django.contrib.auth import get_user_model
    from django.core.management import call_command
    from django.db import transaction

    from builder.models import AppVersion, Project, Turn
    from feedback.models import Feedback, PreferencePair
    from generation.models import Generation, ModelVersion, OutputDefect
    from generation.prompts import build_messages
    from sandbox.models import Build

    call_command("migrate", verbosity=0)
    rng = random.Random(0)
    user = get_user_model().objects.create_user(username="bench", password="bench-pass-123")
    versions = [ModelVersion.objects.get(name="default"),
                ModelVersion.objects.create(name="kiln-round-1", base_model="kiln-round-1")]
    nouns = [_word(rng) for _ in range(5000)]
    sources = ["pick"] * 4 + ["regenerate"] * 3 + ["accept_vs_reject"] * 2 + ["repair"]
    for start in range(0, pairs, FILL_BATCH):
        n = min(FILL_BATCH, pairs - start)
        with transaction.atomic():
            project = Project.objects.create(owner=user, name=f"Bench {start}")
            prompts = [_prompt(rng, nouns) for _ in range(n)]
            turns = Turn.objects.bulk_create([Turn(project=project, prompt=p, seed=i) for i, p in enumerate(prompts)])
            generations = []
            for turn in turns:
                messages = build_messages(history=[], files={}, prompt=turn.prompt)
                for candidate in (1, 2):
                    generations.append(Generation(
                        turn=turn, model_version=versions[rng.random() < 0.3], candidate=candidate, seed=candidate,
                        status=Generation.Status.DONE, request_messages=messages, raw_output=_answer(rng, nouns),
                        prompt_tokens=600, completion_tokens=260, kind=Generation.Kind.COMPARE,
                    ))
            generations = Generation.objects.bulk_create(generations)
            chosen, rejected = generations[0::2], generations[1::2]
            feedback = Feedback.objects.bulk_create(
                [Feedback(user=user, generation=g, verdict="accept") for g in chosen]
                + [Feedback(user=user, generation=g, verdict="reject") for g in rejected])
            PreferencePair.objects.bulk_create([
                PreferencePair(prompt=c.request_messages, chosen=[{"role": "assistant", "content": c.raw_output}],
                               rejected=[{"role": "assistant", "content": r.raw_output}], chosen_generation=c,
                               rejected_generation=r, source=rng.choice(sources), feedback=f,
                               review_status=rng.choice(["pending"] * 6 + ["approved"] * 3 + ["excluded"]))
                for c, r, f in zip(chosen, rejected, feedback[:n])
            ])
            # Some answers failed to build or carried a defect: automatic negatives.
            broken = [g for g in rejected if rng.random() < 0.05]
            app_versions = AppVersion.objects.bulk_create(
                [AppVersion(project=project, manifest={}, digest=f"{g.id:064d}") for g in broken])
            for g, v in zip(broken, app_versions):
                g.app_version = v
            Generation.objects.bulk_update(broken, ["app_version"])
            Build.objects.bulk_create([
                Build(app_version=v, status=Build.Status.FAILED, failed_step="bundle", build_passed=False,
                      log="x" * 500, error="src/App.jsx:3: Unexpected token") for v in app_versions])
            OutputDefect.objects.bulk_create([
                OutputDefect(generation=g, kind=rng.choice(["lazy_placeholder", "code_in_chat", "cut_off"]),
                             message="found by the parser") for g in generations if rng.random() < 0.02])


def _word(rng: random.Random) -> str:
    return "".join(rng.choice("bdfgklmnprstvz") + rng.choice("aeiou") for _ in range(rng.randint(2, 4)))


def _prompt(rng: random.Random, nouns: list[str]) -> str:
    noun, other = rng.choice(nouns), rng.choice(nouns)
    return (f"Build me an app to keep track of {noun}s and their {other}s: a list I can filter by status, "
            f"a form to add a {noun}, and a page with totals per {other}.")


def _answer(rng: random.Random, nouns: list[str]) -> str:
    noun = rng.choice(nouns).capitalize()
    fields = ", ".join(f'{{"name": "{rng.choice(nouns)}", "type": "string"}}' for _ in range(4))
    return (
        f"Here is a {noun} tracker with a filterable list and a form.\n"
        f'<file path="app.json">\n{{"name": "{noun} tracker", "entities": [{{"name": "{noun}", "fields": [{fields}]}}]}}\n</file>\n'
        f'<file path="src/App.jsx">\nimport {{ useEffect, useState }} from "react";\n\n'
        f"export default function App() {{\n  const [items, setItems] = useState([]);\n"
        f'  useEffect(() => {{ fetch("/api/entities/{noun}").then((r) => r.json()).then(setItems); }}, []);\n'
        f"  return (\n    <main>\n      <h1>{noun}s</h1>\n      <ul>{{items.map((item) => <li key={{item.id}}>"
        f"{{item.name}}</li>)}}</ul>\n    </main>\n  );\n}}\n</file>\n"
        + "".join(f"<!-- {rng.choice(nouns)} -->" for _ in range(12))
    )


def measure(mode: str, out: Path) -> None:
    # The streaming export runs as `manage.py export_dataset` (progress bars drawn to nowhere, the
    # summary table), so the figures are the command's, not only export_snapshot's.
    from django.core.management import call_command

    from training.management.commands import export_dataset

    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    cpu_started = time.process_time()
    started = time.perf_counter()
    if mode == "streaming":
        with open(os.devnull, "w") as nowhere:
            call_command(export_dataset.Command(), "--out", str(out), stdout=nowhere, stderr=nowhere)
        manifest = json.loads((out / "manifest.json").read_text())
    else:
        manifest = naive_export(out)
    seconds = time.perf_counter() - started
    print(json.dumps({
        "seconds": round(seconds, 1),
        # CPU seconds of this process (threads included): what the export costs on a machine shared
        # with other work, where wall time also counts the waiting for a core.
        "cpu_seconds": round(time.process_time() - cpu_started, 1),
        "load_average": os.getloadavg()[0],
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
        "rss_before_mb": round(rss_before),
        "rows": {fmt: sum(c.values()) for fmt, c in manifest["counts"].items()},
        "output_mb": round(sum(p.stat().st_size for p in out.rglob("*") if p.is_file()) / 2**20),
    }))


def naive_export(out: Path) -> dict:
    """What the streaming export avoids: every row in memory (as its JSON line), then each file written
    as one table built from all its rows at once."""
    import orjson
    import pyarrow as pa
    import pyarrow.parquet as pq
    from django.conf import settings

    from training.mapping import IdHasher, rows_for, split_of
    from training.selectors import STREAMS, Window
    from training.snapshot import FORMAT_KIND, FORMATS, SCHEMAS, SPLITS

    ids = IdHasher(settings.SECRET_KEY)
    rows = [row for _stream, (_total, read) in STREAMS.items() for signals in read(Window())
            for signal in signals for row in rows_for(signal, ids=ids)]
    seen, kept = set(), {kind: {split: [] for split in SPLITS} for kind in SCHEMAS}
    for row in rows:
        if row.data["review_status"] != "excluded" and (row.kind, row.dedup_key) not in seen:
            seen.add((row.kind, row.dedup_key))
            kept[row.kind][split_of(row.group, seed=0, holdout=0.1)].append(row.line())
    del rows
    counts = {}
    for fmt in FORMATS:
        folder = out / fmt
        folder.mkdir(parents=True)
        for split in SPLITS:
            data = [orjson.loads(line) for line in kept[FORMAT_KIND[fmt]][split]]
            pq.write_table(pa.Table.from_pylist(data, schema=SCHEMAS[FORMAT_KIND[fmt]]), folder / f"{split}.parquet")
            (folder / f"{split}.jsonl").write_text("".join(json.dumps(d, ensure_ascii=False) + "\n" for d in data))
            del data
        counts[fmt] = {split: len(kept[FORMAT_KIND[fmt]][split]) for split in SPLITS}
    return {"counts": counts}


if __name__ == "__main__":
    if sys.argv[1:2] == ["--child"]:
        child(sys.argv[2:])
    else:
        main()
