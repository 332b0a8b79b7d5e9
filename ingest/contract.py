"""The ingest contract: what producers write to the ``{cc}:in:*`` streams.

The models below are the single definition; ``python -m ingest.contract``
prints their JSON Schema (committed as docs/ingest.schema.json, checked by a
test). Every field arrives as a Redis stream string; the models parse it.
"""

from __future__ import annotations

import json
import math
from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError, model_validator

from bus import keys
from dispatch.lifecycle import Outcome
from geo.scenarios import scenarios
from revisits.results import VisitResult
from sensors.snapshots import MAX_BYTES as SNAPSHOT_MAX_BYTES
from sensors.snapshots import MAX_FIELD_CHARS as SNAPSHOT_MAX_CHARS

MAX_FIELD_BYTES = 4096  # any single field longer than this is refused outright


class Category(StrEnum):
    """Incident categories (the seeds' dispute kinds first)."""

    NEIGHBOUR_DISPUTE = "neighbour_dispute"
    FAMILY_DISPUTE = "family_dispute"
    WAGE_ARREARS = "wage_arrears"
    BRIDE_PRICE = "bride_price"
    NOISE = "noise"
    THEFT = "theft"
    FRAUD = "fraud"
    TRAFFIC = "traffic"
    FIGHT = "fight"
    FIRE = "fire"
    MEDICAL = "medical"
    OTHER = "other"


class Source(StrEnum):
    POLICE_110 = "110"
    HOTLINE_12345 = "12345"
    GRID = "grid"
    SENSOR = "sensor"  # a sensor alert the duty officer confirmed


class Datum(StrEnum):
    WGS84 = "wgs84"
    GCJ02 = "gcj02"


class SensorKind(StrEnum):
    HEARTBEAT = "heartbeat"
    ALERT = "alert"
    FAULT = "fault"


class UnitStatus(StrEnum):
    AVAILABLE = "available"
    BUSY = "busy"
    OFF = "off"


def _aware(value: datetime) -> datetime:
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError("timestamp must carry a UTC offset, e.g. 2026-11-27T08:00:00+08:00")
    return value


def _finite(value: float) -> float:
    if not math.isfinite(value):
        raise ValueError("must be a finite number")
    return value


AwareDatetime = Annotated[datetime, AfterValidator(_aware)]
Longitude = Annotated[float, Field(ge=73.0, le=136.0), AfterValidator(_finite)]
Latitude = Annotated[float, Field(ge=3.0, le=54.0), AfterValidator(_finite)]
EventId = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9._:\-]+$")]
ShortId = Annotated[str, Field(min_length=1, max_length=32, pattern=r"^[A-Za-z0-9._:\-]+$")]


class _Contract(BaseModel):
    # Unknown fields are kept out (ignored), not refused: producers may add their own.
    model_config = ConfigDict(extra="ignore", str_strip_whitespace=True, frozen=True)

    sent_at: float | None = Field(
        default=None, description="Optional: producer's send time, epoch milliseconds (for latency figures)."
    )


class IncidentIn(_Contract):
    """An incident from the 110 platform, the 12345 hotline or a grid worker (``{cc}:in:incidents``)."""

    event_id: EventId = Field(description="Producer's unique id; a repeat is ignored.")
    reported_at: AwareDatetime = Field(description="ISO-8601 with offset.")
    lon: Longitude = Field(description="Decimal degrees, WGS-84 unless datum=gcj02.")
    lat: Latitude
    datum: Datum = Datum.WGS84
    category: Category
    priority: int = Field(ge=1, le=3, description="1 urgent, 2 normal, 3 low.")
    address: str = Field(min_length=1, max_length=200)
    description: str = Field(default="", max_length=2000)
    caller: str | None = Field(default=None, max_length=32, pattern=r"^[0-9+\- ]*$",
                               description="Caller's number; masked on screen.")
    source: Source
    history: bool = Field(default=False, description="Backfilled history: kept in the record, never pushed to "
                                                       "screens or checked by the instant warning rules.")


class SensorEventIn(_Contract):
    """A reading from the sensor platform: alerts and faults on ``{cc}:in:sensors``, heartbeats on
    ``{cc}:in:heartbeats`` (the same fields on both)."""

    event_id: EventId
    device_id: ShortId
    observed_at: AwareDatetime
    kind: SensorKind
    scenario: str | None = Field(default=None, max_length=32, description="Required for alerts; see scenarios.")
    value: Annotated[float, AfterValidator(_finite)] | None = Field(default=None, description="e.g. smoke mg/m³.")
    floor: int | None = Field(default=None, ge=-5, le=100)
    snapshot: str | None = Field(
        default=None, max_length=SNAPSHOT_MAX_CHARS,
        description=f"Optional, alerts from a device with a camera: what it saw, a JPEG, PNG or WebP picture in "
                    f"base64, at most {SNAPSHOT_MAX_BYTES // 1024} KiB decoded. Checked on its own: a bad picture is "
                    "refused (a dead letter says why) and the alert kept without it.")

    @model_validator(mode="after")
    def _scenario_known(self) -> SensorEventIn:
        if self.kind is SensorKind.ALERT:
            if not self.scenario:
                raise ValueError("an alert needs a scenario")
            if self.scenario not in scenarios():
                raise ValueError(f"unknown scenario {self.scenario!r}")
        return self


