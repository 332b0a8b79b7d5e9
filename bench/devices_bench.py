"""Issue 19 figures: city scale, 2,500 / 25,000 / 250,000 devices on the real parts.

Workload, per size (synthetic devices at random points of the district, 60% cameras, 20% behaviour terminals,
10% smoke sensors, 10% doors, every one heartbeating every 60 s):

- **(d) import**: the registry as a CSV file (the import's columns, grid given) checked and upserted into a fresh
  SQLite file by ``geo.devices_csv.import_file`` (what ``python -m geo.devices import`` runs), then the same file
  again (every row unchanged: nothing written), then the registry loaded into memory as a process does on start.
  With ``BENCH_POSTGRES_URL`` set the import is timed on PostgreSQL too (in a scratch schema, dropped after).
- **(a) ingest**: a child process runs the real consumer (``ingest.consumer.Consumer``, one thread, on that
  SQLite file and the registry it loads) and the health monitor (``sensors.health.HealthMonitor``, its own thread,
  a check every 5 s) against an embedded Redis; the parent writes heartbeats at N / 60 per second (paced in
  pipelines every 0.1 s) for ``BENCH_DEVICES_LOAD_S`` (default 60 s; 20 s below 250,000). Reported: the rate
  written and kept up with (consumer lag on the sensor stream sampled every second, and at the end), and the CPU
  share of each part = its CPU seconds / wall seconds over the load: the child process (consumer + monitor;
  /proc), the monitor's thread alone (``time.thread_time`` around each check), the producer thread, redis-server.
- **(b) health checks** at 25,000 and 250,000: the monitor on its own (in this process, a frozen clock moved 5 s a
  check), 20 checks with every device reporting and no change, then 20 checks each with 20 devices falling silent
  and 20 coming back, a fault in the record among them. Yardstick in the same run: one full evaluation of every
  device, which is what the monitor did at every check before (and still does at its first check, when the
  registry changes, and every 10 minutes as a safety net).
- **(c) alert → live**: 120 camera alerts, one every 0.1 s, XADD → the alert's entry on the live stream (the
  entry id's milliseconds; one machine, one clock), quiet (no heartbeats) and during the heartbeat load.
- **(c) again at the largest size** with the heartbeat lane in a process of its own (``CONSUMER_LANES=events`` for
  the process with the monitor, ``worker.py --lane heartbeats`` beside it): whether sharing a process (its
  interpreter lock) with the heartbeats costs the alerts anything.
- **(e) a backlog** at the largest size: a sensor platform back from an outage sends a minute of every device's
  heartbeats at once, then the 120 alerts (those sent before the backlog drained reported on their own); the
  heartbeats on their own lane (``{cc}:in:heartbeats``, read by the heartbeat lane's consumer) and, as the
  yardstick, on ``{cc}:in:sensors`` as before version 0.2.0 (still read, by the events lane, behind which the
  alerts then queue).

The child process runs both lanes, each in its own thread, as ``make run`` and ``worker.py`` do by default.

``python -m bench devices`` (or ``make bench BENCH=devices``) runs it, in about 5 minutes; figures only, nothing
is gated.
"""

from __future__ import annotations

import csv
import json
import multiprocessing
import os
import statistics
import tempfile
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from multiprocessing.connection import Connection as Pipe
from pathlib import Path
from typing import cast

import numpy as np
import redis
from sqlalchemy import Engine, text

from bench.common import percentile, report
from bench.fanout_bench import cpu_seconds
from bus import keys
from bus.connection import EmbeddedRedis, connect
from geo.devices import COLUMNS, Device, DeviceRegistry, astuple
from geo.devices_csv import import_file
from geo.index import GridIndex
from ingest.consumer import Consumer, Lane
from sensors.health import SILENT_INTERVALS, DeviceHealth, HealthMonitor, record_seen
from store.db import make_engine, sensor_events

