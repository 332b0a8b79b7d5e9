"""What a page may ask the video gateway, per viewer: the signalling relay's rules, and every live view audited.

Pages reach Janus only through the dashboard (``/video/janus``, routes/video.py), which adds the gateway's API
secret; so every request a browser sends is read here first:

- a session may be created by a viewer allowed to watch cameras, and is theirs alone: another person's
  session id is refused as if it did not exist;
- a session may attach only the streaming plugin; a handle may only watch, start, pause, stop or switch a
  stream, and ``watch``/``switch`` name a mountpoint: its camera must be one the viewer may see (duty
  officers, chiefs and the wall every camera; a station's people only their station's);
- nothing else reaches the gateway (creating, editing or listing mountpoints, the admin API, other plugins).

A view is recorded when a watch is allowed and closed when the handle stops, detaches or hangs up, its session
is destroyed, or the page stops polling (a closed laptop): the audit log says who watched which camera, when,
and for how long (``video.watch`` / ``video.watched``). A refused watch is audited by the route.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

import redis
from sqlalchemy import Engine

import clock
from bus import keys
from store import audit
from video.cameras import Camera, CameraRegistry
from video.feeds import FeedSupervisor

STREAMING_PLUGIN = "janus.plugin.streaming"
SESSION_TTL_S = 90  # a session not polled this long is gone (the gateway's own timeout is 60 s)
HANDLE_REQUESTS = frozenset({"watch", "start", "pause", "stop", "switch", "configure"})
ENDS_VIEW = frozenset({"stop"})


class Refusal(StrEnum):
    """Why the relay refused a request (``video.refused.<reason>`` on the page, the audit's detail)."""

    NOT_ALLOWED = "not_allowed"  # the viewer may not watch cameras at all
    NOT_YOURS = "not_yours"  # another person's gateway session
    REQUEST = "request"  # a request pages never need
    CAMERA = "camera"  # no such camera
    STATION = "station"  # another station's camera


class VideoRefused(ValueError):
    def __init__(self, reason: Refusal, detail: str = "") -> None:
        super().__init__(f"{reason.value}: {detail}" if detail else reason.value)
        self.reason = reason
        self.detail = detail


@dataclass(frozen=True)
class Watcher:
    """Who asks, as the rules need them (routes/video.py makes one from the signed-in viewer's role)."""

    username: str
    allowed: bool  # may watch cameras at all
    everywhere: bool  # every station's cameras (otherwise only ``station``'s)
    station: str | None = None


@dataclass(frozen=True)
class Allowed:
    """A request that may go to the gateway; ``camera`` when it starts watching one."""

    camera: Camera | None = None


@dataclass
class VideoGate:
    """The relay's rules (see the module). ``station_of`` maps a grid to its police station."""

    cameras: CameraRegistry
    redis: redis.Redis
    engine: Engine
    station_of: Callable[[str], str | None]
    feeds: FeedSupervisor | None = None
    now: Callable[[], float] = time.time  # the machine's clock: how long a view lasted, not the world's

    def may_watch(self, viewer: Watcher, camera: Camera) -> bool:
        if not viewer.allowed:
            return False
        return viewer.everywhere or (viewer.station is not None and viewer.station == self.station_of(camera.grid))

    def camera_for(self, viewer: Watcher, device_id: str) -> Camera:
        """A camera the viewer may watch, or :class:`VideoRefused`."""
        camera = self.cameras.get(device_id)
        if camera is None:
            raise VideoRefused(Refusal.CAMERA, device_id[:32])
        if not self.may_watch(viewer, camera):
            raise VideoRefused(Refusal.STATION, camera.device_id)
        return camera

    def check(self, viewer: Watcher, session: str | None, handle: str | None, body: dict[str, Any] | None) -> Allowed:
        """Whether ``viewer`` may send ``body`` (``None``: a long poll) to the gateway at ``session``/``handle``."""
        if not viewer.allowed:
            raise VideoRefused(Refusal.NOT_ALLOWED)
        if session is not None and self.redis.get(keys.VIDEO_SESSION + session) != viewer.username:
            raise VideoRefused(Refusal.NOT_YOURS, session[:24])
        if body is None:
            return Allowed() if session is not None and handle is None else self._refuse("poll")
        verb = body.get("janus")
        if session is None:
            return Allowed() if verb == "create" else self._refuse(verb)
        if handle is None:
            if verb in {"keepalive", "destroy"}:
                return Allowed()
            if verb == "attach" and body.get("plugin") == STREAMING_PLUGIN:
                return Allowed()
            return self._refuse(verb)
        if verb in {"trickle", "detach", "hangup"}:
            return Allowed()
        if verb != "message":
            return self._refuse(verb)
        inner = body.get("body")
        message: dict[str, Any] = inner if isinstance(inner, dict) else {}
        request = message.get("request")
        if request not in HANDLE_REQUESTS:
            return self._refuse(str(request))
        if request in {"watch", "switch"}:
            mountpoint = message.get("id")
            camera = self.cameras.by_mountpoint(mountpoint) if isinstance(mountpoint, int) else None
            if camera is None:
                raise VideoRefused(Refusal.CAMERA, str(mountpoint)[:32])
            if not self.may_watch(viewer, camera):
                raise VideoRefused(Refusal.STATION, camera.device_id)
            return Allowed(camera)
        return Allowed()

    @staticmethod
    def _refuse(what: object) -> Allowed:
        raise VideoRefused(Refusal.REQUEST, str(what)[:32])

    # -- what the gateway answered -------------------------------------------

    def relayed(self, viewer: Watcher, session: str | None, handle: str | None, body: dict[str, Any] | None,
                allowed: Allowed, reply: dict[str, Any]) -> None:
        """Record what an allowed request did, once the gateway has answered it."""
        if reply.get("janus") == "error":
            return
        verb = (body or {}).get("janus")
        if body is None and session is not None:
            self.redis.expire(keys.VIDEO_SESSION + session, SESSION_TTL_S)  # still polled: still open
        elif verb == "create":
            created = str((reply.get("data") or {}).get("id", ""))
            if created:
                self.redis.set(keys.VIDEO_SESSION + created, viewer.username, ex=SESSION_TTL_S)
        elif verb == "destroy" and session is not None:
            self.close_session(session)
            self.redis.delete(keys.VIDEO_SESSION + session)
        elif session is not None and handle is not None:
            request = ((body or {}).get("body") or {}).get("request")
            if allowed.camera is not None:
                self._open_view(viewer, session, handle, allowed.camera)
            elif verb in {"detach", "hangup"} or request in ENDS_VIEW:
                self._close_view(f"{session}/{handle}")

    def _open_view(self, viewer: Watcher, session: str, handle: str, camera: Camera) -> None:
        key = f"{session}/{handle}"
        self._close_view(key)  # a switch ends the view of the camera before
        self.redis.hset(keys.VIDEO_VIEWS, key, json.dumps(
            {"username": viewer.username, "device_id": camera.device_id, "started": self.now()}))
        with self.engine.begin() as conn:
            audit.append(conn, viewer.username, "video.watch", target=camera.device_id, at=clock.now())
        if self.feeds is not None:
            self.feeds.want(camera)

    def _close_view(self, key: str) -> None:
        raw = self.redis.hget(keys.VIDEO_VIEWS, key)
        if raw is None or not self.redis.hdel(keys.VIDEO_VIEWS, key):
            return  # no view, or another process closed it first
        view = json.loads(str(raw))
        seconds = max(0.0, self.now() - float(view["started"]))
        with self.engine.begin() as conn:
            audit.append(conn, view["username"], "video.watched", target=view["device_id"],
                         detail=f"seconds={seconds:.0f}", at=clock.now())

    def close_session(self, session: str) -> None:
        for key in [str(k) for k in self.redis.hkeys(keys.VIDEO_VIEWS) if str(k).startswith(f"{session}/")]:
            self._close_view(key)

    def views(self) -> list[dict[str, Any]]:
        """The live views now (who watches which camera since when)."""
        return [json.loads(str(raw)) | {"view": str(key)}
                for key, raw in self.redis.hgetall(keys.VIDEO_VIEWS).items()]

    def sweep(self) -> int:
        """Close the views of sessions nobody polls any more (a closed page); keep their feeds wanted otherwise.
        Returns how many views were closed."""
        closed = 0
        for view in self.views():
            session = view["view"].split("/", 1)[0]
            if not self.redis.exists(keys.VIDEO_SESSION + session):
                self._close_view(view["view"])
                closed += 1
            elif self.feeds is not None:
                camera = self.cameras.get(view["device_id"])
                if camera is not None:
                    self.feeds.want(camera)
        return closed
