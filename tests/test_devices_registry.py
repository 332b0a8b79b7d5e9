"""The device registry in the database: the seed, CSV import and export, reloads, and the health monitor's
incremental checks (a check costs what changed, not the number of devices)."""

from __future__ import annotations

import csv
import io
import random
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import redis
from sqlalchemy import Engine, func, select

from bus import keys
from geo import devices_csv
from geo.devices import DEVICES_FILE, Device, DeviceRegistry, load, seed, upsert
from geo.devices_csv import FileRefused, check, import_file, read, to_csv
from geo.index import GridIndex
from ingest.consumer import Consumer
from sensors.health import SILENT_INTERVALS, DeviceHealth, HealthMonitor, health_map, not_online, record_seen
from settings import DATA_DIR
from store.db import devices as devices_table
from store.db import sensor_events
from testkit.entries import sensor

T0 = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)  # the monitor's clock starts here (injected)


@pytest.fixture(scope="module")
def seed_devices() -> DeviceRegistry:
    return DeviceRegistry()  # data/devices.json alone


def some_devices(seed_devices: DeviceRegistry, count: int) -> list[Device]:
    """The first ``count`` devices of the seed, renamed (so they are new to a seeded registry)."""
    return [replace(d, device_id=f"IMP-{n:05d}") for n, d in enumerate(sorted(seed_devices, key=lambda d: d.device_id))
            if n < count]


def write(tmp_path: Path, text: str, name: str = "devices.csv") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


# -- the registry, its seed ------------------------------------------------------------------------------

def test_devreg001_first_start_seeds_the_table_from_devices_json_once(
    engine: Engine, seed_devices: DeviceRegistry
) -> None:
    registry = DeviceRegistry(engine=engine)
    assert registry.devices == seed_devices.devices  # every field of every device, as the file has them
    assert seed(engine) == 0  # the table holds devices: the seed is left alone from now on
    again = DeviceRegistry(engine=engine)  # a second process, or a restart
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(devices_table)).scalar_one() == len(seed_devices)
    assert again.devices == seed_devices.devices
    # The public API the rest of the product uses, unchanged.
    camera = registry.get("BHV-001")
    assert camera is not None and camera.type == "behaviour" and registry.get("nope") is None
    assert len(registry) == len(seed_devices) and "BHV-001" in registry and "nope" not in registry
    assert sorted(d.device_id for d in registry) == sorted(registry.devices) == sorted(
        d.device_id for d in registry.all())
    assert registry.geojson() == seed_devices.geojson()
    assert registry.compounds_geojson() == seed_devices.compounds_geojson()


def test_devreg002_an_empty_seed_folder_leaves_an_empty_registry(engine: Engine, tmp_path: Path) -> None:
    assert not (tmp_path / DEVICES_FILE).exists()
    assert len(DeviceRegistry(tmp_path, engine=engine)) == 0


# -- checking a file -------------------------------------------------------------------------------------

