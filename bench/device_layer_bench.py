"""Issue 19 figures: the device layer at 2,500 / 25,000 / 250,000 devices (`make bench BENCH=device-layer`).

Workload: the product's app served in this process (no simulator), its device layer switched to N synthetic
devices spread over the district's 863 grids (bench/synthetic_devices.py: each grid the same share, so the
urban core is dense; 2% offline and 0.5% faulty), never written to data/. Headless Debian Chromium at
1920x1080 signs in, switches the "sensing devices" overlay on and, for each N:

- **pan**: the map moved 300 px (alternately left and right) at the district view;
- **zoom**: one zoom level in, then out again, at the district view;
- **dense pan**: the same pan at zoom 13 over the urban core (the most bubbles a view holds);

each timed from the move to the new view's last feature in the DOM (moveend, the request, the answer, Dash
setting the layer's data, dash-leaflet drawing it) and to the next animation frame after that (painted).
The server's figures are its answers to the district view (its zoom), the urban core at zoom 13 and a
street at zoom 17 (single devices): milliseconds per HTTP request (median), gzip bytes, features. The index
build is ``registry.geojson()`` plus the clustering of every zoom; the health recount is what a change of
device health costs.

The yardsticks in the same run: the same moves with the device layer off (what the map's own 863 grids cost to
redraw, included in every figure above), and the previous design's first step: the whole registry as one GeoJSON (what
``/geo/devices.geojson`` sent for the browser to cluster), its gzip size and the browser's time to parse it
(``JSON.parse`` alone: the download, supercluster's indexing and the drawing came on top).
"""

from __future__ import annotations

import gzip
import json
import logging
import os
import statistics
import tempfile
import time
from pathlib import Path

import requests
from playwright.sync_api import Page, sync_playwright

from bench.common import median_s, report
from bench.synthetic_devices import SyntheticRegistry
from geo.device_clusters import BBox, DeviceLayer
from routes.device_layer import EXTENSION
from settings import Settings
from testkit.accounts import PASSWORD, make_user, sign_in_page
from testkit.browser import CHROMIUM_ARGS, GRIDS_DRAWN_PROBE, chromium_path, new_context
from testkit.live_client import sign_in
from testkit.servers import start_live_server
from urls import URL

SIZES = tuple(int(n) for n in os.environ.get("BENCH_DEVICE_SIZES", "2500,25000,250000").split(","))
RUNS = 9
TARGET_MS = 200
URBAN_CORE = (39.33, 112.43)  # lat, lon: the district seat's streets
# The server's views: (name, bbox, zoom). The district view's bbox is what the page asks at 1920x1080 (margin
# included); its zoom is read from the page.
STREET = ("street, zoom 17", BBox(112.425, 39.325, 112.445, 39.337), 17.0)
CORE = ("urban core, zoom 13", BBox(112.26, 39.26, 112.60, 39.40), 13.0)

# Move the map (``how``: pan / zoom), then wait for the view it asks for; returns ms to drawn and to painted.
MOVE = """async ([how, step]) => {
  const d = window.pingan.devices, m = window.pingan.map.leaflet;
  const before = d.state.seq;
  const t0 = performance.now();
  if (how === "pan") { m.panBy([step, 0], {animate: false}); } else { m.setZoom(m.getZoom() + step, {animate: false}); }
  await new Promise(function (resolve) {
    (function check() { if (d.state.shown > before) { resolve(); } else { requestAnimationFrame(check); } })();
  });
  const drawn = d.state.drawnAt - t0;
  const arrived = d.state.arrivedAt - t0;
  await new Promise(function (resolve) { requestAnimationFrame(function () { resolve(); }); });
  return [drawn, performance.now() - t0, document.querySelectorAll('.device-cluster, path.device-dot').length,
          arrived];
}"""

# Go to a view and wait until it is drawn.
GO = """async ([lat, lon, zoom]) => {
  const d = window.pingan.devices, m = window.pingan.map.leaflet;
  const before = d.state.seq;
  if (zoom === null) { m.fitBounds([[39.08, 112.01], [39.46, 112.77]], {animate: false}); }
  else { m.setView([lat, lon], zoom, {animate: false}); }
  if (d.state.seq === before) { d.refresh(true); }
  await new Promise(function (resolve) {
    (function check() { if (d.state.shown > before) { resolve(); } else { requestAnimationFrame(check); } })();
  });
  return [m.getZoom(), window.pingan.devices.bboxOf(m)];
}"""

# The same moves with the device layer off: what the map's own layers (863 grids, stations) cost.
BARE_MOVE = """async ([how, step]) => {
  const m = window.pingan.map.leaflet;
  const t0 = performance.now();
  if (how === "pan") { m.panBy([step, 0], {animate: false}); } else { m.setZoom(m.getZoom() + step, {animate: false}); }
  await new Promise(function (resolve) { requestAnimationFrame(function () { resolve(); }); });
  return performance.now() - t0;
}"""

PARSE_ALL = """(text) => {
  const t0 = performance.now();
  const data = JSON.parse(text);
  return [performance.now() - t0, data.features.length];
}"""


def _moves(page: Page, how: str, step: float) -> tuple[list[float], list[float], int, list[float]]:
    drawn, painted, shown, arrived = [], [], 0, []
    for run in range(RUNS):
        d, p, shown, a = page.evaluate(MOVE, [how, step if run % 2 == 0 else -step])
        drawn.append(float(d))
        painted.append(float(p))
        arrived.append(float(a))
    return drawn, painted, int(shown), arrived


