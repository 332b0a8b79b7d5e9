"""Sensor alerts and device health against a real Redis and the system of record."""

from __future__ import annotations

import json
import re
import threading
from datetime import UTC, datetime, timedelta, timezone
from html.parser import HTMLParser
from typing import Any

import pytest
import redis
from sqlalchemy import Engine, func, select
from time_machine import TimeMachineFixture

import clock
from bus import keys
from bus.connection import connect
from bus.events import Live
from bus.outbox import OutboxRelay
from dispatch.service import DispatchService
from geo.devices import DeviceRegistry
from geo.index import GridIndex
from ingest.consumer import Consumer
from push.hub import PushHub
from routes.sensors import rate_text
from sensors import health as health_module
from sensors.alerts import AlertRefused, AlertService, Verdict
from sensors.health import (
    SILENT_INTERVALS,
    DeviceHealth,
    Health,
    HealthMonitor,
    health_map,
    record_seen,
    summary,
)
from sensors.stats import weekly
from store.audit import AuditLog
from store.db import alert_verifications, incidents, notifications, sensor_events
from testkit.entries import sensor

SMOKE = "SMK-01-1-03"  # a smoke sensor in compound CP-01
CAMERA = "BHV-001"  # a behaviour terminal at a school
T0 = datetime(2026, 11, 23, 1, 0, tzinfo=UTC)  # a Monday, 09:00 in Beijing
pytestmark = pytest.mark.time_machine(T0, tick=False)  # rules and clocks are read at this moment
CHINA = timezone(timedelta(hours=8))


@pytest.fixture
def service(engine: Engine, r: redis.Redis, grids: GridIndex, devices: DeviceRegistry) -> AlertService:
    dispatch = DispatchService(engine, r, grids, OutboxRelay(engine, r))
    return AlertService(engine, devices, grids, relay=dispatch.outbox.relay, clock=lambda: T0 + timedelta(seconds=42))


def raise_alert(engine: Engine, devices: DeviceRegistry, event_id: str, device_id: str = SMOKE,
                scenario: str = "smoke", at: datetime = T0, value: float | None = 0.31) -> None:
    device = devices.get(device_id)
    assert device is not None
    with engine.begin() as conn:
        conn.execute(sensor_events.insert().values(
            event_id=event_id, stream_id="1-0", device_id=device_id, observed_at=at, ingested_at=at, kind="alert",
            scenario=scenario, value=value, floor=device.floor, grid=device.grid))


def report_fault(engine: Engine, devices: DeviceRegistry, device_id: str, at: datetime) -> None:
    device = devices.get(device_id)
    assert device is not None
    with engine.begin() as conn:
        conn.execute(sensor_events.insert().values(
            event_id=f"F-{device_id}", stream_id="1-0", device_id=device_id, observed_at=at, ingested_at=at,
            kind="fault", grid=device.grid))


def health_events(r: redis.Redis) -> list[dict[str, Any]]:
    return [json.loads(f["data"]) for _, f in r.xrange(keys.LIVE) if f["type"] == "device_health"]


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
    monitor = HealthMonitor(health, r)
    assert health.states()[CAMERA].health is Health.ONLINE
    now[0] += 3 * camera.heartbeat_s  # exactly three intervals: still online
    assert health.states()[CAMERA].health is Health.ONLINE
    now[0] += 1
    state = health.states()[CAMERA]
    assert (state.health, state.since) == (Health.OFFLINE, T0.timestamp() + 3 * camera.heartbeat_s)
    # The monitor announces each change once, and only the lease holder announces.
    other = HealthMonitor(health, r)
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
    states = health.states()
    assert states[CAMERA].health is Health.ONLINE and states[SMOKE].health is Health.FAULTY
    down = [d["device_id"] for d in health.maintenance_list()]
    assert SMOKE in down and CAMERA not in down


