"""Data timeliness: how late each source's entries reach the record, and which source has gone quiet.

Shuocheng's standard: a 110 incident is in the platform within **2 minutes** of the call, grid data within
**5 minutes**. Every kept entry has both times (``reported_at`` / ``observed_at`` from the producer,
``ingested_at`` when the consumer kept it), so its lag is their difference. Per source:

- the entries **kept** in the period (an old incident handed over late counts on the day it arrived: that is
  when it was late), their lag's median and 95th percentile, how many were over the source's budget
  (:data:`LAG_BUDGET_S`), and the share within it;
- a source **silent** beyond :data:`SILENT_AFTER_S` (no entry kept for that long, although it sent in the
  last :data:`HEARD_WITHIN` so it is connected) is an alarm on the wall's overdue list. Silence is judged
  live only: a past period's report has no such question. The sensor platform's liveness is its devices'
  heartbeats (kept in Redis, not in the record).

Backfilled history is left out: it was never live.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, and_, func, select

from store.db import as_utc, incidents, sensor_events

SOURCES = ("110", "12345", "grid", "sensor")
# Reported (or observed) to kept. 110 and grid: the seed's standard; 12345 a hand-over like grid data's; a sensor's
# reading has a minute (its alert must be verified within the next).
LAG_BUDGET_S = {"110": 120.0, "12345": 300.0, "grid": 300.0, "sensor": 60.0}
# No entry kept for this long: the source has gone quiet (a 110 line at 3 a.m. is quiet for less than this).
SILENT_AFTER_S = {"110": 1800.0, "12345": 7200.0, "grid": 3600.0, "sensor": 600.0}
HEARD_WITHIN = timedelta(days=7)  # a source not heard from for longer is not connected: shown, not alarmed
TARGET = 1.0  # every entry within its budget


def lag_s(row: dict[str, Any]) -> float:
    """An entry's lag in seconds (never negative: a producer's clock a little ahead is not "early")."""
    happened = row["reported_at"] if row.get("reported_at") is not None else row["observed_at"]
    return max(0.0, (as_utc(row["ingested_at"]) - as_utc(happened)).total_seconds())


def source_of(row: dict[str, Any]) -> str:
    return str(row.get("source") or "sensor")


def _percentile(values: list[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return ordered[max(0, min(len(ordered) - 1, round(q / 100 * len(ordered) + 0.5) - 1))]


def figures(entries: Iterable[dict[str, Any]]) -> dict[str, Any]:
    """Per source and in all: entries, median and p95 lag (s), over budget, and the share within it."""
    lags: dict[str, list[float]] = {source: [] for source in SOURCES}
    for row in entries:
        source = source_of(row)
        if source in lags:
            lags[source].append(lag_s(row))
    by_source: dict[str, dict[str, Any]] = {}
    for source, values in lags.items():
        over = sum(1 for value in values if value > LAG_BUDGET_S[source])
        by_source[source] = {"entries": len(values), "p50_s": _percentile(values, 50), "p95_s": _percentile(values, 95),
                             "over": over, "budget_s": LAG_BUDGET_S[source],
                             "rate": (len(values) - over) / len(values) if values else None}
    entries_all = sum(f["entries"] for f in by_source.values())
    over_all = sum(f["over"] for f in by_source.values())
    return {"sources": by_source, "entries": entries_all, "over": over_all,
            "rate": (entries_all - over_all) / entries_all if entries_all else None}


def kept_between(conn: Connection, start: datetime, end: datetime) -> list[dict[str, Any]]:
    """The live entries kept in [start, end): incidents with their source, sensor events as ``sensor``."""
    found = conn.execute(
        select(incidents.c.event_id, incidents.c.grid, incidents.c.source, incidents.c.reported_at,
               incidents.c.ingested_at)
        .where(and_(incidents.c.ingested_at >= start, incidents.c.ingested_at < end, incidents.c.history.is_(False),
                    incidents.c.source != "sensor"))).mappings().all()  # a confirmed alert's lag is the verdict's
    readings = conn.execute(
        select(sensor_events.c.event_id, sensor_events.c.grid, sensor_events.c.device_id, sensor_events.c.observed_at,
               sensor_events.c.ingested_at)
        .where(and_(sensor_events.c.ingested_at >= start, sensor_events.c.ingested_at < end))).mappings().all()
    return [dict(row) for row in found] + [dict(row) | {"source": "sensor"} for row in readings]


def over_budget(entries: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """The entries over their source's budget, the latest first (the report lists them)."""
    late = [row | {"lag_s": lag_s(row)} for row in entries
            if source_of(row) in LAG_BUDGET_S and lag_s(row) > LAG_BUDGET_S[source_of(row)]]
    return sorted(late, key=lambda row: as_utc(row["ingested_at"]), reverse=True)


def last_kept(conn: Connection, now: datetime) -> dict[str, datetime]:
    """Each incident source's newest live entry kept within :data:`HEARD_WITHIN` before ``now``."""
    found = conn.execute(
        select(incidents.c.source, func.max(incidents.c.ingested_at))
        .where(and_(incidents.c.ingested_at >= now - HEARD_WITHIN, incidents.c.ingested_at <= now,
                    incidents.c.history.is_(False)))
        .group_by(incidents.c.source)).all()
    return {str(source): as_utc(at) for source, at in found if at is not None}


def silent(last: dict[str, datetime], now: datetime) -> list[dict[str, Any]]:
    """The sources heard from lately but quiet beyond their limit now, the longest quiet first."""
    quiet = []
    for source in SOURCES:
        at = last.get(source)
        if at is None or now - at > HEARD_WITHIN:
            continue  # not connected (a new installation, a source the bureau has not joined): not an alarm
        seconds = (now - at).total_seconds()
        if seconds > SILENT_AFTER_S[source]:
            quiet.append({"source": source, "last_at": at.isoformat(), "silent_s": seconds,
                          "limit_s": SILENT_AFTER_S[source]})
    return sorted(quiet, key=lambda item: -float(item["silent_s"]))
