"""Run the benchmarks: `python -m bench` (what `make bench` calls) runs all of them;
`python -m bench fanout` (or `make bench BENCH=fanout`) runs only the named ones."""

from __future__ import annotations

import argparse
import os
import platform
from collections.abc import Callable

from bench import (
    device_layer_bench,
    devices_bench,
    dispatch_bench,
    evaluation_bench,
    failover_bench,
    fanout_bench,
    indicators_bench,
    load_bench,
    map_bench,
    phone_bench,
    poison_bench,
    push_bench,
    risk_bench,
    screen_bench,
    sensor_bench,
    video_bench,
)

BENCHES: dict[str, Callable[[], None]] = {
    "map": map_bench.run,
    "device-layer": device_layer_bench.run,  # the map's device layer at 2,500 / 25,000 / 250,000 devices
    "push": push_bench.run,
    "dispatch": dispatch_bench.run,
    "fanout": fanout_bench.run,
    # 3 processes behind HAProxy at 10 and 100 ev/s, plus 20 Chromium pages (`make prod-fanout`)
    "fanout-prod": fanout_bench.run_prod,
    "poison": poison_bench.run,
    "sensors": sensor_bench.run,
    "devices": devices_bench.run,  # city scale: 2,500 / 25,000 / 250,000 devices (about 5 minutes)
    "phone": phone_bench.run,
    "risk": risk_bench.run,
    "indicators": indicators_bench.run,
    "evaluation": evaluation_bench.run,
    "video": video_bench.run,
    "screen": screen_bench.run,  # 30 minutes (BENCH_SCREEN_MINUTES)
    "failover": failover_bench.run,  # the production topology under faults (`make prod-failover`)
    "load": load_bench.run,  # HTTP load through the production topology with locust (`make prod-load`)
    "soak": screen_bench.soak,  # 2 hours (SOAK_MINUTES): `make soak`, not part of the default run
}
LONG = {"soak", "failover", "fanout-prod", "load"}


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench", description="Ping'an Command benchmarks")
    parser.add_argument("names", nargs="*", metavar="NAME", help=f"any of {', '.join(BENCHES)} (default: all)")
    names = parser.parse_args().names or [name for name in BENCHES if name not in LONG]
    unknown = [n for n in names if n not in BENCHES]
    if unknown:
        parser.error(f"unknown benchmark {', '.join(unknown)}: choose from {', '.join(BENCHES)}")
    print(f"Ping'an Command benchmarks: {os.cpu_count()} cores, Python {platform.python_version()}")
    for name in names:
        BENCHES[name]()


if __name__ == "__main__":
    main()