def test_sensor006_weekly_statistics_per_compound_and_site_kind(
    engine: Engine, grids: GridIndex, devices: DeviceRegistry
) -> None:
    moment = [T0]
    service = AlertService(engine, devices, grids, clock=lambda: moment[0])
    raise_alert(engine, devices, "W-1", at=T0)
    raise_alert(engine, devices, "W-2", at=T0)
    raise_alert(engine, devices, "W-3", at=T0)
    raise_alert(engine, devices, "W-4", device_id=CAMERA, scenario="fight", at=T0, value=None)
    raise_alert(engine, devices, "W-OUT", at=T0 + timedelta(days=8))  # next week: not counted
    moment[0] = T0 + timedelta(seconds=20)
    service.verify("W-1", Verdict.DISPATCHED, "wang")
    moment[0] = T0 + timedelta(seconds=90)
    service.verify("W-2", Verdict.FALSE_ALARM, "wang", reason="烹饪")
    moment[0] = T0 + timedelta(seconds=30)
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
    from ingest.contract import SensorEventIn, parse
    from simulation.simulator import Simulator

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
    raised = [a for a in alerts if a.scenario == "smoke" and a.value is not None and a.value >= 0.1]
    cooking = [a for a in raised if a.value is not None and a.value < 0.15]
    assert 0.3 < len(cooking) / len(raised) < 0.7  # the false alarms an officer dismisses
    assert 0.1 < 1 - len(raised) / len(smoke) < 0.3  # light fumes under the threshold: readings
    throws = [a.floor for a in alerts if a.scenario == "high_altitude_throwing"]
    assert any(floor is not None and floor < 3 for floor in throws) and any(f is not None and f >= 3 for f in throws)



def test_sensor008_maintenance_and_weekly_page_by_role(settings, r: redis.Redis) -> None:  # type: ignore[no-untyped-def]
    from app import create_app
    from testkit.accounts import make_user, sign_in_client

    app = create_app(settings)
    raise_alert(app.engine, app.devices, "PG-1", at=clock.now())
    app.alerts.verify("PG-1", Verdict.FALSE_ALARM, "wang", reason="烹饪")
    with app.engine.begin() as conn:
        conn.execute(sensor_events.insert().values(
            event_id="PG-F", stream_id="1-0", device_id=CAMERA, observed_at=clock.now(),
            ingested_at=clock.now(), kind="fault", grid="SC-021"))
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


def test_sensor009_a_device_never_heard_from_awaits_one_window_then_is_offline(
    engine: Engine, r: redis.Redis, redis_url: str, devices: DeviceRegistry, time_machine: TimeMachineFixture
) -> None:
    camera = devices.get(CAMERA)
    assert camera is not None
    window = SILENT_INTERVALS * camera.heartbeat_s
    health = DeviceHealth(r, engine, devices)  # on the product clock (frozen at T0 here)
    monitor = HealthMonitor(health, r)
    started = clock.timestamp()
    r.hset(keys.DEVICE_SEEN, SMOKE, started)  # the smoke sensor reports at once
    state = health.states()[CAMERA]
    assert (state.health, state.since) == (Health.AWAITING, started)  # not "offline since —"
    assert float(r.get(keys.DEVICE_WATCH)) == started  # the watch start is written once, for every process
    monitor.check_once()
    assert r.hget(keys.DEVICE_HEALTH, CAMERA) == "awaiting" and r.hget(keys.DEVICE_HEALTH, SMOKE) is None
    time_machine.shift(window)  # exactly one window: still awaiting
    assert health.states()[CAMERA].health is Health.AWAITING
    time_machine.shift(1)
    # Another process, started just now (or this one restarted), judges from the same watch start.
    other = DeviceHealth(connect(redis_url), engine, devices)
    assert other.watch_start() == started
    for judge in (health, other):
        state = judge.states()[CAMERA]
        assert (state.health, state.since) == (Health.OFFLINE, started + window)
    assert health.states()[SMOKE].health is Health.ONLINE
    # The monitor announces awaiting -> offline; a first report later brings the device online.
    assert HealthMonitor(other, connect(redis_url)).check_once() == 0  # the first monitor holds the lease
    monitor.check_once()
    assert r.hget(keys.DEVICE_HEALTH, CAMERA) == "offline"
    # A report as the consumer keeps it (last seen and deadline): the monitor looks at what changed only.
    record_seen(r, devices, {CAMERA: clock.timestamp()})
    monitor.check_once()
    assert r.hget(keys.DEVICE_HEALTH, CAMERA) is None
    assert [(e["health"], e["since"]) for e in health_events(r) if e["device_id"] == CAMERA] == [
        ("awaiting", started), ("offline", started + window), ("online", clock.timestamp())]


