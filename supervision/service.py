"""Supervision (督办): late items go on their station chief's list, later on the district's, until answered.

Escalation rules (``SUPERVISION_RULES``) give, per kind of item, how late it must be to reach its station
chief and how late to reach the district. A scan (:meth:`SupervisionService.scan`, every
``SUPERVISION_SCAN_S`` in one process at a time) looks at every late item (:mod:`supervision.late`) and
raises each level it has reached and not yet had: one escalation per item and level, recorded with
the deadline it missed, audited, pushed live (``escalation``) and written to ``{cc}:out:supervision`` for
other systems, all in one transaction (the outbox relays after the commit).

An escalation is closed only by a response: what the station did about it, written by its station chief
(or a district chief). That the item itself has since been done (``cleared_at``) does not close it: the
supervisor still wants to hear why it was late. Nothing is deleted.
"""

from __future__ import annotations

import json
import logging
import secrets
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

import redis
from sqlalchemy import Connection, Engine, Select, and_, func, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite

import clock
import deadlines
from bus import keys, lease
from bus.events import Live, iso
from bus.outbox import queue, queue_event
from clock import Period
from geo.index import GridIndex
from i18n import text
from store import audit
from store.db import as_utc, escalations
from supervision.late import ItemKind, Late, late_items

log = logging.getLogger(__name__)

MAX_RESPONSE = 500
LIST_LIMIT = 300
LEASE_S = 120


class Level(StrEnum):
    STATION = "station"  # the station chief's supervision list
    DISTRICT = "district"  # the district's


@dataclass(frozen=True)
class Rule:
    """How late an item of one kind must be to reach each level (``None``: never that level)."""

    station_after: timedelta | None
    district_after: timedelta | None

    def levels(self, late_by: timedelta) -> list[Level]:
        """The levels an item ``late_by`` past its deadline has reached."""
        return [level for level, after in ((Level.STATION, self.station_after), (Level.DISTRICT, self.district_after))
                if after is not None and late_by >= after]


def rules_from(settings_rules: tuple[tuple[str, float | None, float | None], ...]) -> dict[ItemKind, Rule]:
    """The settings' ``(kind, station_s, district_s)`` rules as :class:`Rule` objects."""
    def delay(seconds: float | None) -> timedelta | None:
        return None if seconds is None else timedelta(seconds=seconds)

    return {ItemKind(kind): Rule(delay(station), delay(district)) for kind, station, district in settings_rules}


class SupervisionRefused(ValueError):
    """What cannot be done to an escalation; the message says why (in the service's language)."""


def escalation_payload(row: Mapping[str, Any]) -> dict[str, Any]:
    """An escalation as pages and other systems receive it (times ISO-8601 UTC, facts as data)."""
    facts = json.loads(row["facts"]) if isinstance(row["facts"], str) else dict(row["facts"])
    return {
        "escalation_id": row["escalation_id"], "item_kind": row["item_kind"], "item_id": row["item_id"],
        "level": row["level"], "station": row["station"], "grid": row["grid"],
        "facts": facts, "labels": fact_labels(row["item_kind"], facts),
        "due_at": iso(row["due_at"]), "raised_at": iso(row["raised_at"]), "cleared_at": iso(row["cleared_at"]),
        "response": row["response"], "responded_by": row["responded_by"], "responded_at": iso(row["responded_at"]),
    }


# The facts of an item that are codes, and the catalogue section naming them (a grid task's step is the phone's).
_FACT_TEXTS: dict[str, dict[str, str]] = {
    "instruction": {"step": "supervision.step."},
    "alert": {"scenario": "scenario."},
    "lead": {"level": "lead.level.", "rule": "leads.rule."},
    "grid_task": {"step": "tasks.step.", "task_kind": "tasks.kind."},
    "revisit": {"matter_kind": "revisits.kind."},
    "mediation": {"clock": "mediation.clock.", "case_type": "mediation.type."},
}


def fact_labels(kind: str, facts: Mapping[str, Any]) -> dict[str, str]:
    """The catalogue key naming each fact that is a code (a step, a scenario, a level): pages look them up."""
    names = _FACT_TEXTS.get(kind, {})
    return {name: names[name] + str(value) for name, value in facts.items() if name in names}


def describe(payload: Mapping[str, Any], language: str) -> str:
    """What an escalated item is, in ``language`` (the page script renders the payload the same way)."""
    facts = {**payload["facts"], **{name: text(key, language) for name, key in payload["labels"].items()}}
    return text(f"supervision.what.{payload['item_kind']}", language, **facts)


