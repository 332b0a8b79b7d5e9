"""Run stream consumers on their own: ``python worker.py`` (or ``python -m worker``).

``make run`` runs one consumer inside the dashboard process; production can run
any number of these beside the web processes (they share the consumer group).
Each is assembled like the dashboard's (:func:`services.build`), with every hook:
field feedback moves instructions, new incidents meet the instant warning rules.
SIGTERM / SIGINT finish the current batch and exit.
"""

from __future__ import annotations

import argparse
import logging
import signal

import services
from settings import Settings


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--name", help="consumer name in the group (default host-pid)")
    parser.add_argument("--reclaim-idle-ms", type=int, default=None,
                        help="take over entries pending this long (default 30000)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    settings = Settings.from_env()
    if not settings.redis_url:
        parser.error("set REDIS_URL: a standalone worker joins an existing Redis")
    parts = services.build(settings)
    consumer = parts.consumer(name=args.name)
    if args.reclaim_idle_ms is not None:
        consumer.reclaim_idle_ms = args.reclaim_idle_ms
    signal.signal(signal.SIGTERM, lambda *_: parts.stop_event.set())
    signal.signal(signal.SIGINT, lambda *_: parts.stop_event.set())
    try:
        consumer.run(parts.stop_event)
    finally:
        parts.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
