"""Rectification notices (整改通知): a chief tells a station (or a unit of it) that a standard was missed, with the
measures to take and a deadline of at most :data:`MAX_DAYS` days; the station reports progress, and its closing
report ends the notice. An open notice past its deadline is late like any item (:mod:`supervision.late`) and is
escalated by the same rules. A quarterly review lists the quarter's notices by outcome.

Notices come from the Monday summary (a station below target), from any indicator, or from an inspection;
``source`` keeps which. Nothing is deleted: the notice and every report stay readable.
"""

from __future__ import annotations

import secrets
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from enum import StrEnum
from typing import Any

from sqlalchemy import Engine, Select, and_, insert, or_, select, update

import clock
from clock import Period
from i18n import text
from store import audit
from store.db import as_utc, notice_progress, notices

MAX_DAYS = 7  # the seeds' standard: a deadline of at most seven days
MAX_TEXT = 500
MAX_UNIT = 64
LIST_LIMIT = 300


class Outcome(StrEnum):
    """Where a notice stands, judged at a moment (the quarterly review's columns)."""

    ON_TIME = "on_time"  # closed by its deadline
    LATE = "late"  # closed after it
    OVERDUE = "overdue"  # open past it
    OPEN = "open"  # open, not yet due


def outcome(row: Mapping[str, Any], asof: datetime) -> Outcome:
    closed = row["closed_at"]
    deadline = as_utc(row["deadline"])
    if closed is not None and as_utc(closed) <= asof:
        return Outcome.ON_TIME if as_utc(closed) <= deadline else Outcome.LATE
    return Outcome.OVERDUE if deadline < asof else Outcome.OPEN


def quarter_of(day: date) -> str:
    return f"{day.year}-Q{(day.month - 1) // 3 + 1}"


def quarter_period(quarter: str) -> Period:
    """``2026-Q4`` as the period it names (Beijing days). Raises ValueError for anything else."""
    year, _, number = quarter.partition("-Q")
    if len(quarter) != 7 or not year.isdigit() or number not in {"1", "2", "3", "4"}:
        raise ValueError(f"not a quarter: {quarter!r}")
    first = date(int(year), 3 * int(number) - 2, 1)
    after = date(int(year) + (number == "4"), 1 if number == "4" else 3 * int(number) + 1, 1)
    return Period(clock.at(first), clock.at(after), "quarter")


def notice_figures(rows: Iterable[Mapping[str, Any]], start: datetime, asof: datetime) -> dict[str, int]:
    """Figures of some notices (each with ``issued_at``, ``deadline``, ``closed_at``) as known at ``asof``: issued
    since ``start``, open and overdue at ``asof``, closed since ``start`` (and of them, late)."""
    known = [r for r in rows if as_utc(r["issued_at"]) <= asof]
    states = Counter(outcome(r, asof) for r in known)
    closed = [r for r in known if r["closed_at"] is not None and start <= as_utc(r["closed_at"]) <= asof]
    return {"issued": sum(1 for r in known if as_utc(r["issued_at"]) >= start),
            "open": states[Outcome.OPEN] + states[Outcome.OVERDUE], "overdue": states[Outcome.OVERDUE],
            "closed": len(closed), "closed_late": sum(1 for r in closed if outcome(r, asof) is Outcome.LATE)}


def notices_between(start: datetime, asof: datetime) -> Select[Any]:
    """The notices a period's figures count: issued by ``asof`` and not closed before ``start``."""
    return select(notices.c.station, notices.c.issued_at, notices.c.deadline, notices.c.closed_at).where(and_(
        notices.c.issued_at <= asof, or_(notices.c.closed_at.is_(None), notices.c.closed_at >= start)))


class NoticeRefused(ValueError):
    """What cannot be done with a notice; the message says why (in the service's language)."""


