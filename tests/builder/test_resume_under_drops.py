"""The websocket drops at 100 random points across several live generations; the browser-side
protocol (state, then subscribe after the last seq seen) still gets every frame exactly once."""

import asyncio
import random
import threading
import time

import pytest
from channels.db import database_sync_to_async

from generation.frames import from_parser_event
from generation.blueprint.responder import respond
from generation.models import Generation
from generation.protocol import StreamParser
from generation.streaming import append_event
from tests.builder.test_project_socket import connect

pytestmark = pytest.mark.django_db(transaction=True)

GENERATIONS = 4
DROPS = 100
PROMPTS = [
    "a todo list where I can add, tick and delete tasks",
    "a recipe book with ingredients, cooking time and rating",
    "track my workouts with date, exercise, sets and reps",
    "a contact manager with name, email and phone",
]


def frames_for(prompt: str) -> list[dict]:
    """The frames a real generation publishes for the offline model's answer to `prompt`."""
    text = respond([{"role": "user", "content": prompt}], seed=1)
    parser, frames = StreamParser(), [{"type": "status", "status": "running"}]
    for start in range(0, len(text), 40):
        frames += [from_parser_event(e) for e in parser.feed(text[start:start + 40])]
    frames += [from_parser_event(e) for e in parser.finish("stop")]
    frames.append({"type": "done", "version": 1})
    frames.append({"type": "build", "build": 1, "status": "ready", "step": "ready", "message": "", "final": True})
    return frames


def produce(stream_frames: dict[str, list[dict]]) -> None:
    """Interleave the generations' frames into their streams, paced like a fast model."""
    queues = {key: list(frames) for key, frames in stream_frames.items()}
    while any(queues.values()):
        for key, frames in queues.items():
            if frames:
                append_event(key, frames.pop(0))
        time.sleep(0.0005)


async def test_every_frame_arrives_once_across_100_random_drops(project, owner, make_generation):
    rng = random.Random(20261125)
    generations = [
        await database_sync_to_async(make_generation)(status=Generation.Status.RUNNING, prompt=p) for p in PROMPTS
    ]
    expected = {g.id: frames_for(p) for g, p in zip(generations, PROMPTS)}
    producer = threading.Thread(target=produce, args=({g.stream_key: expected[g.id] for g in generations},))
    producer.start()

    received: dict[int, list[dict]] = {g.id: [] for g in generations}
    cursors = {g.id: 0 for g in generations}
    finished: set[int] = set()
    drops = 0
    while len(finished) < GENERATIONS:
        communicator, connected, _ = await connect(project.id, user=owner)
        assert connected
        await communicator.receive_json_from()  # state
        for generation_id, after in cursors.items():
            if generation_id not in finished:
                await communicator.send_json_to({"type": "subscribe", "generation": generation_id, "after": after})
        budget = rng.randint(1, 20) if drops < DROPS else None  # frames until this connection drops
        while len(finished) < GENERATIONS and (budget is None or budget > 0):
            message = await communicator.receive_json_from(timeout=30)
            if message["type"] == "generation":  # the whole new version, sent after "done"
                continue
            assert message["type"] == "frame", message
            received[message["generation"]].append(message)
            cursors[message["generation"]] = message["seq"]
            if message.get("final"):
                finished.add(message["generation"])
            if budget is not None:
                budget -= 1
        await communicator.disconnect()
        drops += budget is not None
    producer.join()

    assert drops >= DROPS
    for generation_id, frames in received.items():
        assert [f["seq"] for f in frames] == list(range(1, len(expected[generation_id]) + 1))
        assert [{k: v for k, v in f.items() if k not in ("seq", "generation", "type", "kind", "preview_url")} | {"type": f["kind"]}
                for f in frames] == expected[generation_id]
    await asyncio.sleep(0)
