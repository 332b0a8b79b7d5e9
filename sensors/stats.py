"""Weekly sensor statistics per compound and per site kind.

For alerts received in ``[start, end)``:

- ``alerts``: alerts received;
- ``verified``: alerts with a verdict; ``disposal_rate`` = verified / alerts;
- ``on_time``: verdicts within the verification budget (60 s);
- ``median_verify_s``: median seconds from screen to verdict;
- ``false_alarms``: verdicts ``false_alarm``;
- ``dispatched``: verdicts that became incidents;
- ``devices_down``: devices of the group that reported a fault in the period or
  are down now.
"""

from __future__ import annotations

import statistics
from collections import defaultdict
from datetime import datetime
from typing import Any

from sqlalchemy import Engine, and_, select

from geo.devices import DeviceRegistry
from geo.scenarios import verify_within_s
from store.db import alert_verifications, sensor_events

GROUPINGS = ("compound", "site_kind")


def weekly(engine: Engine, devices: DeviceRegistry, start: datetime, end: datetime,
           down_now: set[str] | None = None) -> dict[str, list[dict[str, Any]]]:
    """``{"compound": [...], "site_kind": [...]}``, one row per group, sorted by group."""
    query = (select(sensor_events.c.event_id, sensor_events.c.device_id, sensor_events.c.kind,
                    alert_verifications.c.verdict, alert_verifications.c.seconds_to_verify)
             .outerjoin(alert_verifications, alert_verifications.c.event_id == sensor_events.c.event_id)
             .where(and_(sensor_events.c.ingested_at >= start, sensor_events.c.ingested_at < end,
                         sensor_events.c.kind.in_(["alert", "fault"]))))
    with engine.connect() as conn:
        rows = conn.execute(query).mappings().all()
    budget = verify_within_s()
    groups: dict[str, dict[str, dict[str, Any]]] = {g: defaultdict(_empty) for g in GROUPINGS}
    down: dict[str, dict[str, set[str]]] = {g: defaultdict(set) for g in GROUPINGS}
    for row in rows:
        device = devices.get(row["device_id"])
        if device is None:
            continue
        for grouping in GROUPINGS:
            key = getattr(device, grouping)
            if key is None:
                continue
            if row["kind"] == "fault":
                down[grouping][key].add(device.device_id)
                continue
            group = groups[grouping][key]
            group["alerts"] += 1
            if row["verdict"] is not None:
                group["verified"] += 1
                group["seconds"].append(float(row["seconds_to_verify"]))
                group["on_time"] += float(row["seconds_to_verify"]) <= budget
                group["false_alarms"] += row["verdict"] == "false_alarm"
                group["dispatched"] += row["verdict"] == "dispatched"
    for device_id in down_now or set():
        device = devices.get(device_id)
        for grouping in GROUPINGS:
            key = getattr(device, grouping) if device else None
            if key is not None:
                down[grouping][key].add(device_id)
    out: dict[str, list[dict[str, Any]]] = {}
    for grouping in GROUPINGS:
        keys = sorted(set(groups[grouping]) | set(down[grouping]))
        out[grouping] = [_row(key, groups[grouping][key], len(down[grouping][key])) for key in keys]
    return out


def _empty() -> dict[str, Any]:
    return {"alerts": 0, "verified": 0, "on_time": 0, "false_alarms": 0, "dispatched": 0, "seconds": []}


def _row(key: str, group: dict[str, Any], devices_down: int) -> dict[str, Any]:
    seconds = group["seconds"]
    return {
        "group": key, "alerts": group["alerts"], "verified": group["verified"],
        "disposal_rate": group["verified"] / group["alerts"] if group["alerts"] else None,
        "on_time": group["on_time"], "median_verify_s": statistics.median(seconds) if seconds else None,
        "false_alarms": group["false_alarms"], "dispatched": group["dispatched"], "devices_down": devices_down,
    }
