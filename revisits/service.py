"""Return visits: the monthly draw, the visits to make, each call, and the matters a visit reopens.

A visit is made by the return-visit desk (``/revisits``) or by an outside call centre, which reads
each visit to make from ``{cc}:out:revisits`` and answers on ``{cc}:in:revisits`` (docs/ingest.md).
Each call is an attempt; up to :data:`MAX_ATTEMPTS` unanswered calls, and the third ends the visit as
unreachable. An answer ends it: satisfied, not satisfied, or the problem persists; the last two
reopen the matter as a lead to its station (a deadline of an hour, as any high lead), linked both
ways (the visit names the lead; the lead's facts and evidence name the visit and the matter), in
the transaction that records the answer. Nothing is deleted: the matter, its visit, every attempt
and the new lead stay readable as one chain.
"""

from __future__ import annotations

import json
import logging
import secrets
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

import redis
from sqlalchemy import Connection, Engine, Select, and_, func, insert, or_, select, update

import clock
from bus import keys
from bus.events import iso, mask_caller
from bus.outbox import queue
from clock import Period
from geo.index import GridIndex
from i18n import text
from revisits.results import REOPENS, VisitResult
from revisits.sample import Matter, MatterKind, closed_matters, draw, find_matter
from risk.leads import LeadService
from risk.rules import Finding
from store import audit
from store.db import (
    as_utc,
    grid_task_events,
    incidents,
    instruction_events,
    leads,
    revisit_attempts,
    revisit_samples,
    revisits,
)

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 3
MAX_NOTE = 500
DRAW_AT = (1, 30)  # Beijing time on the 1st of each month: last month's sample
LEASE_S = 600
DESK_LIMIT = 200
# A grid task's log entries that are not states, as the desk names them.
TASK_STEPS = {"handed": "revisits.step.handed", "photo": "revisits.step.photo"}


class Reason(StrEnum):
    SAMPLE = "sample"  # the monthly draw
    COMPLAINT = "complaint"  # someone complained about how it was handled
    CHIEF = "chief"  # a chief's choice


class Channel(StrEnum):
    DESK = "desk"
    CALL_CENTRE = "call_centre"


class RevisitRefused(ValueError):
    """What cannot be done to a visit; the message says why (in the service's language)."""


def visits_due(period: Period, asof: datetime, query: Select[Any]) -> Select[Any]:
    """``query`` narrowed to the visits due in ``period`` that existed at ``asof``: what every figure counts."""
    return query.where(and_(revisits.c.due_at >= period.start, revisits.c.due_at < period.end,
                            revisits.c.created_at <= asof))


def visit_figures(rows: list[Any], asof: datetime) -> dict[str, Any]:
    """The figures of some visits (each with ``due_at``, ``visited_at``, ``result``) as known at ``asof``: how
    many were due, made, made by their due time (coverage: on time / due, target 100%), overdue, satisfied (of
    those answered) and reopened (of those ended)."""
    ended = [r for r in rows if r["visited_at"] is not None and as_utc(r["visited_at"]) <= asof]
    on_time = sum(1 for r in ended if as_utc(r["visited_at"]) <= as_utc(r["due_at"]))
    answered = [r for r in ended if r["result"] != VisitResult.UNREACHABLE]
    satisfied = sum(1 for r in answered if r["result"] == VisitResult.SATISFIED)
    reopened = sum(1 for r in ended if r["result"] in REOPENS)
    overdue = sum(1 for r in rows if r not in ended and as_utc(r["due_at"]) < asof)
    return {"due": len(rows), "made": len(ended), "on_time": on_time, "overdue": overdue,
            "coverage": on_time / len(rows) if rows else None,
            "satisfaction": satisfied / len(answered) if answered else None,
            "reopen_rate": reopened / len(ended) if ended else None}


