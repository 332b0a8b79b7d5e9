"""What screens receive: the shapes of live events and of the snapshot.

A live event is one entry of the ``cc:live`` stream: ``type`` plus a JSON
``data`` payload already fit for display (callers masked, WGS-84 positions).
The snapshot a page gets on (re)connect uses the same shapes.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import redis
from sqlalchemy import Engine, select

from geo.devices import Device
from store.db import as_utc, incidents
from streams import keys
from streams.contract import scenarios, verify_within_s

SNAPSHOT_INCIDENT_LIMIT = 300


def mask_caller(caller: str | None) -> str | None:
    """Keep the first 3 and last 2 digits: enough to recognise a repeat caller."""
    if not caller:
        return None
    digits = caller.replace(" ", "").replace("-", "")
    if len(digits) <= 5:
        return "*" * len(digits)
    return digits[:3] + "*" * (len(digits) - 5) + digits[-2:]


def incident_payload(row: dict[str, Any], sent_at: float | None = None) -> dict[str, Any]:
    payload = {
        "event_id": row["event_id"],
        "reported_at": _iso(row["reported_at"]),
        "lon": row["lon"],
        "lat": row["lat"],
        "grid": row["grid"],
        "category": row["category"],
        "priority": row["priority"],
        "address": row["address"],
        "description": row["description"],
        "caller": mask_caller(row.get("caller")),
        "source": row["source"],
        "status": row.get("status") or "new",
    }
    if sent_at is not None:
        payload["sent_at"] = sent_at
    return payload


def alert_payload(row: dict[str, Any], device: Device | None) -> dict[str, Any]:
    """An alert as screens receive it: the ingest payload plus where it is and when it is due."""
    scenario = scenarios().get(row.get("scenario") or "", {})
    received = as_utc(row["ingested_at"])
    return {
        "event_id": row["event_id"], "device_id": row["device_id"], "kind": row["kind"],
        "device_type": device.type if device else None, "scenario": row.get("scenario"), "value": row.get("value"),
        "floor": row.get("floor") or (device.floor if device else None), "grid": row.get("grid"),
        "risk": scenario.get("risk"),
        "lon": device.lon if device else None, "lat": device.lat if device else None,
        "compound": device.compound if device else None, "building": device.building if device else None,
        "site_kind": device.site_kind if device else None,
        "observed_at": as_utc(row["observed_at"]).isoformat(), "received_at": received.isoformat(),
        "verify_due": (received + timedelta(seconds=verify_within_s())).isoformat(),
    }


def _iso(value: datetime | str) -> str:
    if isinstance(value, str):
        return value
    if value.tzinfo is None:  # SQLite returns naive datetimes; we store UTC
        value = value.replace(tzinfo=UTC)
    return value.isoformat()


def encode(kind: str, payload: dict[str, Any]) -> dict[str, str]:
    return {"type": kind, "data": json.dumps(payload, ensure_ascii=False, separators=(",", ":"))}


def decode(entry_id: str, fields: dict[str, str]) -> dict[str, Any]:
    return {"id": entry_id, "type": fields["type"], "data": json.loads(fields["data"])}


def snapshot(r: redis.Redis, engine: Engine, now: datetime | None = None,
             open_instructions: Callable[[], list[dict[str, Any]]] | None = None,
             open_alerts: Callable[[], list[dict[str, Any]]] | None = None,
             extras: dict[str, Callable[[], Any]] | None = None) -> dict[str, Any]:
    """Today's state for a page that (re)connects, and the ``cc:live`` id it is current to.

    The cursor is read *before* the state, so every event after it is delivered
    as a delta; a delta already contained in the snapshot is applied again
    harmlessly (pages key incidents by ``event_id`` and units by ``unit_id``).
    """
    last = r.xrevrange(keys.LIVE, count=1)
    cursor = last[0][0] if last else "0-0"
    now = now or datetime.now(UTC)
    since = now - timedelta(hours=24)
    with engine.connect() as conn:
        rows = conn.execute(
            select(incidents).where(incidents.c.reported_at >= since)
            .order_by(incidents.c.reported_at.desc()).limit(SNAPSHOT_INCIDENT_LIMIT)
        ).mappings().all()
    units = [json.loads(v) for v in r.hvals(keys.UNIT_STATE)]
    instructions = open_instructions() if open_instructions else []
    alerts = open_alerts() if open_alerts else []
    counters = r.hgetall(keys.COUNTERS)
    return {
        "cursor": cursor,
        "incidents": [incident_payload(dict(row)) for row in reversed(rows)],
        "units": units,
        "counters": {k: int(v) for k, v in counters.items()},
        "instructions": instructions,
        "alerts": alerts,  # sensor alerts still waiting for the duty officer's verdict
        "device_health": r.hgetall(keys.DEVICE_HEALTH),  # devices not online -> offline / faulty
        # Later parts (open leads, risk grades) supply their own state.
        **{name: provide() for name, provide in (extras or {}).items()},
    }
