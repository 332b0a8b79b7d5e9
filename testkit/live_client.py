"""A screen without a browser: a python-socketio client that speaks the push protocol.

Used by tests (two app processes both deliver), faults (an app process killed) and
benchmarks (server fan-out). Create clients with :func:`open_client` only: it is the one
place that will authenticate them once Socket.IO connections need a login.
"""

from __future__ import annotations

import contextlib
import re
import threading
import time
from collections import Counter
from typing import Any

import requests
import socketio

from testkit.accounts import BENCH_PASSWORD, BENCH_USER


class LiveClient:
    """Connect, subscribe, apply batches in order and acknowledge them, like a page does."""

    def __init__(self, base_url: str, http: requests.Session, over_http: bool = False,
                 reconnection: bool = True) -> None:
        """``http`` is a signed-in session (see :func:`sign_in`): the socket connects with its cookies."""
        self.base_url = base_url.rstrip("/")
        self.over_http = over_http  # acknowledge like a dash page (HTTP POST) or over the socket
        self.http = http
        # reconnection=False: the caller decides where to reconnect (e.g. another app process).
        self.sio = socketio.Client(reconnection=reconnection)
        self.seq = 0
        self.last_id: str | None = None
        self.snapshots = 0
        self.last_snapshot: dict[str, Any] = {}  # the newest snapshot as this client was sent it
        self.events: list[dict[str, Any]] = []
        self.counts: Counter[str] = Counter()  # events received, by type (waiting never rescans them)
        self.received_at: list[float] = []  # epoch ms, per event
        self.duplicates = 0
        self.seen_ids: set[str] = set()
        self.gaps = 0
        # Incidents delivered again as deltas (not explained by a snapshot overlap): must stay 0.
        self.redelivered = 0
        self.snapshot_ids: set[str] = set()
        self.connects = 0
        self.disconnects = 0
        self.connected = False
        self.changed = threading.Condition()
        self.sio.on("batch", self._on_batch)
        self.sio.on("connect", self._on_connect)
        self.sio.on("disconnect", self._on_disconnect)

    def connect(self) -> LiveClient:
        cookies = "; ".join(f"{c.name}={c.value}" for c in self.http.cookies)
        self.sio.connect(self.base_url, transports=["websocket"], wait_timeout=10, headers={"Cookie": cookies})
        return self

    def close(self) -> None:
        self.sio.disconnect()
        self.http.close()

    def move_to(self, base_url: str) -> LiveClient:
        """Reconnect to another app process (what a proxy does when a backend dies); resumes from last_id."""
        with contextlib.suppress(Exception):  # the old server may be gone already
            self.sio.disconnect()
        self.base_url = base_url.rstrip("/")
        return self.connect()

    def wait_disconnected(self, timeout: float = 30.0) -> None:
        with self.changed:
            if not self.changed.wait_for(lambda: not self.connected, timeout):
                raise AssertionError(f"{self.base_url}: still connected after {timeout} s")

    def _on_connect(self) -> None:
        self.seq = 0
        with self.changed:
            self.connected = True
            self.connects += 1
        self._post("/live/subscribe", {"sid": self.sio.get_sid(), "last_id": self.last_id})

    def _on_disconnect(self, *_: Any) -> None:
        with self.changed:
            self.connected = False
            self.disconnects += 1
            self.changed.notify_all()

    def _post(self, path: str, body: dict[str, Any]) -> None:
        if not self.over_http:
            # A socket that just dropped takes its batch with it: the next connection re-subscribes.
            with contextlib.suppress(socketio.exceptions.BadNamespaceError):
                self.sio.emit(path.rsplit("/", 1)[-1], body)
            return
        # On failure the hub re-sends unacknowledged batches; a reconnect re-subscribes.
        with contextlib.suppress(requests.RequestException):
            self.http.post(self.base_url + path, json=body, timeout=10)

    def _on_batch(self, batch: dict[str, Any]) -> None:
        now = time.time() * 1000
        if batch["seq"] <= self.seq:
            self.duplicates += 1
        elif batch["seq"] > self.seq + 1:
            self.gaps += 1
            self.seq = 0
            self._on_connect()
            return
        else:
            events = list(batch["events"])
            if batch.get("snapshot"):
                self.snapshots += 1
                self.last_snapshot = batch["snapshot"]
                # Incidents kept before the snapshot arrive in it rather than as events.
                kept = batch["snapshot"]["incidents"]
                self.snapshot_ids.update(inc["event_id"] for inc in kept)
                events = [{"id": None, "type": "incident", "data": inc} for inc in kept] + events
            self.redelivered += sum(1 for e in events if e["id"] is not None and e["type"] == "incident"
                                    and e["data"]["event_id"] in self.seen_ids
                                    and e["data"]["event_id"] not in self.snapshot_ids)
            # Like a page: an incident is keyed by its event_id, so one in both the snapshot and
            # the deltas after its cursor is shown once.
            events = [e for e in events if e["type"] != "incident" or e["data"]["event_id"] not in self.seen_ids]
            with self.changed:
                self.seen_ids.update(e["data"]["event_id"] for e in events if e["type"] == "incident")
                self.events.extend(events)
                self.counts.update(e["type"] for e in events)
                self.received_at.extend([now] * len(events))
                self.seq = batch["seq"]
                self.last_id = batch["last_id"]
                self.changed.notify_all()
        self._post("/live/ack", {"sid": self.sio.get_sid(), "seq": batch["seq"]})

    def wait_for(self, count: int, kind: str = "incident", timeout: float = 30.0) -> list[dict[str, Any]]:
        """Block until ``count`` events of ``kind`` have arrived (a condition variable, no polling)."""
        deadline = time.monotonic() + timeout
        with self.changed:
            # A cheap check while waiting: the socket's thread needs this lock to hand over every batch.
            while self.counts[kind] < count:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise AssertionError(f"{self.counts[kind]} of {count} {kind} events after {timeout} s")
                self.changed.wait(remaining)
            return [e for e in self.events if e["type"] == kind]


    def wait_for_ids(self, event_ids: set[str], timeout: float) -> bool:
        """Whether every incident in ``event_ids`` has arrived (as an event or in a snapshot) within ``timeout``."""
        with self.changed:
            return self.changed.wait_for(lambda: event_ids <= self.seen_ids, timeout)


def open_client(base_url: str, http: requests.Session | None = None, *, over_http: bool = False,
                reconnection: bool = True, connect: bool = True) -> LiveClient:
    """The one way to make a LiveClient: signed in (as the bench account unless ``http`` is given)."""
    http = http or sign_in(base_url, BENCH_USER, BENCH_PASSWORD)
    client = LiveClient(base_url, http, over_http=over_http, reconnection=reconnection)
    return client.connect() if connect else client


def sign_in(base_url: str, username: str, password: str) -> requests.Session:
    """A ``requests`` session signed in through the sign-in form, sending its CSRF header by itself."""
    session = requests.Session()
    page = session.get(f"{base_url}/login", timeout=10).text
    token = re.search(r'name="csrf" value="([^"]+)"', page)
    if token is None:
        raise RuntimeError(f"no sign-in form at {base_url}/login")
    response = session.post(f"{base_url}/login", data={"csrf": token.group(1), "username": username,
                                                        "password": password}, allow_redirects=False, timeout=10)
    if response.status_code != 302:
        raise RuntimeError(f"sign-in as {username!r} refused ({response.status_code})")
    session.headers["X-CSRFToken"] = session.cookies["_csrf_token"]
    return session
