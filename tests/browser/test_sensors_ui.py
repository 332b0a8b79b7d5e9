"""Sensor alerts at the duty officer's desk: pop-up, verification, dispatch; bursts; device health; maintenance."""

from __future__ import annotations

import re
from datetime import timedelta

import redis
from playwright.sync_api import Page, expect

import clock
from bus import keys
from layouts.ids import ID, AlertID, DispatchID
from routes.sensors import rate_text
from sensors.health import health_map, summary
from settings import PROJECT_ROOT
from store.db import sensor_events
from testkit.accounts import make_user, sign_in_page
from testkit.servers import LiveServer
from testkit.waiting import wait_until
from tests.browser.test_live import FIGURES_RECOMPUTED_MS, open_live
from tests.browser.test_map import grid_centre

CAMERA = "BHV-001"
SCREENSHOTS = PROJECT_ROOT / "tests" / "artifacts"  # kept by CI, looked at by people
FAULTY = ("SMK-01-1-03", "DR-01-1-1", "SMK-02-2-04", "THR-03-1")


def alert(event_id: str, device_id: str = "SMK-01-1-03", scenario: str = "smoke", **extra: str) -> dict[str, str]:
    fields = {"event_id": event_id, "device_id": device_id, "kind": "alert", "scenario": scenario,
              "observed_at": clock.now().isoformat()}
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
    # The grid worker and the property manager heard of it as it popped up, before any verdict; the card says so.
    expect(card.locator(".alert-told")).to_have_text("已短信通知网格员、物业，核实结果将随后告知")
    card.screenshot(path=str(SCREENSHOTS / "sensor-alert-told.png"))
    wait_until(lambda: r.xlen(keys.OUT_NOTIFY) >= 2, what="the messages sent at once")
    assert [m["recipient_role"] for _, m in r.xrange(keys.OUT_NOTIFY)] == ["grid_worker", "property_manager"]
    card.locator(".alert-dispatch").click()
    # Confirmed: it becomes an incident and the dispatch panel opens on it at once.
    expect(page.locator(f"#{DispatchID.BODY} .incident-id")).to_have_text("ALR-POP-1")
    expect(page.locator(f"#{AlertID.MESSAGE}")).to_contain_text("已确认")
    expect(card).to_have_count(0)
    follow_up = [m for _, m in r.xrange(keys.OUT_NOTIFY)][2:]  # the verdict, to the same two people
    assert [m["recipient_role"] for m in follow_up] == ["grid_worker", "property_manager"]
    assert "已派警" in follow_up[0]["text"]
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
    expect(page.locator(f"#{AlertID.COUNT}")).to_have_text("待核实 200 条 · 另有 196 条排队",
                                                          timeout=FIGURES_RECOMPUTED_MS)
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
    silent_since = clock.now() - timedelta(seconds=3 * device.heartbeat_s + 60)
    r.xadd(keys.SENSORS, {"event_id": "HB-OLD", "device_id": CAMERA, "kind": "heartbeat",
                          "observed_at": silent_since.isoformat()})
    page.wait_for_function(f"() => window.pingan.alerts.state.health['{CAMERA}'] === 'offline'", timeout=30_000)
    page.get_by_role("checkbox", name="感知设备").check()  # the device layer is off until wanted
    page.evaluate(f"() => window.pingan.map.leaflet.setView([{device.lat}, {device.lon}], 18)")
    expect(page.locator(f"#{ID.MAP} path.device-offline")).to_have_count(1)


def test_sensor_ui004_maintenance_page_groups_filters_and_agrees_with_the_wall(
    live_server: LiveServer, page: Page, r: redis.Redis, console_errors: list[str]
) -> None:
    app = live_server.app
    devices = app.devices.devices
    now = clock.now()
    # The watch began four minutes ago: the 60 s devices never heard from are offline by now, doors and
    # smoke sensors still await their first report. Most site cameras report; three fell silent long ago.
    r.set(keys.DEVICE_WATCH, now.timestamp() - 240)
    sites = sorted(d.device_id for d in devices.values() if d.compound is None)
    r.hset(keys.DEVICE_SEEN, mapping=dict.fromkeys(sites[3:], now.timestamp())
           | dict.fromkeys(sites[:3], now.timestamp() - 3600))
    with app.engine.begin() as conn:
        for n, device_id in enumerate(FAULTY):
            at = now - timedelta(hours=3 * n)
            conn.execute(sensor_events.insert().values(
                event_id=f"FLT-{n}", stream_id="1-0", device_id=device_id, observed_at=at, ingested_at=at,
                kind="fault", grid=devices[device_id].grid))
    # The monitor (every 5 s) brings the wall's hash to the same states.
    wall = wait_until(lambda: (figures := summary(health_map(r), devices)) == app.health.maintenance().summary
                      and figures, timeout=30, what="the health monitor's next check")
    page.set_viewport_size({"width": 1600, "height": 1200})
    sign_in_page(page, live_server.url, make_user(app, "duty_officer"), then="/sensors")
    for name in ("total", "online", "awaiting", "offline", "faulty"):
        expect(page.locator(f"[data-figure='{name}']")).to_have_text(str(wall[name]))
    expect(page.locator("[data-figure='rate']")).to_have_text(rate_text(wall["rate"]))
    assert wall["awaiting"] > 0 and wall["rate"] == wall["online"] / (wall["total"] - wall["awaiting"])
    # Collapsed groups with their counts; no device awaiting its first report is listed for repair.
    cp01 = page.locator("details[data-group='compound:CP-01']")
    expect(cp01.locator("[data-count='faulty']")).to_have_text(re.compile(r"\b2$"))
    expect(cp01.locator("tr[data-device]").first).to_be_hidden()
    expect(page.locator("tr[data-health='awaiting']")).to_have_count(0)
    expect(page.locator("#sensors-down tr[data-device]")).to_have_count(wall["offline"] + wall["faulty"])
    cp01.locator("summary").click()
    page.locator("details.device-group summary").nth(1).click()
    expect(cp01.locator("tr[data-device='SMK-01-1-03'] .health-tag")).to_have_text("故障")
    page.screenshot(path=str(SCREENSHOTS / "sensors-maintenance.png"))
    # The filter form (a plain GET): only the faulty devices, their groups opened.
    page.select_option("select[name='health']", "faulty")
    page.click("#sensors-filters button[type='submit']")
    page.wait_for_url(re.compile(r"health=faulty"))
    expect(page.locator("#sensors-down tr[data-device]")).to_have_count(len(FAULTY))
    expect(page.locator("#sensors-down tr[data-health='faulty']")).to_have_count(len(FAULTY))
    expect(page.locator("details.device-group:not([open])")).to_have_count(0)
    assert console_errors == []  # no CSP violation: the page needs no script