def escalation_figures(rows: Sequence[Mapping[str, Any]], start: datetime, asof: datetime) -> dict[str, int]:
    """Figures of some escalations (each with ``level``, ``raised_at``, ``responded_at``) as known at ``asof``:
    raised since ``start`` (all, and to the district), still open (all, and the district's), and answered since
    ``start``."""
    known = [r for r in rows if as_utc(r["raised_at"]) <= asof]
    raised = [r for r in known if start <= as_utc(r["raised_at"])]
    still_open = [r for r in known if (done := deadlines.at(r, "responded_at")) is None or done > asof]
    responded = sum(1 for r in known if (done := deadlines.at(r, "responded_at")) is not None and start <= done <= asof)
    return {"raised": len(raised), "raised_district": sum(1 for r in raised if r["level"] == Level.DISTRICT),
            "open": len(still_open), "open_district": sum(1 for r in still_open if r["level"] == Level.DISTRICT),
            "responded": responded}


def escalations_between(start: datetime, asof: datetime) -> Select[Any]:
    """The escalations a period's figures count: raised by ``asof`` and not answered before ``start``."""
    return select(escalations.c.grid, escalations.c.station, escalations.c.level, escalations.c.raised_at,
                  escalations.c.responded_at).where(and_(
                      escalations.c.raised_at <= asof,
                      or_(escalations.c.responded_at.is_(None), escalations.c.responded_at >= start)))


