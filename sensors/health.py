"""Device health: online, awaiting its first report, offline (silent for longer than 3 heartbeat intervals), faulty.

Heartbeats are kept in Redis (``{cc}:state:device-seen``, by the consumer); faults
are sensor events in the system of record. There is one definition of health,
:meth:`DeviceHealth.states`, and everyone reads it with the same inputs:

- the *watch start* (``{cc}:state:device-watch``) is written once, by whichever
  process first needs it, and shared by every process and every restart. A device
  never heard from is *awaiting its first report* for one offline window after it,
  then offline from ``watch start + window``;
- :class:`HealthMonitor` keeps ``{cc}:state:device-health`` (every device that is not
  online) and announces each change on ``{cc}:live`` (``device_health``) so maps
  recolour at once, or, past ``BULK_ANNOUNCE`` changes in one check, one
  ``device_health_all`` for which the push hub sends every page the whole map; one app
  process at a time holds the announcing lease. Every
  few seconds it looks only at the devices whose state may have changed, so a
  check costs what changed, not the number of devices (250,000 at city scale):
  the devices whose deadline passed (``{cc}:state:device-deadlines``, last report +
  offline window, written with each heartbeat by the consumer: :func:`deadlines_for`),
  those never heard from whose first window ended (``{cc}:state:device-awaiting``),
  those down that reported again (the down set ``{cc}:state:device-down`` met with the
  deadlines, in Redis), and those with a fault in the last day. A full evaluation
  (:meth:`HealthMonitor.reconcile`) runs on its first check, when the watch start or
  the registry changes, and every ``RECONCILE_EVERY_S`` as a safety net;
- :func:`summary` turns those states into the figures every screen shows (the
  online rate counts only devices whose state is known: awaiting ones are left out);
- :meth:`DeviceHealth.maintenance` is the maintenance page's view of the same states.

False-alarm rates and the alerts kept as readings are queries.
"""

from __future__ import annotations

import logging
import math
import secrets
import threading
import time
from collections.abc import Callable, Collection, Iterable, Mapping
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
# A full evaluation of every device this often (machine seconds) besides the incremental checks: a safety net for
# a writer of last-seen times that bypasses the consumer (a tool, a test); at 250,000 devices it costs about a
# second (README, figures), so every 10 minutes is well under 1% of a core.
RECONCILE_EVERY_S = 600.0
WRITE_CHUNK = 5_000  # members per ZADD / SADD when a reconcile rewrites the work lists
# More changes than this in one check (a city's devices heard for the first time, a sensor platform's outage): one
# state event for all of them, not one event each (250,000 would bury every alert on {cc}:live behind them).
BULK_ANNOUNCE = 2_000


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


def judge(device: Device, last: float | None, fault_at: float | None, watch: float, now: float) -> DeviceState:
    """One device's state now: the one rule, for the full evaluation and the monitor's incremental checks alike.

    ``last``: its last report (epoch s, none if never heard from); ``fault_at``: its fault of the last day.
    """
    window = SILENT_INTERVALS * device.heartbeat_s
    if fault_at is not None:
        return DeviceState(device.device_id, Health.FAULTY, fault_at)
    if last is None:
        # Never heard from: no verdict until it has had a full window to report.
        if now - watch > window:
            return DeviceState(device.device_id, Health.OFFLINE, watch + window)
        return DeviceState(device.device_id, Health.AWAITING, watch)
    if now - last > window:
        return DeviceState(device.device_id, Health.OFFLINE, last + window)
    return DeviceState(device.device_id, Health.ONLINE, last)


def deadlines_for(device_seen: Mapping[str, float], devices: DeviceRegistry) -> dict[str, float]:
    """What a batch of reports writes to ``DEVICE_DEADLINES``: each device's last report + its offline window.

    The consumer's commit writes it beside ``DEVICE_SEEN`` (``ZADD``, no flag: the same value wins as in the
    hash next to it). Devices not in the registry are left out (the consumer dead-letters them anyway).
    """
    out = {}
    for device_id, seen in device_seen.items():
        device = devices.get(device_id)
        if device is not None:
            out[device_id] = seen + SILENT_INTERVALS * device.heartbeat_s
    return out