def test_sensor010_maintenance_list_counts_what_the_summary_calls_down(
    engine: Engine, r: redis.Redis, devices: DeviceRegistry, time_machine: TimeMachineFixture
) -> None:
    everyone = len(devices.devices)
    health = DeviceHealth(r, engine, devices)
    monitor = HealthMonitor(health, r)
    started = health.watch_start()
    # At first every device awaits its first report: nothing to repair, and no online rate yet.
    assert monitor.check_once() == everyone
    assert summary(health_map(r), devices.devices) == {
        "total": everyone, "online": 0, "awaiting": everyone, "offline": 0, "faulty": 0, "rate": None}
    assert {e["since"] for e in health_events(r)} == {started}
    assert health.maintenance_list() == []
    # Four minutes on: the 60 s devices never heard from are offline, doors and smoke sensors still await;
    # half the site cameras report and one smoke sensor reports a fault.
    time_machine.shift(240)
    sites = sorted(d.device_id for d in devices.devices.values() if d.compound is None)
    r.hset(keys.DEVICE_SEEN, mapping=dict.fromkeys(sites[::2], clock.timestamp()))
    report_fault(engine, devices, SMOKE, clock.now())
    monitor.check_once()
    wall = summary(health_map(r), devices.devices)  # what the indicators and the wall read
    throwing = sum(1 for d in devices.devices.values() if d.type == "throwing_camera")
    awaiting = sum(1 for d in devices.devices.values() if d.type in {"door", "smoke"}) - 1
    assert wall == {"total": everyone, "online": len(sites[::2]), "awaiting": awaiting,
                    "offline": len(sites[1::2]) + throwing, "faulty": 1,
                    "rate": len(sites[::2]) / (everyone - awaiting)}  # awaiting devices are neither up nor down
    view = health.maintenance()
    assert view.summary == wall and view.watch_start == started
    down = health.maintenance_list()
    assert len(down) == wall["offline"] + wall["faulty"] == len(view.down)
    assert down[0]["device_id"] == SMOKE and {d["health"] for d in down[1:]} == {"offline"}  # faulty first
    assert len(view.awaiting) == wall["awaiting"] and {d["health"] for d in view.awaiting} == {"awaiting"}
    assert not {d["device_id"] for d in view.awaiting} & {d["device_id"] for d in down}
    assert summary({"a": "awaiting", "b": "faulty"}, ["a", "b", "c"])["rate"] == 0.5


class MaintenancePage(HTMLParser):
    """What the maintenance page shows: the summary figures; each group's counts, rows and whether it is open."""

    def __init__(self, html: str) -> None:
        super().__init__()
        self.html = html
        self.figures: dict[str, str] = {}
        self.groups: dict[str, dict[str, Any]] = {}
        self._group: dict[str, Any] | None = None
        self._field: tuple[str, str] | None = None  # ("figure" or "count", name): its text comes next
        self.feed(html)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        if tag == "details" and found.get("data-group"):
            self._group = self.groups[str(found["data-group"])] = {"open": "open" in found, "counts": {}, "rows": {}}
        elif found.get("data-figure"):
            self._field = ("figure", str(found["data-figure"]))
        elif found.get("data-count"):
            self._field = ("count", str(found["data-count"]))
        elif tag == "tr" and found.get("data-device") and self._group is not None:
            self._group["rows"][found["data-device"]] = found["data-health"]

    def handle_endtag(self, tag: str) -> None:
        self._field = None
        if tag == "details":
            self._group = None

    def handle_data(self, data: str) -> None:
        if self._field is None:
            return
        kind, name = self._field
        if kind == "figure":
            self.figures[name] = self.figures.get(name, "") + data.strip()
        elif self._group is not None:
            self._group["counts"][name] = int(data.split()[-1])

    def rows(self) -> dict[str, str]:
        return {device: h for group in self.groups.values() for device, h in group["rows"].items()}

    def row_text(self, device_id: str) -> str:
        match = re.search(rf'data-device="{device_id}".*?</tr>', self.html, re.S)
        assert match, device_id
        return match.group(0)


