"""The consumer against a real Redis and a real database (SQLite; PostgreSQL in CI)."""

from __future__ import annotations

import dataclasses
import json
import os
import signal
import subprocess
import sys
import threading
import time
from datetime import datetime, timedelta
from pathlib import Path

import pytest
import redis
from sqlalchemy import Engine, func, select
from time_machine import TimeMachineFixture

import clock
import services
from bus import events, keys
from geo.datum import wgs84_to_gcj02
from geo.devices import DeviceRegistry
from geo.index import GridIndex
from ingest.consumer import Consumer, Lane
from settings import PROJECT_ROOT, Settings
from store.db import incidents, leads, sensor_events
from testkit.entries import SEAT, incident, sensor, stamp, unit
from testkit.waiting import wait_until


@pytest.fixture
def consumer(r: redis.Redis, engine: Engine, grids: GridIndex, devices: DeviceRegistry) -> Consumer:
    worker = Consumer(r, engine, grids, devices, name="test")
    worker.ensure_groups()
    return worker


def drain(worker: Consumer) -> int:
    """Read and process everything new; return how many entries."""
    total = 0
    while response := worker.r.xreadgroup(keys.CONSUMER_GROUP, worker.name, dict.fromkeys(worker.streams, ">"),
                                          count=500):
        batch = {stream: entries for stream, entries in response}
        total += worker.process(batch).processed
    return total


def live_events(r: redis.Redis, kind: str) -> list[dict]:
    return [json.loads(f["data"]) for _, f in r.xrange(keys.LIVE) if f["type"] == kind]


def row_count(engine: Engine, table=incidents) -> int:  # type: ignore[no-untyped-def]
    with engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(table)).scalar_one())


def test_consumer001_incident_is_located_kept_published_and_acked(
    r: redis.Redis, engine: Engine, consumer: Consumer, grids: GridIndex
) -> None:
    r.xadd(keys.INCIDENTS, incident("E-1"))
    assert drain(consumer) == 1
    expected_grid = grids.locate_codes([SEAT[0]], [SEAT[1]])[0]
    with engine.connect() as conn:
        row = conn.execute(select(incidents)).mappings().one()
    assert (row["event_id"], row["grid"], row["category"]) == ("E-1", expected_grid, "neighbour_dispute")
    [event] = live_events(r, "incident")
    assert event["grid"] == expected_grid
    assert event["caller"] == "138******78"  # masked before it reaches any screen
    assert r.xpending(keys.INCIDENTS, keys.CONSUMER_GROUP)["pending"] == 0


def test_consumer002_a_repeated_event_id_is_ignored(r: redis.Redis, engine: Engine, consumer: Consumer) -> None:
    r.xadd(keys.INCIDENTS, incident("E-1"))
    r.xadd(keys.INCIDENTS, incident("E-1"))  # same batch
    drain(consumer)
    r.xadd(keys.INCIDENTS, incident("E-1", description="changed"))  # a later batch
    drain(consumer)
    assert row_count(engine) == 1
    assert len(live_events(r, "incident")) == 1


def test_consumer003_bad_entries_go_to_dead_letters_and_good_ones_go_on(
    r: redis.Redis, engine: Engine, consumer: Consumer
) -> None:
    r.xadd(keys.INCIDENTS, incident("GOOD-1"))
    r.xadd(keys.INCIDENTS, {"event_id": "BAD-1", "garbage": "yes"})
    r.xadd(keys.INCIDENTS, incident("BAD-2", lon="not-a-number"))
    r.xadd(keys.INCIDENTS, incident("BAD-3", lon="116.39", lat="39.91"))  # Beijing: outside the district
    r.xadd(keys.INCIDENTS, incident("BAD-4", category="<script>x</script>"))
    r.xadd(keys.INCIDENTS, incident("GOOD-2", description="<script>alert(1)</script>"))
    drain(consumer)
    dead = {json.loads(f["fields"]).get("event_id"): f["reason"] for _, f in r.xrange(keys.DEAD)}
    assert set(dead) == {"BAD-1", "BAD-2", "BAD-3", "BAD-4"}
    assert "outside the district" in dead["BAD-3"]
    assert "category" in dead["BAD-4"]
    assert row_count(engine) == 2
    assert r.hget(keys.COUNTERS, "dead_letters") == "4"
    good = {e["event_id"]: e for e in live_events(r, "incident")}
    assert good["GOOD-2"]["description"] == "<script>alert(1)</script>"
    assert r.xpending(keys.INCIDENTS, keys.CONSUMER_GROUP)["pending"] == 0


