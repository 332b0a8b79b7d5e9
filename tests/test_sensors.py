"""Sensor alerts and device health against a real Redis and the system of record."""

from __future__ import annotations

import json
import threading
from datetime import UTC, datetime, timedelta, timezone

import pytest
import redis
from sqlalchemy import Engine, func, select

from dispatch.service import DispatchService
from geo.devices import DeviceRegistry
from geo.index import GridIndex
from sensors.alerts import AlertRefused, AlertService, Verdict
from sensors.health import DeviceHealth, Health, HealthMonitor
from sensors.stats import weekly
from store.audit import AuditLog
from store.db import alert_verifications, incidents, notifications, sensor_events
from streams import keys

SMOKE = "SMK-01-1-03"  # a smoke sensor in compound CP-01
CAMERA = "BHV-001"  # a behaviour terminal at a school
T0 = datetime(2026, 11, 23, 1, 0, tzinfo=UTC)  # a Monday, 09:00 in Beijing
CHINA = timezone(timedelta(hours=8))


@pytest.fixture(scope="module")
def grids() -> GridIndex:
    return GridIndex()


@pytest.fixture(scope="module")
def devices() -> DeviceRegistry:
    return DeviceRegistry()


@pytest.fixture
def service(engine: Engine, r: redis.Redis, grids: GridIndex, devices: DeviceRegistry) -> AlertService:
    dispatch = DispatchService(engine, r, grids)
    return AlertService(engine, devices, grids, relay=dispatch.relay, clock=lambda: T0 + timedelta(seconds=42))


def raise_alert(engine: Engine, devices: DeviceRegistry, event_id: str, device_id: str = SMOKE,
                scenario: str = "smoke", at: datetime = T0, value: float | None = 0.31) -> None:
    device = devices.get(device_id)
    assert device is not None
    with engine.begin() as conn:
        conn.execute(sensor_events.insert().values(
            event_id=event_id, stream_id="1-0", device_id=device_id, observed_at=at, ingested_at=at, kind="alert",
            scenario=scenario, value=value, floor=device.floor, grid=device.grid))


def test_sensor001_confirmed_alert_becomes_an_incident_and_tells_the_grid(
    service: AlertService, engine: Engine, r: redis.Redis, devices: DeviceRegistry
) -> None:
    raise_alert(engine, devices, "AL-1")
    assert [a["event_id"] for a in service.open_alerts()] == ["AL-1"]
    result = service.verify("AL-1", Verdict.DISPATCHED, "wang")
    assert (result.incident_id, result.seconds, result.late) == ("ALR-AL-1", 42.0, False)
    with engine.connect() as conn:
        incident = conn.execute(select(incidents).where(incidents.c.event_id == "ALR-AL-1")).mappings().one()
        sent = conn.execute(select(notifications).order_by(notifications.c.id)).mappings().all()
    device = devices.get(SMOKE)
    assert device is not None
    assert (incident["category"], incident["priority"], incident["source"], incident["grid"]) == (
        "fire", 1, "sensor", device.grid)
    assert [n["recipient_role"] for n in sent] == ["grid_worker", "property_manager"]
    # What the SMS gateway reads: the text a person receives, naming the place and the reference.
    messages = [f for _, f in r.xrange(keys.OUT_NOTIFY)]
    assert len(messages) == 2 and messages[1]["recipient"] == "CP-01 物业负责人"
    assert "CP-01 1号楼3层" in messages[0]["text"] and "AL-1" in messages[0]["text"] and "0.31" in messages[0]["text"]
    # Every screen learns the verdict and the new incident; the queue is empty.
    live = [(f["type"], json.loads(f["data"])) for _, f in r.xrange(keys.LIVE)]
    assert ("alert_verified", "AL-1") in [(kind, data.get("event_id")) for kind, data in live]
    assert ("incident", "ALR-AL-1") in [(kind, data.get("event_id")) for kind, data in live]
    assert service.open_alerts() == []
    assert any(rec["action"] == "alert.dispatched" and rec["actor"] == "wang" for rec in AuditLog(engine).records())