def test_sensor011_maintenance_page_groups_by_compound_and_site_and_filters(  # type: ignore[no-untyped-def]
    settings, r: redis.Redis, time_machine: TimeMachineFixture
) -> None:
    from app import create_app
    from testkit.accounts import make_user, sign_in_client

    app = create_app(settings)
    devices = app.devices
    camera = devices.get(CAMERA)
    assert camera is not None
    watch = app.health.watch_start()
    time_machine.shift(240)  # past the 60 s devices' window (180 s), within the doors' (360 s) and smoke sensors'
    sites = [d.device_id for d in devices.devices.values() if d.compound is None and d.device_id != CAMERA]
    r.hset(keys.DEVICE_SEEN, mapping=dict.fromkeys(sites, clock.timestamp()) | {CAMERA: watch})
    door = "DR-01-1-1"
    report_fault(app.engine, devices, SMOKE, clock.now())
    report_fault(app.engine, devices, door, clock.now() - timedelta(hours=20))  # the day before, in Beijing
    HealthMonitor(app.health, r).check_once()
    wall = summary(health_map(r), devices.devices)
    officer = app.server.test_client()
    sign_in_client(officer, make_user(app, "duty_officer"))

    def view(query: str = "") -> MaintenancePage:
        response = officer.get(f"/sensors{query}")
        assert response.status_code == 200
        return MaintenancePage(response.get_data(as_text=True))

    page = view()
    # The header shows the wall's figures; the online rate leaves the awaiting devices out.
    assert page.figures == {"total": str(wall["total"]), "online": str(wall["online"]),
                            "offline": str(wall["offline"]), "faulty": str(wall["faulty"]),
                            "awaiting": str(wall["awaiting"]), "rate": rate_text(wall["rate"])}
    assert app.health.maintenance().summary == wall and page.figures["rate"] == "52%"  # 133 / (1145 - 889)
    assert f"共 {wall['offline'] + wall['faulty']} 台" in page.html
    # Compound devices by compound, the others by site, collapsed, each with its counts.
    cp01 = [d for d in devices.devices.values() if d.compound == "CP-01"]
    throwing = {d.device_id for d in cp01 if d.type == "throwing_camera"}
    assert page.groups["compound:CP-01"] == {
        "open": False, "counts": {"offline": len(throwing), "faulty": 2, "awaiting": len(cp01) - len(throwing) - 2},
        "rows": {SMOKE: "faulty", door: "faulty"} | dict.fromkeys(throwing, "offline")}  # awaiting: not to repair
    assert page.groups[f"site:school:{camera.grid}"] == {
        "open": False, "counts": {"offline": 1, "faulty": 0, "awaiting": 0}, "rows": {CAMERA: "offline"}}
    assert len(page.groups) == 28 + 1
    to_repair = [g["counts"]["offline"] + g["counts"]["faulty"] for g in page.groups.values()]
    assert to_repair == sorted(to_repair, reverse=True)  # the most to repair first
    assert ">09:03<" in page.row_text(CAMERA)  # offline since the watch start + 3 min, today: the time alone
    yesterday = clock.local(clock.now() - timedelta(hours=20)).strftime("%Y-%m-%d %H:%M")
    assert f">{yesterday}<" in page.row_text(door)
    # Filters narrow the list and open the groups.
    faulty = view("?health=faulty")
    assert faulty.rows() == {SMOKE: "faulty", door: "faulty"} and list(faulty.groups) == ["compound:CP-01"]
    assert faulty.groups["compound:CP-01"]["open"]
    doors = view("?health=awaiting&type=door&q=cp-02")
    assert doors.rows() == {d.device_id: "awaiting" for d in devices.devices.values()
                            if d.compound == "CP-02" and d.type == "door"}
    station = app.grids.get(camera.grid)
    assert station is not None
    at_station = view(f"?station={station.station}&health=all")
    assert CAMERA in at_station.rows()
    assert {app.grids.get(devices.devices[d].grid).station for d in at_station.rows()} == {station.station}  # type: ignore[union-attr]
    assert set(view(f"?grid={camera.grid.lower()}").groups) <= {f"site:school:{camera.grid}"} | {
        f"compound:{d.compound}" for d in devices.devices.values() if d.grid == camera.grid}
    assert view("?health=%3Cb%3E&type=nope&station=nope").groups == page.groups  # unknown values: no filter
    app.stop()


