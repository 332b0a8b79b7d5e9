"""A lease in Redis: one process at a time does a periodic job (announcing health, publishing indicators)."""

from __future__ import annotations

import redis


def hold(r: redis.Redis, key: str, owner: str, seconds: int) -> bool:
    """Take the lease ``key`` for ``owner`` or renew it; ``False`` while another owner holds it.

    The holder renews well within ``seconds``; if it dies, the lease lapses and another takes over.
    """
    if r.set(key, owner, nx=True, ex=seconds):
        return True
    if r.get(key) == owner:
        r.expire(key, seconds)
        return True
    return False
