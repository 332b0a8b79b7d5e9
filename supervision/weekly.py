"""The Monday summary (督办周报): last week's lead disposal and calls, per station, and the units below target.

The seeds' rule: "every Monday, the lead disposal rate and the fall in calls; those who miss the target are
called in for a supervision talk". For the week before a Monday (Monday to Sunday, Beijing time):

- lead disposal by level and station: leads created in the week, handled (as known when the summary is
  made), handled within their deadline; high-risk leads have a 100% target (:data:`risk.review.TARGETS`);
- calls (incidents) per station and grid against the week before;
- the units below target: a station whose high-risk leads were not all handled, or whose calls rose by more
  than :data:`CALLS_RISE_AT` and by at least :data:`CALLS_RISE_MIN` (so a quiet station's 2 → 3 is no trend).

:class:`SummaryService` makes it on Mondays at :data:`clock.SUMMARY_AT` (one process at a time, once per week:
the ``summaries`` table's key), keeps who was below target, and pushes it to the chiefs' pages (``summary``); the
report of kind ``summary`` (``reports/``) is the same figures as a page, PDF and CSV.
"""

from __future__ import annotations

import json
import logging
import threading
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

import redis
from sqlalchemy import Connection, Engine, and_, func, insert, select

import clock
from bus import keys, lease
from bus.events import Live, iso
from bus.outbox import queue_event
from clock import Period
from i18n import rate_text, text
from risk.review import TARGETS
from store import audit
from store.db import as_utc, incidents, leads, summaries

log = logging.getLogger(__name__)

DISTRICT = "district"
LEVELS = ("high", "medium")
CALLS_RISE_AT = 0.10  # calls up by more than this share week on week ...
CALLS_RISE_MIN = 5  # ... and by at least this many: below target
TOP_GRIDS = 20  # the grids whose calls moved most, in the summary
LEASE_S = 600
SHOWN_FOR = timedelta(days=7)  # a page that connects during the week still gets the week's summary


def key_of(monday: date) -> str:
    return monday.isoformat()


def summarize(conn: Connection, period: Period, now: datetime, station_of: Callable[[str | None], str | None],
              stations: Iterable[str]) -> dict[str, Any]:
    """The summary of ``period`` (a week), as known at ``now``: ``disposal``, ``calls`` (per scope: the district
    and each station), ``grids`` (the largest moves) and ``below`` (stations below target, with why)."""
    stations = list(stations)
    scopes = [DISTRICT, *stations]
    lead_rows = [dict(r) for r in conn.execute(select(
        leads.c.station, leads.c.level, leads.c.deadline, leads.c.handled_at).where(
        and_(leads.c.created_at >= period.start, leads.c.created_at < period.end))).mappings()]
    disposal = {scope: {level: _disposal([r for r in lead_rows if r["level"] == level
                                          and scope in (DISTRICT, r["station"])], level, now) for level in LEVELS}
                for scope in scopes}
    before = period.comparison()
    per_grid: dict[str, Counter[str]] = {}
    for label, span in (("this", period), ("last", before)):
        per_grid[label] = Counter({str(grid): int(n) for grid, n in conn.execute(
            select(incidents.c.grid, func.count()).where(and_(
                incidents.c.reported_at >= span.start, incidents.c.reported_at < span.end))
            .group_by(incidents.c.grid))})
    calls: dict[str, dict[str, Any]] = {scope: {"this": 0, "last": 0} for scope in scopes}
    for label, counts in per_grid.items():
        for grid, n in counts.items():
            calls[DISTRICT][label] += n
            station = station_of(grid)
            if station in calls:
                calls[station][label] += n
    for figures in calls.values():
        figures["change"] = (figures["this"] - figures["last"]) / figures["last"] if figures["last"] else None
    deltas = {grid: per_grid["this"][grid] - per_grid["last"][grid]
              for grid in set(per_grid["this"]) | set(per_grid["last"])}
    grids = [{"grid": grid, "station": station_of(grid), "this": per_grid["this"][grid],
              "last": per_grid["last"][grid], "delta": delta}
             for grid, delta in sorted(deltas.items(), key=lambda item: (-item[1], item[0]))[:TOP_GRIDS]]
    below = [{"station": station, "reasons": reasons} for station in stations
             if (reasons := shortfalls(disposal[station], calls[station]))]
    return {"period": {"start": period.start.isoformat(), "end": period.end.isoformat(),
                       "label": period.local_label()},
            "disposal": disposal, "calls": calls, "grids": grids, "below": below}


def _disposal(rows: list[Mapping[str, Any]], level: str, now: datetime) -> dict[str, Any]:
    handled = [r for r in rows if r["handled_at"] is not None and as_utc(r["handled_at"]) <= now]
    on_time = [r for r in handled if as_utc(r["handled_at"]) <= as_utc(r["deadline"])]
    return {"created": len(rows), "handled": len(handled), "on_time": len(on_time),
            "rate": len(handled) / len(rows) if rows else None, "target": TARGETS.get(level)}


