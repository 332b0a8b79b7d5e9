"""The chiefs' indicators, computed from the system of record for any period.

One function, :func:`compute`, serves the live panel (the Beijing day so far),
the big screen and the reports (any past day, week or month), so a report's
figures are the indicators for its period by construction. Every figure is
given for the whole district and for each police station; :func:`by_grid`
drills into one station's grids.

Definitions (``docs/indicators.md`` explains them for readers):

- *incidents*: reported in the period; compared with the same period one week
  earlier (today against the same weekday last week), up to the same time of day
  while the period is still running (its whole is given too, for the trend chart).
- *repeat incidents*: incidents at a place (normalised address) reported at
  least ``REPEAT_AT`` times in the period.
- *open / overdue instructions*: instructions issued before the period's end
  (or now, if sooner) and not finished then; overdue ones have passed their
  arrival deadline without arriving, or their result deadline without a result.
- *breaches*: instructions with a deadline (arrival or result) in the period,
  passed by then, that missed it (late, or not at all); one cancelled before its
  deadline did not miss it.
- *unverified alerts*: the alert queue at the period's end (or now):
  :func:`sensors.alerts.unverified_alerts`; overdue ones are past their minute.
- *pending leads*: the leads board at the period's end (or now):
  :func:`risk.leads.pending_leads`; late ones are past their deadline.
- *dispatch to arrival* and *arrival to result*: for arrivals and results in
  the period, median and 90th percentile in minutes, and the share on time
  against each instruction's own deadline (5 minutes urban, 15 outlying; 15 for
  the result).
- *high-risk lead disposal*: high-risk leads created in the period that have
  been handled (target 100%), and handled within their 1-hour deadline.
- *alert verification*: sensor alerts received in the period whose minute to
  be verified has passed, and the share verified within it.
- *return visits*: visits due in the period (:func:`revisits.service.visit_figures`).
- *supervision*: escalations raised in the period (all, and to the district), open at its end, and
  answered in it (:func:`supervision.service.escalation_figures`).
- *rectification notices*: issued in the period, open and overdue at its end, closed in it (and of them
  late) (:func:`supervision.notices.notice_figures`).
- *mediation*: cases opened in the period by type and source, open at its end, closed by outcome, the success
  rate (target 90%), the clocks met, triage accuracy and the second-mediation rate
  (:func:`mediation.figures.figures`; each mediator's own figures are the monthly report's and the centre's).
- *grid tasks*: grid workers' tasks made in the period, open and overdue at its
  end (a running clock past its deadline), missed steps with a deadline in the
  period (:func:`gridwork.tasks.missed_steps`, also per grid worker), and the
  share of arrivals and results in the period that met their deadlines.

Open and overdue are judged at the period's end; disposal and verification as
known when the figures are computed (a report made later counts a lead handled
after the period ended).
- *data completeness*: incidents whose record has every field in
  ``COMPLETE_RECORD_FIELDS`` filled (target 95%).
- *data timeliness*: per source (110, 12345, grid, sensors), the entries kept in the period, their lag from
  reported (observed) to kept, and those over the source's budget (2 minutes for 110, 5 for grid data);
  live, the sources gone quiet (:mod:`indicators.timeliness`).
- *device online rate*: live only (devices' health is hot state, not history);
  reports of past periods leave it out instead of guessing. Online among the
  devices whose state is known (:func:`sensors.health.summary`): one awaiting its
  first report is neither up nor down yet.

Every figure shown in more than one place (the officers' page, the chiefs' panel,
the wall, the reports) is read from here, so they cannot disagree.
"""

from __future__ import annotations

import statistics
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Engine, and_, or_, select

import deadlines
from clock import Period
from geo.scenarios import verify_within_s
from gridwork import tasks
from indicators import timeliness
from mediation.figures import cases_between
from mediation.figures import figures as mediation_figures
from revisits.service import visit_figures, visits_due
from risk.leads import pending_leads
from risk.model import load_config
from risk.rules import normalise_address
from sensors.alerts import unverified_alerts
from sensors.health import summary as device_summary
from store.db import (
    alert_verifications,
    as_utc,
    grid_tasks,
    incidents,
    instructions,
    leads,
    revisits,
    sensor_events,
)
from supervision.notices import notice_figures, notices_between
from supervision.service import escalation_figures, escalations_between

