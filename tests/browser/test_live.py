"""Live incidents in a real browser: shown once, shown as text, none lost."""

from __future__ import annotations

import json
import re
import time
from datetime import timedelta

import redis
from playwright.sync_api import Page, expect

from bus import keys
from indicators.live import MIN_INTERVAL_S
from layouts.ids import LiveID
from testkit.entries import SEAT, incident, stamp
from testkit.servers import LiveServer
from tests.browser.test_map import grid_centre, open_map

# Today's counts are the server's figures, recomputed at most every MIN_INTERVAL_S after a change: wait that out.
FIGURES_RECOMPUTED_MS = (MIN_INTERVAL_S + 5) * 1000
DRAWN_IDS = "() => [...window.pingan.live.state.drawn.keys()]"
ON_MAP = ("(id) => { const item = window.pingan.live.state.incidents.get(id);"
          " return !!item && !!item.marker && window.pingan.map.leaflet.hasLayer(item.marker); }")
SCREEN_POINT = """(id) => {
    const map = window.pingan.map.leaflet;
    const p = map.latLngToContainerPoint(window.pingan.live.state.incidents.get(id).marker.getLatLng());
    const box = map.getContainer().getBoundingClientRect();
    return [box.x + p.x, box.y + p.y];
}"""


def open_live(page: Page, server: LiveServer, role: str = "duty_officer") -> None:
    open_map(page, server, role)
    expect(page.locator(f"#{LiveID.STATUS}")).to_have_class("live-pill live")
    page.evaluate("() => window.pingan.live.recordDraws()")


def test_live_ui001_incident_written_to_redis_appears_on_map_and_feed(
    live_server: LiveServer, page: Page, r: redis.Redis
) -> None:
    open_live(page, live_server)
    r.xadd(keys.INCIDENTS, incident("UI-1", category="fight", priority="1", address="朔城区鄯阳街8号"))
    page.wait_for_function("() => window.pingan.live.state.drawn.has('UI-1')")
    assert page.evaluate(ON_MAP, "UI-1")
    item = page.locator(f"#{LiveID.FEED} [data-event-id='UI-1']")
    expect(item).to_contain_text("打架斗殴")
    expect(item).to_contain_text("朔城区鄯阳街8号")
    expect(page.locator(f"#{LiveID.FEED_COUNT}")).to_have_text("今日 1 起", timeout=FIGURES_RECOMPUTED_MS)


def test_live_ui002_hostile_text_is_shown_as_text(live_server: LiveServer, page: Page, r: redis.Redis) -> None:
    open_live(page, live_server)
    address = "<script>window.__xss = 1</script>"
    description = '<img src=x onerror="window.__xss = 2">'
    r.xadd(keys.INCIDENTS, incident("XSS-1", address=address[:200], description=description))
    item = page.locator(f"#{LiveID.FEED} [data-event-id='XSS-1']")
    expect(item).to_contain_text(address)
    page.wait_for_function("() => window.pingan.live.state.drawn.has('XSS-1')")
    page.mouse.move(*page.evaluate(SCREEN_POINT, "XSS-1"))
    expect(page.locator(".leaflet-tooltip")).to_contain_text(description)
    assert page.evaluate("() => window.__xss") is None
    assert page.locator(f"#{LiveID.FEED} script, #{LiveID.FEED} img, .leaflet-tooltip img").count() == 0


def test_live_ui003_every_event_sent_is_shown_once(live_server: LiveServer, page: Page, r: redis.Redis) -> None:
    open_live(page, live_server)
    sent = [f"B-{n}" for n in range(400)]
    pipe = r.pipeline(transaction=False)
    for event_id in sent[:250]:  # a burst
        pipe.xadd(keys.INCIDENTS, incident(event_id))
    pipe.execute()
    for event_id in sent[250:]:  # then a steady ~200 events/s
        r.xadd(keys.INCIDENTS, incident(event_id))
        time.sleep(0.005)  # pacing the producer, not waiting for the result
    page.wait_for_function(f"() => window.pingan.live.state.drawn.size >= {len(sent)}")
    assert sorted(page.evaluate(DRAWN_IDS)) == sorted(sent)
    assert all(page.evaluate(f"() => {json.dumps(sent)}.map(id => ({ON_MAP})(id))"))
    assert page.evaluate("() => window.pingan.live.state.shown") == len(sent)


