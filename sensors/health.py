"""Device health: online, awaiting its first report, offline (silent for longer than 3 heartbeat intervals), faulty.

Heartbeats are kept in Redis (``cc:state:device-seen``, by the consumer); faults
are sensor events in the system of record. There is one definition of health,
:meth:`DeviceHealth.states`, and everyone reads it with the same inputs:

- the *watch start* (``cc:state:device-watch``) is written once, by whichever
  process first needs it, and shared by every process and every restart. A device
  never heard from is *awaiting its first report* for one offline window after it,
  then offline from ``watch start + window``;
- :class:`HealthMonitor` re-evaluates every device every few seconds, keeps
  ``cc:state:device-health`` (every device that is not online) and announces each
  change on ``cc:live`` (``device_health``) so maps recolour at once; one app
  process at a time holds the announcing lease;
- :func:`summary` turns those states into the figures every screen shows (the
  online rate counts only devices whose state is known: awaiting ones are left out);
- :meth:`DeviceHealth.maintenance` is the maintenance page's view of the same states.

False-alarm rates and the alerts kept as readings are queries.
"""

from __future__ import annotations

import logging
import secrets
import threading
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any, cast

import redis
from sqlalchemy import Engine, and_, case, func, select

import clock
from bus import events, keys, lease
from bus.connection import Fields
from bus.events import Live
from geo.devices import Device, DeviceRegistry
from store.db import alert_verifications, sensor_events

log = logging.getLogger(__name__)

SILENT_INTERVALS = 3  # offline after this many missed heartbeats
FAULT_HOLD = timedelta(hours=24)  # a reported fault keeps the device faulty this long (or until it is fixed)
CHECK_EVERY_S = 5.0
LEASE_S = 15


class Health(StrEnum):
    ONLINE = "online"
    AWAITING = "awaiting"  # never heard from, and the watch began less than one offline window ago
    OFFLINE = "offline"
    FAULTY = "faulty"


DOWN = frozenset({Health.OFFLINE, Health.FAULTY})  # what the maintenance list sends someone to repair
_VALUES = frozenset(h.value for h in Health)


@dataclass(frozen=True)
class DeviceState:
    device_id: str
    health: Health
    since: float  # epoch seconds the device has been in this state (awaiting: since the watch began)


@dataclass(frozen=True)
class Maintenance:
    """One evaluation of every device, as the maintenance page shows it."""

    down: list[dict[str, Any]]  # offline and faulty: faulty first, then offline longest first
    awaiting: list[dict[str, Any]]  # not heard from yet, within the first window: not (yet) to repair
    summary: dict[str, Any]  # :func:`summary` of the same states
    watch_start: float  # epoch seconds the health watch began


@dataclass
class DeviceHealth:
    """Evaluate the health of every device."""

    r: redis.Redis
    engine: Engine
    devices: DeviceRegistry
    # The product clock (a time-lapse or a test's frozen time). In the class body ``clock`` is still the module.
    clock: Callable[[], float] = field(default=clock.timestamp)

    def watch_start(self) -> float:
        """When the health watch began (epoch seconds): written once, shared by every process and restart."""
        pipe = self.r.pipeline(transaction=False)
        pipe.set(keys.DEVICE_WATCH, repr(self.clock()), nx=True)
        pipe.get(keys.DEVICE_WATCH)
        _, start = pipe.execute()
        return float(start)

    def states(self) -> dict[str, DeviceState]:
        """Every device's state now: the one definition the monitor, the maintenance list and the figures share."""
        return self._evaluate()[1]

    def maintenance(self) -> Maintenance:
        """Devices to repair, devices awaiting their first report and the summary, from one evaluation."""
        watch, states = self._evaluate()
        down = sorted((s for s in states.values() if s.health in DOWN),
                      key=lambda s: (s.health is not Health.FAULTY, s.since, s.device_id))
        awaiting = sorted((s for s in states.values() if s.health is Health.AWAITING), key=lambda s: s.device_id)
        return Maintenance([self._row(s) for s in down], [self._row(s) for s in awaiting],
                           summary(not_online(states), states), watch)

    def maintenance_list(self) -> list[dict[str, Any]]:
        """Devices that are down (offline or faulty), with where they are: faulty first, then offline longest first."""
        return self.maintenance().down

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

    def readings_kept(self, start: datetime, end: datetime) -> list[dict[str, Any]]:
        """Alerts kept as readings in ``[start, end)`` (below their threshold or floor, or a scenario the device
        cannot see), per device and reason, most first: a device that keeps sending them may need adjusting."""
        query = (select(sensor_events.c.device_id, sensor_events.c.screened, func.count().label("readings"),
                        func.max(sensor_events.c.observed_at).label("last_at"))
                 .where(and_(sensor_events.c.kind == "reading", sensor_events.c.ingested_at >= start,
                             sensor_events.c.ingested_at < end))
                 .group_by(sensor_events.c.device_id, sensor_events.c.screened))
        with self.engine.connect() as conn:
            rows = [dict(r) for r in conn.execute(query).mappings()]
        for row in rows:
            row["last_at"] = _epoch(row["last_at"])
        return sorted(rows, key=lambda r: (-r["readings"], r["device_id"], r["screened"] or ""))

    def _evaluate(self) -> tuple[float, dict[str, DeviceState]]:
        """The watch start and every device's state at this moment."""
        watch = self.watch_start()
        now = self.clock()
        seen = {k: float(v) for k, v in self.r.hgetall(keys.DEVICE_SEEN).items()}
        faults = self._recent_faults(now)
        out = {}
        for device_id, device in self.devices.devices.items():
            window = SILENT_INTERVALS * device.heartbeat_s
            last = seen.get(device_id)
            if device_id in faults:
                out[device_id] = DeviceState(device_id, Health.FAULTY, faults[device_id])
            elif last is None:
                # Never heard from: no verdict until it has had a full window to report.
                if now - watch > window:
                    out[device_id] = DeviceState(device_id, Health.OFFLINE, watch + window)
                else:
                    out[device_id] = DeviceState(device_id, Health.AWAITING, watch)
            elif now - last > window:
                out[device_id] = DeviceState(device_id, Health.OFFLINE, last + window)
            else:
                out[device_id] = DeviceState(device_id, Health.ONLINE, last)
        return watch, out

    def _row(self, state: DeviceState) -> dict[str, Any]:
        device: Device = self.devices.devices[state.device_id]
        return {"device_id": device.device_id, "type": device.type, "grid": device.grid,
                "compound": device.compound, "building": device.building, "floor": device.floor,
                "entrance": device.entrance, "site_kind": device.site_kind,
                "health": state.health.value, "since": state.since}

    def _recent_faults(self, now: float) -> dict[str, float]:
        since = datetime.fromtimestamp(now, UTC) - FAULT_HOLD
        with self.engine.connect() as conn:
            rows = conn.execute(select(sensor_events.c.device_id, func.max(sensor_events.c.observed_at))
                                .where(and_(sensor_events.c.kind == "fault", sensor_events.c.observed_at >= since))
                                .group_by(sensor_events.c.device_id)).all()
        return {device_id: _epoch(at) for device_id, at in rows}


