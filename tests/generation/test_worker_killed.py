"""A generation whose real Celery worker process is SIGKILLed mid-stream is retried or failed with a
clear message: never left "running" forever, and its stream never skips or repeats a number."""

import json
import os
import signal
import time

import pytest
import redis

from generation import claims
from generation.runs import REQUEUED, RESTARTED, WORKER_LOST
from tests.stack import Stack

SETUP = """
from django.contrib.auth.models import User
from builder.services import create_project, start_turn
user = User.objects.create_user('kai')
project = create_project(owner=user, name='Killed')
print(start_turn(project=project, prompt='a reading list with title, author and whether I finished it')[0].id)
"""


@pytest.fixture
def stack(tmp_path):
    """Kiln's own generation worker: a threads pool, so a kill takes the whole worker."""
    stack = Stack(tmp_path).start(services=("blueprint", "worker-generation"))
    yield stack
    stack.stop()


@pytest.fixture
def prefork_stack(tmp_path):
    """A prefork worker, where one pool process can die alone (reject_on_worker_lost gives the
    task back and a new pool process takes it)."""
    stack = Stack(tmp_path, generation_pool=("-P", "prefork", "-c", "2")).start(
        services=("blueprint", "worker-generation"))
    yield stack
    stack.stop()


def frames(stack, generation_id):
    client = redis.Redis(db=stack.redis_db)
    return [json.loads(fields[b"e"]) | {"seq": int(entry_id.split(b"-")[0])}
            for entry_id, fields in client.xrange(f"kiln:gen:{generation_id}")]


def wait_for(predicate, timeout_s, what):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def kill_current_holder(stack, generation_id, *, after_frames):
    """SIGKILL the worker process that holds the generation's lease, once it has streamed a while."""
    client = redis.Redis(db=stack.redis_db)
    start = len(frames(stack, generation_id))
    wait_for(lambda: len(frames(stack, generation_id)) >= start + after_frames, 30, "frames to stream")
    holder = client.get(claims.lease(generation_id).key).decode()
    pid = int(holder.rsplit(":", 1)[1])
    os.kill(pid, signal.SIGKILL)
    return pid


def generation_row(stack, generation_id) -> dict:
    return json.loads(stack.django(
        "import json; from generation.models import Generation;"
        f"g = Generation.objects.get(id={generation_id});"
        "print(json.dumps({'status': g.status, 'attempts': g.attempts, 'error': g.error, 'version': g.app_version_id}))"
    ))


def test_a_killed_worker_process_is_replaced_and_the_generation_finishes(prefork_stack):
    stack = prefork_stack
    generation_id = int(stack.django(SETUP))
    killed = kill_current_holder(stack, generation_id, after_frames=20)

    done = wait_for(lambda: any(f["type"] == "done" for f in frames(stack, generation_id)), 90, "the retry to finish")

    row = generation_row(stack, generation_id)
    assert done and row["status"] == "done" and row["attempts"] == 2 and row["version"]
    stream = frames(stack, generation_id)
    assert [f["seq"] for f in stream] == list(range(1, len(stream) + 1))
    resets = [f for f in stream if f["type"] == "reset"]
    assert len(resets) == 1 and resets[0]["message"] == RESTARTED
    holder = redis.Redis(db=stack.redis_db).get(claims.lease(generation_id).key)
    assert holder is None or int(holder.decode().rsplit(":", 1)[1]) != killed


def test_a_generation_whose_workers_keep_dying_fails_with_a_message(prefork_stack):
    stack = prefork_stack
    generation_id = int(stack.django(SETUP))
    kill_current_holder(stack, generation_id, after_frames=20)
    kill_current_holder(stack, generation_id, after_frames=20)

    failed = wait_for(lambda: [f for f in frames(stack, generation_id) if f["type"] == "failed"], 60, "a failure")

    assert failed[-1]["message"] == WORKER_LOST.format(attempts=2)
    assert generation_row(stack, generation_id)["status"] == "failed"


def test_a_generation_whose_whole_worker_died_is_queued_again_and_finishes_on_the_next_worker(stack):
    generation_id = int(stack.django(SETUP))
    wait_for(lambda: len(frames(stack, generation_id)) > 20, 30, "frames to stream")
    worker = stack.process("worker-generation")
    # The whole worker at once: nobody is left to give the task back, only the watchdog notices.
    for pid in [worker.pid, *_children_of(worker.pid)]:
        os.kill(pid, signal.SIGKILL)
    worker.wait()

    time.sleep(7)  # the dead worker's lease runs out
    # The pipeline's watchdog (beat, every 20 s): queues it again and sends the task.
    outcome = stack.django("from builder.pipeline import recover; done = recover(silent_for_s=5);"
                           "print(done['requeued'], done['failed'])")

    assert outcome == f"[{generation_id}] []"
    assert generation_row(stack, generation_id)["status"] == "queued"
    told = frames(stack, generation_id)[-1]
    assert told["type"] == "status" and told["status"] == "queued" and told["message"] == REQUEUED

    stack.start_service("worker-generation")
    wait_for(lambda: any(f["type"] == "done" for f in frames(stack, generation_id)), 90, "the new worker to finish")

    row = generation_row(stack, generation_id)
    assert row["status"] == "done" and row["attempts"] == 2 and row["version"]
    stream = frames(stack, generation_id)
    assert [f["seq"] for f in stream] == list(range(1, len(stream) + 1))
    assert [f["message"] for f in stream if f["type"] == "reset"] == [RESTARTED]


def _children_of(pid: int) -> list[int]:
    children = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as stat:
                    if int(stat.read().rsplit(")", 1)[1].split()[1]) == pid:
                        children.append(int(entry))
            except (FileNotFoundError, ProcessLookupError):
                continue
    return children
