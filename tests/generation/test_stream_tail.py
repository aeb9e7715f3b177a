"""Many tails in one event loop (one websocket process) each get their stream's frames once and in
order, whether they start at the beginning, from behind a tail already following, or rejoin."""

import asyncio
import threading
import time

import pytest

from generation.streaming import StreamTail, append_event, redis_client

KEYS = [f"kiln:test-tail:{i}" for i in range(6)]
FRAMES_PER_STREAM = 300


@pytest.fixture(autouse=True)
def empty_streams():
    redis_client().delete(*KEYS)
    yield
    redis_client().delete(*KEYS)


def produce(keys, count, pause_s=0.0003):
    for n in range(count):
        for key in keys:
            append_event(key, {"type": "text", "text": f"{key}#{n + 1}"})
        time.sleep(pause_s)


QUIET_MS = 5000  # a tail re-reads its stream after this long without a live frame


async def read_until(tail: StreamTail, last_seq: int) -> list[dict]:
    frames = []
    while not frames or frames[-1]["seq"] < last_seq:
        batch = await tail.next_frames(block_ms=QUIET_MS)
        assert batch, f"no frame for {QUIET_MS} ms after seq {frames[-1]['seq'] if frames else 0}"
        frames += batch
    return frames


def texts(frames):
    return [f["text"] for f in frames]


async def test_many_tails_each_get_their_streams_frames_once_and_in_order():
    producer = threading.Thread(target=produce, args=(KEYS, FRAMES_PER_STREAM))
    tails = [StreamTail(key) for key in KEYS]
    producer.start()
    started = time.monotonic()
    try:
        results = await asyncio.gather(*(read_until(t, FRAMES_PER_STREAM) for t in tails))
        # Live: no tail had to wait out a quiet period and re-read its stream to get its frames.
        assert time.monotonic() - started < QUIET_MS / 1000
    finally:
        producer.join()
        for tail in tails:
            await tail.close()

    for key, frames in zip(KEYS, results):
        assert [f["seq"] for f in frames] == list(range(1, FRAMES_PER_STREAM + 1))
        assert texts(frames) == [f"{key}#{n}" for n in range(1, FRAMES_PER_STREAM + 1)]


async def test_a_tail_from_behind_a_live_one_catches_up_without_a_gap_or_a_repeat():
    key = KEYS[0]
    producer = threading.Thread(target=produce, args=([key], FRAMES_PER_STREAM, 0.001))
    ahead = StreamTail(key)
    producer.start()
    try:
        first = await ahead.next_frames()
        while first[-1]["seq"] < 100:  # the shared read is well past where the late tail starts
            first += await ahead.next_frames()
        late = StreamTail(key, after_seq=10)
        late_frames, ahead_frames = await asyncio.gather(
            read_until(late, FRAMES_PER_STREAM), read_until(ahead, FRAMES_PER_STREAM)
        )
    finally:
        producer.join()
        await ahead.close()
        await late.close()

    assert [f["seq"] for f in late_frames] == list(range(11, FRAMES_PER_STREAM + 1))
    assert [f["seq"] for f in first + ahead_frames] == list(range(1, FRAMES_PER_STREAM + 1))


async def test_a_tail_that_leaves_and_comes_back_resumes_where_it_left_off():
    key = KEYS[1]
    for n in range(20):
        append_event(key, {"type": "text", "text": f"{key}#{n + 1}"})
    tail = StreamTail(key)
    seen = await read_until(tail, 20)
    await tail.close()
    for n in range(20, 30):
        append_event(key, {"type": "text", "text": f"{key}#{n + 1}"})

    again = StreamTail(key, after_seq=seen[-1]["seq"])
    more = await read_until(again, 30)
    await again.close()

    assert [f["seq"] for f in seen + more] == list(range(1, 31))


async def test_a_tail_whose_redis_connection_drops_still_gets_every_frame_soon(caplog):
    key = KEYS[3]
    for n in range(50):
        append_event(key, {"type": "text", "text": f"{key}#{n + 1}"})
    tail = StreamTail(key)
    try:
        seen = await read_until(tail, 50)
        db = redis_client().connection_pool.connection_kwargs.get("db", 0)
        for client in redis_client().client_list(_type="pubsub"):
            if int(client["db"]) == db:
                redis_client().client_kill_filter(_id=client["id"])
        producer = threading.Thread(target=produce, args=([key], 50, 0.002))
        started = time.monotonic()
        producer.start()
        seen += await read_until(tail, 100)
        producer.join()
    finally:
        await tail.close()

    assert any("reconnecting" in r.message for r in caplog.records), "the connection was not dropped"
    assert [f["seq"] for f in seen] == list(range(1, 101))
    assert time.monotonic() - started < QUIET_MS / 1000  # back on the live channel, not waiting out a quiet period
