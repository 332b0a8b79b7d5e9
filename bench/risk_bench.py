"""Risk benchmarks: the full daily run over a year of history, and the instant check per incident.

Workload: a fresh embedded Redis and SQLite file; one year of backfilled history
(``simulation.backfill``, about 110,000 incidents over 863 grids) written to
``{cc}:in:incidents`` and kept by the real consumer. Then

- the full run (load the history, grade every grid for 24 h / 7 d / 30 d, run
  the 13 rules, create leads), 3 times: the first creates the leads, the others
  find them known (the daily run's steady state); target ≤ 3 s;
- the instant check on single new incidents as the consumer calls it after each
  batch: 1,000 incidents from callers with history (family disputes, so the
  rules have work to do), median and p95 per incident; target ≤ 1 ms median.

Yardstick in the same run: reading the history's rows alone (the SQL fetch).
"""

from __future__ import annotations

import statistics
import tempfile
import time
from datetime import timedelta
from pathlib import Path

from sqlalchemy import func, select

import clock
import services
from bench.common import percentile, report
from bus import keys
from bus.connection import EmbeddedRedis, connect
from risk.engine import RiskEngine
from settings import Settings
from simulation import backfill
from store.db import incidents

RUNS = 3
CHECKS = 1000


def run() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        server = EmbeddedRedis(folder / "redis")
        url = server.start()
        r = connect(url)
        parts = services.build(Settings.from_env(redis_url=url, database_url="", var_dir=folder / "var",
                                                 simulator=False))
        engine, risk = parts.engine, parts.risk
        try:
            started = time.perf_counter()
            written = backfill.write(r, parts.grids, clock.now())
            consumer = parts.consumer()
            consumer.ensure_groups()
            while response := r.xreadgroup(keys.CONSUMER_GROUP, consumer.name, {keys.INCIDENTS: ">"}, count=2000):
                consumer.process({stream: entries for stream, entries in response})
            ingest_s = time.perf_counter() - started
            with engine.connect() as conn:
                kept = conn.execute(select(func.count()).select_from(incidents)).scalar_one()
            results = [risk.run() for _ in range(RUNS)]
            fetch = _fetch_only(engine)
            checks = _instant(risk, engine, written)
        finally:
            parts.stop()
            server.stop()
    times = [res.seconds for res in results]
    report(f"risk: one year of history ({kept:,} incidents kept of {written:,} written, 863 grids)", [
        ("backfill + ingest through the consumer", f"{ingest_s:.1f} s"),
        ("full run (grade 3 windows, 13 rules, leads)",
         f"first {times[0]:.2f} s ({results[0].leads_created} leads), then {', '.join(f'{t:.2f}' for t in times[1:])}"
         f" s (target <= 3 s)"),
        ("yardstick: fetching the history rows alone", f"{fetch:.2f} s"),
        ("instant check per new incident (1,000, callers with history)",
         f"median {statistics.median(checks):.2f} ms, p95 {percentile(checks, 95):.2f} ms (target <= 1 ms median)"),
    ])


def _fetch_only(engine) -> float:  # type: ignore[no-untyped-def]
    since = clock.now() - timedelta(days=400)
    started = time.perf_counter()
    with engine.connect() as conn:
        conn.execute(select(incidents).where(incidents.c.reported_at >= since)).all()
    return time.perf_counter() - started


def _instant(risk: RiskEngine, engine, written: int) -> list[float]:  # type: ignore[no-untyped-def]
    with engine.connect() as conn:
        callers = list(conn.execute(select(incidents.c.caller).where(incidents.c.caller.is_not(None))
                                    .group_by(incidents.c.caller).order_by(func.count().desc()).limit(50)).scalars())
    now = clock.now()
    samples = []
    for n in range(CHECKS):
        row = {"event_id": f"B-{n}", "reported_at": now, "grid": "SC-048", "category": "family_dispute",
               "priority": 2, "address": "开发路12号", "caller": callers[n % len(callers)], "source": "110",
               "lon": 112.432, "lat": 39.331}
        started = time.perf_counter()
        risk.check_incidents([row])
        samples.append((time.perf_counter() - started) * 1000)
    return samples
