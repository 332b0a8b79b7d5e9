"""Data timeliness: each source's lag from reported to kept against its budget (110 within 2 minutes, grid data
within 5), the entries kept late listed, and a source gone quiet raised live; on constructed lags at the
boundaries, under a controlled clock."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest
import redis
from sqlalchemy import Engine
from time_machine import TimeMachineFixture

from bus import keys
from clock import Period
from geo.devices import DeviceRegistry
from geo.index import GridIndex
from indicators import timeliness
from indicators.compute import DISTRICT
from indicators.live import Indicators
from reports.build import Kind, ReportBuilder
from store.db import incidents, sensor_events
from tests.indicator_data import bj

DAY = datetime(2026, 11, 24).date()
# A constructed day: each test runs at a moment it sets (the morning of DAY unless it moves).
pytestmark = pytest.mark.time_machine("2026-11-24T10:00:00+08:00", tick=False)


def entry(source: str, lag_s: float, kept: datetime, n: int, grid: str = "SC-021") -> dict[str, Any]:
    happened = kept - timedelta(seconds=lag_s)
    if source == "sensor":
        return {"event_id": f"S-{n}", "grid": grid, "source": "sensor", "observed_at": happened, "ingested_at": kept}
    return {"event_id": f"I-{source}-{n}", "grid": grid, "source": source, "reported_at": happened,
            "ingested_at": kept}


@pytest.mark.unit
def test_time001_each_source_against_its_budget_at_the_boundaries() -> None:
    kept = bj(DAY, 10)
    lags = {"110": [30, 119.9, 120, 120.1], "grid": [60, 299, 300, 301], "sensor": [5, 60, 61], "12345": []}
    rows = [entry(source, lag, kept, n) for source, values in lags.items() for n, lag in enumerate(values)]
    f = timeliness.figures(rows)
    s = f["sources"]
    assert (s["110"]["entries"], s["110"]["over"]) == (4, 1)  # 2:00 exactly is within; 2:00.1 is late
    assert (s["grid"]["entries"], s["grid"]["over"]) == (4, 1)  # 5:00 within, 5:01 late
    assert (s["sensor"]["entries"], s["sensor"]["over"]) == (3, 1)
    assert (s["12345"]["entries"], s["12345"]["rate"], s["12345"]["p95_s"]) == (0, None, None)
    assert s["110"]["rate"] == 0.75 and s["110"]["p50_s"] == pytest.approx(119.9) and s["110"]["p95_s"] == 120.1
    assert (f["entries"], f["over"]) == (11, 3) and f["rate"] == pytest.approx(8 / 11)
    # A producer's clock a little ahead is not "early": the lag is never negative.
    assert timeliness.lag_s(entry("110", -5, kept, 9)) == 0.0
    late = timeliness.over_budget(rows)
    assert {r["event_id"] for r in late} == {"I-110-3", "I-grid-3", "S-2"}
    assert all(r["lag_s"] > timeliness.LAG_BUDGET_S[r["source"]] for r in late)


@pytest.mark.unit
def test_time002_a_source_is_silent_beyond_its_limit_once_it_was_connected() -> None:
    now = bj(DAY, 3)
    last = {"110": now - timedelta(minutes=29, seconds=59), "grid": now - timedelta(minutes=61),
            "12345": now - timedelta(days=8), "sensor": now - timedelta(minutes=10, seconds=1)}
    quiet = timeliness.silent(last, now)
    assert [q["source"] for q in quiet] == ["grid", "sensor"]  # the longest quiet first
    assert quiet[0]["limit_s"] == 3600 and quiet[0]["silent_s"] == 61 * 60
    # 110 half a minute short of its half hour is not silent; 12345 unheard for 8 days is not connected: no alarm.
    assert timeliness.silent({"110": now - timedelta(minutes=30, seconds=1)}, now)[0]["source"] == "110"
    assert timeliness.silent({}, now) == []


def insert(engine: Engine, rows: list[dict[str, Any]], history: bool = False) -> None:
    with engine.begin() as conn:
        for row in rows:
            if row["source"] == "sensor":
                conn.execute(sensor_events.insert().values(
                    event_id=row["event_id"], stream_id="1-0", device_id="BHV-001", observed_at=row["observed_at"],
                    ingested_at=row["ingested_at"], kind="alert", scenario="fight", grid=row["grid"]))
            else:
                conn.execute(incidents.insert().values(
                    event_id=row["event_id"], stream_id="1-0", reported_at=row["reported_at"],
                    ingested_at=row["ingested_at"], lon=112.4, lat=39.3, grid=row["grid"], category="theft",
                    priority=2, address="A街1号", description="x", caller="13800000000", source=row["source"],
                    status="closed", history=history))


def test_time003_the_day_s_figures_the_late_list_and_a_quiet_feed_live(
    engine: Engine, r: redis.Redis, grids: GridIndex, devices: DeviceRegistry, time_machine: TimeMachineFixture
) -> None:
    other_grid = next(str(c) for c in grids.codes if grids.get(str(c)).station != grids.get("SC-021").station)  # type: ignore[union-attr]
    insert(engine, [
        # Reported 23:59 yesterday, kept 00:01 today: late on the day it arrived.
        entry("110", 130, bj(DAY, 0, 1), 1),
        entry("110", 60, bj(DAY, 1), 2, grid=other_grid),
        entry("grid", 400, bj(DAY, 1, 30), 3),
        entry("sensor", 20, bj(DAY, 2), 4),
        entry("sensor", 75, bj(DAY, 2, 10), 5),
    ])
    insert(engine, [entry("110", 86400 * 300, bj(DAY, 0, 30), 6)], history=True)  # the backfill: never live
    with engine.begin() as conn:  # a confirmed alert became an incident of source "sensor": not a producer's lag
        conn.execute(incidents.insert().values(
            event_id="ALR-1", stream_id="1-0", reported_at=bj(DAY, 1), ingested_at=bj(DAY, 2, 30), lon=112.4,
            lat=39.3, grid="SC-021", category="fight", priority=1, address="x", description="x", source="sensor",
            status="new"))
    time_machine.move_to(bj(DAY, 3), tick=False)
    r.hset(keys.DEVICE_SEEN, mapping={"BHV-001": (bj(DAY, 2, 55)).timestamp()})  # heartbeats until 5 min ago
    live = Indicators(engine, r, grids, devices)
    figures = live.for_period(Period.today(bj(DAY, 3)))
    district = figures["scopes"][DISTRICT]["timeliness"]
    assert (district["sources"]["110"]["entries"], district["sources"]["110"]["over"]) == (2, 1)
    assert (district["sources"]["grid"]["over"], district["sources"]["sensor"]["entries"]) == (1, 2)
    assert district["sources"]["sensor"]["over"] == 1  # observed 75 s before it was kept: over its minute
    assert district["entries"] == 5 and district["over"] == 3
    # Each station sees its own entries.
    station = grids.get(other_grid).station  # type: ignore[union-attr]
    assert figures["scopes"][station]["timeliness"]["sources"]["110"]["entries"] == 1
    # Live at 03:00: 110 quiet since 01:00 (2 h > 30 min), grid since 01:30 (1.5 h > 1 h); the sensors beat.
    assert [q["source"] for q in district["silent"]] == ["110", "grid"]
    assert figures["scopes"][station]["timeliness"]["silent"] is None  # the alarm is the district's
    # A past period has no such alarm, and its report lists what came late.
    time_machine.move_to(bj(DAY + timedelta(days=1), 9), tick=False)
    report = ReportBuilder(engine, grids).build(Kind.DAILY, DAY.isoformat(), "zh-CN")
    assert report.district["timeliness"]["silent"] is None
    assert {row[0] for row in report.tables["late_entries"].rows} == {"I-110-1", "I-grid-3", "S-5"}
    by_source = {row[0]: row for row in report.tables["timeliness"].rows}
    assert (by_source["110"][1], by_source["110"][3], by_source["110"][5]) == (2, 2.2, 1)
    assert (by_source["grid"][5], by_source["sensor"][1], by_source["12345"][1]) == (1, 2, 0)
