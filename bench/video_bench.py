"""Issue 18 figures: live camera video, glass to glass, through the product's own path.

Workload: one ``python app.py`` (``VIDEO=1``, no simulator) with its embedded Janus gateway and the simulated
cameras it feeds on demand (640x360, 15 frames/s, H.264 baseline at 600 kbit/s, a keyframe a second); the
duty officer's hall page in headless Chromium (software decoding, on the same 2 cores as everything else).
The page plays tiles exactly as the alert card and the dispatch panel do (``window.pingan.video.play``): its
signalling goes through the dashboard's relay, its video straight from Janus over WebRTC.

- **Latency.** Each simulated frame carries its capture time (``video/stamp.py``); the page reads it back from
  every presented frame (``requestVideoFrameCallback``) and takes ``Date.now()`` against it: capture to
  presentation on one machine, one clock. Measured with 4 concurrent views (the page's limit) for
  ``WINDOW_S``, and, as the yardstick in the same run, with 1 view; beside each, capture to the frame's last
  packet received (the browser's ``receiveTime``), which separates the network path from decoding and
  compositing.
- **First frame.** A tile's start (the camera's stream asked for) to its first presented frame: warm (the
  camera's feed is running: the gateway hands over its buffered keyframe) over ``FIRST_TRIES`` new tiles,
  and cold (the first viewer of a camera starts its simulated feed).
- **CPU.** utime + stime from /proc over the 4-view window, in % of one core: Janus, the feeds (frame source
  and ffmpeg), the dashboard's process (signalling only), Chromium (decoding) — and per stream.
- **Snapshots at ingest.** What checking and keeping an alert's picture costs the consumer
  (``sensors.snapshots.take``: decode, verify, re-encode, thumbnail, write), for a 1080p still and a 640x360
  one; the yardstick is decoding the base64 alone.

``python -m bench video`` (or ``make bench BENCH=video``) runs it, in about 2 minutes.
"""

from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path
from typing import Any

from playwright.sync_api import Page, sync_playwright

from bench.common import percentile, report
from geo.devices import VIDEO_TYPES, DeviceRegistry
from testkit.browser import CHROMIUM_ARGS, chromium_path, open_page
from testkit.servers import free_port, start_server, stop_server

WINDOW_S = 30.0
VIEWS = 4
FIRST_TRIES = 8
READY = "() => window.pingan && window.pingan.live && window.pingan.live.state.seq > 0"
PLAY = """([ids, keep]) => {
  let stage = document.getElementById('bench-stage');
  if (!stage) {
    stage = document.createElement('div');
    stage.id = 'bench-stage';
    stage.style.cssText = 'position:fixed;left:0;top:0;width:1280px;display:grid;' +
      'grid-template-columns:1fr 1fr;z-index:5000';
    document.body.appendChild(stage);
  }
  if (!keep) { window.pingan.video.state.tiles.forEach(function (t) { t.destroy(); }); }
  ids.forEach(function (id) { stage.appendChild(window.pingan.video.play(id).node); });
  return true;
}"""
LIVE_COUNT = "() => document.querySelectorAll('#bench-stage .video-tile[data-state=live]').length"
HZ = os.sysconf("SC_CLK_TCK")


def cameras(count: int) -> list[str]:
    return sorted(d.device_id for d in DeviceRegistry().devices.values() if d.type in VIDEO_TYPES)[:count]


def cpu_ticks(pid: int) -> int:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (FileNotFoundError, ProcessLookupError):
        return 0
    return int(fields[11]) + int(fields[12])  # utime, stime


def processes() -> dict[str, list[int]]:
    """The processes of each part, by their command lines."""
    parts: dict[str, list[int]] = {"janus": [], "feeds": [], "chromium": []}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            command = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if command.startswith("janus "):
            parts["janus"].append(int(entry.name))
        elif "video.feeds" in command or (command.startswith("ffmpeg ") and "rtp://" in command):
            parts["feeds"].append(int(entry.name))
        elif "chromium" in command.split(" ", 1)[0]:
            parts["chromium"].append(int(entry.name))
    return parts


def measure(page: Page, ids: list[str], window_s: float) -> dict[str, Any]:
    page.evaluate("() => window.pingan.video.recordLatency()")
    page.evaluate(PLAY, [ids, False])
    deadline = time.monotonic() + 30
    while page.evaluate(LIVE_COUNT) < len(ids):
        if time.monotonic() > deadline:
            raise RuntimeError("the tiles did not all play within 30 s")
        page.wait_for_timeout(100)
    page.evaluate("() => window.pingan.video.recordLatency()")  # from here: frames of running streams only
    return {"started": time.monotonic()}


def collect(page: Page) -> dict[str, Any]:
    return dict(page.evaluate("() => window.pingan.video.state.latency"))


def line(values: list[float]) -> str:
    return (f"p50 {percentile(values, 50):4.0f}  p95 {percentile(values, 95):4.0f}  "
            f"max {max(values, default=0):4.0f} ms")


