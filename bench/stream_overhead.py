"""What Kiln's streaming path adds to a model's tokens.

In one run, against the same local OpenAI-compatible server (Kiln's offline model, paced like a real
one), at 1 and at 50 concurrent generations:

- added latency per frame: every frame carries the wall-clock moment its first token reached the
  generation worker (`t`), and the websocket client subtracts it from the moment the frame arrived,
  so each frame's trip (parser -> Redis -> Channels consumer -> websocket) is measured exactly;
- time to first frame: Kiln's first frame since the prompt was sent, against the time to first
  content token of the same completion read directly (httpx, no SDK) under the same load;
- CPU per frame delivered, for each process, so a regression shows where it happened.

    .venv/bin/python bench/stream_overhead.py [--concurrency 1 50] [--token-delay-ms 20] [--max-tokens 1200]

Goal: <= 5 ms p50 and <= 25 ms p99 added per frame, and <= 2x that at 50 concurrent.
"""

import argparse
import asyncio
import json
import os
import statistics
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.settings")

import django  # noqa: E402

django.setup()

import httpx  # noqa: E402
import orjson  # noqa: E402
import redis  # noqa: E402
import websockets  # noqa: E402

from bench.services import ensure_redis  # noqa: E402
from generation.prompts import build_messages  # noqa: E402
from generation.protocol import FileDelta, StreamParser, TextDelta  # noqa: E402
from tests.stack import Stack  # noqa: E402

PROMPT = "a todo list where I can add, tick and delete tasks"
KILN_PROCESSES = ("worker-generation", "web", "redis")
SESSIONS = """
import json
from django.contrib.auth.models import User
from django.contrib.sessions.backends.db import SessionStore
from builder.models import Project
user = User.objects.create_user('bench')
session = SessionStore()
session.update({'_auth_user_id': str(user.pk), '_auth_user_hash': user.get_session_auth_hash(),
                '_auth_user_backend': 'django.contrib.auth.backends.ModelBackend'})
session.create()
projects = [Project.objects.create(owner=user, name=f'bench {i}').id for i in range(N)]
print(json.dumps({'session': session.session_key, 'projects': projects}))
"""


def content_length(event) -> int:
    return len(event.text) if isinstance(event, (TextDelta, FileDelta)) else 0


async def side_by_side(stack: Stack, session: str, project_id: int, executor, max_tokens: int):
    """One generation through Kiln and, started as soon as Kiln announces its seed, the same
    completion read directly from the model server: [(seconds since the prompt, content chars so
    far, seconds since the worker had the frame's first token)] and the direct reader's time to its
    first content token. Both run under the same load, so their difference is what Kiln's path adds
    before the first frame."""
    headers = {"Cookie": f"sessionid={session}", "Origin": stack.url}
    base_url = f"http://127.0.0.1:{stack.blueprint_port}/v1"
    async with websockets.connect(f"ws://127.0.0.1:{stack.port}/ws/projects/{project_id}/",
                                  additional_headers=headers, max_size=None) as socket:
        json.loads(await socket.recv())  # the project's state
        sent = time.monotonic()
        await socket.send(json.dumps({"type": "prompt", "text": PROMPT}))
        reference, timeline, chars = None, [], 0
        async for raw in socket:
            message = orjson.loads(raw)  # the bench's own clients: as little CPU as they can
            if message["type"] == "generation" and executor is not None and reference is None:
                # The same seed, so the same answer: where its first content token falls depends on it.
                seed = message["generation"]["seed"]
                reference = asyncio.get_running_loop().run_in_executor(executor, direct_first_token, base_url, seed)
            elif message["type"] == "frame":
                if message["kind"] in ("text", "file_delta"):
                    chars += len(message["text"])
                    timeline.append((time.monotonic() - sent, chars, time.time() - message["t"]))
                if message["kind"] in ("failed", "cancelled") or message.get("final"):
                    return timeline, (await reference if reference else None)


