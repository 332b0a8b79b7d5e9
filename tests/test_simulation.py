"""The simulator keeps the product's clock: a time-lapse runs the whole world faster, and nothing is ever
stamped ahead of the clock the pages show."""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Iterator
from datetime import date, datetime, timedelta
from pathlib import Path

import pytest
import redis
from sqlalchemy import Engine, func, select

import clock
from bus import keys
from clock import BEIJING, Period, ScaledClock, SystemClock
from geo.devices import VIDEO_TYPES, DeviceRegistry
from geo.index import GridIndex
from geo.roster import Post, Roster
from ingest.consumer import Consumer
from ingest.contract import IncidentIn, PositionIn, SensorEventIn, UnitPositionIn, parse
from media.store import LocalMediaStore, Variant, key_of
from positions.areas import Areas
from positions.presence import Rules, time_in_community
from sensors.snapshots import take
from simulation.simulator import Simulator
from simulation.timelapse import world_clock
from store.db import positions
from testkit.waiting import wait_until


@pytest.fixture
def restore_clock() -> Iterator[None]:
    previous = clock.source()
    yield
    clock.use(previous)


def test_sim001_a_time_lapse_never_stamps_an_event_ahead_of_the_clock(r: redis.Redis, restore_clock: None) -> None:
    lapse = world_clock(r, 10)
    assert isinstance(lapse, ScaledClock) and lapse.speed == 10
    clock.use(lapse)
    started_world, started_machine = clock.now(), time.monotonic()
    simulator = Simulator(r, GridIndex(), DeviceRegistry(), seed=5)
    stop = threading.Event()
    runner = threading.Thread(target=simulator.run, args=(stop, 0.1), daemon=True)
    runner.start()
    try:
        wait_until(lambda: r.xlen(keys.UNITS) >= 80 and r.xlen(keys.HEARTBEATS) >= 200, what="simulated traffic")
    finally:
        stop.set()
        runner.join(timeout=5)
    read_at = clock.now()
    stamps = [parse(UnitPositionIn, f).observed_at for _, f in r.xrange(keys.UNITS)]
    stamps += [parse(SensorEventIn, f).observed_at for stream in (keys.SENSORS, keys.HEARTBEATS)
               for _, f in r.xrange(stream)]
    stamps += [parse(IncidentIn, f).reported_at for _, f in r.xrange(keys.INCIDENTS)]
    assert max(stamps) <= read_at, "an event stamped later than the clock the pages show"
    assert min(stamps) >= started_world.replace(microsecond=0)
    # The world ran ten times faster than the machine.
    world_s = (read_at - started_world).total_seconds()
    assert world_s >= 5 * (time.monotonic() - started_machine)


def test_sim002_every_process_shares_the_time_lapse_and_it_never_runs_backwards(
    r: redis.Redis, restore_clock: None
) -> None:
    assert isinstance(world_clock(r, 1), SystemClock)  # no time-lapse, no anchor: the machine's clock
    first = world_clock(r, 60)
    assert world_clock(r, 60) == first  # a second process, or a restart, at the same speed
    ahead = first.now()
    slower = world_clock(r, 10)  # re-anchored where the world is, not where the machine is
    assert isinstance(slower, ScaledClock) and slower.speed == 10 and slower.now() >= ahead
    back_to_normal = world_clock(r, 1)  # the world keeps the time it has reached, at the machine's pace
    assert isinstance(back_to_normal, ScaledClock) and back_to_normal.speed == 1
    assert back_to_normal.now() >= ahead
    assert r.hgetall(keys.CLOCK)["speed"] == "1"


def test_sim003_a_troubled_households_calls_are_one_household_however_the_flat_is_written(r: redis.Redis) -> None:
    from geo.address import household_key, names_one_household
    from simulation.simulator import FLAT_FORMS

    simulator = Simulator(r, GridIndex(), DeviceRegistry(), seed=5)
    keys_of = [{household_key(form.format(**flat)) for form in FLAT_FORMS} for _, _, flat, _ in simulator.households]
    assert all(len(written) == 1 for written in keys_of)  # every way of writing the flat: one key
    assert all(names_one_household(next(iter(written))) for written in keys_of)
    phones = [phone for *_, pair in simulator.households for phone in pair]
    assert len(set(phones)) == len(phones) == 2 * len(simulator.households)