def snapshot_costs() -> list[tuple[str, str]]:
    import base64
    import io
    import statistics

    from media.store import LocalMediaStore
    from sensors.snapshots import take
    from testkit.photos import grainy

    device = DeviceRegistry().get("BHV-001")
    assert device is not None
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for width, height in ((1920, 1080), (640, 360)):
            out = io.BytesIO()
            grainy(width, height).save(out, "JPEG", quality=80)
            encoded = base64.b64encode(out.getvalue()).decode()
            took, decoded = [], []
            for n in range(20):
                store = LocalMediaStore(Path(tmp) / f"{width}-{n}")  # an empty store each time: the write counts
                started = time.perf_counter()
                take(encoded, device, store)
                took.append((time.perf_counter() - started) * 1000)
                started = time.perf_counter()
                base64.b64decode(encoded, validate=True)
                decoded.append((time.perf_counter() - started) * 1000)
            rows.append((f"snapshot {width}x{height} ({len(out.getvalue()) // 1024} KB) checked and kept",
                         f"median {statistics.median(took):.1f} ms (base64 decode alone "
                         f"{statistics.median(decoded):.2f} ms)"))
    return rows


def run() -> None:
    began = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp_dir:
        port = free_port()
        proc, _ = start_server(port, Path(tmp_dir) / "app", {"VIDEO": "1"})
        base = f"http://127.0.0.1:{port}"
        try:
            with sync_playwright() as playwright:
                browser = playwright.chromium.launch(executable_path=chromium_path(), args=CHROMIUM_ARGS)
                page = open_page(browser, base + "/", ready=READY)
                ids = cameras(VIEWS + 3)
                rows = figures(page, proc.pid, ids)
                browser.close()
        finally:
            stop_server(proc)
    rows += snapshot_costs()
    rows.append(("run took", f"{time.perf_counter() - began:.0f} s"))
    report("Live video: capture to presentation, through the relay and Janus (640x360 H.264 15 fps)", rows)


def figures(page: Page, app_pid: int, ids: list[str]) -> list[tuple[str, str]]:
    rows: list[tuple[str, str]] = []
    # The yardstick: one view.
    measure(page, ids[:1], WINDOW_S)
    page.wait_for_timeout(WINDOW_S * 1000 / 2)
    one = collect(page)
    # Four views, with the CPU each part spends.
    measure(page, ids[:VIEWS], WINDOW_S)
    parts = processes()
    before = {name: sum(cpu_ticks(pid) for pid in pids) for name, pids in parts.items()}
    before["dashboard"] = cpu_ticks(app_pid)
    started = time.monotonic()
    page.wait_for_timeout(WINDOW_S * 1000)
    elapsed = time.monotonic() - started
    four = collect(page)
    after = {name: sum(cpu_ticks(pid) for pid in pids) for name, pids in parts.items()}
    after["dashboard"] = cpu_ticks(app_pid)
    cpu = {name: 100.0 * (after[name] - before[name]) / HZ / elapsed for name in before}
    for label, data in (("1 view (yardstick)", one), (f"{VIEWS} views", four)):
        delays = [s["ms"] for s in data["samples"]]
        received = [s["received"] for s in data["samples"] if s["received"] is not None]
        seconds = WINDOW_S / 2 if data is one else elapsed
        views = 1 if data is one else VIEWS
        rows.append((f"{label}: capture -> presented", f"{line(delays)}  ({len(delays)} frames, "
                                                       f"{len(delays) / seconds / views:.1f} fps a view, "
                                                       f"{data['unread']} unread)"))
        if received:
            rows.append((f"{label}: capture -> last packet", line(received)))
    rows.append((f"CPU over {elapsed:.0f} s, % of a core", "  ".join(f"{k} {v:.1f}" for k, v in cpu.items())))
    server_side = cpu["janus"] + cpu["feeds"]
    rows.append(("CPU per stream", f"gateway + simulated camera {server_side / VIEWS:.1f} %, "
                                   f"browser decoding {cpu['chromium'] / VIEWS:.1f} %, "
                                   f"dashboard (signalling) {cpu['dashboard'] / VIEWS:.1f} %"))
    # First frames: warm (the feed runs), then cold (the first viewer starts the camera's feed).
    warm: list[float] = []
    for _ in range(FIRST_TRIES):
        page.evaluate("() => window.pingan.video.recordLatency()")
        page.evaluate(PLAY, [ids[:1], False])
        page.wait_for_function("() => window.pingan.video.state.latency.first.length > 0", timeout=15_000)
        warm.append(float(collect(page)["first"][0]["ms"]))
    cold: list[float] = []
    for camera in ids[VIEWS:]:
        page.evaluate("() => window.pingan.video.recordLatency()")
        page.evaluate(PLAY, [[camera], False])
        page.wait_for_function("() => window.pingan.video.state.latency.first.length > 0", timeout=20_000)
        cold.append(float(collect(page)["first"][0]["ms"]))
    samples = ", ".join(f"{v:.0f}" for v in warm)
    rows.append((f"first frame, warm ({len(warm)} new tiles)",
                 f"median {percentile(warm, 50):4.0f}  max {max(warm):4.0f} ms  ({samples})"))
    rows.append((f"first frame, cold ({len(cold)} cameras)",
                 f"median {percentile(cold, 50):4.0f}  max {max(cold):4.0f} ms  (the feed starts on the first watch)"))
    return rows
