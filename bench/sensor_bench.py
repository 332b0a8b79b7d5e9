"""Issue 5 figure: sensor alert -> verification queue, quiet and under 2,000 heartbeating devices.

Workload: one ``python app.py`` (no simulator, its consumer, push hub and health monitor) on its
own embedded Redis, with a data folder whose ``devices.json`` holds 2,000 devices: the district's
1,145 plus 855 synthetic cameras (schools and shopping streets, one at each grid's representative
point), every device heartbeating every 10 s. One headless Chromium page is signed in and records
when each alert joins its on-screen queue (``window.pingan.alerts.state.queuedAt``).
``BENCH_SENSOR_DEVICES=250000 BENCH_SENSOR_HEARTBEAT_S=60`` runs it at a city's scale (the extra devices all
cameras; 4,167 heartbeats/s in pipelines of 417).

- **Quiet**: no heartbeats flowing; 30 alerts to ``{cc}:in:sensors``, one every 0.5 s.
- **Loaded**: a producer thread writes 2,000 devices / 10 s = 200 heartbeats/s (paced in
  pipelines of 20 every 0.1 s); after one full heartbeat round of warm-up, the same 30 single
  alerts, then 3 bursts of 50 alerts spread over one second each, 4 s apart.

Latency is XADD -> queued on the page: each alert carries ``sent_at`` (epoch ms, taken at XADD),
the page stamps ``Date.now()`` when the alert joins the queue (same machine, one clock). Lost: an
alert id neither in the queue nor recorded as queued after the settle time (none may be).
Beside it, the consumer's share: XADD -> the alert's entry on ``{cc}:live`` (its id's milliseconds).
Consumer lag is sampled every second on ``{cc}:in:heartbeats`` (the heartbeats' lane; the alerts go to
``{cc}:in:sensors``): entries not yet delivered to the
group plus entries delivered but not acknowledged (Redis 6.2 has no XINFO ``lag`` field).

Each phase starts with one pipelined round of all 2,000 heartbeats, so no device falls silent:
otherwise the health monitor announces 2,000 devices offline 30 s after start, which is not a
quiet state (the page's count of devices not online is reported per phase to show it did not).

``python -m bench sensors`` (or ``make bench BENCH=sensors``) runs it, in about 70 s.
"""

from __future__ import annotations

import itertools
import json
import os
import shutil
import tempfile
import threading
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import redis
from playwright.sync_api import Page, sync_playwright

import clock
from bench.common import percentile, report
from bench.fanout_bench import cpu_seconds
from bus import keys
from bus.connection import EmbeddedRedis, connect
from geo.devices import DEVICES_FILE, Device, DeviceRegistry, to_text
from geo.index import GridIndex
from settings import DATA_DIR
from testkit.browser import CHROMIUM_ARGS, chromium_path, open_page
from testkit.servers import free_port, start_server, stop_server

# A city's fleet: BENCH_SENSOR_DEVICES=250000 BENCH_SENSOR_HEARTBEAT_S=60 (4,167 heartbeats/s).
DEVICES = int(os.environ.get("BENCH_SENSOR_DEVICES", "2000"))
HEARTBEAT_S = int(os.environ.get("BENCH_SENSOR_HEARTBEAT_S", "10"))
HEARTBEAT_RATE = DEVICES / HEARTBEAT_S  # 200 per second by default
TICK_S = 0.1  # the producer writes one pipeline per tick: 20 heartbeats
SINGLES = 30
SINGLE_EVERY_S = 0.5
BURSTS = 3
BURST_SIZE = 50
BURST_SPAN_S = 1.0
BURST_GAP_S = 4.0
SETTLE_S = 15.0
# After a full heartbeat round the monitor (every 5 s) has nothing left to announce.
HEALTH_SETTLE_S = 6.0
CAMERA_SCENARIOS = ("fight", "crowd_gathering", "person_fall", "intrusion", "abandoned_object")

READY = "() => window.pingan && window.pingan.live.state.seq > 0"
RECORD_QUEUE = "() => window.pingan.alerts.recordQueue()"
# What the page has for one tag: queued times, ids in the queue, and devices it shows as not online.
QUEUE_WITH_TAG = """(tag) => {
  const s = window.pingan.alerts.state;
  const queued = {};
  (s.queuedAt || new Map()).forEach(function (at, id) { if (id.startsWith(tag)) { queued[id] = at; } });
  return {queued: queued, open: [...s.open.keys()].filter(function (id) { return id.startsWith(tag); }),
          notOnline: Object.keys(s.health).length};
}"""