def test_consumer004_gcj02_positions_are_converted(r: redis.Redis, engine: Engine, consumer: Consumer) -> None:
    gcj_lon, gcj_lat = wgs84_to_gcj02(*SEAT)
    r.xadd(keys.INCIDENTS, incident("G-1", lon=f"{float(gcj_lon):.7f}", lat=f"{float(gcj_lat):.7f}", datum="gcj02"))
    drain(consumer)
    with engine.connect() as conn:
        row = conn.execute(select(incidents.c.lon, incidents.c.lat)).one()
    assert row.lon == pytest.approx(SEAT[0], abs=2e-6)
    assert row.lat == pytest.approx(SEAT[1], abs=2e-6)


def test_consumer005_kept_but_unpublished_is_published_once_on_reclaim(
    r: redis.Redis, engine: Engine, consumer: Consumer
) -> None:
    """A crash between the database commit and the Redis transaction loses nothing."""
    entry_id = r.xadd(keys.INCIDENTS, incident("E-9"))
    # Another consumer read it, committed the row, and died before publishing and acking.
    r.xreadgroup(keys.CONSUMER_GROUP, "crashed", {keys.INCIDENTS: ">"}, count=10)
    now = clock.now()
    with engine.begin() as conn:
        conn.execute(incidents.insert().values(
            event_id="E-9", stream_id=entry_id, reported_at=now, ingested_at=now, lon=SEAT[0], lat=SEAT[1],
            grid="SC-001", category="noise", priority=2, address="x", description="", source="110"))
    consumer.reclaim_idle_ms = 0
    assert consumer.reclaim() == 1
    assert [e["event_id"] for e in live_events(r, "incident")] == ["E-9"]
    assert r.xpending(keys.INCIDENTS, keys.CONSUMER_GROUP)["pending"] == 0
    # The producer sends it again later: nothing changes.
    r.xadd(keys.INCIDENTS, incident("E-9"))
    drain(consumer)
    assert len(live_events(r, "incident")) == 1
    assert row_count(engine) == 1


def test_consumer006_unit_fixes_keep_the_newest(r: redis.Redis, consumer: Consumer) -> None:
    r.xadd(keys.UNITS, unit("PU-001", lon="112.44"))
    r.xadd(keys.UNITS, unit("PU-001", ago=timedelta(seconds=5), lon="112.40"))  # late, same batch
    drain(consumer)
    r.xadd(keys.UNITS, unit("PU-001", ago=timedelta(minutes=1), lon="112.30"))  # late, later batch
    drain(consumer)
    state = json.loads(r.hget(keys.UNIT_STATE, "PU-001"))
    assert state["lon"] == 112.44
    assert [e["lon"] for e in live_events(r, "unit")] == [112.44]


