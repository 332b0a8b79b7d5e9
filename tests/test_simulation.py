"""The simulator keeps the product's clock: a time-lapse runs the whole world faster, and nothing is ever
stamped ahead of the clock the pages show."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

import clock
from bus import keys
from clock import ScaledClock, SystemClock
from geo.devices import VIDEO_TYPES, DeviceRegistry
from geo.index import GridIndex
from ingest.contract import IncidentIn, SensorEventIn, UnitPositionIn, parse
from media.store import LocalMediaStore, Variant, key_of
from sensors.snapshots import take
from simulation.simulator import Simulator
from simulation.timelapse import world_clock
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
        wait_until(lambda: r.xlen(keys.UNITS) >= 80 and r.xlen(keys.SENSORS) >= 200, what="simulated traffic")
    finally:
        stop.set()
        runner.join(timeout=5)
    read_at = clock.now()
    stamps = [parse(UnitPositionIn, f).observed_at for _, f in r.xrange(keys.UNITS)]
    stamps += [parse(SensorEventIn, f).observed_at for _, f in r.xrange(keys.SENSORS)]
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