def test_sensor002_one_verdict_per_alert_even_when_two_officers_click_at_once(
    service: AlertService, engine: Engine, devices: DeviceRegistry
) -> None:
    raise_alert(engine, devices, "AL-2", device_id=CAMERA, scenario="fight", value=None)
    outcomes: list[str] = []
    barrier = threading.Barrier(2)

    def officer(name: str, verdict: Verdict) -> None:
        barrier.wait()
        try:
            service.verify("AL-2", verdict, name, reason="测试")
            outcomes.append("won")
        except AlertRefused as exc:
            outcomes.append(str(exc))

    threads = [threading.Thread(target=officer, args=("wang", Verdict.DISPATCHED)),
               threading.Thread(target=officer, args=("li", Verdict.FALSE_ALARM))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert outcomes.count("won") == 1
    assert any(o.startswith("已由") for o in outcomes)
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(alert_verifications)).scalar_one() == 1


def test_sensor003_false_alarm_needs_a_reason_and_tells_no_one(
    service: AlertService, engine: Engine, r: redis.Redis, devices: DeviceRegistry
) -> None:
    raise_alert(engine, devices, "AL-3")
    with pytest.raises(AlertRefused, match="原因"):
        service.verify("AL-3", Verdict.FALSE_ALARM, "wang", reason="  ")
    with pytest.raises(AlertRefused):
        service.verify("NO-SUCH", Verdict.FALSE_ALARM, "wang", reason="x")
    service.verify("AL-3", Verdict.FALSE_ALARM, "wang", reason="烹饪油烟")
    assert r.xlen(keys.OUT_NOTIFY) == 0
    rates = DeviceHealth(r, engine, devices).false_alarm_rates()
    assert rates == [{"device_id": SMOKE, "alerts": 1, "false_alarms": 1, "rate": 1.0}]


def test_sensor004_late_verdict_is_counted_late(engine: Engine, r: redis.Redis, grids: GridIndex,
                                                devices: DeviceRegistry) -> None:
    late = AlertService(engine, devices, grids, clock=lambda: T0 + timedelta(seconds=61))
    raise_alert(engine, devices, "AL-4")
    assert late.verify("AL-4", Verdict.TO_GRID_WORKER, "wang").late


def test_sensor005_silent_device_turns_offline_and_faults_mark_faulty(
    engine: Engine, r: redis.Redis, devices: DeviceRegistry
) -> None:
    camera = devices.get(CAMERA)
    assert camera is not None
    now = [T0.timestamp()]
    health = DeviceHealth(r, engine, devices, clock=lambda: now[0])
    r.hset(keys.DEVICE_SEEN, CAMERA, now[0])
    monitor = HealthMonitor(health, r, started_at=now[0])
    assert health.states(monitor.started_at)[CAMERA].health is Health.ONLINE
    now[0] += 3 * camera.heartbeat_s  # exactly three intervals: still online
    assert health.states(monitor.started_at)[CAMERA].health is Health.ONLINE
    now[0] += 1
    state = health.states(monitor.started_at)[CAMERA]
    assert (state.health, state.since) == (Health.OFFLINE, T0.timestamp() + 3 * camera.heartbeat_s)
    # The monitor announces each change once, and only the lease holder announces.
    other = HealthMonitor(health, r, started_at=monitor.started_at)
    assert monitor.check_once() > 0 and other.check_once() == 0
    assert monitor.check_once() == 0
    changes = [json.loads(f["data"]) for _, f in r.xrange(keys.LIVE) if f["type"] == "device_health"]
    assert {"device_id": CAMERA, "health": "offline", "since": state.since} in changes
    assert r.hget(keys.DEVICE_HEALTH, CAMERA) == "offline"
    # A heartbeat brings it back; a fault report makes it faulty.
    r.hset(keys.DEVICE_SEEN, CAMERA, now[0])
    with engine.begin() as conn:
        conn.execute(sensor_events.insert().values(
            event_id="F-1", stream_id="1-0", device_id=SMOKE, observed_at=datetime.fromtimestamp(now[0], UTC),
            ingested_at=datetime.fromtimestamp(now[0], UTC), kind="fault", grid="SC-001"))
    states = health.states(monitor.started_at)
    assert states[CAMERA].health is Health.ONLINE and states[SMOKE].health is Health.FAULTY
    down = [d["device_id"] for d in health.maintenance_list()]
    assert SMOKE in down and CAMERA not in down


