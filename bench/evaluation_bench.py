"""Issue 20 figures: the community-policing index over a busy month.

Workload: a temporary SQLite system of record holding a busy month (30 days of the indicators bench's busy day:
60,000 incidents, 45,000 instructions with arrival and result times, 9,000 sensor alerts, 1,200 leads) and the
positions of the 24 simulated community officers (a position a minute through every working hour: about
220,000). Measured, median of 3:

- **the month's index**: every subject's scores (860 community officers, 853 grid workers, 12 stations): read the
  month's rows once, split them by grid, compute each subject's figures and score its tree, with the officers'
  time in community; yardstick: the chiefs' figures for the same month (the district and 12 stations), which the
  index reuses;
- **time in community** alone (every community officer's working windows and fixes);
- **a drill-down**: one officer's leaf and the records behind it (what ``/evaluation/<id>/<leaf>`` computes);
- **a kept month read back** (what ``/evaluation`` does for an ended month after the first time).

``python -m bench evaluation`` (or ``make bench BENCH=evaluation``) runs it, in about three minutes.
"""

from __future__ import annotations

import random
import tempfile
from datetime import timedelta
from pathlib import Path
from typing import Any

import clock
from bench.common import median_s, report
from bench.indicators_bench import write_busy_day
from clock import Period
from evaluation.measures import MEASURES
from evaluation.service import open_evaluation
from geo.index import GridIndex
from geo.roster import Post, Roster
from indicators.compute import compute, load
from positions.presence import Rules, time_in_community, working_windows
from store.db import make_engine, positions

RUNS = 3
OFFICERS = 24


def _positions(roster: Roster, period: Period, rng: random.Random) -> list[dict[str, Any]]:
    rules = Rules()
    officers = roster.people(Post.COMMUNITY_OFFICER)[:: len(roster.people(Post.COMMUNITY_OFFICER)) // OFFICERS]
    rows = []
    for start, end in working_windows(period.start, period.end, rules.hours, rules.days):
        for officer in officers[:OFFICERS]:
            moment = start
            while moment < end:
                rows.append({"person_id": officer.person_id, "observed_at": moment, "lon": 112.4, "lat": 39.3,
                             "inside": rng.random() < 0.8, "accuracy": 10.0, "source": "terminal"})
                moment += timedelta(minutes=1)
    return rows


def run() -> None:
    grid_index = GridIndex()
    roster = Roster(grid_index)
    codes = [str(c) for c in grid_index.codes]
    stations = [code for code, _ in grid_index.stations("en")]
    today = clock.today()
    last = today.replace(day=1) - timedelta(days=1)  # the last day of the month before
    month = Period.month(last.year, last.month)
    rng = random.Random(20)
    with tempfile.TemporaryDirectory(prefix="evaluation-bench-") as folder:
        engine = make_engine(f"sqlite:///{Path(folder) / 'bench.sqlite3'}")
        day = last.replace(day=1)
        while day <= last:
            write_busy_day(engine, codes, rng, day, f"D{day:%d}")
            day += timedelta(days=1)
        fixes = _positions(roster, month, rng)
        with engine.begin() as conn:
            conn.execute(positions.insert(), fixes)
        now = month.end + timedelta(days=1)
        service = open_evaluation(engine, grid_index, roster)
        service.now = lambda: now

        def station_of(grid: str | None) -> str | None:
            found = grid_index.get(grid) if grid else None
            return found.station if found else None

        index_s = median_s(lambda: service.compute(month, now), RUNS)
        figures_s = median_s(lambda: compute(load(engine, month, now), month, now, station_of, stations), RUNS)
        presence_s = median_s(lambda: time_in_community(engine, roster, month, now, Rules()), RUNS)
        officer = service.subject(roster.people(Post.COMMUNITY_OFFICER)[0].person_id)
        assert officer is not None
        drill_s = median_s(lambda: MEASURES["arrival_on_time"].records(service.basis(officer, month)), RUNS)
        service.evaluate(month)  # kept
        kept_s = median_s(lambda: service.evaluate(month), RUNS)
        subjects = len(service.compute(month, now).results)
        engine.dispose()
    report(f"The community-policing index over a busy month ({30 * 2_000:,} incidents, {30 * 1_500:,} instructions, "
           f"{len(fixes):,} positions of {OFFICERS} officers; SQLite; median of {RUNS})", [
               ("the month's index: every subject", f"{index_s:.2f} s ({subjects:,} subjects scored)"),
               ("  yardstick: the chiefs' figures", f"{figures_s:.2f} s (district + {len(stations)} stations, "
                                                    "the same month)"),
               ("  time in community alone", f"{presence_s:.2f} s ({len(roster.people(Post.COMMUNITY_OFFICER))} "
                                             "officers)"),
               ("a drill-down: one leaf's records", f"{drill_s:.2f} s"),
               ("a kept month read back", f"{kept_s * 1000:.0f} ms"),
           ])