def test_devreg003_every_bad_row_is_refused_with_its_line_and_reason_and_the_good_ones_kept(
    engine: Engine, grids: GridIndex, seed_devices: DeviceRegistry, tmp_path: Path
) -> None:
    DeviceRegistry(engine=engine)  # a first start: the seed
    camera = next(d for d in seed_devices if d.type == "camera")
    lon, lat = camera.lon, camera.lat
    other = next(g for g in grids.frame["code"] if g != camera.grid)
    header = ",".join(devices_csv.COLUMNS)
    rows = [
        f"CAM-T001,camera,{lon},{lat},,school,,,,,,",  # 2: good, grid located
        f"SMK-T002,smoke,{lon},{lat},{camera.grid},,CP-T1,1,3,,300,0.12",  # 3: good, grid given and right
        f"bad id!,camera,{lon},{lat},,,,,,,,",  # 4
        f"CAM-T005,drone,{lon},{lat},,,,,,,,",  # 5
        f"CAM-T006,camera,{lat},{lon},,,,,,,,",  # 6: swapped
        f"CAM-T007,camera,{lon},,,,,,,,,",  # 7
        f"CAM-T008,camera,east,{lat},,,,,,,,",  # 8
        f"CAM-T009,camera,{lon},{lat},SC-999,,,,,,,",  # 9
        f"CAM-T010,camera,{lon},{lat},{other},,,,,,,",  # 10: not where it is
        f"CAM-T011,camera,{lon},{lat},,,,,,,5,",  # 11: heartbeat too short
        f"CAM-T012,camera,{lon},{lat},,casino,,,,,,",  # 12
        f"CAM-T001,camera,{lon},{lat},,,,,,,,",  # 13: duplicate of line 2
        f"CAM-T014,camera,{lon},{lat},,,,,,,,,extra",  # 14
        f"CAM-T015,door,{lon},{lat},,,CP-T1,1,,two,,",  # 15
        f'"DR-T016",door,{lon},{lat},,,CP-T1,1,,2,,',  # 16: good (quoted id), heartbeat from its type
    ]
    path = write(tmp_path, "\n".join([header, *rows]) + "\n")
    result = import_file(engine, path, grids)
    reasons = {r.line: r.reason for r in result.checked.refused}
    assert sorted(reasons) == [4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15]
    assert "1-32 characters" in reasons[4]
    assert reasons[5].startswith("type 'drone' is not one of camera, behaviour, smoke")
    assert "bounding box" in reasons[6] and "swapped" in reasons[6]
    assert reasons[7] == "lon and lat are required" and reasons[8] == "lon 'east' is not a number"
    assert reasons[9] == "unknown grid 'SC-999'"
    assert reasons[10] == f"grid {other} given, but ({lon}, {lat}) lies in {camera.grid}"
    assert reasons[11] == "heartbeat_s 5 is outside 10-86400"
    assert reasons[12].startswith("site_kind 'casino'")
    assert reasons[13] == "duplicate: CAM-T001 is on line 2 already"
    assert reasons[14] == "more fields than the header has columns"
    assert reasons[15] == "entrance 'two' is not a whole number"
    assert str(result.checked.refused[0]) == f"line 4: bad id!: {reasons[4]}"
    # Nothing lost: the good rows are in the registry, with what was given or derived.
    assert result.written is not None and (result.written.new, result.written.changed) == (3, 0)
    registry = DeviceRegistry(engine=engine)
    assert registry.get("CAM-T001") == Device("CAM-T001", "camera", lon, lat, camera.grid, site_kind="school",
                                              heartbeat_s=60)
    assert registry.get("SMK-T002") == Device("SMK-T002", "smoke", lon, lat, camera.grid, compound="CP-T1",
                                              building=1, floor=3, heartbeat_s=300, threshold=0.12)
    door = registry.get("DR-T016")
    assert door is not None and (door.entrance, door.heartbeat_s) == (2, 120)
    assert len(registry) == len(seed_devices) + 3


def test_devreg004_a_point_inside_the_box_but_in_no_grid_is_outside_the_district(grids: GridIndex) -> None:
    min_x, min_y, _, _ = grids.frame.total_bounds
    corner = (float(min_x) + 0.001, float(min_y) + 0.001)  # the district's box, not the district
    assert grids.locate_codes([corner[0]], [corner[1]]) == [None]
    checked = check([(2, {"device_id": "CAM-X", "type": "camera", "lon": str(corner[0]), "lat": str(corner[1])})],
                    grids)
    assert checked.good == [] and checked.refused[0].reason.startswith("outside the district: no grid contains")


@pytest.mark.parametrize(("header", "message"), [
    ("device_id,type,lon", "header: missing lat"),
    ("device_id,type,lon,lat,heartbeat", "header: unknown heartbeat"),
    ("device_id,type,lon,lat,lat", "header: repeated lat"),
    ("", "the file is empty"),
])
def test_devreg005_a_header_it_cannot_read_refuses_the_whole_file(header: str, message: str) -> None:
    with pytest.raises(FileRefused, match=message):
        list(read(io.StringIO(header + "\n")))


# -- writing: strict, idempotent, updates ------------------------------------------------------------------

def test_devreg006_strict_imports_nothing_when_any_row_is_bad(
    engine: Engine, grids: GridIndex, seed_devices: DeviceRegistry, tmp_path: Path
) -> None:
    good = some_devices(seed_devices, 20)
    text = to_csv(good) + "BAD,camera,0,0,,,,,,,,\n"
    result = import_file(engine, write(tmp_path, text), grids, strict=True)
    assert result.written is None and len(result.checked.good) == 20 and result.checked.refused[0].line == 22
    assert load(engine)[0] == {}  # not even the seed: nothing was written
    assert devices_csv.summary_line(result, strict=True).endswith(
        "nothing imported (--strict and some rows were refused), " + f"{result.seconds:.1f} s")


def test_devreg007_a_repeated_import_writes_nothing_and_a_changed_row_is_updated(
    engine: Engine, grids: GridIndex, seed_devices: DeviceRegistry, tmp_path: Path
) -> None:
    devices = some_devices(seed_devices, 300)
    path = write(tmp_path, to_csv(devices))
    first = import_file(engine, path, grids)
    assert first.written is not None and (first.written.new, first.written.changed) == (300, 0)
    with engine.connect() as conn:
        stamped = dict(conn.execute(select(devices_table.c.device_id, devices_table.c.updated_at)).all())
    again = import_file(engine, path, grids)
    assert again.written is not None
    assert (again.written.new, again.written.changed, again.written.unchanged) == (0, 0, 300)
    with engine.connect() as conn:
        assert dict(conn.execute(select(devices_table.c.device_id, devices_table.c.updated_at)).all()) == stamped
    moved = [replace(devices[0], heartbeat_s=30, threshold=0.5), *devices[1:]]
    third = import_file(engine, write(tmp_path, to_csv(moved), "moved.csv"), grids)
    assert third.written is not None and (third.written.new, third.written.changed) == (0, 1)
    assert load(engine)[0][devices[0].device_id] == moved[0]


