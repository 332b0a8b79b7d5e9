"""The measures an index leaf may name: what each reads, and the records behind it.

Every measure reads a subject's figures, which are :func:`indicators.compute.figures` over the rows of the
subject's grids (a community officer's or grid worker's grids, a station's grids): so a person's arrival rate is
the chiefs' arrival rate restricted to that person's grids, computed by the same code. Each measure also lists
the *records* its value was computed from, for the drill-down; ``tests/test_evaluation.py`` checks that the
records add up to every reading.

Two measures read more than the figures: ``grid_records_per_day`` counts the records collected in the subject's
grids as the task list does (:func:`duties.measure.grid_records`: grid reports and task results), per grid worker
and day of the period so far; ``time_in_community`` reads the positions (:mod:`positions.presence`).
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any, Protocol

from clock import DAY, Period
from evaluation.index import Reading
from geo.scenarios import verify_within_s
from gridwork import tasks
from indicators import compute, timeliness
from mediation.cases import Outcome
from mediation.figures import MEDIATED
from revisits.results import REOPENS, VisitResult
from risk.rules import normalise_address
from store.db import as_utc


class Unit(StrEnum):
    RATE = "rate"  # a share, 0–1, shown as a percentage
    COUNT = "count"
    PER_DAY = "per_day"


class Presence(Protocol):
    """A person's working time and the part of it spent in their community (:mod:`positions.presence`)."""

    @property
    def working_s(self) -> float: ...

    @property
    def inside_s(self) -> float: ...

    @property
    def unknown_s(self) -> float: ...

    @property
    def fixes(self) -> int: ...


@dataclass
class Basis:
    """What a subject's measures read for one period."""

    rows: compute.Rows  # the subject's grids' rows
    figures: dict[str, Any]  # compute.figures(rows, period, now)
    period: Period
    now: datetime
    workers: int  # grid workers in the subject (records collected are judged per worker)
    presence: Mapping[str, Presence] = field(default_factory=dict)  # the subject's community officers'
    collected: list[dict[str, Any]] = field(default_factory=list)  # records collected in its grids (duties.measure)

    @property
    def asof(self) -> datetime:
        return min(self.now, self.period.end)


@dataclass(frozen=True)
class Measure:
    unit: Unit
    read: Callable[[Basis], Reading]
    records: Callable[[Basis], list[dict[str, Any]]]  # each with "met" (counted in the value's favour) or "count"


def _rate(part: float, whole: float) -> Reading:
    return Reading(part / whole if whole else None, part, whole)


def _met_rate(records: list[dict[str, Any]]) -> Reading:
    return _rate(sum(1 for r in records if r["met"]), len(records))


def _at(row: Mapping[str, Any], name: str) -> datetime | None:
    value = row.get(name)
    return as_utc(value) if value is not None else None


def _steps(rows: list[dict[str, Any]], id_field: str, since: str, until: str, due: str,
           basis: Basis) -> list[dict[str, Any]]:
    """Steps completed in the period and whether each met its deadline (as compute's durations count them)."""
    found = []
    for r in rows:
        start, end, deadline = _at(r, since), _at(r, until), _at(r, due)
        if start is None or end is None or not basis.period.start <= end < basis.period.end:
            continue
        found.append({"id": r[id_field], "grid": r.get("grid"), "from": start, "at": end, "due": deadline,
                      "met": deadline is not None and end <= deadline})
    return found


def _arrivals(b: Basis) -> list[dict[str, Any]]:
    return _steps(b.rows.instructions, "instruction_id", "issued_at", "on_scene_at", "arrival_due", b)


def _results(b: Basis) -> list[dict[str, Any]]:
    return _steps(b.rows.instructions, "instruction_id", "on_scene_at", "result_at", "result_due", b)


def _breached_instructions(b: Basis) -> list[dict[str, Any]]:
    return [{"id": r["instruction_id"], "grid": r.get("grid"), "from": _at(r, "issued_at"),
             "due": _at(r, "arrival_due"), "at": _at(r, "on_scene_at"), "count": 1}
            for r in b.rows.instructions if compute.breached(r, b.period.start, b.asof)]


def _high_leads(b: Basis) -> list[dict[str, Any]]:
    found = []
    for r in b.rows.leads:
        if r["level"] != "high" or as_utc(r["created_at"]) >= b.asof:
            continue
        handled = _at(r, "handled_at")
        handled = handled if handled is not None and handled <= b.now else None
        found.append({"id": r["lead_id"], "grid": r.get("grid"), "from": as_utc(r["created_at"]),
                      "due": as_utc(r["deadline"]), "at": handled, "met": handled is not None,
                      "on_time": handled is not None and handled <= as_utc(r["deadline"])})
    return found


def _repeated(b: Basis) -> list[dict[str, Any]]:
    in_period = [r for r in b.rows.incidents if b.period.start <= as_utc(r["reported_at"]) < b.period.end]
    places = Counter(normalise_address(r["address"]) for r in in_period)
    threshold = compute.repeat_at()
    return [{"id": r["event_id"], "grid": r.get("grid"), "at": as_utc(r["reported_at"]), "place": r["address"],
             "category": r["category"], "count": 1}
            for r in sorted(in_period, key=lambda r: (normalise_address(r["address"]), r["reported_at"]))
            if (place := normalise_address(r["address"])) and places[place] >= threshold]


