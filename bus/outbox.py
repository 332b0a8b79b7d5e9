"""The transactional outbox: a message is written with the change it announces, relayed after commit.

A service queues its messages (:func:`queue`, :func:`queue_event`) in the same database
transaction as the change; :class:`OutboxRelay` then copies unsent rows to their Redis streams
with an idempotent script (each row is published at most once: the marker and the XADD happen
together or not at all), right after the commit and again every few seconds for rows a process
committed and died before relaying. A crash anywhere loses nothing and doubles nothing.
"""

from __future__ import annotations

import json
import logging
import threading
from typing import Any

import redis
from sqlalchemy import Connection, Engine, insert, select, update

import clock
from bus import keys
from bus.events import Live, encode
from store.db import outbox

log = logging.getLogger(__name__)

RELAY_EVERY_S = 2.0
RELAY_BATCH = 500
SENT_MARKER_S = 7 * 86400  # how long a relayed row's marker is kept (a relay retrying later than this may double)

_RELAY_SCRIPT = """
if redis.call('SET', KEYS[1], '1', 'NX', 'EX', ARGV[1]) then
  return redis.call('XADD', KEYS[2], 'MAXLEN', '~', ARGV[2], '*', unpack(ARGV, 3))
end
return false
"""


def queue(conn: Connection, stream: str, fields: dict[str, str]) -> None:
    """Queue ``fields`` for ``stream`` inside ``conn``'s transaction."""
    conn.execute(insert(outbox).values(stream=stream, payload=json.dumps(fields, ensure_ascii=False),
                                       created_at=clock.now()))


def queue_event(conn: Connection, kind: Live, payload: dict[str, Any]) -> None:
    """Queue a live event for ``{cc}:live`` inside ``conn``'s transaction."""
    queue(conn, keys.LIVE, encode(kind, payload))


class OutboxRelay:
    """Copies committed outbox rows to Redis, each at most once."""

    def __init__(self, engine: Engine, r: redis.Redis) -> None:
        self.engine = engine
        self.r = r
        self._script = r.register_script(_RELAY_SCRIPT)

    def relay(self) -> int:
        """Publish unsent outbox rows (each at most once); returns how many."""
        with self.engine.begin() as conn:
            rows = conn.execute(select(outbox).where(outbox.c.sent_at.is_(None)).order_by(outbox.c.id)
                                .limit(RELAY_BATCH)).mappings().all()
            for row in rows:
                argv: list[str] = [str(SENT_MARKER_S), str(keys.maxlen(row["stream"]))]
                for name, value in json.loads(row["payload"]).items():
                    argv += [name, value]
                self._script(keys=[f"{keys.OUTBOX_SENT}{row['id']}", row["stream"]], args=argv)
            if rows:
                conn.execute(update(outbox).where(outbox.c.id.in_([r["id"] for r in rows]))
                             .values(sent_at=clock.now()))
        return len(rows)

    def run(self, stop: threading.Event) -> None:
        """Relay leftovers (rows committed by a process that died before relaying)."""
        while not stop.wait(RELAY_EVERY_S):
            try:
                self.relay()
            except (redis.ConnectionError, redis.TimeoutError) as exc:
                log.warning("outbox relay: Redis unavailable (%s)", exc)
