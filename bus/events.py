"""The live-event registry: every event screens receive on ``{cc}:live``, its payload, one way to publish.

A live event is one entry of the ``{cc}:live`` stream: ``type`` (one of :class:`Live`) plus a JSON
``data`` payload already fit for display (callers masked, WGS-84 positions, times as ISO-8601
UTC). The page scripts apply them by type; ``assets/pingan_events.js`` mirrors :class:`Live`
(``python -m bus.events`` writes it, a test checks it). Snapshots use the same payloads.

Adding an event type: a member of :class:`Live`, its payload builder here, ``python -m bus.events``,
and its handler in ``assets/pingan_live.js``.

Events are published directly (:func:`publish`, in the caller's Redis pipeline) or, when they
announce a database change, through the transactional outbox (:func:`bus.outbox.queue_event`);
both encode here and keep ``{cc}:live`` within one retention policy (:mod:`bus.keys`).
"""

from __future__ import annotations

import json
import sys
from datetime import datetime, timedelta
from enum import StrEnum
from pathlib import Path
from typing import Any, cast

import redis

from bus import keys
from bus.connection import OutFields
from geo.devices import VIDEO_TYPES, Device
from geo.scenarios import notifies_at_once, scenarios, verify_within_s
from media.store import Variant, media_url
from store.db import as_utc


class Live(StrEnum):
    """The types of live event, and what each ``data`` holds."""

    INCIDENT = "incident"  # incident_payload(): a newly kept incident
    INCIDENT_STATUS = "incident_status"  # {event_id, status}
    UNIT = "unit"  # a patrol unit's latest fix: {unit_id, lon, lat, status, heading, speed, observed_at}
    ALERT = "alert"  # alert_payload(): a sensor alert waiting for the duty officer's verdict
    FAULT = "fault"  # alert_payload() of a device's fault report
    ALERT_VERIFIED = "alert_verified"  # {event_id, verdict, incident_id, by, seconds}
    DEVICE_HEALTH = "device_health"  # {device_id, health, since}
    # {changed}: more devices changed at once than are announced one by one (sensors/health.py, BULK_ANNOUNCE); the
    # push hub replaces it with every device not online, {device_id: health} (a state event)
    DEVICE_HEALTH_ALL = "device_health_all"
    INSTRUCTION = "instruction"  # instruction_payload(): a dispatch instruction moved
    GRID_TASK = "grid_task"  # gridwork.tasks.task_payload(): a grid worker's task was made or moved
    LEAD = "lead"  # an early-warning lead (risk.leads.lead_payload)
    ESCALATION = "escalation"  # supervision.service.escalation_payload(): a late item escalated, or its response
    SUMMARY = "summary"  # supervision.weekly.payload(): the Monday summary, made (a state: the week's latest)
    REPORT = "report"  # reports.schedule.payload(): a scheduled report delivered (kind, key, due, made, late)
    RISK_GRADES = "risk_grades"  # {grades: {window: {grid: grade}}, at}
    INDICATORS = "indicators"  # {asof}; the push hub replaces it with the kept figures (a state event)
    COUNTERS = "counters"  # {dead_letters_added}


def mask_caller(caller: str | None) -> str | None:
    """Keep the first 3 and last 2 digits: enough to recognise a repeat caller."""
    if not caller:
        return None
    digits = caller.replace(" ", "").replace("-", "")
    if len(digits) <= 5:
        return "*" * len(digits)
    return digits[:3] + "*" * (len(digits) - 5) + digits[-2:]


def iso(value: datetime | str | None) -> str | None:
    """A stored time as ISO-8601 UTC (SQLite hands times back naive; every stored time is UTC)."""
    if value is None or isinstance(value, str):
        return value
    return as_utc(value).isoformat()


# An incident that reached the centre this long after it was reported is shown as a late report ("迟报").
LATE_REPORT = timedelta(minutes=30)


def incident_payload(row: dict[str, Any], sent_at: float | None = None) -> dict[str, Any]:
    ingested = row.get("ingested_at")
    late = ingested is not None and as_utc(ingested) - as_utc(row["reported_at"]) > LATE_REPORT
    payload = {
        "event_id": row["event_id"],
        "reported_at": iso(row["reported_at"]),
        "ingested_at": iso(row.get("ingested_at")),
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
        "late": late,
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
        "grid_told": notifies_at_once(row.get("scenario"), device.compound if device else None),
        "observed_at": as_utc(row["observed_at"]).isoformat(), "received_at": received.isoformat(),
        "verify_due": (received + timedelta(seconds=verify_within_s())).isoformat(),
        # What the camera saw (its picture's address; who may fetch it is the media route's to decide).
        "snapshot": media_url(Variant.PHOTO, row["snapshot"]) if row.get("snapshot") else None,
        "snapshot_refused": row.get("snapshot_refused"),
        "has_video": bool(device and device.type in VIDEO_TYPES),
    }


def instruction_payload(row: dict[str, Any]) -> dict[str, Any]:
    """An instruction as screens see it (clocks as ISO times; the page runs them)."""
    return {
        "instruction_id": row["instruction_id"], "incident_id": row["incident_id"], "unit_id": row["unit_id"],
        "state": row["state"], "outcome": row.get("outcome"), "zone": row["zone"],
        "issued_at": iso(row["issued_at"]), "arrival_due": iso(row["arrival_due"]),
        "on_scene_at": iso(row.get("on_scene_at")), "result_due": iso(row.get("result_due")),
        "finished_at": iso(row.get("finished_at")),
    }


def encode(kind: Live, payload: dict[str, Any]) -> dict[str, str]:
    """The stream fields of one live event."""
    return {"type": Live(kind).value, "data": json.dumps(payload, ensure_ascii=False, separators=(",", ":"))}


def decode(entry_id: str, fields: dict[str, str]) -> dict[str, Any]:
    return {"id": entry_id, "type": fields["type"], "data": json.loads(fields["data"])}


def publish(target: redis.Redis | redis.client.Pipeline, kind: Live, payload: dict[str, Any]) -> Any:
    """XADD one live event (in the caller's pipeline or transaction, if it is one)."""
    return target.xadd(keys.LIVE, cast(OutFields, encode(kind, payload)), maxlen=keys.LIVE_MAXLEN, approximate=True)


def trim(r: redis.Redis, machine_now_s: float) -> None:
    """Drop live events older than the retention (stream ids are machine time)."""
    # limit=0: an approximate trim otherwise stops after 10,000 entries, and a burst can add more.
    r.xtrim(keys.LIVE, minid=f"{int((machine_now_s - keys.LIVE_KEEP_S) * 1000)}-0", approximate=True, limit=0)


# -- the page scripts' copy ------------------------------------------------------------------------

SCRIPT = Path(__file__).resolve().parent.parent / "assets" / "pingan_events.js"


def page_script() -> str:
    """``assets/pingan_events.js``: the event types for the page scripts, generated from :class:`Live`."""
    members = "\n".join(f'    {member.name}: "{member.value}",' for member in Live)
    return ("/* Generated by `python -m bus.events` from bus/events.py (Live): do not edit by hand.\n"
            " * The live-event types the page scripts handle; a test checks this copy. */\n"
            "window.pingan = Object.assign({}, window.pingan, {\n"
            "  EVENTS: Object.freeze({\n"
            f"{members}\n"
            "  }),\n"
            "});\n")


if __name__ == "__main__":
    SCRIPT.write_text(page_script(), encoding="utf-8")
    print(f"wrote {SCRIPT}", file=sys.stderr)