SIZES = tuple(int(n) for n in os.environ.get("BENCH_DEVICES_SIZES", "2500,25000,250000").split(","))
HEALTH_SIZES = tuple(n for n in SIZES if n >= 25_000) or SIZES[-1:]
HEARTBEAT_S = 60
TICK_S = 0.1  # the producer writes one pipeline per tick
LOAD_S = float(os.environ.get("BENCH_DEVICES_LOAD_S", "60"))
SMALL_LOAD_S = 20.0
ALERTS = 120  # enough for a steady 95th percentile of milliseconds
ALERT_EVERY_S = 0.1
HEALTH_CHECKS = 20
CHANGES_PER_CHECK = 20
KINDS = (("camera", 0.6), ("behaviour", 0.2), ("smoke", 0.1), ("door", 0.1))


# -- devices ------------------------------------------------------------------------------------------------

def make_devices(grids: GridIndex, count: int, seed: int = 19) -> list[Device]:
    """``count`` devices at random points of the district (rejection sampling in its box, one STRtree query)."""
    rng = np.random.default_rng(seed)
    min_x, min_y, max_x, max_y = (float(v) for v in grids.frame.total_bounds)
    lon = np.round(rng.uniform(min_x, max_x, count * 3), 6)
    lat = np.round(rng.uniform(min_y, max_y, count * 3), 6)
    codes = grids.locate_codes(lon, lat)
    inside = [n for n, code in enumerate(codes) if code is not None][:count]
    if len(inside) < count:
        raise RuntimeError("the district fills too little of its box for this sample")
    kinds = rng.choice(len(KINDS), size=count, p=[share for _, share in KINDS])
    return [Device(f"DEV-{n:06d}", KINDS[k][0], float(lon[i]), float(lat[i]), cast(str, codes[i]),
                   heartbeat_s=HEARTBEAT_S)
            for n, (i, k) in enumerate(zip(inside, kinds.tolist(), strict=True))]


def write_csv(devices: list[Device], path: Path) -> None:
    with path.open("w", encoding="utf-8", newline="") as out:
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(COLUMNS)
        writer.writerows(["" if v is None else v for v in astuple(d)] for d in devices)


# -- (d) import -----------------------------------------------------------------------------------------------

@dataclass
class Imported:
    first_s: float
    again_s: float
    load_s: float
    new: int
    unchanged: int


def time_import(engine: Engine, path: Path, grids: GridIndex) -> Imported:
    first = import_file(engine, path, grids)
    again = import_file(engine, path, grids)
    assert first.written is not None and again.written is not None and not first.checked.refused
    started = time.perf_counter()
    DeviceRegistry(engine=engine)
    return Imported(first.seconds, again.seconds, time.perf_counter() - started, first.written.new,
                    again.written.unchanged)


def postgres_import(url: str, path: Path, grids: GridIndex) -> Imported:
    """The same import on PostgreSQL, in a scratch schema dropped afterwards."""
    schema = f"bench_devices_{os.getpid()}"
    admin = make_engine(url, migrate=False)
    with admin.begin() as conn:
        conn.execute(text(f"CREATE SCHEMA {schema}"))
    separator = "&" if "?" in url else "?"
    engine = make_engine(f"{url}{separator}options=-csearch_path%3D{schema}")
    try:
        return time_import(engine, path, grids)
    finally:
        engine.dispose()
        with admin.begin() as conn:
            conn.execute(text(f"DROP SCHEMA {schema} CASCADE"))
        admin.dispose()


# -- (b) the health monitor's checks ------------------------------------------------------------------------

@dataclass
class Checks:
    devices: int
    full_ms: float  # one full evaluation of every device (the old monitor's every check)
    quiet_ms: list[float] = field(default_factory=list)
    quiet_judged: list[int] = field(default_factory=list)
    busy_ms: list[float] = field(default_factory=list)
    busy_judged: list[int] = field(default_factory=list)
    busy_changed: list[int] = field(default_factory=list)