def record_seen(r: redis.Redis | redis.client.Pipeline, devices: DeviceRegistry,
                device_seen: Mapping[str, float]) -> None:
    """Write reports as the consumer's commit does (last seen and deadline): for tools, tests and benchmarks."""
    if not device_seen:
        return
    r.hset(keys.DEVICE_SEEN, mapping={device_id: repr(seen) for device_id, seen in device_seen.items()})
    deadlines = deadlines_for(device_seen, devices)
    if deadlines:
        r.zadd(keys.DEVICE_DEADLINES, deadlines)


@dataclass(frozen=True)
class Snapshot:
    """One evaluation of every device and what it was judged from."""

    watch: float
    now: float
    seen: dict[str, float]  # device_id -> last report
    devices: dict[str, Device]  # the registry evaluated
    states: dict[str, DeviceState]


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
        snapshot = self.evaluate_all()
        return snapshot.watch, snapshot.states

    def evaluate_all(self) -> Snapshot:
        """Every device's state now, with what it was judged from (O(devices): the monitor's reconcile)."""
        watch = self.watch_start()
        now = self.clock()
        seen = {str(k): float(v) for k, v in self.r.hgetall(keys.DEVICE_SEEN).items()}
        faults = self._recent_faults(now)
        devices = self.devices.devices  # one registry for the whole evaluation, even if a reload comes meanwhile
        states = {device_id: judge(device, seen.get(device_id), faults.get(device_id), watch, now)
                  for device_id, device in devices.items()}
        return Snapshot(watch, now, seen, devices, states)

    def _row(self, state: DeviceState) -> dict[str, Any]:
        device: Device = self.devices.devices[state.device_id]
        return {"device_id": device.device_id, "type": device.type, "grid": device.grid,
                "compound": device.compound, "building": device.building, "floor": device.floor,
                "entrance": device.entrance, "site_kind": device.site_kind,
                "health": state.health.value, "since": state.since}

    def recent_faults(self, now: float) -> dict[str, float]:
        """device_id -> its latest fault (epoch s) of the last :data:`FAULT_HOLD`: the devices that are faulty."""
        return self._recent_faults(now)

    def _recent_faults(self, now: float) -> dict[str, float]:
        since = datetime.fromtimestamp(now, UTC) - FAULT_HOLD
        with self.engine.connect() as conn:
            rows = conn.execute(select(sensor_events.c.device_id, func.max(sensor_events.c.observed_at))
                                .where(and_(sensor_events.c.kind == "fault", sensor_events.c.observed_at >= since))
                                .group_by(sensor_events.c.device_id)).all()
        return {device_id: _epoch(at) for device_id, at in rows}


@dataclass
class CheckStats:
    """What one check looked at (the benchmark's figures)."""

    full: bool = False  # a full evaluation (reconcile) rather than an incremental check
    expired: int = 0  # deadlines passed since the last check
    first_window: int = 0  # never heard from, their first window ended
    back: int = 0  # down devices that reported again
    faulty: int = 0  # devices with a fault of the last day, and those whose fault just lapsed
    candidates: int = 0  # devices judged
    changed: int = 0


