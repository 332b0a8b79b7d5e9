"""Grid workers' tasks: made by the alert that needs one, moved by the grid worker, judged by their clocks."""

from __future__ import annotations

import hashlib
import io
import json
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import redis
from PIL import Image
from sqlalchemy import Engine, func, select
from time_machine import TimeMachineFixture

import clock
import deadlines
from bus import keys
from bus.outbox import OutboxRelay
from clock import Period
from geo.devices import DeviceRegistry
from geo.index import GridIndex
from gridwork.tasks import TaskKind, TaskRefused, TaskService, TaskState, breached, photos_of, running_clock
from indicators.compute import figures, load
from media.photos import GPS_IFD
from media.store import LocalMediaStore, Variant, key_of
from risk.leads import LeadService
from risk.rules import Finding
from sensors.alerts import AlertService, Verdict
from simulation.grid_workers import GridWorkers
from store.db import grid_task_events, grid_tasks
from testkit.entries import sensor
from testkit.photos import jpeg
from tests.test_sensors import SMOKE, consumer_telling, drain, raise_alert

T0 = datetime(2026, 11, 23, 1, 0, tzinfo=UTC)  # a Monday, 09:00 in Beijing
pytestmark = pytest.mark.time_machine(T0, tick=False)
URBAN, SUBURBAN, RURAL = "SC-001", "SC-088", "SC-253"


@pytest.fixture
def tasks(engine: Engine, r: redis.Redis, grids: GridIndex, media: LocalMediaStore) -> TaskService:
    return TaskService(engine, grids, relay=OutboxRelay(engine, r).relay, media=media)


@pytest.fixture
def alerts(engine: Engine, r: redis.Redis, grids: GridIndex, devices: DeviceRegistry,
           tasks: TaskService) -> AlertService:
    return AlertService(engine, devices, grids, relay=OutboxRelay(engine, r).relay, tasks=tasks)


def make(tasks: TaskService, kind: TaskKind, ref: str, grid: str,
         site: tuple[float, float] | None = None) -> dict[str, Any]:
    with tasks.engine.begin() as conn:
        row = tasks.create(conn, kind, ref, grid, f"look at {ref}", "officer-1", clock.now(), site=site)
    tasks.relay()
    return row


def live_tasks(r: redis.Redis) -> list[dict[str, Any]]:
    return [json.loads(f["data"]) for _, f in r.xrange(keys.LIVE) if f["type"] == "grid_task"]


def test_gw001_a_compound_alert_makes_the_grid_workers_task_at_once_and_the_verdict_finds_it(
    alerts: AlertService, engine: Engine, r: redis.Redis, grids: GridIndex, devices: DeviceRegistry
) -> None:
    worker = consumer_telling(engine, r, grids, devices, alerts)
    r.xadd(keys.SENSORS, sensor("GW-1", SMOKE, scenario="smoke", value="0.31"))
    r.xadd(keys.SENSORS, sensor("GW-LOW", SMOKE, scenario="smoke", value="0.05"))  # a reading: no task
    drain(worker)
    with engine.connect() as conn:
        rows = conn.execute(select(grid_tasks)).mappings().all()
    assert [(t["kind"], t["ref"], t["state"]) for t in rows] == [("alert", "GW-1", "assigned")]
    task = rows[0]
    device, grid = devices.get(SMOKE), grids.get(str(rows[0]["grid"]))
    assert device is not None and grid is not None and grid.zone == "urban"
    assert (task["grid"], task["station"], task["worker"]) == (device.grid, grid.station, grid.worker_zh)
    assert deadlines.at(task, "on_scene_due") == T0 + timedelta(minutes=5)  # urban: 5 minutes
    assert task["result_due"] is None  # an alert's result clock starts on arrival
    assert "CP-01" in task["summary"] and "0.31" in task["summary"]
    assert [t["task_id"] for t in live_tasks(r)] == [task["task_id"]]  # the hall hears of it

    alerts.verify("GW-1", Verdict.TO_GRID_WORKER, "wang")  # the officer passes it on: the same task
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(grid_tasks)).scalar_one() == 1