# -- the data folder -------------------------------------------------------------------------------

def write_data(folder: Path) -> list[Device]:
    """Copy data/ to ``folder`` with a 2,000-device ``devices.json``; return the devices."""
    shutil.copytree(DATA_DIR, folder)
    existing = [replace(d, heartbeat_s=HEARTBEAT_S) for d in DeviceRegistry(DATA_DIR).devices.values()]
    grids = GridIndex(folder)
    # A representative point lies inside its grid even when the grid is concave (a centroid may not).
    points = grids.frame.geometry.representative_point()
    codes = list(grids.frame["code"])
    extra = []
    for n in range(DEVICES - len(existing)):
        code = codes[n % len(codes)]
        point = points.loc[code]
        extra.append(Device(f"CAM-S{n + 1:04d}", "camera", round(float(point.x), 6), round(float(point.y), 6),
                            code, site_kind=("school", "shopping")[n % 2], heartbeat_s=HEARTBEAT_S))
    located = grids.locate_codes([d.lon for d in extra], [d.lat for d in extra])
    wrong = [d.device_id for d, code in zip(extra, located, strict=True) if code != d.grid]
    if wrong:
        raise RuntimeError(f"synthetic devices outside their grid: {wrong[:5]}")
    devices = existing + extra
    (folder / DEVICES_FILE).write_text(to_text(devices), encoding="utf-8")
    return devices


# -- producers -------------------------------------------------------------------------------------

def _now_iso() -> str:
    return clock.now().isoformat()


def heartbeat_round(r: redis.Redis, device_ids: list[str], tag: str) -> None:
    """Every device once, pipelined (so none counts as silent when a phase starts)."""
    observed = _now_iso()
    for start in range(0, len(device_ids), 20_000):
        pipe = r.pipeline(transaction=False)
        for n, device_id in enumerate(device_ids[start:start + 20_000], start):
            pipe.xadd(keys.HEARTBEATS, {"event_id": f"{tag}-{n}", "device_id": device_id, "observed_at": observed,
                                        "kind": "heartbeat"})
        pipe.execute()


@dataclass
class Heartbeats:
    """A thread writing ``HEARTBEAT_RATE`` heartbeats/s, round robin over the devices, and
    sampling the consumer's lag on ``{cc}:in:heartbeats`` once a second."""

    redis_url: str
    device_ids: list[str]
    stop: threading.Event = field(default_factory=threading.Event)
    sent: int = 0
    seconds: float = 0.0
    late_ticks: int = 0  # ticks the producer itself fell behind (the machine was busy)
    lag_samples: list[int] = field(default_factory=list)
    thread: threading.Thread | None = None

    def start(self) -> None:
        self.thread = threading.Thread(target=self._run, name="heartbeats", daemon=True)
        self.thread.start()

    def finish(self) -> None:
        self.stop.set()
        if self.thread:
            self.thread.join(timeout=10)

    def _run(self) -> None:
        r = connect(self.redis_url)
        per_tick = round(HEARTBEAT_RATE * TICK_S)
        devices = itertools.cycle(self.device_ids)
        started = time.perf_counter()
        next_sample = started
        for tick in itertools.count():
            pause = started + tick * TICK_S - time.perf_counter()
            if pause > 0:
                if self.stop.wait(pause):  # pacing the producer, and how it stops
                    break
            elif pause < -TICK_S:
                self.late_ticks += 1
            if self.stop.is_set():
                break
            observed = _now_iso()
            pipe = r.pipeline(transaction=False)
            for _ in range(per_tick):
                pipe.xadd(keys.HEARTBEATS, {"event_id": f"HB-{self.sent}", "device_id": next(devices),
                                            "observed_at": observed, "kind": "heartbeat"})
                self.sent += 1
            pipe.execute()
            if time.perf_counter() >= next_sample:
                self.lag_samples.append(consumer_lag(r))
                next_sample += 1.0
        self.seconds = time.perf_counter() - started


def consumer_lag(r: redis.Redis) -> int:
    """Entries on ``{cc}:in:heartbeats`` the consumer group has not finished: undelivered + pending."""
    group = next(g for g in r.xinfo_groups(keys.HEARTBEATS) if g["name"] == keys.CONSUMER_GROUP)
    undelivered = len(r.xrange(keys.HEARTBEATS, min=f"({group['last-delivered-id']}", max="+", count=100_000))
    return undelivered + int(group["pending"])


