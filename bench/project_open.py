"""Bench: opening a project of 1,000 turns (three 300 KB files in every version) against an empty one.

    .venv/bin/python bench/project_open.py [--runs 9] [--turns 1000] [--big-files 3]

Starts Kiln's ASGI server the way the tests do (tests/stack.py: a throwaway SQLite file, Redis
database 13; it needs Redis running, as `./kiln start` leaves it), makes both projects straight in the
database, then opens each in headless Chromium, alternating, `--runs` times, each in a fresh browser
context (nothing cached). It reports the bytes of the socket's first message and the time until the
page is interactive: from navigation start to the moment project.js has rendered the project's state
(its performance mark "kiln:state-rendered", on the browser's own clock).
Goal: the big project <= 300 ms p50 and <= 2x the empty project.
"""

import argparse
import os
import re
import shutil
import statistics
import sys
import tempfile
from pathlib import Path

import redis
from playwright.sync_api import sync_playwright

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.stack import Stack  # noqa: E402
from tests.test_end_to_end import CHROMIUM_ARGS, log_in  # noqa: E402

REDIS_DB = 13
GOAL_P50_MS = 300
GOAL_RATIO = 2.0
START_REDIS = "Redis is not running: start it with ./kiln start, or redis-server --daemonize yes --save ''"
PREVIEW_HOSTS = re.compile(r"^https?://p-")
MAKE_PROJECTS = """
from django.contrib.auth.models import User
from builder.models import Project
from tests.builder.big_project import make_project
owner = User.objects.create_user("bench", password="bench-pass-123")
big = make_project(owner=owner, name="Big", turns={turns}, big_files={big_files})
empty = Project.objects.create(owner=owner, name="Empty")
print(big.id, empty.id)
"""
# The server's part alone, in one process: building the state (the socket then sends it).
TIME_STATE = """
import statistics, time
from django.contrib.auth.models import User
from builder.models import Project
from builder.selectors import project_state
owner = User.objects.get(username="bench")
for project_id in ({big_id}, {empty_id}):
    project = Project.objects.get(pk=project_id)
    times = []
    for _ in range(21):
        started = time.perf_counter()
        project_state(project, owner)
        times.append((time.perf_counter() - started) * 1000)
    print(statistics.median(times))
"""


def open_once(browser, storage_state, url: str) -> tuple[float, int]:
    """Milliseconds from navigation start until the state is rendered, and the first message's bytes."""
    context = browser.new_context(storage_state=storage_state, viewport={"width": 1400, "height": 900})
    page = context.new_page()
    page.route(PREVIEW_HOSTS, lambda route: route.abort())  # made-up builds have no preview containers
    first = []
    page.on("websocket", lambda ws: ws.on("framereceived", lambda payload: first.append(len(payload.encode()))))
    page.goto(url)
    page.wait_for_selector("#app[data-ready=true]", state="attached", timeout=30_000)
    ms = page.evaluate("performance.getEntriesByName('kiln:state-rendered')[0].startTime")
    context.close()
    return ms, first[0]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=9)
    parser.add_argument("--turns", type=int, default=1000)
    parser.add_argument("--big-files", type=int, default=3)
    args = parser.parse_args()
    try:
        redis.Redis(db=REDIS_DB).ping()
    except redis.ConnectionError:
        sys.exit(START_REDIS)

    workdir = Path(tempfile.mkdtemp(prefix="kiln-open-"))
    stack = Stack(workdir, redis_db=REDIS_DB).start(services=("web",))
    try:
        big_id, empty_id = stack.django(MAKE_PROJECTS.format(turns=args.turns, big_files=args.big_files)).split()
        urls = {"big": f"{stack.url}/projects/{big_id}/", "empty": f"{stack.url}/projects/{empty_id}/"}
        state_ms = dict(zip(urls, map(float, stack.django(TIME_STATE.format(big_id=big_id, empty_id=empty_id)).split())))
        times = {name: [] for name in urls}
        sizes = {}
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
            login = browser.new_page()
            log_in(login, stack, "bench", "bench-pass-123")
            login.wait_for_selector("input[name=name]")
            storage_state = login.context.storage_state()
            login.close()
            for url in urls.values():  # warm up: first requests compile templates, open connections
                open_once(browser, storage_state, url)
            for _ in range(args.runs):
                for name, url in urls.items():
                    ms, size = open_once(browser, storage_state, url)
                    times[name].append(ms)
                    sizes[name] = size
            browser.close()
    finally:
        stack.stop()
        shutil.rmtree(workdir, ignore_errors=True)

    p50 = {name: statistics.median(values) for name, values in times.items()}
    print(f"Opening a project, {args.runs} runs each, headless Chromium against daphne (time to interactive)")
    for name, label in (("big", f"{args.turns} turns, {args.big_files} x 300 KB files"), ("empty", "empty")):
        print(f"  {label:<32} first message {sizes[name]:>7,} bytes   p50 {p50[name]:6.0f} ms   "
              f"min {min(times[name]):4.0f}   max {max(times[name]):4.0f} ms   (state built in {state_ms[name]:.1f} ms)")
    ratio = p50["big"] / p50["empty"]
    print(f"  ratio big / empty p50: {ratio:.2f}x   (load average while measuring: {os.getloadavg()[0]:.1f})")
    met = p50["big"] <= GOAL_P50_MS and ratio <= GOAL_RATIO
    print(f"  goal: <= {GOAL_P50_MS} ms p50 and <= {GOAL_RATIO:g}x the empty project: {'met' if met else 'NOT met'}")


if __name__ == "__main__":
    main()