@dataclass
class HealthMonitor:
    """Keep ``cc:state:device-health`` and announce its changes on ``cc:live`` (one process at a time, by lease)."""

    health: DeviceHealth
    r: redis.Redis
    owner: str = field(default_factory=lambda: secrets.token_hex(6))

    def check_once(self) -> int:
        """Announce what changed since the last check; returns how many devices changed."""
        if not lease.hold(self.r, keys.HEALTH_LEASE, self.owner, LEASE_S):
            return 0
        known = self.r.hgetall(keys.DEVICE_HEALTH)
        states = self.health.states()
        changed = [s for s in states.values() if known.get(s.device_id, Health.ONLINE.value) != s.health.value]
        gone = [device_id for device_id in known if device_id not in states]  # no longer in the registry
        if not changed and not gone:
            return 0
        pipe = self.r.pipeline(transaction=True)
        if gone:
            pipe.hdel(keys.DEVICE_HEALTH, *gone)
        for state in changed:
            if state.health is Health.ONLINE:
                pipe.hdel(keys.DEVICE_HEALTH, state.device_id)
            else:
                pipe.hset(keys.DEVICE_HEALTH, state.device_id, state.health.value)
            events.publish(pipe, Live.DEVICE_HEALTH, {"device_id": state.device_id, "health": state.health.value,
                                                      "since": state.since})
        pipe.execute()
        return len(changed)

    def run(self, stop: threading.Event) -> None:
        while not stop.wait(CHECK_EVERY_S):
            try:
                self.check_once()
            except (redis.ConnectionError, redis.TimeoutError) as exc:
                log.warning("device health: Redis unavailable (%s)", exc)


def not_online(states: Mapping[str, DeviceState]) -> dict[str, str]:
    """device_id -> health of every device that is not online: what ``cc:state:device-health`` holds."""
    return {device_id: s.health.value for device_id, s in states.items() if s.health is not Health.ONLINE}


def summary(health_by_device: Mapping[str, str], device_ids: Iterable[str]) -> dict[str, Any]:
    """The figures every screen shows for ``device_ids``, given who is not online (:func:`health_map`).

    ``rate`` is online / devices whose state is known: a device awaiting its first report is
    neither up nor down yet, so it is left out (``None`` when no device is known).
    """
    counts = dict.fromkeys(Health, 0)
    for device_id in device_ids:
        value = health_by_device.get(device_id, Health.ONLINE.value)
        # An unknown value is not a known-good device: count it as offline rather than lose it.
        counts[Health(value) if value in _VALUES else Health.OFFLINE] += 1
    total = sum(counts.values())
    known = total - counts[Health.AWAITING]
    return {"total": total, "online": counts[Health.ONLINE], "awaiting": counts[Health.AWAITING],
            "offline": counts[Health.OFFLINE], "faulty": counts[Health.FAULTY],
            "rate": counts[Health.ONLINE] / known if known else None}


def health_map(r: redis.Redis) -> dict[str, str]:
    """Devices that are not online (awaiting, offline, faulty), as screens colour them."""
    return dict(cast(Fields, r.hgetall(keys.DEVICE_HEALTH)))


def _epoch(value: datetime) -> float:
    return (value if value.tzinfo else value.replace(tzinfo=UTC)).timestamp()
