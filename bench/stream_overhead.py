"""What Kiln's streaming path adds to a model's tokens.

In one run, against the same local OpenAI-compatible server (Kiln's offline model, paced like a real
one): the tokens read directly with the openai client, and the same tokens received by a websocket
client through Kiln (Celery task -> parser -> Redis Stream -> Channels consumer -> websocket). Both
sides are mapped onto the same content offsets, so each websocket frame is compared with the moment
the direct reader had the same text. Run with 1 and with 50 concurrent generations.

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

import openai  # noqa: E402
import redis  # noqa: E402
import websockets  # noqa: E402

from generation.prompts import build_messages  # noqa: E402
from generation.protocol import FileDelta, StreamParser, TextDelta  # noqa: E402
from tests.stack import Stack  # noqa: E402

PROMPT = "a todo list where I can add, tick and delete tasks"
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
    """One generation through Kiln and, started the moment Kiln announces its seed, the same
    completion read directly: both timelines [(seconds, content chars so far)] share the machine's
    load, so the comparison measures Kiln's path, not a busier or quieter moment."""
    headers = {"Cookie": f"sessionid={session}", "Origin": stack.url}
    base_url = f"http://127.0.0.1:{stack.blueprint_port}/v1"
    async with websockets.connect(f"ws://127.0.0.1:{stack.port}/ws/projects/{project_id}/",
                                  additional_headers=headers, max_size=None) as socket:
        json.loads(await socket.recv())  # the project's state
        sent = time.monotonic()
        await socket.send(json.dumps({"type": "prompt", "text": PROMPT}))
        reference, timeline, chars = None, [], 0
        async for raw in socket:
            message = json.loads(raw)
            if message["type"] == "generation" and executor is not None:
                seed = message["generation"]["seed"]
                reference = asyncio.get_running_loop().run_in_executor(executor, direct, base_url, seed, max_tokens)
            elif message["type"] == "frame":
                if message["kind"] in ("text", "file_delta"):
                    chars += len(message["text"])
                    # (since prompt, chars so far, seconds since the worker had this frame's first token)
                    timeline.append((time.monotonic() - sent, chars, time.time() - message["t"]))
                if message["kind"] in ("failed", "cancelled") or message.get("final"):
                    return timeline, (await reference if reference else None)


def direct(base_url: str, seed: int, max_tokens: int):
    """[(seconds since the request was sent, content chars so far)] reading the server directly."""
    client = openai.OpenAI(base_url=base_url, api_key="not-needed")
    sent = time.monotonic()
    stream = client.chat.completions.create(
        model="kiln-blueprint", messages=build_messages(history=[], files={}, prompt=PROMPT),
        stream=True, seed=seed, max_tokens=max_tokens,
    )
    parser, timeline, chars = StreamParser(), [], 0
    for chunk in stream:
        for choice in chunk.choices:
            if choice.delta and choice.delta.content:
                grown = sum(content_length(e) for e in parser.feed(choice.delta.content))
                if grown:
                    chars += grown
                    timeline.append((time.monotonic() - sent, chars))
    return timeline


def cpu_by_process(roots: dict[str, int]) -> dict[str, float]:
    """CPU seconds (user + system) used so far by each named process and its descendants that are
    not themselves named."""
    parent, seconds = {}, {}
    tick = os.sysconf("SC_CLK_TCK")
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            fields = open(f"/proc/{entry}/stat").read().rpartition(")")[2].split()
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
            firsts.append(kiln[0][0] - reference[0][0])
    return {
        "frames": len(frames),
        "p50_ms": percentile(frames, 0.50) * 1000,
        "p99_ms": percentile(frames, 0.99) * 1000,
        "first_frame_ms": statistics.median(firsts) * 1000,
        # CPU per frame delivered, by process: where the machine's time goes at this level.
        "cpu_us_per_frame": {name: (cpu_after[name] - cpu_before[name]) / len(frames) * 1e6 for name in roots},
        "machine_busy": sum(cpu_after[n] - cpu_before[n] for n in roots) / wall / os.cpu_count(),
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

    with tempfile.TemporaryDirectory(prefix="kiln-bench-") as workdir:
        workers = ("-P", args.pool, "-c", str(max(args.concurrency)))
        stack = Stack(Path(workdir), generation_pool=workers,
                      extra_env={"BLUEPRINT_TOKEN_DELAY_MS": str(args.token_delay_ms),
                                 "MODEL_MAX_TOKENS": str(args.max_tokens)})
        stack.start(services=("blueprint", "worker-generation", "web"))
        try:
            sessions = json.loads(stack.django(SESSIONS.replace("range(N)", f"range({max(args.concurrency)})")))
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
    print(f"{'concurrent':>10} " + " ".join(f"{n:>18}" for n in names) + f" {'machine busy':>13}")
    for level, r in results.items():
        print(f"{level:>10} " + " ".join(f"{r['cpu_us_per_frame'][n]:>16.0f}us" for n in names)
              + f" {r['machine_busy']:>12.0%}")
    if len(results) > 1:
        low, high = results[min(results)], results[max(results)]
        print(f"\nratio {max(results)} vs {min(results)} concurrent: p50 x{high['p50_ms'] / max(low['p50_ms'], 0.1):.2f}, "
              f"p99 x{high['p99_ms'] / max(low['p99_ms'], 0.1):.2f}")


if __name__ == "__main__":
    main()