def health_checks(r: redis.Redis, engine: Engine, devices: list[Device]) -> Checks:
    """The monitor alone: checks with no change, then checks with a few changes, on a moved clock."""
    r.flushall()
    registry = DeviceRegistry.of(devices)
    now = [datetime.now(UTC).timestamp()]  # the monitor's clock, moved by hand below
    health = DeviceHealth(r, engine, registry, clock=lambda: now[0])
    monitor = HealthMonitor(health, r)
    ids = [d.device_id for d in devices]
    window = SILENT_INTERVALS * HEARTBEAT_S
    # Everyone reported within the last minute (spread over it), except a pool that fell silent long ago.
    silent_pool = ids[: CHANGES_PER_CHECK * HEALTH_CHECKS]
    rng = np.random.default_rng(5)
    offsets = rng.uniform(0, HEARTBEAT_S, len(ids))
    for start in range(0, len(ids), 20_000):
        record_seen(r, registry, {d: now[0] - float(o) for d, o in zip(ids[start:start + 20_000],
                                                                          offsets[start:start + 20_000], strict=True)})
    record_seen(r, registry, dict.fromkeys(silent_pool, now[0] - 2 * window))
    started = time.perf_counter()
    monitor.check_once()  # the first check: a full evaluation, writes the work lists
    full_ms = (time.perf_counter() - started) * 1000
    out = Checks(len(devices), full_ms)
    # Between two checks (5 s) a twelfth of the devices report, as 60 s heartbeats do.
    share = max(1, len(ids) // (HEARTBEAT_S // 5))
    silent = set(silent_pool)
    online = [d for d in ids if d not in silent]
    steady = online[: len(online) - CHANGES_PER_CHECK * HEALTH_CHECKS]  # keep reporting throughout
    to_fall = online[len(steady):]  # report until their turn to fall silent comes
    cursor = 0

    fallen = 0

    def heartbeats(extra: dict[str, float] | None = None) -> None:
        nonlocal cursor
        batch = [steady[(cursor + n) % len(steady)] for n in range(share)]
        cursor = (cursor + share) % len(steady)
        record_seen(r, registry, dict.fromkeys(batch, now[0]) | dict.fromkeys(to_fall[fallen:], now[0]) | (extra or {}))

    for _ in range(HEALTH_CHECKS):
        now[0] += 5
        heartbeats()
        started = time.perf_counter()
        monitor.check_once()
        out.quiet_ms.append((time.perf_counter() - started) * 1000)
        out.quiet_judged.append(monitor.last.candidates)
    for n in range(HEALTH_CHECKS):
        now[0] += 5
        # Twenty come back (silent long ago, reporting now); twenty fall silent (their deadline just passed).
        back = silent_pool[n * CHANGES_PER_CHECK:(n + 1) * CHANGES_PER_CHECK]
        falling = to_fall[n * CHANGES_PER_CHECK:(n + 1) * CHANGES_PER_CHECK]
        fallen = (n + 1) * CHANGES_PER_CHECK
        heartbeats(dict.fromkeys(back, now[0]) | dict.fromkeys(falling, now[0] - window - 1))
        if n == HEALTH_CHECKS // 2:
            at = datetime.fromtimestamp(now[0], UTC)
            with engine.begin() as conn:
                conn.execute(sensor_events.insert().values(event_id=f"FLT-{len(devices)}", stream_id="1-0",
                                                           device_id=online[0], observed_at=at, ingested_at=at,
                                                           kind="fault"))
        started = time.perf_counter()
        monitor.check_once()
        out.busy_ms.append((time.perf_counter() - started) * 1000)
        out.busy_judged.append(monitor.last.candidates)
        out.busy_changed.append(monitor.last.changed)
    assert not monitor.last.full  # every check after the first was incremental
    return out


# -- (a) + (c): the consumer and the monitor under the heartbeats of every device ----------------------------

def serve(redis_url: str, database_url: str, control: Pipe, lanes: tuple[Lane, ...] = tuple(Lane)) -> None:
    """A child process: the real consumer of ``lanes`` and, beside the events lane, the health monitor, until told
    to stop; then its figures."""
    import logging

    logging.basicConfig(level=logging.WARNING)
    engine = make_engine(database_url)
    grids = GridIndex()
    before = _rss_mb("VmRSS")
    started = time.perf_counter()
    registry = DeviceRegistry(engine=engine)
    load_s = time.perf_counter() - started
    registry_mb = _rss_mb("VmRSS") - before
    consumers = [Consumer(connect(redis_url), engine, grids, registry, name=f"bench-{lane}", lane=lane)
                 for lane in lanes]
    monitor = HealthMonitor(DeviceHealth(connect(redis_url), engine, registry), connect(redis_url))
    stop = threading.Event()
    monitor_cpu: list[float] = []
    monitor_ms: list[float] = []

    def watch() -> None:
        while not stop.wait(5.0):
            cpu, wall = time.thread_time(), time.perf_counter()
            monitor.check_once()
            monitor_cpu.append(time.thread_time() - cpu)
            monitor_ms.append((time.perf_counter() - wall) * 1000)

    threads = [threading.Thread(target=consumer.run, args=(stop,), daemon=True) for consumer in consumers]
    if Lane.EVENTS in lanes:
        threads.append(threading.Thread(target=watch, daemon=True))
    for thread in threads:
        thread.start()
    control.send({"ready": True, "load_s": load_s, "registry_mb": registry_mb})
    while True:
        message = control.recv()
        if message == "marks":
            control.send({"monitor_cpu": sum(monitor_cpu), "monitor_ms": list(monitor_ms),
                          "checks": len(monitor_ms)})
        elif message == "stop":
            break
    stop.set()
    for thread in threads:
        thread.join(timeout=10)
    control.send({"monitor_cpu": sum(monitor_cpu), "monitor_ms": list(monitor_ms),
                  "rss_mb": _rss_mb()})
    engine.dispose()


def _rss_mb(field_name: str = "VmHWM") -> float:
    """This process's peak (``VmHWM``) or current (``VmRSS``) resident memory, MB (ru_maxrss survives exec)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field_name + ":"):
            return int(line.split()[1]) / 1024
    return float("nan")


def consumer_lag(r: redis.Redis, stream: str = keys.HEARTBEATS) -> int:
    """Entries on a stream the group has not finished: undelivered + pending."""
    group = next((g for g in r.xinfo_groups(stream) if g["name"] == keys.CONSUMER_GROUP), None)
    if group is None:
        return r.xlen(stream)
    undelivered = len(r.xrange(stream, min=f"({group['last-delivered-id']}", max="+", count=1_000_000))
    return undelivered + int(group["pending"])


@dataclass
class Producer:
    """Heartbeats of every device every 60 s, paced; samples the consumer's lag each second."""

    redis_url: str
    device_ids: list[str]
    stop: threading.Event = field(default_factory=threading.Event)
    sent: int = 0
    seconds: float = 0.0
    cpu: float = 0.0
    late_ticks: int = 0
    lags: list[int] = field(default_factory=list)
    thread: threading.Thread | None = None
    sampler: threading.Thread | None = None

    def start(self) -> None:
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.sampler = threading.Thread(target=self._sample, daemon=True)
        self.thread.start()
        self.sampler.start()

    def finish(self) -> None:
        self.stop.set()
        for thread in (self.thread, self.sampler):
            if thread:
                thread.join(timeout=30)

    def _run(self) -> None:
        r = connect(self.redis_url)
        rate = len(self.device_ids) / HEARTBEAT_S
        cpu0, started = time.thread_time(), time.perf_counter()
        tick = 0
        owed = 0.0
        while not self.stop.is_set():
            pause = started + tick * TICK_S - time.perf_counter()
            if pause > 0:
                if self.stop.wait(pause):  # pacing the producer, and how it stops
                    break
            elif pause < -TICK_S:
                self.late_ticks += 1
            owed += rate * TICK_S
            count, owed = int(owed), owed - int(owed)
            observed = datetime.now(UTC).isoformat()
            pipe = r.pipeline(transaction=False)
            for _ in range(count):
                device_id = self.device_ids[self.sent % len(self.device_ids)]
                pipe.xadd(keys.HEARTBEATS, {"event_id": f"HB-{self.sent}", "device_id": device_id,
                                            "observed_at": observed, "kind": "heartbeat"})
                self.sent += 1
            pipe.execute()
            tick += 1
        self.seconds = time.perf_counter() - started
        self.cpu = time.thread_time() - cpu0

    def _sample(self) -> None:
        r = connect(self.redis_url)
        while not self.stop.wait(1.0):  # once a second, and how it stops
            self.lags.append(consumer_lag(r))


def send_alerts(r: redis.Redis, cameras: list[str], tag: str) -> dict[str, float]:
    """``ALERTS`` camera alerts, one every ``ALERT_EVERY_S``; event id -> sent (epoch ms, just before XADD)."""
    sent: dict[str, float] = {}
    started = time.perf_counter()
    for n in range(ALERTS):
        pause = started + n * ALERT_EVERY_S - time.perf_counter()
        if pause > 0:
            time.sleep(pause)  # pacing the producer
        event_id = f"{tag}-{n:03d}"
        sent[event_id] = time.time() * 1000
        r.xadd(keys.SENSORS, {"event_id": event_id, "device_id": cameras[n % len(cameras)],
                              "observed_at": datetime.now(UTC).isoformat(), "kind": "alert", "scenario": "fight",
                              "sent_at": f"{sent[event_id]:.1f}"})
    return sent


def live_latencies(r: redis.Redis, sent: dict[str, float]) -> list[float]:
    """XADD -> the alert's entry on the live stream (ms), waiting for all of them (or a minute)."""
    return list(live_latency_of(r, sent).values())


def live_latency_of(r: redis.Redis, sent: dict[str, float], timeout_s: float = 60.0) -> dict[str, float]:
    """Event id -> ms from XADD to its entry on the live stream, for those published within the timeout."""
    deadline = time.monotonic() + timeout_s
    while True:
        published = {json.loads(f["data"])["event_id"]: float(entry_id.split("-")[0])
                     for entry_id, f in r.xrange(keys.LIVE) if f.get("type") == "alert"}
        found = {k: published[k] - v for k, v in sent.items() if k in published}
        if len(found) == len(sent) or time.monotonic() > deadline:
            return found
        time.sleep(0.2)  # another process's progress: nothing to await


@dataclass
class Ingest:
    devices: int
    registry_load_s: float
    produced: int = 0
    seconds: float = 0.0
    late_ticks: int = 0
    lags: list[int] = field(default_factory=list)
    end_lag: int = 0
    drain_s: float = 0.0
    child_cores: float = 0.0
    monitor_cores: float = 0.0
    monitor_ms: list[float] = field(default_factory=list)
    producer_cores: float = 0.0
    redis_cores: float = 0.0
    quiet: list[float] = field(default_factory=list)
    loaded: list[float] = field(default_factory=list)
    rss_mb: float = 0.0
    registry_mb: float = 0.0
    dead: int = 0
    backlogs: list[Backlog] = field(default_factory=list)


@dataclass
class Backlog:
    """(e): a minute of heartbeats at once on ``stream``, then the alerts while they drain."""

    stream: str
    entries: int
    write_s: float
    behind: int  # heartbeats not yet finished when the first alert was sent
    drain_s: float  # from the first alert to the last heartbeat finished
    latencies: list[float]
    while_draining: list[float]  # of the alerts sent before the backlog was gone


def backlog(r: redis.Redis, ids: list[str], cameras: list[str], stream: str, tag: str) -> Backlog:
    observed = datetime.now(UTC).isoformat()
    started = time.perf_counter()
    for start in range(0, len(ids), 5_000):
        pipe = r.pipeline(transaction=False)
        for n, device_id in enumerate(ids[start:start + 5_000], start):
            pipe.xadd(stream, {"event_id": f"{tag}-HB-{n}", "device_id": device_id, "observed_at": observed,
                               "kind": "heartbeat"})
        pipe.execute()
    write_s = time.perf_counter() - started
    behind = consumer_lag(r, stream)
    first_alert = time.perf_counter()
    drained: list[float] = []

    def watch() -> None:
        while consumer_lag(r, stream) and time.perf_counter() - first_alert < 300:
            time.sleep(0.05)  # another process's progress: nothing to await
        drained.append(time.perf_counter() - first_alert)

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    first_ms = time.time() * 1000
    sent = send_alerts(r, cameras, tag)
    watcher.join()
    latency = live_latency_of(r, sent)
    draining = [latency[k] for k, at in sent.items() if k in latency and at < first_ms + drained[0] * 1000]
    return Backlog(stream, len(ids), write_s, behind, drained[0], list(latency.values()), draining)


def ingest(tmp: Path, devices: list[Device], database_url: str, apart: bool = False) -> Ingest:
    """(a) + (c) (+ (e) at the largest size): both lanes in one process, or (``apart``) the heartbeat lane in a
    process of its own (``CONSUMER_LANES=events`` + ``worker.py --lane heartbeats``)."""
    server = EmbeddedRedis(tmp / f"redis-{len(devices)}{'-apart' if apart else ''}")
    redis_url = server.start()
    r = connect(redis_url)
    registry = DeviceRegistry.of(devices)
    ids = [d.device_id for d in devices]
    cameras = [d.device_id for d in devices if d.type == "camera"][:ALERTS]
    # Every device reported within the last minute (spread over it), as a running city's would have: the monitor's
    # first check finds them online, the paced heartbeats keep them so.
    now = time.time()
    offsets = np.random.default_rng(7).uniform(0, HEARTBEAT_S * 0.5, len(ids))
    for start in range(0, len(ids), 20_000):
        record_seen(r, registry, {d: now - float(o) for d, o in zip(ids[start:start + 20_000],
                                                                     offsets[start:start + 20_000], strict=True)})
    context = multiprocessing.get_context("spawn")
    layout = [(Lane.EVENTS,), (Lane.HEARTBEATS,)] if apart else [tuple(Lane)]
    pipes = [context.Pipe() for _ in layout]
    processes = [context.Process(target=serve, args=(redis_url, database_url, child, lanes), daemon=True)
                 for (_, child), lanes in zip(pipes, layout, strict=True)]
    parent = pipes[0][0]  # the events lane's process, the monitor beside it
    for process in processes:
        process.start()
    try:
        hello = parent.recv()
        for other, _ in pipes[1:]:
            other.recv()
        out = Ingest(len(devices), float(hello["load_s"]), registry_mb=float(hello["registry_mb"]))
        while True:  # measure once the monitor's first check (a full evaluation) is behind us
            parent.send("marks")
            if parent.recv()["checks"]:
                break
            time.sleep(0.5)  # another process's progress: nothing to await
        tag = "APART-" if apart else ""  # the system of record outlives a layout: ids new to it, or not shown
        out.quiet = live_latencies(r, send_alerts(r, cameras, f"{tag}QUIET"))
        load_s = LOAD_S if len(devices) >= 250_000 else SMALL_LOAD_S
        producer = Producer(redis_url, ids)
        assert server.process is not None
        pids = [process.pid for process in processes if process.pid is not None]
        child0, redis0 = sum(cpu_seconds(pid) for pid in pids), cpu_seconds(server.process.pid)
        parent.send("marks")
        monitor0 = parent.recv()["monitor_cpu"]
        wall0 = time.perf_counter()
        producer.start()
        time.sleep(max(0.0, load_s / 2 - ALERTS * ALERT_EVERY_S / 2))
        loaded_sent = send_alerts(r, cameras, f"{tag}LOADED")
        time.sleep(max(0.0, wall0 + load_s - time.perf_counter()))
        producer.finish()
        wall = time.perf_counter() - wall0
        parent.send("marks")
        marks = parent.recv()
        out.child_cores = (sum(cpu_seconds(pid) for pid in pids) - child0) / wall
        out.redis_cores = (cpu_seconds(server.process.pid) - redis0) / wall
        out.monitor_cores = (marks["monitor_cpu"] - monitor0) / wall
        out.producer_cores = producer.cpu / wall
        out.produced, out.seconds, out.late_ticks = producer.sent, producer.seconds, producer.late_ticks
        out.lags = producer.lags
        out.end_lag = consumer_lag(r)
        drained = time.perf_counter()
        while consumer_lag(r) and time.perf_counter() - drained < 120:
            time.sleep(0.2)  # another process's progress: nothing to await
        out.drain_s = time.perf_counter() - drained
        out.loaded = live_latencies(r, loaded_sent)
        if len(devices) == max(SIZES) and not apart:  # (e): on their lane, then as before 0.2.0 (the yardstick)
            out.backlogs = [backlog(r, ids, cameras, stream, f"BACKLOG{n}")
                            for n, stream in enumerate((keys.HEARTBEATS, keys.SENSORS))]
        out.dead = r.xlen(keys.DEAD)
        for other, _ in pipes:
            other.send("stop")
        final = parent.recv()
        for other, _ in pipes[1:]:
            other.recv()
        out.monitor_ms, out.rss_mb = final["monitor_ms"], final["rss_mb"]
    finally:
        for process in processes:
            process.join(timeout=20)
            if process.is_alive():
                process.kill()
        server.stop()
    return out


# -- the run ------------------------------------------------------------------------------------------------

def _ms(values: list[float]) -> str:
    return f"median {statistics.median(values):.1f} ms, p95 {percentile(values, 95):.1f} ms" if values else "-"


def run() -> None:
    began = time.perf_counter()
    grids = GridIndex()
    postgres = os.environ.get("BENCH_POSTGRES_URL", "")
    rows: list[tuple[str, str]] = []
    with tempfile.TemporaryDirectory() as tmp_dir:
        tmp = Path(tmp_dir)
        everything = make_devices(grids, max(SIZES))
        databases: dict[int, str] = {}
        for size in SIZES:
            devices = everything[:size]
            path = tmp / f"devices-{size}.csv"
            write_csv(devices, path)
            databases[size] = f"sqlite:///{tmp / f'devices-{size}.sqlite3'}"
            engine = make_engine(databases[size])
            done = time_import(engine, path, grids)
            engine.dispose()
            rows.append((f"(d) import {size:,} rows, SQLite",
                         f"{done.first_s:.1f} s ({size / done.first_s:,.0f} rows/s; {done.new:,} new); again "
                         f"(all unchanged) {done.again_s:.1f} s; registry loaded in {done.load_s:.2f} s"))
            if postgres and size == max(SIZES):
                pg = postgres_import(postgres, path, grids)
                rows.append((f"(d) import {size:,} rows, PostgreSQL",
                             f"{pg.first_s:.1f} s ({size / pg.first_s:,.0f} rows/s); again {pg.again_s:.1f} s; "
                             f"registry loaded in {pg.load_s:.2f} s"))
        # (b) the monitor alone, on an embedded Redis of its own and the 250,000-row SQLite file's record.
        server = EmbeddedRedis(tmp / "redis-health")
        r = connect(server.start())
        engine = make_engine(databases[max(SIZES)])
        try:
            for size in HEALTH_SIZES:
                checks = health_checks(r, engine, everything[:size])
                rows += [
                    (f"(b) health check, {size:,} devices, no change",
                     f"{_ms(checks.quiet_ms)}; devices judged per check: {max(checks.quiet_judged)} at most"),
                    (f"(b) same, {CHANGES_PER_CHECK} silent + {CHANGES_PER_CHECK} back per check",
                     f"{_ms(checks.busy_ms)}; judged {min(checks.busy_judged)}-{max(checks.busy_judged)}, "
                     f"changed {min(checks.busy_changed)}-{max(checks.busy_changed)} per check"),
                    (f"(b) yardstick: full evaluation, {size:,} devices",
                     f"{checks.full_ms:.0f} ms (the monitor's every check before; now its first, after an import, "
                     "and every 10 min)"),
                ]
        finally:
            engine.dispose()
            server.stop()
        # (a) + (c): the consumer and the monitor in a child process under every device's heartbeats.
        for size in SIZES:
            done_ingest = ingest(tmp, everything[:size], databases[size])
            rate = done_ingest.produced / done_ingest.seconds if done_ingest.seconds else 0.0
            lags = done_ingest.lags
            behind = f"; producer late on {done_ingest.late_ticks} ticks" if done_ingest.late_ticks else ""
            rows += [
                (f"(a) {size:,} devices: heartbeats", f"{done_ingest.produced:,} in {done_ingest.seconds:.0f} s = "
                 f"{rate:,.0f}/s (target {size / HEARTBEAT_S:,.0f}/s){behind}; consumer lag max "
                 f"{max(lags, default=0):,}, median {percentile(lags, 50):,.0f} entries, "
                 f"{done_ingest.end_lag:,} at the end (drained in {done_ingest.drain_s:.1f} s); "
                 f"dead letters {done_ingest.dead}"),
                (f"(a) {size:,} devices: CPU share (CPU s / wall s)",
                 f"consumer + monitor process {done_ingest.child_cores:.2f} (of which monitor "
                 f"{done_ingest.monitor_cores:.3f}: its first check, a full evaluation, "
                 f"{done_ingest.monitor_ms[0]:,.0f} ms, then {_ms(done_ingest.monitor_ms[1:])}), producer thread "
                 f"{done_ingest.producer_cores:.2f}, redis-server {done_ingest.redis_cores:.2f}; registry loaded "
                 f"in {done_ingest.registry_load_s:.1f} s ({done_ingest.registry_mb:.0f} MB), process peak RSS "
                 f"{done_ingest.rss_mb:.0f} MB"),
                (f"(c) {size:,} devices: alert XADD -> live stream",
                 f"quiet {_ms(done_ingest.quiet)}; under heartbeats {_ms(done_ingest.loaded)} "
                 f"(p95 ratio {percentile(done_ingest.loaded, 95) / max(percentile(done_ingest.quiet, 95), 0.1):.1f}x, "
                 f"target <= 2x); {len(done_ingest.quiet) + len(done_ingest.loaded)} of {2 * ALERTS} seen"),
            ]
            rows += [(f"(e) {size:,} devices: a minute of heartbeats at once on {b.stream}",
                      f"written in {b.write_s:.1f} s, {b.behind:,} not yet read when the first alert was sent, "
                      f"drained {b.drain_s:.1f} s after it; alert XADD -> live {_ms(b.latencies)} "
                      f"(p95 {percentile(b.latencies, 95) / max(percentile(done_ingest.quiet, 95), 0.1):.1f}x "
                      f"quiet), the {len(b.while_draining)} sent while it drained: {_ms(b.while_draining)}, max "
                      f"{max(b.while_draining, default=0):.0f} ms; {len(b.latencies)} of {ALERTS} seen")
                     for b in done_ingest.backlogs]
        # (c) again at the largest size, the heartbeat lane in a process of its own (the city-scale deployment).
        apart = ingest(tmp, everything[:max(SIZES)], databases[max(SIZES)], apart=True)
        rows.append((f"(c) {max(SIZES):,} devices, heartbeats in a process of their own: alert XADD -> live",
                     f"quiet {_ms(apart.quiet)}; under heartbeats {_ms(apart.loaded)} (p95 ratio "
                     f"{percentile(apart.loaded, 95) / max(percentile(apart.quiet, 95), 0.1):.1f}x, target <= 2x); "
                     f"{len(apart.quiet) + len(apart.loaded)} of {2 * ALERTS} seen; heartbeats kept up: lag max "
                     f"{max(apart.lags, default=0):,}, {apart.end_lag:,} at the end; both consumer processes + "
                     f"monitor {apart.child_cores:.2f} cores"))
    rows.append(("run time", f"{time.perf_counter() - began:.0f} s (2 shared cores: figures are noisy)"))
    report("devices: city scale (2,500 / 25,000 / 250,000 devices, heartbeats every 60 s): import, ingest, "
           "health checks, alert -> live", rows)


if __name__ == "__main__":
    run()
