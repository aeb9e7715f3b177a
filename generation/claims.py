"""Who is running a generation right now, and whether the user asked to stop it.

A worker holds a short Redis lease while it streams; a thread of its process renews it every half
second (`keep_alive`), also while the model is still silent, so only a dead process loses it. The lease is
what makes a redelivered task safe: Celery redelivers a generation whose worker was SIGKILLed
(acks_late + reject_on_worker_lost), and the new worker takes over only once the dead worker's lease
has run out. A heartbeat timestamp outlives the lease so the watchdog can tell "stuck" from "busy".
"""

import logging
import os
import socket
import threading
import time
from contextlib import contextmanager

import redis

from generation.streaming import redis_client

log = logging.getLogger(__name__)

LEASE_TTL_MS = 6000
RENEW_EVERY_S = 0.5
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


def beat(generation_id: int) -> None:
    """Renew the lease and the heartbeat (at acquire, then from the keep_alive thread)."""
    pipe = redis_client().pipeline()
    pipe.pexpire(_lease_key(generation_id), LEASE_TTL_MS)
    pipe.set(_beat_key(generation_id), time.time(), ex=HEARTBEAT_KEEP_S)
    pipe.execute()


def cancel_requested(generation_id: int) -> bool:
    return bool(redis_client().exists(_cancel_key(generation_id)))


def release(generation_id: int) -> None:
    redis_client().delete(_lease_key(generation_id))


def seconds_since_heartbeat(generation_id: int) -> float | None:
    value = redis_client().get(_beat_key(generation_id))
    return time.time() - float(value) if value else None


def request_cancel(generation_id: int) -> None:
    redis_client().set(_cancel_key(generation_id), 1, ex=CANCEL_KEEP_S)


@contextmanager
def keep_alive(generation_id: int):
    """Renew the generation's lease and heartbeat from a background thread for as long as this
    process streams it, including while the model has not sent a token yet (a queued vLLM request
    can wait longer than the lease): only a dead process loses its lease."""
    with _renewing:
        _renewed.add(generation_id)
        if _renewer.get("pid") != os.getpid():  # none yet, or the parent's, which a fork did not copy
            _renewer["pid"] = os.getpid()
            threading.Thread(target=_renew_forever, name="lease-renewer", daemon=True).start()
    try:
        yield
    finally:
        with _renewing:
            _renewed.discard(generation_id)


_renewed: set[int] = set()
_renewing = threading.Lock()
_renewer: dict[str, int] = {}  # the pid of the process whose renewer thread is running


def _renew_forever() -> None:
    while True:
        time.sleep(RENEW_EVERY_S)
        with _renewing:
            generation_ids = list(_renewed)
        for generation_id in generation_ids:
            try:
                beat(generation_id)
            except redis.RedisError:
                log.exception("renewing the lease of generation %s", generation_id)
