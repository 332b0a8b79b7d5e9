"""Issue 7 figure: the big screen left open under the simulator's load at 10x speed.

Workload: one ``python app.py`` with the simulator at ``SIM_SPEED=10`` (incidents, 110 calls,
unit positions and sensor readings at ten times the district's pace) on its own embedded Redis.
One headless Chromium page opens ``/screen/`` at 1920x1080 the way a command hall does (a
big-screen kiosk link, no person signed in) and is left alone for ``BENCH_SCREEN_MINUTES``
(default 30).

Every ``BENCH_SCREEN_SAMPLE_S`` (default 60 s) the benchmark records:

- the page's memory after a forced garbage collection (CDP ``HeapProfiler.collectGarbage``, then
  ``Performance.getMetrics``: JS heap used, DOM nodes, event listeners);
- the server's resident memory (``app.py``) and the embedded Redis's;
- frames: a ``requestAnimationFrame`` loop counts frames and dropped frames (each gap of more than
  one 60 Hz frame counts the frames it skipped), plus long tasks (over 50 ms);
- whether the screen said "live", and how many batches and incidents it applied.

Yardstick, in the same run and browser: a blank page with the same frame counter, so the machine's
own frame drops (two shared cores, the app and the simulator busy beside it) are not blamed on
the screen.

``python -m bench screen`` (or ``make bench BENCH=screen``) runs it.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import psutil
from playwright.sync_api import CDPSession, Page, sync_playwright

from bench.browser import CHROMIUM_ARGS, GRIDS_DRAWN_PROBE, chromium_path
from bench.common import free_port, report, start_server, stop_server
from layouts.ids import PagePath, ScreenID
from settings import PROJECT_ROOT

MINUTES = float(os.environ.get("BENCH_SCREEN_MINUTES", "30"))
SAMPLE_S = float(os.environ.get("BENCH_SCREEN_SAMPLE_S", "60"))
WARM_UP_S = 30.0  # the first sample is taken this long after the screen is drawn
SIM_SPEED = "10"

# Counts frames and the 60 Hz frames skipped between them, and long tasks.
FRAME_PROBE = """
window.__frames = { n: 0, dropped: 0, worst: 0, last: 0, long: 0 };
(function () {
  function loop(ts) {
    const f = window.__frames;
    if (f.last) {
      const gap = ts - f.last;
      const missed = Math.round(gap / (1000 / 60)) - 1;  // 60 Hz frames skipped
      if (missed > 0) { f.dropped += missed; }
      if (gap > f.worst) { f.worst = gap; }
    }
    f.n += 1;
    f.last = ts;
    requestAnimationFrame(loop);
  }
  requestAnimationFrame(loop);
  try {
    new PerformanceObserver(function (list) { window.__frames.long += list.getEntries().length; })
      .observe({ entryTypes: ["longtask"] });
  } catch (e) { /* no long-task timing in this browser */ }
})();
"""

READ_FRAMES = ("() => { const f = window.__frames; const out = [f.n, f.dropped, f.worst, f.long]; "
               "f.worst = 0; return out; }")
READ_SCREEN = f"""() => [
  document.getElementById('{ScreenID.FEED}').className,
  window.pingan.live.state.seq, window.pingan.live.state.shown, window.pingan.live.state.sid,
  document.querySelectorAll('#{ScreenID.TILES} .ind-tile').length,
]"""


@dataclass
class Sample:
    at_s: float
    heap_mb: float
    nodes: int
    listeners: int
    server_mb: float
    redis_mb: float
    frames: int
    dropped: int
    worst_ms: float
    long_tasks: int
    yard_frames: int
    yard_dropped: int
    live: bool
    batches: int
    incidents: int
    sid: str


def kiosk_link(env: dict[str, str]) -> str:
    done = subprocess.run([sys.executable, "-m", "auth", "kiosk", "bench wall"], cwd=PROJECT_ROOT, env=env,
                          capture_output=True, text=True, check=True)
    match = re.search(r"(/kiosk/\S+)", done.stdout)
    if not match:
        raise RuntimeError(f"no kiosk link in: {done.stdout!r}")
    return match.group(1)


def page_memory(cdp: CDPSession) -> dict[str, float]:
    cdp.send("HeapProfiler.collectGarbage")
    return {m["name"]: m["value"] for m in cdp.send("Performance.getMetrics")["metrics"]}


def rss_mb(process: psutil.Process) -> float:
    return process.memory_info().rss / 2**20


def run() -> None:
    port = free_port()
    with tempfile.TemporaryDirectory(prefix="screen-bench-") as folder:
        var = Path(folder)
        env = {**os.environ, "VAR_DIR": str(var)}
        proc, _ = start_server(port, var, {"SIMULATOR": "1", "SIM_SPEED": SIM_SPEED})
        try:
            link = kiosk_link(env)
            server = psutil.Process(proc.pid)
            redis_server = next(p for p in server.children(recursive=True) if "redis" in p.name())
            with sync_playwright() as playwright:
                browser = playwright.chromium.launch(executable_path=chromium_path(), args=CHROMIUM_ARGS)
                screen = browser.new_context(viewport={"width": 1920, "height": 1080}).new_page()
                screen.add_init_script(GRIDS_DRAWN_PROBE + FRAME_PROBE)
                screen.goto(f"http://127.0.0.1:{port}{link}")
                screen.wait_for_url(f"http://127.0.0.1:{port}{PagePath.SCREEN}")
                screen.wait_for_function(f"() => window.__gridsDrawnAt !== null && "
                                         f"document.querySelectorAll('#{ScreenID.TILES} .ind-tile').length >= 10",
                                         timeout=60_000)
                yardstick = browser.new_context(viewport={"width": 1920, "height": 1080}).new_page()
                yardstick.add_init_script(FRAME_PROBE)
                yardstick.goto("about:blank")
                cdp = screen.context.new_cdp_session(screen)
                cdp.send("Performance.enable")
                samples = _watch(screen, yardstick, cdp, server, redis_server)
                browser.close()
        finally:
            stop_server(proc)
    _report(samples)


def _watch(screen: Page, yardstick: Page, cdp: CDPSession, server: psutil.Process,
           redis_server: psutil.Process) -> list[Sample]:
    samples: list[Sample] = []
    screen.wait_for_timeout(WARM_UP_S * 1000)
    started = time.monotonic()
    frames, dropped, _, long_tasks = screen.evaluate(READ_FRAMES)  # counting starts here
    yard_frames, yard_dropped, _, _ = yardstick.evaluate(READ_FRAMES)
    previous = (frames, dropped, long_tasks, yard_frames, yard_dropped)
    while True:
        elapsed = time.monotonic() - started
        memory = page_memory(cdp)
        frames, dropped, worst, long_tasks = screen.evaluate(READ_FRAMES)
        yard_frames, yard_dropped, _, _ = yardstick.evaluate(READ_FRAMES)
        feed, batches, incidents, sid, _ = screen.evaluate(READ_SCREEN)
        samples.append(Sample(elapsed, memory["JSHeapUsedSize"] / 2**20, int(memory["Nodes"]),
                              int(memory["JSEventListeners"]), rss_mb(server), rss_mb(redis_server),
                              frames - previous[0], dropped - previous[1], worst, long_tasks - previous[2],
                              yard_frames - previous[3], yard_dropped - previous[4], feed.endswith(" live"),
                              batches, incidents, sid))
        previous = (frames, dropped, long_tasks, yard_frames, yard_dropped)
        if elapsed >= MINUTES * 60:
            return samples
        # The page is left alone between samples; the benchmark only waits for the clock.
        screen.wait_for_timeout(min(SAMPLE_S, MINUTES * 60 - elapsed) * 1000)


def _report(samples: list[Sample]) -> None:
    first, last = samples[0], samples[-1]
    every = max(1, round(300 / SAMPLE_S))  # one row per five minutes
    rows: list[tuple[str, str]] = []
    for s in samples[::every] + ([last] if (len(samples) - 1) % every else []):
        dropped = 100 * s.dropped / max(1, s.frames + s.dropped)
        yard = 100 * s.yard_dropped / max(1, s.yard_frames + s.yard_dropped)
        rows.append((f"t = {s.at_s / 60:4.1f} min",
                     f"page heap {s.heap_mb:6.1f} MB, {s.nodes:6d} DOM nodes, {s.listeners:5d} listeners | "
                     f"server {s.server_mb:6.1f} MB, redis {s.redis_mb:5.1f} MB | frames {s.frames:5d}, "
                     f"dropped {dropped:4.1f}% (blank page {yard:4.1f}%), worst gap {s.worst_ms:5.0f} ms, "
                     f"long tasks {s.long_tasks:3d} | {'live' if s.live else 'NOT LIVE'}"))
    frames = sum(s.frames for s in samples[1:])
    dropped = sum(s.dropped for s in samples[1:])
    yard_frames = sum(s.yard_frames for s in samples[1:])
    yard_dropped = sum(s.yard_dropped for s in samples[1:])
    reconnects = len({s.sid for s in samples}) - 1
    rows += [
        ("page memory (after GC)", f"JS heap {first.heap_mb:.1f} -> {last.heap_mb:.1f} MB "
                                   f"({last.heap_mb - first.heap_mb:+.1f}); DOM nodes {first.nodes} -> {last.nodes}; "
                                   f"listeners {first.listeners} -> {last.listeners}"),
        ("server memory (RSS)", f"app.py {first.server_mb:.1f} -> {last.server_mb:.1f} MB "
                                f"({last.server_mb - first.server_mb:+.1f}); embedded redis {first.redis_mb:.1f} -> "
                                f"{last.redis_mb:.1f} MB"),
        ("dropped frames", f"{dropped} of {frames + dropped} ({100 * dropped / max(1, frames + dropped):.2f}%); "
                           f"yardstick blank page {yard_dropped} of {yard_frames + yard_dropped} "
                           f"({100 * yard_dropped / max(1, yard_frames + yard_dropped):.2f}%)"),
        ("long tasks (> 50 ms)", str(sum(s.long_tasks for s in samples[1:]))),
        ("feed", f"live in {sum(s.live for s in samples)} of {len(samples)} samples; {reconnects} reconnects; "
                 f"{last.batches} batches and {last.incidents} incidents applied"),
    ]
    report(f"Big screen left open {MINUTES:g} min, simulator at {SIM_SPEED}x, 1920x1080, "
           f"sampled every {SAMPLE_S:g} s", rows)

