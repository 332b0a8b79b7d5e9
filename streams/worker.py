"""Run stream consumers on their own: ``python -m streams.worker``.

``make run`` runs one consumer inside the dashboard process; production can run
any number of these beside the web processes (they share the consumer group).
SIGTERM / SIGINT finish the current batch and exit.
"""

from __future__ import annotations

import argparse
import logging
import signal
import threading

from dispatch.service import DispatchService
from geo.devices import DeviceRegistry
from geo.index import GridIndex
from settings import Settings
from store.db import database_url, make_engine
from streams.connection import connect
from streams.consumer import Consumer


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--name", help="consumer name in the group (default host-pid)")
    parser.add_argument("--reclaim-idle-ms", type=int, default=None,
                        help="take over entries pending this long (default 30000)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    settings = Settings.from_env()
    if not settings.redis_url:
        parser.error("set REDIS_URL: a standalone worker joins an existing Redis")
    engine = make_engine(database_url(settings.database_url, settings.var_dir))
    grids = GridIndex(settings.data_dir)
    dispatch = DispatchService(engine, connect(settings.redis_url), grids, language=settings.language)
    consumer = Consumer(connect(settings.redis_url), engine, grids, DeviceRegistry(settings.data_dir),
                        name=args.name, dispatch=dispatch)
    if args.reclaim_idle_ms is not None:
        consumer.reclaim_idle_ms = args.reclaim_idle_ms
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    consumer.run(stop)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
