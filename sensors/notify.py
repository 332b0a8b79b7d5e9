"""Messages to people outside the centre (grid workers, property managers).

:class:`Notifier` is the interface; the default :class:`OutboxNotifier` logs each
message in the system of record and queues it for the stream ``{cc}:out:notify``,
which an SMS gateway reads, in the caller's transaction (so a message is sent
exactly when the verdict that causes it commits). Another channel (a push
service, a gateway's HTTP API) is another implementation of ``send``.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Protocol

from sqlalchemy import Connection, insert

from bus import keys
from bus.outbox import queue
from store.db import notifications


@dataclass(frozen=True)
class Notification:
    recipient_role: str  # grid_worker / property_manager
    recipient: str
    grid: str
    ref: str  # the alert or incident it is about
    text: str  # exactly what the person reads


class Notifier(Protocol):
    def send(self, conn: Connection, message: Notification, now: datetime) -> None:
        """Send ``message`` as part of ``conn``'s transaction."""


class OutboxNotifier:
    """Log the message and queue it for ``{cc}:out:notify``."""

    def send(self, conn: Connection, message: Notification, now: datetime) -> None:
        fields = asdict(message)
        conn.execute(insert(notifications).values(at=now, **fields))
        queue(conn, keys.OUT_NOTIFY, fields)