def _repeat_share(b: Basis) -> Reading:
    """Incidents at places reported again and again, of all the period's incidents (a quiet grid is not judged)."""
    incidents = b.figures["incidents"]["count"]
    return _rate(float(b.figures["repeat"]["incidents"]), incidents)


def _alerts_due(b: Basis) -> list[dict[str, Any]]:
    within = verify_within_s()
    found = []
    for r in b.rows.alerts:
        received = as_utc(r["ingested_at"])
        if received >= b.asof or received + timedelta(seconds=within) > b.now:
            continue
        seconds = r.get("seconds_to_verify")
        found.append({"id": r["event_id"], "grid": r.get("grid"), "from": received,
                      "due": received + timedelta(seconds=within), "seconds": seconds,
                      "met": seconds is not None and seconds <= within})
    return found


def _task_arrivals(b: Basis) -> list[dict[str, Any]]:
    return _steps(b.rows.tasks, "task_id", "created_at", "on_scene_at", "on_scene_due", b)


def _task_results(b: Basis) -> list[dict[str, Any]]:
    return _steps(b.rows.tasks, "task_id", "created_at", "reported_at", "result_due", b)


def _task_breaches(b: Basis) -> list[dict[str, Any]]:
    return [{"id": r["task_id"], "grid": r.get("grid"), "from": as_utc(r["created_at"]), "count": n,
             "worker": r.get("worker")}
            for r in b.rows.tasks if (n := tasks.missed_steps(r, b.period.start, b.asof))]


def _grid_entries(b: Basis) -> list[dict[str, Any]]:
    return _entries(b, only="grid")


def _entries(b: Basis, only: str | None = None) -> list[dict[str, Any]]:
    found = []
    for r in b.rows.kept:
        source = timeliness.source_of(r)
        if source not in timeliness.LAG_BUDGET_S or (only is not None and source != only):
            continue
        lag = timeliness.lag_s(r)
        happened = r.get("reported_at") if r.get("reported_at") is not None else r.get("observed_at")
        found.append({"id": r["event_id"], "grid": r.get("grid"), "source": source,
                      "from": _at({"t": happened}, "t"), "at": as_utc(r["ingested_at"]), "seconds": round(lag, 1),
                      "met": lag <= timeliness.LAG_BUDGET_S[source]})
    return found


def days_so_far(b: Basis) -> int:
    """The period's calendar days up to now, a day begun counting whole (the morning's records are not
    extrapolated to a whole day)."""
    return max(1, math.ceil((b.asof - b.period.start) / DAY))


def _records_per_day(b: Basis) -> Reading:
    collected = len(b.collected)
    if not b.workers:
        return Reading(None)
    whole = days_so_far(b) * b.workers
    return Reading(collected / whole, collected, whole)


def _mediated(b: Basis) -> list[dict[str, Any]]:
    return [{"id": r["case_id"], "grid": r.get("grid"), "from": _at(r, "opened_at"), "at": _at(r, "closed_at"),
             "outcome": r["outcome"], "met": r["outcome"] == Outcome.SUCCESS}
            for r in b.rows.mediation
            if (closed := _at(r, "closed_at")) is not None and b.period.start <= closed < b.asof
            and r["outcome"] in MEDIATED]


def _visits(b: Basis) -> list[dict[str, Any]]:
    found = []
    for r in b.rows.visits:
        visited = _at(r, "visited_at")
        visited = visited if visited is not None and visited <= b.asof else None
        found.append({"id": r.get("visit_id", ""), "grid": r.get("grid"), "due": as_utc(r["due_at"]), "at": visited,
                      "result": r["result"] if visited else None, "reopened": r["result"] in REOPENS,
                      "met": visited is not None and visited <= as_utc(r["due_at"])})
    return found


def _satisfaction_records(b: Basis) -> list[dict[str, Any]]:
    return [v | {"met": v["result"] == VisitResult.SATISFIED} for v in _visits(b)
            if v["at"] is not None and v["result"] != VisitResult.UNREACHABLE]


def _incidents(b: Basis) -> list[dict[str, Any]]:
    found = []
    for r in b.rows.incidents:
        if not b.period.start <= as_utc(r["reported_at"]) < b.period.end:
            continue
        missing = [name for name in compute.COMPLETE_RECORD_FIELDS if not str(r.get(name) or "").strip()]
        if r.get("source") in compute.CALLER_REQUIRED_SOURCES and not r.get("caller"):
            missing.append("caller")
        found.append({"id": r["event_id"], "grid": r.get("grid"), "at": as_utc(r["reported_at"]),
                      "source": r.get("source"), "missing": ", ".join(missing), "met": not missing})
    return sorted(found, key=lambda r: (r["met"], r["at"]))


