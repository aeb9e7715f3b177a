"""Who is running a generation right now, and whether the user asked to stop it.

A worker holds a short Redis lease while it streams and renews it every second or so. The lease is
what makes a redelivered task safe: Celery redelivers a generation whose worker was SIGKILLed
(acks_late + reject_on_worker_lost), and the new worker takes over only once the dead worker's lease
has run out. A heartbeat timestamp outlives the lease so the watchdog can tell "stuck" from "busy".
"""

import os
import socket
import time

from generation.streaming import redis_client

LEASE_TTL_MS = 6000
HEARTBEAT_KEEP_S = 24 * 3600
CANCEL_KEEP_S = 3600


def _lease_key(generation_id: int) -> str:
    return f"kiln:gen-lease:{generation_id}"


def _beat_key(generation_id: int) -> str:
    return f"kiln:gen-beat:{generation_id}"


def _cancel_key(generation_id: int) -> str:
    return f"kiln:gen-cancel:{generation_id}"


def holder_name() -> str:
    """host:pid of this worker process: a test kills exactly this process."""
    return f"{socket.gethostname()}:{os.getpid()}"


def acquire(generation_id: int) -> bool:
    acquired = bool(redis_client().set(_lease_key(generation_id), holder_name(), nx=True, px=LEASE_TTL_MS))
    if acquired:
        beat(generation_id)
    return acquired


def lease_remaining_ms(generation_id: int) -> int:
    return max(0, int(redis_client().pttl(_lease_key(generation_id))))


def lease_holder(generation_id: int) -> str | None:
    value = redis_client().get(_lease_key(generation_id))
    return value.decode() if value else None


def beat(generation_id: int) -> bool:
    """Renew the lease and the heartbeat; returns whether the user asked to cancel."""
    pipe = redis_client().pipeline()
    pipe.pexpire(_lease_key(generation_id), LEASE_TTL_MS)
    pipe.set(_beat_key(generation_id), time.time(), ex=HEARTBEAT_KEEP_S)
    pipe.exists(_cancel_key(generation_id))
    return bool(pipe.execute()[-1])


def release(generation_id: int) -> None:
    redis_client().delete(_lease_key(generation_id))


def seconds_since_heartbeat(generation_id: int) -> float | None:
    value = redis_client().get(_beat_key(generation_id))
    return time.time() - float(value) if value else None


def request_cancel(generation_id: int) -> None:
    redis_client().set(_cancel_key(generation_id), 1, ex=CANCEL_KEEP_S)
