"""Who is running a generation right now, and whether the user asked to stop it.

The lease itself is `config.leases` (the one helper every claimed job uses); this module names the
generation's lease and keeps the cancel flag. The lease is what makes a redelivered task safe: Celery
redelivers a generation whose worker was SIGKILLed (acks_late + reject_on_worker_lost), and the new
worker takes over only once the dead worker's lease has run out.
"""

from config.leases import Lease, holder_name  # noqa: F401 - holder_name: tests kill that process
from generation.streaming import redis_client

CANCEL_KEEP_S = 3600


def lease(generation_id: int) -> Lease:
    return Lease("generation", generation_id)


def _cancel_key(generation_id: int) -> str:
    return f"kiln:gen-cancel:{generation_id}"


def acquire(generation_id: int) -> bool:
    return lease(generation_id).acquire()


def release(generation_id: int) -> None:
    lease(generation_id).release()


def lease_holder(generation_id: int) -> str | None:
    return lease(generation_id).holder()


def lease_remaining_ms(generation_id: int) -> int:
    return lease(generation_id).remaining_ms()


def seconds_since_heartbeat(generation_id: int) -> float | None:
    return lease(generation_id).seconds_since_beat()


def keep_alive(generation_id: int):
    return lease(generation_id).keep_alive()


def cancel_requested(generation_id: int) -> bool:
    return bool(redis_client().exists(_cancel_key(generation_id)))


def request_cancel(generation_id: int) -> None:
    redis_client().set(_cancel_key(generation_id), 1, ex=CANCEL_KEEP_S)