def _tracked(b: Basis) -> dict[str, Presence]:
    """The officers whose terminal sent a position in the period's working time. One that sent none has no
    track to judge (no terminal issued, or switched off for the whole period): not scored, and listed as such."""
    return {person_id: p for person_id, p in sorted(b.presence.items()) if p.fixes}


def _presence_records(b: Basis) -> list[dict[str, Any]]:
    return [{"id": person_id, "working_h": round(p.working_s / 3600, 2), "inside_h": round(p.inside_s / 3600, 2),
             "unknown_h": round(p.unknown_s / 3600, 2), "fixes": p.fixes,
             "share": p.inside_s / p.working_s if p.working_s and p.fixes else None}
            for person_id, p in sorted(b.presence.items())]


def _presence(b: Basis) -> Reading:
    """Hours in the community of the working hours (the share is of the seconds, not of the rounded hours)."""
    tracked = _tracked(b).values()
    inside, working = sum(p.inside_s for p in tracked), sum(p.working_s for p in tracked)
    return Reading(inside / working if working else None, round(inside / 3600, 2), round(working / 3600, 2))


def _figure(*path: str) -> Callable[[Basis], float | None]:
    def read(b: Basis) -> float | None:
        value: Any = b.figures
        for key in path:
            value = value.get(key) if isinstance(value, dict) else None
        return float(value) if isinstance(value, int | float) else None
    return read


def _breaches(figure: Callable[[Basis], float | None], rows: Callable[[Basis], list[dict[str, Any]]],
              dues: tuple[str, ...]) -> Callable[[Basis], Reading]:
    """Deadlines missed, out of the deadlines that fell in the period; with none, nothing could be missed and the
    leaf is not scored (no tasks is not a clean record)."""
    def read(b: Basis) -> Reading:
        deadlines = sum(1 for r in rows(b) for due in dues
                        if (at := _at(r, due)) is not None and b.period.start <= at < b.asof)
        missed = figure(b)
        return Reading(missed if deadlines else None, missed, deadlines)
    return read


def _from_figure(value: Callable[[Basis], float | None],
                 records: Callable[[Basis], list[dict[str, Any]]]) -> Callable[[Basis], Reading]:
    """The value as the chiefs' figures give it; the counts from the records behind it."""
    def read(b: Basis) -> Reading:
        counted = _met_rate(records(b))
        return Reading(value(b), counted.numerator, counted.denominator)
    return read


def _lead_on_time(b: Basis) -> Reading:
    leads = _high_leads(b)
    return _rate(sum(1 for r in leads if r["on_time"]), len(leads))


MEASURES: dict[str, Measure] = {
    "arrival_on_time": Measure(Unit.RATE, _from_figure(_figure("arrival", "on_time"), _arrivals), _arrivals),
    "result_on_time": Measure(Unit.RATE, _from_figure(_figure("result", "on_time"), _results), _results),
    "instruction_breaches": Measure(Unit.COUNT, _breaches(_figure("instructions", "breaches"),
                                                          lambda b: b.rows.instructions, ("arrival_due", "result_due")),
                                    _breached_instructions),
    "lead_disposal": Measure(Unit.RATE, _from_figure(_figure("leads", "disposal_rate"), _high_leads), _high_leads),
    "lead_on_time": Measure(Unit.RATE, _lead_on_time, _high_leads),
    "repeat_incidents": Measure(Unit.RATE, _repeat_share, _repeated),
    "alert_verification": Measure(Unit.RATE, _from_figure(_figure("verification", "rate"), _alerts_due),
                                  _alerts_due),
    "grid_task_on_scene": Measure(Unit.RATE, _from_figure(_figure("grid_tasks", "on_scene_on_time"),
                                                          _task_arrivals), _task_arrivals),
    "grid_task_result": Measure(Unit.RATE, _from_figure(_figure("grid_tasks", "result_on_time"), _task_results),
                                _task_results),
    "grid_task_breaches": Measure(Unit.COUNT, _breaches(_figure("grid_tasks", "breaches"), lambda b: b.rows.tasks,
                                                        ("on_scene_due", "result_due")), _task_breaches),
    "grid_records_per_day": Measure(Unit.PER_DAY, _records_per_day, lambda b: b.collected),
    "mediation_success": Measure(Unit.RATE, _from_figure(_figure("mediation", "success_rate"), _mediated),
                                 _mediated),
    "revisit_satisfaction": Measure(Unit.RATE, _from_figure(_figure("revisits", "satisfaction"),
                                                            _satisfaction_records), _satisfaction_records),
    "revisit_coverage": Measure(Unit.RATE, _from_figure(_figure("revisits", "coverage"), _visits), _visits),
    "completeness": Measure(Unit.RATE, _from_figure(_figure("completeness", "rate"), _incidents), _incidents),
    "grid_data_timeliness": Measure(Unit.RATE, _from_figure(_figure("timeliness", "sources", "grid", "rate"),
                                                            _grid_entries), _grid_entries),
    "data_timeliness": Measure(Unit.RATE, _from_figure(_figure("timeliness", "rate"), _entries), _entries),
    "time_in_community": Measure(Unit.RATE, _presence, _presence_records),
}