def test_gw002_passing_an_alert_to_the_grid_makes_one_task_and_a_false_alarm_calls_it_off(
    alerts: AlertService, tasks: TaskService, engine: Engine, devices: DeviceRegistry,
    time_machine: TimeMachineFixture
) -> None:
    raise_alert(engine, devices, "GW-2", device_id="BHV-001", scenario="fight", value=None)
    raise_alert(engine, devices, "GW-3", device_id="BHV-001", scenario="fight", value=None)
    alerts.verify("GW-2", Verdict.TO_GRID_WORKER, "wang")
    alerts.verify("GW-3", Verdict.DISPATCHED, "wang")  # the police go: no task for the grid
    assert [t["ref"] for t in tasks.open_tasks()] == ["GW-2"]

    # A compound alert's task, made at once, is called off when the officer finds a false alarm.
    with tasks.engine.begin() as conn:
        made = tasks.create(conn, TaskKind.ALERT, "GW-4", "SC-407", "smoke", "system", clock.now())
    raise_alert(engine, devices, "GW-4")
    time_machine.shift(timedelta(minutes=2))
    alerts.verify("GW-4", Verdict.FALSE_ALARM, "wang", reason="cooking")
    time_machine.shift(timedelta(minutes=10))  # long past its 5 minutes
    assert tasks.open_tasks(grid="SC-407") == []
    assert "SC-407" not in tasks.breaches(Period.today())["grid"]  # called off in time: nothing missed
    with pytest.raises(TaskRefused, match="withdrawn"):
        tasks.accept(made["task_id"], "grid-worker")
    assert [e["action"] for e in tasks.log_for(made["task_id"])] == ["assigned", "withdrawn"]


@pytest.mark.parametrize(("grid", "slow_zones", "minutes"), [
    (URBAN, ("rural",), 5), (SUBURBAN, ("rural",), 5), (RURAL, ("rural",), 15),
    (SUBURBAN, ("suburban", "rural"), 15),  # the zone rule is a setting
])
def test_gw003_the_on_scene_clock_is_5_or_15_minutes_by_zone(
    engine: Engine, r: redis.Redis, grids: GridIndex, grid: str, slow_zones: tuple[str, ...], minutes: int
) -> None:
    tasks = TaskService(engine, grids, slow_zones=slow_zones)
    task = make(tasks, TaskKind.ALERT, f"Z-{grid}-{minutes}", grid)
    assert deadlines.at(task, "on_scene_due") == T0 + timedelta(minutes=minutes)


def test_gw004_arriving_on_the_deadline_is_on_time_a_second_later_is_a_breach(
    tasks: TaskService, time_machine: TimeMachineFixture
) -> None:
    on_time = make(tasks, TaskKind.ALERT, "ON-TIME", URBAN)
    late = make(tasks, TaskKind.ALERT, "LATE", URBAN)
    time_machine.shift(timedelta(minutes=4))  # 80% of the budget: amber
    assert running_clock(on_time, clock.now()) == ("on_scene", T0 + timedelta(minutes=5), deadlines.Colour.AMBER)
    time_machine.shift(timedelta(seconds=-1))
    assert running_clock(on_time, clock.now())[2] is deadlines.Colour.GREEN  # type: ignore[index]
    time_machine.shift(timedelta(seconds=61))
    arrived = tasks.arrive(on_time["task_id"], "chen", None).task  # exactly on the deadline
    time_machine.shift(timedelta(seconds=1))
    assert running_clock(late, clock.now())[2] is deadlines.Colour.RED  # type: ignore[index]
    tasks.arrive(late["task_id"], "chen", None)
    # Arrival starts the photo-and-note clock: one hour.
    assert deadlines.at(arrived, "result_due") == T0 + timedelta(minutes=65)
    counts = tasks.breaches(Period.today())
    grid = tasks.grids.get(URBAN)
    assert grid is not None
    assert counts == {"worker": {grid.worker_zh: 1}, "grid": {URBAN: 1}, "station": {grid.station: 1}}


def test_gw005_the_result_clock_is_an_hour_after_arrival_4_hours_for_a_lead_24_for_a_hazard(
    tasks: TaskService, time_machine: TimeMachineFixture
) -> None:
    alert = make(tasks, TaskKind.ALERT, "R-ALERT", URBAN)
    lead = make(tasks, TaskKind.LEAD, "R-LEAD", URBAN)
    hazard = make(tasks, TaskKind.HAZARD, "R-HAZARD", URBAN)
    assert (lead["on_scene_due"], hazard["on_scene_due"]) == (None, None)  # only alerts race to the scene
    assert deadlines.at(lead, "result_due") == T0 + timedelta(hours=4)
    assert deadlines.at(hazard, "result_due") == T0 + timedelta(hours=24)
    time_machine.shift(timedelta(minutes=3))
    tasks.accept(alert["task_id"], "chen")
    tasks.arrive(alert["task_id"], "chen", None)
    time_machine.shift(timedelta(hours=1))  # the hour after arrival, to the second
    tasks.add_photo(alert["task_id"], "chen", jpeg("stove"))
    tasks.report(alert["task_id"], "chen", "resolved", "灶台油烟，已提醒住户")
    time_machine.shift(timedelta(hours=3, seconds=1))  # the lead is a second past its 4 hours
    assert breached(next(t for t in tasks.open_tasks() if t["ref"] == "R-LEAD"), T0, clock.now())
    tasks.report(lead["task_id"], "chen", "resolved", "已走访")
    counts = tasks.breaches(Period.today())
    assert sum(counts["grid"].values()) == 1  # the lead, not the alert; the hazard is not due yet
    with tasks.engine.connect() as conn:
        states = dict(conn.execute(select(grid_tasks.c.ref, grid_tasks.c.state)).all())
    assert states == {"R-ALERT": "reported", "R-LEAD": "reported", "R-HAZARD": "assigned"}