def send_alert(r: redis.Redis, event_id: str, device_id: str, scenario: str) -> float:
    """XADD one alert; return its ``sent_at`` (epoch ms, taken just before the XADD)."""
    sent_at = time.time() * 1000
    r.xadd(keys.SENSORS, {"event_id": event_id, "device_id": device_id, "observed_at": _now_iso(),
                          "kind": "alert", "scenario": scenario, "sent_at": f"{sent_at:.1f}"})
    return sent_at


@dataclass
class Alerts:
    """Alerts from camera devices, scenarios in turn; remembers when each was sent."""

    r: redis.Redis
    cameras: list[str]
    sent: dict[str, float] = field(default_factory=dict)

    def paced(self, tag: str, count: int, every_s: float) -> dict[str, float]:
        sent: dict[str, float] = {}
        started = time.perf_counter()
        for n in range(count):
            pause = started + n * every_s - time.perf_counter()
            if pause > 0:
                time.sleep(pause)  # pacing the producer
            event_id = f"{tag}{len(self.sent):04d}"
            sent[event_id] = self.sent[event_id] = send_alert(
                self.r, event_id, self.cameras[len(self.sent) % len(self.cameras)],
                CAMERA_SCENARIOS[len(self.sent) % len(CAMERA_SCENARIOS)])
        return sent


# -- what the page saw -----------------------------------------------------------------------------

@dataclass
class Phase:
    name: str
    sent: dict[str, float]
    queued: dict[str, float] = field(default_factory=dict)
    published: dict[str, float] = field(default_factory=dict)  # event_id -> its {cc}:live entry time (ms)
    open_ids: set[str] = field(default_factory=set)
    not_online: int = 0
    app_cores: float = 0.0
    redis_cores: float = 0.0

    def latencies(self) -> list[float]:
        return [self.queued[k] - self.sent[k] for k in self.sent if k in self.queued]

    def consumer_latencies(self) -> list[float]:
        return [self.published[k] - self.sent[k] for k in self.sent if k in self.published]

    def shown(self) -> int:
        return sum(1 for k in self.sent if k in self.queued or k in self.open_ids)

    def summary(self) -> str:
        lat = self.latencies()
        snapshot_only = sum(1 for k in self.sent if k in self.open_ids and k not in self.queued)
        return (f"p50 {percentile(lat, 50):6.0f}  p95 {percentile(lat, 95):6.0f}  p99 {percentile(lat, 99):6.0f} ms"
                f"   (XADD -> {{cc}}:live p95 {percentile(self.consumer_latencies(), 95):4.0f} ms)"
                f"   shown {self.shown()}/{len(self.sent)}"
                + (f" ({snapshot_only} only via a snapshot, no queued time)" if snapshot_only else "")
                + f"   CPU app {self.app_cores:.2f}, Redis {self.redis_cores:.2f} cores"
                  f"   devices not online on page {self.not_online}")


def published_at(r: redis.Redis) -> dict[str, float]:
    """Each alert's {cc}:live entry time: the entry id's milliseconds, Redis's clock (this machine's)."""
    return {json.loads(fields["data"])["event_id"]: float(entry_id.split("-")[0])
            for entry_id, fields in r.xrange(keys.LIVE) if fields.get("type") == "alert"}


def collect(page: Page, phase: Phase, tag: str) -> None:
    """Wait until the page has every alert of ``phase`` (or the settle time passed)."""
    deadline = time.monotonic() + SETTLE_S
    while True:
        seen: dict[str, Any] = page.evaluate(QUEUE_WITH_TAG, tag)
        phase.queued = {k: float(v) for k, v in seen["queued"].items() if k in phase.sent}
        phase.open_ids = {k for k in seen["open"] if k in phase.sent}
        phase.not_online = int(seen["notOnline"])
        if phase.shown() >= len(phase.sent) or time.monotonic() > deadline:
            return
        page.wait_for_timeout(200)


# -- the run ---------------------------------------------------------------------------------------

@dataclass
class Cpu:
    """CPU the app and Redis use over a stretch of time (1.0 = one core)."""

    pids: tuple[int, int]  # app, redis-server
    start: tuple[float, float, float] = (0.0, 0.0, 0.0)

    def begin(self) -> None:
        self.start = (cpu_seconds(self.pids[0]), cpu_seconds(self.pids[1]), time.perf_counter())

    def end(self, phase: Phase) -> None:
        elapsed = time.perf_counter() - self.start[2]
        phase.app_cores = (cpu_seconds(self.pids[0]) - self.start[0]) / elapsed
        phase.redis_cores = (cpu_seconds(self.pids[1]) - self.start[1]) / elapsed


