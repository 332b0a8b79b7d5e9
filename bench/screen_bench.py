"""The big screen left open under the simulator's load: 30 minutes at 10x (``screen``), or a soak of
several simulated days (``make soak``: 2 hours at 60x, from a first start with a year of history).

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

``python -m bench screen`` (or ``make bench BENCH=screen``) runs it. ``make soak`` runs the long form
(``SOAK_MINUTES``, default 120, ``SOAK_SPEED``, default 60, one sample every 5 minutes) and reports,
for each of page heap, DOM nodes, server memory and Redis memory, its growth over the last hour: a
wall that runs for weeks must level off once its caps fill (``{cc}:live`` by time, the push hub's
ring, the page's bounded collections). It also lists the ten largest Redis key families at the
start, an hour before the end and at the end, so a growing Redis names what grows.
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
import redis
from playwright.sync_api import CDPSession, Page, sync_playwright

from bench.common import report
from bus.connection import connect
from layouts.ids import ScreenID
from settings import PROJECT_ROOT
from testkit.browser import CHROMIUM_ARGS, GRIDS_DRAWN_PROBE, chromium_path
from testkit.servers import free_port, start_server, stop_server
from urls import URL

MINUTES = float(os.environ.get("BENCH_SCREEN_MINUTES", "30"))
SAMPLE_S = float(os.environ.get("BENCH_SCREEN_SAMPLE_S", "60"))
WARM_UP_S = 30.0  # the first sample is taken this long after the screen is drawn
SIM_SPEED = 10.0
SOAK_MINUTES = float(os.environ.get("SOAK_MINUTES", "120"))
SOAK_SPEED = float(os.environ.get("SOAK_SPEED", "60"))
SOAK_SAMPLE_S = 300.0
LEVEL_OFF = 0.05  # less than 5% growth over the last hour: the caps have filled
REDIS_FAMILIES_SHOWN = 10

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
    redis_used_mb: float  # Redis's own count of the memory its data takes (INFO memory)
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
    redis_keys: dict[str, tuple[int, int]]  # key family -> (bytes, entries)


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


def redis_key_families(client: redis.Redis) -> dict[str, tuple[int, int]]:
    """Bytes and entries per key family (``{cc}:outbox:sent:<id>`` counts as ``{cc}:outbox:sent``), so a
    growing Redis names what grows."""
    lengths = {"stream": client.xlen, "zset": client.zcard, "hash": client.hlen, "list": client.llen,
               "set": client.scard}
    families: dict[str, tuple[int, int]] = {}
    for name in client.scan_iter(count=1000):  # a client with decode_responses: names are str
        family = name.rsplit(":", 1)[0] if name.count(":") >= 3 else name
        size = int(client.memory_usage(name) or 0)
        kind = str(client.type(name))
        length = lengths[kind](name) if kind in lengths else 1
        total, entries = families.get(family, (0, 0))
        families[family] = (total + size, entries + int(length))
    return families


def run() -> None:
    """The screen benchmark: 30 minutes at 10x."""
    samples = watch_screen(MINUTES, SIM_SPEED, SAMPLE_S, backfill=False)
    _report(samples, MINUTES, SIM_SPEED, SAMPLE_S)


def soak() -> None:
    """The wall for several simulated days: does everything level off once its caps fill?"""
    samples = watch_screen(SOAK_MINUTES, SOAK_SPEED, SOAK_SAMPLE_S, backfill=True)
    _report(samples, SOAK_MINUTES, SOAK_SPEED, SOAK_SAMPLE_S)
    _report_levels(samples)


def watch_screen(minutes: float, speed: float, sample_s: float, backfill: bool) -> list[Sample]:
    port = free_port()
    with tempfile.TemporaryDirectory(prefix="screen-bench-") as folder:
        var = Path(folder)
        env = {**os.environ, "VAR_DIR": str(var)}
        proc, _ = start_server(port, var, {"SIMULATOR": "1", "SIM_SPEED": f"{speed:g}",
                                           "BACKFILL": "1" if backfill else "0"})
        try:
            link = kiosk_link(env)
            server = psutil.Process(proc.pid)
            redis_server = next(p for p in server.children(recursive=True) if "redis" in p.name())
            with sync_playwright() as playwright:
                browser = playwright.chromium.launch(executable_path=chromium_path(), args=CHROMIUM_ARGS)
                screen = browser.new_context(viewport={"width": 1920, "height": 1080}).new_page()
                screen.add_init_script(GRIDS_DRAWN_PROBE + FRAME_PROBE)
                screen.goto(f"http://127.0.0.1:{port}{link}")
                screen.wait_for_url(f"http://127.0.0.1:{port}{URL.SCREEN}")
                screen.wait_for_function(f"() => window.__gridsDrawnAt !== null && "
                                         f"document.querySelectorAll('#{ScreenID.TILES} .ind-tile').length >= 10",
                                         timeout=60_000)
                yardstick = browser.new_context(viewport={"width": 1920, "height": 1080}).new_page()
                yardstick.add_init_script(FRAME_PROBE)
                yardstick.goto("about:blank")
                cdp = screen.context.new_cdp_session(screen)
                cdp.send("Performance.enable")
                redis_client = connect(f"unix://{var / 'redis' / 'redis.sock'}")
                samples = _watch(screen, yardstick, cdp, server, redis_server, redis_client, minutes, sample_s)
                browser.close()
        finally:
            stop_server(proc)
    return samples


def _watch(screen: Page, yardstick: Page, cdp: CDPSession, server: psutil.Process,
           redis_server: psutil.Process, redis_client: redis.Redis, minutes: float,
           sample_s: float) -> list[Sample]:
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
                              int(redis_client.info("memory")["used_memory"]) / 2**20,
                              frames - previous[0], dropped - previous[1], worst, long_tasks - previous[2],
                              yard_frames - previous[3], yard_dropped - previous[4], feed.endswith(" live"),
                              batches, incidents, sid, redis_key_families(redis_client)))
        previous = (frames, dropped, long_tasks, yard_frames, yard_dropped)
        if elapsed >= minutes * 60:
            return samples
        # The page is left alone between samples; the benchmark only waits for the clock.
        screen.wait_for_timeout(min(sample_s, minutes * 60 - elapsed) * 1000)


def _report(samples: list[Sample], minutes: float, speed: float, sample_s: float) -> None:
    first, last = samples[0], samples[-1]
    every = max(1, round(300 / sample_s))  # one row per five minutes
    rows: list[tuple[str, str]] = []
    for s in samples[::every] + ([last] if (len(samples) - 1) % every else []):
        dropped = 100 * s.dropped / max(1, s.frames + s.dropped)
        yard = 100 * s.yard_dropped / max(1, s.yard_frames + s.yard_dropped)
        rows.append((f"t = {s.at_s / 60:4.1f} min",
                     f"page heap {s.heap_mb:6.1f} MB, {s.nodes:6d} DOM nodes, {s.listeners:5d} listeners | "
                     f"server {s.server_mb:6.1f} MB, redis {s.redis_mb:5.1f} MB (data {s.redis_used_mb:5.1f}) | "
                     f"frames {s.frames:5d}, "
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
    report(f"Big screen left open {minutes:g} min, simulator at {speed:g}x, 1920x1080, "
           f"sampled every {sample_s:g} s", rows)


def _report_levels(samples: list[Sample]) -> None:
    """Growth of each figure over the last hour of the run (under 5%: it has levelled off)."""
    end = samples[-1]
    hour_ago = min(samples, key=lambda s: abs(s.at_s - (end.at_s - 3600)))
    rows = []
    for label, unit, value in (("page JS heap (after GC)", "MB", lambda s: s.heap_mb),
                               ("page DOM nodes", "", lambda s: float(s.nodes)),
                               ("app.py resident memory", "MB", lambda s: s.server_mb),
                               ("Redis data (used_memory)", "MB", lambda s: s.redis_used_mb),
                               ("redis-server resident memory", "MB", lambda s: s.redis_mb)):
        before, after = value(hour_ago), value(end)
        growth = (after - before) / before if before else 0.0
        verdict = "levels off" if growth < LEVEL_OFF else "STILL GROWING"
        rows.append((label, f"{value(samples[0]):.1f} -> {before:.1f} -> {after:.1f} {unit}: {growth:+.1%} over "
                            f"the last {(end.at_s - hour_ago.at_s) / 60:.0f} min ({verdict})"))
    report("Soak: growth over the last hour (start -> an hour before the end -> end)", rows)
    families = sorted(end.redis_keys, key=lambda f: end.redis_keys[f][0], reverse=True)[:REDIS_FAMILIES_SHOWN]
    rows = []
    for family in families:
        (start_b, start_n), (before_b, before_n), (after_b, after_n) = (
            s.redis_keys.get(family, (0, 0)) for s in (samples[0], hour_ago, end))
        rows.append((family, f"{start_b / 2**20:6.2f} -> {before_b / 2**20:6.2f} -> {after_b / 2**20:6.2f} MB "
                             f"({start_n} -> {before_n} -> {after_n} entries)"))
    report("Soak: the largest Redis keys (start -> an hour before the end -> end)", rows)

