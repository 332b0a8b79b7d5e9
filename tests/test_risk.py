"""The risk model and the early-warning rules: each rule's boundary, idempotent runs, leads."""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime, timedelta
from typing import Any

import pandas as pd
import pytest
import redis
from sqlalchemy import Engine, func, select

from bus import keys
from bus.outbox import OutboxRelay
from clock import BEIJING
from geo.devices import DeviceRegistry
from geo.index import GridIndex
from risk.engine import RiskEngine
from risk.leads import LeadRefused, LeadService
from risk.model import History, grid_scores, load_config
from risk.rules import RULES, Context, normalise_address, run_rules
from store.db import incidents, leads

NOW = datetime(2026, 11, 27, 2, 0, tzinfo=UTC)  # 10:00 in Beijing
pytestmark = pytest.mark.time_machine(NOW, tick=False)  # rules and clocks are read at this moment
GRID = "SC-048"
OTHER = "SC-500"
SEAT = (112.432, 39.331)


def inc(n: int, category: str = "theft", grid: str = GRID, hours_ago: float = 1.0, caller: str | None = None,
        address: str | None = None, lon: float = SEAT[0], lat: float = SEAT[1], priority: int = 2,
        source: str = "110", at: datetime | None = None) -> dict[str, Any]:
    return {"event_id": f"{category[:3]}-{grid}-{n}-{hours_ago}", "reported_at": at or NOW - timedelta(hours=hours_ago),
            "grid": grid, "category": category, "priority": priority, "address": address or f"开发路{n}号",
            "caller": caller, "source": source, "lon": lon, "lat": lat}


def history(rows: list[dict[str, Any]], alerts: list[dict[str, Any]] | None = None) -> History:
    frame = pd.DataFrame(rows, columns=["event_id", "reported_at", "grid", "category", "priority", "address", "caller",
                                        "source", "lon", "lat"])
    frame["reported_at"] = pd.to_datetime(frame["reported_at"], utc=True)
    alert_frame = pd.DataFrame(alerts or [], columns=["event_id", "device_id", "at", "scenario", "grid", "verdict"])
    alert_frame["at"] = pd.to_datetime(alert_frame["at"], utc=True)
    return History(frame, alert_frame)


def rule(name: str, rows: list[dict[str, Any]], alerts: list[dict[str, Any]] | None = None,
         devices: DeviceRegistry | None = None, health: dict[str, str] | None = None) -> list:  # type: ignore[type-arg]
    cfg = {**load_config()["rules"][name], "name": name}
    return RULES[name](Context(history(rows, alerts), NOW, devices, health or {}), cfg)


@pytest.fixture(scope="module")
def devices() -> DeviceRegistry:
    return DeviceRegistry()


@pytest.fixture(scope="module")
def grids() -> GridIndex:
    return GridIndex()


# -- each rule's boundary ----------------------------------------------------------

@pytest.mark.parametrize(("current", "fires"), [(1299, False), (1301, True)], ids=["29.9%", "30.1%"])
def test_risk001_growth_boundary(current: int, fires: bool) -> None:
    before = [inc(n, hours_ago=24 * 7 + 1 + n % 100) for n in range(1000)]
    now = [inc(n, hours_ago=1 + n % 100) for n in range(current)]
    found = rule("growth", before + now)
    assert bool(found) is fires
    if fires:
        assert found[0].facts["percent"] == 30.1 and found[0].level == "medium"


def test_risk002_growth_doubling_is_high() -> None:
    found = rule("growth", [inc(n, hours_ago=200) for n in range(5)] + [inc(n, hours_ago=2) for n in range(11)])
    assert [f.level for f in found] == ["high"]


@pytest.mark.parametrize(("reports", "fires"), [(2, False), (3, True)])
def test_risk003_same_address_boundary(reports: int, fires: bool) -> None:
    typed = (" 朔城区 开发路 12号 ", "开发路12号")
    rows = [inc(n, address=typed[n % 2], hours_ago=24 * n + 1) for n in range(reports)]
    rows.append(inc(99, address="开发路12号", hours_ago=24 * 8))  # outside the 7-day window
    assert bool(rule("repeat_location", rows)) is fires


