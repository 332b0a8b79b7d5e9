"""What is late at a moment: every kind of item with a deadline, read the way its own screens read it.

Each kind keeps its own definition of "late" (an instruction past its arrival or result deadline, an alert
past its minute, a lead past its deadline, a grid task's running clock, a return visit past its due date,
a rectification notice past its deadline, a mediation case past its running clock);
this module only gathers them into one list of :class:`Late` items, each with the deadline it missed and
the station that answers for it.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from sqlalchemy import Connection, and_, or_, select

import deadlines
from dispatch.lifecycle import OPEN as OPEN_INSTRUCTIONS
from geo.index import GridIndex
from geo.scenarios import verify_within_s
from gridwork.tasks import OPEN as OPEN_TASKS
from gridwork.tasks import running_clock
from mediation.cases import running_clock as mediation_clock
from risk.leads import pending_leads
from sensors.alerts import unverified_alerts
from store.db import (
    as_utc,
    grid_tasks,
    incidents,
    instructions,
    leads,
    mediation_cases,
    notices,
    revisits,
    sensor_events,
)


class ItemKind(StrEnum):
    INSTRUCTION = "instruction"  # a unit's arrival or result
    ALERT = "alert"  # a sensor alert waiting for the duty officer's verdict
    LEAD = "lead"  # an early-warning lead not handled
    GRID_TASK = "grid_task"  # a grid worker's step
    REVISIT = "revisit"  # a return visit not made
    NOTICE = "notice"  # a rectification notice not closed by its deadline
    MEDIATION = "mediation"  # a mediation case past its hand-over, contact, fulfilment or return-visit deadline


@dataclass(frozen=True)
class Late:
    """One late item: what it is, where, and the deadline it missed."""

    kind: ItemKind
    item_id: str
    station: str
    grid: str | None
    due_at: datetime
    facts: dict[str, Any] = field(default_factory=dict)  # what a list shows of it, rendered per language

    @property
    def key(self) -> tuple[str, str]:
        return self.kind.value, self.item_id


def late_items(conn: Connection, asof: datetime, grids: GridIndex) -> list[Late]:
    """Every item late at ``asof``, most late first."""
    def station_of(grid: str | None) -> str:
        found = grids.get(grid) if grid else None
        return found.station if found else ""

    found = [*_instructions(conn, asof, station_of), *_alerts(conn, asof, station_of), *_leads(conn, asof),
             *_tasks(conn, asof, station_of), *_visits(conn, asof), *_notices(conn, asof),
             *_mediation(conn, asof)]
    return sorted(found, key=lambda item: (item.due_at, item.kind, item.item_id))


def _instructions(conn: Connection, asof: datetime, station_of: Any) -> Iterator[Late]:
    rows = conn.execute(
        select(instructions.c.instruction_id, instructions.c.incident_id, instructions.c.unit_id,
               instructions.c.arrival_due, instructions.c.on_scene_at, instructions.c.result_due,
               instructions.c.result_at, incidents.c.grid)
        .join(incidents, incidents.c.event_id == instructions.c.incident_id)
        .where(and_(instructions.c.state.in_([s.value for s in OPEN_INSTRUCTIONS]),
                    or_(instructions.c.arrival_due < asof, instructions.c.result_due < asof)))).mappings()
    for row in map(dict, rows):
        due = deadlines.instruction_overdue_since(row, asof)
        if due is not None:
            step = "arrival" if row["on_scene_at"] is None else "result"
            yield Late(ItemKind.INSTRUCTION, row["instruction_id"], station_of(row["grid"]), row["grid"], due,
                       {"unit": row["unit_id"], "step": step, "incident": row["incident_id"]})


def _alerts(conn: Connection, asof: datetime, station_of: Any) -> Iterator[Late]:
    within = timedelta(seconds=verify_within_s())
    rows = conn.execute(unverified_alerts(asof, select(
        sensor_events.c.event_id, sensor_events.c.grid, sensor_events.c.ingested_at, sensor_events.c.scenario,
        sensor_events.c.device_id)).where(sensor_events.c.ingested_at < asof - within)).mappings()
    for row in rows:
        yield Late(ItemKind.ALERT, row["event_id"], station_of(row["grid"]), row["grid"],
                   as_utc(row["ingested_at"]) + within, {"scenario": row["scenario"] or "", "device": row["device_id"]})


def _leads(conn: Connection, asof: datetime) -> Iterator[Late]:
    rows = conn.execute(pending_leads(asof, select(
        leads.c.lead_id, leads.c.grid, leads.c.station, leads.c.deadline, leads.c.level, leads.c.rule,
        leads.c.target)).where(leads.c.deadline < asof)).mappings()
    for row in rows:
        yield Late(ItemKind.LEAD, row["lead_id"], row["station"], row["grid"], as_utc(row["deadline"]),
                   {"level": row["level"], "rule": row["rule"], "target": row["target"]})


def _tasks(conn: Connection, asof: datetime, station_of: Any) -> Iterator[Late]:
    rows = conn.execute(select(grid_tasks).where(grid_tasks.c.state.in_([s.value for s in OPEN_TASKS])))\
        .mappings()
    for row in map(dict, rows):
        running = running_clock(row, asof)
        if running is not None and running[1] < asof:
            yield Late(ItemKind.GRID_TASK, row["task_id"], station_of(row["grid"]), row["grid"], running[1],
                       {"worker": row["worker"], "step": running[0], "task_kind": row["kind"]})


def _visits(conn: Connection, asof: datetime) -> Iterator[Late]:
    rows = conn.execute(select(revisits.c.visit_id, revisits.c.station, revisits.c.grid, revisits.c.due_at,
                               revisits.c.matter_kind, revisits.c.matter_id)
                        .where(and_(revisits.c.visited_at.is_(None), revisits.c.due_at < asof))).mappings()
    for row in rows:
        yield Late(ItemKind.REVISIT, row["visit_id"], row["station"], row["grid"], as_utc(row["due_at"]),
                   {"matter_kind": row["matter_kind"], "matter_id": row["matter_id"]})


def _notices(conn: Connection, asof: datetime) -> Iterator[Late]:
    rows = conn.execute(select(notices.c.notice_id, notices.c.station, notices.c.unit, notices.c.standard,
                               notices.c.deadline)
                        .where(and_(notices.c.closed_at.is_(None), notices.c.deadline < asof))).mappings()
    for row in rows:
        yield Late(ItemKind.NOTICE, row["notice_id"], row["station"], None, as_utc(row["deadline"]),
                   {"unit": row["unit"] or row["station"], "standard": row["standard"][:80]})


def _mediation(conn: Connection, asof: datetime) -> Iterator[Late]:
    rows = conn.execute(select(mediation_cases).where(mediation_cases.c.closed_at.is_(None))).mappings()
    for row in map(dict, rows):
        running = mediation_clock(row, asof)
        if running is not None and running.due < asof:
            yield Late(ItemKind.MEDIATION, row["case_id"], row["station"], row["grid"], running.due,
                       {"clock": running.clock.value, "case_type": row["case_type"]})