def test_devreg008_export_then_import_round_trips_the_registry(
    engine: Engine, grids: GridIndex, seed_devices: DeviceRegistry, tmp_path: Path
) -> None:
    DeviceRegistry(engine=engine)  # seeded
    out = io.StringIO()
    assert devices_csv.export_file(engine, out) == len(seed_devices)
    exported = list(csv.DictReader(io.StringIO(out.getvalue())))
    assert exported[0]["device_id"] == min(seed_devices.devices) and len(exported) == len(seed_devices)
    result = import_file(engine, write(tmp_path, out.getvalue()), grids)
    assert result.checked.refused == []
    assert result.written is not None and result.written.unchanged == len(seed_devices)


def test_devreg009_the_command_line_reports_bad_rows_and_exits_1_keeping_the_good(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
    seed_devices: DeviceRegistry
) -> None:
    from geo.devices import main

    monkeypatch.setenv("VAR_DIR", str(tmp_path / "var"))
    monkeypatch.setenv("DATABASE_URL", "")
    monkeypatch.setenv("REDIS_URL", "")
    good = some_devices(seed_devices, 3)
    path = write(tmp_path, to_csv(good) + "CAM-Z,camera,1,2,,,,,,,,\n")
    assert main(["import", str(path)]) == 1
    err = capsys.readouterr().err
    assert "line 5: CAM-Z: (1.0, 2.0) is outside the district's bounding box" in err
    assert "4 rows: 3 good, 1 refused; imported: 3 new, 0 changed, 0 unchanged" in err
    assert "reload the registry at their next health check" in err
    assert main(["import", str(write(tmp_path, "device_id,type\n", "bad.csv"))]) == 2
    assert "nothing imported: header: missing lon, lat" in capsys.readouterr().err
    out = tmp_path / "out.csv"
    assert main(["export", str(out)]) == 0
    # An import before the first start: the registry is what was imported (the sample seed is for an empty table).
    assert out.read_text(encoding="utf-8").count("\n") == 3 + 1


def test_devreg010_processes_reload_the_registry_after_an_import(
    engine: Engine, grids: GridIndex, seed_devices: DeviceRegistry, tmp_path: Path
) -> None:
    running = DeviceRegistry(engine=engine)
    assert not running.reload_if_changed()  # nothing imported since it was read
    new = some_devices(seed_devices, 5)
    result = import_file(engine, write(tmp_path, to_csv(new)), grids)
    assert result.written is not None and result.written.new == 5
    version = running.version
    assert running.get(new[0].device_id) is None
    assert running.reload_if_changed() and running.version == version + 1
    assert running.get(new[0].device_id) == new[0] and len(running) == len(seed_devices) + 5
    assert not running.reload_if_changed()  # read after that import: nothing to do
    again = import_file(engine, write(tmp_path, to_csv(new), "again.csv"), grids)  # unchanged: nothing written
    assert again.written is not None and again.written.unchanged == 5 and not running.reload_if_changed()


def test_devreg011_upsert_of_many_rows_in_batches(engine: Engine, seed_devices: DeviceRegistry) -> None:
    many = [replace(d, device_id=f"{d.device_id}-{n}") for n in range(12) for d in seed_devices]  # > 2 batches
    told: list[int] = []
    written = upsert(engine, many, advance=told.append)
    assert (written.new, sum(told)) == (len(many), len(many)) and len(told) >= 3
    assert len(load(engine)[0]) == len(many)


# -- the health monitor: incremental checks ------------------------------------------------------------

def synthetic(grids: GridIndex, count: int, heartbeat_s: int = 60) -> DeviceRegistry:
    points = grids.frame.geometry.representative_point()
    codes = list(grids.frame["code"])
    return DeviceRegistry.of(
        Device(f"HB-{n:05d}", "camera", float(points.iloc[n % len(codes)].x), float(points.iloc[n % len(codes)].y),
               codes[n % len(codes)], heartbeat_s=heartbeat_s) for n in range(count))


