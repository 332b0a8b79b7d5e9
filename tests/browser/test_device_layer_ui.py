"""The device layer in a real browser: clusters from the server with their counts, single devices when zoomed in,
health colours on both, the old features kept while a new view loads (issue 19)."""

from __future__ import annotations

import redis
from playwright.sync_api import Page, expect

import clock
from bus import keys
from layouts.ids import ID
from testkit.servers import LiveServer
from tests.browser.test_live import open_live
from urls import URL

CAMERA = "BHV-001"  # a site camera alone at its place
DEVICES_LAYER = "感知设备"
VIEWS = f"**{URL.DEVICE_VIEW}?*"  # the layer's requests
HEALTH_SEEN_MS = 30_000  # the health monitor's next check (every 5 s), then the page's flush and refetch

# Every cluster bubble's exact count and every single device dot on the map, as the page shows them.
ON_MAP = """() => ({
  clusters: [...document.querySelectorAll('.device-cluster [data-count]')].map(e => Number(e.dataset.count)),
  faulty: document.querySelectorAll('.device-cluster.health-faulty').length,
  dots: document.querySelectorAll('path.device-dot').length,
  shown: window.pingan.devices.state.shown,
})"""


def show_devices(page: Page) -> int:
    """Switch the overlay on and wait for its first view; returns that view's number."""
    page.get_by_role("checkbox", name=DEVICES_LAYER).check()
    page.wait_for_function("() => window.pingan.devices.state.shown > 0")
    return int(page.evaluate("() => window.pingan.devices.state.shown"))


def move_and_wait(page: Page, script: str) -> None:
    """Move the map (``script`` gets the Leaflet map as ``m``) and wait until the new view is drawn."""
    before = page.evaluate("() => window.pingan.devices.state.seq")
    page.evaluate(f"() => {{ const m = window.pingan.map.leaflet; {script}; }}")
    page.wait_for_function(f"() => window.pingan.devices.state.shown > {before}")


def test_device_ui001_clusters_with_counts_then_single_devices_coloured_by_health(
    live_server: LiveServer, page: Page, r: redis.Redis, console_errors: list[str]
) -> None:
    devices = live_server.app.devices
    camera = devices.get(CAMERA)
    assert camera is not None
    open_live(page, live_server)
    show_devices(page)
    # The whole district in view: every device is in one bubble or drawn by itself, counted once.
    seen = page.evaluate(ON_MAP)
    assert seen["clusters"] and max(seen["clusters"]) > 1
    assert sum(seen["clusters"]) + seen["dots"] == len(devices)
    assert seen["faulty"] == 0
    bubble = page.locator(".device-cluster [data-count]").first
    count = int(bubble.get_attribute("data-count") or 0)
    expect(bubble).to_have_text(str(count) if count < 1000 else f"{round(count / 100) / 10}k")
    # A fault report: the camera turns faulty, and without moving the map its cluster shows it.
    r.xadd(keys.SENSORS, {"event_id": "FLT-UI-1", "device_id": CAMERA, "kind": "fault",
                          "observed_at": clock.now().isoformat()})
    page.wait_for_function(f"() => window.pingan.alerts.state.health['{CAMERA}'] === 'faulty'",
                           timeout=HEALTH_SEEN_MS)
    expect(page.locator(f"#{ID.MAP} .device-cluster.health-faulty")).to_have_count(1, timeout=HEALTH_SEEN_MS)
    # Zoomed in on the camera: single devices, no bubbles; the camera's dot is faulty, as its state.
    move_and_wait(page, f"m.setView([{camera.lat}, {camera.lon}], 18)")
    expect(page.locator(f"#{ID.MAP} .device-cluster")).to_have_count(0)
    expect(page.locator(f"#{ID.MAP} path.device-faulty")).to_have_count(1)
    # Its tooltip names it, as text (the fault's flash may sit over the dot: the event goes to the dot itself).
    page.locator(f"#{ID.MAP} path.device-faulty").dispatch_event("mouseover")
    expect(page.locator(".grid-tooltip", has_text=CAMERA)).to_contain_text("故障")
    assert console_errors == []


def test_device_ui002_a_cluster_click_zooms_to_its_devices_and_old_features_stay_until_the_new_arrive(
    live_server: LiveServer, page: Page, console_errors: list[str]
) -> None:
    open_live(page, live_server)
    show_devices(page)
    zoom = page.evaluate("() => window.pingan.map.leaflet.getZoom()")
    # Hold the next answer back: while it is on its way, the map keeps what it showed.
    held: list[object] = []
    page.route(VIEWS, lambda route: held.append(route))
    before = page.evaluate("() => window.pingan.devices.state.seq")
    page.evaluate("() => window.pingan.map.leaflet.panBy([200, 0], {animate: false})")
    page.wait_for_function(f"() => window.pingan.devices.state.seq > {before}")
    assert held, "the pan asked for its view"
    kept = page.evaluate(ON_MAP)
    assert kept["clusters"] and kept["shown"] == before
    held[-1].continue_()  # type: ignore[attr-defined]
    page.unroute(VIEWS)
    page.wait_for_function(f"() => window.pingan.devices.state.shown > {before}")
    # The biggest bubble, clicked, zooms the map to its devices.
    biggest = page.evaluate("""() => {
        const spans = [...document.querySelectorAll('.device-cluster [data-count]')];
        return Math.max(...spans.map(s => Number(s.dataset.count)));
    }""")
    page.locator(f".device-cluster [data-count='{biggest}']").first.click()
    page.wait_for_function(f"() => window.pingan.map.leaflet.getZoom() > {zoom}")
    assert console_errors == []