DISTRICT = "district"
# Fields a complete incident record has filled (the contract makes the others mandatory already).
COMPLETE_RECORD_FIELDS = ("address", "description", "category", "grid", "source")
# A 110 call without the caller's number is incomplete: the officer cannot call back.
CALLER_REQUIRED_SOURCES = frozenset({"110"})
TARGETS: dict[str, float] = {
    "arrival_on_time": 1.0,       # every unit on scene within its 5 / 15 minutes
    "result_on_time": 1.0,        # every result within 15 minutes of arriving
    "result_minutes": 15.0,
    "lead_disposal": 1.0,         # high-risk leads: 100% disposed
    "verify_on_time": 1.0,
    "completeness": 0.95,         # data completeness of incident records
    "timeliness": timeliness.TARGET,  # every entry in the record within its source's budget
}
ARRIVAL_TARGETS_MIN = (5.0, 15.0)  # urban / outlying: the lines drawn on the distributions


def repeat_at() -> int:
    """How often one place must be reported in a period to count as a repeat (the warning rule's threshold)."""
    return int(load_config()["rules"]["repeat_location"]["threshold"])


@dataclass
class Rows:
    """What the figures are computed from, already loaded (tests construct it directly)."""

    incidents: list[dict[str, Any]]  # reported in the period or its comparison period
    instructions: list[dict[str, Any]]  # with the incident's grid as "grid"
    leads: list[dict[str, Any]]
    alerts: list[dict[str, Any]]  # sensor alerts with "seconds_to_verify" (None: not verified)
    queue: list[dict[str, Any]] = field(default_factory=list)  # unverified alerts at the period's end (or now)
    pending: list[dict[str, Any]] = field(default_factory=list)  # leads still to handle then
    device_grids: dict[str, str | None] | None = None  # device id -> grid; None: no live health
    health: Mapping[str, str] = field(default_factory=dict)  # devices not online now -> awaiting/offline/faulty
    tasks: list[dict[str, Any]] = field(default_factory=list)  # grid tasks made before the end, open in the period
    visits: list[dict[str, Any]] = field(default_factory=list)  # return visits due in the period
    escalations: list[dict[str, Any]] = field(default_factory=list)  # raised before the end, open in the period
    notices: list[dict[str, Any]] = field(default_factory=list)  # rectification notices issued, open in the period
    mediation: list[dict[str, Any]] = field(default_factory=list)  # mediation cases opened before the end, open in it
    kept: list[dict[str, Any]] = field(default_factory=list)  # live entries kept in the period, with their source
    last_kept: dict[str, datetime] | None = None  # each source's newest entry (live only: silence is a live alarm)

    def split(self, group_of: Callable[[str | None], str | None]) -> dict[str | None, Rows]:
        """The rows grouped by ``group_of(grid)`` (a station, or the grid itself), in one pass. A row of a station
        without a grid (a rectification notice) goes under its ``station``: a station's, never a grid's."""
        groups: dict[str | None, Rows] = {}

        def group(grid: str | None, station: str | None = None) -> Rows:
            key = group_of(grid) if grid is not None or station is None else station
            if key not in groups:
                groups[key] = self.empty()
            return groups[key]

        for name in ("incidents", "instructions", "leads", "alerts", "queue", "pending", "tasks", "visits",
                     "escalations", "notices", "mediation", "kept"):
            for row in getattr(self, name):
                getattr(group(row.get("grid"), row.get("station")), name).append(row)
        for device, grid in (self.device_grids or {}).items():
            devices = group(grid).device_grids
            assert devices is not None
            devices[device] = grid
        return groups

    def empty(self) -> Rows:
        return Rows([], [], [], [], device_grids=None if self.device_grids is None else {}, health=self.health)


