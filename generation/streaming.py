"""The per-generation event log: one Redis Stream per generation, every entry numbered.

Entry ids are "<seq>-0" with seq = 1, 2, 3…, so a client that saw frame N resumes from "N-0" and
gets every later frame exactly once. This is the one publishing path to browsers: the generation task
and the build worker append here; the websocket consumer only reads.

The stream is the record; live delivery rides on Redis pub/sub. The same script that appends a frame
publishes it (with its seq) on the stream's channel, so a websocket process receives every live frame
of every stream it follows on one subscribed connection, with no command sent per frame. A follower
reads the stream itself to catch up, and whenever a seq is missing from what the channel brought.
"""

import asyncio
import json
import logging
import os
import threading
import time
import weakref
from functools import lru_cache

import orjson
import redis
import redis.asyncio as aioredis
from django.conf import settings

log = logging.getLogger(__name__)

# Lua keeps "read last id, add next" atomic, so two writers (generation task, build worker) never
# collide on a sequence number.
_APPEND_SCRIPT = """
local last = redis.call('XREVRANGE', KEYS[1], '+', '-', 'COUNT', 1)
local seq = 1
if last[1] then seq = tonumber(string.match(last[1][1], '^(%d+)')) + 1 end
redis.call('XADD', KEYS[1], seq .. '-0', 'e', ARGV[1])
if tonumber(ARGV[2]) > 0 then redis.call('EXPIRE', KEYS[1], ARGV[2]) end
redis.call('PUBLISH', ARGV[3], seq .. ' ' .. ARGV[1])
return seq
"""


@lru_cache(maxsize=1)
def redis_client() -> redis.Redis:
    return redis.Redis.from_url(settings.REDIS_URL)


@lru_cache(maxsize=1)
def _append_script():
    return redis_client().register_script(_APPEND_SCRIPT)  # EVALSHA: the script body is sent once


def live_channel(stream_key: str) -> str:
    """The pub/sub channel of a stream. Channels are not scoped by Redis database, keys are, so the
    database number is part of the name (tests and a dev instance may share one Redis)."""
    return f"kiln:live:{redis_client().connection_pool.connection_kwargs.get('db', 0)}:{stream_key}"


def append_event(stream_key: str, event: dict, *, ttl_s: int | None = None) -> int:
    """Append one event and return its sequence number. ttl_s (optional) sets the stream's expiry."""
    return int(
        _append_script()(keys=[stream_key], args=[json.dumps(event), ttl_s or 0, live_channel(stream_key)])
    )


BUSY_WITHIN_S = 0.010


class BackgroundAppender:
    """One thread per process that appends every stream's frames to Redis, many per round trip.

    A generation thread that wrote its own frames paid a blocking round trip per token: ~55 us of
    redis-py's per-command work, and a sleep and GIL hand-back while Redis answered. With 50
    generations streaming in one worker that was the largest part of its CPU per frame
    (bench/stream_overhead.py). Here a generation thread only queues its frames; this thread sends
    whatever has queued meanwhile as one pipeline of the append script (~8 us a frame). The first
    frame of a batch waits GENERATION_APPEND_LINGER_MS for company while frames are flowing (the last
    batch went out less than BUSY_WITHIN_S ago): at 50 streams that turns ~2,500 round trips a second
    (each a wake-up here and a read and a write in Redis) into a few hundred, and a lone stream's
    tokens, 20 ms apart, still go out at once.

    Order is kept: one thread, first in first out, and a pipeline runs its commands in order.
    `submit` returns a ticket; `wait(stream_key, ticket)` returns once everything up to it is in Redis,
    and raises the error that stopped a write of that stream's frames (Redis down), in the thread that
    waits, as a direct write would."""

    def __init__(self):
        self._queue: list[tuple[int, str, list[dict]]] = []
        self._changed = threading.Condition()
        self._submitted = 0
        self._written = 0
        self._errors: dict[str, Exception] = {}  # stream key -> what stopped a write of its frames
        self._linger_s = settings.GENERATION_APPEND_LINGER_MS / 1000
        self._last_batch_at = 0.0
        threading.Thread(target=self._run, name="frame-appender", daemon=True).start()

    def submit(self, stream_key: str, events: list[dict]) -> int:
        with self._changed:
            self._submitted += 1
            self._queue.append((self._submitted, stream_key, events))
            self._changed.notify_all()
            return self._submitted

    def wait(self, stream_key: str, ticket: int, timeout_s: float = 30) -> None:
        with self._changed:
            if not self._changed.wait_for(lambda: self._written >= ticket, timeout=timeout_s):
                raise redis.TimeoutError(f"frames were not written to Redis within {timeout_s:g} s")
            error = self._errors.pop(stream_key, None)
        if error is not None:
            raise error

    def _run(self) -> None:
        while True:
            with self._changed:
                self._changed.wait_for(lambda: self._queue)
            if time.monotonic() - self._last_batch_at < BUSY_WITHIN_S:
                time.sleep(self._linger_s)  # frames are flowing: let others join this batch
            with self._changed:
                batch, self._queue = self._queue, []
            self._last_batch_at = time.monotonic()
            try:
                failed = _append_batch([(key, events) for _, key, events in batch])
            except Exception as exc:  # the one writer thread must not die: the waiting threads get the error
                log.exception("appending %d frame batches", len(batch))
                failed = dict.fromkeys(range(len(batch)), exc)
            with self._changed:
                for index, error in failed.items():
                    self._errors[batch[index][1]] = error
                self._written = batch[-1][0]
                self._changed.notify_all()


