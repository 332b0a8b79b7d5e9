"""The monthly return-visit sample: which closed matters the centre calls back to confirm the fix.

The seed's rule: "the centre makes a random 10% return visit every month". The population is the
matters closed in the month (incidents closed by the hall, leads handled, grid tasks reported), split
into strata by station and kind; each stratum gives up ``ceil(percent% × its size)`` of its members,
drawn with one recorded seed. Given the seed, the same population and the matters visited already,
:func:`draw` gives the same visits again: an auditor can reproduce any month.
"""

from __future__ import annotations

import random
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import Connection, and_, func, select

from clock import Period
from dispatch.lifecycle import IncidentStatus, State
from geo.index import GridIndex
from gridwork.tasks import TaskState
from risk.leads import LeadState, lead_texts
from store.db import as_utc, grid_tasks, incidents, instructions, leads


class MatterKind(StrEnum):
    INCIDENT = "incident"  # an incident the hall closed (or one of the district's history, closed)
    LEAD = "lead"  # an early-warning lead handled
    TASK = "task"  # a grid worker's task reported


@dataclass(frozen=True)
class Matter:
    """A closed matter, as a return visit needs it."""

    kind: MatterKind
    matter_id: str
    station: str
    grid: str
    summary: str
    closed_at: datetime
    outcome: str | None = None
    contact_name: str = ""  # a person to ask (the grid worker); empty: the caller, by their number
    contact_phone: str | None = None

    @property
    def key(self) -> tuple[str, str]:
        return self.kind.value, self.matter_id

    @property
    def stratum(self) -> str:
        return f"{self.station}/{self.kind.value}"