def test_risk004_same_place_within_50_m_although_typed_differently() -> None:
    metres = 1 / (111_320 * math.cos(math.radians(SEAT[1])))  # of longitude, at the seat
    near = [inc(n, address=f"门牌{n}", lon=SEAT[0] + n * 15 * metres) for n in range(3)]  # 0, 15, 30 m apart
    far = [inc(10 + n, address=f"楼{n}", lon=SEAT[0] + 0.01 + n * 60 * metres) for n in range(3)]  # 60 m apart
    found = rule("repeat_location", near + far)
    assert [sorted(f.evidence) for f in found] == [sorted(r["event_id"] for r in near)]
    assert normalise_address("山西省朔州市朔城区 开发路，12号") == "开发路12号"


@pytest.mark.parametrize(("calls", "fires"), [(1, False), (2, True)])
def test_risk005_family_calling_again_warns_on_the_second_call(calls: int, fires: bool) -> None:
    rows = [inc(n, category="family_dispute", caller="13800000001", hours_ago=10 - n) for n in range(calls)]
    rows.append(inc(50, category="noise", caller="13800000001"))  # another kind of call does not count
    found = rule("family_repeat", rows)
    assert bool(found) is fires
    if fires:
        assert found[0].level == "high" and "13800000001" not in found[0].key  # no number in keys


@pytest.mark.parametrize(("calls", "fires"), [(2, False), (3, True)])
def test_risk006_frequent_caller_boundary(calls: int, fires: bool) -> None:
    rows = [inc(n, category=("noise", "theft", "other")[n], caller="13900000002", hours_ago=n + 1)
            for n in range(calls)]
    assert bool(rule("repeat_caller", rows)) is fires


@pytest.mark.parametrize(("name", "category"), [
    ("dispute_cluster", "neighbour_dispute"), ("wage_arrears", "wage_arrears"), ("bride_price", "bride_price"),
    ("fight_escalation", "fight"), ("fraud_wave", "fraud"),
])
def test_risk007_per_grid_count_boundaries(name: str, category: str) -> None:
    threshold = load_config()["rules"][name]["threshold"]  # n - 1 reports: nothing; n: a warning
    below = [inc(n, category=category, hours_ago=n + 1) for n in range(threshold - 1)]
    assert rule(name, below) == []
    found = rule(name, [*below, inc(99, category=category, hours_ago=0.5)])
    assert [(f.rule, f.grid, len(f.evidence)) for f in found] == [(name, GRID, threshold)]
    window = load_config()["rules"][name]["window_days"]
    stale = [*below, inc(98, category=category, hours_ago=24 * window + 1)]  # just outside the window
    assert rule(name, stale) == []


def test_risk008_night_noise_counts_only_night_hours() -> None:
    night = datetime(2026, 11, 26, 15, 30, tzinfo=UTC)  # 23:30 in Beijing
    day = datetime(2026, 11, 26, 6, 0, tzinfo=UTC)  # 14:00 in Beijing
    two = [inc(n, category="noise", at=night - timedelta(minutes=n)) for n in range(2)]
    assert rule("night_noise", [*two, inc(9, category="noise", at=day)]) == []
    assert len(rule("night_noise", [*two, inc(8, category="noise", at=night + timedelta(hours=6))])) == 1  # 05:30


def test_risk009_sensor_rules(devices: DeviceRegistry) -> None:
    def alert(n: int, device: str, scenario: str = "fight", verdict: str | None = None) -> dict[str, Any]:
        return {"event_id": f"AL-{device}-{n}", "device_id": device, "at": NOW - timedelta(hours=n + 1),
                "scenario": scenario, "grid": devices.get(device).grid, "verdict": verdict}  # type: ignore[union-attr]

    two = [alert(n, "BHV-001") for n in range(2)]
    assert rule("sensor_repeat", [], [*two, alert(5, "BHV-001", verdict="false_alarm")], devices=devices) == []
    assert len(rule("sensor_repeat", [], [*two, alert(5, "BHV-001")], devices=devices)) == 1
    wedding = sorted(d.device_id for d in devices.devices.values() if d.site_kind == "wedding_hotel")
    same_grid = [d for d in wedding if devices.get(d).grid == devices.get(wedding[0]).grid]  # type: ignore[union-attr]
    crowd = [alert(n, same_grid[0], "crowd_gathering") for n in range(1)]
    assert rule("wedding_crowding", [], crowd, devices=devices) == []
    assert len(rule("wedding_crowding", [], [*crowd, alert(3, same_grid[-1], "crowd_gathering")], devices=devices)) == 1
    compound = sorted(d.device_id for d in devices.devices.values() if d.compound == "CP-03")
    assert rule("compound_offline", [], devices=devices, health=dict.fromkeys(compound[:2], "offline")) == []
    assert len(rule("compound_offline", [], devices=devices, health=dict.fromkeys(compound[:3], "faulty"))) == 1


