"""Issue 2 figures: server start to first response; page open to all 863 grids drawn.

Workload: `python app.py` started fresh (no simulator); headless Debian Chromium at
1920x1080 opens the page five times in each of three ways; the time is from
navigation start to the moment all 863 grid paths are in the DOM. Three ways of
opening: a first visit (empty profile), a new tab with a warm HTTP cache, and a
reload of the same tab (what a wall display does). The yardstick
in the same run is the time to fetch grids.geojson alone (the floor of any design
that ships the geometry to the browser).
"""

from __future__ import annotations

import os
import statistics
import tempfile
import time
from pathlib import Path

import requests
from playwright.sync_api import sync_playwright

from bench.common import report
from testkit.accounts import BENCH_PASSWORD, BENCH_USER
from testkit.browser import CHROMIUM_ARGS, GRIDS_DRAWN_PROBE, chromium_path, new_context
from testkit.live_client import sign_in
from testkit.servers import free_port, start_server, stop_server
from urls import URL

RUNS = 5
MODES = {
    "cold": "first visit (empty cache)",
    "new-tab": "new tab (warm HTTP cache)",
    "reload": "reload in the same tab",
}
TARGET_MS = 600


def _draw_times(url: str, mode: str, http: requests.Session) -> list[float]:
    """Navigation -> 863 grids drawn, RUNS times, for ``mode``: cold / new-tab / reload.

    Every context carries the signed-in session's cookies, so what is timed is the
    page itself, not the sign-in.
    """
    times: list[float] = []
    cookies = [{"name": c.name, "value": c.value, "url": url} for c in http.cookies]
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium_path(), args=CHROMIUM_ARGS)

        def fresh_context():  # an empty profile: nothing cached
            context = new_context(browser)
            context.add_cookies(cookies)  # type: ignore[arg-type]
            context.add_init_script(GRIDS_DRAWN_PROBE)
            return context

        context = fresh_context()
        page = context.new_page()
        if mode != "cold":
            page.goto(url)  # fill the HTTP cache first
            page.wait_for_function("() => window.__gridsDrawnAt !== null")
        for _ in range(RUNS):
            if mode == "cold":
                context.close()
                context = fresh_context()
                page = context.new_page()
            elif mode == "new-tab":
                page.close()
                page = context.new_page()
            page.goto(url)
            page.wait_for_function("() => window.__gridsDrawnAt !== null")
            times.append(float(page.evaluate("window.__gridsDrawnAt")))
        browser.close()
    return times


def _fetch_ms(url: str, http: requests.Session) -> float:
    samples = []
    for _ in range(RUNS):
        started = time.perf_counter()
        http.get(url, timeout=10).raise_for_status()
        samples.append((time.perf_counter() - started) * 1000)
    return statistics.median(samples)


def _summary(times: list[float]) -> str:
    return f"{statistics.median(times):.0f} ms  (runs: {', '.join(f'{t:.0f}' for t in times)})"


def run() -> None:
    port = free_port()
    with tempfile.TemporaryDirectory() as tmp:
        proc, start_s = start_server(port, Path(tmp))
        try:
            url = f"http://127.0.0.1:{port}/"
            http = sign_in(url.rstrip("/"), BENCH_USER, BENCH_PASSWORD)
            runs = {mode: _draw_times(url, mode, http) for mode in MODES}
            fetch = _fetch_ms(url.rstrip("/") + URL.GRIDS, http)
        finally:
            stop_server(proc)
    report(
        f"map: page open -> 863 grids drawn (headless Chromium, 1920x1080, {os.cpu_count()} cores)",
        [
            ("server start -> first response", f"{start_s:.2f} s"),
            *[(f"{MODES[mode]}, median of {RUNS}", _summary(t)) for mode, t in runs.items()],
            ("target", f"<= {TARGET_MS} ms"),
            ("yardstick: GET grids.geojson alone", f"{fetch:.1f} ms"),
        ],
    )