def consumer_telling(engine: Engine, r: redis.Redis, grids: GridIndex, devices: DeviceRegistry,
                     service: AlertService) -> Consumer:
    """A consumer wired as services.build wires it: compound alerts go out at once, relayed after the batch."""
    worker = Consumer(r, engine, grids, devices, name="test", on_alerts=service.notify_at_once,
                      relay=OutboxRelay(engine, r).relay)
    worker.ensure_groups()
    return worker


def drain(worker: Consumer) -> None:
    while response := worker.r.xreadgroup(keys.CONSUMER_GROUP, worker.name, {keys.SENSORS: ">"}, count=500):
        worker.process({stream: entries for stream, entries in response})


def sms(r: redis.Redis) -> list[dict[str, str]]:
    return [fields for _, fields in r.xrange(keys.OUT_NOTIFY)]


def test_sensor012_a_compound_alert_tells_its_grid_at_once_and_the_verdict_follows(
    service: AlertService, engine: Engine, r: redis.Redis, grids: GridIndex, devices: DeviceRegistry
) -> None:
    worker = consumer_telling(engine, r, grids, devices, service)
    r.xadd(keys.SENSORS, sensor("AT-1", SMOKE, scenario="smoke", value="0.31"))
    r.xadd(keys.SENSORS, sensor("AT-LOW", SMOKE, scenario="smoke", value="0.05"))  # a reading: nobody is told
    r.xadd(keys.SENSORS, sensor("AT-CAM", CAMERA, scenario="fight"))  # a school, not a compound
    r.xadd(keys.SENSORS, sensor("AT-TAIL", "DR-01-1-1", scenario="door_tailgating"))  # not notify_at_once
    drain(worker)
    # Before any verdict: the grid worker and the property manager, with place, device type and risk.
    messages = sms(r)
    assert [(m["recipient_role"], m["ref"]) for m in messages] == [("grid_worker", "AT-1"),
                                                                   ("property_manager", "AT-1")]
    assert messages[1]["recipient"] == "CP-01 物业负责人"
    for needed in ("CP-01 1号楼3层", "烟感", "高风险", "0.31", "AT-1", "正在核实"):
        assert needed in messages[0]["text"]
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(notifications)).scalar_one() == 2
    assert [a["event_id"] for a in service.open_alerts()] == ["AT-1", "AT-CAM", "AT-TAIL"]

    # The verdict follows up with the same two people, a false alarm included.
    service.verify("AT-1", Verdict.FALSE_ALARM, "wang", reason="烹饪油烟")
    follow_up = sms(r)[2:]
    assert [(m["recipient_role"], m["ref"]) for m in follow_up] == [("grid_worker", "AT-1"),
                                                                  ("property_manager", "AT-1")]
    assert "误报" in follow_up[0]["text"]
    # An alert nobody heard of at once still tells no one of its false alarm (as before).
    service.verify("AT-TAIL", Verdict.FALSE_ALARM, "wang", reason="住户跟随")
    assert len(sms(r)) == 4


def test_sensor013_the_message_sent_at_once_is_sent_once_through_a_crash(
    service: AlertService, engine: Engine, r: redis.Redis, grids: GridIndex, devices: DeviceRegistry,
    monkeypatch: pytest.MonkeyPatch
) -> None:
    """The consumer dies between its commit and its Redis transaction: the alert is shown once when the entry
    is reclaimed, and its messages (committed with it) are relayed once."""
    worker = consumer_telling(engine, r, grids, devices, service)
    r.xadd(keys.SENSORS, sensor("CR-1", SMOKE, scenario="smoke", value="0.4"))

    def die(*_: object) -> None:
        raise redis.ConnectionError("killed between commit and Redis")

    with monkeypatch.context() as patch:
        patch.setattr(worker, "_commit_redis", die)
        with pytest.raises(redis.ConnectionError):
            drain(worker)
    assert r.xlen(keys.OUT_NOTIFY) == 0  # committed, not yet relayed
    worker.reclaim_idle_ms = 0
    assert worker.reclaim() == 1
    OutboxRelay(engine, r).relay()  # the relay loop's next round
    assert [m["recipient_role"] for m in sms(r)] == ["grid_worker", "property_manager"]
    assert [json.loads(f["data"])["event_id"] for _, f in r.xrange(keys.LIVE) if f["type"] == "alert"] == ["CR-1"]
    assert r.xpending(keys.SENSORS, keys.CONSUMER_GROUP)["pending"] == 0


