"""The centre's three reports, built from the system of record for any past period.

- **daily** task report at 17:00: the 24 hours to 17:00 Beijing time on its date;
  what was dispatched, what is still open or overdue, leads and alerts not dealt with,
  the grid workers' results with their photos, the alerts verified with their
  verdicts and the cameras' snapshots, and each centre's task completion as of 17:00
  (the core task list, :mod:`duties.service`).
- **weekly** risk report on Fridays: the seven days before its date; grids by grade
  and the grades that changed, top repeat locations, leads and their disposal, the grid
  workers' results with their photos.
- **monthly** effectiveness report by the 5th: the calendar month before; every
  indicator by station, with the month before for comparison, and the highlights and
  shortfalls those figures show against their targets and the month before
  (:mod:`reports.findings`).

Every figure comes from :func:`indicators.compute.compute` for the report's period,
so a report and the indicators panel agree by construction (a test checks the PDF).
A report is data (:class:`Report`); ``reports.render`` turns it into a page, a PDF
and CSV files.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from enum import StrEnum
from typing import Any

from sqlalchemy import Engine, and_, select

import clock
from clock import Period
from duties.config import DUTIES_FILE
from duties.config import load as load_duties
from duties.service import MISSED_NAMES, DutyService
from evaluation.index import SubjectKind
from evaluation.service import EvaluationService, Scope, open_evaluation
from geo.index import GridIndex
from geo.roster import Roster
from gridwork.tasks import photos_of
from i18n import DEFAULT_LANGUAGE, text
from indicators import timeliness
from indicators.compute import DISTRICT, compute, is_overdue, load
from media.store import MediaStore
from mediation.figures import period_figures
from reports.findings import findings
from risk.leads import lead_texts
from risk.model import grid_scores, load_config, load_history, since_for
from risk.review import weekly_review
from store.db import alert_verifications, as_utc, grid_tasks, incidents, instructions, leads, sensor_events
from supervision.weekly import reason_text, summarize

GRADE_WINDOW_DAYS = 7  # the weekly report grades grids over the week, like the map's 7d window
GRADES = ("high", "medium", "low")


class Kind(StrEnum):
    DAILY = "daily"
    WEEKLY = "weekly"
    MONTHLY = "monthly"
    SUMMARY = "summary"  # the Monday supervision summary (supervision/weekly.py)


# The weekday each weekly kind is filed on (Monday is 0).
FILED_ON = {Kind.WEEKLY: clock.REPORT_WEEKDAY, Kind.SUMMARY: clock.SUMMARY_WEEKDAY}


@dataclass
class Table:
    """One table of a report: its CSV and the same rows on the page and in the PDF.

    ``columns`` pairs a catalogue key with how values are shown: ``text``, ``int``,
    ``pct`` (a fraction), ``min`` (minutes), ``time`` (an aware datetime), ``photos``
    (content hashes: pictures on the page and in the PDF, hashes in the CSV), ...
    """

    columns: list[tuple[str, str]]
    rows: list[list[Any]]


@dataclass
class Report:
    kind: Kind
    key: str  # the date (daily, weekly) or the month (monthly) it is filed under
    period: Period
    language: str
    names: dict[str, str]  # station and grid codes (and the district) -> names in the report's language
    generated_at: datetime
    indicators: dict[str, Any]  # compute() for the period: the same figures as the panel
    tables: dict[str, Table] = field(default_factory=dict)
    charts: dict[str, dict[str, Any]] = field(default_factory=dict)  # name -> {bars, compare, labels, targets}
    media: MediaStore | None = None  # where the PDF finds the photos it prints

    @property
    def district(self) -> dict[str, Any]:
        return dict(self.indicators["scopes"][DISTRICT])


def period_for(kind: Kind, key: str) -> Period:
    """The period a report filed under ``key`` covers (``YYYY-MM-DD``; ``YYYY-MM`` for monthly).

    Raises
    ------
    ValueError
        If ``key`` is not a date (or a month) in that form.
    """
    if kind is Kind.MONTHLY:
        year, month = (int(part) for part in key.split("-"))
        if not 1 <= month <= 12 or len(key) != 7:
            raise ValueError(f"not a month: {key!r}")
        return Period.month(year, month)
    day = date.fromisoformat(key)
    if kind is Kind.SUMMARY:
        if day.weekday() != clock.SUMMARY_WEEKDAY:
            raise ValueError(f"a summary is filed on a Monday: {key!r}")
        return Period.week_before_summary(day)
    return Period.week_before_report(day) if kind is Kind.WEEKLY else Period.to_daily_cut(day)


def latest_key(kind: Kind, now: datetime) -> str:
    """The most recent report of ``kind`` that is complete at ``now``."""
    if kind is Kind.MONTHLY:
        year, month = clock.previous_month(now)
        return f"{year:04d}-{month:02d}"
    if kind is Kind.WEEKLY:
        return clock.last_report_friday(now).isoformat()
    if kind is Kind.SUMMARY:
        return clock.last_summary_monday(now).isoformat()
    return clock.last_daily_cut(now).isoformat()


def keys_between(kind: Kind, first: date, last: date) -> list[str]:
    """Every report of ``kind`` filed from ``first`` to ``last`` (for back-filling from the command line)."""
    out: list[str] = []
    if kind is Kind.MONTHLY:
        year, month = first.year, first.month
        while (year, month) <= (last.year, last.month):
            out.append(f"{year:04d}-{month:02d}")
            year, month = year + month // 12, month % 12 + 1
        return out
    day = first
    if kind in FILED_ON:
        day += timedelta(days=(FILED_ON[kind] - day.weekday()) % 7)  # Fridays, Mondays
    step = timedelta(days=7 if kind in FILED_ON else 1)
    while day <= last:
        out.append(day.isoformat())
        day += step
    return out


def recent_keys(kind: Kind, now: datetime, count: int) -> list[str]:
    """The ``count`` latest complete reports of ``kind`` at ``now``, newest first."""
    last = latest_key(kind, now)
    if kind is Kind.MONTHLY:
        year, month = (int(part) for part in last.split("-"))
        months = keys_between(kind, date(year - count // 12 - 1, month, 1), date(year, month, 1))
        return months[::-1][:count]
    last_day = date.fromisoformat(last)
    step = 7 if kind in FILED_ON else 1
    return keys_between(kind, last_day - timedelta(days=step * (count - 1)), last_day)[::-1]


@dataclass
class ReportBuilder:
    """Builds reports from the system of record."""

    engine: Engine
    grids: GridIndex
    clock: Callable[[], datetime] = clock.now
    media: MediaStore | None = None
    # The running services share theirs (services.build); a builder made alone (the CLI, tests) makes its own.
    roster: Roster | None = None
    duties: DutyService | None = None  # the daily report's task-completion table
    evaluation: EvaluationService | None = None  # the monthly report's league of stations (it keeps the month)

    def __post_init__(self) -> None:
        self.roster = self.roster or Roster(self.grids)
        self.duties = self.duties or DutyService(self.engine, self.roster,
                                                 load_duties(self.grids.data_dir / DUTIES_FILE), clock=self.clock)
        self.evaluation = self.evaluation or open_evaluation(self.engine, self.grids, self.roster)

    def station_of(self, grid: str | None) -> str | None:
        found = self.grids.get(grid) if grid else None
        return found.station if found else None

    def build(self, kind: Kind, key: str, language: str = DEFAULT_LANGUAGE) -> Report:
        """The report of ``kind`` filed under ``key`` (see :func:`period_for`), in ``language``."""
        period = period_for(kind, key)
        now = self.clock()
        rows = load(self.engine, period, now)  # no device health: a report's period has no such history
        stations = self.grids.stations(language)
        figures = compute(rows, period, now, self.station_of, [code for code, _ in stations])
        names = {DISTRICT: text("ind.scope.district", language), **dict(stations)}
        names.update({code: grid.localized("name", language) for code in map(str, self.grids.codes)
                      if (grid := self.grids.get(code))})
        report = Report(kind, key, period, language, names, now, figures, media=self.media)
        report.tables["stations"] = _stations_table(figures)
        district = report.district
        report.charts["trend"] = {"bars": district["incidents"]["trend"],
                                  "compare": district["incidents"]["trend_comparison"],
                                  "labels": _trend_labels(period)}
        report.charts["arrival"] = {"bars": district["arrival"]["histogram"], "targets": [5, 15]}
        getattr(self, f"_{kind.value}")(report)
        report.tables["timeliness"] = _timeliness_table(figures)
        report.tables["revisits"] = _revisits_table(figures)
        report.tables["supervision"] = _supervision_table(figures)
        return report

    # -- the parts only one report has ---------------------------------------------------------

    def _daily(self, report: Report) -> None:
        asof = min(report.generated_at, report.period.end)
        with self.engine.connect() as conn:
            found = conn.execute(
                select(instructions.c.instruction_id, instructions.c.unit_id, instructions.c.state,
                       instructions.c.issued_at, instructions.c.arrival_due, instructions.c.on_scene_at,
                       instructions.c.result_at, instructions.c.result_due, instructions.c.finished_at,
                       incidents.c.grid, incidents.c.category)
                .join(incidents, incidents.c.event_id == instructions.c.incident_id)
                .where(and_(instructions.c.issued_at < asof,
                            (instructions.c.finished_at.is_(None)) | (instructions.c.finished_at > asof)))
                .order_by(instructions.c.issued_at)).mappings().all()
        report.tables["open_instructions"] = Table(
            [("report.col.instruction", "text"), ("report.col.unit", "text"), ("report.col.grid", "grid"),
             ("report.col.category", "category"), ("report.col.issued", "time"), ("report.col.state", "state"),
             ("report.col.overdue", "bool")],
            [[r["instruction_id"], r["unit_id"], r["grid"], r["category"], as_utc(r["issued_at"]), r["state"],
              is_overdue(dict(r), asof)] for r in found])
        report.tables["leads"] = _leads_table(self.engine, report.period, asof, report.language)
        report.tables["grid_results"] = _grid_results_table(self.engine, report.period, asof)
        report.tables["alert_verdicts"] = _alert_verdicts_table(self.engine, report.period, asof)
        report.tables["late_entries"] = _late_entries_table(self.engine, report.period, asof)
        report.tables["duties"] = self._duties_table(date.fromisoformat(report.key), asof, report.language)

    def _duties_table(self, day: date, asof: datetime, language: str) -> Table:
        """The core task list's completion as of the report's 17:00: one row per centre and post (its people, the
        rounds met, missed and still open, and who missed), as each centre reports it to the inspectors."""
        service = self.duties
        assert service is not None  # made in __post_init__
        centres = {c.centre_id: c.title[language] for c in service.config.centres}
        lines = service.summary(service.table(day, asof, language=language))
        more = [len(line["missed_by"]) - MISSED_NAMES for line in lines]
        return Table([("duties.centre", "text"), ("duties.post", "text"), ("duties.col.persons", "int"),
                      ("duties.col.met", "int"), ("duties.col.missed", "int"), ("duties.col.open", "int"),
                      ("duties.col.missed_by", "text")],
                     [[centres[line["post"].centre_id], line["post"].title[language], line["persons"], line["met"],
                       line["missed"], line["open"], "、".join(line["missed_by"][:MISSED_NAMES])
                       + (" " + text("duties.more", language, count=extra) if extra > 0 else "")]
                      for line, extra in zip(lines, more, strict=True)])

    def _weekly(self, report: Report) -> None:
        period = report.period
        config = load_config()
        history = load_history(self.engine, since_for(period.start, config))
        now_grades = _grades(grid_scores(history, period.end, GRADE_WINDOW_DAYS, config))
        before = _grades(grid_scores(history, period.start, GRADE_WINDOW_DAYS, config))
        counts_now = {g: sum(1 for v in now_grades.values() if v == g) for g in GRADES[:2]}
        counts_before = {g: sum(1 for v in before.values() if v == g) for g in GRADES[:2]}
        total = len(self.grids)
        counts_now["low"], counts_before["low"] = total - sum(counts_now.values()), total - sum(counts_before.values())
        report.tables["grades"] = Table(
            [("report.col.grade", "grade"), ("report.col.this_period", "int"), ("report.col.last_period", "int")],
            [[g, counts_now[g], counts_before[g]] for g in GRADES])
        rank = {"high": 2, "medium": 1, "low": 0}
        changes = sorted(
            ((grid, before.get(grid, "low"), now_grades.get(grid, "low"))
             for grid in set(now_grades) | set(before) if before.get(grid, "low") != now_grades.get(grid, "low")),
            key=lambda c: (-rank[c[2]], rank[c[1]], c[0]))
        report.tables["grade_changes"] = Table(
            [("report.col.grid", "grid"), ("report.col.station", "station"),
             ("report.col.before", "grade"), ("report.col.after", "grade")],
            [[grid, self.station_of(grid), old, new] for grid, old, new in changes])
        report.tables["repeat_places"] = Table(
            [("report.col.place", "text"), ("report.col.count", "int")],
            [[p["place"], p["count"]] for p in report.district["repeat"]["top"]])
        review = weekly_review(self.engine, period.start, period.end)
        report.tables["disposal"] = Table(
            [("report.col.level", "level"), ("report.col.created", "int"), ("report.col.handled", "int"),
             ("report.col.on_time", "int"), ("report.col.rate", "pct")],
            [[d["level"], d["created"], d["handled"], d["on_time"], d["rate"]] for d in review["disposal"]])
        asof = min(report.generated_at, period.end)
        report.tables["leads"] = _leads_table(self.engine, period, asof, report.language)
        report.tables["grid_results"] = _grid_results_table(self.engine, period, asof)

    def _summary(self, report: Report) -> None:
        """Last week's lead disposal and calls per station, and who is below target (supervision/weekly.py)."""
        with self.engine.connect() as conn:
            made = summarize(conn, report.period, report.generated_at, self.station_of,
                             [code for code, _ in self.grids.stations(report.language)])
        report.tables["below_target"] = Table(
            [("report.col.station", "station"), ("summary.col.shortfall", "text")],
            [[below["station"], "；".join(reason_text(reason, report.language) for reason in below["reasons"])]
             for below in made["below"]])
        report.tables["lead_disposal"] = Table(
            [("report.col.station", "station"), ("summary.col.high_created", "int"),
             ("summary.col.high_handled", "int"), ("summary.col.high_rate", "pct"), ("summary.col.high_on_time", "int"),
             ("summary.col.medium_created", "int"), ("summary.col.medium_handled", "int"),
             ("summary.col.medium_rate", "pct")],
            [[scope, d["high"]["created"], d["high"]["handled"], d["high"]["rate"], d["high"]["on_time"],
              d["medium"]["created"], d["medium"]["handled"], d["medium"]["rate"]]
             for scope, d in made["disposal"].items()])
        report.tables["calls"] = Table(
            [("report.col.station", "station"), ("summary.col.this_week", "int"), ("summary.col.last_week", "int"),
             ("summary.col.change", "pct")],
            [[scope, c["this"], c["last"], c["change"]] for scope, c in made["calls"].items()])
        report.tables["calls_grids"] = Table(
            [("report.col.grid", "grid"), ("report.col.station", "station"), ("summary.col.this_week", "int"),
             ("summary.col.last_week", "int"), ("summary.col.delta", "int")],
            [[g["grid"], g["station"], g["this"], g["last"], g["delta"]] for g in made["grids"]])

    def _monthly(self, report: Report) -> None:
        # Highlights and shortfalls: the month's figures against their targets and the month before.
        before_period = report.period.comparison()
        before = compute(load(self.engine, before_period, self.clock()), before_period, self.clock(),
                         self.station_of, [])["scopes"][DISTRICT]
        good, bad = findings(report.district, before, report.language)
        for name, found in (("highlights", good), ("shortfalls", bad)):
            report.tables[name] = Table(
                [("report.col.finding", "text"), ("report.col.indicator", "text"), ("report.col.this_month", "text"),
                 ("report.col.target", "text"), ("report.col.last_month", "text")],
                [[f.why, f.what, f.value, f.target, f.last_month] for f in found])
        report.tables["categories"] = Table(
            [("report.col.category", "category"), ("report.col.count", "int")],
            [[category, n] for category, n in report.district["incidents"]["by_category"].items()])
        report.tables["mediation"] = _mediation_table(report.indicators)
        asof = min(report.generated_at, report.period.end)
        with self.engine.connect() as conn:
            centre = period_figures(conn, report.period.start, asof)
        # Each mediator against the seeds' targets: 20 cases a month, at least 90% settled.
        report.tables["mediators"] = Table(
            [("mediation.person", "text"), ("mediation.kind", "mediation_kind"), ("report.col.mediation_cases", "int"),
             ("report.col.mediation_target", "int"), ("report.col.mediated", "int"),
             ("report.col.success_rate", "pct"), ("report.col.meets_target", "bool")],
            [[m["name"], m["kind"], m["cases"], m["cases_target"], m["mediated"], m["success_rate"], m["meets"]]
             for m in centre["mediators"]])
        assert self.evaluation is not None  # made in __post_init__
        report.tables["evaluation"] = _evaluation_table(self.evaluation, report.period)


