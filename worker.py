"""Run stream consumers on their own: ``python worker.py`` (or ``python -m worker``).

``make run`` runs one consumer inside the dashboard process; production can run
any number of these beside the web processes (they share the consumer group).
Each is assembled like the dashboard's (:func:`services.build`), with every hook:
field feedback moves instructions, new incidents meet the instant warning rules.
It runs the lanes of ``CONSUMER_LANES`` (both by default: events, heartbeats; ingest/consumer.py),
each in its own thread, or one (``--lane``). SIGTERM / SIGINT finish the current batches and exit.
"""

from __future__ import annotations

import argparse
import logging
import signal
import threading

import services
from ingest.consumer import Consumer, Lane
from settings import Settings


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--name", help="consumer name in the group (default host-pid; NAME:heartbeats on that lane)")
    parser.add_argument("--lane", choices=[lane.value for lane in Lane],
                        help="read this lane only (default: those of CONSUMER_LANES, both unless set)")
    parser.add_argument("--reclaim-idle-ms", type=int, default=None,
                        help="take over entries pending this long (default 30000)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    settings = Settings.from_env()
    if not settings.redis_url:
        parser.error("set REDIS_URL: a standalone worker joins an existing Redis")
    parts = services.build(settings)
    lanes = [Lane(args.lane)] if args.lane else parts.lanes()
    consumers = [parts.consumer(name=args.name if args.name is None or lane is Lane.EVENTS
                                else f"{args.name}:{lane}", lane=lane) for lane in lanes]
    for consumer in consumers:
        if args.reclaim_idle_ms is not None:
            consumer.reclaim_idle_ms = args.reclaim_idle_ms
    signal.signal(signal.SIGTERM, lambda *_: parts.stop_event.set())
    signal.signal(signal.SIGINT, lambda *_: parts.stop_event.set())

    def run_lane(consumer: Consumer) -> None:
        try:
            consumer.run(parts.stop_event)
        finally:  # one lane ending (a database error) ends the worker: whatever supervises it starts it again
            parts.stop_event.set()

    threads = [threading.Thread(target=run_lane, args=(consumer,), name=f"consumer-{consumer.lane}")
               for consumer in consumers]
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    finally:
        parts.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
