"""Device health: online, offline (silent for longer than 3 heartbeat intervals), faulty.

Heartbeats are kept in Redis (``cc:state:device-seen``, by the consumer); faults
are sensor events in the system of record. :class:`HealthMonitor` re-evaluates
every device every few seconds and announces each change on ``cc:live``
(``device_health``) so maps recolour at once; one app process at a time holds
the announcing lease. The maintenance list and false-alarm rates are queries.
"""

from __future__ import annotations

import logging
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any

import redis
from sqlalchemy import Engine, and_, case, func, select

from geo.devices import DeviceRegistry
from store.db import alert_verifications, sensor_events
from streams import keys, lease
from streams.live import encode

log = logging.getLogger(__name__)

SILENT_INTERVALS = 3  # offline after this many missed heartbeats
FAULT_HOLD = timedelta(hours=24)  # a reported fault keeps the device faulty this long (or until it is fixed)
CHECK_EVERY_S = 5.0
LEASE_S = 15


class Health(StrEnum):
    ONLINE = "online"
    OFFLINE = "offline"
    FAULTY = "faulty"


@dataclass(frozen=True)
class DeviceState:
    device_id: str
    health: Health
    since: float | None  # epoch seconds the device has been in this state (None: never heard from)


@dataclass
class DeviceHealth:
    """Evaluate the health of every device."""

    r: redis.Redis
    engine: Engine
    devices: DeviceRegistry
    clock: Callable[[], float] = time.time

    def states(self, started_at: float | None = None) -> dict[str, DeviceState]:
        """Every device's state. Devices never heard from count as offline only once a full
        offline window has passed since ``started_at`` (the monitor's start), not at boot."""
        now = self.clock()
        seen = {k: float(v) for k, v in self.r.hgetall(keys.DEVICE_SEEN).items()}
        faults = self._recent_faults(now)
        out = {}
        for device_id, device in self.devices.devices.items():
            window = SILENT_INTERVALS * device.heartbeat_s
            last = seen.get(device_id)
            if device_id in faults:
                out[device_id] = DeviceState(device_id, Health.FAULTY, faults[device_id])
            elif last is not None and now - last > window:
                out[device_id] = DeviceState(device_id, Health.OFFLINE, last + window)
            elif last is None and started_at is not None and now - started_at > window:
                out[device_id] = DeviceState(device_id, Health.OFFLINE, None)
            else:
                out[device_id] = DeviceState(device_id, Health.ONLINE, last)
        return out

    def maintenance_list(self) -> list[dict[str, Any]]:
        """Devices that are down, with where they are: faulty first, then offline longest first,
        then those never heard from."""
        down = [s for s in self.states(started_at=0.0).values() if s.health is not Health.ONLINE]
        down.sort(key=lambda s: (s.health is not Health.FAULTY, s.since is None, s.since or 0.0))
        rows = []
        for state in down:
            device = self.devices.devices[state.device_id]
            rows.append({"device_id": device.device_id, "type": device.type, "grid": device.grid,
                         "compound": device.compound, "building": device.building, "site_kind": device.site_kind,
                         "health": state.health.value, "since": state.since})
        return rows

    def false_alarm_rates(self, since: datetime | None = None) -> list[dict[str, Any]]:
        """Per device with verified alerts: alerts, false alarms and their share, worst first."""
        false = func.sum(case((alert_verifications.c.verdict == "false_alarm", 1), else_=0))
        query = (select(sensor_events.c.device_id, func.count().label("alerts"), false.label("false_alarms"))
                 .join(alert_verifications, alert_verifications.c.event_id == sensor_events.c.event_id)
                 .where(sensor_events.c.kind == "alert")
                 .group_by(sensor_events.c.device_id))
        if since is not None:
            query = query.where(sensor_events.c.ingested_at >= since)
        with self.engine.connect() as conn:
            rows = [dict(r) for r in conn.execute(query).mappings()]
        for row in rows:
            row["false_alarms"] = int(row["false_alarms"] or 0)
            row["rate"] = row["false_alarms"] / row["alerts"] if row["alerts"] else 0.0
        return sorted(rows, key=lambda r: (-r["rate"], -r["alerts"], r["device_id"]))

    def _recent_faults(self, now: float) -> dict[str, float]:
        since = datetime.fromtimestamp(now, UTC) - FAULT_HOLD
        with self.engine.connect() as conn:
            rows = conn.execute(select(sensor_events.c.device_id, func.max(sensor_events.c.observed_at))
                                .where(and_(sensor_events.c.kind == "fault", sensor_events.c.observed_at >= since))
                                .group_by(sensor_events.c.device_id)).all()
        return {device_id: _epoch(at) for device_id, at in rows}


@dataclass
class HealthMonitor:
    """Announce device health changes on ``cc:live`` (one process at a time, by lease)."""

    health: DeviceHealth
    r: redis.Redis
    owner: str = field(default_factory=lambda: secrets.token_hex(6))
    started_at: float = field(default_factory=time.time)

    def check_once(self) -> int:
        """Announce what changed since the last check; returns how many devices changed."""
        if not lease.hold(self.r, keys.HEALTH_LEASE, self.owner, LEASE_S):
            return 0
        known = self.r.hgetall(keys.DEVICE_HEALTH)
        changed = []
        for state in self.health.states(self.started_at).values():
            before = known.get(state.device_id, Health.ONLINE.value)
            if before != state.health.value:
                changed.append(state)
        if not changed:
            return 0
        pipe = self.r.pipeline(transaction=True)
        for state in changed:
            if state.health is Health.ONLINE:
                pipe.hdel(keys.DEVICE_HEALTH, state.device_id)
            else:
                pipe.hset(keys.DEVICE_HEALTH, state.device_id, state.health.value)
            pipe.xadd(keys.LIVE, encode("device_health", {"device_id": state.device_id, "health": state.health.value,
                                                          "since": state.since}))
        pipe.execute()
        return len(changed)

    def run(self, stop: threading.Event) -> None:
        while not stop.wait(CHECK_EVERY_S):
            try:
                self.check_once()
            except (redis.ConnectionError, redis.TimeoutError) as exc:
                log.warning("device health: Redis unavailable (%s)", exc)


def health_map(r: redis.Redis) -> dict[str, str]:
    """Devices that are not online, as screens colour them."""
    return dict(r.hgetall(keys.DEVICE_HEALTH))


def _epoch(value: datetime) -> float:
    return (value if value.tzinfo else value.replace(tzinfo=UTC)).timestamp()

