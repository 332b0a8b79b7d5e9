"""Contract-valid inbound entries, stamped relative to the product's clock (never a calendar date)."""

from __future__ import annotations

from datetime import datetime, timedelta

import clock

SEAT = (112.432, 39.331)  # the district seat, inside an urban grid


def stamp(moment: datetime | None = None, *, ago: timedelta = timedelta(0), timespec: str = "seconds") -> str:
    """``moment`` (default: now) minus ``ago`` as the ingest contract writes it: ISO-8601, Beijing time."""
    return clock.local((moment or clock.now()) - ago).isoformat(timespec=timespec)


def incident(event_id: str, *, ago: timedelta = timedelta(seconds=5), **overrides: str) -> dict[str, str]:
    """A valid ``{cc}:in:incidents`` entry near the district seat, reported ``ago`` before now."""
    fields = {
        "event_id": event_id,
        "reported_at": stamp(ago=ago),
        "lon": f"{SEAT[0]:.6f}",
        "lat": f"{SEAT[1]:.6f}",
        "category": "neighbour_dispute",
        "priority": "2",
        "address": "朔城区开发路12号",
        "description": "邻居因楼道堆物发生争吵",
        "caller": "13812345678",
        "source": "110",
    }
    fields.update(overrides)
    return fields


def unit(unit_id: str, observed_at: datetime | None = None, *, ago: timedelta = timedelta(0),
         **overrides: str) -> dict[str, str]:
    """A valid ``{cc}:in:units`` fix, observed at ``observed_at`` (default: now) minus ``ago``."""
    fields = {"unit_id": unit_id, "observed_at": stamp(observed_at, ago=ago, timespec="milliseconds"),
              "lon": "112.43", "lat": "39.33", "status": "available"}
    fields.update(overrides)
    return fields


def sensor(event_id: str, device_id: str, kind: str = "alert", *, ago: timedelta = timedelta(seconds=1),
           **overrides: str) -> dict[str, str]:
    """A valid ``{cc}:in:sensors`` entry (an alert needs ``scenario=``)."""
    fields = {"event_id": event_id, "device_id": device_id, "observed_at": stamp(ago=ago), "kind": kind}
    fields.update(overrides)
    return fields