def direct_first_token(base_url: str, seed: int) -> float:
    """Seconds from sending the request to the first content token, reading the server's stream
    directly (plain httpx and JSON, the least a client can do) on a warm connection."""
    body = {"model": "kiln-blueprint", "messages": build_messages(history=[], files={}, prompt=PROMPT),
            "stream": True, "seed": seed, "max_tokens": 64}
    with httpx.Client(base_url=base_url, timeout=30) as client:
        client.get("/models").raise_for_status()  # warm, like Kiln's worker: the connection is open
        sent = time.monotonic()
        with client.stream("POST", "/chat/completions", json=body) as response:
            parser = StreamParser()
            for line in response.iter_lines():
                if not line.startswith("data:") or line.endswith("[DONE]"):
                    continue
                for choice in json.loads(line[5:])["choices"]:
                    content = (choice.get("delta") or {}).get("content")
                    if content and any(map(content_length, parser.feed(content))):
                        return time.monotonic() - sent
    raise RuntimeError("the model server sent no content")


def cpu_by_process(roots: dict[str, int]) -> dict[str, float]:
    """CPU seconds (user + system) used so far by each named process and its descendants that are
    not themselves named."""
    parent, seconds = {}, {}
    tick = os.sysconf("SC_CLK_TCK")
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            fields = Path(f"/proc/{entry}/stat").read_text().rpartition(")")[2].split()
        except OSError:  # exited while we looked
            continue
        parent[int(entry)] = int(fields[1])
        seconds[int(entry)] = (int(fields[11]) + int(fields[12])) / tick

    owners = {pid: name for name, pid in roots.items()}

    def owner(pid: int) -> str | None:
        """The nearest named ancestor (the bench's own process is an ancestor of the stack's)."""
        while pid > 1 and pid not in owners:
            pid = parent.get(pid, 0)
        return owners.get(pid)

    totals = dict.fromkeys(roots, 0.0)
    for pid, used in seconds.items():
        if (name := owner(pid)) is not None:
            totals[name] += used
    return totals


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