def test_consumer007_sensor_heartbeats_alerts_and_unknown_devices(
    r: redis.Redis, engine: Engine, consumer: Consumer, devices: DeviceRegistry
) -> None:
    device = next(d for d in devices.devices.values() if d.type == "smoke")
    at = stamp(ago=timedelta(minutes=1))
    r.xadd(keys.SENSORS, {"event_id": "HB-1", "device_id": device.device_id, "observed_at": at, "kind": "heartbeat"})
    r.xadd(keys.SENSORS, {"event_id": "AL-1", "device_id": device.device_id, "observed_at": at, "kind": "alert",
                          "scenario": "smoke", "value": "0.23", "floor": "4"})
    r.xadd(keys.SENSORS, {"event_id": "AL-2", "device_id": "NOPE-1", "observed_at": at, "kind": "heartbeat"})
    drain(consumer)
    assert float(r.hget(keys.DEVICE_SEEN, device.device_id)) == datetime.fromisoformat(at).timestamp()
    assert row_count(engine, sensor_events) == 1
    [alert] = live_events(r, "alert")
    assert (alert["device_id"], alert["value"], alert["grid"]) == (device.device_id, 0.23, device.grid)
    assert alert["risk"] == 1
    assert "unknown device" in r.xrange(keys.DEAD)[0][1]["reason"]