def share(size: int, percent: int) -> int:
    """``percent``% of ``size``, rounded up (integers only: 10% of 20 is 2, not 3 by a float's error)."""
    return -(-size * percent // 100)


def draw(matters: Iterable[Matter], percent: int, seed: int,
         taken: set[tuple[str, str]]) -> tuple[list[Matter], dict[str, tuple[int, int]]]:
    """The sample: ``percent``% (rounded up) of each stratum, never a matter in ``taken``.

    Returns the drawn matters and, per stratum, (population, drawn). A stratum whose free members are
    fewer than its share gives all of them."""
    strata: dict[str, list[Matter]] = defaultdict(list)
    for matter in matters:
        strata[matter.stratum].append(matter)
    rng = random.Random(seed)
    drawn: list[Matter] = []
    counts: dict[str, tuple[int, int]] = {}
    for name in sorted(strata):  # a fixed order: the same seed takes the same turns
        members = sorted(strata[name], key=lambda m: m.key)
        free = [m for m in members if m.key not in taken]
        picked = rng.sample(free, min(share(len(members), percent), len(free)))
        drawn.extend(sorted(picked, key=lambda m: m.key))
        counts[name] = (len(members), len(picked))
    return drawn, counts


def closed_matters(conn: Connection, period: Period, grids: GridIndex, language: str) -> list[Matter]:
    """Every matter closed in ``period``: incidents, handled leads, reported grid tasks."""
    return [*_incidents(conn, period, grids), *_leads(conn, period, language), *_tasks(conn, period)]


def find_matter(conn: Connection, kind: MatterKind, matter_id: str, grids: GridIndex,
                language: str) -> Matter | None:
    """One closed matter, whenever it closed (a visit added by hand); ``None`` if unknown or still open."""
    if kind is MatterKind.INCIDENT:
        row = conn.execute(select(incidents).where(and_(incidents.c.event_id == matter_id,
                                                        incidents.c.status == IncidentStatus.CLOSED.value)))\
            .mappings().first()
        if row is None:
            return None
        closed_at = conn.execute(select(func.max(instructions.c.finished_at)).where(and_(
            instructions.c.incident_id == matter_id, instructions.c.state == State.CLOSED.value))).scalar()
        return _incident(row, as_utc(closed_at or row["reported_at"]),
                         _outcomes(conn, [matter_id]).get(matter_id), grids)
    if kind is MatterKind.LEAD:
        rows = conn.execute(select(leads).where(and_(leads.c.lead_id == matter_id,
                                                     leads.c.state == LeadState.HANDLED.value))).mappings().all()
        return next(iter(_lead_matters(rows, language)), None)
    rows = conn.execute(select(grid_tasks).where(and_(grid_tasks.c.task_id == matter_id,
                                                      grid_tasks.c.state == TaskState.REPORTED.value))).mappings().all()
    return next(iter(_task_matters(rows)), None)


def _station(grids: GridIndex, grid: str) -> str:
    found = grids.get(grid)
    return found.station if found else ""


def _incidents(conn: Connection, period: Period, grids: GridIndex) -> list[Matter]:
    # The hall's: closed with their last instruction. The history's: closed as they came, with no instruction.
    last = (select(instructions.c.incident_id, func.max(instructions.c.finished_at).label("closed_at"))
            .where(instructions.c.state == State.CLOSED.value)
            .group_by(instructions.c.incident_id).subquery())
    live = conn.execute(
        select(incidents, last.c.closed_at)
        .join(last, last.c.incident_id == incidents.c.event_id)
        .where(and_(incidents.c.status == IncidentStatus.CLOSED.value,
                    last.c.closed_at >= period.start, last.c.closed_at < period.end))).mappings().all()
    outcomes = _outcomes(conn, [row["event_id"] for row in live])
    history = conn.execute(select(incidents).where(and_(
        incidents.c.history.is_(True), incidents.c.status == IncidentStatus.CLOSED.value,
        incidents.c.reported_at >= period.start, incidents.c.reported_at < period.end))).mappings().all()
    found = [_incident(row, as_utc(row["closed_at"]), outcomes.get(row["event_id"]), grids) for row in live]
    found += [_incident(row, as_utc(row["reported_at"]), None, grids) for row in history]
    return found


def _incident(row: Any, closed_at: datetime, outcome: str | None, grids: GridIndex) -> Matter:
    return Matter(MatterKind.INCIDENT, row["event_id"], _station(grids, row["grid"]), row["grid"],
                  f"{row['address']} · {row['description']}", closed_at, outcome,
                  contact_phone=row["caller"] or None)


def _outcomes(conn: Connection, incident_ids: list[str]) -> dict[str, str]:
    """The outcome each incident's closing instruction reported (the latest, if several)."""
    found: dict[str, str] = {}
    for start in range(0, len(incident_ids), 500):
        rows = conn.execute(select(instructions.c.incident_id, instructions.c.outcome)
                            .where(and_(instructions.c.incident_id.in_(incident_ids[start:start + 500]),
                                        instructions.c.state == State.CLOSED.value,
                                        instructions.c.outcome.is_not(None)))
                            .order_by(instructions.c.finished_at)).all()
        found.update({incident_id: outcome for incident_id, outcome in rows})
    return found


def _leads(conn: Connection, period: Period, language: str) -> list[Matter]:
    rows = conn.execute(select(leads).where(and_(
        leads.c.state == LeadState.HANDLED.value,
        leads.c.handled_at >= period.start, leads.c.handled_at < period.end))).mappings().all()
    return _lead_matters(rows, language)


def _lead_matters(rows: Iterable[Any], language: str) -> list[Matter]:
    return [Matter(MatterKind.LEAD, row["lead_id"], row["station"], row["grid"], lead_texts(dict(row), language)[0],
                   as_utc(row["handled_at"]), "useful" if row["useful"] else None,
                   contact_name=row["handled_by"] or row["recipient"]) for row in rows]


def _tasks(conn: Connection, period: Period) -> list[Matter]:
    rows = conn.execute(select(grid_tasks).where(and_(
        grid_tasks.c.state == TaskState.REPORTED.value,
        grid_tasks.c.reported_at >= period.start, grid_tasks.c.reported_at < period.end))).mappings().all()
    return _task_matters(rows)


def _task_matters(rows: Iterable[Any]) -> list[Matter]:
    return [Matter(MatterKind.TASK, row["task_id"], row["station"], row["grid"], row["summary"],
                   as_utc(row["reported_at"]), row["outcome"], contact_name=row["worker"]) for row in rows]
