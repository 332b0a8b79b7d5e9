"""What malformed entries cost the consumer: good throughput with 1% poison against a clean backlog.

The same backlog size is drained clean and poisoned, five times each, alternating; each workload's
fastest run is its own cost (on 2 shared cores a neighbour can only slow a run down, the way
``timeit`` takes the minimum). The clean run is the yardstick in the same run. Correctness (every
bad entry dead-lettered, nothing lost or doubled) is ``make faults``' fault003; this is a figure.
"""

from __future__ import annotations

import statistics
import tempfile
from pathlib import Path

from bench.common import report
from bus.connection import EmbeddedRedis
from testkit import poison

GOOD, BAD, RUNS = 100_000, 1000, 5


def run() -> None:
    rates: dict[str, list[float]] = {"clean": [], "poisoned": []}
    with tempfile.TemporaryDirectory() as tmp:
        for attempt in range(RUNS):
            for label, bad in (("clean", 0), ("poisoned", BAD)):
                folder = Path(tmp) / f"{label}-{attempt}"
                server = EmbeddedRedis(folder / "redis")
                url = server.start()
                try:
                    poison.load(url, GOOD, bad, label)
                    rates[label].append(poison.drain(url, folder / "var", GOOD + bad))
                finally:
                    server.stop()
    best = {label: max(values) for label, values in rates.items()}
    good_rate = best["poisoned"] * GOOD / (GOOD + BAD)
    median_good = statistics.median(rates["poisoned"]) * GOOD / (GOOD + BAD)
    report(f"poison: {BAD:,} malformed among {GOOD:,} good (best of {RUNS}, alternating)", [
        ("good entries/s, poisoned", f"{good_rate:,.0f} ({good_rate / best['clean']:.0%} of clean; "
                                     f"median {median_good:,.0f})"),
        ("entries/s, clean (yardstick)", f"{best['clean']:,.0f} (median {statistics.median(rates['clean']):,.0f})"),
    ])
