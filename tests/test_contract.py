"""The ingest contract: what is accepted, what is refused and why."""

from __future__ import annotations

import json

import pytest

from bus import keys
from ingest.contract import ContractError, IncidentIn, SensorEventIn, UnitPositionIn, json_schema, parse
from settings import PROJECT_ROOT
from testkit.entries import incident, stamp, unit


def test_contract001_valid_incident_parses() -> None:
    parsed = parse(IncidentIn, incident("E-1", description="<script>alert(1)</script>"))
    assert parsed.event_id == "E-1"
    assert parsed.priority == 2
    assert parsed.description == "<script>alert(1)</script>"  # kept verbatim; rendered as text


@pytest.mark.parametrize(
    ("override", "reason"),
    [
        ({"event_id": ""}, "event_id"),
        ({"event_id": "x" * 65}, "event_id"),
        ({"event_id": "bad id with spaces"}, "event_id"),
        ({"reported_at": stamp()[:19]}, "offset"),  # a time without its UTC offset
        ({"reported_at": "yesterday"}, "reported_at"),
        ({"lon": "east"}, "lon"),
        ({"lat": "NaN"}, "lat"),
        ({"lon": "200"}, "lon"),
        ({"category": "alien_landing"}, "category"),
        ({"priority": "0"}, "priority"),
        ({"priority": "4"}, "priority"),
        ({"source": "twitter"}, "source"),
        ({"address": "a" * 201}, "address"),
        ({"caller": "<b>1</b>"}, "caller"),
        ({"description": "x" * 5000}, "oversized"),
    ],
)
def test_contract002_bad_incidents_are_refused_with_a_reason(override: dict[str, str], reason: str) -> None:
    with pytest.raises(ContractError) as exc:
        parse(IncidentIn, incident("E-1") | override)
    assert reason in exc.value.reason


def test_contract003_missing_field_is_named() -> None:
    fields = incident("E-1")
    del fields["category"]
    with pytest.raises(ContractError, match="category"):
        parse(IncidentIn, fields)


def test_contract004_sensor_alert_needs_a_known_scenario() -> None:
    base = {"event_id": "S-1", "device_id": "CAM-002", "observed_at": stamp()}
    assert parse(SensorEventIn, base | {"kind": "heartbeat"}).scenario is None
    assert parse(SensorEventIn, base | {"kind": "alert", "scenario": "smoke", "value": "0.2"}).value == 0.2
    with pytest.raises(ContractError, match="scenario"):
        parse(SensorEventIn, base | {"kind": "alert"})
    with pytest.raises(ContractError, match="unknown scenario"):
        parse(SensorEventIn, base | {"kind": "alert", "scenario": "ufo"})


def test_contract005_unit_fix() -> None:
    fix = parse(UnitPositionIn, unit("PU-001", heading="90", speed="30"))
    assert (fix.heading, fix.speed, fix.status.value) == (90, 30, "available")
    with pytest.raises(ContractError, match="status"):
        parse(UnitPositionIn, unit("PU-001", status="asleep"))


def test_contract006_committed_schema_is_generated_from_the_models() -> None:
    committed = json.loads((PROJECT_ROOT / "docs" / "ingest.schema.json").read_text(encoding="utf-8"))
    assert committed == json_schema()
    assert set(committed["streams"]) == set(keys.INBOUND)