def _evaluation_table(service: EvaluationService, period: Period) -> Table:
    """The stations' community-policing index for the month, best first, with their core indicators; asking for
    it keeps the month's scores (evaluation/service.py), so /evaluation shows what the report gave."""
    evaluation = service.evaluate(period)
    cores = service.index.tree
    return Table([("report.col.rank", "int"), ("report.col.station", "station"), ("evaluation.score", "score"),
                  *((f"evaluation.core.{core.node_id}", "score") for core in cores)],
                 [[rank, result.subject.subject_id, result.score,
                   *((found.score if (found := result.scored.find(core.node_id)) else None) for core in cores)]
                  for rank, result in evaluation.league(SubjectKind.STATION, Scope(stations=True))])


def _grades(frame: Any) -> dict[str, str]:
    return {str(grid): str(grade) for grid, grade in frame["grade"].items() if grade != "low"}


def _trend_labels(period: Period) -> list[str]:
    local = clock.local(period.start)
    if period.days <= 1:
        return [f"{(local + timedelta(hours=h)).hour:02d}" for h in range(round(period.days * 24))]
    return [(local + timedelta(days=d)).strftime("%m-%d") for d in range(round(period.days))]


def _stations_table(figures: dict[str, Any]) -> Table:
    columns = [("report.col.station", "station"), ("ind.col.incidents", "int"), ("report.col.comparison", "int"),
               ("ind.col.repeat", "int"), ("report.col.issued", "int"), ("ind.col.open", "int"),
               ("ind.col.overdue", "int"), ("ind.col.arrival", "min"), ("report.col.arrival_p90", "min"),
               ("ind.col.on_time", "pct"), ("report.col.result", "min"), ("report.col.result_on_time", "pct"),
               ("report.col.high_leads", "int"), ("ind.col.leads", "pct"), ("ind.col.verification", "pct"),
               ("ind.col.completeness", "pct"), ("report.col.task_breaches", "int"),
               ("report.col.task_on_scene", "pct"), ("report.col.task_result", "pct")]
    rows = []
    for scope, f in figures["scopes"].items():
        rows.append([scope, f["incidents"]["count"], f["incidents"]["comparison"], f["repeat"]["incidents"],
                     f["instructions"]["issued"], f["instructions"]["open"], f["instructions"]["overdue"],
                     f["arrival"]["median_min"], f["arrival"]["p90_min"], f["arrival"]["on_time"],
                     f["result"]["median_min"], f["result"]["on_time"], f["leads"]["high"],
                     f["leads"]["disposal_rate"], f["verification"]["rate"], f["completeness"]["rate"],
                     f["grid_tasks"]["breaches"], f["grid_tasks"]["on_scene_on_time"],
                     f["grid_tasks"]["result_on_time"]])
    return Table(columns, rows)