def test_sensor014_readings_below_the_bar_are_counted_per_device_on_the_page(  # type: ignore[no-untyped-def]
    settings, r: redis.Redis
) -> None:
    from app import create_app
    from testkit.accounts import make_user, sign_in_client

    app = create_app(settings)
    worker = app.services.consumer("test")
    worker.ensure_groups()
    for n, value in enumerate(("0.02", "0.05", "0.099")):
        r.xadd(keys.SENSORS, sensor(f"RD-{n}", SMOKE, scenario="smoke", value=value))
    r.xadd(keys.SENSORS, sensor("RD-T", "THR-01-1", scenario="high_altitude_throwing", floor="1"))
    drain(worker)
    week = clock.Period.calendar_week(clock.today())
    kept = app.health.readings_kept(week.start, week.end)
    assert [(row["device_id"], row["screened"], row["readings"]) for row in kept] == [
        (SMOKE, "below_threshold", 3), ("THR-01-1", "below_floor", 1)]
    assert app.alerts.open_alerts() == [] and r.xlen(keys.OUT_NOTIFY) == 0

    officer = app.server.test_client()
    sign_in_client(officer, make_user(app, "duty_officer"))
    page = officer.get("/sensors").get_data(as_text=True)
    rows = re.findall(r'<tr data-device="([^"]+)" data-screened="([^"]+)"><td>[^<]*</td>\s*'
                      r'<td>([^<]*)</td><td>(\d+)</td>', page)
    assert rows == [(SMOKE, "below_threshold", "低于阈值", "3"), ("THR-01-1", "below_floor", "低于起报楼层", "1")]
    app.stop()


def test_sensor020_a_city_heard_at_once_is_one_announcement_and_every_page_gets_the_whole_map(
    engine: Engine, r: redis.Redis, devices: DeviceRegistry, monkeypatch: pytest.MonkeyPatch
) -> None:
    """More changes in one check than ``BULK_ANNOUNCE`` (here the district's 1,145 devices against a bar of 100,
    as 250,000 against 2,000 in a city): one ``device_health_all`` on the live stream, not an event per device that
    every alert would queue behind; the push hub sends each page every device not online, once."""
    monkeypatch.setattr(health_module, "BULK_ANNOUNCE", 100)
    now = [T0.timestamp()]
    health = DeviceHealth(r, engine, devices, clock=lambda: now[0])
    r.hset(keys.DEVICE_SEEN, CAMERA, now[0])  # heard: online; every other device awaits its first report
    monitor = HealthMonitor(health, r)
    assert monitor.check_once() == len(devices.devices) - 1
    kinds = [f["type"] for _, f in r.xrange(keys.LIVE)]
    assert kinds == [Live.DEVICE_HEALTH_ALL]
    assert r.hlen(keys.DEVICE_HEALTH) == len(devices.devices) - 1 and not r.hexists(keys.DEVICE_HEALTH, CAMERA)
    sent: list[dict[str, Any]] = []
    hub = PushHub(r, engine, emit=lambda sid, batch: sent.append(batch),
                  states={Live.DEVICE_HEALTH_ALL: lambda: health_map(r)})
    hub.subscribe("page-1", "0-0")
    [event] = sent[-1]["events"]
    assert event["type"] == Live.DEVICE_HEALTH_ALL and event["data"] == health_map(r)
    assert set(event["data"].values()) == {"awaiting"}
    # A few changes are still announced one by one (a smoke sensor's first report).
    now[0] += 1
    record_seen(r, devices, {SMOKE: now[0]})
    assert monitor.check_once() == 1
    changes = [json.loads(f["data"]) for _, f in r.xrange(keys.LIVE) if f["type"] == Live.DEVICE_HEALTH]
    assert [(c["device_id"], c["health"]) for c in changes] == [(SMOKE, "online")]