def measure(page: Page, redis_url: str, cpu: Cpu, devices: list[Device]) -> tuple[list[Phase], Heartbeats]:
    r = connect(redis_url)
    device_ids = [d.device_id for d in devices]
    alerts = Alerts(r, [d.device_id for d in devices if d.type == "camera"])

    heartbeat_round(r, device_ids, "HBQ")
    while consumer_lag(r):  # at a city's scale the round takes the consumer a few seconds
        time.sleep(0.2)  # another process's progress: nothing to await
    time.sleep(HEALTH_SETTLE_S)  # any health change from the round is announced before we measure
    cpu.begin()
    quiet = Phase("quiet", alerts.paced("SBQ-", SINGLES, SINGLE_EVERY_S))
    collect(page, quiet, "SBQ-")
    cpu.end(quiet)

    heartbeats = Heartbeats(redis_url, device_ids)
    heartbeat_round(r, device_ids, "HBL")  # the quiet phase may be near the 30 s silence limit
    heartbeats.start()
    time.sleep(HEARTBEAT_S)  # warm-up: one full round at the steady pace
    heartbeats.lag_samples.clear()  # the warm-up round's backlog is not the steady state
    cpu.begin()
    single = Phase("loaded, single alerts", alerts.paced("SBL-", SINGLES, SINGLE_EVERY_S))
    collect(page, single, "SBL-")
    cpu.end(single)

    cpu.begin()
    burst_sent: dict[str, float] = {}
    for b in range(BURSTS):
        if b:
            time.sleep(BURST_GAP_S)
        burst_sent |= alerts.paced(f"SBB{b}-", BURST_SIZE, BURST_SPAN_S / BURST_SIZE)
    bursts = Phase(f"loaded, {BURSTS} bursts of {BURST_SIZE} in 1 s", burst_sent)
    collect(page, bursts, "SBB")
    cpu.end(bursts)
    heartbeats.finish()
    return [quiet, single, bursts], heartbeats


def run() -> None:
    began = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp_dir:
        tmp = Path(tmp_dir)
        devices = write_data(tmp / "data")
        redis_server = EmbeddedRedis(tmp)
        redis_url = redis_server.start()
        port = free_port()
        proc, _ = start_server(port, tmp / "app", {"REDIS_URL": redis_url, "DATA_DIR": str(tmp / "data"),
                                                   "SIMULATOR": "0"})
        try:
            with sync_playwright() as playwright:
                browser = playwright.chromium.launch(executable_path=chromium_path(), args=CHROMIUM_ARGS)
                try:
                    page = open_page(browser, f"http://127.0.0.1:{port}/", READY)
                    page.evaluate(RECORD_QUEUE)
                    assert redis_server.process is not None
                    cpu = Cpu((proc.pid, redis_server.process.pid))
                    phases, heartbeats = measure(page, redis_url, cpu, devices)
                finally:
                    browser.close()
            r = connect(redis_url)
            final_lag = consumer_lag(r)
            published = published_at(r)
            for phase in phases:
                phase.published = {k: published[k] for k in phase.sent if k in published}
            dead = r.xlen(keys.DEAD)
        finally:
            stop_server(proc)
            redis_server.stop()
    lost = sum(len(p.sent) - p.shown() for p in phases)
    rows = [(p.name, p.summary()) for p in phases]
    rate = heartbeats.sent / heartbeats.seconds if heartbeats.seconds else 0.0
    lags = heartbeats.lag_samples
    behind = f", producer fell behind on {heartbeats.late_ticks} tick(s)" if heartbeats.late_ticks else ""
    rows += [
        ("heartbeats written", f"{heartbeats.sent:,} at {rate:.0f}/s (target {HEARTBEAT_RATE:.0f}/s){behind}"),
        ("consumer lag on {cc}:in:heartbeats", f"max {max(lags, default=0)}, median {percentile(lags, 50):.0f} entries "
                                          f"(sampled each second after warm-up); {final_lag} at the end"),
        ("alerts lost", f"{lost} of {sum(len(p.sent) for p in phases)}"),
        ("dead letters", str(dead)),
        ("run time", f"{time.perf_counter() - began:.0f} s (2 shared cores: figures are noisy)"),
    ]
    report(f"sensors: {DEVICES:,} devices heartbeating every {HEARTBEAT_S} s + alert bursts, "
           "XADD -> alert queued on the page (headless Chromium)", rows)


if __name__ == "__main__":
    run()