def _leads_table(engine: Engine, period: Period, asof: datetime, language: str) -> Table:
    """Leads created in the period, and older ones still not handled (summaries in the report's language)."""
    with engine.connect() as conn:
        found = conn.execute(
            select(leads.c.lead_id, leads.c.rule, leads.c.grid, leads.c.level, leads.c.created_at, leads.c.deadline,
                   leads.c.handled_at, leads.c.summary, leads.c.suggestion, leads.c.facts)
            .where(and_(leads.c.created_at < period.end,
                        (leads.c.created_at >= period.start) | (leads.c.handled_at.is_(None))))
            .order_by(leads.c.created_at)).mappings().all()
    rows = []
    for r in found:
        handled = as_utc(r["handled_at"]) if r["handled_at"] is not None else None
        done = handled is not None and handled <= asof
        rows.append([r["lead_id"], r["rule"], r["grid"], r["level"], as_utc(r["created_at"]),
                     as_utc(r["deadline"]), handled if done else None,
                     done and handled is not None and handled <= as_utc(r["deadline"]),
                     lead_texts(dict(r), language)[0]])
    return Table([("report.col.lead", "text"), ("report.col.rule", "rule"), ("report.col.grid", "grid"),
                  ("report.col.level", "level"), ("report.col.created", "time"), ("report.col.deadline", "time"),
                  ("report.col.handled", "time"), ("report.col.on_time", "bool"), ("report.col.summary", "text")],
                 rows)


