"""``python -m prod up|down|status``: the production topology on this machine (docs/production.md).

    python -m prod up                # Redis (PROD_REDIS=cluster|single), PostgreSQL, 3 app processes, HAProxy
    python -m prod up --redis-only   # just the Redis nodes (the Cluster formed and settled)
    python -m prod status            # each part up or down; which Redis nodes are primaries
    python -m prod down              # stops what up started (PostgreSQL, the machine's, keeps running)
    python -m prod down --wipe       # ... and deletes its state: Redis data, keys, logs, the database
"""

from __future__ import annotations

import argparse
import sys

from prod.topology import Layout, Topology


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m prod", description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    up = commands.add_parser("up", help="start every part (those already running are kept)")
    up.add_argument("--redis-only", action="store_true", help="start only the Redis nodes")
    down = commands.add_parser("down", help="stop every part this topology started")
    down.add_argument("--wipe", action="store_true", help="also delete var/prod and drop the database")
    commands.add_parser("status", help="show each part")
    commands.add_parser("config", help="render and check the HAProxy configuration, print its path")
    args = parser.parse_args(argv)

    topology = Topology(Layout.from_env())
    if args.command == "up":
        try:
            topology.up(redis_only=args.redis_only)
        except (RuntimeError, TimeoutError) as exc:
            print(f"prod: up failed: {exc}\n  (what started is still running: python -m prod status; "
                  "python -m prod down)", file=sys.stderr)
            return 1
    elif args.command == "down":
        topology.down(wipe=args.wipe)
    elif args.command == "status":
        print("\n".join(topology.status()))
    else:
        print(topology.render_haproxy())
    return 0


if __name__ == "__main__":
    sys.exit(main())