@dataclass
class HealthMonitor:
    """Keep ``{cc}:state:device-health`` and announce its changes on ``{cc}:live`` (one process at a time, by lease).

    A check judges only the devices whose state may have changed (see the module docstring); the work lists
    it reads are kept by the consumer (deadlines) and by the monitor itself (awaiting, down), in Redis, so the
    lease can pass to another process at any check.
    """

    health: DeviceHealth
    r: redis.Redis
    owner: str = field(default_factory=lambda: secrets.token_hex(6))
    reconcile_every_s: float = RECONCILE_EVERY_S
    last: CheckStats = field(default_factory=CheckStats, init=False)
    _watch: float | None = field(default=None, init=False)  # the watch start of the last reconcile
    _version: int = field(default=-1, init=False)  # the registry's version at the last reconcile
    _reconciled_at: float = field(default=-math.inf, init=False)  # machine time (monotonic)
    _faulty: set[str] = field(default_factory=set, init=False)  # devices faulty at the last check

    def check_once(self) -> int:
        """Announce what changed since the last check; returns how many devices changed."""
        self.health.devices.reload_if_changed()  # every process: its registry follows imports
        if not lease.hold(self.r, keys.HEALTH_LEASE, self.owner, LEASE_S):
            self._watch = None  # another process announced meanwhile: start again from a full evaluation
            return 0
        watch = self.health.watch_start()
        if (watch != self._watch or self.health.devices.version != self._version
                or time.monotonic() - self._reconciled_at >= self.reconcile_every_s):
            return self.reconcile()
        return self._incremental(watch)

    def reconcile(self) -> int:
        """Judge every device; rewrite the hash and the work lists from that judgement (O(devices))."""
        version = self.health.devices.version
        # Reports arriving from here on move the deadlines after this evaluation read them: the next check sees them.
        snapshot = self.health.evaluate_all()
        watch, now, seen, devices, states = (snapshot.watch, snapshot.now, snapshot.seen, snapshot.devices,
                                             snapshot.states)
        known = self.r.hgetall(keys.DEVICE_HEALTH)
        changed = [s for s in states.values() if known.get(s.device_id, Health.ONLINE.value) != s.health.value]
        gone = [device_id for device_id in known if device_id not in states]  # no longer in the registry
        deadlines: dict[str, float] = {}
        awaiting: dict[str, float] = {}
        for device_id in states:
            window = SILENT_INTERVALS * devices[device_id].heartbeat_s
            last = seen.get(device_id)
            # A deadline just reached (now == deadline) is still online or awaiting (the rule is strict): kept, it
            # is judged at the next check, once passed.
            if last is not None and last + window >= now:
                deadlines[device_id] = last + window
            elif last is None and watch + window >= now:
                awaiting[device_id] = watch + window
        down = [device_id for device_id, s in states.items() if s.health in (Health.AWAITING, Health.OFFLINE)]
        # The work lists: commands of a few thousand members each, not one transaction, so Redis serves the
        # consumer's commits between them (250,000 members in one MULTI would hold everyone up). Only the lease
        # holder reads the awaiting and down lists; a monitor dying halfway leaves the next holder to reconcile.
        bulk = self.r.pipeline(transaction=False)
        bulk.zremrangebyscore(keys.DEVICE_DEADLINES, "-inf", f"({now!r}")
        if gone:
            bulk.zrem(keys.DEVICE_DEADLINES, *gone)
        for chunk in _chunks(list(deadlines.items())):
            bulk.zadd(keys.DEVICE_DEADLINES, dict(chunk), gt=True)  # a report since the read above wins
        bulk.delete(keys.DEVICE_AWAITING)  # one key per DEL: a Cluster's pipeline refuses a multi-key DEL
        bulk.delete(keys.DEVICE_DOWN)
        for chunk in _chunks(list(awaiting.items())):
            bulk.zadd(keys.DEVICE_AWAITING, dict(chunk))
        for ids in _chunks(down):
            bulk.sadd(keys.DEVICE_DOWN, *ids)
        bulk.execute()
        pipe = self.r.pipeline(transaction=True)
        if gone:
            pipe.hdel(keys.DEVICE_HEALTH, *gone)
        self._announce(pipe, changed, down_set=False)
        pipe.execute()
        self._watch, self._version, self._reconciled_at = watch, version, time.monotonic()
        self._faulty = {device_id for device_id, s in states.items() if s.health is Health.FAULTY}
        self.last = CheckStats(full=True, candidates=len(states), changed=len(changed), faulty=len(self._faulty))
        return len(changed)

    def _incremental(self, watch: float) -> int:
        """Judge the devices whose state may have changed since the last check."""
        now = self.health.clock()
        pipe = self.r.pipeline(transaction=True)
        pipe.zrangebyscore(keys.DEVICE_DEADLINES, "-inf", f"({now!r}")  # went silent
        pipe.zremrangebyscore(keys.DEVICE_DEADLINES, "-inf", f"({now!r}")
        pipe.zrangebyscore(keys.DEVICE_AWAITING, "-inf", f"({now!r}")  # never heard from, their first window over
        pipe.zremrangebyscore(keys.DEVICE_AWAITING, "-inf", f"({now!r}")
        # Down devices with a deadline still ahead reported since they went down: back. Redis walks the smaller
        # of the two (the down set, normally), so this costs the devices that are down, never all of them.
        pipe.zinter([keys.DEVICE_DOWN, keys.DEVICE_DEADLINES])
        expired, _, first_window, _, back = pipe.execute()
        faults = self.health.recent_faults(now)
        devices = self.health.devices.devices
        candidates = sorted({*expired, *first_window, *back, *faults, *self._faulty} & devices.keys())
        stats = CheckStats(expired=len(expired), first_window=len(first_window), back=len(back),
                           faulty=len(set(faults) | self._faulty), candidates=len(candidates))
        self._faulty = set(faults)
        self.last = stats
        if not candidates:
            return 0
        pipe = self.r.pipeline(transaction=False)
        pipe.hmget(keys.DEVICE_SEEN, candidates)
        pipe.hmget(keys.DEVICE_HEALTH, candidates)
        seen, known = pipe.execute()
        changed = []
        deadlines: dict[str, float] = {}  # went past a deadline, but reported meanwhile: watch it again
        for device_id, last, was in zip(candidates, seen, known, strict=True):
            reported = None if last is None else float(last)
            state = judge(devices[device_id], reported, faults.get(device_id), watch, now)
            if (was or Health.ONLINE.value) != state.health.value:
                changed.append(state)
            window = SILENT_INTERVALS * devices[device_id].heartbeat_s
            if reported is not None and reported + window >= now:
                deadlines[device_id] = reported + window
        stats.changed = len(changed)
        if not changed and not deadlines:
            return 0
        pipe = self.r.pipeline(transaction=True)
        if deadlines:  # GT: a report kept since the read above has the later deadline, and keeps it
            pipe.zadd(keys.DEVICE_DEADLINES, deadlines, gt=True)
        self._announce(pipe, changed, down_set=True)
        for state in changed:
            if state.health is Health.AWAITING:  # only after a reload or a new watch: a reconcile's case
                pipe.zadd(keys.DEVICE_AWAITING, {state.device_id: watch + SILENT_INTERVALS
                                                 * devices[state.device_id].heartbeat_s})
            elif state.health is not Health.OFFLINE:
                pipe.zrem(keys.DEVICE_AWAITING, state.device_id)
        pipe.execute()
        return len(changed)

    def _announce(self, pipe: redis.client.Pipeline, changed: Collection[DeviceState], down_set: bool) -> None:
        """Write each change to the hash (and the down set) and announce it on the live stream."""
        if len(changed) > BULK_ANNOUNCE:
            self._announce_bulk(pipe, changed, down_set)
            return
        for state in changed:
            if state.health is Health.ONLINE:
                pipe.hdel(keys.DEVICE_HEALTH, state.device_id)
            else:
                pipe.hset(keys.DEVICE_HEALTH, state.device_id, state.health.value)
            if down_set:
                if state.health in (Health.AWAITING, Health.OFFLINE):
                    pipe.sadd(keys.DEVICE_DOWN, state.device_id)
                else:
                    pipe.srem(keys.DEVICE_DOWN, state.device_id)
            events.publish(pipe, Live.DEVICE_HEALTH, {"device_id": state.device_id, "health": state.health.value,
                                                      "since": state.since})

    def _announce_bulk(self, pipe: redis.client.Pipeline, changed: Collection[DeviceState], down_set: bool) -> None:
        """Many changes: written in chunks (Redis serves the consumers between them), then one event on ``pipe``,
        after the writes, whose value the push hub reads from the hash (:func:`health_map`)."""
        online = [s.device_id for s in changed if s.health is Health.ONLINE]
        other = {s.device_id: s.health.value for s in changed if s.health is not Health.ONLINE}
        down = [s.device_id for s in changed if s.health in (Health.AWAITING, Health.OFFLINE)]
        up = [s.device_id for s in changed if s.health not in (Health.AWAITING, Health.OFFLINE)]
        bulk = self.r.pipeline(transaction=False)
        for ids in _chunks(online):
            bulk.hdel(keys.DEVICE_HEALTH, *ids)
        for chunk in _chunks(list(other.items())):
            bulk.hset(keys.DEVICE_HEALTH, mapping=dict(chunk))
        if down_set:
            for ids in _chunks(down):
                bulk.sadd(keys.DEVICE_DOWN, *ids)
            for ids in _chunks(up):
                bulk.srem(keys.DEVICE_DOWN, *ids)
        bulk.execute()
        events.publish(pipe, Live.DEVICE_HEALTH_ALL, {"changed": len(changed)})

    def run(self, stop: threading.Event) -> None:
        while not stop.wait(CHECK_EVERY_S):
            try:
                self.check_once()
            except (redis.ConnectionError, redis.TimeoutError) as exc:
                self._watch = None  # the server may have lost the work lists: a full evaluation next
                log.warning("device health: Redis unavailable (%s)", exc)


def _chunks(items: list[Any]) -> Iterable[list[Any]]:
    for start in range(0, len(items), WRITE_CHUNK):
        yield items[start:start + WRITE_CHUNK]


def not_online(states: Mapping[str, DeviceState]) -> dict[str, str]:
    """device_id -> health of every device that is not online: what ``{cc}:state:device-health`` holds."""
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