def _grid_results_table(engine: Engine, period: Period, asof: datetime) -> Table:
    """The grid workers' results sent in the period: what was done, whether in time, and the photos."""
    with engine.connect() as conn:
        found = conn.execute(select(grid_tasks).where(and_(
            grid_tasks.c.reported_at >= period.start, grid_tasks.c.reported_at < min(period.end, asof)))
            .order_by(grid_tasks.c.reported_at)).mappings().all()
    return Table([("report.col.task", "text"), ("report.col.task_kind", "task_kind"), ("report.col.grid", "grid"),
                  ("report.col.worker", "text"), ("report.col.reported", "time"), ("report.col.outcome", "outcome"),
                  ("report.col.on_time", "bool"), ("report.col.note", "text"), ("report.col.photos", "photos")],
                 [[r["task_id"], r["kind"], r["grid"], r["worker"], as_utc(r["reported_at"]), r["outcome"],
                   r["result_due"] is None or as_utc(r["reported_at"]) <= as_utc(r["result_due"]), r["note"],
                   photos_of(dict(r))] for r in found])


def _alert_verdicts_table(engine: Engine, period: Period, asof: datetime) -> Table:
    """The alerts verified in the period, each with its verdict and, for a camera's, its snapshot as evidence."""
    with engine.connect() as conn:
        found = conn.execute(
            select(alert_verifications, sensor_events.c.device_id, sensor_events.c.scenario, sensor_events.c.grid,
                   sensor_events.c.snapshot)
            .join(sensor_events, sensor_events.c.event_id == alert_verifications.c.event_id)
            .where(and_(alert_verifications.c.verified_at >= period.start,
                        alert_verifications.c.verified_at < min(period.end, asof)))
            .order_by(alert_verifications.c.verified_at)).mappings().all()
    return Table([("report.col.alert", "text"), ("report.col.device", "text"), ("report.col.scenario", "scenario"),
                  ("report.col.grid", "grid"), ("report.col.verified", "time"), ("report.col.verdict", "verdict"),
                  ("report.col.verified_by", "text"), ("report.col.seconds", "int"),
                  ("report.col.evidence", "photos")],
                 [[r["event_id"], r["device_id"], r["scenario"], r["grid"], as_utc(r["verified_at"]), r["verdict"],
                   r["verified_by"], round(r["seconds_to_verify"]), [r["snapshot"]] if r["snapshot"] else []]
                  for r in found])