_APPENDERS: dict[int, BackgroundAppender] = {}


def background_appender() -> BackgroundAppender:
    """This process's appender (a forked child gets its own: threads do not survive a fork)."""
    pid = os.getpid()
    if pid not in _APPENDERS:
        _APPENDERS[pid] = BackgroundAppender()
    return _APPENDERS[pid]


def _append_batch(batch: list[tuple[str, list[dict]]]) -> dict[int, Exception]:
    """Append each (stream, events) of the batch in one pipeline; returns {index: error} for the
    entries that could not be written. EVALSHA is sent raw: redis-py's Script in a pipeline asks
    SCRIPT EXISTS first, an extra round trip per batch; a NOSCRIPT answer (Redis restarted, its script
    cache empty) loads the script and sends the failed entries again, in order."""
    script, client = _append_script(), redis_client()
    channels = {key: live_channel(key) for key, _ in batch}
    pending = list(range(len(batch)))
    failed: dict[int, Exception] = {}
    for _ in range(2):
        pipe = client.pipeline(transaction=False)
        for index in pending:
            key, events = batch[index]
            for event in events:
                pipe.execute_command("EVALSHA", script.sha, 1, key, orjson.dumps(event), 0, channels[key])
        try:
            results = pipe.execute(raise_on_error=False)
        except redis.RedisError as exc:  # the connection itself failed: nothing of this try is known written
            return {index: exc for index in pending} | failed
        position, retry = 0, []
        for index in pending:
            outcomes = results[position:position + len(batch[index][1])]
            position += len(batch[index][1])
            errors = [r for r in outcomes if isinstance(r, Exception)]
            if any(isinstance(e, redis.exceptions.NoScriptError) for e in errors) and not _partly_written(outcomes):
                retry.append(index)
            elif errors:
                failed[index] = errors[0]
        if not retry:
            return failed
        client.script_load(_APPEND_SCRIPT)
        pending = retry
    return failed | {index: redis.exceptions.NoScriptError("append script missing") for index in pending}


def _partly_written(outcomes: list) -> bool:
    """True when some of an entry's events were appended before a NOSCRIPT: sending it again would
    append those twice, so it is reported failed instead (Redis lost its scripts mid-batch)."""
    return any(not isinstance(r, Exception) for r in outcomes)


def expire(stream_key: str, ttl_s: int | None = None) -> None:
    redis_client().expire(stream_key, ttl_s or settings.GENERATION_STREAM_TTL_S)


def _decode(entries) -> list[dict]:
    frames = []
    for entry_id, fields in entries:
        entry_id = entry_id.decode() if isinstance(entry_id, bytes) else entry_id
        frame = json.loads(fields[b"e"])
        frame["seq"] = int(entry_id.split("-", 1)[0])
        frames.append(frame)
    return frames


def read_after(stream_key: str, after_seq: int = 0) -> list[dict]:
    """Every frame with seq > after_seq (synchronous; for tests and CLI tools)."""
    return _decode(redis_client().xrange(stream_key, min=f"({after_seq}-0", max="+"))