def test_live_ui004_sensor_alert_flashes_at_its_device(live_server: LiveServer, page: Page, r: redis.Redis) -> None:
    device = next(d for d in live_server.app.devices.devices.values() if d.type == "behaviour")
    open_live(page, live_server)
    r.xadd(keys.SENSORS, {"event_id": "AL-UI-1", "device_id": device.device_id,
                          "observed_at": stamp(), "kind": "alert", "scenario": "fight"})
    flash = page.locator(".alert-marker .alert-flash[data-event-id='AL-UI-1']")
    expect(flash).to_have_count(1)
    flash.hover(force=True)  # it pulses forever: never "stable"
    expect(page.locator(".leaflet-tooltip")).to_contain_text(device.device_id)


def test_live_ui005_selected_grid_shows_its_live_count(live_server: LiveServer, page: Page, r: redis.Redis) -> None:
    open_live(page, live_server)
    seat_grid = live_server.app.grids.locate_codes([SEAT[0]], [SEAT[1]])[0]
    page.mouse.click(*grid_centre(page, seat_grid))
    expect(page.locator(f"#{LiveID.GRID_LIVE}")).to_have_text("今日警情: 0 起")
    r.xadd(keys.INCIDENTS, incident("GC-1"))
    r.xadd(keys.INCIDENTS, incident("GC-2"))
    expect(page.locator(f"#{LiveID.GRID_LIVE}")).to_have_text("今日警情: 2 起")


def test_live_ui006_connection_indicator_goes_stale_without_events(
    live_server: LiveServer, page: Page, r: redis.Redis
) -> None:
    open_live(page, live_server)
    r.xadd(keys.INCIDENTS, incident("ST-1"))
    page.wait_for_function("() => window.pingan.live.state.drawn.has('ST-1')")
    # Pretend the last event came two minutes ago (the page's clock is its own). A batch still in
    # flight from the page's first load would make it recent again, so keep pretending until the
    # one-second tick has shown the silence.
    page.wait_for_function(
        """(statusId) => {
            window.pingan.live.state.lastEventAt = Date.now() - 120000;
            return document.getElementById(statusId).className === "live-pill stale";
        }""",
        arg=str(LiveID.STATUS),
        polling=200,
    )
    expect(page.locator(f"#{LiveID.STATUS}")).to_have_text(re.compile(r"^数据中断 12\d 秒$"))
    r.xadd(keys.INCIDENTS, incident("ST-2"))
    expect(page.locator(f"#{LiveID.STATUS}")).to_have_class("live-pill live")


def test_live_ui007_patrol_units_move_with_heading_and_status(
    live_server: LiveServer, page: Page, r: redis.Redis
) -> None:
    open_live(page, live_server)
    r.xadd(keys.UNITS, {"unit_id": "PU-100", "observed_at": stamp(ago=timedelta(seconds=5)), "lon": "112.43",
                        "lat": "39.33", "status": "available", "heading": "90"})
    unit_js = ("() => { const u = window.pingan.live.state.units.get('PU-100');"
               " return u && u.marker ? [u.marker.dot.getLatLng().lng, u.marker.dot.options.fillColor] : null; }")
    page.wait_for_function(f"() => ({unit_js})() !== null")
    assert page.evaluate(unit_js) == [112.43, "#00e676"]
    r.xadd(keys.UNITS, {"unit_id": "PU-100", "observed_at": stamp(), "lon": "112.44",
                        "lat": "39.33", "status": "busy", "heading": "90"})
    page.wait_for_function(f"() => ({unit_js})()[0] === 112.44")
    assert page.evaluate(unit_js) == [112.44, "#ffab00"]