def _timeliness_table(figures: dict[str, Any]) -> Table:
    """Each source's lag, reported to kept, against its budget (indicators/timeliness.py)."""
    sources = figures["scopes"][DISTRICT]["timeliness"]["sources"]

    def minutes(seconds: float | None) -> float | None:
        return None if seconds is None else round(seconds / 60, 1)

    return Table([("report.col.source", "source"), ("report.col.entries", "int"), ("report.col.p50_min", "min"),
                  ("report.col.p95_min", "min"), ("report.col.budget_min", "min"), ("report.col.over", "int"),
                  ("report.col.within", "pct")],
                 [[source, f["entries"], minutes(f["p50_s"]), minutes(f["p95_s"]), minutes(f["budget_s"]), f["over"],
                   f["rate"]] for source, f in sources.items()])


def _late_entries_table(engine: Engine, period: Period, asof: datetime) -> Table:
    """The entries kept over their source's budget in the period, the latest first."""
    with engine.connect() as conn:
        late = timeliness.over_budget(timeliness.kept_between(conn, period.start, min(period.end, asof)))
    return Table([("report.col.entry", "text"), ("report.col.source", "source"), ("report.col.grid", "grid"),
                  ("report.col.happened", "time"), ("report.col.kept", "time"), ("report.col.lag_min", "min")],
                 [[r["event_id"], r["source"], r["grid"], as_utc(r.get("reported_at") or r["observed_at"]),
                   as_utc(r["ingested_at"]), r["lag_s"] / 60] for r in late])


