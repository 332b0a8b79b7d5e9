"""What a page gets when it (re)connects without a usable cursor: the state, and the ``{cc}:live`` id it is current to.

The cursor is read *before* the state, so every event after it is delivered as a delta; a delta
already contained in the snapshot is applied again harmlessly (pages key incidents by
``event_id`` and units by ``unit_id``). For that to lose nothing, every incident published before
the cursor that a page should still show is in the state, whatever its ``reported_at``: every
incident still open (a late ticket, yesterday's unfinished job) and every incident reported or
received in the last 24 hours.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import redis
from sqlalchemy import Engine, or_, select

import clock
from bus import keys
from bus.events import incident_payload
from dispatch.lifecycle import OPEN_INCIDENTS
from store.db import incidents

log = logging.getLogger(__name__)

RECENT = timedelta(hours=24)
RECENT_LIMIT = 300  # finished incidents of the last 24 hours (the feed shows 100)
# What a page holds (MARKER_LIMIT in assets/pingan_live.js): a district with more open incidents than this is
# in a crisis the board cannot show anyway, and every connecting page would pay for them (about 500 B each).
OPEN_LIMIT = 500


def board_incidents(engine: Engine, now: datetime) -> list[dict[str, Any]]:
    """Open incidents (any age) and those reported or received in the last 24 hours, in order of arrival."""
    since = now - RECENT
    open_statuses = [s.value for s in OPEN_INCIDENTS]
    with engine.connect() as conn:
        still_open = conn.execute(
            select(incidents).where(incidents.c.status.in_(open_statuses))
            .order_by(incidents.c.ingested_at.desc()).limit(OPEN_LIMIT)
        ).mappings().all()
        recent = conn.execute(
            select(incidents).where(incidents.c.status.not_in(open_statuses), incidents.c.history.is_(False),
                                    or_(incidents.c.reported_at >= since, incidents.c.ingested_at >= since))
            .order_by(incidents.c.ingested_at.desc()).limit(RECENT_LIMIT)
        ).mappings().all()
    if len(still_open) == OPEN_LIMIT:
        log.warning("snapshot: more than %d open incidents; the oldest are left off", OPEN_LIMIT)
    rows = sorted([*still_open, *recent], key=lambda row: (row["ingested_at"], row["event_id"]))
    return [incident_payload(dict(row)) for row in rows]


def snapshot(r: redis.Redis, engine: Engine, now: datetime | None = None,
             open_instructions: Callable[[], list[dict[str, Any]]] | None = None,
             open_alerts: Callable[[], list[dict[str, Any]]] | None = None,
             extras: dict[str, Callable[[], Any]] | None = None) -> dict[str, Any]:
    """Today's state for a page that (re)connects, and the ``{cc}:live`` id it is current to."""
    last = r.xrevrange(keys.LIVE, count=1)
    cursor = last[0][0] if last else "0-0"
    units = [json.loads(v) for v in r.hvals(keys.UNIT_STATE)]
    counters = r.hgetall(keys.COUNTERS)
    return {
        "cursor": cursor,
        "incidents": board_incidents(engine, now or clock.now()),
        "units": units,
        "counters": {k: int(v) for k, v in counters.items()},
        "instructions": open_instructions() if open_instructions else [],
        "alerts": open_alerts() if open_alerts else [],  # sensor alerts still waiting for a verdict
        "device_health": r.hgetall(keys.DEVICE_HEALTH),  # devices not online -> awaiting / offline / faulty
        # Later parts (open leads, risk grades, indicators) supply their own state.
        **{name: provide() for name, provide in (extras or {}).items()},
    }
