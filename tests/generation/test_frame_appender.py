"""The generation worker's background appender: many threads hand it frames of many streams; each
stream gets its frames once, in order, numbered from 1; a write that fails is raised in the thread
that waits for it; Redis losing its scripts loses no frame and doubles none."""

import threading

import pytest

from generation.streaming import background_appender, read_after, redis_client

KEYS = [f"kiln:test-appender:{i}" for i in range(20)]
FRAMES_PER_STREAM = 200


@pytest.fixture(autouse=True)
def empty_streams():
    redis_client().delete(*KEYS)
    yield
    redis_client().delete(*KEYS)


def test_frames_of_many_streams_from_many_threads_arrive_once_in_order():
    appender = background_appender()

    def stream(key):
        ticket = 0
        for n in range(FRAMES_PER_STREAM):
            ticket = appender.submit(key, [{"type": "text", "text": f"{n + 1}"}])
        appender.wait(key, ticket)

    threads = [threading.Thread(target=stream, args=(key,)) for key in KEYS]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    for key in KEYS:
        frames = read_after(key)
        assert [f["seq"] for f in frames] == list(range(1, FRAMES_PER_STREAM + 1))
        assert [f["text"] for f in frames] == [str(n) for n in range(1, FRAMES_PER_STREAM + 1)]


def test_a_write_that_fails_is_raised_in_the_thread_that_waits_and_the_appender_goes_on():
    appender = background_appender()
    broken = appender.submit(KEYS[0], [{"type": "text", "text": object()}])  # cannot be encoded
    with pytest.raises(TypeError):
        appender.wait(KEYS[0], broken)

    fine = appender.submit(KEYS[1], [{"type": "text", "text": "still works"}])
    appender.wait(KEYS[1], fine)
    assert [f["text"] for f in read_after(KEYS[1])] == ["still works"]


def test_frames_survive_redis_losing_its_scripts_without_doubling():
    appender = background_appender()
    appender.wait(KEYS[0], appender.submit(KEYS[0], [{"type": "text", "text": "before"}]))
    redis_client().script_flush()  # what a Redis restart does to the append script

    appender.wait(KEYS[0], appender.submit(KEYS[0], [{"type": "text", "text": "a"}, {"type": "text", "text": "b"}]))

    frames = read_after(KEYS[0])
    assert [(f["seq"], f["text"]) for f in frames] == [(1, "before"), (2, "a"), (3, "b")]