def _bare(page: Page) -> list[tuple[str, str]]:
    """The yardstick moves: the map without the device layer, at the district view and at the urban core."""
    rows = []
    for name, view, how, step in (("pan, district view", None, "pan", 300), ("zoom in/out, district view", None,
                                  "zoom", 1), ("pan, urban core zoom 13", [*URBAN_CORE, 13], "pan", 300)):
        if view is None:
            page.evaluate("() => window.pingan.map.leaflet.fitBounds([[39.08, 112.01], [39.46, 112.77]], "
                          "{animate: false})")
        else:
            page.evaluate("([lat, lon, z]) => window.pingan.map.leaflet.setView([lat, lon], z, {animate: false})",
                          view)
        times = [float(page.evaluate(BARE_MOVE, [how, step if run % 2 == 0 else -step])) for run in range(RUNS)]
        rows.append((f"yardstick: the map without the device layer, {name}", f"{_ms(times)} painted"))
    return rows


def _server(http: requests.Session, base: str, bbox: BBox, zoom: float) -> tuple[float, int, int]:
    """Median ms of the HTTP request, its gzip bytes and its features."""
    url = f"{base}{URL.DEVICE_VIEW}?bbox={bbox.west},{bbox.south},{bbox.east},{bbox.north}&zoom={zoom}"
    times, size, features = [], 0, 0
    for _ in range(RUNS):
        started = time.perf_counter()
        response = http.get(url, headers={"Accept-Encoding": "gzip"}, stream=True, timeout=30)
        body = response.raw.read()  # as sent: gzip
        times.append((time.perf_counter() - started) * 1000)
        size = len(body)
        features = len(json.loads(gzip.decompress(body))["features"])
    return statistics.median(times), size, features


def _ms(values: list[float]) -> str:
    return f"{statistics.median(values):6.1f} ms (max {max(values):.1f})"


def _measure(n: int, layer: DeviceLayer, page: Page, http: requests.Session, base: str) -> list[tuple[str, str]]:
    registry = SyntheticRegistry(n)
    health = registry.health()
    layer.use(registry, health=lambda: health)
    builds = []
    for _ in range(3):
        layer.rebuild()
        builds.append(layer.build_s * 1000)
    index = layer.current()
    recount = median_s(lambda: index.set_health(health), 3) * 1000
    zoom, bbox = page.evaluate(GO, [0, 0, None])
    district = ("district view, zoom " + f"{zoom:g}", BBox(*bbox), float(zoom))
    pan = _moves(page, "pan", 300)
    zoom_in = _moves(page, "zoom", 1)
    page.evaluate(GO, [*URBAN_CORE, 13])
    dense = _moves(page, "pan", 300)
    rows = [
        (f"{n:,} devices: index build (geojson() + every zoom)", f"{statistics.median(builds):6.0f} ms"),
        (f"{n:,} devices: health recount (every zoom)", f"{recount:6.1f} ms  ({len(health):,} not online)"),
    ]
    for name, view, z in (district, CORE, STREET):
        ms, size, features = _server(http, base, view, z)
        rows.append((f"{n:,} devices: server, {name}",
                     f"{ms:6.1f} ms  {size / 1024:7.1f} kB gz  {features:5d} features"))
    for name, (drawn, painted, shown, arrived) in (("pan, district view", pan),
                                                   ("zoom in/out, district view", zoom_in),
                                                   ("pan, urban core zoom 13", dense)):
        rows.append((f"{n:,} devices: browser {name}, median of {RUNS}",
                     f"{_ms(painted)} painted ({statistics.median(drawn):.0f} ms drawn, answer after "
                     f"{statistics.median(arrived):.0f} ms), {shown} on the map"))
    # The yardstick: the whole registry in one GeoJSON, as the old layer fetched it.
    raw = json.dumps(registry.geojson(), ensure_ascii=False, separators=(",", ":")).encode()
    packed = gzip.compress(raw, compresslevel=6, mtime=0)
    parsed, count = page.evaluate(PARSE_ALL, raw.decode())  # the text handed over untimed: only the parse is
    assert count == n
    rows.append((f"{n:,} devices: yardstick, whole registry GeoJSON",
                 f"{len(packed) / 1024:7.0f} kB gz ({len(raw) / 2**20:.1f} MB raw), JSON.parse alone {parsed:.0f} ms,"
                 " before its download, clustering or drawing"))
    return rows


def run() -> None:
    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # one line per request would bury the table
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings.from_env(var_dir=Path(tmp) / "var", simulator=False, backfill=False, video=False,
                                     report_schedule=False, tile_url="", redis_url="", database_url="")
        server = start_live_server(settings)
        try:
            layer: DeviceLayer = server.app.server.extensions[EXTENSION]
            username = make_user(server.app, "duty_officer")
            http = sign_in(server.url, username, PASSWORD)
            rows: list[tuple[str, str]] = []
            with sync_playwright() as playwright:
                browser = playwright.chromium.launch(executable_path=chromium_path(), args=CHROMIUM_ARGS)
                page = new_context(browser).new_page()
                page.add_init_script(GRIDS_DRAWN_PROBE)
                sign_in_page(page, server.url, username)
                page.wait_for_function("() => window.__gridsDrawnAt !== null")
                bare = _bare(page)
                page.get_by_role("checkbox", name="感知设备").check()
                page.wait_for_function("() => window.pingan.devices.state.shown > 0")
                for n in SIZES:
                    rows += _measure(n, layer, page, http, server.url)
                browser.close()
        finally:
            server.stop()
    load = ", ".join(f"{v:.1f}" for v in os.getloadavg())
    report(f"device layer: clustered on the server (headless Chromium, 1920x1080, {os.cpu_count()} cores, "
           f"app in this process; load average at the end {load})",
           [*bare, *rows, ("target", f"pan and zoom redraw < {TARGET_MS} ms at 250,000 devices")])
