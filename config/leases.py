"""One lease helper for every claimed job: generations, builds, and the evaluation and training jobs.

A worker that takes a job holds a short Redis lease on it, named after the job's kind and id, with the
worker's host:pid as its value. A thread of the worker's process renews every lease the process holds
every half second (`keep_alive`), also while the job is waiting on something slow (a model that has
not sent its first token, a Docker build), so only a dead process loses its lease. A heartbeat time
outlives the lease, so a watchdog can tell "stuck" (no lease, silent for long) from "busy".

Why here and not in a room: the generation and sandbox rooms are leaves that must not import each
other, and both claim jobs. This module knows nothing about either; like the Celery app beside it, it
is plumbing. The status compare-and-set that makes a task idempotent stays with each job's model.
"""

import logging
import os
import socket
import threading
import time
from contextlib import contextmanager
from functools import lru_cache

import redis
from django.conf import settings

log = logging.getLogger(__name__)

LEASE_TTL_MS = settings.LEASE_TTL_MS  # renewed every RENEW_EVERY_S: a few missed renewals are fine
RENEW_EVERY_S = 0.5
HEARTBEAT_KEEP_S = 24 * 3600

# Delete the lease only if this process still holds it (a slow process must not free a successor's).
_RELEASE_SCRIPT = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""


@lru_cache(maxsize=1)
def redis_client() -> redis.Redis:
    return redis.Redis.from_url(settings.REDIS_URL)


def holder_name() -> str:
    """host:pid of this process: what a lease holds, and what a test kills."""
    return f"{socket.gethostname()}:{os.getpid()}"


class LeaseHeld(Exception):
    """Another worker's lease on this job has not run out yet (it may have just died)."""

    def __init__(self, retry_in_s: float):
        super().__init__(f"lease held for {retry_in_s:.1f} s more")
        self.retry_in_s = retry_in_s


class Lease:
    def __init__(self, kind: str, job_id: int):
        self.kind = kind
        self.job_id = job_id
        self.key = f"kiln:lease:{kind}:{job_id}"
        self.beat_key = f"kiln:beat:{kind}:{job_id}"

    def acquire(self) -> bool:
        acquired = bool(redis_client().set(self.key, holder_name(), nx=True, px=LEASE_TTL_MS))
        if acquired:
            self.beat()
        return acquired

    def acquire_or_raise(self) -> None:
        """Take the lease, or raise LeaseHeld with how long to wait before trying again."""
        if not self.acquire():
            raise LeaseHeld(self.remaining_ms() / 1000 + 0.5)

    def beat(self) -> None:
        pipe = redis_client().pipeline()
        pipe.pexpire(self.key, LEASE_TTL_MS)
        pipe.set(self.beat_key, time.time(), ex=HEARTBEAT_KEEP_S)
        pipe.execute()

    def holder(self) -> str | None:
        value = redis_client().get(self.key)
        return value.decode() if value else None

    def remaining_ms(self) -> int:
        return max(0, int(redis_client().pttl(self.key)))

    def seconds_since_beat(self) -> float | None:
        value = redis_client().get(self.beat_key)
        return time.time() - float(value) if value else None

    def release(self) -> None:
        redis_client().eval(_RELEASE_SCRIPT, 1, self.key, holder_name())

    def is_lost(self, *, silent_for_s: float = 0) -> bool:
        """Nobody holds the lease and nobody beat for `silent_for_s`: the worker that had it is gone."""
        if self.holder() is not None:
            return False
        silence = self.seconds_since_beat()
        return silence is None or silence > silent_for_s

    @contextmanager
    def keep_alive(self):
        """Renew this lease from the process's renewer thread for as long as the block runs."""
        with _renewing:
            _renewed[self.key] = self
            if _renewer.get("pid") != os.getpid():  # none yet, or the parent's, which a fork did not copy
                _renewer["pid"] = os.getpid()
                threading.Thread(target=_renew_forever, name="lease-renewer", daemon=True).start()
        try:
            yield self
        finally:
            with _renewing:
                _renewed.pop(self.key, None)


_renewed: dict[str, Lease] = {}
_renewing = threading.Lock()
_renewer: dict[str, int] = {}  # the pid of the process whose renewer thread is running


def _renew_forever() -> None:
    while True:
        time.sleep(RENEW_EVERY_S)
        with _renewing:
            leases = list(_renewed.values())
        for lease in leases:
            try:
                lease.beat()
            except redis.RedisError:
                log.exception("renewing %s", lease.key)