def test_gw006_steps_repeat_harmlessly_never_go_back_and_need_their_words(
    tasks: TaskService, engine: Engine, r: redis.Redis
) -> None:
    device_site = (112.4330, 39.3310)
    task = make(tasks, TaskKind.ALERT, "S-1", URBAN, site=device_site)
    tid = task["task_id"]
    assert tasks.accept(tid, "chen").changed
    assert not tasks.accept(tid, "chen").changed  # a double tap
    far = tasks.arrive(tid, "chen", (device_site[0] + 0.01, device_site[1]))  # ~860 m east: kept, flagged
    assert far.changed and far.task["on_scene_distance_m"] == pytest.approx(860, abs=15)
    assert live_tasks(r)[-1]["far"] is True
    assert not tasks.accept(tid, "chen").changed  # a late "accept" after arriving changes nothing
    with pytest.raises(TaskRefused):
        tasks.report(tid, "chen", "resolved", "   ")
    with pytest.raises(TaskRefused):
        tasks.give_back(tid, "chen", "")
    tasks.give_back(tid, "chen", "需要消防处置")
    with pytest.raises(TaskRefused, match="returned"):
        tasks.report(tid, "chen", "resolved", "done")
    with engine.connect() as conn:
        log = conn.execute(select(grid_task_events.c.action, grid_task_events.c.detail)
                           .where(grid_task_events.c.task_id == tid).order_by(grid_task_events.c.id)).all()
    assert [a for a, _ in log] == ["assigned", "accepted", "on_scene", "returned"]
    assert log[2][1].endswith(" m") and log[3][1] == "需要消防处置"
    assert [t["state"] for t in live_tasks(r)] == [s.value for s in (
        TaskState.ASSIGNED, TaskState.ACCEPTED, TaskState.ON_SCENE, TaskState.RETURNED)]


def test_gw007_breaches_fall_on_the_beijing_day_of_their_deadline(
    tasks: TaskService, time_machine: TimeMachineFixture
) -> None:
    """A hazard given at 23:30 Beijing is due at 23:30 the next day; one given at 00:30 the day after."""
    day = clock.today()
    time_machine.move_to(clock.at(day, 23, 30))
    before = make(tasks, TaskKind.HAZARD, "H-BEFORE", URBAN)
    time_machine.move_to(clock.at(day + timedelta(days=1), 0, 30))
    after = make(tasks, TaskKind.HAZARD, "H-AFTER", URBAN)
    time_machine.move_to(clock.at(day + timedelta(days=3), 9, 0))  # both missed, neither reported
    second, third = Period.day(day + timedelta(days=1)), Period.day(day + timedelta(days=2))
    assert sum(tasks.breaches(second)["grid"].values()) == 1
    assert sum(tasks.breaches(third)["grid"].values()) == 1
    assert breached(before, second.start, second.end) and breached(after, third.start, third.end)
    # Asked for today while the clock has not yet run out, nothing is counted.
    time_machine.move_to(clock.at(day + timedelta(days=1), 23, 29))
    assert tasks.breaches(Period.day(day + timedelta(days=1)))["grid"] == {}


def test_gw008_simulated_grid_workers_close_their_tasks_through_the_same_steps(
    r: redis.Redis, tasks: TaskService, media: LocalMediaStore
) -> None:
    """`make run`'s grid workers: every task is accepted, then reported (an alert with its photos, cleaned as a
    phone's are) or handed back with a reason."""
    workers = GridWorkers(r, tasks, speed=36_000)  # ten world hours a real second
    workers.step()  # from now on: the stream's cursor is taken
    made = [make(tasks, kind, f"SIM-{n}", URBAN)["task_id"]
            for n, kind in enumerate([TaskKind.ALERT] * 30 + [TaskKind.LEAD] * 5 + [TaskKind.HAZARD] * 5)]
    steps, deadline = 0, time.monotonic() + 60
    while tasks.open_tasks():
        assert time.monotonic() < deadline, "the simulated workers stalled"
        steps += workers.step(block_ms=50)
    ended = {t["task_id"]: t for t in (tasks.get(task_id) for task_id in made) if t is not None}
    states = {t["state"] for t in ended.values()}
    assert states <= {"reported", "returned"} and "reported" in states
    for task in ended.values():
        log = [e["action"] for e in tasks.log_for(task["task_id"])]
        assert log[:2] == ["assigned", "accepted"], log
        if task["state"] == "reported":
            assert task["note"] in GridWorkers.NOTES
            assert ("on_scene" in log) is (task["kind"] == "alert")
            photos = photos_of(task)
            assert (1 <= len(photos) <= 2) if task["kind"] == "alert" else not photos
            for sha in photos:
                kept = media.get(key_of(Variant.PHOTO, sha))
                assert kept is not None and hashlib.sha256(kept).hexdigest() == sha
                assert GPS_IFD not in Image.open(io.BytesIO(kept)).getexif()  # the simulated phone's GPS is gone
        else:
            assert task["note"] in GridWorkers.REASONS
    assert steps == sum(len(tasks.log_for(t)) - 1 for t in made)