def _revisits_table(figures: dict[str, Any]) -> Table:
    """The return visits due in the period, for the district and each station: made on time (target 100%),
    satisfied, reopened (the indicators' own figures: the panel's and the desk's)."""
    return Table([("report.col.station", "station"), ("report.col.revisits_due", "int"),
                  ("report.col.revisits_made", "int"), ("revisits.coverage", "pct"), ("revisits.overdue", "int"),
                  ("revisits.satisfaction", "pct"), ("revisits.reopen_rate", "pct")],
                 [[scope, f["due"], f["made"], f["coverage"], f["overdue"], f["satisfaction"], f["reopen_rate"]]
                  for scope, f in ((scope, of_scope["revisits"]) for scope, of_scope in figures["scopes"].items())])


def _supervision_table(figures: dict[str, Any]) -> Table:
    """Escalations of late items in the period, for the district and each station: raised (to the district),
    open at the period's end, answered; and the rectification notices issued, open, overdue and closed (the
    indicators' own figures: the panel's and the lists')."""
    return Table([("report.col.station", "station"), ("supervision.raised", "int"),
                  ("supervision.raised_district", "int"), ("supervision.open", "int"),
                  ("supervision.open_district", "int"), ("supervision.answered", "int"), ("notices.col.issued", "int"),
                  ("notices.col.open", "int"), ("notices.col.overdue", "int"), ("notices.col.closed", "int"),
                  ("notices.col.closed_late", "int")],
                 [[scope, f["supervision"]["raised"], f["supervision"]["raised_district"], f["supervision"]["open"],
                   f["supervision"]["open_district"], f["supervision"]["responded"], f["notices"]["issued"],
                   f["notices"]["open"], f["notices"]["overdue"], f["notices"]["closed"], f["notices"]["closed_late"]]
                  for scope, f in figures["scopes"].items()])


