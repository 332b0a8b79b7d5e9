"""Issue 3 figures: XADD -> on screen, fan-out, and sustained ingest.

Workloads (all against real processes on this machine):

- **Page latency**: `python app.py` (no simulator) with its embedded Redis; a
  producer XADDs incidents to ``{cc}:in:incidents`` at 10, 100 and 1,000 events/s;
  headless Chromium records the animation frame in which each incident's marker
  is first drawn. Latency is that time - XADD time (one clock). Yardstick: the same markers on a page
  that polls every second with ``dcc.Interval`` (bench/polling_app.py).
- **Five pages** at once, same producer (on 2 cores the browsers compete with
  the server: zero loss is required, latency is reported).
- **Server fan-out**: 50 python-socketio clients speaking the push protocol at
  100 events/s.
- **Sustained ingest**: a backlog of incidents and sensor readings processed by
  one consumer (validate, locate grid, keep in SQLite, publish to ``{cc}:live``),
  beside raw pipelined XADD on the same Redis.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from playwright.sync_api import Browser, Page, sync_playwright

from bench.common import percentile, report
from bus import keys
from bus.connection import EmbeddedRedis, connect
from settings import PROJECT_ROOT
from testkit.accounts import BENCH_PASSWORD, BENCH_USER
from testkit.browser import CHROMIUM_ARGS, chromium_path, open_page
from testkit.entries import incident, stamp
from testkit.live_client import open_client, sign_in
from testkit.servers import free_port, start_server, stop_server

# Asks the page to record when each incident is first drawn (epoch ms, the producer's clock).
RECORD_DRAWS = "() => window.pingan.live.recordDraws()"
DRAWN_WITH_TAG = "(tag) => Object.fromEntries([...window.pingan.live.state.drawn].filter(([k]) => k.startsWith(tag)))"
RATES = ((10, 10.0), (100, 10.0), (1000, 5.0))  # events/s, seconds
SETTLE_S = 6.0
LOST_AFTER_S = 30.0


@dataclass
class Run:
    sent: dict[str, float]
    seen: dict[str, float]

    def latencies(self) -> list[float]:
        return [self.seen[k] - self.sent[k] for k in self.sent if k in self.seen]

    def summary(self) -> str:
        lat = self.latencies()
        return (f"p50 {percentile(lat, 50):6.0f}  p95 {percentile(lat, 95):6.0f}  p99 {percentile(lat, 99):6.0f} ms"
                f"   shown {len(lat)}/{len(self.sent)}")


def produce(redis_url: str, rate: int, seconds: float, tag: str) -> dict[str, float]:
    """XADD incidents at ``rate`` per second; return event_id -> send time (epoch ms)."""
    r = connect(redis_url)
    sent: dict[str, float] = {}
    total = int(rate * seconds)
    started = time.perf_counter()
    for n in range(total):
        due = started + n / rate
        pause = due - time.perf_counter()
        if pause > 0:
            time.sleep(pause)  # pacing the producer
        event_id = f"{tag}-{n}"
        sent[event_id] = time.time() * 1000
        r.xadd(keys.INCIDENTS, incident(event_id))
    return sent


def open_pages(browser: Browser, url: str, count: int, ready: str, signed_in: bool = True) -> list[Page]:
    pages = []
    for _ in range(count):
        page = open_page(browser, url, ready, signed_in=signed_in)
        page.evaluate(RECORD_DRAWS)
        pages.append(page)
    return pages


def measure(pages: list[Page], redis_url: str, rate: int, seconds: float, tag: str) -> list[Run]:
    sent = produce(redis_url, rate, seconds, tag)
    deadline = time.monotonic() + SETTLE_S
    runs = []
    for page in pages:
        while True:
            seen = page.evaluate(DRAWN_WITH_TAG, f"{tag}-")
            if len(seen) >= len(sent) or time.monotonic() > deadline:
                break
            page.wait_for_timeout(200)
        runs.append(Run(sent, seen))
    return runs


LIVE_READY = "() => window.pingan && window.pingan.live.state.seq > 0"
POLL_READY = "() => document.querySelector('.leaflet-container') !== null && window.pingan && window.pingan.live"


def page_latency(redis_url: str, app_url: str, poll_url: str) -> list[tuple[str, str]]:
    rows = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium_path(), args=CHROMIUM_ARGS)
        live = open_pages(browser, app_url, 1, LIVE_READY)
        for rate, seconds in RATES:
            [run] = measure(live, redis_url, rate, seconds, f"L{rate}")
            rows.append((f"push, 1 page, {rate:>4} ev/s", run.summary()))
        live[0].context.close()
        polling = open_pages(browser, poll_url, 1, POLL_READY, signed_in=False)
        polling[0].wait_for_timeout(1500)  # let the page take its first cursor
        for rate, seconds in RATES:
            [run] = measure(polling, redis_url, rate, seconds, f"P{rate}")
            rows.append((f"1 s polling, 1 page, {rate:>4} ev/s", run.summary()))
        polling[0].context.close()
        five = open_pages(browser, app_url, 5, LIVE_READY)
        for rate, seconds in RATES[:2]:
            runs = measure(five, redis_url, rate, seconds, f"F{rate}")
            for n, run in enumerate(runs, start=1):
                rows.append((f"push, 5 pages, {rate:>4} ev/s, page {n}", run.summary()))
        browser.close()
    return rows


def fan_out(redis_url: str, app_url: str, clients: int = 50, rate: int = 100, seconds: float = 10.0) -> str:
    http = sign_in(app_url, BENCH_USER, BENCH_PASSWORD)  # one officer's session, many screens
    screens = [open_client(app_url, http) for _ in range(clients)]
    try:
        for screen in screens:
            screen.wait_for(0)
        sent = produce(redis_url, rate, seconds, "FAN")
        latencies: list[float] = []
        late = 0
        ids = set(sent)  # the events sent, not a count: a client's snapshot brings incidents of its own
        for screen in screens:
            screen.wait_for_ids(ids, timeout=SETTLE_S)  # what has not arrived by then is counted as late
            got = {e["data"]["event_id"]: t for e, t in zip(screen.events, screen.received_at, strict=True)
                   if e["type"] == "incident"}
            late += sum(1 for k in sent if k not in got)
            latencies += [got[k] - sent[k] for k in sent if k in got]
        lost = 0
        for screen in screens:  # late is not lost: whatever has not arrived half a minute on is
            screen.wait_for_ids(ids, timeout=LOST_AFTER_S)
            lost += len(ids - screen.seen_ids)
        return (f"p50 {percentile(latencies, 50):.0f}  p95 {percentile(latencies, 95):.0f}  "
                f"p99 {percentile(latencies, 99):.0f} ms   later than {SETTLE_S:g} s {late}, "
                f"lost {lost} of {len(sent) * clients}")
    finally:
        for screen in screens:
            screen.close()


INGEST_TOTAL = 60_000


def ingest(tmp: Path) -> list[tuple[str, str]]:
    """The backlog drained by the consumer as every entry point assembles it, and by the same consumer
    without its instant-warning hook (the previous releases' benchmark workload)."""
    xadd_rate, with_rules = _drain_backlog(tmp / "with-rules", warn=True)
    _, without_rules = _drain_backlog(tmp / "without-rules", warn=False)
    return [
        ("raw pipelined XADD (yardstick)", f"{xadd_rate:,.0f} entries/s"),
        ("ingest: validate+locate+keep+publish+warn", f"{with_rules:,.0f} events/s  "
         f"({with_rules / xadd_rate:.0%} of raw XADD; half incidents into SQLite, half heartbeats)"),
        ("same, without the instant warning rules", f"{without_rules:,.0f} events/s"),
    ]


def _drain_backlog(folder: Path, warn: bool) -> tuple[float, float]:
    """(XADD rate, consumer rate) for a backlog of 60,000 entries, every caller a different number."""
    import services
    from settings import Settings

    server = EmbeddedRedis(folder / "redis")
    url = server.start()
    r = connect(url)
    parts = services.build(Settings.from_env(redis_url=url, database_url="", var_dir=folder / "var",
                                             simulator=False))
    try:
        device_ids = sorted(parts.devices.devices)
        consumer = parts.consumer(name="bench")
        if not warn:
            consumer.on_incidents = None
        consumer.ensure_groups()
        started = time.perf_counter()
        pipe = r.pipeline(transaction=False)
        for n in range(INGEST_TOTAL):
            if n % 2:
                pipe.xadd(keys.INCIDENTS, incident(f"I-{n}", lon=f"{112.30 + (n % 300) / 1000:.4f}",
                                                   caller=f"139{n:08d}"))
            else:
                pipe.xadd(keys.SENSORS, {"event_id": f"H-{n}", "device_id": device_ids[n % len(device_ids)],
                                         "observed_at": stamp(), "kind": "heartbeat"})
            if n % 1000 == 999:
                pipe.execute()
        pipe.execute()
        xadd_rate = INGEST_TOTAL / (time.perf_counter() - started)
        started = time.perf_counter()
        processed = 0
        while processed < INGEST_TOTAL:
            response = r.xreadgroup(keys.CONSUMER_GROUP, "bench", dict.fromkeys(consumer.streams, ">"), count=500)
            processed += consumer.process({stream: entries for stream, entries in response}).processed
        return xadd_rate, INGEST_TOTAL / (time.perf_counter() - started)
    finally:
        parts.stop()
        server.stop()


def run() -> None:
    with tempfile.TemporaryDirectory() as tmp_dir:
        tmp = Path(tmp_dir)
        redis_server = EmbeddedRedis(tmp)
        redis_url = redis_server.start()
        port, poll_port = free_port(), free_port()
        proc, _ = start_server(port, tmp / "app", {"REDIS_URL": redis_url})
        poller = subprocess.Popen([sys.executable, "-m", "bench.polling_app", str(poll_port), redis_url],
                                  cwd=PROJECT_ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            app_url, poll_url = f"http://127.0.0.1:{port}/", f"http://127.0.0.1:{poll_port}/"
            rows = page_latency(redis_url, app_url, poll_url)
            report("push: XADD -> marker drawn (headless Chromium 1920x1080, latency from XADD)", rows)
            report("push: server fan-out, 50 python-socketio clients, 100 ev/s for 10 s",
                   [("receive latency", fan_out(redis_url, app_url))])
        finally:
            poller.terminate()
            stop_server(proc)
            redis_server.stop()
        report("ingest: 60,000 entries backlog, one consumer, embedded Redis", ingest(tmp))


if __name__ == "__main__":
    threading.excepthook = lambda args: None
    run()