def test_gw009_a_medium_lead_becomes_the_grid_workers_task_and_their_report_handles_it(
    engine: Engine, r: redis.Redis, grids: GridIndex, tasks: TaskService
) -> None:
    leads = LeadService(engine, grids, relay=tasks.relay, tasks=tasks)
    tasks.on_reported.append(leads.handled_by_task)
    facts = {"count": 2, "days": 7}
    [high, medium] = leads.create([Finding("fight_escalation", URBAN, "high", "k-high", ("E-1",), facts),
                                   Finding("fight_escalation", URBAN, "medium", "k-medium", ("E-2",), facts)])
    [task] = tasks.open_tasks()  # the station handles the high one; the grid worker gets the medium one
    assert (task["kind"], task["ref"]) == ("lead", medium["lead_id"])
    assert deadlines.at(task, "result_due") == deadlines.at(medium, "deadline") == T0 + timedelta(hours=4)
    tasks.accept(task["task_id"], "陈伟")
    tasks.report(task["task_id"], "陈伟", "resolved", "已走访两户，矛盾已化解")
    handled = leads.get(medium["lead_id"])
    assert handled is not None
    assert (handled["state"], handled["handled_by"], handled["result"]) == ("handled", "陈伟", "已走访两户，矛盾已化解")
    assert leads.get(high["lead_id"])["state"] == "pushed"  # type: ignore[index]
    assert [lead["lead_id"] for lead in leads.open_leads()] == [high["lead_id"]]


def test_gw010_the_chiefs_figures_count_grid_tasks_as_the_service_does(
    engine: Engine, tasks: TaskService, grids: GridIndex, time_machine: TimeMachineFixture
) -> None:
    """One truth: the indicators' breaches are the service's, per worker too; on-time shares of the period."""
    on_time, late, lead = (make(tasks, TaskKind.ALERT, "I-ON", URBAN), make(tasks, TaskKind.ALERT, "I-LATE", RURAL),
                           make(tasks, TaskKind.LEAD, "I-LEAD", URBAN))
    make(tasks, TaskKind.ALERT, "I-OFF", URBAN)
    time_machine.shift(timedelta(minutes=3))
    tasks.arrive(on_time["task_id"], "a", None)
    with tasks.engine.begin() as conn:  # called off before its five minutes: never late
        tasks.withdraw(conn, TaskKind.ALERT, "I-OFF", "wang", "误报", clock.now())
    time_machine.shift(timedelta(minutes=13))  # the rural one arrives at 16 minutes: one past its 15
    tasks.arrive(late["task_id"], "b", None)
    time_machine.shift(timedelta(minutes=10))
    tasks.add_photo(on_time["task_id"], "a", jpeg("on time"))
    tasks.add_photo(late["task_id"], "b", jpeg("late"))
    tasks.report(on_time["task_id"], "a", "resolved", "ok")
    tasks.report(late["task_id"], "b", "resolved", "ok")  # late on scene, its photo and note in time
    time_machine.shift(timedelta(hours=4))  # the lead is past its four hours, still open
    period, now = Period.today(), clock.now()
    f = figures(load(engine, period, now), period, now)["grid_tasks"]
    service = tasks.breaches(period)
    rural, urban = grids.get(RURAL), grids.get(URBAN)
    assert rural is not None and urban is not None
    assert service["worker"] == {rural.worker_zh: 1, urban.worker_zh: 1}
    assert f["breaches_by_worker"] == dict(service["worker"]) and f["breaches"] == 2
    assert (f["made"], f["open"], f["overdue"]) == (4, 1, 1)  # the lead, late
    assert f["on_scene_on_time"] == 0.5 and f["result_on_time"] == 1.0
    assert lead["task_id"] in {t["task_id"] for t in tasks.open_tasks()}