def load(engine: Engine, period: Period, now: datetime,
         device_grids: dict[str, str | None] | None = None, health: Mapping[str, str] | None = None,
         sensors_heard: datetime | None = None) -> Rows:
    """Read what ``period`` needs (and its comparison period) from the system of record. A running period
    (``device_grids`` given) also reads when each source was last heard (``sensors_heard``: the newest device
    heartbeat, which Redis keeps)."""
    asof = min(now, period.end)
    earliest = min(period.start, period.comparison().start)
    with engine.connect() as conn:
        incident_rows = conn.execute(
            select(incidents.c.event_id, incidents.c.reported_at, incidents.c.grid, incidents.c.category,
                   incidents.c.address, incidents.c.description, incidents.c.caller, incidents.c.source)
            .where(and_(incidents.c.reported_at >= earliest, incidents.c.reported_at < period.end))
        ).mappings().all()
        instruction_rows = conn.execute(
            select(instructions.c.instruction_id, instructions.c.state, instructions.c.issued_at,
                   instructions.c.arrival_due, instructions.c.on_scene_at, instructions.c.result_at,
                   instructions.c.result_due, instructions.c.finished_at, incidents.c.grid)
            .join(incidents, incidents.c.event_id == instructions.c.incident_id)
            .where(and_(instructions.c.issued_at < asof,
                        or_(instructions.c.finished_at.is_(None), instructions.c.finished_at >= period.start)))
        ).mappings().all()
        lead_rows = conn.execute(
            select(leads.c.lead_id, leads.c.grid, leads.c.level, leads.c.created_at, leads.c.deadline,
                   leads.c.handled_at)
            .where(and_(leads.c.created_at >= period.start, leads.c.created_at < asof))
        ).mappings().all()
        alert_rows = conn.execute(
            select(sensor_events.c.event_id, sensor_events.c.grid, sensor_events.c.ingested_at,
                   alert_verifications.c.verified_at, alert_verifications.c.seconds_to_verify)
            .outerjoin(alert_verifications, alert_verifications.c.event_id == sensor_events.c.event_id)
            .where(and_(sensor_events.c.kind == "alert", sensor_events.c.ingested_at >= period.start,
                        sensor_events.c.ingested_at < asof))
        ).mappings().all()
        queue_rows = conn.execute(unverified_alerts(asof, select(
            sensor_events.c.event_id, sensor_events.c.grid, sensor_events.c.ingested_at))).mappings().all()
        pending_rows = conn.execute(pending_leads(asof, select(
            leads.c.lead_id, leads.c.grid, leads.c.level, leads.c.deadline))).mappings().all()
        task_rows = conn.execute(
            select(grid_tasks.c.task_id, grid_tasks.c.kind, grid_tasks.c.grid, grid_tasks.c.worker,
                   grid_tasks.c.state, grid_tasks.c.created_at, grid_tasks.c.on_scene_due, grid_tasks.c.on_scene_at,
                   grid_tasks.c.result_due, grid_tasks.c.reported_at, grid_tasks.c.ended_at)
            .where(and_(grid_tasks.c.created_at < asof,
                        or_(grid_tasks.c.reported_at.is_(None), grid_tasks.c.reported_at >= period.start),
                        or_(grid_tasks.c.ended_at.is_(None), grid_tasks.c.ended_at >= period.start)))
        ).mappings().all()
        visit_rows = conn.execute(visits_due(period, asof, select(
            revisits.c.visit_id, revisits.c.grid, revisits.c.due_at, revisits.c.visited_at,
            revisits.c.result))).mappings().all()
        escalation_rows = conn.execute(escalations_between(period.start, asof)).mappings().all()
        notice_rows = conn.execute(notices_between(period.start, asof)).mappings().all()
        mediation_rows = cases_between(conn, period.start, asof)
        kept_rows = timeliness.kept_between(conn, period.start, asof)
        heard = None
        if device_grids is not None:
            heard = timeliness.last_kept(conn, now) | ({"sensor": sensors_heard} if sensors_heard else {})
    return Rows(_utc_rows(incident_rows), _utc_rows(instruction_rows), _utc_rows(lead_rows), _utc_rows(alert_rows),
                _utc_rows(queue_rows), _utc_rows(pending_rows), device_grids, dict(health or {}),
                _utc_rows(task_rows), _utc_rows(visit_rows), _utc_rows(escalation_rows), _utc_rows(notice_rows),
                _utc_rows(mediation_rows), _utc_rows(kept_rows), heard)


