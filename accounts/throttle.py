"""A fixed-window counter in Redis: at most `limit` attempts per key per window, shared by every web
process (the login throttle, django-axes, keeps its own records in the database)."""

import time

from axes.helpers import get_client_ip_address

from config.leases import redis_client


def client_address(request) -> str:
    # The address django-axes sees, so sign-up, reset and login agree on who is asking.
    return get_client_ip_address(request) or "unknown"


def allow(scope: str, key: str, *, limit: int, window_s: int) -> bool:
    """Count one attempt; False when `key` has used up `limit` in the current window."""
    window = int(time.time() // window_s)
    name = f"kiln:throttle:{scope}:{key}:{window}"
    client = redis_client()
    count = client.incr(name)
    if count == 1:
        client.expire(name, window_s)
    return count <= limit
