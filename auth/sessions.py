"""Server-side sessions in Redis: idle lock, absolute lifetime, revocation.

The browser's signed cookie holds only a random session id. The record behind
it (who, role, when signed in, when last active) lives in Redis, so a session
can be ended from anywhere: logout, the idle lock, a disabled account or a
revoked kiosk token. Ending one publishes its id on ``{cc}:auth:ended`` so every
app process cuts that session's Socket.IO connections.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from enum import StrEnum

import redis

from auth.roles import Role, Viewer
from bus import keys

PREFIX = keys.AUTH
SESSION = PREFIX + "session:"  # hash per session
USER_SESSIONS = PREFIX + "user:"  # set of a user's (or kiosk token's) session ids
ENDED_CHANNEL = PREFIX + "ended"  # pub/sub: ids of sessions just ended
LOGIN_RATE = PREFIX + "rate:"  # sign-in attempts per client address per minute

TOUCH_EVERY_S = 15  # activity is written at most this often per session


class Ended(StrEnum):
    IDLE = "idle"
    EXPIRED = "expired"
    LOGOUT = "logout"
    REVOKED = "revoked"


@dataclass
class SessionRegistry:
    """Create, check, touch and end sessions.

    Parameters
    ----------
    r : redis.Redis
        ``decode_responses=True``.
    idle_s, lifetime_s : float
        Idle lock and absolute lifetime of a person's session.
    kiosk_lifetime_s : float
        Lifetime of a big screen's session (screens have no idle lock).
    """

    r: redis.Redis
    idle_s: float = 30 * 60
    lifetime_s: float = 12 * 3600
    kiosk_lifetime_s: float = 30 * 86400
    clock: Callable[[], float] = time.time

    def create(self, username: str, role: Role, station: str | None = None, kiosk_id: str | None = None,
               grids: Iterable[str] = ()) -> Viewer:
        session_id = secrets.token_urlsafe(24)
        now = self.clock()
        lifetime = self.kiosk_lifetime_s if kiosk_id else self.lifetime_s
        owner = f"kiosk:{kiosk_id}" if kiosk_id else username
        csrf = secrets.token_urlsafe(32)
        pipe = self.r.pipeline()
        pipe.hset(SESSION + session_id, mapping={
            "username": username, "role": role.value, "station": station or "", "kiosk": kiosk_id or "",
            "grids": ",".join(sorted(grids)), "owner": owner, "created": now, "active": now, "csrf": csrf})
        # A relative TTL: Redis counts it on its own clock, whatever time the process believes it is.
        pipe.expire(SESSION + session_id, int(lifetime) + 1)
        pipe.sadd(USER_SESSIONS + owner, session_id)
        pipe.execute()
        return Viewer(username=username, role=role, session_id=session_id, station=station, kiosk=kiosk_id, csrf=csrf,
                      grids=frozenset(grids))

    def check(self, session_id: str) -> tuple[Viewer | None, Ended | None, str]:
        """(viewer, None, username) for a live session; (None, why, username) for one just ended.

        An unknown id gives ``(None, None, "")``.
        """
        record = self.r.hgetall(SESSION + session_id) if session_id else {}
        if not record:
            return None, None, ""
        now = self.clock()
        kiosk = bool(record["kiosk"])
        if now - float(record["created"]) > (self.kiosk_lifetime_s if kiosk else self.lifetime_s):
            return self._ended(session_id, Ended.EXPIRED, record["username"])
        if not kiosk and now - float(record["active"]) > self.idle_s:
            return self._ended(session_id, Ended.IDLE, record["username"])
        viewer = Viewer(username=record["username"], role=Role(record["role"]), session_id=session_id,
                        station=record["station"] or None, kiosk=record["kiosk"] or None, csrf=record["csrf"],
                        grids=frozenset(g for g in record.get("grids", "").split(",") if g))
        return viewer, None, viewer.username

    def _ended(self, session_id: str, why: Ended, username: str) -> tuple[None, Ended | None, str]:
        # Two requests may find the same session over its time: only the one that ends it reports it.
        return (None, why, username) if self.end(session_id) else (None, None, "")

    def touch(self, session_id: str) -> None:
        """The person did something: restart the idle clock."""
        now = self.clock()
        active = self.r.hget(SESSION + session_id, "active")
        if active is not None and now - float(active) >= TOUCH_EVERY_S:
            self.r.hset(SESSION + session_id, "active", now)

    def recheck_due(self, session_id: str, every_s: float) -> bool:
        """Whether the account behind the session should be looked up again (and note that it is)."""
        now = self.clock()
        checked = float(self.r.hget(SESSION + session_id, "checked") or 0)
        if now - checked < every_s:
            return False
        self.r.hset(SESSION + session_id, "checked", now)
        return True

    def end(self, session_id: str) -> bool:
        """End one session; returns whether it was live."""
        owner = self.r.hget(SESSION + session_id, "owner")
        removed = self.r.delete(SESSION + session_id)
        if owner:
            self.r.srem(USER_SESSIONS + owner, session_id)
        self.r.publish(ENDED_CHANNEL, session_id)
        return bool(removed)

    def end_all(self, username: str | None = None, kiosk_id: str | None = None) -> int:
        """End every session of a user (or of a kiosk token)."""
        owner = f"kiosk:{kiosk_id}" if kiosk_id else str(username)
        return sum(self.end(sid) for sid in self.r.smembers(USER_SESSIONS + owner))

    def allow_login_attempt(self, address: str, per_minute: int) -> bool:
        """Fixed one-minute window per client address."""
        key = f"{LOGIN_RATE}{address}:{int(self.clock() // 60)}"
        pipe = self.r.pipeline()
        pipe.incr(key)
        pipe.expire(key, 120)
        count, _ = pipe.execute()
        return int(count) <= per_minute