@dataclass
class SupervisionService:
    """Escalate late items by the rules, keep the lists, record the responses.

    Parameters
    ----------
    engine : sqlalchemy.Engine
        The system of record.
    grids : GridIndex
        Each grid's station.
    rules : mapping
        Per kind of item, when it reaches its station chief and the district (:func:`rules_from`).
    relay : callable
        Publishes the outbox after a commit.
    """

    engine: Engine
    grids: GridIndex
    rules: Mapping[ItemKind, Rule]
    relay: Callable[[], int] = lambda: 0
    language: str = "zh-CN"
    scan_s: float = 30.0
    clock: Callable[[], datetime] = field(default=clock.now)

    # -- escalating ---------------------------------------------------------------

    def scan(self) -> list[dict[str, Any]]:
        """Escalate every late item to each level it has reached and not had yet; mark escalated items that are
        no longer late as cleared (and late again as not). Returns the new escalations."""
        now = self.clock()
        raised: list[dict[str, Any]] = []
        with self.engine.begin() as conn:
            late = late_items(conn, now, self.grids)
            had = self._had(conn, late)
            for item in late:
                rule = self.rules.get(item.kind)
                for level in rule.levels(now - item.due_at) if rule else []:
                    if (item.kind.value, item.item_id, level.value) not in had:
                        row = self._raise(conn, item, level, now)
                        if row is not None:
                            raised.append(row)
            self._mark_cleared(conn, {item.key for item in late}, now)
        if raised:
            log.info("supervision: %d escalations raised", len(raised))
        self.relay()
        return raised

    def _had(self, conn: Connection, late: list[Late]) -> set[tuple[str, str, str]]:
        """Which of the late items' levels were escalated before (in chunks: an IN list has limits)."""
        had: set[tuple[str, str, str]] = set()
        ids = sorted({item.item_id for item in late})
        for at in range(0, len(ids), 500):
            rows = conn.execute(select(escalations.c.item_kind, escalations.c.item_id, escalations.c.level)
                                .where(escalations.c.item_id.in_(ids[at:at + 500])))
            had |= {(r.item_kind, r.item_id, r.level) for r in rows}
        return had

    def _raise(self, conn: Connection, item: Late, level: Level, now: datetime) -> dict[str, Any] | None:
        row: dict[str, Any] = {
            "escalation_id": f"SV-{secrets.token_hex(5)}", "item_kind": item.kind.value, "item_id": item.item_id,
            "level": level.value, "station": item.station, "grid": item.grid,
            "facts": json.dumps(item.facts, ensure_ascii=False), "due_at": item.due_at, "raised_at": now,
            "cleared_at": None, "response": None, "responded_by": None, "responded_at": None}
        insert = postgresql.insert if self.engine.dialect.name == "postgresql" else sqlite.insert
        # Another process's scan (a lease that changed hands mid-scan) may have raised it: once per item and level.
        won = conn.execute(insert(escalations).on_conflict_do_nothing(
            index_elements=["item_kind", "item_id", "level"]).returning(escalations.c.escalation_id), [row]).first()
        if won is None:
            return None
        late_min = int((now - item.due_at).total_seconds() // 60)
        audit.append(conn, "system", "supervision.escalate", target=row["escalation_id"],
                     detail=f"{item.kind.value} {item.item_id} to {level.value} station={item.station} "
                            f"late={late_min}min", at=now)
        self._announce(conn, row, "escalated")
        return row

    def _mark_cleared(self, conn: Connection, late: set[tuple[str, str]], now: datetime) -> None:
        rows = conn.execute(select(escalations).where(escalations.c.responded_at.is_(None))).mappings().all()
        for row in rows:
            still_late = (row["item_kind"], row["item_id"]) in late
            if still_late == (row["cleared_at"] is None):
                continue
            cleared = None if still_late else now
            conn.execute(update(escalations).where(escalations.c.escalation_id == row["escalation_id"])
                         .values(cleared_at=cleared))
            self._announce(conn, {**row, "cleared_at": cleared}, "cleared" if cleared else "late_again")

    def _announce(self, conn: Connection, row: Mapping[str, Any], action: str) -> None:
        """The change pushed to pages and written for other systems, in the transaction that makes it."""
        payload = escalation_payload(row)
        queue_event(conn, Live.ESCALATION, payload)
        queue(conn, keys.OUT_SUPERVISION, {
            "action": action, "escalation_id": payload["escalation_id"], "item_kind": payload["item_kind"],
            "item_id": payload["item_id"], "level": payload["level"], "station": payload["station"],
            "grid": payload["grid"] or "", "due_at": payload["due_at"] or "", "raised_at": payload["raised_at"] or "",
            "facts": json.dumps(payload["facts"], ensure_ascii=False),
            "response": payload["response"] or "", "responded_by": payload["responded_by"] or "",
            "at": iso(self.clock()) or ""})

    # -- answering ----------------------------------------------------------------

    def respond(self, escalation_id: str, actor: str, response: str) -> dict[str, Any]:
        """Close an escalation with what was done about it (the caller has checked the actor answers for its
        station). Refused: no text, unknown, or answered already."""
        response = response.strip()[:MAX_RESPONSE]
        if not response:
            raise SupervisionRefused(text("supervision.refused.response", self.language))
        now = self.clock()
        with self.engine.begin() as conn:
            row = conn.execute(select(escalations).where(escalations.c.escalation_id == escalation_id))\
                .mappings().first()
            if row is None:
                raise SupervisionRefused(text("supervision.refused.unknown", self.language))
            moved = conn.execute(update(escalations).where(and_(
                escalations.c.escalation_id == escalation_id, escalations.c.responded_at.is_(None)))
                .values(response=response, responded_by=actor, responded_at=now)).rowcount
            if moved != 1:
                raise SupervisionRefused(text("supervision.refused.answered", self.language))
            answered = {**row, "response": response, "responded_by": actor, "responded_at": now}
            audit.append(conn, actor, "supervision.respond", target=escalation_id,
                         detail=f"{row['item_kind']} {row['item_id']} {row['level']}", at=now)
            self._announce(conn, answered, "responded")
        self.relay()
        return answered

    # -- reading ------------------------------------------------------------------

    def get(self, escalation_id: str) -> dict[str, Any] | None:
        with self.engine.connect() as conn:
            row = conn.execute(select(escalations).where(escalations.c.escalation_id == escalation_id))\
                .mappings().first()
        return dict(row) if row else None

    def listed(self, *, answered: bool = False, level: str = "", station: str = "",
               limit: int = LIST_LIMIT) -> list[dict[str, Any]]:
        """Open escalations, oldest deadline first (a list to work through), or answered ones, newest first."""
        query = select(escalations).where(
            escalations.c.responded_at.is_not(None) if answered else escalations.c.responded_at.is_(None))
        if level:
            query = query.where(escalations.c.level == level)
        if station:
            query = query.where(escalations.c.station == station)
        order = (escalations.c.responded_at.desc(),) if answered else (escalations.c.due_at,)
        with self.engine.connect() as conn:
            rows = conn.execute(query.order_by(*order, escalations.c.escalation_id).limit(limit)).mappings().all()
        return [dict(row) for row in rows]

    def figures(self, period: Period, station: str = "") -> dict[str, int]:
        """:func:`escalation_figures` of ``period`` (up to now), for the district or one ``station``."""
        asof = min(self.clock(), period.end)
        query = escalations_between(period.start, asof)
        if station:
            query = query.where(escalations.c.station == station)
        with self.engine.connect() as conn:
            rows = [dict(row) for row in conn.execute(query).mappings()]
        return escalation_figures(rows, period.start, asof)

    def open_escalations(self, limit: int = 500) -> list[dict[str, Any]]:
        """What a page's snapshot holds: open escalations as payloads (pushed events keep them current)."""
        return [escalation_payload(row) for row in self.listed(limit=limit)]

    def counts(self, station: str = "") -> dict[str, int]:
        """Open escalations now, at each level (``station``: one station's)."""
        query = select(escalations.c.level, func.count()).where(escalations.c.responded_at.is_(None))
        if station:
            query = query.where(escalations.c.station == station)
        with self.engine.connect() as conn:
            found = {str(level): int(n) for level, n in conn.execute(query.group_by(escalations.c.level))}
        return {level.value: int(found.get(level.value, 0)) for level in Level}

    # -- the scan loop ------------------------------------------------------------

    def run(self, stop: threading.Event, r: redis.Redis, owner: str) -> None:
        """Scan every ``scan_s`` world seconds while this process holds the lease."""
        while True:
            try:
                if lease.hold(r, keys.SUPERVISION_LEASE, owner, LEASE_S):
                    self.scan()
            except redis.RedisError as exc:
                log.warning("supervision: Redis unavailable (%s)", exc)
            except Exception:  # one failed scan must not stop the next
                log.exception("supervision scan failed")
            if clock.wait(stop, self.scan_s):
                return
