"""Dispatch: recommend units, issue instructions durably, move them through their lifecycle.

Durability (the outbox pattern, :mod:`bus.outbox`): an instruction, the unit's
reservation, the log entry and the messages announcing it (to the field units'
inbox ``{cc}:out:instructions`` and to screens via ``{cc}:live``) are written in
**one database transaction**. Only after it commits is the officer told "sent";
the relay then copies the messages to Redis, each at most once.

No double booking: a unit's reservation row (primary key ``unit_id``) is the
lock; two officers sending the same unit at once race for one insert and
exactly one wins. A double click or retried request carries the same
idempotency key and gets the first request's answer.
"""

from __future__ import annotations

import hashlib
import json
import logging
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import redis
from sqlalchemy import Connection, Engine, and_, delete, insert, select, update
from sqlalchemy.dialects import postgresql, sqlite

import clock
from bus import keys
from bus.events import Live, incident_payload, instruction_payload
from bus.outbox import OutboxRelay, queue, queue_event
from dispatch.lifecycle import (
    FIELD_STEPS,
    FINISHED_INCIDENTS,
    OPEN,
    TERMINAL,
    IllegalTransition,
    IncidentStatus,
    Outcome,
    State,
    next_state,
)
from dispatch.recommend import Candidate, rank_units
from geo.index import ARRIVAL_TARGET_MINUTES, GridIndex
from i18n import text
from store import audit
from store.db import as_utc, incidents, instruction_events, instructions, unit_reservations

log = logging.getLogger(__name__)

RESULT_TARGET_MINUTES = 15
AMBER_FRACTION = 0.2  # the last fifth of a time budget shows amber
MAX_UNITS_PER_SEND = 5
MAX_TEXT = 1000

_STEP_COLUMN = {
    State.RECEIVED: "received_at",
    State.EN_ROUTE: "en_route_at",
    State.ON_SCENE: "on_scene_at",
    State.RESULT_REPORTED: "result_at",
}