def test_risk010_thirteen_rules_each_switchable() -> None:
    config = load_config()
    assert len(config["rules"]) >= 12 and set(config["rules"]) == set(RULES)
    rows = [inc(n, category="fight", hours_ago=n + 1) for n in range(config["rules"]["fight_escalation"]["threshold"])]
    assert any(f.rule == "fight_escalation" for f in run_rules(Context(history(rows), NOW), config))
    off = {**config, "rules": {**config["rules"], "fight_escalation": {
        **config["rules"]["fight_escalation"], "enabled": False}}}
    assert not any(f.rule == "fight_escalation" for f in run_rules(Context(history(rows), NOW), off))


# -- the score -------------------------------------------------------------------------

def test_risk011_grade_is_relative_to_the_grids_own_baseline() -> None:
    # Both grids have 12 thefts this week; GRID usually has 1 a week (and had all 12 today), OTHER usually 12.
    rows = [inc(n, grid=GRID, hours_ago=2 + n) for n in range(12)]
    rows += [inc(100 + n, grid=OTHER, hours_ago=2 + 14 * n) for n in range(12)]  # spread over the week
    rows += [inc(200 + w, grid=GRID, hours_ago=24 * (8 + 7 * w)) for w in range(50)]
    rows += [inc(300 + w * 12 + k, grid=OTHER, hours_ago=24 * (8 + 7 * w) + k) for w in range(50) for k in range(12)]
    rows += [inc(900, category="family_dispute", grid=GRID, hours_ago=3, caller="1"),
             inc(901, category="family_dispute", grid=GRID, hours_ago=2, caller="1")]
    frame = grid_scores(history(rows), NOW, 7)
    assert frame.at[GRID, "grade"] == "high" and frame.at[OTHER, "grade"] == "low"
    assert frame.at[OTHER, "ratio"] == pytest.approx(1.0, rel=0.25)  # as usual
    factors = [key for key, _ in frame.at[GRID, "factors"]]
    assert factors[0] == "category:theft" and "repeat_calls" in factors


# -- runs and leads (system of record, Redis) ----------------------------------------------

@pytest.fixture
def risk(engine: Engine, r: redis.Redis, grids: GridIndex, devices: DeviceRegistry) -> RiskEngine:

    relay = OutboxRelay(engine, r).relay
    return RiskEngine(engine, r, devices, LeadService(engine, grids, relay=relay, clock=lambda: NOW),
                      clock=lambda: NOW)


def store(engine: Engine, rows: list[dict[str, Any]]) -> None:
    with engine.begin() as conn:
        conn.execute(incidents.insert(), [{**row, "stream_id": "1-0", "ingested_at": row["reported_at"],
                                           "description": "", "status": "new"} for row in rows])


def test_risk012_a_run_is_idempotent_and_leads_carry_evidence(risk: RiskEngine, engine: Engine,
                                                             r: redis.Redis) -> None:
    fights = [inc(n, category="fight", hours_ago=n + 1, priority=1) for n in range(3)]
    store(engine, fights)
    first = risk.run()
    assert first.leads_created >= 1 and risk.run().leads_created == 0
    with engine.connect() as conn:
        rows = conn.execute(select(leads).where(leads.c.rule == "fight_escalation")).mappings().all()
    assert len(rows) == 1
    lead = rows[0]
    assert (lead["level"], lead["target"], lead["state"]) == ("high", "station", "pushed")
    assert lead["deadline"].replace(tzinfo=UTC) - NOW == timedelta(hours=1)
    out = [f for _, f in r.xrange(keys.OUT_LEADS) if f["rule"] == "fight_escalation"]
    assert len(out) == 1 and sorted(json.loads(out[0]["evidence"])) == sorted(f["event_id"] for f in fights)
    assert set(out[0]) >= {"lead_id", "rule", "grid", "level", "target", "deadline", "evidence"}
    assert json.loads(r.hget(keys.RISK_GRADES, "7d") or "{}")  # the heatmap has something to show