def test_sim004_a_simulated_camera_alert_carries_a_snapshot_the_ingest_check_keeps(
    r: redis.Redis, tmp_path: Path
) -> None:
    simulator = Simulator(r, GridIndex(), DeviceRegistry(), seed=7)
    pipe = r.pipeline()
    for kind in ("school", "throwing", "smoke"):
        simulator._alert(pipe, clock.now().isoformat(), kind)
    pipe.execute()
    devices = DeviceRegistry()
    media = LocalMediaStore(tmp_path)
    pictures = 0
    for _, fields in r.xrange(keys.SENSORS):
        reading = parse(SensorEventIn, fields)  # the whole entry, snapshot included, keeps the contract
        device = devices.get(reading.device_id)
        assert device is not None
        assert (reading.snapshot is not None) == (device.type in VIDEO_TYPES)
        if reading.snapshot:
            sha = take(reading.snapshot, device, media)
            assert media.get(key_of(Variant.PHOTO, sha)) is not None
            pictures += 1
    assert pictures == 2  # the school's camera and the compound's throwing camera; not the smoke sensor


@pytest.mark.time_machine(datetime(2026, 12, 12, 9, 0, tzinfo=BEIJING), tick=False)
def test_sim005_community_officers_terminals_report_positions_that_are_kept(
    r: redis.Redis, engine: Engine, grids: GridIndex, devices: DeviceRegistry
) -> None:
    """A simulated Wednesday: two officers of each station (SIM_OFFICERS, 24), a fix a minute on duty (08:15-18:15),
    every one a valid {cc}:in:positions entry the consumer keeps; their time in community varies around 80%."""
    simulator = Simulator(r, grids, devices, seed=5)
    roster = Roster(grids)
    officers = [roster.get(officer.person_id) for officer in simulator.officers]
    assert all(person is not None and person.post is Post.COMMUNITY_OFFICER for person in officers)
    assert sorted(Counter(person.station for person in officers if person).values()) == [2] * 12
    wednesday = date(2026, 12, 9)
    now = clock.at(wednesday, 7, 0)
    while now < clock.at(wednesday, 19, 0):
        pipe = r.pipeline()
        simulator._officer_fixes(pipe, now, 60.0)
        pipe.execute()
        now += timedelta(minutes=1)
    entries = [parse(PositionIn, fields) for _, fields in r.xrange(keys.POSITIONS)]
    stamps = [clock.local(fix.observed_at) for fix in entries]
    assert min(stamps).strftime("%H:%M") >= "08:15" and max(stamps).strftime("%H:%M") < "18:15"
    assert 0.9 * 24 * 600 <= len(entries) <= 24 * 600  # about a fix a minute each, a few half hours switched off
    pipe = r.pipeline()
    assert simulator._officer_fixes(pipe, clock.at(date(2026, 12, 12), 10), 60.0) == 0  # Saturday: no duty
    consumer = Consumer(r, engine, grids, devices, name="test", areas=Areas(roster, grids, 50.0))
    consumer.ensure_groups()
    while response := r.xreadgroup(keys.CONSUMER_GROUP, "test", {keys.POSITIONS: ">"}, count=500):
        consumer.process({stream: batch for stream, batch in response})
    assert r.xlen(keys.DEAD) == 0
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(positions)).scalar_one() == len(entries)
    figures = time_in_community(engine, roster, Period.day(wednesday), clock.now(), Rules(),
                                [officer.person_id for officer in simulator.officers])
    shares = [presence.share or 0.0 for presence in figures.values()]
    # 7 working hours each, judged from the terminal's first fix: one off for the day's first half hour starts later.
    assert all(6 * 3600 <= presence.working_s <= 7 * 3600 for presence in figures.values())
    assert sum(presence.working_s == 7 * 3600 for presence in figures.values()) >= 20
    assert min(shares) < 0.8 < max(shares) and 0.7 < sum(shares) / len(shares) < 0.9