@dataclass
class NoticeService:
    """Issue notices, record the station's reports, review a quarter."""

    engine: Engine
    stations: Mapping[str, str]  # code -> name: the stations a notice may go to
    language: str = "zh-CN"
    clock: Callable[[], datetime] = field(default=clock.now)

    def issue(self, station: str, unit: str, standard: str, measures: str, deadline: datetime, actor: str,
              source: str = "other") -> dict[str, Any]:
        """A notice to ``station`` (and ``unit`` of it, if any), due by ``deadline`` (within seven days)."""
        now = self.clock()
        deadline = deadline.astimezone(UTC)  # kept in UTC like every stored time (a form gives Beijing time)
        standard, measures = standard.strip()[:MAX_TEXT], measures.strip()[:MAX_TEXT]
        if station not in self.stations:
            raise NoticeRefused(text("notice.refused.station", self.language))
        if not standard or not measures:
            raise NoticeRefused(text("notice.refused.text", self.language))
        if not now < deadline <= now + timedelta(days=MAX_DAYS):
            raise NoticeRefused(text("notice.refused.deadline", self.language, days=MAX_DAYS))
        row: dict[str, Any] = {
            "notice_id": f"RN-{secrets.token_hex(5)}", "station": station, "unit": unit.strip()[:MAX_UNIT],
            "standard": standard, "source": source.strip()[:64] or "other", "measures": measures,
            "deadline": deadline, "issued_at": now, "issued_by": actor, "closed_at": None, "closed_by": None}
        with self.engine.begin() as conn:
            conn.execute(insert(notices).values(**row))
            audit.append(conn, actor, "notice.issue", target=row["notice_id"],
                         detail=f"station={station} deadline={deadline.isoformat()} source={row['source']}", at=now)
        return row

    def report(self, notice_id: str, actor: str, note: str, closes: bool) -> dict[str, Any]:
        """The station's progress on an open notice; ``closes``: the rectification is done, which ends it."""
        note = note.strip()[:MAX_TEXT]
        if not note:
            raise NoticeRefused(text("notice.refused.note", self.language))
        now = self.clock()
        with self.engine.begin() as conn:
            row = conn.execute(select(notices).where(notices.c.notice_id == notice_id)).mappings().first()
            if row is None:
                raise NoticeRefused(text("notice.refused.unknown", self.language))
            if row["closed_at"] is not None:
                raise NoticeRefused(text("notice.refused.closed", self.language))
            if closes and conn.execute(update(notices).where(and_(
                    notices.c.notice_id == notice_id, notices.c.closed_at.is_(None)))
                    .values(closed_at=now, closed_by=actor)).rowcount != 1:
                raise NoticeRefused(text("notice.refused.closed", self.language))
            conn.execute(insert(notice_progress).values(notice_id=notice_id, at=now, by=actor, note=note,
                                                        closes=closes))
            audit.append(conn, actor, "notice.close" if closes else "notice.progress", target=notice_id, at=now)
        return {**row, "closed_at": now if closes else None, "closed_by": actor if closes else None}

    def get(self, notice_id: str) -> dict[str, Any] | None:
        with self.engine.connect() as conn:
            row = conn.execute(select(notices).where(notices.c.notice_id == notice_id)).mappings().first()
        return dict(row) if row else None

    def listed(self, *, closed: bool = False, station: str = "", limit: int = LIST_LIMIT) -> list[dict[str, Any]]:
        """Open notices by deadline, or closed ones, newest first."""
        query = select(notices).where(notices.c.closed_at.is_not(None) if closed else notices.c.closed_at.is_(None))
        if station:
            query = query.where(notices.c.station == station)
        order = notices.c.closed_at.desc() if closed else notices.c.deadline
        with self.engine.connect() as conn:
            rows = conn.execute(query.order_by(order, notices.c.notice_id).limit(limit)).mappings().all()
        return [dict(row) for row in rows]

    def progress_of(self, notice_id: str) -> list[dict[str, Any]]:
        with self.engine.connect() as conn:
            rows = conn.execute(select(notice_progress).where(notice_progress.c.notice_id == notice_id)
                                .order_by(notice_progress.c.id)).mappings().all()
        return [dict(row) for row in rows]

    def review(self, quarter: str, station: str = "") -> dict[str, Any]:
        """The quarter's notices (issued in it) by outcome, judged at its end (or now, if sooner): counts per
        station and the notices themselves, grouped."""
        period = quarter_period(quarter)
        asof = min(self.clock(), period.end)
        query = select(notices).where(and_(notices.c.issued_at >= period.start, notices.c.issued_at < period.end))
        if station:
            query = query.where(notices.c.station == station)
        with self.engine.connect() as conn:
            rows = [dict(r) for r in conn.execute(query.order_by(notices.c.issued_at)).mappings()]
        counts: dict[str, Counter[str]] = {}
        grouped: dict[str, list[dict[str, Any]]] = {o.value: [] for o in Outcome}
        for row in rows:
            state = outcome(row, asof)
            counts.setdefault(row["station"], Counter())[state.value] += 1
            grouped[state.value].append(row)
        return {"quarter": quarter, "period": period, "asof": asof,
                "counts": {code: dict(c) for code, c in sorted(counts.items())},
                "total": dict(Counter(outcome(r, asof).value for r in rows)), "notices": grouped}