def shortfalls(disposal: Mapping[str, Mapping[str, Any]], calls: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Why a station is below target this week (empty: it is not): each as data, rendered per language."""
    reasons: list[dict[str, Any]] = []
    for level, figures in disposal.items():
        target, rate = figures["target"], figures["rate"]
        if target is not None and rate is not None and rate < target:
            reasons.append({"what": "disposal", "level": level, "rate": rate, "target": target,
                            "created": figures["created"], "handled": figures["handled"]})
    rise = calls["this"] - calls["last"]
    if rise >= CALLS_RISE_MIN and calls["change"] is not None and calls["change"] > CALLS_RISE_AT:
        reasons.append({"what": "calls", "this": calls["this"], "last": calls["last"], "change": calls["change"]})
    return reasons


def reason_text(reason: Mapping[str, Any], language: str) -> str:
    """Why a station is below target, in ``language`` (the page script renders the pushed summary the same way)."""
    if reason["what"] == "disposal":
        return text("summary.reason.disposal", language, level=text(f"lead.level.{reason['level']}", language),
                    rate=rate_text(reason["rate"]), target=rate_text(reason["target"]),
                    handled=reason["handled"], created=reason["created"])
    return text("summary.reason.calls", language, this=reason["this"], last=reason["last"],
                change=f"+{rate_text(reason['change'])}")


@dataclass
class SummaryService:
    """Make the Monday summary once a week, keep who was below target, push it to the chiefs."""

    engine: Engine
    station_of: Callable[[str | None], str | None]
    stations: list[str]
    relay: Callable[[], int] = lambda: 0
    clock: Callable[[], datetime] = field(default=clock.now)

    def summary(self, monday: date) -> dict[str, Any]:
        """The summary filed on ``monday`` (computed now; the report of kind ``summary`` shows it)."""
        with self.engine.connect() as conn:
            return summarize(conn, Period.week_before_summary(monday), self.clock(), self.station_of, self.stations)

    def announce(self, monday: date) -> dict[str, Any]:
        """Make the summary filed on ``monday`` and push it, once (a second call returns what was kept)."""
        key = key_of(monday)
        now = self.clock()
        with self.engine.begin() as conn:
            kept = conn.execute(select(summaries).where(summaries.c.key == key)).mappings().first()
            if kept is not None:
                return payload(dict(kept))
            period = Period.week_before_summary(monday)
            made = summarize(conn, period, now, self.station_of, self.stations)
            row = {"key": key, "period_start": period.start, "period_end": period.end, "made_at": now,
                   "below": json.dumps(made["below"], ensure_ascii=False),
                   "district": json.dumps({"disposal": made["disposal"][DISTRICT], "calls": made["calls"][DISTRICT]},
                                          ensure_ascii=False)}
            conn.execute(insert(summaries).values(**row))
            audit.append(conn, "system", "supervision.summary", target=key,
                         detail=f"below target: {','.join(b['station'] for b in made['below']) or 'none'}", at=now)
            queue_event(conn, Live.SUMMARY, payload(row))
        self.relay()
        return payload(row)

    def latest(self) -> dict[str, Any] | None:
        """The summary a page shows: the newest one made in the last week, if any."""
        with self.engine.connect() as conn:
            row = conn.execute(select(summaries).where(summaries.c.made_at >= self.clock() - SHOWN_FOR)
                               .order_by(summaries.c.key.desc()).limit(1)).mappings().first()
        return payload(dict(row)) if row else None

    def run(self, stop: threading.Event, r: redis.Redis, owner: str) -> None:
        """Make this week's summary at start if it is due and not made (a machine off on Monday morning), then
        every Monday at :data:`clock.SUMMARY_AT`; one process at a time (a lease)."""
        while True:
            monday = clock.last_summary_monday(self.clock())
            try:
                if self.clock() >= clock.at(monday, *clock.SUMMARY_AT) and \
                        lease.hold(r, keys.SUMMARY_LEASE, owner, LEASE_S):
                    self.announce(monday)
            except Exception:  # a failed week must not stop the next
                log.exception("the Monday summary failed")
            upcoming = clock.at(monday, *clock.SUMMARY_AT)
            if upcoming <= self.clock():
                upcoming = clock.at(monday + timedelta(days=7), *clock.SUMMARY_AT)
            if clock.wait(stop, (upcoming - self.clock()).total_seconds()):
                return


def payload(row: Mapping[str, Any]) -> dict[str, Any]:
    """A kept summary as pages receive it: its week, when it was made, the stations below target and why."""
    def loaded(value: Any) -> Any:
        return json.loads(value) if isinstance(value, str) else value

    return {"key": row["key"], "period_start": iso(row["period_start"]), "period_end": iso(row["period_end"]),
            "made_at": iso(row["made_at"]), "below": loaded(row["below"]), "district": loaded(row["district"])}
