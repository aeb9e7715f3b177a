"""Fair use, measured: how long a user waits for the first frame and the preview of a prompt on an idle
Kiln, and while another user has just sent a burst of prompts (docs/architecture.md, builder.fair_use).

    .venv/bin/python bench/fairness.py [--burst 200] [--runs 3]

Runs the real stack (offline model server, both Celery workers, the ASGI server) on free ports against a
scratch database, as tests/stack.py does; Redis and the Docker engine must be running (it starts a local
Redis itself when none is). Bob's prompt is measured `--runs` times on the idle stack, then `--runs` times
right after Alice sends `--burst` prompts at once. Goal: at most 1 s added to Bob's first frame, and his
preview ready within 2x the idle time.
"""

import argparse
import asyncio
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.settings")

import django  # noqa: E402

django.setup()

import websockets  # noqa: E402
from django.conf import settings  # noqa: E402

from bench.services import ensure_redis, require_docker  # noqa: E402
from tests.stack import Stack  # noqa: E402

BOB_PROMPTS = ["a recipe book with name, cuisine and cooking time", "a reading list with title and author",
               "a plant tracker with name and watering interval", "a workout log with exercise and reps"]


async def open_socket(stack: Stack, user: dict):
    headers = {"Cookie": f"sessionid={user['session']}", "Origin": stack.url}
    socket = await websockets.connect(f"ws://127.0.0.1:{stack.port}/ws/projects/{user['project']}/",
                                      additional_headers=headers, max_size=None)
    json.loads(await socket.recv())  # the project's state
    return socket


async def bob_asks(stack: Stack, bob: dict, prompt: str, project: int) -> tuple[float, float]:
    """Seconds from Bob's first prompt in a new project to his first content frame, and to his preview
    being ready."""
    socket = await open_socket(stack, {**bob, "project": project})
    asked = time.monotonic()
    await socket.send(json.dumps({"type": "prompt", "text": prompt, "ref": "bob"}))
    first = ready = None
    while ready is None:
        message = json.loads(await asyncio.wait_for(socket.recv(), 600))
        if message["type"] != "frame":
            continue
        if first is None and message["kind"] in ("text", "file_start"):
            first = time.monotonic() - asked
        if message["kind"] == "build" and message["status"] == "ready":
            ready = time.monotonic() - asked
        if message["kind"] in ("failed", "cancelled"):
            raise RuntimeError(f"Bob's generation failed: {message.get('message')}")
    await socket.close()
    return first, ready


async def alice_bursts(stack: Stack, alice: dict, burst: int) -> dict:
    socket = await open_socket(stack, alice)
    for n in range(burst):
        await socket.send(json.dumps({"type": "prompt", "text": f"a todo list, version {n}", "ref": f"a{n}"}))
    answers = {}
    while len(answers) < burst:
        message = json.loads(await asyncio.wait_for(socket.recv(), 120))
        if message["type"] in ("prompt_accepted", "error") and message.get("ref"):
            answers[message["ref"]] = message["type"]
    await socket.close()
    return {"accepted": sum(a == "prompt_accepted" for a in answers.values()),
            "refused": sum(a == "error" for a in answers.values())}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--burst", type=int, default=200, help="prompts Alice sends at once")
    parser.add_argument("--runs", type=int, default=3, help="Bob's prompts measured in each condition")
    args = parser.parse_args()
    ensure_redis(settings.REDIS_URL)
    require_docker()

    with tempfile.TemporaryDirectory(prefix="kiln-fair-") as workdir:
        stack = Stack(Path(workdir), extra_env={"BLUEPRINT_TOKEN_DELAY_MS": "1.5", "PREVIEW_MAX_PER_USER": "50"})
        stack.start()
        try:
            users = stack.users(("alice", "bob"), projects_each=2 * args.runs + 1)
            bob, projects = users["bob"], iter(users["bob"]["projects"])
            # Warm-up, not measured: the runtime image, Chromium and the connections of each process.
            asyncio.run(bob_asks(stack, bob, "a todo list", next(projects)))
            idle = [asyncio.run(bob_asks(stack, bob, BOB_PROMPTS[n % len(BOB_PROMPTS)], next(projects)))
                    for n in range(args.runs)]
            loaded, bursts = [], []
            for n in range(args.runs):
                bursts.append(asyncio.run(alice_bursts(stack, users["alice"], args.burst)))
                loaded.append(asyncio.run(bob_asks(stack, bob, BOB_PROMPTS[n % len(BOB_PROMPTS)], next(projects))))
        finally:
            stack.stop()

    def p50(values):
        return statistics.median(values)

    idle_first, idle_ready = p50([f for f, _ in idle]), p50([r for _, r in idle])
    busy_first, busy_ready = p50([f for f, _ in loaded]), p50([r for _, r in loaded])
    print(f"\nFair use: Bob's prompt on an idle Kiln vs right after Alice sends {args.burst} prompts "
          f"({args.runs} runs each, medians)\n")
    print(f"Alice's bursts: {bursts}")
    print(f"{'':>22} {'idle':>8} {'Alice busy':>11} {'added / ratio':>14}   goal")
    print(f"{'first frame':>22} {idle_first:>7.2f}s {busy_first:>10.2f}s {busy_first - idle_first:>+13.2f}s   <= +1 s")
    print(f"{'preview ready':>22} {idle_ready:>7.2f}s {busy_ready:>10.2f}s {busy_ready / idle_ready:>13.2f}x   <= 2x")
    print(f"\nevery run: idle {[(round(f, 2), round(r, 2)) for f, r in idle]}, "
          f"busy {[(round(f, 2), round(r, 2)) for f, r in loaded]}")


if __name__ == "__main__":
    main()
