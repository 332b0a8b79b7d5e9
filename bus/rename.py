"""Moving a Redis from the key names before version 0.2.0 (``cc:...``) to the hash-tagged ones (``{cc}:...``).

Every app process does this on start with a single Redis (:func:`rename_legacy_keys`), so an upgrade keeps
its streams, consumer groups, pending entries, state and sessions: RENAME moves a key whole, its groups and
their pending lists included. RENAMENX never overwrites, so processes starting together, or a key already
written under its new name, lose nothing: such a key is left where it is and reported. The inbound streams'
old names are still read by the consumer (bus/keys.py, ``LEGACY_INBOUND``), so a producer that has not
switched yet keeps being served; a Cluster refuses them (another slot), so producers switch before the move
(docs/ingest.md, "Key names").

``python -m bus.rename [REDIS_URL]`` does the same by hand and prints what it moved.
"""

from __future__ import annotations

import logging
import sys
from dataclasses import dataclass, field

import redis

from bus import keys
from bus.connection import connect, is_cluster_client

log = logging.getLogger(__name__)


@dataclass
class Renamed:
    moved: list[str] = field(default_factory=list)
    kept: list[str] = field(default_factory=list)  # the new name exists already: left under the old one


def rename_legacy_keys(r: redis.Redis) -> Renamed:
    """Rename every ``cc:`` key to its ``{cc}:`` name where that name is free (a single Redis only)."""
    done = Renamed()
    if is_cluster_client(r):
        return done  # a Cluster starts with the new names: there is nothing old to move
    for old in r.scan_iter(match=f"{keys.LEGACY_PREFIX}*", count=1000):
        new = keys.PREFIX + str(old).removeprefix(keys.LEGACY_PREFIX)
        try:
            (done.moved if r.renamenx(old, new) else done.kept).append(str(old))
        except redis.ResponseError:  # another process moved it first
            continue
    if done.moved or done.kept:
        log.info("renamed %d Redis keys to the {cc}: names; %d left (their new names were taken)",
                 len(done.moved), len(done.kept))
    return done


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if not args:
        print("usage: python -m bus.rename REDIS_URL", file=sys.stderr)
        return 2
    done = rename_legacy_keys(connect(args[0]))
    print(f"moved {len(done.moved)} keys; left {len(done.kept)} whose new names were taken")
    for name in done.kept:
        print(f"  left: {name}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