class UnitPositionIn(_Contract):
    """A patrol unit's GPS fix (``{cc}:in:units``); an older fix than the last one kept is ignored."""

    unit_id: ShortId
    observed_at: AwareDatetime
    lon: Longitude
    lat: Latitude
    datum: Datum = Datum.WGS84
    status: UnitStatus
    heading: float | None = Field(default=None, ge=0, le=360)
    speed: float | None = Field(default=None, ge=0, le=300, description="km/h")


class PositionSource(StrEnum):
    TERMINAL = "terminal"  # a community officer's police terminal
    PHONE = "phone"  # a grid worker's phone


class PositionIn(_Contract):
    """A person's position (``{cc}:in:positions``): a community officer's terminal or a grid worker's phone. Kept
    (not hot state like a unit's fix): their time in their community is judged from it; a repeat adds nothing."""

    person_id: ShortId = Field(description="A roster id (geo/roster.py), e.g. CO-SC-001 or GW-SC-001.")
    observed_at: AwareDatetime
    lon: Longitude
    lat: Latitude
    datum: Datum = Datum.WGS84
    accuracy: Annotated[float, AfterValidator(_finite)] | None = Field(
        default=None, ge=0, le=10_000, description="Metres (the fix's horizontal accuracy).")
    source: PositionSource


class FeedbackStep(StrEnum):
    RECEIVED = "received"
    EN_ROUTE = "en_route"
    ON_SCENE = "on_scene"
    RESULT = "result"


class FeedbackIn(_Contract):
    """A field unit's answer to an instruction (``{cc}:in:feedback``)."""

    event_id: EventId
    instruction_id: ShortId
    unit_id: ShortId
    at: AwareDatetime
    step: FeedbackStep
    outcome: Outcome | None = Field(default=None, description="With step=result.")
    note: str = Field(default="", max_length=1000)

    @model_validator(mode="after")
    def _outcome_with_result(self) -> FeedbackIn:
        if self.step is FeedbackStep.RESULT and self.outcome is None:
            raise ValueError("a result needs an outcome")
        return self


class RevisitCallIn(_Contract):
    """An outside call centre's return-visit call (``{cc}:in:revisits``), the shape of ``{cc}:in:feedback``: one
    entry per call; an unanswered one is ``unreachable`` (the third ends the visit)."""

    event_id: EventId
    visit_id: ShortId = Field(description="From {cc}:out:revisits.")
    agent: ShortId = Field(description="Who called, at the call centre.")
    at: AwareDatetime
    result: VisitResult
    note: str = Field(default="", max_length=500, description="Required when not satisfied or the problem persists.")


# Fields allowed more than MAX_FIELD_BYTES (a camera alert's picture); their models check them further.
FIELD_LIMITS = {"snapshot": SNAPSHOT_MAX_CHARS}


class ContractError(ValueError):
    """An entry that breaks the contract; ``reason`` is what goes to the dead-letter stream."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def parse(model: type[_Contract], fields: dict[str, str]) -> Any:
    """Validate raw stream fields against ``model``, or raise :class:`ContractError`."""
    oversized = [k for k, v in fields.items() if len(v) > FIELD_LIMITS.get(k, MAX_FIELD_BYTES) or len(k) > 64]
    if oversized:
        raise ContractError(f"oversized field: {oversized[0][:64]}")
    cleaned = {k: v for k, v in fields.items() if v != ""}
    try:
        return model.model_validate(cleaned)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "entry"
        raise ContractError(f"{where}: {first['msg']}") from None


def json_schema() -> dict[str, Any]:
    """The contract as one JSON Schema document (one definition per stream)."""
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "Ping'an Command ingest contract",
        "description": "Fields of entries written with XADD to each inbound Redis stream. "
                       "All values are sent as strings; numbers and timestamps are parsed.",
        "streams": {
            keys.INCIDENTS: IncidentIn.model_json_schema(),
            keys.SENSORS: SensorEventIn.model_json_schema(),
            keys.HEARTBEATS: SensorEventIn.model_json_schema(),
            keys.UNITS: UnitPositionIn.model_json_schema(),
            keys.FEEDBACK: FeedbackIn.model_json_schema(),
            keys.REVISIT_CALLS: RevisitCallIn.model_json_schema(),
            keys.POSITIONS: PositionIn.model_json_schema(),
        },
    }


if __name__ == "__main__":
    print(json.dumps(json_schema(), ensure_ascii=False, indent=2))