def test_consumer008_trim_never_drops_pending_entries(r: redis.Redis, consumer: Consumer,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    first = r.xadd(keys.INCIDENTS, incident("P-1"))
    r.xreadgroup(keys.CONSUMER_GROUP, "slow", {keys.INCIDENTS: ">"}, count=1)  # pending, never acked
    r.xadd(keys.INCIDENTS, incident("P-2"))
    drain(consumer)
    monkeypatch.setattr(keys, "INBOUND_KEEP_S", -3600)  # "keep nothing for inspection"
    monkeypatch.setattr(keys, "INBOUND_KEEP_MAX", 0)
    consumer.trim()
    assert r.xrange(keys.INCIDENTS, min=first, max=first), "a pending entry was trimmed"


def test_consumer008b_trim_keeps_up_with_a_flood(r: redis.Redis, consumer: Consumer,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    """Heartbeats of a thousand devices at a time-lapse's pace add tens of thousands of entries a minute;
    one trim must take all that is over the cap (Redis stops an approximate XTRIM after 10,000 entries
    unless told otherwise, and the stream then grew by the difference every minute)."""
    flood = 25_000
    first_ms = int((time.time() - 600) * 1000)  # one entry a millisecond, ten minutes ago
    pipe = r.pipeline(transaction=False)
    for n in range(flood):
        pipe.xadd(keys.INCIDENTS, {"n": str(n)}, id=f"{first_ms + n}-0")
    pipe.execute()
    delivered = r.xreadgroup(keys.CONSUMER_GROUP, "reader", {keys.INCIDENTS: ">"}, count=flood)
    r.xack(keys.INCIDENTS, keys.CONSUMER_GROUP, *(entry_id for entry_id, _ in delivered[0][1]))
    monkeypatch.setattr(keys, "INBOUND_KEEP_MAX", 1_000)
    consumer.trim()
    assert r.xlen(keys.INCIDENTS) <= 1_000 + 100  # whole radix-tree nodes of 100 entries go at a time


def test_consumer008c_live_keeps_its_retention_whatever_the_burst(r: redis.Redis) -> None:
    machine_now = time.time()
    old_ms = int((machine_now - keys.LIVE_KEEP_S - 60) * 1000)
    pipe = r.pipeline(transaction=False)
    for n in range(25_000):
        pipe.xadd(keys.LIVE, {"type": "incident", "data": "{}"}, id=f"{old_ms}-{n}")
    pipe.execute()
    fresh = r.xadd(keys.LIVE, {"type": "incident", "data": "{}"})
    events.trim(r, machine_now)
    assert [entry_id for entry_id, _ in r.xrange(keys.LIVE)] == [fresh]


@pytest.mark.slow  # starts processes
def test_consumer009_killed_mid_batch_loses_nothing_and_doubles_nothing(
    r: redis.Redis, engine: Engine, redis_url: str, tmp_path: Path
) -> None:
    """A worker process SIGKILLed while busy; a restarted one finishes the work."""
    total = 3000
    pipe = r.pipeline(transaction=False)
    for n in range(total):
        pipe.xadd(keys.INCIDENTS, incident(f"K-{n}"))
    pipe.execute()
    env = {**os.environ, "REDIS_URL": redis_url, "DATABASE_URL": str(engine.url.render_as_string(hide_password=False)),
           "VAR_DIR": str(tmp_path)}
    command = [sys.executable, "worker.py", "--reclaim-idle-ms", "200"]
    victim = subprocess.Popen([*command, "--name", "victim"], cwd=PROJECT_ROOT, env=env)
    wait_until(lambda: row_count(engine) > 0, what="the worker to start keeping incidents")
    victim.send_signal(signal.SIGKILL)
    victim.wait()
    assert row_count(engine) < total, "the worker finished before it was killed: the test proves nothing"
    survivor = subprocess.Popen([*command, "--name", "survivor"], cwd=PROJECT_ROOT, env=env)
    try:
        wait_until(lambda: row_count(engine) == total
                   and r.xpending(keys.INCIDENTS, keys.CONSUMER_GROUP)["pending"] == 0,
                   timeout=60, what="all incidents kept and acknowledged")
    finally:
        survivor.send_signal(signal.SIGTERM)
        survivor.wait(timeout=20)
    published = [e["event_id"] for e in live_events(r, "incident")]
    assert len(published) == total
    assert len(set(published)) == total


def test_consumer010_published_log_is_pruned(r: redis.Redis, consumer: Consumer) -> None:
    old = time.time() - 2 * 3600  # machine time, as the stream ids
    r.zadd(keys.PUBLISHED, {"OLD-1": old, "NEW-1": time.time()})
    consumer.trim()
    assert r.zrange(keys.PUBLISHED, 0, -1) == ["NEW-1"]


def test_consumer010b_kept_before_a_week_long_outage_is_still_published_once(
    r: redis.Redis, engine: Engine, consumer: Consumer, time_machine: TimeMachineFixture
) -> None:
    """The crash of 005, then every consumer down for eight days: the pending entry is still shown once,
    and the producer's resend of an already shown event (its publish-log entry long pruned) is not."""
    entry_id = r.xadd(keys.INCIDENTS, incident("E-OUT"))
    r.xreadgroup(keys.CONSUMER_GROUP, "crashed", {keys.INCIDENTS: ">"}, count=10)
    kept_at = clock.now()
    with engine.begin() as conn:
        conn.execute(incidents.insert().values(
            event_id="E-OUT", stream_id=entry_id, reported_at=kept_at, ingested_at=kept_at, lon=SEAT[0],
            lat=SEAT[1], grid="SC-001", category="noise", priority=2, address="x", description="", source="110"))
    r.xadd(keys.INCIDENTS, incident("E-SHOWN"))
    drain(consumer)
    r.delete(keys.PUBLISHED)  # pruned while everything was down
    time_machine.move_to(kept_at + timedelta(days=8), tick=True)
    consumer.reclaim_idle_ms = 0
    assert consumer.reclaim() == 1
    r.xadd(keys.INCIDENTS, incident("E-SHOWN"))  # sent again by its producer
    drain(consumer)
    assert sorted(e["event_id"] for e in live_events(r, "incident")) == ["E-OUT", "E-SHOWN"]
    assert r.xpending(keys.INCIDENTS, keys.CONSUMER_GROUP)["pending"] == 0


@pytest.mark.slow  # starts processes
def test_consumer012_an_extra_worker_raises_the_same_instant_warnings(
    r: redis.Redis, engine: Engine, redis_url: str, tmp_path: Path
) -> None:
    """``worker.py`` is assembled like the dashboard (services.build): a household calling again warns at once,
    not at the next morning's run, whichever consumer takes the call."""
    env = {**os.environ, "REDIS_URL": redis_url, "DATABASE_URL": str(engine.url.render_as_string(hide_password=False)),
           "VAR_DIR": str(tmp_path)}
    worker = subprocess.Popen([sys.executable, "worker.py", "--name", "extra"], cwd=PROJECT_ROOT, env=env)
    try:
        for n in (1, 2):
            r.xadd(keys.INCIDENTS, incident(f"FAM-{n}", category="family_dispute", caller="13811112222",
                                            ago=timedelta(hours=3 - n)))

        def warned() -> list[dict[str, object]]:
            with engine.connect() as conn:
                return [dict(row) for row in conn.execute(select(leads.c.rule, leads.c.evidence)).mappings()]

        [lead] = wait_until(warned, timeout=60, what="the worker's instant warning")
        # Its other lane: the heartbeats.
        r.xadd(keys.HEARTBEATS, sensor("HB-W", SMOKE, "heartbeat"))
        wait_until(lambda: r.hexists(keys.DEVICE_SEEN, SMOKE), timeout=30, what="the worker's heartbeat lane")
    finally:
        worker.send_signal(signal.SIGTERM)
        assert worker.wait(timeout=20) == 0  # both lanes finished their batches and stopped
    assert {c["name"] for c in r.xinfo_consumers(keys.HEARTBEATS, keys.CONSUMER_GROUP)} == {"extra:heartbeats"}
    assert {c["name"] for c in r.xinfo_consumers(keys.INCIDENTS, keys.CONSUMER_GROUP)} == {"extra"}
    assert lead["rule"] == "family_repeat" and json.loads(str(lead["evidence"])) == ["FAM-1", "FAM-2"]
    assert {e["event_id"] for e in live_events(r, "incident")} == {"FAM-1", "FAM-2"}


SMOKE = "SMK-01-1-03"  # compound CP-01, building 1, floor 3
THROWING = "THR-01-1"
DOOR = "DR-01-1-1"


def test_consumer013_an_alert_below_its_bar_is_kept_as_a_reading_not_raised(
    r: redis.Redis, engine: Engine, consumer: Consumer
) -> None:
    """Smoke at 0.099 / 0.100 / 0.101 mg/m³, throws from floors 2 / 3, a scenario the device cannot see,
    and the alerts whose number was never sent (they stand: nothing silences a possible fire)."""
    sent = {
        "S-099": sensor("S-099", SMOKE, scenario="smoke", value="0.099"),
        "S-100": sensor("S-100", SMOKE, scenario="smoke", value="0.100"),
        "S-101": sensor("S-101", SMOKE, scenario="smoke", value="0.101"),
        "S-NONE": sensor("S-NONE", SMOKE, scenario="smoke"),
        "T-2": sensor("T-2", THROWING, scenario="high_altitude_throwing", floor="2"),
        "T-3": sensor("T-3", THROWING, scenario="high_altitude_throwing", floor="3"),
        "T-NONE": sensor("T-NONE", THROWING, scenario="high_altitude_throwing"),
        "D-SMOKE": sensor("D-SMOKE", DOOR, scenario="smoke", value="0.5"),
    }
    for fields in sent.values():
        r.xadd(keys.SENSORS, fields)
    readings = 0
    while response := r.xreadgroup(keys.CONSUMER_GROUP, consumer.name, {keys.SENSORS: ">"}, count=500):
        readings += consumer.process({stream: entries for stream, entries in response}).readings
    with engine.connect() as conn:
        kept = {row.event_id: (row.kind, row.screened) for row in conn.execute(select(sensor_events))}
    assert kept == {
        "S-099": ("reading", "below_threshold"), "S-100": ("alert", None), "S-101": ("alert", None),
        "S-NONE": ("alert", None), "T-2": ("reading", "below_floor"), "T-3": ("alert", None),
        "T-NONE": ("alert", None), "D-SMOKE": ("reading", "wrong_device"),
    }
    assert readings == 3
    assert sorted(e["event_id"] for e in live_events(r, "alert")) == ["S-100", "S-101", "S-NONE", "T-3", "T-NONE"]
    assert r.xlen(keys.DEAD) == 0
    assert r.xpending(keys.SENSORS, keys.CONSUMER_GROUP)["pending"] == 0


def test_consumer011_a_restarted_consumer_finishes_what_it_had_read_at_once(
    r: redis.Redis, engine: Engine, consumer: Consumer
) -> None:
    """A batch cut short (the database restarted mid-batch) is processed on the consumer's next start, not
    30 s later by a reclaim."""
    for n in range(3):
        r.xadd(keys.INCIDENTS, incident(f"CUT-{n}"))
    r.xreadgroup(keys.CONSUMER_GROUP, consumer.name, {keys.INCIDENTS: ">"}, count=10)  # read, never processed
    assert r.xpending(keys.INCIDENTS, keys.CONSUMER_GROUP)["pending"] == 3
    assert consumer.finish_own_pending() == 3
    assert row_count(engine) == 3
    assert r.xpending(keys.INCIDENTS, keys.CONSUMER_GROUP)["pending"] == 0
    assert consumer.finish_own_pending() == 0


def _run(worker: Consumer) -> tuple[threading.Event, threading.Thread]:
    stop = threading.Event()
    thread = threading.Thread(target=worker.run, args=(stop,), daemon=True)
    thread.start()
    return stop, thread


def test_consumer014_an_alert_never_waits_behind_the_heartbeats(
    r: redis.Redis, engine: Engine, grids: GridIndex, devices: DeviceRegistry
) -> None:
    """A sensor platform back from an outage sends its heartbeats at once; the events lane shows the alert sent
    after them while every one of them is still unread (no timing: nothing but the lane reads them), and the
    heartbeat lane then records them all."""
    camera = next(d for d in devices.devices.values() if d.type == "camera")
    backlog = [d.device_id for d in devices.devices.values()][:1000]
    pipe = r.pipeline(transaction=False)
    for n, device_id in enumerate(backlog * 3):
        pipe.xadd(keys.HEARTBEATS, sensor(f"HB-{n}", device_id, "heartbeat", ago=timedelta(seconds=30)))
    pipe.execute()
    r.xadd(keys.SENSORS, sensor("AL-AFTER", camera.device_id, scenario="fight"))
    events_lane = Consumer(r, engine, grids, devices, name="events", lane=Lane.EVENTS)
    heartbeat_lane = Consumer(r, engine, grids, devices, name="beats", lane=Lane.HEARTBEATS)
    assert keys.HEARTBEATS not in events_lane.streams and heartbeat_lane.streams == (keys.HEARTBEATS,)
    heartbeat_lane.ensure_groups()  # as when both lanes start, then the heartbeat lane falls behind
    stop, thread = _run(events_lane)
    try:
        [alert] = wait_until(lambda: live_events(r, "alert"), what="the alert on the live stream")
        assert alert["event_id"] == "AL-AFTER"
        [group] = r.xinfo_groups(keys.HEARTBEATS)
        assert group["last-delivered-id"] == "0-0" and r.xlen(keys.HEARTBEATS) == 3000  # not one read yet
        assert r.hlen(keys.DEVICE_SEEN) == 1  # the alerting camera only
    finally:
        stop.set()
        thread.join(timeout=10)
    stop, thread = _run(heartbeat_lane)
    try:
        last_id = r.xrevrange(keys.HEARTBEATS, count=1)[0][0]
        wait_until(lambda: r.xinfo_groups(keys.HEARTBEATS)[0]["last-delivered-id"] == last_id
                   and r.xpending(keys.HEARTBEATS, keys.CONSUMER_GROUP)["pending"] == 0,
                   what="the heartbeats read and acknowledged")
    finally:
        stop.set()
        thread.join(timeout=10)
    assert set(r.hkeys(keys.DEVICE_SEEN)) == {*backlog, camera.device_id}
    assert r.zcard(keys.DEVICE_DEADLINES) == len({*backlog, camera.device_id})
    assert [e["event_id"] for e in live_events(r, "alert")] == ["AL-AFTER"]  # heartbeats show on no screen
    assert row_count(engine, sensor_events) == 1


def test_consumer015_the_heartbeat_lane_keeps_what_is_sent_to_it_and_says_where_a_bad_entry_came_from(
    r: redis.Redis, engine: Engine, grids: GridIndex, devices: DeviceRegistry
) -> None:
    """An alert sent to the heartbeats by mistake is kept and shown all the same (late, never lost); a bad entry
    there is a dead letter naming the lane's stream."""
    camera = next(d for d in devices.devices.values() if d.type == "camera")
    heartbeat_lane = Consumer(r, engine, grids, devices, name="beats", lane=Lane.HEARTBEATS)
    heartbeat_lane.ensure_groups()
    r.xadd(keys.HEARTBEATS, sensor("AL-LANE", camera.device_id, scenario="fight"))
    r.xadd(keys.HEARTBEATS, sensor("HB-NOPE", "NOPE-1", "heartbeat"))
    r.xadd(keys.HEARTBEATS, {"event_id": "HB-BAD", "device_id": camera.device_id, "kind": "heartbeat"})
    [(stream, entries)] = r.xreadgroup(keys.CONSUMER_GROUP, heartbeat_lane.name, {keys.HEARTBEATS: ">"}, count=10)
    result = heartbeat_lane.process({stream: entries})
    assert (result.processed, result.published, result.dead) == (3, 1, 2)
    assert [e["event_id"] for e in live_events(r, "alert")] == ["AL-LANE"]
    dead = [fields for _, fields in r.xrange(keys.DEAD)]
    assert {d["stream"] for d in dead} == {keys.HEARTBEATS}
    reasons = {json.loads(d["fields"])["event_id"]: d["reason"] for d in dead}
    assert set(reasons) == {"HB-NOPE", "HB-BAD"}
    assert "unknown device" in reasons["HB-NOPE"] and "observed_at" in reasons["HB-BAD"]
    assert r.xpending(keys.HEARTBEATS, keys.CONSUMER_GROUP)["pending"] == 0


def test_consumer016_a_process_consumes_the_lanes_its_settings_name(r: redis.Redis, settings: Settings) -> None:
    """At city scale the web processes take the events lane only (``CONSUMER_LANES=events``) and the heartbeats go
    to a process of their own; an unknown lane stops the start with a clear message."""
    parts = services.build(dataclasses.replace(settings, consumer_lanes=("events",), backfill=False))
    try:
        parts.start(consumer=True, simulator=False, scheduled=False)
        names = {thread.name for thread in parts.threads}
        assert "consumer-events" in names and "consumer-heartbeats" not in names
        r.xadd(keys.HEARTBEATS, sensor("HB-ALONE", SMOKE, "heartbeat"))
        r.xadd(keys.INCIDENTS, incident("LANE-1"))
        wait_until(lambda: row_count(parts.engine) == 1, what="the events lane keeping the incident")
        assert not r.exists(keys.HEARTBEATS) or not any(
            group["name"] == keys.CONSUMER_GROUP and group["consumers"] for group in r.xinfo_groups(keys.HEARTBEATS))
        assert not r.hexists(keys.DEVICE_SEEN, SMOKE)
    finally:
        parts.stop()
    assert Settings.from_env(consumer_lanes=("heartbeats",)).consumer_lanes == ("heartbeats",)
    odd = services.build(dataclasses.replace(settings, consumer_lanes=("events", "alerts"), backfill=False))
    try:
        with pytest.raises(ValueError, match="CONSUMER_LANES: unknown lane 'alerts'"):
            odd.start(consumer=True, simulator=False, scheduled=False)
    finally:
        odd.stop()
