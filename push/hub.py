"""Credit-based push of ``{cc}:live`` to screens: at most one batch in flight per page.

Why: a page that is still rendering loses a prop update that arrives too soon
(measured: one message per event loses events above ~10 events/s). So each
page gets one batch, applies it, acknowledges it, and only then gets the next
one holding everything that piled up meanwhile: an idle page receives single
events at once, a busy page bigger batches, and nothing is dropped.

State per page is small and disposable: the page itself carries its cursor
(the last ``{cc}:live`` id it applied) and hands it back when it (re)subscribes,
to this process or another one, so a reconnect resumes with no gap and no
duplicate. A page further behind than the stream's retention gets a snapshot.

This module knows nothing of Socket.IO: it is given an ``emit(sid, payload)``.
"""

from __future__ import annotations

import bisect
import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, cast

import redis
from sqlalchemy import Engine

import clock
from bus import keys
from bus.connection import BLOCK_MS, StreamEntries, StreamsReply
from bus.events import Live, decode
from push.snapshot import snapshot

log = logging.getLogger(__name__)

MAX_BATCH = 250
RESEND_AFTER_S = 2.0
RING_SIZE = 20_000  # recent events kept in memory (up to a quarter more between trims): most batches never touch Redis

Emit = Callable[[str, dict[str, Any]], None]
# What one page may see of an event: ``lens(type, data)`` returns the data to show, or None to withhold it.
Lens = Callable[[str, dict[str, Any]], dict[str, Any] | None]
SNAPSHOT_KINDS = {"incidents": Live.INCIDENT, "units": Live.UNIT, "instructions": Live.INSTRUCTION,
                  "alerts": Live.ALERT, "leads": Live.LEAD, "grid_tasks": Live.GRID_TASK,
                  "escalations": Live.ESCALATION}
# One object each, seen through the lens whole (a lens may withhold it: a grid worker's phone gets none of them).
SNAPSHOT_STATES = {"indicators": Live.INDICATORS, "risk_grades": Live.RISK_GRADES, "device_health": Live.DEVICE_HEALTH,
                   "counters": Live.COUNTERS, "summary": Live.SUMMARY}


def parse_id(entry_id: str) -> tuple[int, int]:
    ms, _, seq = entry_id.partition("-")
    return int(ms), int(seq or 0)


@dataclass
class _Page:
    sid: str
    cursor: str
    seq: int = 0
    tries: int = 0
    inflight: dict[str, Any] | None = None
    sent_at: float = 0.0
    lens: Lens | None = None


@dataclass
class PushStats:
    batches: int = 0
    events: int = 0
    resends: int = 0
    snapshots: int = 0
    ack_s: deque[float] = field(default_factory=lambda: deque(maxlen=1000))  # recent emit -> ack times

    def ack_quantiles(self) -> dict[str, float]:
        ordered = sorted(self.ack_s)
        if not ordered:
            return {}
        return {q: ordered[min(len(ordered) - 1, int(float(q) * len(ordered)))] for q in ("0.5", "0.95", "0.99")}


