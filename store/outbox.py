"""The transactional outbox: a message is written with the change it announces.

Rows are relayed to their Redis stream after commit, each at most once
(:meth:`dispatch.service.DispatchService.relay`).
"""

from __future__ import annotations

import json
from datetime import datetime

from sqlalchemy import Connection, insert

from store.db import outbox


def queue(conn: Connection, stream: str, fields: dict[str, str], now: datetime) -> None:
    """Queue ``fields`` for ``stream`` inside ``conn``'s transaction."""
    conn.execute(insert(outbox).values(stream=stream, payload=json.dumps(fields, ensure_ascii=False), created_at=now))