def _utc_rows(rows: Iterable[Any]) -> list[dict[str, Any]]:
    """Rows with every time aware UTC once (SQLite hands them back naive), not at every comparison."""
    return [{k: as_utc(v) if isinstance(v, datetime) else v for k, v in row.items()} for row in rows]


def compute(rows: Rows, period: Period, now: datetime, station_of: Callable[[str | None], str | None],
            stations: Iterable[str]) -> dict[str, Any]:
    """The figures of the district and of each station in ``stations``.

    Returns ``{"period": {...}, "asof": iso, "scopes": {"district": figures, "PS-01": figures, ...}}``.
    """
    asof = min(now, period.end)
    by_station = rows.split(station_of)
    scopes = {DISTRICT: figures(rows, period, now)}
    for station in stations:
        scopes[station] = figures(by_station.get(station) or rows.empty(), period, now)
    return {"period": {"start": period.start.isoformat(), "end": period.end.isoformat(), "kind": period.kind,
                       "label": period.local_label()},
            "asof": asof.isoformat(), "scopes": scopes}


def by_grid(rows: Rows, period: Period, now: datetime, grids: Iterable[str]) -> list[dict[str, Any]]:
    """One row per grid of a station: the drill-down under a station's figures."""
    out = []
    per_grid = rows.split(lambda grid: grid)
    for grid in grids:
        f = figures(per_grid.get(grid) or rows.empty(), period, now)
        out.append({"grid": grid, "incidents": f["incidents"]["count"], "repeat": f["repeat"]["incidents"],
                    "open": f["instructions"]["open"], "overdue": f["instructions"]["overdue"],
                    "arrival_median_min": f["arrival"]["median_min"], "arrival_on_time": f["arrival"]["on_time"],
                    "completeness": f["completeness"]["rate"]})
    return out


def figures(rows: Rows, period: Period, now: datetime) -> dict[str, Any]:
    """All indicators of one scope (rows already restricted to it), read at ``now``.

    What is open or overdue is judged at the period's end (or now, if sooner); whether a lead was
    handled and an alert verified, as known now.
    """
    asof = min(now, period.end)
    comparison = period.comparison()
    now_rows = [r for r in rows.incidents if period.start <= as_utc(r["reported_at"]) < period.end]
    before = [r for r in rows.incidents if comparison.start <= as_utc(r["reported_at"]) < comparison.end]
    # A period still running is compared with the same stretch of the other (today until 09:40 against
    # the same weekday last week until 09:40), not with the whole of it.
    until = comparison.start + (asof - period.start) if asof < period.end else comparison.end
    so_far = sum(1 for r in before if as_utc(r["reported_at"]) < until)
    return {
        "incidents": {"count": len(now_rows), "comparison": so_far, "comparison_whole": len(before),
                      "change": _change(len(now_rows), so_far),
                      "by_category": dict(Counter(r["category"] for r in now_rows).most_common()),
                      "trend": _trend(now_rows, period), "trend_comparison": _trend(before, comparison)},
        "repeat": _repeat(now_rows),
        "instructions": _instructions(rows.instructions, period, asof),
        "arrival": _durations(rows.instructions, "issued_at", "on_scene_at", "arrival_due", period),
        "result": _durations(rows.instructions, "on_scene_at", "result_at", "result_due", period),
        "leads": _leads(rows.leads, asof, now) | _pending(rows.pending, asof),
        "verification": _verification(rows.alerts, asof, now),
        "queue": _queue(rows.queue, asof),
        "completeness": _completeness(now_rows),
        "timeliness": timeliness.figures(rows.kept) | {
            "silent": None if rows.last_kept is None else timeliness.silent(rows.last_kept, now)},
        "devices": _devices(rows),
        "grid_tasks": _grid_tasks(rows.tasks, period, asof),
        "revisits": visit_figures(rows.visits, asof),
        "supervision": escalation_figures(rows.escalations, period.start, asof),
        "notices": notice_figures(rows.notices, period.start, asof),
        "mediation": {k: v for k, v in mediation_figures(rows.mediation, {}, {}, period.start, asof).items()
                      if k != "mediators"},
    }


