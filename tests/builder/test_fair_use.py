"""Fair use on the real stack: one user's burst of 200 prompts holds only a few slots, is told why the
rest are refused, and another user's prompt starts before that backlog (builder.fair_use)."""

import asyncio
import json
import time

import pytest
import websockets

from builder.fair_use import TOO_MANY_WAITING
from tests.stack import Stack

pytestmark = pytest.mark.e2e

STARTED = """
import json
from generation.models import Generation
rows = Generation.objects.order_by('id').values_list('turn__project__owner__username', 'status', 'started_at')
print(json.dumps([[u, s, t.timestamp() if t else None] for u, s, t in rows]))
"""


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    stack = Stack(tmp_path_factory.mktemp("kiln-fair"), extra_env={
        "FAIR_RUNNING_GENERATIONS": "2", "FAIR_WAITING_PROMPTS": "10",
        # Slow enough that Alice's generations are still running when Bob asks.
        "BLUEPRINT_TOKEN_DELAY_MS": "4",
    })
    stack.start(services=("blueprint", "worker-generation", "web"))
    yield stack
    stack.stop()


async def _socket(stack, user):
    headers = {"Cookie": f"sessionid={user['session']}", "Origin": stack.url}
    socket = await websockets.connect(f"ws://127.0.0.1:{stack.port}/ws/projects/{user['project']}/",
                                      additional_headers=headers, max_size=None)
    assert json.loads(await socket.recv())["type"] == "state"
    return socket


async def _burst_then_other_user(stack, users):
    alice = await _socket(stack, users["alice"])
    for n in range(200):
        await alice.send(json.dumps({"type": "prompt", "text": f"a todo list number {n}", "ref": f"a{n}"}))
    answers = {}
    while len(answers) < 200:
        message = json.loads(await asyncio.wait_for(alice.recv(), 60))
        if message["type"] in ("prompt_accepted", "error") and message.get("ref"):
            answers[message["ref"]] = message

    bob = await _socket(stack, users["bob"])
    asked = time.monotonic()
    await bob.send(json.dumps({"type": "prompt", "text": "a recipe book", "ref": "b1"}))
    first_frame = None
    while first_frame is None:
        message = json.loads(await asyncio.wait_for(bob.recv(), 60))
        if message["type"] == "frame" and message["kind"] in ("text", "file_start"):
            first_frame = time.monotonic() - asked
    await alice.close()
    await bob.close()
    return answers, first_frame


def test_a_burst_from_one_user_is_bounded_and_another_users_prompt_starts_first(stack):
    users = stack.users(("alice", "bob"))
    answers, bob_first_frame = asyncio.run(_burst_then_other_user(stack, users))

    accepted = [a for a in answers.values() if a["type"] == "prompt_accepted"]
    refused = [a for a in answers.values() if a["type"] == "error"]
    assert len(accepted) == 2 + 10  # two running, ten waiting their turn
    assert len(refused) == 188
    assert refused[0]["message"] == TOO_MANY_WAITING.format(waiting=10, limit=10)

    rows = json.loads(stack.django(STARTED))
    bob_started = next(t for user, _, t in rows if user == "bob")
    alice_after_bob = [t for user, _, t in rows if user == "alice" and (t is None or t > bob_started)]
    # Bob's prompt did not wait for Alice's backlog: most of her twelve started after his.
    assert len(alice_after_bob) >= 8, rows
    assert bob_first_frame < 10, bob_first_frame