def test_sensor006_weekly_statistics_per_compound_and_site_kind(
    engine: Engine, grids: GridIndex, devices: DeviceRegistry
) -> None:
    clock = [T0]
    service = AlertService(engine, devices, grids, clock=lambda: clock[0])
    raise_alert(engine, devices, "W-1", at=T0)
    raise_alert(engine, devices, "W-2", at=T0)
    raise_alert(engine, devices, "W-3", at=T0)
    raise_alert(engine, devices, "W-4", device_id=CAMERA, scenario="fight", at=T0, value=None)
    raise_alert(engine, devices, "W-OUT", at=T0 + timedelta(days=8))  # next week: not counted
    clock[0] = T0 + timedelta(seconds=20)
    service.verify("W-1", Verdict.DISPATCHED, "wang")
    clock[0] = T0 + timedelta(seconds=90)
    service.verify("W-2", Verdict.FALSE_ALARM, "wang", reason="烹饪")
    clock[0] = T0 + timedelta(seconds=30)
    service.verify("W-4", Verdict.TO_GRID_WORKER, "wang")
    stats = weekly(engine, devices, T0, T0 + timedelta(days=7), down_now={"SMK-01-2-01"})
    cp01 = next(row for row in stats["compound"] if row["group"] == "CP-01")
    assert cp01 == {"group": "CP-01", "alerts": 3, "verified": 2, "disposal_rate": 2 / 3, "on_time": 1,
                    "median_verify_s": 55.0, "false_alarms": 1, "dispatched": 1, "devices_down": 1}
    school = next(row for row in stats["site_kind"] if row["group"] == "school")
    assert (school["alerts"], school["verified"], school["on_time"], school["median_verify_s"]) == (1, 1, 1, 30.0)


def test_sensor007_simulated_alerts_keep_the_contract_and_their_hours(
    r: redis.Redis, grids: GridIndex, devices: DeviceRegistry
) -> None:
    from streams.contract import SensorEventIn, parse
    from streams.simulator import Simulator

    sim = Simulator(r, grids, devices, seed=3)
    day = datetime(2026, 11, 23, tzinfo=CHINA)
    for week in range(2):  # two simulated weeks, one step per hour
        for hour in range(24 * 7):
            sim.step(day + timedelta(days=7 * week, hours=hour), 3600.0, 1.0)
    alerts = [parse(SensorEventIn, f) for _, f in r.xrange(keys.SENSORS) if f["kind"] != "heartbeat"]
    by_hour: dict[str, list[int]] = {}
    for a in alerts:
        by_hour.setdefault(a.scenario or "fault", []).append(a.observed_at.astimezone(CHINA).hour)
    smoke = by_hour["smoke"]
    kitchen = sum(h in {11, 12, 17, 18} for h in smoke)
    assert kitchen / 4 > (len(smoke) - kitchen) / 20 * 2  # per hour, kitchen hours clearly busier
    assert 0 < len(by_hour["fault"]) < len(alerts) / 3
    cooking = [a for a in alerts if a.scenario == "smoke" and a.value is not None and a.value < 0.15]
    assert 0.3 < len(cooking) / len(smoke) < 0.7  # the false alarms an officer dismisses



def test_sensor008_maintenance_and_weekly_page_by_role(settings, r: redis.Redis) -> None:  # type: ignore[no-untyped-def]
    from app import create_app
    from tests.helpers import make_user, sign_in_client

    app = create_app(settings)
    raise_alert(app.engine, app.devices, "PG-1", at=datetime.now(UTC))
    app.alerts.verify("PG-1", Verdict.FALSE_ALARM, "wang", reason="烹饪")
    with app.engine.begin() as conn:
        conn.execute(sensor_events.insert().values(
            event_id="PG-F", stream_id="1-0", device_id=CAMERA, observed_at=datetime.now(UTC),
            ingested_at=datetime.now(UTC), kind="fault", grid="SC-021"))
    officer = app.server.test_client()
    sign_in_client(officer, make_user(app, "duty_officer"))
    page = officer.get("/sensors").get_data(as_text=True)
    assert f'data-device="{CAMERA}"' in page and "故障" in page  # on the maintenance list
    assert "CP-01" in page and "100%" in page  # weekly row and the smoke sensor's false-alarm rate
    screen = app.server.test_client()
    _, token = app.security.users.issue_kiosk_token("wall", "test")
    screen.get(f"/kiosk/{token}")
    assert screen.get("/sensors").status_code == 403
    app.stop()
