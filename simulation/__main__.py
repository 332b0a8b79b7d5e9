"""``python -m simulation``: the live simulator and simulated field units, alone, against ``REDIS_URL``.

``make run`` runs them inside the dashboard; this runs them beside a dashboard started with
``SIMULATOR=0`` (or as load for another installation). They keep the installation's clock
(``SIM_SPEED``, see :mod:`simulation.timelapse`).
"""

from __future__ import annotations

import argparse
import logging
import signal
import threading

import clock
from bus.connection import connect
from geo.devices import DeviceRegistry
from geo.index import GridIndex
from settings import Settings
from simulation.field_units import FieldUnits
from simulation.simulator import Simulator
from simulation.timelapse import world_clock


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Write simulated incidents, sensor events, unit fixes and "
                                                 "field units' answers to the inbound streams.")
    parser.add_argument("--speed", type=float, default=None, help="world seconds per machine second (SIM_SPEED)")
    args = parser.parse_args(argv)
    settings = Settings.from_env()
    if not settings.redis_url:
        parser.error("set REDIS_URL to the Redis the dashboard uses (e.g. unix:///path/var/redis/redis.sock)")
    logging.basicConfig(level=logging.INFO)
    clock.use(world_clock(connect(settings.redis_url), args.speed or settings.sim_speed))
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    simulator = Simulator(connect(settings.redis_url), GridIndex(settings.data_dir), DeviceRegistry(settings.data_dir),
                          officers=settings.sim_officers)
    field_units = FieldUnits(connect(settings.redis_url))
    threading.Thread(target=field_units.run, args=(stop,), name="field-units", daemon=True).start()
    simulator.run(stop)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
