"""Sensor alerts at the duty officer's desk: pop-up, verification, dispatch; bursts; device health."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import redis
from playwright.sync_api import Page, expect

from layouts.ids import ID, AlertID, DispatchID
from streams import keys
from tests.browser.test_live import open_live
from tests.browser.test_map import grid_centre
from tests.conftest import LiveServer

CAMERA = "BHV-001"


def alert(event_id: str, device_id: str = "SMK-01-1-03", scenario: str = "smoke", **extra: str) -> dict[str, str]:
    fields = {"event_id": event_id, "device_id": device_id, "kind": "alert", "scenario": scenario,
              "observed_at": datetime.now(UTC).isoformat()}
    fields.update(extra)
    return fields


def test_sensor_ui001_alert_pops_up_is_verified_and_opens_the_dispatch_panel(
    live_server: LiveServer, page: Page, r: redis.Redis, console_errors: list[str]
) -> None:
    open_live(page, live_server)
    r.xadd(keys.SENSORS, alert("POP-1", value="0.35"))
    card = page.locator(f"#{AlertID.LIST} [data-event-id='POP-1']")
    expect(card.locator(".alert-scenario")).to_have_text("烟雾超标")
    expect(card.locator(".alert-place")).to_contain_text("CP-01 1号楼3层")
    expect(card.locator(".alert-device")).to_contain_text("SMK-01-1-03 · 0.35")
    expect(card.locator(".alert-clock")).to_have_text(re.compile(r"^[1-6]?\ds$"))  # the one-minute clock counts down
    card.locator(".alert-dispatch").click()
    # Confirmed: it becomes an incident and the dispatch panel opens on it at once.
    expect(page.locator(f"#{DispatchID.BODY} .incident-id")).to_have_text("ALR-POP-1")
    expect(page.locator(f"#{AlertID.MESSAGE}")).to_contain_text("已确认")
    expect(card).to_have_count(0)
    assert len(r.xrange(keys.OUT_NOTIFY)) == 2  # the grid worker and the property manager
    assert console_errors == []


def test_sensor_ui002_a_burst_of_200_alerts_is_queued_whole_and_the_page_stays_usable(
    live_server: LiveServer, page: Page, r: redis.Redis
) -> None:
    open_live(page, live_server)
    pipe = r.pipeline(transaction=False)
    for n in range(200):
        pipe.xadd(keys.SENSORS, alert(f"BURST-{n}", device_id=CAMERA, scenario="crowd_gathering"))
    pipe.execute()  # 200 alerts inside one second
    page.wait_for_function("() => window.pingan.alerts.state.open.size === 200")
    expect(page.locator(f"#{AlertID.COUNT}")).to_have_text("待核实 200 条 · 另有 196 条排队")
    expect(page.locator(f"#{AlertID.LIST} .alert-card")).to_have_count(4)
    # The page still answers the officer: a grid click opens its details.
    page.mouse.click(*grid_centre(page, "SC-500"))
    expect(page.locator("[data-field='grid.code']")).to_have_text("SC-500")
    # Dismissing the top card brings the next one up; nothing is lost on the way.
    first = page.locator(f"#{AlertID.LIST} .alert-card").first
    first_id = first.get_attribute("data-event-id")
    first.locator(".alert-dismiss").click()
    page.wait_for_function("() => window.pingan.alerts.state.open.size === 199")
    expect(page.locator(f"#{AlertID.LIST} [data-event-id='{first_id}']")).to_have_count(0)
    expect(page.locator(f"#{AlertID.LIST} .alert-card")).to_have_count(4)


def test_sensor_ui003_a_silent_device_turns_offline_on_the_map(
    live_server: LiveServer, page: Page, r: redis.Redis
) -> None:
    device = live_server.app.devices.get(CAMERA)
    assert device is not None
    open_live(page, live_server)
    silent_since = datetime.now(UTC) - timedelta(seconds=3 * device.heartbeat_s + 60)
    r.xadd(keys.SENSORS, {"event_id": "HB-OLD", "device_id": CAMERA, "kind": "heartbeat",
                          "observed_at": silent_since.isoformat()})
    page.wait_for_function(f"() => window.pingan.alerts.state.health['{CAMERA}'] === 'offline'", timeout=30_000)
    page.get_by_role("checkbox", name="感知设备").check()  # the device layer is off until wanted
    page.evaluate(f"() => window.pingan.map.leaflet.setView([{device.lat}, {device.lon}], 18)")
    expect(page.locator(f"#{ID.MAP} path.device-offline")).to_have_count(1)
