"""The live indicators: recomputed when something happens, pushed to every screen.

One process at a time (a Redis lease, like the device-health monitor) watches
``{cc}:live``. When events arrive it recomputes today's indicators (at most every
``MIN_INTERVAL_S``), and at least every ``REFRESH_S`` because deadlines pass
with nothing arriving. The result is kept in ``{cc}:state:indicators`` (what a
connecting page's snapshot carries) and announced on ``{cc}:live`` by a small
``indicators`` event, for which the push hub sends each page the kept figures:
pages receive them like any event, no page ever asks, and the stream does not
fill with copies of a 15 KB document.
"""

from __future__ import annotations

import json
import logging
import threading
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, cast

import redis
from sqlalchemy import Engine

import clock
from bus import events, keys, lease
from bus.connection import StreamEntries, StreamsReply
from bus.events import Live
from clock import Period
from geo.devices import DeviceRegistry
from geo.index import GridIndex
from indicators.compute import Rows, by_grid, compute, load
from sensors.health import health_map

log = logging.getLogger(__name__)

MIN_INTERVAL_S = 5.0  # at most one recomputation per this, however busy the streams are (computing: ~80 ms)
REFRESH_S = 30.0  # at least one per this: deadlines pass without events
LEASE_S = 15
BLOCK_S = 2.0  # one blocking read waits at most this (under the client's socket timeout; renews the lease)


class Indicators:
    """Today's indicators for the live panel and the big screen; any period's for the reports."""

    def __init__(self, engine: Engine, r: redis.Redis, grids: GridIndex, devices: DeviceRegistry,
                 clock: Callable[[], datetime] = clock.now) -> None:
        self.engine, self.r, self.grids, self.devices, self.clock = engine, r, grids, devices, clock
        self.owner = uuid.uuid4().hex
        self._stations = [code for code, _ in grids.stations("en")]

    def station_of(self, grid: str | None) -> str | None:
        found = self.grids.get(grid) if grid else None
        return found.station if found else None

    def rows(self, period: Period, now: datetime) -> Rows:
        """The rows of ``period``; device health only when the period is still running (it has no history)."""
        live = period.start <= now < period.end
        devices: dict[str, str | None] | None = \
            {d.device_id: d.grid for d in self.devices.devices.values()} if live else None
        heard = None
        if live:  # the sensor platform is heard by its devices' heartbeats (epoch seconds, kept in Redis)
            beats = [float(v) for v in cast(list[str], self.r.hvals(keys.DEVICE_SEEN))]
            heard = datetime.fromtimestamp(max(beats), UTC) if beats else None
        return load(self.engine, period, now, devices, health_map(self.r) if live else None, heard)

    def for_period(self, period: Period, now: datetime | None = None) -> dict[str, Any]:
        now = now or self.clock()
        return compute(self.rows(period, now), period, now, self.station_of, self._stations)

    def station_grids(self, station: str, period: Period, now: datetime | None = None) -> list[dict[str, Any]]:
        """Drill-down: each grid of ``station`` with its figures."""
        now = now or self.clock()
        codes = sorted(str(code) for code in self.grids.codes if self.station_of(str(code)) == station)
        return by_grid(self.rows(period, now), period, now, codes)

    def today(self) -> dict[str, Any]:
        """The latest published indicators (computed now when none are kept yet)."""
        kept = self.r.get(keys.INDICATORS)
        if kept:
            return dict(json.loads(kept))
        return self.for_period(Period.today(self.clock()))

    def publish(self) -> dict[str, Any]:
        """Recompute today's indicators, keep them and push them to the screens."""
        now = self.clock()
        payload = self.for_period(Period.today(now), now)
        pipe = self.r.pipeline(transaction=False)
        pipe.set(keys.INDICATORS, json.dumps(payload, ensure_ascii=False, separators=(",", ":")))
        # Only the news that they changed: the push hub sends pages the kept value (streams/push.py).
        events.publish(pipe, Live.INDICATORS, {"asof": payload["asof"]})
        pipe.execute()
        return payload

    def run(self, stop: threading.Event) -> None:
        """Publish after activity (debounced) and on a timer, while this process holds the lease."""
        cursor = ""  # resolved to a real id once: "$" on every read would miss what came between reads
        last = 0.0
        dirty = True
        while not stop.is_set():
            try:
                if not lease.hold(self.r, keys.INDICATORS_LEASE, self.owner, LEASE_S):
                    stop.wait(LEASE_S / 3)
                    continue
                if not cursor:
                    newest = cast(StreamEntries, self.r.xrevrange(keys.LIVE, count=1))
                    cursor = newest[0][0] if newest else "0-0"
                since = time.monotonic() - last
                if (dirty and since >= MIN_INTERVAL_S) or since >= REFRESH_S:
                    self.publish()
                    last, dirty = time.monotonic(), False
                    continue
                wait_s = min((MIN_INTERVAL_S if dirty else REFRESH_S) - since, BLOCK_S)
                response = cast(StreamsReply, self.r.xread({keys.LIVE: cursor}, count=500,
                                                           block=max(1, int(wait_s * 1000))))
                for _, entries in response:
                    cursor = entries[-1][0]
                    # Its own events are not news.
                    dirty = dirty or any(fields.get("type") != Live.INDICATORS for _, fields in entries)
            except redis.RedisError as exc:
                log.warning("indicators: Redis unavailable (%s)", exc)
                stop.wait(1.0)