def test_risk013_lead_is_acknowledged_then_handled_with_a_result(risk: RiskEngine, engine: Engine) -> None:
    store(engine, [inc(n, category="bride_price", hours_ago=n + 1, lon=SEAT[0] + 0.01 * n) for n in range(4)])
    risk.run()
    lead = risk.leads.open_leads()[0]
    assert (lead["level"], lead["target"]) == ("medium", "grid_worker")
    with pytest.raises(LeadRefused):
        risk.leads.handle(lead["lead_id"], "wang", "  ", useful=True)
    risk.leads.acknowledge(lead["lead_id"], "wang")
    with pytest.raises(LeadRefused):
        risk.leads.acknowledge(lead["lead_id"], "wang")
    done = risk.leads.handle(lead["lead_id"], "wang", "已调解", useful=True)
    assert done["state"] == "handled" and risk.leads.open_leads() == []


def test_risk014_the_second_family_call_warns_at_once_through_the_consumer(
    risk: RiskEngine, engine: Engine, r: redis.Redis, grids: GridIndex, devices: DeviceRegistry
) -> None:
    from ingest.consumer import Consumer
    from testkit.entries import incident
    from tests.test_consumer import drain

    consumer = Consumer(r, engine, grids, devices, on_incidents=risk.check_incidents)
    consumer.ensure_groups()
    for n in (1, 2):  # backfilled history is kept, never checked by the instant rules
        # Another household: family_repeat links the same address too, and FAM-1 is at the default one.
        r.xadd(keys.INCIDENTS, incident(f"HIS-{n}", category="family_dispute", caller="13900000000", history="1",
                                        address="朔城区民福街3号"))
    r.xadd(keys.INCIDENTS, incident("FAM-1", category="family_dispute", caller="13811112222"))
    drain(consumer)
    assert risk.leads.open_leads() == []
    r.xadd(keys.INCIDENTS, incident("FAM-2", category="family_dispute", caller="13811112222"))
    drain(consumer)
    [lead] = risk.leads.open_leads()
    assert (lead["rule"], lead["level"], lead["evidence"]) == ("family_repeat", "high", ["FAM-1", "FAM-2"])
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(leads)).scalar_one() == 1


def test_risk015_weekly_review_figures(risk: RiskEngine, engine: Engine) -> None:
    from risk.review import weekly_review

    store(engine, [inc(n, category="fight", hours_ago=n + 1, lon=SEAT[0] + 0.01 * n) for n in range(3)])
    store(engine, [inc(10 + n, category="fraud", grid=OTHER, hours_ago=24 * 8 + n) for n in range(4)])  # last week
    risk.run()
    [lead] = [x for x in risk.leads.open_leads() if x["rule"] == "fight_escalation"]
    risk.leads.handle(lead["lead_id"], "wang", "已处置", useful=False)  # within its hour
    review = weekly_review(engine, NOW - timedelta(days=7), NOW + timedelta(hours=1))
    high = next(row for row in review["disposal"] if row["level"] == "high")
    assert (high["created"], high["handled"], high["on_time"], high["rate"], high["target"]) == (1, 1, 1, 1.0, 1.0)
    fights = next(row for row in review["precision"] if row["rule"] == "fight_escalation")
    assert (fights["useful"], fights["not_useful"], fights["precision"]) == (0, 1, 0.0)
    change = {row["grid"]: (row["this"], row["last"], row["delta"]) for row in review["change"]}
    assert change[GRID] == (3, 0, 3) and change[OTHER] == (0, 4, -4)


def test_risk016_daily_run_time_is_configurable(risk: RiskEngine) -> None:
    hour, minute = (int(x) for x in load_config()["daily_run_at"].split(":"))
    due = datetime(2026, 11, 27, hour, minute, tzinfo=BEIJING)
    risk.clock = lambda: due - timedelta(hours=1)
    assert risk._seconds_to_next_run() == 3600
    risk.clock = lambda: due + timedelta(seconds=1)  # just after: tomorrow
    assert risk._seconds_to_next_run() == 24 * 3600 - 1