def _change(now: int, before: int) -> float | None:
    return (now - before) / before if before else None


def _trend(rows: list[dict[str, Any]], period: Period) -> list[int]:
    """Counts per Beijing hour for a day, per Beijing day for longer periods."""
    step = timedelta(hours=1) if period.days <= 1 else timedelta(days=1)
    buckets = [0] * max(1, round((period.end - period.start) / step))
    for r in rows:
        index = int((as_utc(r["reported_at"]) - period.start) / step)
        if 0 <= index < len(buckets):
            buckets[index] += 1
    return buckets


def _repeat(rows: list[dict[str, Any]]) -> dict[str, Any]:
    threshold = repeat_at()
    places = Counter(normalise_address(r["address"]) for r in rows)
    repeated = {place: n for place, n in places.items() if place and n >= threshold}
    top = sorted(repeated.items(), key=lambda item: (-item[1], item[0]))[:10]
    shown: dict[str, str] = {}
    for r in rows:  # a place is shown as it was first written
        shown.setdefault(normalise_address(r["address"]), r["address"])
    return {"incidents": sum(repeated.values()), "places": len(repeated), "threshold": threshold,
            "top": [{"place": shown[place], "count": n} for place, n in top]}


def _at(row: dict[str, Any], field: str) -> datetime | None:
    value = row.get(field)
    return as_utc(value) if value is not None else None


def _instructions(rows: list[dict[str, Any]], period: Period, asof: datetime) -> dict[str, Any]:
    issued = sum(1 for r in rows if period.start <= as_utc(r["issued_at"]) < asof)
    open_rows = [r for r in rows if is_open(r, asof)]
    overdue_ids = [r["instruction_id"] for r in open_rows if is_overdue(r, asof)]
    breaches = sum(1 for r in rows if breached(r, period.start, asof))
    return {"issued": issued, "open": len(open_rows), "overdue": len(overdue_ids), "overdue_ids": overdue_ids[:50],
            "breaches": breaches}


def is_open(row: dict[str, Any], asof: datetime) -> bool:
    """Whether an instruction was issued and not yet finished at ``asof``."""
    finished = _at(row, "finished_at")
    return as_utc(row["issued_at"]) < asof and (finished is None or finished > asof)


def is_overdue(row: dict[str, Any], asof: datetime) -> bool:
    """Whether an open instruction is past its arrival deadline without arriving, or past its result
    deadline without a result, at ``asof``."""
    return deadlines.instruction_overdue_since(row, asof) is not None


def breached(row: dict[str, Any], since: datetime, asof: datetime) -> bool:
    """Whether an instruction missed a deadline that fell in ``[since, asof)``: it arrived (or reported its
    result) after it, or not at all by ``asof``, without being finished before it."""
    return deadlines.missed(row, INSTRUCTION_STEPS, "finished_at", since, asof)


INSTRUCTION_STEPS = (("on_scene_at", "arrival_due"), ("result_at", "result_due"))


def _grid_tasks(rows: list[dict[str, Any]], period: Period, asof: datetime) -> dict[str, Any]:
    open_rows = [r for r in rows if tasks.is_open(r, asof)]
    overdue = [r for r in open_rows if (c := tasks.running_clock(r, asof)) and c[2] is deadlines.Colour.RED]
    missed = Counter({str(r["worker"]): n for r in rows if (n := tasks.missed_steps(r, period.start, asof))})
    on_scene = _durations(rows, "created_at", "on_scene_at", "on_scene_due", period)
    result = _durations(rows, "created_at", "reported_at", "result_due", period)
    return {"made": sum(1 for r in rows if period.start <= as_utc(r["created_at"]) < asof),
            "open": len(open_rows), "overdue": len(overdue), "breaches": sum(missed.values()),
            "breaches_by_worker": dict(missed.most_common(10)),
            "on_scene_on_time": on_scene["on_time"], "on_scene_median_min": on_scene["median_min"],
            "result_on_time": result["on_time"]}


