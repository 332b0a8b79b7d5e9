"""The automatic measures: each a few grouped queries over the system of record for one period, for everyone.

``[start, asof)`` is the part of a duty's period that has run (its deadline, or now if sooner). What each
measure counts (``docs/duties.md`` says it for readers):

- ``grid_records``: a grid worker's records collected: incidents the grid reported (source ``grid``, not the
  backfilled history) in their grids, plus the grid tasks in their grids whose result (photo and note) they
  filed in the period.
- ``households_visited``: the grid tasks of kind ``lead`` (a household or place the early warning flagged) and
  ``hazard`` in their grids whose result they filed in the period: a result is filed on site.
- ``grid_leads_disposed``: of the leads in a community officer's grids whose deadline fell in the period, the
  share handled by ``asof``.
- ``high_leads_disposed``: of the district's high-risk leads whose deadline fell in the period, the share
  handled by ``asof`` (the desk's figure: every duty officer's).
- ``alerts_verified``: of the sensor alerts kept in the period whose minute has passed, the share verified
  within it (the indicators' definition).
- ``data_completeness``: of the incidents reported in the period, the share with every required field
  (:func:`indicators.compute.record_complete`, the indicators' definition).
- ``data_timeliness``: of the live entries kept in the period, the share within their source's budget
  (:mod:`indicators.timeliness`).
- ``cases_mediated`` and ``mediation_success``: a mediator's cases closed in the period after mediation, and the
  share of them that succeeded (:func:`mediation.figures.period_figures`, the centre's own figures).

A rate with nothing to measure is ``None``.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, and_, func, select

from duties.config import MEASURES, Kind, Measure
from geo.scenarios import verify_within_s
from gridwork.tasks import TaskKind
from indicators import timeliness
from indicators.compute import record_complete
from mediation.figures import period_figures
from store.db import alert_verifications, as_utc, grid_tasks, incidents, leads, sensor_events

GRID_SOURCE = "grid"  # incidents a grid worker reported from their phone or the grid system
VISITS = (TaskKind.LEAD.value, TaskKind.HAZARD.value)


@dataclass(frozen=True)
class Holder:
    """A person holding a post: a grid team member (their grids), an account, or a mediator."""

    person_id: str  # the roster id (GW-SC-001), the username, or the mediator's id
    name: str
    station: str | None  # None: the district's
    grids: tuple[str, ...] = ()
    username: str | None = None  # who signs in as them (a mediator's account; a user's own name)


Values = dict[str, float | None]  # person id -> the measured value


def measured(conn: Connection, measure: Measure, start: datetime, asof: datetime,
             people: Sequence[Holder]) -> Values:
    """``measure`` over ``[start, asof)`` for each of ``people`` (their grids, their cases, or the district's)."""
    if measure is Measure.MANUAL:
        raise ValueError("a manual duty is ticked, not measured")
    if asof <= start:
        return dict.fromkeys((p.person_id for p in people), _nothing(measure))
    if measure in (Measure.GRID_RECORDS, Measure.HOUSEHOLDS_VISITED):
        per_grid = _grid_records(conn, start, asof) if measure is Measure.GRID_RECORDS else \
            _reported_tasks(conn, start, asof, VISITS)
        return {p.person_id: float(sum(per_grid[g] for g in p.grids)) for p in people}
    if measure is Measure.GRID_LEADS_DISPOSED:
        due, handled = _leads_due(conn, start, asof, high_only=False)
        return {p.person_id: _rate(sum(handled[g] for g in p.grids), sum(due[g] for g in p.grids)) for p in people}
    if measure in (Measure.CASES_MEDIATED, Measure.MEDIATION_SUCCESS):
        mine = {m["mediator_id"]: m for m in period_figures(conn, start, asof)["mediators"]}
        if measure is Measure.CASES_MEDIATED:
            return {p.person_id: float(mine[p.person_id]["mediated"]) if p.person_id in mine else 0.0
                    for p in people}
        return {p.person_id: mine[p.person_id]["success_rate"] if p.person_id in mine else None for p in people}
    value = district(conn, measure, start, asof)
    return dict.fromkeys((p.person_id for p in people), value)


def district(conn: Connection, measure: Measure, start: datetime, asof: datetime) -> float | None:
    """A district-wide measure (scope ``district`` in :data:`duties.config.MEASURES`) over ``[start, asof)``."""
    if measure is Measure.HIGH_LEADS_DISPOSED:
        due, handled = _leads_due(conn, start, asof, high_only=True)
        return _rate(sum(handled.values()), sum(due.values()))
    if measure is Measure.ALERTS_VERIFIED:
        within = verify_within_s()
        rows = conn.execute(
            select(sensor_events.c.ingested_at, alert_verifications.c.seconds_to_verify)
            .outerjoin(alert_verifications, alert_verifications.c.event_id == sensor_events.c.event_id)
            .where(and_(sensor_events.c.kind == "alert", sensor_events.c.ingested_at >= start,
                        sensor_events.c.ingested_at < asof - timedelta(seconds=within)))).all()
        return _rate(sum(1 for _, s in rows if s is not None and s <= within), len(rows))
    if measure is Measure.DATA_COMPLETENESS:
        records = conn.execute(
            select(incidents.c.address, incidents.c.description, incidents.c.category, incidents.c.grid,
                   incidents.c.source, incidents.c.caller)
            .where(and_(incidents.c.reported_at >= start, incidents.c.reported_at < asof))).mappings().all()
        return _rate(sum(1 for r in records if record_complete(dict(r))), len(records))
    if measure is Measure.DATA_TIMELINESS:
        rate = timeliness.figures(timeliness.kept_between(conn, start, asof))["rate"]
        return float(rate) if rate is not None else None
    raise ValueError(f"{measure} is not a district measure")


def _nothing(measure: Measure) -> float | None:
    return 0.0 if MEASURES[measure][0] is Kind.COUNT else None


def _rate(part: int, whole: int) -> float | None:
    return part / whole if whole else None


def _grouped(rows: Iterable[tuple[str, int]]) -> Counter[str]:
    return Counter({grid: int(count) for grid, count in rows})


def grid_records(conn: Connection, start: datetime, asof: datetime) -> list[dict[str, Any]]:
    """The records grid workers collected in ``[start, asof)``, one each, oldest first: the incidents their grids
    reported (source ``grid``, not the backfilled history) and the grid tasks whose result they filed. The one
    definition of "records collected": the task list's duty and the evaluation index's leaf both count these."""
    reported = conn.execute(
        select(incidents.c.event_id, incidents.c.grid, incidents.c.reported_at)
        .where(and_(incidents.c.source == GRID_SOURCE, incidents.c.history.is_(False),
                    incidents.c.reported_at >= start, incidents.c.reported_at < asof))).all()
    results = conn.execute(
        select(grid_tasks.c.task_id, grid_tasks.c.grid, grid_tasks.c.reported_at)
        .where(and_(grid_tasks.c.reported_at >= start, grid_tasks.c.reported_at < asof))).all()
    found = [{"id": event_id, "grid": grid, "source": GRID_SOURCE, "at": as_utc(at)} for event_id, grid, at in reported]
    found += [{"id": task_id, "grid": grid, "source": "task", "at": as_utc(at)} for task_id, grid, at in results]
    return sorted(found, key=lambda record: record["at"])


def _grid_records(conn: Connection, start: datetime, asof: datetime) -> Counter[str]:
    return Counter(str(record["grid"]) for record in grid_records(conn, start, asof))


def _reported_tasks(conn: Connection, start: datetime, asof: datetime, kinds: Sequence[str] | None) -> Counter[str]:
    where = [grid_tasks.c.reported_at >= start, grid_tasks.c.reported_at < asof]
    if kinds is not None:
        where.append(grid_tasks.c.kind.in_(kinds))
    return _grouped(conn.execute(
        select(grid_tasks.c.grid, func.count()).where(and_(*where)).group_by(grid_tasks.c.grid)))


def _leads_due(conn: Connection, start: datetime, asof: datetime, *, high_only: bool) -> tuple[Counter[str],
                                                                                             Counter[str]]:
    """Per grid: the leads whose deadline fell in ``[start, asof)``, and of them those handled by ``asof``."""
    where = [leads.c.deadline >= start, leads.c.deadline < asof]
    if high_only:
        where.append(leads.c.level == "high")
    due: Counter[str] = Counter()
    handled: Counter[str] = Counter()
    for grid, handled_at in conn.execute(select(leads.c.grid, leads.c.handled_at).where(and_(*where))):
        due[grid] += 1
        handled[grid] += handled_at is not None and as_utc(handled_at) <= asof
    return due, handled
