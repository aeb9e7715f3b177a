"""The project websocket: who may connect, and that a reconnecting client loses and repeats nothing."""

import asyncio

import pytest
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator
from django.test import Client

from config.asgi import application
from generation.models import Generation
from generation.streaming import append_event

pytestmark = pytest.mark.django_db(transaction=True)

BUILDER_ORIGIN = b"http://127.0.0.1:8000"


def session_cookie(user) -> bytes:
    client = Client()
    client.force_login(user)
    return f"sessionid={client.cookies['sessionid'].value}".encode()


async def connect(project_id, *, user=None, origin=BUILDER_ORIGIN):
    headers = [(b"origin", origin), (b"host", b"127.0.0.1:8000")]
    if user is not None:
        headers.append((b"cookie", await database_sync_to_async(session_cookie)(user)))
    communicator = WebsocketCommunicator(application, f"/ws/projects/{project_id}/", headers=headers)
    connected, code = await communicator.connect()
    return communicator, connected, code


async def test_it_refuses_a_foreign_origin(project, owner):
    communicator, connected, _ = await connect(project.id, user=owner, origin=b"http://evil.example")
    assert not connected
    await communicator.disconnect()


async def test_it_refuses_a_preview_origin(project, owner):
    # A preview page (its own site under *.localhost) must never drive the builder's socket.
    communicator, connected, _ = await connect(project.id, user=owner, origin=b"http://p-abcdefghijklmnop.localhost:8000")
    assert not connected
    await communicator.disconnect()


async def test_it_refuses_an_anonymous_user(project):
    communicator, connected, code = await connect(project.id)
    assert not connected
    assert code == 4401
    await communicator.disconnect()


async def test_it_refuses_another_users_project(project, stranger):
    communicator, connected, code = await connect(project.id, user=stranger)
    assert not connected
    assert code == 4404
    await communicator.disconnect()


async def test_owner_receives_project_state_first(project, owner, make_generation):
    generation = await database_sync_to_async(make_generation)()
    communicator, connected, _ = await connect(project.id, user=owner)
    assert connected
    state = await communicator.receive_json_from()
    assert state["type"] == "state"
    assert state["project"]["name"] == "Chores"
    assert [g["id"] for g in state["turns"][0]["generations"]] == [generation.id]
    await communicator.disconnect()


async def test_an_empty_prompt_gets_a_clear_message(project, owner, model_version):
    communicator, _, _ = await connect(project.id, user=owner)
    await communicator.receive_json_from()
    await communicator.send_json_to({"type": "prompt", "text": "   "})
    reply = await communicator.receive_json_from()
    assert reply == {"type": "error", "message": "Type what you want to build."}
    await communicator.disconnect()


async def test_it_refuses_to_follow_another_users_generation(project, owner, stranger, make_generation):
    from builder.models import Project, Turn

    def foreign_generation():
        other = Project.objects.create(owner=stranger, name="Theirs")
        return make_generation(Turn.objects.create(project=other, prompt="secret", seed=1))

    generation = await database_sync_to_async(foreign_generation)()
    append_event(generation.stream_key, {"type": "text", "text": "secret"})
    communicator, _, _ = await connect(project.id, user=owner)
    await communicator.receive_json_from()
    await communicator.send_json_to({"type": "subscribe", "generation": generation.id, "after": 0})
    reply = await communicator.receive_json_from()
    assert reply["type"] == "error"
    assert await communicator.receive_nothing(timeout=0.3)
    await communicator.disconnect()


async def collect_frames(communicator, *, until_seq=None, limit=None):
    frames = []
    while True:
        message = await communicator.receive_json_from(timeout=30)
        if message["type"] != "frame":
            continue
        frames.append(message)
        if limit is not None and len(frames) >= limit:
            return frames
        if until_seq is not None and message["seq"] >= until_seq:
            return frames


async def test_reconnecting_client_gets_every_frame_once(project, owner, make_generation):
    generation = await database_sync_to_async(make_generation)(status=Generation.Status.RUNNING)
    total = 60

    async def produce():
        for i in range(1, total):
            append_event(generation.stream_key, {"type": "file_delta", "path": "src/App.jsx", "text": f"line {i}\n"})
            await asyncio.sleep(0.005)
        append_event(generation.stream_key, {"type": "failed", "message": "end of test stream"})

    producer = asyncio.create_task(produce())
    first, _, _ = await connect(project.id, user=owner)
    await first.receive_json_from()
    await first.send_json_to({"type": "subscribe", "generation": generation.id, "after": 0})
    seen = await collect_frames(first, limit=17)
    await first.disconnect()  # the tab drops mid-stream

    await asyncio.sleep(0.1)  # frames keep arriving while nobody listens
    second, _, _ = await connect(project.id, user=owner)
    await second.receive_json_from()
    await second.send_json_to({"type": "subscribe", "generation": generation.id, "after": seen[-1]["seq"]})
    seen += await collect_frames(second, until_seq=total)
    await producer
    await second.disconnect()

    assert [f["seq"] for f in seen] == list(range(1, total + 1))
    texts = "".join(f.get("text", "") for f in seen if f["kind"] == "file_delta")
    assert texts == "".join(f"line {i}\n" for i in range(1, total))
    assert seen[-1]["kind"] == "failed"


async def test_a_comparison_starts_two_candidates_from_different_versions(project, owner, model_version):
    from generation.models import ModelVersion

    await database_sync_to_async(ModelVersion.objects.create)(name="challenger", base_model="other-model")
    communicator, _, _ = await connect(project.id, user=owner)
    await communicator.receive_json_from()
    await communicator.send_json_to({"type": "prompt", "text": "a habit tracker", "compare": True})

    accepted = await communicator.receive_json_from()
    first = await communicator.receive_json_from()
    second = await communicator.receive_json_from()

    assert [accepted["type"], first["type"], second["type"]] == ["prompt_accepted", "generation", "generation"]
    assert [first["generation"]["candidate"], second["generation"]["candidate"]] == [1, 2]
    assert first["generation"]["turn"] == second["generation"]["turn"]
    # Two different versions wrote them, and the socket does not say which (blind mode reveals it
    # after the vote, through the compare view; its stream frames: tests/generation/test_runs.py).
    assert first["generation"]["model"] is None and second["generation"]["model"] is None
    versions = await database_sync_to_async(lambda: set(
        Generation.objects.filter(turn_id=first["generation"]["turn"]).values_list("model_version__name", flat=True)
    ))()
    assert versions == {"default", "challenger"}
    assert (first["select"], second["select"]) == (True, False)
    await communicator.disconnect()


async def test_stopping_a_queued_generation_reaches_the_browser(project, owner, make_generation):
    generation = await database_sync_to_async(make_generation)(status=Generation.Status.QUEUED)
    communicator, _, _ = await connect(project.id, user=owner)
    await communicator.receive_json_from()
    await communicator.send_json_to({"type": "cancel", "generation": generation.id})
    await communicator.send_json_to({"type": "subscribe", "generation": generation.id, "after": 0})

    frame = await communicator.receive_json_from()

    assert (frame["kind"], frame["seq"]) == ("cancelled", 1)
    await communicator.disconnect()