def test_devreg012_a_check_judges_only_the_devices_whose_state_may_have_changed(
    engine: Engine, r: redis.Redis, grids: GridIndex
) -> None:
    devices = synthetic(grids, 2_000)
    now = [T0.timestamp()]
    health = DeviceHealth(r, engine, devices, clock=lambda: now[0])
    monitor = HealthMonitor(health, r)
    ids = sorted(devices.devices)
    record_seen(r, devices, dict.fromkeys(ids, now[0]))
    assert monitor.check_once() == 0 and monitor.last.full  # the first check judges everyone: all online
    assert monitor.last.candidates == 2_000

    def round_of(reporting: list[str]) -> int:
        now[0] += 5
        record_seen(r, devices, dict.fromkeys(reporting, now[0]))
        return monitor.check_once()

    # Everyone keeps reporting: nothing to judge at all.
    for _ in range(3):
        assert round_of(ids) == 0
        assert not monitor.last.full and monitor.last.candidates == 0
    # Three fall silent: judged once, when their deadline passes (one window after their last report).
    silent, rest = ids[:3], ids[3:]
    last_heard = now[0]
    window = SILENT_INTERVALS * 60
    while now[0] + 5 <= last_heard + window:
        assert round_of(rest) == 0 and monitor.last.candidates == 0
    assert round_of(rest) == 3
    assert (monitor.last.expired, monitor.last.candidates) == (3, 3)
    assert set(health_map(r)) == set(silent) and r.smembers(keys.DEVICE_DOWN) == set(silent)
    assert round_of(rest) == 0 and monitor.last.candidates == 0  # offline stays offline: nothing judged
    # One comes back: found as a down device with a deadline again.
    assert round_of([*rest, silent[0]]) == 1
    assert (monitor.last.back, monitor.last.candidates) == (1, 1)
    assert set(health_map(r)) == set(silent[1:])


def test_devreg013_the_incremental_monitor_agrees_with_a_full_evaluation_at_every_check(
    engine: Engine, r: redis.Redis, grids: GridIndex
) -> None:
    """Random reports, silences, late reports, faults and a new watch: the hash equals the full evaluation."""
    rng = random.Random(19)
    devices = DeviceRegistry.of(replace(d, heartbeat_s=rng.choice((30, 60, 120)))
                                for d in synthetic(grids, 300))
    now = [T0.timestamp()]
    health = DeviceHealth(r, engine, devices, clock=lambda: now[0])
    monitor = HealthMonitor(health, r)
    ids = sorted(devices.devices)
    fault = 0
    for step in range(120):
        now[0] += 5
        reporting = [d for d in ids if rng.random() < (0.02 if int(d[3:]) % 7 == 0 else 0.2)]
        late = {d: now[0] - rng.uniform(0, 400) for d in rng.sample(ids, 2)}  # delayed reports
        record_seen(r, devices, dict.fromkeys(reporting, now[0]) | late)
        if step % 15 == 3:
            at = datetime.fromtimestamp(now[0] - rng.uniform(0, 30 * 3600), UTC)  # some beyond the 24 h hold
            fault += 1
            with engine.begin() as conn:
                conn.execute(sensor_events.insert().values(
                    event_id=f"F-{fault}", stream_id="1-0", device_id=rng.choice(ids), observed_at=at,
                    ingested_at=at, kind="fault"))
        if step == 60:
            r.set(keys.DEVICE_WATCH, repr(now[0]))  # a new watch (a Redis that lost its data): reconciled
        monitor.check_once()
        assert health_map(r) == not_online(health.states()), f"step {step}"
        assert monitor.last.full == (step in (0, 60))


def test_devreg014_the_consumer_keeps_each_heartbeat_deadline(
    engine: Engine, r: redis.Redis, grids: GridIndex, devices: DeviceRegistry
) -> None:
    consumer = Consumer(r, engine, grids, devices, name="test")
    at = T0 + timedelta(minutes=1)
    entries = [("1-0", sensor("HB-1", "BHV-001", "heartbeat", observed_at=at.isoformat())),
               ("2-0", sensor("HB-2", "SMK-01-1-03", "heartbeat",
                                      observed_at=(at - timedelta(seconds=5)).isoformat()))]
    consumer.process({keys.SENSORS: entries})
    window: Callable[[str], float] = lambda d: SILENT_INTERVALS * devices.devices[d].heartbeat_s  # noqa: E731
    assert r.zscore(keys.DEVICE_DEADLINES, "BHV-001") == at.timestamp() + window("BHV-001")
    assert r.zscore(keys.DEVICE_DEADLINES, "SMK-01-1-03") == at.timestamp() - 5 + window("SMK-01-1-03")


def test_devreg015_seed_path_is_the_data_folder(tmp_path: Path, engine: Engine, seed_devices: DeviceRegistry) -> None:
    folder = tmp_path / "data"
    folder.mkdir()
    few = sorted(seed_devices, key=lambda d: d.device_id)[:4]
    from geo.devices import to_text

    (folder / DEVICES_FILE).write_text(to_text(few), encoding="utf-8")
    assert DeviceRegistry(folder, engine=engine).all() == few
    assert (DATA_DIR / DEVICES_FILE).exists()
