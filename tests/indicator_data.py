"""One constructed Beijing day (Tuesday 2026-11-24) whose indicators are worked out by hand.

Used by the indicator tests (pure and through the database) and by the report tests, so a
report's figures are checked against the same hand-made expectations.

Grid ``G1`` belongs to station ``S1`` and grid ``G2`` to ``S2`` (tests pass real codes).
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import Engine

from clock import BEIJING
from store.db import alert_verifications, incidents, instructions, leads, sensor_events

# The morning after the constructed day: tests that use it run at this frozen moment.
AT = "2026-11-25T09:00:00+08:00"
pytestmark = pytest.mark.time_machine(AT, tick=False)
DAY = date(2026, 11, 24)
WEEK_BEFORE = DAY - timedelta(days=7)


def bj(day: date, hour: int, minute: int = 0, second: int = 0) -> datetime:
    """A Beijing wall-clock time as an aware UTC datetime."""
    return datetime(day.year, day.month, day.day, hour, minute, second, tzinfo=BEIJING).astimezone(UTC)


def incident_rows(g1: str, g2: str) -> list[dict[str, Any]]:
    def row(n: int, at: datetime, grid: str, category: str, address: str, description: str = "情况说明",
            caller: str | None = "13800000000", source: str = "110") -> dict[str, Any]:
        return {"event_id": f"IND-{n}", "reported_at": at, "grid": grid, "category": category, "address": address,
                "description": description, "caller": caller, "source": source}

    return [
        # The day: six incidents, three at one place written three ways (a repeat), two incomplete.
        row(1, bj(DAY, 8, 10), g1, "theft", "朔城区A街1号"),
        row(2, bj(DAY, 9, 20), g1, "theft", "朔城区 A街1号"),
        row(3, bj(DAY, 9, 40), g1, "theft", "山西省朔州市朔城区A街1号"),
        row(4, bj(DAY, 14, 5), g2, "fight", "B路2号", description=""),  # no description: incomplete
        row(5, bj(DAY, 14, 30), g2, "fight", "C巷3号", caller=None),  # a 110 call without a number
        row(6, bj(DAY, 22, 0), g2, "noise", "D小区4栋", caller=None, source="grid"),  # grid reports need none
        # The same weekday a week earlier: four.
        *(row(10 + n, bj(WEEK_BEFORE, 8 + n), g1, "noise", f"E街{n}号") for n in range(4)),
        # Outside both periods: ignored.
        row(20, bj(DAY + timedelta(days=1), 1), g1, "theft", "F街"),
    ]


def instruction_rows() -> list[dict[str, Any]]:
    """Instructions for incidents 1-6 (``incident`` names the incident they answer)."""
    def ins(name: str, incident: int, issued: datetime, due_min: int, on_scene: datetime | None,
            result: datetime | None, finished: datetime | None, state: str) -> dict[str, Any]:
        return {"instruction_id": name, "incident": incident, "issued_at": issued,
                "arrival_due": issued + timedelta(minutes=due_min), "on_scene_at": on_scene, "result_at": result,
                "result_due": on_scene + timedelta(minutes=15) if on_scene else None, "finished_at": finished,
                "state": state}

    return [
        # On scene in 4 min (due 5), result after 10 (due 15): on time twice.
        ins("I1", 1, bj(DAY, 10), 5, bj(DAY, 10, 4), bj(DAY, 10, 14), bj(DAY, 10, 20), "closed"),
        # Outlying (15 min): on scene after 20, result after 30: late twice.
        ins("I2", 2, bj(DAY, 11), 15, bj(DAY, 11, 20), bj(DAY, 11, 50), bj(DAY, 11, 55), "closed"),
        # On scene after 8 (late); no result yet, its 15 minutes long gone: open and overdue.
        ins("I3", 4, bj(DAY, 12), 5, bj(DAY, 12, 8), None, None, "on_scene"),
        # Issued at 23:50, due 23:55, nobody there at midnight: open and overdue.
        ins("I4", 6, bj(DAY, 23, 50), 5, None, None, None, "en_route"),
        # The day before, finished the day before: not this day's.
        ins("I5", 3, bj(DAY - timedelta(days=1), 20), 5, bj(DAY - timedelta(days=1), 20, 3),
            bj(DAY - timedelta(days=1), 20, 10), bj(DAY - timedelta(days=1), 20, 30), "closed"),
        # Cancelled before arriving.
        ins("I6", 5, bj(DAY, 13), 5, None, None, bj(DAY, 13, 2), "cancelled"),
    ]


def lead_rows(g1: str, g2: str) -> list[dict[str, Any]]:
    def lead(name: str, grid: str, level: str, created: datetime, handled: datetime | None) -> dict[str, Any]:
        hours = 1 if level == "high" else 4
        return {"lead_id": name, "grid": grid, "level": level, "created_at": created,
                "deadline": created + timedelta(hours=hours), "handled_at": handled}

    return [
        lead("L1", g1, "high", bj(DAY, 9), bj(DAY, 9, 30)),  # handled on time
        lead("L2", g2, "high", bj(DAY, 14), bj(DAY, 15, 30)),  # handled late
        lead("L3", g2, "high", bj(DAY, 20), None),  # not handled
        lead("L4", g1, "medium", bj(DAY, 10), None),
    ]


def alert_rows(g1: str, g2: str) -> list[dict[str, Any]]:
    def alert(name: str, grid: str, at: datetime, seconds: float | None) -> dict[str, Any]:
        return {"event_id": name, "grid": grid, "ingested_at": at, "seconds_to_verify": seconds,
                "verified_at": at + timedelta(seconds=seconds) if seconds is not None else None}

    return [
        alert("A1", g1, bj(DAY, 8), 30.0),  # verified within the minute
        alert("A2", g1, bj(DAY, 9), 90.0),  # verified late
        alert("A3", g2, bj(DAY, 23, 59, 30), None),  # never verified (its minute ends after midnight)
        alert("A4", g2, bj(DAY, 10), None),  # never verified
    ]


def queue_rows(g1: str, g2: str) -> list[dict[str, Any]]:
    """The alert queue at the day's end: alerts of its last 24 hours with no verdict by then."""
    return [{k: a[k] for k in ("event_id", "grid", "ingested_at")} for a in alert_rows(g1, g2)
            if a["verified_at"] is None]