def visit_payload(row: Mapping[str, Any], *, full_number: bool) -> dict[str, Any]:
    """A visit as a page shows it: the number in full only for the desk (``full_number``), masked elsewhere."""
    phone = row["contact_phone"]
    return {
        "visit_id": row["visit_id"], "matter_kind": row["matter_kind"], "matter_id": row["matter_id"],
        "reason": row["reason"], "station": row["station"], "grid": row["grid"], "summary": row["summary"],
        "closed_at": iso(row["closed_at"]), "matter_outcome": row["matter_outcome"],
        "contact_name": row["contact_name"], "contact_phone": phone if full_number else mask_caller(phone),
        "created_at": iso(row["created_at"]), "due_at": iso(row["due_at"]), "attempts": row["attempts"],
        "result": row["result"], "note": row["note"], "visited_at": iso(row["visited_at"]),
        "visited_by": row["visited_by"], "reopened_lead": row["reopened_lead"], "sample_id": row["sample_id"],
    }


@dataclass
class RevisitService:
    """Draw the monthly sample, keep the visits, record each call.

    Parameters
    ----------
    engine : sqlalchemy.Engine
        The system of record.
    grids : GridIndex
        Each grid's station.
    leads : LeadService
        Makes the lead a dissatisfied visit reopens its matter as.
    percent : int
        The share of each stratum drawn (``REVISIT_PERCENT``, 10).
    due_days : mapping
        Days to make a visit, per kind of matter (``REVISIT_DUE_DAYS``).
    """

    engine: Engine
    grids: GridIndex
    leads: LeadService
    relay: Callable[[], int] = lambda: 0
    percent: int = 10
    due_days: Mapping[str, float] = field(default_factory=lambda: dict.fromkeys(MatterKind, 3.0))
    language: str = "zh-CN"
    clock: Callable[[], datetime] = field(default=clock.now)

    # -- choosing what to visit -------------------------------------------------

    def draw(self, period: Period, actor: str, seed: int | None = None) -> dict[str, Any]:
        """The sample of the matters closed in ``period``: drawn now, or the one drawn before (one per
        period). ``seed`` (default: a fresh random one) is recorded so the draw can be reproduced."""
        now = self.clock()
        seed = secrets.randbits(62) if seed is None else seed
        sample_id = f"RS-{clock.local(period.start):%Y%m%d}-{clock.local(period.end):%Y%m%d}"
        with self.engine.begin() as conn:
            existing = conn.execute(select(revisit_samples).where(revisit_samples.c.sample_id == sample_id))\
                .mappings().first()
            if existing is not None:
                return dict(existing)
            population = closed_matters(conn, period, self.grids, self.language)
            drawn, counts = draw(population, self.percent, seed, self._taken(conn))
            sample = {"sample_id": sample_id, "period_start": period.start, "period_end": period.end, "seed": seed,
                      "fraction": self.percent / 100, "population": len(population), "drawn": len(drawn),
                      "strata": json.dumps({name: list(c) for name, c in counts.items()}, ensure_ascii=False),
                      "drawn_at": now, "drawn_by": actor}
            conn.execute(insert(revisit_samples).values(**sample))
            for matter in drawn:
                self._add(conn, matter, Reason.SAMPLE, actor, now, sample_id)
            audit.append(conn, actor, "revisit.draw", target=sample_id,
                         detail=f"seed={seed} population={len(population)} drawn={len(drawn)}", at=now)
        self.relay()
        return sample

    def reproduce(self, sample_id: str) -> bool:
        """Whether drawing the sample's period again with its seed, over the matters visited before it,
        gives exactly the visits it made: what an auditor checks."""
        with self.engine.connect() as conn:
            sample = conn.execute(select(revisit_samples).where(revisit_samples.c.sample_id == sample_id))\
                .mappings().one()
            made = {(r.matter_kind, r.matter_id) for r in conn.execute(
                select(revisits.c.matter_kind, revisits.c.matter_id).where(revisits.c.sample_id == sample_id))}
            before = {(r.matter_kind, r.matter_id) for r in conn.execute(
                select(revisits.c.matter_kind, revisits.c.matter_id).where(and_(
                    revisits.c.created_at <= sample["drawn_at"],
                    or_(revisits.c.sample_id.is_(None), revisits.c.sample_id != sample_id))))}
            period = Period(as_utc(sample["period_start"]), as_utc(sample["period_end"]))
            population = closed_matters(conn, period, self.grids, self.language)
        drawn, _ = draw(population, round(sample["fraction"] * 100), int(sample["seed"]), before)
        return {m.key for m in drawn} == made

    def add(self, kind: str, matter_id: str, reason: str, actor: str) -> dict[str, Any]:
        """A visit chosen by hand (a complaint, a chief's choice) for a closed matter not visited yet."""
        now = self.clock()
        try:
            matter_kind, why = MatterKind(kind), Reason(reason)
        except ValueError:
            raise RevisitRefused(text("revisit.refused.kind", self.language)) from None
        if why is Reason.SAMPLE:
            raise RevisitRefused(text("revisit.refused.kind", self.language))
        with self.engine.begin() as conn:
            matter = find_matter(conn, matter_kind, matter_id.strip()[:64], self.grids, self.language)
            if matter is None:
                raise RevisitRefused(text("revisit.refused.matter", self.language, matter=matter_id[:64]))
            if matter.key in self._taken(conn):
                raise RevisitRefused(text("revisit.refused.twice", self.language, matter=matter_id[:64]))
            row = self._add(conn, matter, why, actor, now, None)
        self.relay()
        return row

    def _taken(self, conn: Connection) -> set[tuple[str, str]]:
        rows = conn.execute(select(revisits.c.matter_kind, revisits.c.matter_id))
        return {(r.matter_kind, r.matter_id) for r in rows}

    def _add(self, conn: Connection, matter: Matter, reason: Reason, actor: str, now: datetime,
             sample_id: str | None) -> dict[str, Any]:
        row: dict[str, Any] = {
            "visit_id": f"RV-{secrets.token_hex(5)}", "matter_kind": matter.kind.value, "matter_id": matter.matter_id,
            "sample_id": sample_id, "reason": reason.value, "station": matter.station, "grid": matter.grid,
            "summary": matter.summary[:MAX_NOTE], "closed_at": matter.closed_at, "matter_outcome": matter.outcome,
            "contact_name": matter.contact_name[:64], "contact_phone": matter.contact_phone,
            "created_at": now, "created_by": actor,
            "due_at": now + timedelta(days=self.due_days[matter.kind.value]), "attempts": 0, "result": None,
            "note": "", "visited_at": None, "visited_by": None, "reopened_lead": None,
        }
        conn.execute(insert(revisits).values(**row))
        if reason is not Reason.SAMPLE:  # a draw's visits are in its own record
            audit.append(conn, actor, "revisit.add", target=row["visit_id"],
                         detail=f"{reason.value} {matter.kind.value} {matter.matter_id}", at=now)
        # For an outside call centre: what to call about, whom, by when.
        queue(conn, keys.OUT_REVISITS, {
            "visit_id": row["visit_id"], "matter_kind": row["matter_kind"], "matter_id": row["matter_id"],
            "station": row["station"], "grid": row["grid"], "summary": row["summary"],
            "contact_name": row["contact_name"], "contact_phone": row["contact_phone"] or "",
            "due_at": iso(row["due_at"]) or "", "reason": row["reason"]})
        return row

    # -- the calls ----------------------------------------------------------------

    def record(self, visit_id: str, actor: str, result: str, note: str = "",
               channel: Channel = Channel.DESK, event_id: str | None = None,
               at: datetime | None = None) -> dict[str, Any]:
        """One call of a visit: unanswered (the visit stays open until its third), or its answer, which ends
        it (and reopens the matter if the problem persists or the person is not satisfied).

        ``event_id`` (the call centre's entry) makes a repeat a no-op that returns the visit as it is."""
        try:
            outcome = VisitResult(result)
        except ValueError:
            raise RevisitRefused(text("revisit.refused.result", self.language)) from None
        note = note.strip()[:MAX_NOTE]
        if outcome in REOPENS and not note:
            raise RevisitRefused(text("revisit.refused.note", self.language))
        now = self.clock()
        with self.engine.begin() as conn:
            if event_id is not None and conn.execute(select(revisit_attempts.c.id).where(
                    revisit_attempts.c.event_id == event_id)).first() is not None:
                return self._row(conn, visit_id)
            row = self._row(conn, visit_id)
            if row["visited_at"] is not None:
                raise RevisitRefused(text("revisit.refused.done", self.language))
            attempts = row["attempts"] + 1
            ends = outcome is not VisitResult.UNREACHABLE or attempts >= MAX_ATTEMPTS
            values: dict[str, Any] = {"attempts": attempts}
            if ends:
                values |= {"result": outcome.value, "note": note, "visited_at": now, "visited_by": actor}
            if ends and outcome in REOPENS:
                values["reopened_lead"] = self._reopen(conn, row, outcome, now)
            # Optimistic: two clerks on one visit cannot both count the same attempt.
            moved = conn.execute(update(revisits).where(and_(
                revisits.c.visit_id == visit_id, revisits.c.attempts == row["attempts"],
                revisits.c.visited_at.is_(None))).values(**values)).rowcount
            if moved != 1:
                raise RevisitRefused(text("revisit.refused.done", self.language))
            conn.execute(insert(revisit_attempts).values(visit_id=visit_id, at=at or now, by=actor,
                                                         result=outcome.value, note=note, channel=channel.value,
                                                         event_id=event_id))
            audit.append(conn, actor, "revisit.call", target=visit_id,
                         detail=f"{outcome.value} attempt={attempts} channel={channel.value}"
                                f"{' reopened=' + values['reopened_lead'] if values.get('reopened_lead') else ''}",
                         at=now)
            updated = {**row, **values}
        self.relay()
        return updated

    def call_centre(self, event_id: str, visit_id: str, agent: str, at: datetime, result: str,
                    note: str) -> dict[str, Any]:
        """A call made by the outside call centre (``{cc}:in:revisits``): recorded once per entry."""
        return self.record(visit_id, f"call_centre:{agent}", result, note, Channel.CALL_CENTRE, event_id=event_id,
                           at=at)

    def _reopen(self, conn: Connection, row: Mapping[str, Any], outcome: VisitResult, now: datetime) -> str:
        finding = Finding(rule=f"revisit_{outcome.value}", grid=row["grid"], level="high",
                          key=f"revisit:{row['visit_id']}", evidence=(row["matter_id"],),
                          facts={"visit": row["visit_id"], "matter": row["matter_id"],
                                 "kind": row["matter_kind"]})
        [lead] = self.leads.create_in(conn, [finding], now)
        return str(lead["lead_id"])

    # -- reading ----------------------------------------------------------------

    def _row(self, conn: Connection, visit_id: str) -> dict[str, Any]:
        row = conn.execute(select(revisits).where(revisits.c.visit_id == visit_id)).mappings().first()
        if row is None:
            raise RevisitRefused(text("revisit.refused.unknown", self.language))
        return dict(row)

    def get(self, visit_id: str) -> dict[str, Any] | None:
        with self.engine.connect() as conn:
            row = conn.execute(select(revisits).where(revisits.c.visit_id == visit_id)).mappings().first()
        return dict(row) if row else None

    def visits(self, *, done: bool = False, station: str = "", limit: int = DESK_LIMIT) -> list[dict[str, Any]]:
        """Open visits by due date (the desk's list), or ended ones, newest first."""
        query = select(revisits).where(revisits.c.visited_at.is_not(None) if done else revisits.c.visited_at.is_(None))
        if station:
            query = query.where(revisits.c.station == station)
        order = revisits.c.visited_at.desc() if done else revisits.c.due_at
        with self.engine.connect() as conn:
            rows = conn.execute(query.order_by(order, revisits.c.visit_id).limit(limit)).mappings().all()
        return [dict(row) for row in rows]

    def attempts_of(self, visit_id: str) -> list[dict[str, Any]]:
        with self.engine.connect() as conn:
            rows = conn.execute(select(revisit_attempts).where(revisit_attempts.c.visit_id == visit_id)
                                .order_by(revisit_attempts.c.id)).mappings().all()
        return [dict(row) for row in rows]

    def samples(self, limit: int = 24) -> list[dict[str, Any]]:
        with self.engine.connect() as conn:
            rows = conn.execute(select(revisit_samples).order_by(revisit_samples.c.period_start.desc())
                                .limit(limit)).mappings().all()
        return [dict(row) for row in rows]

    def history(self, visit: Mapping[str, Any]) -> list[dict[str, Any]]:
        """The matter's own record, oldest first: ``at``, ``actor``, ``what`` (a catalogue key) and ``detail``,
        from its log or, for a lead, its stamps."""
        kind, matter_id = MatterKind(visit["matter_kind"]), visit["matter_id"]
        with self.engine.connect() as conn:
            if kind is MatterKind.INCIDENT:
                incident = conn.execute(select(incidents).where(incidents.c.event_id == matter_id)).mappings().one()
                steps = [{"at": incident["reported_at"], "actor": incident["source"], "what": "revisits.step.reported",
                          "detail": incident["description"]}]
                steps += [{**dict(r), "what": f"state.{r['what']}"} for r in conn.execute(
                    select(instruction_events.c.at, instruction_events.c.actor,
                           instruction_events.c.action.label("what"), instruction_events.c.detail)
                    .where(instruction_events.c.incident_id == matter_id).order_by(instruction_events.c.id))
                    .mappings()]
            elif kind is MatterKind.TASK:
                steps = [{**dict(r), "what": TASK_STEPS.get(r["what"], f"tasks.state.{r['what']}")}
                         for r in conn.execute(
                    select(grid_task_events.c.at, grid_task_events.c.actor, grid_task_events.c.action.label("what"),
                           grid_task_events.c.detail).where(grid_task_events.c.task_id == matter_id)
                    .order_by(grid_task_events.c.id)).mappings()]
            else:
                lead = conn.execute(select(leads).where(leads.c.lead_id == matter_id)).mappings().one()
                steps = [{"at": lead["created_at"], "actor": lead["rule"], "what": "lead.state.pushed",
                          "detail": lead["recipient"]}]
                if lead["acknowledged_at"] is not None:
                    steps.append({"at": lead["acknowledged_at"], "actor": "", "what": "lead.state.acknowledged",
                                  "detail": ""})
                steps.append({"at": lead["handled_at"], "actor": lead["handled_by"] or "",
                              "what": "lead.state.handled", "detail": lead["result"] or ""})
        return [{**step, "at": as_utc(step["at"])} for step in steps]

    def figures(self, period: Period, asof: datetime | None = None) -> dict[str, Any]:
        """The district's figures for the visits due in ``period`` (:func:`visit_figures`; the chiefs' panel and
        the reports have them per station from the indicators)."""
        asof = asof or self.clock()
        with self.engine.connect() as conn:
            rows = conn.execute(visits_due(period, asof, select(revisits.c.due_at, revisits.c.visited_at,
                                                                revisits.c.result))).mappings().all()
        return visit_figures(list(rows), asof)

    def count_open(self) -> int:
        with self.engine.connect() as conn:
            return int(conn.execute(select(func.count()).select_from(revisits)
                                    .where(revisits.c.visited_at.is_(None))).scalar_one())

    # -- the monthly run --------------------------------------------------------

    def run_monthly(self, stop: threading.Event, r: redis.Redis, owner: str) -> None:
        """Draw last month's sample at start if it was not drawn (a machine off on the 1st), then on the 1st
        of every month at :data:`DRAW_AT`; one process at a time (a lease)."""
        while True:
            if r.set(keys.REVISIT_LEASE, owner, nx=True, ex=LEASE_S):
                try:
                    year, month = clock.previous_month(self.clock())
                    self.draw(Period.month(year, month), "system")
                except Exception:  # a failed draw must not stop next month's
                    log.exception("monthly return-visit draw failed")
            if clock.wait(stop, (self._next_draw() - self.clock()).total_seconds()):
                return

    def _next_draw(self) -> datetime:
        today = clock.today(self.clock())
        first = today.replace(day=1)
        upcoming = clock.at(first, *DRAW_AT)
        if upcoming <= self.clock():
            upcoming = clock.at((first + timedelta(days=32)).replace(day=1), *DRAW_AT)
        return upcoming