class PushHub:
    """Deliver ``{cc}:live`` to subscribed pages, one acknowledged batch at a time.

    Parameters
    ----------
    r : redis.Redis
        Client with ``decode_responses=True`` and a socket timeout above BLOCK_MS.
    engine : sqlalchemy.Engine
        For snapshots.
    emit : callable
        ``emit(sid, payload)`` sends one ``batch`` message to one page.
    """

    def __init__(self, r: redis.Redis, engine: Engine, emit: Emit, max_batch: int = MAX_BATCH,
                 resend_after_s: float = RESEND_AFTER_S,
                 open_instructions: Callable[[], list[dict[str, Any]]] | None = None,
                 open_alerts: Callable[[], list[dict[str, Any]]] | None = None,
                 extras: dict[str, Callable[[], Any]] | None = None,
                 states: dict[str, Callable[[], Any]] | None = None) -> None:
        self.r = r
        self.engine = engine
        self.emit = emit
        self.max_batch = max_batch
        self.resend_after_s = resend_after_s
        self.open_instructions = open_instructions
        self.open_alerts = open_alerts
        self.extras = extras or {}
        # State events: {cc}:live says only that a state changed (the indicators: 15 KB each, every few
        # seconds, would otherwise fill the stream); pages are sent the state's current value.
        self.states = states or {}
        self._state_cache: dict[str, tuple[str, Any]] = {}  # type -> (event id, value): one read per change
        self.pages: dict[str, _Page] = {}
        self.stats = PushStats()
        # Recent events, in stream order, with their parsed ids beside them: a page's next batch is found by
        # bisection, not by scanning the ring (50 pages near its end would otherwise parse it over and over).
        self._ring: list[dict[str, Any]] = []
        self._ring_ids: list[tuple[int, int]] = []
        self._tail_id = "$"
        self._lock = threading.RLock()

    # -- page lifecycle (called from Socket.IO and HTTP handlers) -----------

    def subscribe(self, sid: str, last_id: str | None, lens: Lens | None = None) -> None:
        """Start (or resume, from ``last_id``) delivery to page ``sid``, seen through ``lens``."""
        # Read what the page needs before taking the lock: a snapshot takes a while to build, and every
        # other page's delivery waits for the lock (fifty screens opening at once would stall them all).
        resumable = bool(last_id) and self._retained(str(last_id))
        state = None if resumable else snapshot(self.r, self.engine, open_instructions=self.open_instructions,
                                                open_alerts=self.open_alerts, extras=self.extras)
        with self._lock:
            page = _Page(sid=sid, cursor=last_id or "", lens=lens)
            self.pages[sid] = page
            if state is not None:
                self._send_snapshot(page, state)
            else:
                self._send_next(page)

    def unsubscribe(self, sid: str) -> None:
        with self._lock:
            self.pages.pop(sid, None)

    def ack(self, sid: str, seq: int) -> bool:
        """The page applied batch ``seq``; send it whatever piled up since."""
        with self._lock:
            page = self.pages.get(sid)
            if page is None or page.inflight is None or seq != page.seq:
                return False
            page.cursor = page.inflight["last_id"]
            page.inflight = None
            self.stats.ack_s.append(time.monotonic() - page.sent_at)
            self._send_next(page)
            return True

    # -- the tail loop --------------------------------------------------------

    def run(self, stop: threading.Event) -> None:
        """Tail ``{cc}:live``, feed idle pages, re-send unacknowledged batches."""
        while not stop.is_set():
            try:
                self.poll_once()
            except (redis.ConnectionError, redis.TimeoutError) as exc:
                log.warning("push: Redis unavailable (%s); retrying", exc)
                stop.wait(0.5)

    def poll_once(self, block_ms: int = BLOCK_MS) -> int:
        """One XREAD (blocking up to ``block_ms``); returns the number of new events."""
        if self._tail_id == "$":
            last = cast(StreamEntries, self.r.xrevrange(keys.LIVE, count=1))
            self._tail_id = last[0][0] if last else "0-0"
        response = cast(StreamsReply, self.r.xread({keys.LIVE: self._tail_id}, count=1000, block=block_ms))
        events = [decode(entry_id, fields) for _, entries in response for entry_id, fields in entries]
        with self._lock:
            if events:
                self._remember(events)
                self._tail_id = events[-1]["id"]
            now = time.monotonic()
            for page in list(self.pages.values()):
                if page.inflight is None:
                    self._send_next(page)
                elif now - page.sent_at > self.resend_after_s:
                    self._resend(page)
        return len(events)

    # -- internals ------------------------------------------------------------

    def _retained(self, entry_id: str) -> bool:
        first = cast(StreamEntries, self.r.xrange(keys.LIVE, count=1))
        if not first:
            return entry_id == "0-0"
        # The page's last event must still be in the stream (or be the one just before it).
        return parse_id(entry_id) >= parse_id(first[0][0]) or entry_id == "0-0"

    def _remember(self, events: list[dict[str, Any]]) -> None:
        """Add to the ring; past a quarter over RING_SIZE, drop the oldest back to it (amortised)."""
        self._ring.extend(events)
        self._ring_ids.extend(parse_id(event["id"]) for event in events)
        if len(self._ring) > RING_SIZE + RING_SIZE // 4:
            del self._ring[:-RING_SIZE]
            del self._ring_ids[:-RING_SIZE]

    def _events_after(self, cursor: str) -> list[dict[str, Any]]:
        after = parse_id(cursor) if cursor else (0, 0)
        if self._ring_ids and self._ring_ids[0] <= after:
            start = bisect.bisect_right(self._ring_ids, after)
            return self._ring[start:start + self.max_batch]
        entries = cast(StreamEntries,
                       self.r.xrange(keys.LIVE, min=f"({cursor}" if cursor else "-", count=self.max_batch))
        return [decode(entry_id, fields) for entry_id, fields in entries]

    def _send_next(self, page: _Page) -> None:
        events = self._events_after(page.cursor)
        if not events:
            return
        page.seq += 1
        page.tries = 0
        page.inflight = {"seq": page.seq, "try": 0, "from": page.cursor, "last_id": events[-1]["id"],
                         "events": self._with_states(events)}
        self._emit(page)
        self.stats.events += len(events)

    def _with_states(self, events: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """State events carry the state's current value; of several in one batch only the newest is sent."""
        if not self.states:
            return events
        newest = {event["type"]: i for i, event in enumerate(events) if event["type"] in self.states}
        out = []
        for i, event in enumerate(events):
            kind = event["type"]
            if kind not in self.states:
                out.append(event)
            elif newest[kind] == i:
                cached = self._state_cache.get(kind)
                if cached is None or cached[0] != event["id"]:
                    cached = (event["id"], self.states[kind]())
                    self._state_cache[kind] = cached
                out.append({**event, "data": cached[1]})
        return out

    def _send_snapshot(self, page: _Page, state: dict[str, Any]) -> None:
        page.seq += 1
        page.inflight = {"seq": page.seq, "try": 0, "from": None, "last_id": state["cursor"], "events": [],
                         "snapshot": state}
        self.stats.snapshots += 1
        self._emit(page)

    def _resend(self, page: _Page) -> None:
        assert page.inflight is not None
        page.tries += 1
        page.inflight["try"] = page.tries  # a changed value: Dash ignores an identical prop
        self.stats.resends += 1
        self._emit(page)

    def _emit(self, page: _Page) -> None:
        assert page.inflight is not None
        page.sent_at = time.monotonic()
        page.inflight["emitted_ms"] = time.time() * 1000  # machine time: lets a page measure delivery time
        # The world's time and pace: the page's clocks run from the server's, not the desk's own.
        page.inflight["clock"] = {"now_ms": clock.timestamp() * 1000, "speed": clock.speed()}
        self.stats.batches += 1
        self.emit(page.sid, _through(page.lens, page.inflight) if page.lens else page.inflight)


def _through(lens: Lens, batch: dict[str, Any]) -> dict[str, Any]:
    """The batch as one viewer may see it (sequence and cursor unchanged, so the protocol holds)."""
    def seen(kind: str, items: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return [shown for shown in (lens(kind, item) for item in items) if shown is not None]

    events = []
    for event in batch["events"]:
        data = lens(event["type"], event["data"])
        if data is not None:
            events.append({**event, "data": data})
    out = {**batch, "events": events}
    if batch.get("snapshot"):
        snap = batch["snapshot"]
        out["snapshot"] = {**snap, **{name: seen(kind, snap[name]) for name, kind in SNAPSHOT_KINDS.items()
                                      if name in snap},
                           **{name: lens(kind, snap[name]) for name, kind in SNAPSHOT_STATES.items()
                              if snap.get(name) is not None}}
    return out