def pending_rows(g1: str, g2: str) -> list[dict[str, Any]]:
    """The leads board at the day's end: leads not handled by then."""
    return [{k: r[k] for k in ("lead_id", "grid", "level", "deadline")} for r in lead_rows(g1, g2)
            if r["handled_at"] is None]


# Worked out by hand from the rows above (the whole district, the day DAY, read two days later).
EXPECTED: dict[str, Any] = {
    "incidents": 6, "comparison": 4, "change": 0.5, "by_category": {"theft": 3, "fight": 2, "noise": 1},
    "repeat_incidents": 3, "repeat_places": 1,
    "issued": 5, "open": 2, "overdue": 2, "overdue_ids": ["I3", "I4"],
    "breaches": 3,  # I2 and I3 arrived late, I4 not at all by midnight; I6 was cancelled before its deadline
    "arrival_count": 3, "arrival_median": 8.0, "arrival_p90": 17.6, "arrival_on_time": 1 / 3,
    "result_count": 2, "result_median": 20.0, "result_p90": 28.0, "result_on_time": 0.5,
    "leads_high": 3, "leads_handled": 2, "leads_on_time": 1, "lead_disposal": 2 / 3, "leads_medium": 1,
    "alerts": 4, "alerts_due": 4, "alerts_within": 1, "verification": 1 / 4,
    "unverified": 2, "unverified_overdue": 1,  # A3 (its minute runs past midnight) and A4
    "pending": 2, "pending_late": 2,  # L3 and L4, both past their deadlines at midnight
    "complete": 4, "completeness": 4 / 6,
}


def insert_day(engine: Engine, g1: str, g2: str) -> None:
    """Write the constructed day into the system of record."""
    incident_list = incident_rows(g1, g2)
    by_number = {int(r["event_id"].split("-")[1]): r for r in incident_list}
    with engine.begin() as conn:
        conn.execute(incidents.insert(), [{
            **r, "stream_id": "1-0", "ingested_at": r["reported_at"], "lon": 112.4, "lat": 39.3, "priority": 2,
            "status": "closed"} for r in incident_list])
        conn.execute(instructions.insert(), [{
            "instruction_id": r["instruction_id"], "idempotency_key": r["instruction_id"],
            "incident_id": by_number[r["incident"]]["event_id"], "unit_id": f"U-{r['instruction_id']}",
            "state": r["state"], "text": "", "officer": "test", "zone": "urban", "issued_at": r["issued_at"],
            "arrival_due": r["arrival_due"], "on_scene_at": r["on_scene_at"], "result_at": r["result_at"],
            "result_due": r["result_due"], "finished_at": r["finished_at"]} for r in instruction_rows()])
        conn.execute(leads.insert(), [{
            **r, "dedupe_key": r["lead_id"], "rule": "repeat_location", "station": "S", "target": "station",
            "recipient": "x", "state": "handled" if r["handled_at"] else "pushed", "summary": "测试线索",
            "suggestion": "", "evidence": "[]"} for r in lead_rows(g1, g2)])
        conn.execute(sensor_events.insert(), [{
            "event_id": r["event_id"], "stream_id": "1-0", "device_id": "D-1", "observed_at": r["ingested_at"],
            "ingested_at": r["ingested_at"], "kind": "alert", "scenario": "smoke", "grid": r["grid"]}
            for r in alert_rows(g1, g2)])
        conn.execute(alert_verifications.insert(), [{
            "event_id": r["event_id"], "verdict": "dispatched", "verified_at": r["verified_at"], "verified_by": "t",
            "seconds_to_verify": r["seconds_to_verify"], "reason": ""}
            for r in alert_rows(g1, g2) if r["seconds_to_verify"] is not None])