def _mediation_table(figures: dict[str, Any]) -> Table:
    """The mediation centre's cases in the period, for the district and each station: opened, open at its end,
    closed, the success rate (target 90%), the clocks met and missed, triage accuracy, second mediations (the
    indicators' own figures: the panel's)."""
    return Table([("report.col.station", "station"), ("mediation.figures.opened", "int"),
                  ("mediation.figures.open", "int"), ("report.col.closed", "int"),
                  ("report.col.success_rate", "pct"), ("mediation.figures.clocks", "pct"),
                  ("report.col.clocks_missed", "int"), ("mediation.figures.triage", "pct"),
                  ("mediation.figures.second", "pct")],
                 [[scope, m["opened"], m["open"], m["closed"], m["success_rate"], m["clock_rate"], m["clocks_missed"],
                   m["triage_accuracy"], m["second_rate"]]
                  for scope, m in ((scope, of_scope["mediation"]) for scope, of_scope in figures["scopes"].items())])


def to_json(report: Report) -> str:
    """The report's figures as JSON (what the command line keeps beside the PDF)."""
    return json.dumps({"kind": report.kind.value, "key": report.key, "period": report.indicators["period"],
                       "generated_at": report.generated_at.isoformat(), "indicators": report.indicators},
                      ensure_ascii=False, indent=1)
