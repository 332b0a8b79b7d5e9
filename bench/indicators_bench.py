"""Issue 7 figures: recomputing the indicators over a busy day, and producing a report's PDF.

Workload: a temporary SQLite system of record holding one busy Beijing day (2,000 incidents in
random grids, 1,500 instructions with arrival and result times, 300 sensor alerts, 40 leads) and
the same day one week earlier (for the comparison). Measured, median of 5:

- **indicators**: what the live publisher does on each change: read the day's rows
  (``indicators.compute.load``) and compute every figure for the district and the 12 stations;
  beside it the computation alone, on rows already read;
- **weekly report PDF**: build the weekly report covering that day, render its HTML, print the PDF
  with headless Chromium; yardstick: Chromium printing a blank page (the browser's own start and
  print cost).

``python -m bench indicators`` (or ``make bench BENCH=indicators``) runs it, in about a minute.
"""

from __future__ import annotations

import random
import tempfile
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import Engine

import clock
from bench.common import median_s, report
from clock import BEIJING, Period
from geo.index import GridIndex
from indicators.compute import compute, load
from reports.build import Kind, ReportBuilder
from reports.render import chromium_path, pdf_bytes
from store.db import alert_verifications, incidents, instructions, leads, make_engine, sensor_events

DAY = clock.today() - timedelta(days=8)  # a past day whose weekly report (the Friday after) is complete
INCIDENTS, INSTRUCTIONS, ALERTS, LEADS = 2_000, 1_500, 300, 40
RUNS = 5


def _day_rows(grids: list[str], rng: random.Random, day: date, tag: str) -> dict[str, list[dict[str, Any]]]:
    start = datetime(day.year, day.month, day.day, tzinfo=BEIJING).astimezone(UTC)
    rows: dict[str, list[dict[str, Any]]] = {"incidents": [], "instructions": [], "alerts": [], "verdicts": [],
                                             "leads": []}
    for n in range(INCIDENTS):
        at = start + timedelta(seconds=rng.uniform(0, 86_400))
        rows["incidents"].append({
            "event_id": f"{tag}-E{n}", "stream_id": "1-0", "reported_at": at, "ingested_at": at, "lon": 112.4,
            "lat": 39.3, "grid": rng.choice(grids), "category": rng.choice(["theft", "fight", "noise", "traffic"]),
            "priority": rng.choice([1, 2, 2, 3]), "address": f"朔城区测试路{rng.randint(1, 600)}号",
            "description": "" if rng.random() < 0.03 else "情况", "caller": "13800000000", "source": "110",
            "status": "closed"})
        if n < INSTRUCTIONS:
            arrive = at + timedelta(minutes=rng.uniform(2, 20))
            result = arrive + timedelta(minutes=rng.uniform(4, 25))
            rows["instructions"].append({
                "instruction_id": f"{tag}-I{n}", "idempotency_key": f"{tag}-I{n}", "incident_id": f"{tag}-E{n}",
                "unit_id": f"U{n % 40}", "state": "closed", "text": "", "officer": "bench", "zone": "urban",
                "issued_at": at, "arrival_due": at + timedelta(minutes=5), "on_scene_at": arrive,
                "result_at": result, "result_due": arrive + timedelta(minutes=15), "finished_at": result})
    for n in range(ALERTS):
        at = start + timedelta(seconds=rng.uniform(0, 86_400))
        rows["alerts"].append({"event_id": f"{tag}-A{n}", "stream_id": "1-0", "device_id": "D", "observed_at": at,
                               "ingested_at": at, "kind": "alert", "scenario": "smoke", "grid": rng.choice(grids)})
        seconds = rng.uniform(5, 120)
        rows["verdicts"].append({"event_id": f"{tag}-A{n}", "verdict": "dispatched", "verified_by": "bench",
                                 "verified_at": at + timedelta(seconds=seconds), "seconds_to_verify": seconds,
                                 "reason": ""})
    for n in range(LEADS):
        at = start + timedelta(seconds=rng.uniform(0, 80_000))
        rows["leads"].append({
            "lead_id": f"{tag}-L{n}", "dedupe_key": f"{tag}-L{n}", "rule": "repeat_location",
            "grid": rng.choice(grids), "station": "PS-01", "level": rng.choice(["high", "medium"]),
            "target": "station", "recipient": "x", "created_at": at, "deadline": at + timedelta(hours=1),
            "state": "handled", "summary": "", "suggestion": "", "evidence": "[]",
            "handled_at": at + timedelta(minutes=rng.uniform(10, 90))})
    return rows


def write_busy_day(engine: Engine, grids: list[str], rng: random.Random, day: date, tag: str) -> None:
    """One busy Beijing day (the workload above) written into the system of record; ``tag`` keeps ids apart."""
    rows = _day_rows(grids, rng, day, tag)
    with engine.begin() as conn:
        conn.execute(incidents.insert(), rows["incidents"])
        conn.execute(instructions.insert(), rows["instructions"])
        conn.execute(sensor_events.insert(), rows["alerts"])
        conn.execute(alert_verifications.insert(), rows["verdicts"])
        conn.execute(leads.insert(), rows["leads"])


def _blank_pdf() -> bytes:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium_path(), args=["--no-sandbox"])
        try:
            page = browser.new_page()
            page.set_content("<p>.</p>")
            return page.pdf(format="A4")
        finally:
            browser.close()


def run() -> None:
    grid_index = GridIndex()
    codes = [str(c) for c in grid_index.codes]
    stations = [code for code, _ in grid_index.stations("en")]
    rng = random.Random(7)
    with tempfile.TemporaryDirectory(prefix="indicators-bench-") as folder:
        engine = make_engine(f"sqlite:///{Path(folder) / 'bench.sqlite3'}")
        for day, tag in ((DAY, "D"), (DAY - timedelta(days=7), "W")):
            write_busy_day(engine, codes, rng, day, tag)
        period = Period.day(DAY)
        now = period.end + timedelta(hours=1)

        def station_of(grid: str | None) -> str | None:
            found = grid_index.get(grid) if grid else None
            return found.station if found else None

        loaded = load(engine, period, now)
        both = median_s(lambda: compute(load(engine, period, now), period, now, station_of, stations), RUNS)
        alone = median_s(lambda: compute(loaded, period, now, station_of, stations), RUNS)
        builder = ReportBuilder(engine, grid_index, clock=lambda: now + timedelta(days=7))
        weekly_key = (DAY + timedelta(days=(4 - DAY.weekday()) % 7 or 7)).isoformat()  # the Friday after
        built = median_s(lambda: builder.build(Kind.WEEKLY, weekly_key, "zh-CN"), RUNS)
        weekly = builder.build(Kind.WEEKLY, weekly_key, "zh-CN")
        printed = median_s(lambda: pdf_bytes(weekly), RUNS)
        blank = median_s(_blank_pdf, RUNS)
        size_kb = len(pdf_bytes(weekly)) / 1024
        engine.dispose()
    report(f"Indicators and reports over a busy day ({INCIDENTS:,} incidents, {INSTRUCTIONS:,} instructions, "
           f"{ALERTS} alerts, {LEADS} leads; median of {RUNS})", [
               ("indicators: read + compute", f"{both * 1000:.0f} ms (district + {len(stations)} stations)"),
               ("  compute alone", f"{alone * 1000:.0f} ms"),
               ("weekly report: build", f"{built:.2f} s (grades twice over a year's window, leads, tables)"),
               ("weekly report: print PDF", f"{printed:.2f} s, {size_kb:.0f} KB "
                                            f"(yardstick: Chromium printing a blank page {blank:.2f} s)"),
           ])