def _durations(rows: list[dict[str, Any]], since: str, until: str, due: str, period: Period) -> dict[str, Any]:
    """Minutes from ``since`` to ``until`` for steps completed in the period, and the share before ``due``."""
    minutes, on_time = [], 0
    for r in rows:
        start, end, deadline = _at(r, since), _at(r, until), _at(r, due)
        if start is None or end is None or not period.start <= end < period.end:
            continue
        minutes.append((end - start).total_seconds() / 60)
        on_time += deadline is not None and end <= deadline
    return {"count": len(minutes), "median_min": statistics.median(minutes) if minutes else None,
            "p90_min": percentile(minutes, 90), "on_time": on_time / len(minutes) if minutes else None,
            "histogram": histogram(minutes)}


HISTOGRAM_MINUTES = 30  # one bar per minute up to 30, then one for everything longer


def histogram(minutes: list[float]) -> list[int]:
    """Counts per whole minute ``[0, 1), [1, 2) … [29, 30)`` and a last bar for 30 and more (the distributions)."""
    bars = [0] * (HISTOGRAM_MINUTES + 1)
    for m in minutes:
        bars[min(int(max(m, 0.0)), HISTOGRAM_MINUTES)] += 1
    return bars


def percentile(values: list[float], q: float) -> float | None:
    """The ``q``-th percentile by linear interpolation between closest ranks (numpy's default)."""
    if not values:
        return None
    ordered = sorted(values)
    rank = (len(ordered) - 1) * q / 100
    low = int(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def _leads(rows: list[dict[str, Any]], asof: datetime, now: datetime) -> dict[str, Any]:
    rows = [r for r in rows if as_utc(r["created_at"]) < asof]
    high = [r for r in rows if r["level"] == "high"]
    handled = [r for r in high if (h := _at(r, "handled_at")) is not None and h <= now]
    on_time = [r for r in handled if as_utc(r["handled_at"]) <= as_utc(r["deadline"])]
    return {"high": len(high), "handled": len(handled), "on_time": len(on_time),
            "disposal_rate": len(handled) / len(high) if high else None,
            "on_time_rate": len(on_time) / len(high) if high else None,
            "medium": sum(1 for r in rows if r["level"] == "medium")}


def _verification(rows: list[dict[str, Any]], asof: datetime, now: datetime) -> dict[str, Any]:
    within = verify_within_s()
    rows = [r for r in rows if as_utc(r["ingested_at"]) < asof]
    due = [r for r in rows if as_utc(r["ingested_at"]) + timedelta(seconds=within) <= now]
    in_time = [r for r in due if r.get("seconds_to_verify") is not None and r["seconds_to_verify"] <= within]
    return {"alerts": len(rows), "due": len(due), "within": len(in_time),
            "rate": len(in_time) / len(due) if due else None}


def _pending(rows: list[dict[str, Any]], asof: datetime) -> dict[str, Any]:
    """The leads board at ``asof``: leads to handle, and those past their deadline."""
    return {"pending": len(rows), "late": sum(1 for r in rows if as_utc(r["deadline"]) < asof)}


def _queue(rows: list[dict[str, Any]], asof: datetime) -> dict[str, Any]:
    """The alert queue at ``asof``: unverified alerts, and those past their minute."""
    within = timedelta(seconds=verify_within_s())
    return {"unverified": len(rows), "overdue": sum(1 for r in rows if as_utc(r["ingested_at"]) + within < asof)}


def record_complete(row: dict[str, Any]) -> bool:
    """Whether an incident record has every required field filled."""
    if any(not str(row.get(name) or "").strip() for name in COMPLETE_RECORD_FIELDS):
        return False
    return row.get("source") not in CALLER_REQUIRED_SOURCES or bool(row.get("caller"))


def _completeness(rows: list[dict[str, Any]]) -> dict[str, Any]:
    complete = sum(1 for r in rows if record_complete(r))
    return {"records": len(rows), "complete": complete, "rate": complete / len(rows) if rows else None}


def _devices(rows: Rows) -> dict[str, Any] | None:
    if rows.device_grids is None:
        return None  # a past period: device health was never recorded as history
    return device_summary(rows.health, rows.device_grids)
