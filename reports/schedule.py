"""Reports that arrive on time: made on schedule by one process, kept, announced, listed with their delivery time.

| report | made | due by | period |
|---|---|---|---|
| daily task report | 17:00 | 17:30 | the 24 hours to 17:00 |
| weekly risk report | Fridays 09:00 | Friday's end | the seven days before the Friday |
| monthly effectiveness report | the 1st, 09:00 | before the 5th | the month before |

A delivery (``report_deliveries``) keeps when it was due and when it was made, the key figures as they were then,
and the PDF (when Chromium is installed). It is announced in the same transaction: to the chiefs' pages (a live
``report`` event) and to other systems on ``{cc}:out:reports``. One process at a time makes them (a lease); a
delivery's key makes a second attempt a no-op. After downtime, what fell due while the machine was off is made on
start, oldest first, from the last delivery of each kind (at most :data:`CATCH_UP` back; a new installation starts
with the latest report due), and marked late when it missed its due time.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

import redis
from sqlalchemy import Engine, func, select
from sqlalchemy.dialects import postgresql, sqlite

import clock
from bus import keys, lease
from bus.events import Live, iso
from bus.outbox import queue, queue_event
from reports.build import Kind, ReportBuilder, keys_between, latest_key
from store import audit
from store.db import as_utc, report_deliveries

log = logging.getLogger(__name__)

SCHEDULED = (Kind.DAILY, Kind.WEEKLY, Kind.MONTHLY)  # the Monday summary has its own service (supervision/weekly.py)
MADE_AT = {Kind.DAILY: (clock.DAILY_CUT_HOUR, 0), Kind.WEEKLY: (9, 0), Kind.MONTHLY: (9, 0)}
CATCH_UP = {Kind.DAILY: timedelta(days=31), Kind.WEEKLY: timedelta(days=35), Kind.MONTHLY: timedelta(days=92)}
LEASE_S = 600


def made_on(kind: Kind, key: str) -> date:
    """The Beijing date a report is made on: its date (daily, weekly), or the 1st of the month after (monthly)."""
    if kind is Kind.MONTHLY:
        year, month = (int(part) for part in key.split("-"))
        return date(year + month // 12, month % 12 + 1, 1)
    return date.fromisoformat(key)


def scheduled_at(kind: Kind, key: str) -> datetime:
    return clock.at(made_on(kind, key), *MADE_AT[kind])


def due_by(kind: Kind, key: str) -> datetime:
    """When the report must have been delivered: half an hour after 17:00, the Friday's end, before the 5th."""
    day = made_on(kind, key)
    if kind is Kind.DAILY:
        return clock.at(day, clock.DAILY_CUT_HOUR, 30)
    if kind is Kind.WEEKLY:
        return clock.at(day + timedelta(days=1))
    return clock.at(day.replace(day=5))


def due_keys(kind: Kind, now: datetime, since: datetime | None) -> list[str]:
    """The reports of ``kind`` whose time came after ``since`` (the last delivery's; none: only the latest) and by
    ``now``, oldest first."""
    first = clock.today(now - CATCH_UP[kind] if since is None else max(since, now - CATCH_UP[kind]))
    last = made_on(kind, latest_key(kind, now))
    if kind is Kind.MONTHLY:
        first, last = first.replace(day=1), clock.today(now)
    ready = [key for key in keys_between(kind, first, last)
             if scheduled_at(kind, key) <= now and (since is None or since < scheduled_at(kind, key))]
    return ready[-1:] if since is None else ready