def run_level(stack, sessions, concurrency, max_tokens, references, dump=None):
    """`references` of the generations get a direct reader beside them (for time to first frame);
    per-frame latency needs none, and 50 extra readers would only load the 2-core machine."""
    async def all_side_by_side():
        # Direct readers in their own processes: in threads they would share this process's GIL with
        # the websocket clients and each would slow the other's clock readings.
        with ProcessPoolExecutor(max_workers=references) as executor:
            return await asyncio.gather(*(
                side_by_side(stack, sessions["session"], pid, executor if i < references else None, max_tokens)
                for i, pid in enumerate(sessions["projects"][:concurrency])
            ))

    roots = {name: process.pid for name, process in stack.processes}
    roots["redis"] = redis.Redis.from_url(stack.env["REDIS_URL"]).info("server")["process_id"]
    roots["bench clients"] = os.getpid()
    cpu_before, started = cpu_by_process(roots), time.monotonic()
    outcomes = asyncio.run(all_side_by_side())
    cpu_after, wall = cpu_by_process(roots), time.monotonic() - started

    if dump:
        Path(dump).write_text(json.dumps({concurrency: [kiln for kiln, _ in outcomes]}))
    frames, firsts = [], []
    for kiln, reference in outcomes:
        frames += [added for _, _, added in kiln]
        if reference:
            firsts.append(kiln[0][0] - reference)
    return {
        "frames": len(frames),
        "p50_ms": percentile(frames, 0.50) * 1000,
        "p99_ms": percentile(frames, 0.99) * 1000,
        "first_frame_ms": statistics.median(firsts) * 1000 if firsts else float("nan"),
        # CPU per frame delivered, by process: where the machine's time goes at this level.
        "cpu_us_per_frame": {name: (cpu_after[name] - cpu_before[name]) / len(frames) * 1e6 for name in roots},
        "machine_busy": sum(cpu_after[n] - cpu_before[n] for n in roots) / wall / os.cpu_count(),
        # Kiln's own processes only: in production the browsers and the model server are elsewhere.
        "kiln_busy": sum(cpu_after[n] - cpu_before[n] for n in KILN_PROCESSES) / wall / os.cpu_count(),
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 50])
    parser.add_argument("--token-delay-ms", type=float, default=20.0,
                        help="server pace per stream (20 ms = 50 tokens/s, a busy vLLM's per-stream rate)")
    parser.add_argument("--max-tokens", type=int, default=1200, help="tokens per generation")
    parser.add_argument("--references", type=int, default=5,
                        help="generations per level that get a direct reader beside them (time to first frame)")
    parser.add_argument("--pool", choices=["prefork", "threads"], default="threads",
                        help="Celery pool of the generation worker, one slot per concurrent generation "
                             "(threads is what ./kiln start runs)")
    parser.add_argument("--dump", metavar="PATH", help="write every frame's (seconds since prompt, chars, added "
                        "latency) of the last level to this JSON file")
    args = parser.parse_args()
    ensure_redis("redis://127.0.0.1:6379/0")  # where tests.stack.Stack puts the stack's Redis database

    with tempfile.TemporaryDirectory(prefix="kiln-bench-") as workdir:
        workers = ("-P", args.pool, "-c", str(max(args.concurrency)))
        stack = Stack(Path(workdir), generation_pool=workers,
                      extra_env={"BLUEPRINT_TOKEN_DELAY_MS": str(args.token_delay_ms),
                                 # One bench user streams all N generations at once: fair use
                                 # (builder.fair_use) would hold it to two, which is not what is measured.
                                 "FAIR_RUNNING_GENERATIONS": "1000", "FAIR_WAITING_PROMPTS": "1000",
                                 "MODEL_MAX_TOKENS": str(args.max_tokens)})
        stack.start(services=("blueprint", "worker-generation", "web"))
        try:
            sessions = json.loads(stack.django(SESSIONS.replace("range(N)", f"range({max(args.concurrency) + 1})")))
            # One generation first, in a project of its own, not measured: a running Kiln has its
            # connections open and its code loaded; the first generation after a start would count
            # that work as Kiln's.
            run_level(stack, {**sessions, "projects": sessions["projects"][-1:]}, 1, 20, 1)
            results = {level: run_level(stack, sessions, level, args.max_tokens, min(level, args.references), args.dump)
                       for level in args.concurrency}
        finally:
            stack.stop()

    print(f"\nStream overhead: Kiln websocket vs direct OpenAI-compatible stream "
          f"({args.max_tokens} tokens at {args.token_delay_ms:g} ms/token)\n")
    print(f"{'concurrent':>10} {'frames':>7} {'added p50':>10} {'added p99':>10} {'first frame':>12}   goal p50/p99")
    for level, r in results.items():
        goal = "5 / 25 ms" if level == 1 else "10 / 50 ms"
        print(f"{level:>10} {r['frames']:>7} {r['p50_ms']:>8.1f}ms {r['p99_ms']:>8.1f}ms {r['first_frame_ms']:>10.1f}ms"
              f"   {goal}")
    print("\nCPU per frame delivered (user + system, each process with its children)")
    names = list(next(iter(results.values()))["cpu_us_per_frame"])
    print(f"{'concurrent':>10} " + " ".join(f"{n:>18}" for n in names) + f" {'machine busy':>13} {'Kiln busy':>10}")
    for level, r in results.items():
        print(f"{level:>10} " + " ".join(f"{r['cpu_us_per_frame'][n]:>16.0f}us" for n in names)
              + f" {r['machine_busy']:>12.0%} {r['kiln_busy']:>9.0%}")
    print("machine busy: every process above, over all cores (goal at 50: under 50 %); Kiln busy: the "
          "generation worker, web and Redis only")
    if len(results) > 1:
        low, high = results[min(results)], results[max(results)]
        print(f"\nratio {max(results)} vs {min(results)} concurrent: p50 x{high['p50_ms'] / max(low['p50_ms'], 0.1):.2f}, "
              f"p99 x{high['p99_ms'] / max(low['p99_ms'], 0.1):.2f}")


if __name__ == "__main__":
    main()
