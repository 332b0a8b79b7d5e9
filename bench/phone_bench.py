"""Issue 15 figure: a compound alert in -> the grid worker's task on their phone.

Workload: one ``python app.py`` (no simulator) on its own embedded Redis. One grid worker, bound to the
20 grids with the most compound smoke sensors, is signed in on a phone page (headless Chromium, 360x740,
``/m/``); beside it the duty officer's hall page, signed in as the bench account. 40 smoke alerts
(0.31 mg/m³, over the 0.1 threshold) from those grids' compound sensors go to ``{cc}:in:sensors``, one every
0.5 s. Each notifies at once, so the consumer makes the grid worker's task in the transaction that keeps
the alert, and the push hub sends it to the phone.

Latency is XADD -> the task applied on the phone page: each alert carries ``sent_at`` (epoch ms, at
XADD), the phone stamps ``Date.now()`` when the task first reaches it (``window.pingan.tasks.shownAt``;
same machine, one clock). The yardstick, in the same run: XADD -> the same alert in the hall's
verification queue (the path the hall has had since issue 5), and the server's share, XADD -> the
task's ``grid_task`` entry on ``{cc}:live``. Lost: an alert whose task never reached the phone.

``python -m bench phone`` (or ``make bench BENCH=phone``) runs it, in about 60 s.
"""

from __future__ import annotations

import json
import os
import tempfile
import time
from collections import Counter
from pathlib import Path

import redis
from playwright.sync_api import Page, sync_playwright

import clock
from bench.common import percentile, report
from bus import keys
from bus.connection import EmbeddedRedis, connect
from geo.devices import DeviceRegistry
from testkit.accounts import BENCH_PASSWORD, add_account, sign_in_page
from testkit.browser import CHROMIUM_ARGS, chromium_path, new_context, open_page
from testkit.servers import free_port, start_server, stop_server

ALERTS = 40
EVERY_S = 0.5
GRIDS = 20
SETTLE_S = 15.0
WORKER = "bench-grid-worker"
READY = "() => window.pingan && window.pingan.live.state.seq > 0"
SHOWN = """(tag) => {
  const shown = {};
  (window.pingan.tasks.state.shownAt || new Map()).forEach(function (at, ref) {
    if (ref.startsWith(tag)) { shown[ref] = at; } });
  return shown;
}"""
QUEUED = """(tag) => {
  const queued = {};
  (window.pingan.alerts.state.queuedAt || new Map()).forEach(function (at, id) {
    if (id.startsWith(tag)) { queued[id] = at; } });
  return queued;
}"""


def sensors_and_grids() -> tuple[list[tuple[str, float, float]], tuple[str, ...]]:
    """Compound smoke sensors in the grids that have the most of them: (device, lon, lat), and those grids."""
    smoke = [d for d in DeviceRegistry().devices.values() if d.type == "smoke" and d.compound]
    grids = tuple(g for g, _ in Counter(d.grid for d in smoke).most_common(GRIDS))
    return [(d.device_id, d.lon, d.lat) for d in smoke if d.grid in grids], grids


def send(r: redis.Redis, tag: str, sensors: list[tuple[str, float, float]]) -> dict[str, float]:
    sent: dict[str, float] = {}
    started = time.perf_counter()
    for n in range(ALERTS):
        pause = started + n * EVERY_S - time.perf_counter()
        if pause > 0:
            time.sleep(pause)  # pacing the producer
        event_id = f"{tag}{n:03d}"
        sent[event_id] = time.time() * 1000
        r.xadd(keys.SENSORS, {"event_id": event_id, "device_id": sensors[n % len(sensors)][0],
                              "observed_at": clock.now().isoformat(), "kind": "alert", "scenario": "smoke",
                              "value": "0.31", "sent_at": f"{sent[event_id]:.1f}"})
    return sent


def collect(page: Page, script: str, tag: str, wanted: int) -> dict[str, float]:
    """What ``page`` recorded for ``tag``, once it has all ``wanted`` (or the settle time passed)."""
    deadline = time.monotonic() + SETTLE_S
    while True:
        seen = {k: float(v) for k, v in page.evaluate(script, tag).items()}
        if len(seen) >= wanted or time.monotonic() > deadline:
            return seen
        page.wait_for_timeout(200)


def published_at(r: redis.Redis) -> dict[str, float]:
    """Each task's {cc}:live entry time by its alert (the entry id's milliseconds)."""
    out: dict[str, float] = {}
    for entry_id, fields in r.xrange(keys.LIVE):
        if fields.get("type") == "grid_task":
            data = json.loads(fields["data"])
            out.setdefault(data["ref"], float(entry_id.split("-")[0]))
    return out


def line(latencies: list[float]) -> str:
    return (f"p50 {percentile(latencies, 50):5.0f}  p95 {percentile(latencies, 95):5.0f}  "
            f"max {max(latencies, default=0):5.0f} ms")


def run() -> None:
    began = time.perf_counter()
    sensors, grids = sensors_and_grids()
    tag = "PHB-"
    with tempfile.TemporaryDirectory() as tmp_dir:
        tmp = Path(tmp_dir)
        redis_server = EmbeddedRedis(tmp)
        redis_url = redis_server.start()
        port = free_port()
        env = {"REDIS_URL": redis_url, "SIMULATOR": "0"}
        proc, _ = start_server(port, tmp / "app", env)
        base = f"http://127.0.0.1:{port}"
        try:
            add_account({**os.environ, "VAR_DIR": str(tmp / "app"), **env}, WORKER, "grid_worker", grids)
            with sync_playwright() as playwright:
                browser = playwright.chromium.launch(executable_path=chromium_path(), args=CHROMIUM_ARGS)
                try:
                    phone = new_context(browser, phone_at=sensors[0][1:]).new_page()
                    sign_in_page(phone, base, WORKER, BENCH_PASSWORD, then="/m/")
                    phone.wait_for_function(READY, timeout=60_000)
                    phone.evaluate("() => window.pingan.tasks.recordShown()")
                    hall = open_page(browser, f"{base}/", READY)
                    hall.evaluate("() => window.pingan.alerts.recordQueue()")
                    sent = send(connect(redis_url), tag, sensors)
                    shown = collect(phone, SHOWN, tag, len(sent))
                    queued = collect(hall, QUEUED, tag, len(sent))
                finally:
                    browser.close()
            r = connect(redis_url)
            published = published_at(r)
            dead = r.xlen(keys.DEAD)
        finally:
            stop_server(proc)
            redis_server.stop()
    on_phone = [shown[k] - sent[k] for k in sent if k in shown]
    in_queue = [queued[k] - sent[k] for k in sent if k in queued]
    on_live = [published[k] - sent[k] for k in sent if k in published]
    report(f"phone: {ALERTS} compound smoke alerts, one every {EVERY_S} s, to a grid worker of {len(grids)} grids, "
           "XADD -> task on the phone (headless Chromium, 360x740)", [
               ("task on the phone", line(on_phone)),
               ("yardstick: alert in the hall's queue", line(in_queue)),
               ("server's share: task on {cc}:live", line(on_live)),
               ("tasks lost", f"{len(sent) - len(on_phone)} of {len(sent)}"),
               ("dead letters", str(dead)),
               ("run time", f"{time.perf_counter() - began:.0f} s (2 shared cores: figures are noisy)"),
           ])


if __name__ == "__main__":
    run()