@dataclass
class ReportSchedule:
    """Make the scheduled reports (see the module). ``print_pdf`` returns a report's PDF, or None without Chromium."""

    engine: Engine
    builder: ReportBuilder
    print_pdf: Callable[[Any], bytes | None] = lambda report: None
    relay: Callable[[], int] = lambda: 0
    language: str = "zh-CN"
    clock: Callable[[], datetime] = field(default=clock.now)

    def deliver(self, kind: Kind, key: str) -> dict[str, Any]:
        """Make, keep and announce one report, once (a second call returns what was kept)."""
        kept = self.delivery(kind, key)
        if kept is not None:
            return kept
        report = self.builder.build(kind, key, self.language)
        pdf = self.print_pdf(report)
        now = self.clock()
        district = report.district
        figures = {"incidents": district["incidents"]["count"], "breaches": district["instructions"]["breaches"],
                   "arrival_on_time": district["arrival"]["on_time"],
                   "lead_disposal": district["leads"]["disposal_rate"],
                   "verification": district["verification"]["rate"], "timeliness": district["timeliness"]["rate"]}
        row = {"kind": kind.value, "key": key, "scheduled_at": scheduled_at(kind, key),
               "due_by": due_by(kind, key), "made_at": now, "figures": json.dumps(figures), "pdf": pdf}
        dialect = postgresql if self.engine.dialect.name == "postgresql" else sqlite
        with self.engine.begin() as conn:
            won = conn.execute(dialect.insert(report_deliveries).values(**row).on_conflict_do_nothing(
                index_elements=["kind", "key"]).returning(report_deliveries.c.key)).first()
            if won is None:  # another process made it meanwhile: theirs is the delivery
                conn.rollback()
                return self.delivery(kind, key) or {}
            announced = payload(row)
            audit.append(conn, "system", "report.delivered", target=f"{kind.value}/{key}",
                         detail=f"late={announced['late']} pdf={pdf is not None}", at=now)
            queue_event(conn, Live.REPORT, announced)
            queue(conn, keys.OUT_REPORTS, {k: v if isinstance(v, str) else json.dumps(v)
                                           for k, v in announced.items()})
        self.relay()
        return announced

    def delivery(self, kind: Kind, key: str) -> dict[str, Any] | None:
        with self.engine.connect() as conn:
            row = conn.execute(_listed().where(
                report_deliveries.c.kind == kind.value, report_deliveries.c.key == key)).mappings().first()
        return payload(dict(row)) if row else None

    def pdf(self, kind: Kind, key: str) -> bytes | None:
        """The PDF as it was delivered (none: not delivered, or no Chromium then)."""
        with self.engine.connect() as conn:
            value = conn.execute(select(report_deliveries.c.pdf).where(
                report_deliveries.c.kind == kind.value, report_deliveries.c.key == key)).scalar()
        return bytes(value) if value is not None else None

    def deliveries(self, limit: int = 60) -> list[dict[str, Any]]:
        """The latest deliveries, newest first, with when each was due and made."""
        with self.engine.connect() as conn:
            rows = conn.execute(_listed().order_by(report_deliveries.c.made_at.desc()).limit(limit)).mappings().all()
        return [payload(dict(row)) for row in rows]

    def last_scheduled(self, kind: Kind) -> datetime | None:
        with self.engine.connect() as conn:
            value = conn.execute(select(func.max(report_deliveries.c.scheduled_at)).where(
                report_deliveries.c.kind == kind.value)).scalar()
        return as_utc(value) if value is not None else None

    def catch_up(self) -> list[dict[str, Any]]:
        """Deliver every report that has fallen due and is not delivered yet, oldest first."""
        now = self.clock()
        made = []
        for kind in SCHEDULED:
            for key in due_keys(kind, now, self.last_scheduled(kind)):
                made.append(self.deliver(kind, key))
        return made

    def next_time(self) -> datetime:
        """The next moment a report falls due."""
        now = self.clock()
        upcoming = []
        for kind in SCHEDULED:
            day = clock.today(now)
            for ahead in range(0, 40):
                candidate = day + timedelta(days=ahead)
                if kind is Kind.WEEKLY and candidate.weekday() != clock.REPORT_WEEKDAY:
                    continue
                if kind is Kind.MONTHLY and candidate.day != 1:
                    continue
                at = clock.at(candidate, *MADE_AT[kind])
                if at > now:
                    upcoming.append(at)
                    break
        return min(upcoming)

    def run(self, stop: threading.Event, r: redis.Redis, owner: str) -> None:
        """Catch up on start, then deliver each report at its time; one process at a time (a lease)."""
        while True:
            try:
                if lease.hold(r, keys.REPORTS_LEASE, owner, LEASE_S):
                    self.catch_up()
            except Exception:  # a failed report must not stop the next
                log.exception("a scheduled report failed")
            if clock.wait(stop, max(1.0, (self.next_time() - self.clock()).total_seconds())):
                return


def _listed() -> Any:
    """A delivery's columns without its PDF (whether it has one instead)."""
    return select(*(c for c in report_deliveries.c if c.name != "pdf"),
                  report_deliveries.c.pdf.isnot(None).label("has_pdf"))


def payload(row: dict[str, Any]) -> dict[str, Any]:
    """A delivery as pages and other systems receive it."""
    made, due = as_utc(row["made_at"]), as_utc(row["due_by"])
    figures = row["figures"]
    has_pdf = bool(row["has_pdf"]) if "has_pdf" in row else row.get("pdf") is not None
    return {"kind": row["kind"], "key": row["key"], "scheduled_at": iso(row["scheduled_at"]), "due_by": iso(due),
            "made_at": iso(made), "late": made > due, "pdf": has_pdf,
            "figures": json.loads(figures) if isinstance(figures, str) else figures}


