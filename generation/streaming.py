"""The per-generation event log: one Redis Stream per generation, every entry numbered.

Entry ids are "<seq>-0" with seq = 1, 2, 3…, so a client that saw frame N resumes with XREAD from
"N-0" and gets every later frame exactly once. This is the one publishing path to browsers: the
generation task and the build worker append here; the websocket consumer only reads.
"""

import json
from functools import lru_cache

import redis
import redis.asyncio as aioredis
from django.conf import settings

# Lua keeps "read last id, add next" atomic, so two writers (generation task, build worker) never
# collide on a sequence number.
_APPEND_SCRIPT = """
local last = redis.call('XREVRANGE', KEYS[1], '+', '-', 'COUNT', 1)
local seq = 1
if last[1] then seq = tonumber(string.match(last[1][1], '^(%d+)')) + 1 end
redis.call('XADD', KEYS[1], seq .. '-0', 'e', ARGV[1])
if tonumber(ARGV[2]) > 0 then redis.call('EXPIRE', KEYS[1], ARGV[2]) end
return seq
"""


@lru_cache(maxsize=1)
def redis_client() -> redis.Redis:
    return redis.Redis.from_url(settings.REDIS_URL)


@lru_cache(maxsize=1)
def _append_script():
    return redis_client().register_script(_APPEND_SCRIPT)  # EVALSHA: the script body is sent once


def append_event(stream_key: str, event: dict, *, ttl_s: int | None = None) -> int:
    """Append one event and return its sequence number. ttl_s (optional) sets the stream's expiry."""
    return int(_append_script()(keys=[stream_key], args=[json.dumps(event), ttl_s or 0]))


def append_events(stream_key: str, events: list[dict]) -> None:
    """Append several events in one round trip to Redis (same numbering as append_event)."""
    if not events:
        return
    if len(events) == 1:  # the usual case: one EVALSHA, no pipeline's SCRIPT EXISTS round trip
        append_event(stream_key, events[0])
        return
    pipe = redis_client().pipeline(transaction=False)
    for event in events:
        _append_script()(keys=[stream_key], args=[json.dumps(event), 0], client=pipe)
    pipe.execute()


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
    """Async reader for the websocket consumer: blocks until frames after `after_seq` exist."""

    def __init__(self, stream_key: str, after_seq: int = 0):
        self.stream_key = stream_key
        self.after_seq = after_seq
        self._redis = aioredis.Redis.from_url(settings.REDIS_URL)

    async def next_frames(self, block_ms: int = 5000) -> list[dict]:
        result = await self._redis.xread({self.stream_key: f"{self.after_seq}-0"}, block=block_ms, count=500)
        if not result:
            return []
        frames = _decode(result[0][1])
        self.after_seq = frames[-1]["seq"]
        return frames

    async def close(self) -> None:
        await self._redis.aclose()


def last_seq(stream_key: str) -> int:
    """The newest sequence number in the stream (0 if empty or expired)."""
    entries = redis_client().xrevrange(stream_key, count=1)
    return _decode(entries)[0]["seq"] if entries else 0