class Refused(ValueError):
    """An action refused, with the reason the officer reads."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def request_key(key: str, unit_ids: list[str], replaces: str | None) -> str:
    """What makes two sends the same: the panel's key and what was asked (the units, the instruction replaced).

    A repeat (a double click, a retry) matches. A different send made under the same key before the page heard
    the first answer (adding a unit, reassigning from the live list) is a send of its own, not a repeat.
    """
    asked = "\x1f".join([key, replaces or "", *sorted(unit_ids)])
    return hashlib.sha256(asked.encode()).hexdigest()[:32]


@dataclass
class SendResult:
    instruction_ids: list[str]
    duplicate: bool = False  # the same request was already served


@dataclass
class Recommendation:
    incident: dict[str, Any]
    zone: str
    grid_name: str
    ranked: list[Candidate]
    nearby: list[Candidate]
    suggested_text: str


@dataclass
class DispatchService:
    """Everything the duty officer and the field units do to instructions.

    Parameters
    ----------
    engine : sqlalchemy.Engine
        System of record.
    r : redis.Redis
        For unit states.
    grids : GridIndex
        Zones (arrival targets) of incident grids.
    outbox : OutboxRelay
        Relays the messages each change queued, right after it commits.
    """

    engine: Engine
    r: redis.Redis
    grids: GridIndex
    outbox: OutboxRelay
    clock: Callable[[], datetime] = field(default=clock.now)
    language: str = "zh-CN"

    def __post_init__(self) -> None:
        dialect = self.engine.dialect.name
        self._insert = postgresql.insert if dialect == "postgresql" else sqlite.insert

    # -- reading ------------------------------------------------------------

    def incident(self, event_id: str) -> dict[str, Any] | None:
        with self.engine.connect() as conn:
            row = conn.execute(select(incidents).where(incidents.c.event_id == event_id)).mappings().first()
        return dict(row) if row else None

    def units(self) -> list[dict[str, Any]]:
        return [json.loads(v) for v in self.r.hvals(keys.UNIT_STATE)]

    def reserved_units(self, conn: Connection | None = None) -> set[str]:
        if conn is None:
            with self.engine.connect() as own:
                return self.reserved_units(own)
        return set(conn.execute(select(unit_reservations.c.unit_id)).scalars())

    def recommend(self, event_id: str) -> Recommendation | None:
        """The incident, units ranked by ETA, forces within 2 km, and a suggested instruction."""
        incident = self.incident(event_id)
        if incident is None:
            return None
        grid = self.grids.get(incident["grid"])
        zone = grid.zone if grid else "rural"
        ranked, nearby = rank_units(self.units(), incident["lon"], incident["lat"], zone, self.reserved_units())
        name = grid.localized("name", self.language) if grid else ""
        return Recommendation(incident, zone, name, ranked, nearby, self.suggest_text(incident, nearby))

    def suggest_text(self, incident: dict[str, Any], nearby: list[Candidate]) -> str:
        lang = self.language
        grid = self.grids.get(incident["grid"])
        return text(
            "dispatch.template", lang,
            address=incident["address"],
            grid=f"{incident['grid']} {grid.localized('name', lang) if grid else ''}".strip(),
            category=text(f"category.{incident['category']}", lang),
            description=incident["description"] or "—",
            nearby=", ".join(c.unit_id for c in nearby) or text("dispatch.none_nearby", lang),
        )

    def instructions_for(self, incident_id: str) -> list[dict[str, Any]]:
        with self.engine.connect() as conn:
            rows = conn.execute(select(instructions).where(instructions.c.incident_id == incident_id)
                                .order_by(instructions.c.issued_at)).mappings().all()
        return [dict(r) for r in rows]

    def log_for(self, incident_id: str) -> list[dict[str, Any]]:
        """The append-only log of an incident's instructions, oldest first."""
        with self.engine.connect() as conn:
            rows = conn.execute(select(instruction_events).where(instruction_events.c.incident_id == incident_id)
                                .order_by(instruction_events.c.id)).mappings().all()
        return [dict(r) for r in rows]

    def open_instructions(self) -> list[dict[str, Any]]:
        with self.engine.connect() as conn:
            rows = conn.execute(select(instructions).where(instructions.c.state.in_([s.value for s in OPEN]))
                                .order_by(instructions.c.issued_at)).mappings().all()
        return [instruction_payload(dict(r)) for r in rows]

    # -- acting ---------------------------------------------------------------

    def send(self, incident_id: str, unit_ids: list[str], body: str, officer: str, key: str,
             replaces: str | None = None) -> SendResult:
        """Issue one instruction per unit, durably and at most once per ``key`` and request (see :func:`request_key`).

        With ``replaces``, the given open instruction is marked ``reassigned`` (and its unit
        released) in the same transaction: a reassignment is never half done.

        Raises
        ------
        Refused
            Unknown incident or unit, a unit already held for another incident (units all on this one
            already answer as that send, ``duplicate``),
            an incident already closed or diverted, or bad input. Nothing is written.
        """
        unit_ids = list(dict.fromkeys(unit_ids))
        if not 1 <= len(unit_ids) <= MAX_UNITS_PER_SEND:
            raise Refused(text("dispatch.refused.unit_count", self.language, most=MAX_UNITS_PER_SEND))
        body = body.strip()
        if not body or len(body) > MAX_TEXT:
            raise Refused(text("dispatch.refused.text", self.language, most=MAX_TEXT))
        if not key or len(key) > 64:
            raise Refused(text("dispatch.refused.key", self.language))
        known_units = {u["unit_id"] for u in self.units()}
        unknown = [u for u in unit_ids if u not in known_units]
        if unknown:
            raise Refused(text("dispatch.refused.unknown_unit", self.language, unit=unknown[0]))
        now = self.clock()
        request = request_key(key, unit_ids, replaces)
        with self.engine.begin() as conn:
            previous = conn.execute(select(instructions.c.instruction_id).where(
                instructions.c.idempotency_key.like(f"{request}:%"))).scalars().all()
            if previous:
                return SendResult(sorted(previous), duplicate=True)
            incident = conn.execute(select(incidents).where(incidents.c.event_id == incident_id)).mappings().first()
            if incident is None:
                raise Refused(text("dispatch.refused.unknown_incident", self.language))
            if incident["status"] in FINISHED_INCIDENTS:
                raise Refused(text("dispatch.refused.incident_finished", self.language))
            grid = self.grids.get(incident["grid"])
            zone = grid.zone if grid else "rural"
            ids = {unit: f"INS-{secrets.token_hex(6)}" for unit in unit_ids}
            taken = conn.execute(
                self._insert(unit_reservations).on_conflict_do_nothing(index_elements=["unit_id"])
                .returning(unit_reservations.c.unit_id),
                [{"unit_id": u, "instruction_id": ids[u], "reserved_at": now} for u in unit_ids],
            ).scalars().all()
            if len(taken) != len(unit_ids):
                held = {unit: (instruction_id, held_for) for unit, instruction_id, held_for in conn.execute(
                    select(unit_reservations.c.unit_id, unit_reservations.c.instruction_id, instructions.c.incident_id)
                    .join(instructions, instructions.c.instruction_id == unit_reservations.c.instruction_id,
                          isouter=True)
                    .where(unit_reservations.c.unit_id.in_(unit_ids)))}
                conn.rollback()
                on_this = [held[u][0] for u in unit_ids if u in held and held[u][1] == incident_id]
                # Every unit asked for is already on this incident (a double click whose second request came
                # after the first was served, or a second desk): that send is done, not refused.
                if replaces is None and len(on_this) == len(unit_ids):
                    return SendResult(sorted(on_this), duplicate=True)
                busy = next(u for u in unit_ids if u not in set(taken))
                holder = held.get(busy, ("?", None))[0]
                raise Refused(text("dispatch.refused.unit_busy", self.language, unit=busy, instruction=holder))
            if replaces:
                self._reassign(conn, replaces, incident_id, officer, now)
            due = now + timedelta(minutes=ARRIVAL_TARGET_MINUTES[zone])
            for unit, instruction_id in ids.items():
                row = {
                    "instruction_id": instruction_id, "idempotency_key": f"{request}:{unit}",
                    "incident_id": incident_id, "unit_id": unit, "state": State.ISSUED.value, "text": body,
                    "officer": officer, "zone": zone, "issued_at": now, "arrival_due": due,
                }
                conn.execute(insert(instructions).values(row))
                self._log(conn, row, now, officer, "issued", body)
                self._announce(conn, row, now, field_message=True)
            conn.execute(update(incidents).where(incidents.c.event_id == incident_id)
                         .values(status=IncidentStatus.DISPATCHED))
            self._announce_incident(conn, incident_id, now)
        self.outbox.relay()
        return SendResult(sorted(ids.values()))

    def transition(self, instruction_id: str, target: State, actor: str, at: datetime | None = None,
                   outcome: str | None = None, note: str = "") -> bool:
        """Move an instruction; returns whether anything changed.

        Field feedback that is late or repeated returns ``False`` and changes
        nothing. Raises :class:`IllegalTransition` for moves never allowed from
        the current state, :class:`Refused` for an unknown instruction.
        """
        at = at or self.clock()
        if outcome is not None and outcome not in {o.value for o in Outcome}:
            raise Refused(text("dispatch.refused.outcome", self.language))
        for _ in range(5):  # optimistic concurrency: retry if someone moved it meanwhile
            with self.engine.begin() as conn:
                row = conn.execute(select(instructions).where(instructions.c.instruction_id == instruction_id)
                                   ).mappings().first()
                if row is None:
                    raise Refused(text("dispatch.refused.unknown_instruction", self.language))
                current = State(row["state"])
                new = next_state(current, target)
                if new is None:
                    return False
                values: dict[str, Any] = {"state": new.value}
                if new in _STEP_COLUMN:
                    values[_STEP_COLUMN[new]] = at
                if new is State.ON_SCENE:
                    values["result_due"] = at + timedelta(minutes=RESULT_TARGET_MINUTES)
                if new is State.RESULT_REPORTED:
                    values["outcome"] = outcome or Outcome.OTHER.value
                if new in TERMINAL:
                    values["finished_at"] = at
                moved = conn.execute(update(instructions).where(and_(
                    instructions.c.instruction_id == instruction_id, instructions.c.state == current.value,
                )).values(**values)).rowcount
                if moved != 1:
                    conn.rollback()
                    continue
                updated = {**dict(row), **values}
                self._log(conn, updated, at, actor, new.value, note or (outcome or ""))
                if new in TERMINAL:
                    conn.execute(delete(unit_reservations).where(and_(
                        unit_reservations.c.unit_id == row["unit_id"],
                        unit_reservations.c.instruction_id == instruction_id)))
                self._announce(conn, updated, at, field_message=new in {State.CANCELLED, State.REASSIGNED})
                self._update_incident_status(conn, row["incident_id"], at)
            self.outbox.relay()
            return True
        raise Refused(text("dispatch.refused.busy", self.language))

    def feedback(self, instruction_id: str, unit_id: str, step: str, at: datetime, outcome: str | None,
                 note: str) -> bool:
        """A field unit's report; only steps it may report, only for its own instruction."""
        target = State(step)
        if target not in FIELD_STEPS:
            raise Refused(f"a field unit cannot report {step!r}")
        with self.engine.connect() as conn:
            owner = conn.execute(select(instructions.c.unit_id)
                                 .where(instructions.c.instruction_id == instruction_id)).scalar()
        if owner is None:
            raise Refused(f"unknown instruction {instruction_id!r}")
        if owner != unit_id:
            raise Refused(f"instruction {instruction_id} belongs to {owner}, not {unit_id}")
        return self.transition(instruction_id, target, actor=unit_id, at=at, outcome=outcome, note=note)

    def divert(self, incident_id: str, officer: str, reason: str) -> None:
        """Hand a non-police matter to the 12345 city hotline."""
        now = self.clock()
        with self.engine.begin() as conn:
            incident = conn.execute(select(incidents).where(incidents.c.event_id == incident_id)).mappings().first()
            if incident is None:
                raise Refused(text("dispatch.refused.unknown_incident", self.language))
            if incident["status"] != IncidentStatus.NEW:
                raise Refused(text("dispatch.refused.not_new", self.language))
            conn.execute(update(incidents).where(incidents.c.event_id == incident_id)
                         .values(status=IncidentStatus.DIVERTED_12345))
            conn.execute(insert(instruction_events).values(
                instruction_id="-", incident_id=incident_id, at=now, actor=officer, action="diverted_12345",
                detail=reason[:500]))
            audit.append(conn, officer, "incident.diverted_12345", target=incident_id, detail=reason[:500], at=now)
            payload = incident_payload(dict(incident)) | {"status": "diverted_12345", "reason": reason[:500],
                                                          "diverted_at": now.isoformat(), "officer": officer}
            queue(conn, keys.OUT_HOTLINE, {"data": json.dumps(payload, ensure_ascii=False)})
            self._announce_incident(conn, incident_id, now)
        self.outbox.relay()

    # -- internals ------------------------------------------------------------------

    def _reassign(self, conn: Connection, instruction_id: str, incident_id: str, officer: str, now: datetime) -> None:
        row = conn.execute(select(instructions).where(instructions.c.instruction_id == instruction_id)
                           ).mappings().first()
        if row is None or row["incident_id"] != incident_id:
            raise Refused(text("dispatch.refused.unknown_instruction", self.language))
        try:
            next_state(State(row["state"]), State.REASSIGNED)
        except IllegalTransition as exc:
            raise Refused(exc.reason) from None
        moved = conn.execute(update(instructions).where(and_(
            instructions.c.instruction_id == instruction_id, instructions.c.state == row["state"],
        )).values(state=State.REASSIGNED.value, finished_at=now)).rowcount
        if moved != 1:
            raise Refused(text("dispatch.refused.busy", self.language))
        conn.execute(delete(unit_reservations).where(unit_reservations.c.instruction_id == instruction_id))
        updated = {**dict(row), "state": State.REASSIGNED.value, "finished_at": now}
        self._log(conn, updated, now, officer, State.REASSIGNED.value, "")
        self._announce(conn, updated, now, field_message=True)

    def _log(self, conn: Connection, row: dict[str, Any], at: datetime, actor: str, action: str, detail: str) -> None:
        conn.execute(insert(instruction_events).values(
            instruction_id=row["instruction_id"], incident_id=row["incident_id"], at=at, actor=actor,
            action=action, detail=detail[:1000]))
        # The audit record commits (or rolls back) with the change itself.
        audit.append(conn, actor, f"instruction.{action}", target=row["instruction_id"],
                     detail=f"incident={row['incident_id']} unit={row['unit_id']} {detail}"[:1000], at=at)

    def _announce(self, conn: Connection, row: dict[str, Any], now: datetime, field_message: bool) -> None:
        payload = instruction_payload(row)
        queue_event(conn, Live.INSTRUCTION, payload)
        if field_message:
            message = {k: payload[k] for k in ("instruction_id", "incident_id", "unit_id", "state", "arrival_due")}
            message["text"] = row["text"]
            queue(conn, keys.OUT_INSTRUCTIONS, {k: str(v) for k, v in message.items()})

    def _announce_incident(self, conn: Connection, incident_id: str, now: datetime) -> None:
        row = conn.execute(select(incidents).where(incidents.c.event_id == incident_id)).mappings().one()
        queue_event(conn, Live.INCIDENT_STATUS, {"event_id": incident_id, "status": row["status"]})

    def _update_incident_status(self, conn: Connection, incident_id: str, now: datetime) -> None:
        states = set(conn.execute(select(instructions.c.state).where(instructions.c.incident_id == incident_id))
                     .scalars())
        if states & {s.value for s in OPEN}:
            status = IncidentStatus.ON_SCENE if State.ON_SCENE.value in states else IncidentStatus.DISPATCHED
            if State.RESULT_REPORTED.value in states:
                status = IncidentStatus.RESULT_REPORTED
        elif State.CLOSED.value in states:
            status = IncidentStatus.CLOSED
        else:
            status = IncidentStatus.NEW  # every instruction cancelled or reassigned: back in the queue
        conn.execute(update(incidents).where(incidents.c.event_id == incident_id).values(status=status))
        self._announce_incident(conn, incident_id, now)


def clock_state(row: dict[str, Any], now: datetime) -> tuple[str, float | None]:
    """('ok' | 'amber' | 'red' | 'done', seconds left) for an instruction's running clock."""
    state = State(row["state"])
    if state in TERMINAL or state is State.RESULT_REPORTED:
        return "done", None
    if state is State.ON_SCENE:
        start, due = row["on_scene_at"], row["result_due"]
    else:
        start, due = row["issued_at"], row["arrival_due"]
    start, due = as_utc(start), as_utc(due)
    left = (due - now).total_seconds()
    budget = (due - start).total_seconds()
    if left < 0:
        return "red", left
    return ("amber" if left < budget * AMBER_FRACTION else "ok"), left


__all__ = ["DispatchService", "IllegalTransition", "Refused", "SendResult", "State", "clock_state",
           "instruction_payload"]
