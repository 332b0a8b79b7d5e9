"""The core consumer: validate, locate, keep, publish; exactly once in visible effect.

One loop per *lane* reads the inbound streams through the consumer group ``cc-core``
(any number of consumers, in any number of processes, share the work). The
events lane reads incidents, alerts, unit fixes, feedback, calls and positions;
the heartbeat lane reads ``{cc}:in:heartbeats`` alone, so an alert never waits
behind a city's heartbeats (250,000 devices send 4,200 a second, and a sensor
platform that reconnects sends its backlog at once). Per batch:

1. each entry is parsed against the contract; a bad one goes to ``{cc}:dead``
   with its original fields and the reason;
2. incidents get their grid (one vectorised STRtree query for the batch) and
   are inserted into the system of record, ``ON CONFLICT DO NOTHING`` on the
   producer's ``event_id``; a sensor alert below its scenario's threshold is kept
   as a reading, and the messages a compound's alert sends at once (the alert
   service's hook) are queued in the same transaction and relayed after it; people's positions are kept
   with whether each is in the person's community (their grids and margin), ``ON CONFLICT DO NOTHING`` on
   person and time, and shown on no screen;
3. in **one Redis script** (:class:`bus.atomic.AtomicBatch`: atomic, and applied once even when a
   Cluster failover makes the client send it again) the batch's live events are appended to
   ``{cc}:live``, their ids marked in ``{cc}:published``, dead letters written and the inbound entries
   acknowledged.

A consumer killed anywhere leaves its entries pending; another (or the same,
restarted) reclaims them with XAUTOCLAIM. Re-processing is harmless: the row
already exists, and an event already marked published is not published again.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, Protocol, cast

import numpy as np
import redis
from sqlalchemy import Connection, Engine, select
from sqlalchemy.dialects import postgresql, sqlite

import clock
from bus import events, keys
from bus.atomic import AtomicBatch
from bus.connection import BLOCK_MS, StreamEntries, StreamsReply, is_cluster_client
from bus.events import Live, alert_payload, encode, incident_payload
from dispatch.lifecycle import IncidentStatus
from geo.datum import gcj02_to_wgs84
from geo.devices import DeviceRegistry
from geo.index import GridIndex
from geo.scenarios import screen
from ingest.contract import (
    ContractError,
    Datum,
    FeedbackIn,
    FeedbackStep,
    IncidentIn,
    PositionIn,
    RevisitCallIn,
    SensorEventIn,
    SensorKind,
    UnitPositionIn,
    parse,
)
from media.store import MediaStore
from positions.areas import Areas
from sensors.health import deadlines_for
from sensors.snapshots import SnapshotRefused, take
from store.db import incidents, positions, sensor_events

log = logging.getLogger(__name__)

BATCH_SIZE = 500
RECLAIM_IDLE_MS = 30_000  # an entry pending this long belongs to a dead consumer
RECLAIM_EVERY_S = 10.0
TRIM_EVERY_S = 10.0  # often enough that a flood overshoots the count cap by little
# The publish log only has to outlast a reclaim race (another consumer processing an entry this one is
# publishing); a crashed batch's entries stay pending, never acknowledged, so they need no memory here.
PUBLISHED_KEEP_S = 3600
READING = "reading"  # the stored kind of an alert that did not reach its threshold
DEAD_FIELD_LIMIT = 16_384
DEAD_VALUE_LIMIT = 4_096  # the contract's largest field (ingest.contract.MAX_FIELD_BYTES)

Entry = tuple[str, dict[str, str]]


class Lane(StrEnum):
    """Which inbound streams a consumer reads (each lane its own loop, thread or process)."""

    EVENTS = "events"  # everything a screen or a clock waits for
    HEARTBEATS = "heartbeats"  # devices' "still here": many, and only the health monitor waits for them

    @property
    def streams(self) -> tuple[str, ...]:
        return keys.EVENT_LANE if self is Lane.EVENTS else keys.HEARTBEAT_LANE


class FeedbackHandler(Protocol):
    """Applies a field unit's report to its instruction (the dispatch service, injected).

    Raises ``ValueError`` for a report it refuses; ``str()`` of it is the reason the dead letter carries.
    """

    def __call__(self, instruction_id: str, unit_id: str, step: str, at: datetime, outcome: str | None,
                 note: str) -> Any: ...


class RevisitCallHandler(Protocol):
    """Records a call centre's return-visit call (the return-visit service, injected); idempotent by
    ``event_id``. Raises ``ValueError`` for a call it refuses (unknown visit, one already ended)."""

    def __call__(self, event_id: str, visit_id: str, agent: str, at: datetime, result: str, note: str) -> Any: ...


class AlertsKept(Protocol):
    """Told of newly kept alerts inside the transaction that keeps them (the alert service, injected: the
    messages that go out at once commit with the alerts or not at all). Returns how many it queued."""

    def __call__(self, conn: Connection, alerts: list[dict[str, Any]], now: datetime) -> int: ...


@dataclass
class BatchResult:
    """What one batch did (for tests, metrics and benchmarks)."""

    processed: int = 0
    published: int = 0
    dead: int = 0
    duplicates: int = 0
    readings: int = 0  # alerts kept as readings (below threshold, from the wrong device)
    live_ids: list[str] = field(default_factory=list)


@dataclass
class _Pending:
    """The Redis side of a batch, written in one transaction at the end."""

    live: list[dict[str, str]] = field(default_factory=list)
    published_ids: list[str] = field(default_factory=list)
    dead: list[dict[str, str]] = field(default_factory=list)
    unit_state: dict[str, str] = field(default_factory=dict)
    device_seen: dict[str, float] = field(default_factory=dict)
    ack: dict[str, list[str]] = field(default_factory=dict)
    fresh_incidents: list[dict[str, Any]] = field(default_factory=list)  # for the instant warning rules
    queued: int = 0  # outbox rows committed with this batch (messages sent at once), relayed after it


class Consumer:
    """Consume the inbound streams until stopped.

    Parameters
    ----------
    r : redis.Redis
        A client with ``decode_responses=True``.
    engine : sqlalchemy.Engine
        The system of record.
    grids, devices
        The district's grids and sensing devices.
    name : str, optional
        Consumer name in the group; defaults to ``host-pid`` (``host-pid:heartbeats`` on that lane).
    lane : Lane
        The streams it reads.
    """

    def __init__(
        self,
        r: redis.Redis,
        engine: Engine,
        grids: GridIndex,
        devices: DeviceRegistry,
        name: str | None = None,
        clock: Callable[[], datetime] = clock.now,
        feedback: FeedbackHandler | None = None,
        revisit_calls: RevisitCallHandler | None = None,
        on_incidents: Callable[[list[dict[str, Any]]], Any] | None = None,
        on_alerts: AlertsKept | None = None,
        relay: Callable[[], int] | None = None,
        media: MediaStore | None = None,
        areas: Areas | None = None,
        lane: Lane = Lane.EVENTS,
    ) -> None:
        self.r = r
        self.engine = engine
        self.grids = grids
        self.devices = devices
        self.lane = lane
        self.name = name or f"{socket.gethostname()}-{os.getpid()}" + ("" if lane is Lane.EVENTS else f":{lane}")
        self.clock = clock
        self.feedback = feedback  # field units' reports go to dispatch through this
        self.revisit_calls = revisit_calls  # a call centre's return-visit calls go to the visits through this
        self.on_incidents = on_incidents  # called with each batch's newly kept live incidents
        self.on_alerts = on_alerts
        self.relay = relay  # publishes the outbox at once when a batch queued messages
        self.media = media  # where alerts' snapshots are kept (none: a snapshot is refused, its alert kept)
        self.areas = areas  # people's communities, positions are judged against (none: positions are refused)
        self._insert = postgresql.insert if engine.dialect.name == "postgresql" else sqlite.insert
        self.reclaim_idle_ms = RECLAIM_IDLE_MS
        # The inbound streams' old names are read too on a single Redis, until every producer has switched
        # (on a Cluster they hash elsewhere: producers switch before the move; docs/ingest.md, "Key names").
        legacy = () if is_cluster_client(r) or lane is not Lane.EVENTS else tuple(keys.LEGACY_INBOUND)
        self.streams = lane.streams + legacy

    # -- group management -------------------------------------------------

    def ensure_groups(self) -> None:
        """Create the consumer group on every inbound stream (idempotent)."""
        for stream in self.streams:
            try:
                self.r.xgroup_create(stream, keys.CONSUMER_GROUP, id="0", mkstream=True)
            except redis.ResponseError as exc:
                if "BUSYGROUP" not in str(exc):
                    raise

    # -- the loop ---------------------------------------------------------

    def run(self, stop: threading.Event) -> None:
        """Read, process and acknowledge until ``stop`` is set. Survives Redis restarts and failovers; a
        database error ends it (the caller starts it again: services.Services.spawn), and a new start first
        finishes what this consumer had read and not acknowledged."""
        self.ensure_groups()
        self.finish_own_pending()
        next_reclaim = next_trim = 0.0
        while not stop.is_set():
            try:
                now = time.monotonic()
                if now >= next_reclaim:
                    self.reclaim()
                    next_reclaim = now + RECLAIM_EVERY_S
                if now >= next_trim:
                    self.trim()
                    next_trim = now + TRIM_EVERY_S
                response = cast(StreamsReply, self.r.xreadgroup(
                    keys.CONSUMER_GROUP, self.name, dict.fromkeys(self.streams, ">"),
                    count=BATCH_SIZE, block=BLOCK_MS,
                ))
                if response:
                    self.process({stream: entries for stream, entries in response})
            except (redis.ConnectionError, redis.TimeoutError) as exc:
                log.warning("Redis unavailable (%s); retrying", exc)
                stop.wait(0.5)
            except redis.ResponseError as exc:
                if "NOGROUP" in str(exc):  # the server lost its data (e.g. a fresh Redis)
                    self.ensure_groups()
                else:
                    raise

    def finish_own_pending(self) -> int:
        """Process the entries delivered to this consumer and never acknowledged (a batch cut short by a
        database restart): at once, not after the 30 s another consumer would wait to reclaim them."""
        total = 0
        while response := cast(StreamsReply, self.r.xreadgroup(
                keys.CONSUMER_GROUP, self.name, dict.fromkeys(self.streams, "0"), count=BATCH_SIZE)):
            batch = {stream: [(i, f) for i, f in entries if f] for stream, entries in response}
            for stream, entries in response:
                if gone := [i for i, f in entries if not f]:  # trimmed away while pending
                    self.r.xack(stream, keys.CONSUMER_GROUP, *gone)
            if not any(batch.values()):
                break
            total += self.process({stream: entries for stream, entries in batch.items() if entries}).processed
        if total:
            log.info("finished %d entries this consumer had read before it stopped", total)
        return total

    def reclaim(self) -> int:
        """Take over entries left pending by a dead consumer and process them."""
        total = 0
        for stream in self.streams:
            start = "0-0"
            while True:
                start, claimed, *_ = self.r.xautoclaim(
                    stream, keys.CONSUMER_GROUP, self.name, self.reclaim_idle_ms, start_id=start, count=BATCH_SIZE
                )
                live = [(entry_id, fields) for entry_id, fields in claimed if fields is not None]
                gone = [entry_id for entry_id, fields in claimed if fields is None]
                if gone:  # trimmed away while pending: nothing left to process
                    self.r.xack(stream, keys.CONSUMER_GROUP, *gone)
                if live:
                    self.process({stream: live})
                    total += len(live)
                if start == "0-0":
                    break
        if total:
            log.info("reclaimed %d pending entries", total)
        return total

    def trim(self) -> None:
        """Trim inbound streams (an hour, about ``INBOUND_KEEP_MAX`` entries at most), never below the
        oldest entry still pending or undelivered; trim ``{cc}:live`` to its retention."""
        machine_now = time.time()  # stream ids are machine time
        for stream in self.streams:
            groups = self.r.xinfo_groups(stream)
            group = next((g for g in groups if g["name"] == keys.CONSUMER_GROUP), None)
            if group is None:
                continue
            floor_ms = max(int((machine_now - keys.INBOUND_KEEP_S) * 1000), self._count_floor_ms(stream))
            candidates = [floor_ms, int(str(group["last-delivered-id"]).split("-")[0])]
            pending = self.r.xpending(stream, keys.CONSUMER_GROUP)
            if pending["pending"]:
                candidates.append(int(str(pending["min"]).split("-")[0]))
            # limit=0: an approximate trim otherwise stops after 10,000 entries, less than a flood adds.
            self.r.xtrim(stream, minid=f"{min(candidates)}-0", approximate=True, limit=0)
        events.trim(self.r, machine_now)
        self.r.zremrangebyscore(keys.PUBLISHED, 0, machine_now - PUBLISHED_KEEP_S)

    def _count_floor_ms(self, stream: str) -> int:
        """About where the newest ``INBOUND_KEEP_MAX`` entries begin (interpolated between the first
        and last ids: one cheap call instead of reading the entries)."""
        length = self.r.xlen(stream)
        if length <= keys.INBOUND_KEEP_MAX:
            return 0
        first = cast(StreamEntries, self.r.xrange(stream, count=1))
        last = cast(StreamEntries, self.r.xrevrange(stream, count=1))
        first_ms, last_ms = (int(entries[0][0].split("-")[0]) for entries in (first, last))
        return first_ms + int((last_ms - first_ms) * (length - keys.INBOUND_KEEP_MAX) / length)

    # -- one batch --------------------------------------------------------

    def process(self, batch: dict[str, list[Entry]]) -> BatchResult:
        """Process a batch of entries from any of the inbound streams."""
        result = BatchResult()
        pending = _Pending()
        now = self.clock()
        for stream, entries in batch.items():
            pending.ack[stream] = [entry_id for entry_id, _ in entries]
            result.processed += len(entries)
            kind = keys.LEGACY_INBOUND.get(stream, stream)  # entries are acknowledged on their own stream
            if kind == keys.INCIDENTS:
                self._incidents(entries, now, pending, result)
            elif kind in (keys.SENSORS, keys.HEARTBEATS):  # an alert sent to the heartbeats is kept all the same
                self._sensors(kind, entries, now, pending, result)
            elif kind == keys.UNITS:
                self._units(entries, pending)
            elif kind == keys.FEEDBACK:
                self._feedback(entries, pending)
            elif kind == keys.REVISIT_CALLS:
                self._revisit_calls(entries, pending)
            elif kind == keys.POSITIONS:
                self._positions(entries, pending, result)
        self._commit_redis(pending, now, result)
        if pending.queued and self.relay is not None:
            try:
                self.relay()
            except (redis.ConnectionError, redis.TimeoutError):  # the relay's own loop sends them later
                log.warning("outbox relay after a batch failed; the relay loop will send it")
        if pending.fresh_incidents and self.on_incidents is not None:
            # Instant warning rules (a family calling again), after publishing so screens never wait for
            # them. A crash here loses no incident: the daily run checks the same window again.
            try:
                self.on_incidents(pending.fresh_incidents)
            except Exception:  # a warning rule must never stop ingestion
                log.exception("instant risk check failed")
        return result

    def _dead(self, pending: _Pending, stream: str, entry_id: str, fields: dict[str, str], reason: str) -> None:
        # A field far over the contract's size (a snapshot's picture) is kept as its start and its length, so the
        # dead letter stays readable JSON with every other field whole.
        shown = {k: v if len(v) <= DEAD_VALUE_LIMIT else f"{v[:64]}…[{len(v)} characters]" for k, v in fields.items()}
        original = json.dumps(shown, ensure_ascii=False)
        if len(original) > DEAD_FIELD_LIMIT:
            original = original[:DEAD_FIELD_LIMIT] + "…[truncated]"
        pending.dead.append({"stream": stream, "entry_id": entry_id, "reason": reason, "fields": original})

    def _incidents(self, entries: list[Entry], now: datetime, pending: _Pending, result: BatchResult) -> None:
        parsed: dict[str, tuple[IncidentIn, str]] = {}
        for entry_id, fields in entries:
            try:
                incident = parse(IncidentIn, fields)
            except ContractError as exc:
                self._dead(pending, keys.INCIDENTS, entry_id, fields, exc.reason)
                continue
            if incident.event_id in parsed:
                result.duplicates += 1  # the same event twice in one batch
                continue
            parsed[incident.event_id] = (incident, entry_id)
        if not parsed:
            return
        items = list(parsed.values())
        lon = [i.lon for i, _ in items]
        lat = [i.lat for i, _ in items]
        gcj = [k for k, (i, _) in enumerate(items) if i.datum is Datum.GCJ02]
        if gcj:
            wgs_lon, wgs_lat = gcj02_to_wgs84([lon[k] for k in gcj], [lat[k] for k in gcj])
            for n, k in enumerate(gcj):
                lon[k], lat[k] = float(wgs_lon[n]), float(wgs_lat[n])
        codes = self.grids.locate_codes(lon, lat)
        rows: list[dict[str, Any]] = []
        sent: dict[str, float | None] = {}
        history: set[str] = set()
        for (incident, entry_id), x, y, code in zip(items, lon, lat, codes, strict=True):
            if code is None:
                self._dead(pending, keys.INCIDENTS, entry_id, _fields_of(incident), "position outside the district")
                continue
            rows.append({
                "event_id": incident.event_id, "stream_id": entry_id,
                # Kept in UTC: SQLite drops offsets, so every stored time means UTC.
                "reported_at": incident.reported_at.astimezone(UTC),
                "ingested_at": now, "lon": round(x, 6), "lat": round(y, 6), "grid": code,
                "category": incident.category.value, "priority": incident.priority, "address": incident.address,
                "description": incident.description, "caller": incident.caller, "source": incident.source.value,
                # History is the past: handled long ago, never on the officers' board.
                "status": IncidentStatus.CLOSED if incident.history else IncidentStatus.NEW,
                "history": incident.history,
            })
            sent[incident.event_id] = incident.sent_at
            if incident.history:
                history.add(incident.event_id)
        if not rows:
            return
        to_publish = self._keep(incidents, rows, result) - history
        for row in rows:
            if row["event_id"] in to_publish:
                pending.live.append(encode(Live.INCIDENT, incident_payload(row, sent[row["event_id"]])))
                pending.published_ids.append(row["event_id"])
                pending.fresh_incidents.append(row)

    def _keep(self, table: Any, rows: list[dict[str, Any]], result: BatchResult,
              with_inserted: Callable[[Connection, set[str]], None] | None = None) -> set[str]:
        """Insert rows, ignoring known event ids; return the ids that still need publishing.

        ``with_inserted`` is called with the ids inserted now, inside the same transaction.

        A known event id is published again only when this is the very entry that was kept (its stream id
        is on the row) and it is not in the publish log: a crash came between the commit and the Redis
        transaction, so the entry was never acknowledged, however long ago it was kept. The same event
        sent again in another entry is a duplicate.
        """
        with self.engine.begin() as conn:
            # executemany with RETURNING: compiled once and cached, sent as multi-row inserts.
            statement = self._insert(table).on_conflict_do_nothing(index_elements=["event_id"])
            inserted = set(conn.execute(statement.returning(table.c.event_id), rows).scalars())
            if with_inserted is not None and inserted:
                with_inserted(conn, inserted)
            known = {row["event_id"]: row["stream_id"] for row in rows if row["event_id"] not in inserted}
            redelivered: list[str] = []
            if known:
                kept_from = conn.execute(select(table.c.event_id, table.c.stream_id)
                                         .where(table.c.event_id.in_(known))).all()
                redelivered = sorted(event_id for event_id, stream_id in kept_from if known[event_id] == stream_id)
        unpublished = set()
        if redelivered:
            scores = self.r.zmscore(keys.PUBLISHED, redelivered)
            unpublished = {event_id for event_id, score in zip(redelivered, scores, strict=True) if score is None}
        result.duplicates += len(known) - len(unpublished)
        return inserted | unpublished

    def _sensors(self, stream: str, entries: list[Entry], now: datetime, pending: _Pending,
                 result: BatchResult) -> None:
        rows: list[dict[str, Any]] = []
        payloads: dict[str, dict[str, Any]] = {}
        for entry_id, fields in entries:
            picture = fields.get("snapshot", "")  # checked on its own: a bad picture never costs the alert
            try:
                reading = parse(SensorEventIn, {k: v for k, v in fields.items() if k != "snapshot"})
            except ContractError as exc:
                self._dead(pending, stream, entry_id, fields, exc.reason)
                continue
            device = self.devices.get(reading.device_id)
            if device is None:
                self._dead(pending, stream, entry_id, fields, f"unknown device {reading.device_id!r}")
                continue
            snapshot = refused = None
            if picture:
                try:
                    if reading.kind is not SensorKind.ALERT:
                        raise SnapshotRefused("not_an_alert", reading.kind.value)
                    snapshot = take(picture, device, self.media)
                except SnapshotRefused as exc:
                    refused = exc.reason
                    self._dead(pending, stream, entry_id, fields, str(exc))
            seen = reading.observed_at.timestamp()
            pending.device_seen[device.device_id] = max(seen, pending.device_seen.get(device.device_id, 0.0))
            if reading.kind is SensorKind.HEARTBEAT:
                continue
            kind, screened = reading.kind.value, None
            if reading.kind is SensorKind.ALERT and reading.scenario:
                # Below the scenario's threshold or floor, or a scenario the device cannot see: a reading,
                # kept and counted per device, never in the duty officer's queue.
                screened = screen(reading.scenario, device.type, reading.value, reading.floor, device.threshold)
                kind = READING if screened else kind
            row = {
                "event_id": reading.event_id, "stream_id": entry_id, "device_id": device.device_id,
                "observed_at": reading.observed_at.astimezone(UTC), "ingested_at": now, "kind": kind,
                "scenario": reading.scenario, "value": reading.value, "floor": reading.floor, "grid": device.grid,
                "screened": screened.value if screened else None,
                "snapshot": snapshot, "snapshot_refused": refused,
            }
            rows.append(row)
            if screened is None:
                payloads[reading.event_id] = alert_payload(row, device) | {"sent_at": reading.sent_at}
        if rows:
            unique = list({row["event_id"]: row for row in rows}.values())
            result.duplicates += len(rows) - len(unique)
            result.readings += sum(row["kind"] == READING for row in unique)

            def tell_at_once(conn: Connection, inserted: set[str]) -> None:
                alerts = [row for row in unique if row["event_id"] in inserted and row["kind"] == "alert"]
                if alerts and self.on_alerts is not None:
                    pending.queued += self.on_alerts(conn, alerts, now)

            for event_id in self._keep(sensor_events, unique, result, tell_at_once):
                payload = payloads.get(event_id)
                if payload is None:  # a reading: kept, not shown
                    continue
                pending.live.append(encode(Live(payload["kind"]), payload))
                pending.published_ids.append(event_id)

    def _units(self, entries: list[Entry], pending: _Pending) -> None:
        latest: dict[str, UnitPositionIn] = {}
        for entry_id, fields in entries:
            try:
                fix = parse(UnitPositionIn, fields)
            except ContractError as exc:
                self._dead(pending, keys.UNITS, entry_id, fields, exc.reason)
                continue
            if fix.unit_id not in latest or fix.observed_at > latest[fix.unit_id].observed_at:
                latest[fix.unit_id] = fix
        if not latest:
            return
        stored = dict(zip(latest, cast("list[str | None]", self.r.hmget(keys.UNIT_STATE, list(latest))), strict=True))
        for unit_id, fix in latest.items():
            kept = stored[unit_id]
            previous = json.loads(kept) if kept else None
            if previous and previous["observed_at"] >= fix.observed_at.timestamp():
                continue  # late or repeated fix: the unit is already further along
            lon, lat = fix.lon, fix.lat
            if fix.datum is Datum.GCJ02:
                wgs = gcj02_to_wgs84(lon, lat)
                lon, lat = float(wgs[0]), float(wgs[1])
            state = {
                "unit_id": unit_id, "lon": round(lon, 6), "lat": round(lat, 6), "status": fix.status.value,
                "heading": fix.heading, "speed": fix.speed, "observed_at": fix.observed_at.timestamp(),
            }
            pending.unit_state[unit_id] = json.dumps(state, separators=(",", ":"))
            pending.live.append(encode(Live.UNIT, state))

    def _feedback(self, entries: list[Entry], pending: _Pending) -> None:
        """Field units' reports move their instructions (each move is idempotent)."""
        for entry_id, fields in entries:
            try:
                report = parse(FeedbackIn, fields)
                if self.feedback is None:
                    raise ContractError("no feedback handler in this consumer")
                step = "result_reported" if report.step is FeedbackStep.RESULT else report.step.value
                self.feedback(report.instruction_id, report.unit_id, step, report.at.astimezone(UTC),
                              report.outcome.value if report.outcome else None, report.note)
            except ContractError as exc:
                self._dead(pending, keys.FEEDBACK, entry_id, fields, exc.reason)
            except ValueError as exc:  # refused by dispatch: unknown instruction, another unit's, illegal move
                self._dead(pending, keys.FEEDBACK, entry_id, fields, str(exc))

    def _revisit_calls(self, entries: list[Entry], pending: _Pending) -> None:
        """A call centre's return-visit calls, each recorded once (its event id)."""
        for entry_id, fields in entries:
            try:
                call = parse(RevisitCallIn, fields)
                if self.revisit_calls is None:
                    raise ContractError("no return-visit handler in this consumer")
                self.revisit_calls(call.event_id, call.visit_id, call.agent, call.at.astimezone(UTC),
                                   call.result.value, call.note)
            except ContractError as exc:
                self._dead(pending, keys.REVISIT_CALLS, entry_id, fields, exc.reason)
            except ValueError as exc:  # refused by the visits: unknown, already ended, a reopening without a note
                self._dead(pending, keys.REVISIT_CALLS, entry_id, fields, str(exc))

    def _positions(self, entries: list[Entry], pending: _Pending, result: BatchResult) -> None:
        """People's positions, kept once per person and time with whether each is in their community (judged now,
        against the grids and margin in force: a month already worked is never rewritten)."""
        fixes: dict[tuple[str, datetime], PositionIn] = {}
        for entry_id, fields in entries:
            try:
                fix = parse(PositionIn, fields)
                if self.areas is None:
                    raise ContractError("no positions handler in this consumer")
                if self.areas.roster.get(fix.person_id) is None:
                    raise ContractError(f"unknown person {fix.person_id!r}")
            except ContractError as exc:
                self._dead(pending, keys.POSITIONS, entry_id, fields, exc.reason)
                continue
            key = (fix.person_id, fix.observed_at.astimezone(UTC))
            if key in fixes:
                result.duplicates += 1  # the same fix twice in one batch
                continue
            fixes[key] = fix
        if not fixes or self.areas is None:
            return
        items = list(fixes.items())
        lon = np.array([fix.lon for _, fix in items], dtype=float)
        lat = np.array([fix.lat for _, fix in items], dtype=float)
        gcj = np.array([fix.datum is Datum.GCJ02 for _, fix in items], dtype=bool)
        if gcj.any():
            lon[gcj], lat[gcj] = gcj02_to_wgs84(lon[gcj], lat[gcj])
        inside = np.zeros(len(items), dtype=bool)
        by_person: dict[str, list[int]] = {}
        for n, ((person_id, _), _) in enumerate(items):
            by_person.setdefault(person_id, []).append(n)
        for person_id, at in by_person.items():  # one vectorised test per person's area
            area = self.areas.of(person_id)
            assert area is not None  # the roster knows them (checked above)
            inside[at] = area.contains(lon[at], lat[at])
        rows = [{"person_id": person_id, "observed_at": observed_at, "lon": round(float(x), 6),
                 "lat": round(float(y), 6), "inside": bool(flag), "accuracy": fix.accuracy, "source": fix.source.value}
                for ((person_id, observed_at), fix), x, y, flag in zip(items, lon, lat, inside, strict=True)]
        with self.engine.begin() as conn:
            statement = self._insert(positions).on_conflict_do_nothing(index_elements=["person_id", "observed_at"])
            kept = len(conn.execute(statement.returning(positions.c.person_id), rows).all())
        result.duplicates += len(rows) - kept

    def _commit_redis(self, pending: _Pending, now: datetime, result: BatchResult) -> None:
        batch = AtomicBatch()  # applied once even if a failover makes the client send it twice
        for fields in pending.live:
            batch.xadd(keys.LIVE, fields)
        if pending.published_ids:
            batch.zadd(keys.PUBLISHED, dict.fromkeys(pending.published_ids, time.time()))  # machine time
        for fields in pending.dead:
            batch.xadd(keys.DEAD, fields)
        if pending.unit_state:
            batch.hset(keys.UNIT_STATE, pending.unit_state)
        if pending.device_seen:
            batch.hset(keys.DEVICE_SEEN, {device: repr(seen) for device, seen in pending.device_seen.items()})
            # When each falls silent, for the health monitor's check of what changed (sensors/health.py).
            batch.zadd(keys.DEVICE_DEADLINES, deadlines_for(pending.device_seen, self.devices))
        counted = sum(len(ids) for ids in pending.ack.values())
        batch.hincrby(keys.COUNTERS, "events_in", counted)
        if pending.dead:
            batch.hincrby(keys.COUNTERS, "dead_letters", len(pending.dead))
            # Operators see the dead-letter count move live.
            batch.xadd(keys.LIVE, encode(Live.COUNTERS, {"dead_letters_added": len(pending.dead)}))
        for stream, ids in pending.ack.items():
            if ids:
                batch.xack(stream, keys.CONSUMER_GROUP, ids)
        added = batch.apply(self.r)
        result.live_ids = added[: len(pending.live)]
        result.published = len(pending.live)
        result.dead = len(pending.dead)

def _fields_of(model: Any) -> dict[str, str]:
    return {k: str(v) for k, v in model.model_dump(mode="json", exclude_none=True).items()}