class StreamTail:
    """Async reader for the websocket consumer: blocks until frames after `after_seq` exist, and
    returns each frame once, in order. Live frames come from the process's `_LiveFrames`; the stream
    itself is read to catch up at the start, to fill a gap, and after block_ms of quiet."""

    def __init__(self, stream_key: str, after_seq: int = 0):
        self.stream_key = stream_key
        self.channel = live_channel(stream_key)
        self.after_seq = after_seq
        self._live: list[dict] = []
        self._arrived = asyncio.Event()
        self._read_stream_next = True
        self._hub: _LiveFrames | None = None

    async def next_frames(self, block_ms: int = 5000) -> list[dict]:
        """The frames after the last one returned; [] when none came for block_ms."""
        try:
            async with asyncio.timeout(block_ms / 1000):
                if self._hub is None:
                    self._hub = _LiveFrames.for_running_loop()
                    # Subscribed before the first stream read: a frame is either already in the
                    # stream when it is read, or published after, and so comes on the channel.
                    await self._hub.follow(self)
                while True:
                    fresh = await self._read_stream() if self._read_stream_next else self._take_live()
                    if fresh:
                        return fresh
                    if self._read_stream_next or self._live:
                        continue
                    self._arrived.clear()
                    await self._arrived.wait()
        except TimeoutError:
            return await self._read_stream()  # quiet for a while: make sure nothing was missed

    async def close(self) -> None:
        if self._hub is not None:
            await self._hub.unfollow(self)
            self._hub = None

    def _deliver(self, frame: dict) -> None:
        self._live.append(frame)
        self._arrived.set()

    def _lost_track(self) -> None:
        """The channel may have dropped frames (a reconnect): read the stream next."""
        self._read_stream_next = True
        self._arrived.set()

    def _take_live(self) -> list[dict]:
        fresh = []
        for frame in self._live:
            if frame["seq"] <= self.after_seq:
                continue  # already read from the stream
            if frame["seq"] != self.after_seq + 1:
                self._read_stream_next = True  # a frame is missing: the stream has it
                break
            fresh.append(frame)
            self.after_seq = frame["seq"]
        self._live.clear()
        return fresh

    async def _read_stream(self) -> list[dict]:
        self._read_stream_next = False
        entries = await self._hub.redis.xrange(self.stream_key, min=f"({self.after_seq}-0", max="+")
        frames = _decode(entries)
        if frames:
            self.after_seq = frames[-1]["seq"]
        return frames


class _LiveFrames:
    """One subscribed pub/sub connection per event loop, for the live frames of every stream its
    tails follow; it stops when the last tail leaves."""

    @classmethod
    def for_running_loop(cls) -> "_LiveFrames":
        loop = asyncio.get_running_loop()
        if loop not in _LIVE:
            _LIVE[loop] = cls()
        return _LIVE[loop]

    def __init__(self):
        self.redis = aioredis.Redis.from_url(settings.REDIS_URL)
        self.pubsub = self.redis.pubsub()
        self.tails: dict[str, set[StreamTail]] = {}
        self.confirmed: dict[str, asyncio.Event] = {}
        self.commands = asyncio.Lock()
        self.task: asyncio.Task | None = None

    async def follow(self, tail: StreamTail) -> None:
        """Returns once the channel is subscribed (Redis confirmed it)."""
        channel = tail.channel
        self.tails.setdefault(channel, set()).add(tail)
        if channel not in self.confirmed:
            self.confirmed[channel] = asyncio.Event()
            async with self.commands:  # the first command opens the connection: only once
                await self.pubsub.subscribe(channel)
        if self.task is None:
            self.task = asyncio.create_task(self._run())
        await self.confirmed[channel].wait()

    async def unfollow(self, tail: StreamTail) -> None:
        followers = self.tails.get(tail.channel)
        if followers is None:
            return
        followers.discard(tail)
        if not followers:
            del self.tails[tail.channel]
            self.confirmed.pop(tail.channel, None)
            try:
                async with self.commands:
                    await self.pubsub.unsubscribe(tail.channel)
            except redis.RedisError:
                pass  # the connection is gone, and the subscription with it

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        try:
            while self.tails:
                try:
                    message = await self.pubsub.get_message(timeout=None)
                except (redis.ConnectionError, redis.TimeoutError) as exc:
                    # Redis restarted or the connection broke: reconnecting resubscribes every
                    # channel, and each tail reads its stream for what went by meanwhile.
                    log.warning("live frames: %s; reconnecting", exc)
                    await asyncio.sleep(0.5)
                    for tails in self.tails.values():
                        for tail in tails:
                            tail._lost_track()
                    continue
                if message is None:
                    continue
                channel = message["channel"].decode()
                if message["type"] == "subscribe":
                    if channel in self.confirmed:
                        self.confirmed[channel].set()
                elif message["type"] == "message":
                    seq, _, payload = message["data"].partition(b" ")
                    frame = orjson.loads(payload)
                    frame["seq"] = int(seq)
                    for tail in self.tails.get(channel, ()):
                        tail._deliver(dict(frame) if len(self.tails[channel]) > 1 else frame)
        finally:
            self.task = None
            if _LIVE.get(loop) is self:
                del _LIVE[loop]
            await self.pubsub.aclose()
            await self.redis.aclose()


# One per event loop: its Redis connections belong to that loop.
_LIVE: "weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _LiveFrames]" = weakref.WeakKeyDictionary()


def last_seq(stream_key: str) -> int:
    """The newest sequence number in the stream (0 if empty or expired)."""
    entries = redis_client().xrevrange(stream_key, count=1)
    return _decode(entries)[0]["seq"] if entries else 0


def last_seqs(stream_keys: list[str]) -> dict[str, int]:
    """last_seq of each stream, in one round trip (a project's state asks for a dozen at once)."""
    pipeline = redis_client().pipeline(transaction=False)
    for stream_key in stream_keys:
        pipeline.xrevrange(stream_key, count=1)
    replies = pipeline.execute()
    return {key: _decode(entries)[0]["seq"] if entries else 0 for key, entries in zip(stream_keys, replies)}
