"""The chiefs' indicators over the map: pushed figures, a station's drill-down, each role's scope."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import replace
from datetime import timedelta

import pytest
import redis
from playwright.sync_api import Browser, Page, expect

import clock
from app import PinganApp
from bus import keys
from indicators.compute import DISTRICT
from layouts.ids import IndicatorID, ScreenID
from reports.build import Kind
from settings import Settings
from store.db import incidents
from testkit.entries import incident
from testkit.servers import LiveServer, start_live_server
from tests.browser.test_map import open_map

GAUGES_DRAWN = f"() => document.querySelectorAll('#{IndicatorID.GAUGES} .indicatorlayer .trace').length === 6"


def station_grids(app: PinganApp, station: str) -> list[str]:
    return sorted(str(c) for c in app.grids.codes if app.grids.get(str(c)).station == station)


def report_incidents(app: PinganApp, r: redis.Redis, grid: str, count: int, tag: str) -> None:
    inside = app.grids.frame.loc[grid].geometry.representative_point()  # a centroid may fall outside a cell
    lon, lat = inside.x, inside.y
    now = clock.now().isoformat()
    for n in range(count):
        r.xadd(keys.INCIDENTS, incident(f"{tag}-{n}", lon=f"{lon:.6f}", lat=f"{lat:.6f}", reported_at=now,
                                        address=f"测试路{n}号"))


def show_indicators(page: Page) -> None:
    page.click(f"#{IndicatorID.TOGGLE}")
    expect(page.locator(f"#{IndicatorID.VIEW}")).to_be_visible()
    page.wait_for_function(GAUGES_DRAWN)


def test_ind_ui001_chief_reads_the_district_and_drills_into_a_station(
    live_server: LiveServer, page: Page, r: redis.Redis, console_errors: list[str]
) -> None:
    app = live_server.app
    east, north = station_grids(app, "PS-01"), station_grids(app, "PS-02")
    report_incidents(app, r, east[3], 3, "EAST")
    report_incidents(app, r, north[0], 1, "NORTH")
    open_map(page, live_server, "chief")
    show_indicators(page)
    first_tile = page.locator(f"#{IndicatorID.TILES} .ind-tile").first
    expect(first_tile.locator(".ind-tile-value")).to_have_text("4", timeout=15_000)  # pushed, never asked for
    assert app.indicators.today()["scopes"][DISTRICT]["incidents"]["count"] == 4
    # The panel (not the wall) shows the return visits due in the period, as the desk and the reports count them.
    visits = app.indicators.today()["scopes"][DISTRICT]["revisits"]
    expect(page.locator(f"#{IndicatorID.TILES} [data-figure='revisits'] .ind-tile-detail")).to_have_text(
        f"到期 {visits['due']} · 逾期 {visits['overdue']} · 满意 – · 重新交办 –")
    rows = page.locator(f"#{IndicatorID.STATIONS} tbody tr")
    expect(rows).to_have_count(1 + len(app.grids.stations("en")))
    east_row = page.locator(f"#{IndicatorID.STATIONS} tr[data-scope='PS-01']")
    expect(east_row.locator("td").nth(1)).to_have_text("3")
    east_row.click()
    # The station's own figures, and its grids from the server, the busiest first.
    expect(first_tile.locator(".ind-tile-value")).to_have_text("3")
    grid_rows = page.locator(f"#{IndicatorID.GRIDS} tbody tr")
    expect(grid_rows).to_have_count(len(east))
    expect(grid_rows.first).to_have_attribute("data-grid", east[3])
    expect(grid_rows.first.locator("td").nth(1)).to_have_text("3")
    # A new incident moves the figures while the chief watches.
    report_incidents(app, r, east[5], 1, "LATER")
    expect(first_tile.locator(".ind-tile-value")).to_have_text("4", timeout=15_000)
    page.click(f"#{IndicatorID.TOGGLE}")
    expect(page.locator(f"#{IndicatorID.VIEW}")).to_be_hidden()
    assert console_errors == []


def test_ind_ui002_a_station_officer_sees_only_the_station(
    live_server: LiveServer, page: Page, r: redis.Redis, console_errors: list[str]
) -> None:
    app = live_server.app
    report_incidents(app, r, station_grids(app, "PS-01")[0], 2, "EAST")
    username = open_map(page, live_server, "station_officer")
    station = app.security.users.get(username)["station"]
    show_indicators(page)
    expect(page.locator(f"#{IndicatorID.STATIONS} tbody tr")).to_have_count(1)
    expect(page.locator(f"#{IndicatorID.STATIONS} tbody tr")).to_have_attribute("data-scope", station)
    expect(page.locator(f"#{IndicatorID.GRIDS} tbody tr")).to_have_count(len(station_grids(app, station)))
    assert console_errors == []


@pytest.fixture
def english_server(settings: Settings) -> Iterator[LiveServer]:
    server = start_live_server(replace(settings, language="en"))
    yield server
    server.stop()


def test_ind_ui003_in_english(english_server: LiveServer, page: Page, console_errors: list[str]) -> None:
    open_map(page, english_server, "chief")
    expect(page.locator(f"#{IndicatorID.TOGGLE}")).to_have_text("Indicators")
    show_indicators(page)
    expect(page.locator(f"#{IndicatorID.TOGGLE}")).to_have_text("Map")
    expect(page.locator(f"#{IndicatorID.TILES} .ind-tile-label").first).to_have_text("Incidents today")
    expect(page.locator(f"#{IndicatorID.ASOF}")).to_have_text(re.compile(r"^\d{4}-\d\d-\d\d · as of \d\d:\d\d:\d\d$"))
    expect(page.locator(f"#{IndicatorID.STATIONS} th").first).to_have_text("Station")
    assert page.locator(f"#{IndicatorID.GAUGES}").inner_text().count("Arrivals on time") == 1
    assert console_errors == []


@pytest.mark.time_machine("2026-11-24T10:00:00+08:00")  # mid-morning: 40 minutes ago is today
def test_ind_ui004_timeliness_on_the_panel_and_a_quiet_feed_on_the_wall(
    live_server: LiveServer, page: Page, browser: Browser
) -> None:
    app = live_server.app
    now = clock.now()
    with app.engine.begin() as conn:  # a 110 call kept 3 minutes after it was made, 40 minutes ago; then nothing
        conn.execute(incidents.insert().values(
            event_id="LATE-110", stream_id="1-0", reported_at=now - timedelta(minutes=43),
            ingested_at=now - timedelta(minutes=40), lon=112.43, lat=39.33, grid="SC-021", category="theft",
            priority=2, address="测试路1号", description="x", caller="13800000000", source="110", status="new"))
    app.indicators.publish()
    open_map(page, live_server, "chief")
    show_indicators(page)
    tile = page.locator(f"#{IndicatorID.TILES} [data-figure='timeliness']")
    expect(tile.locator(".ind-tile-value")).to_have_text("0%")
    expect(tile.locator(".ind-tile-detail")).to_contain_text("110 3.0")
    expect(tile.locator(".ind-tile-detail")).to_contain_text("超时入库 1 条")
    expect(tile.locator(".ind-tile-detail")).to_contain_text("110 已 40 分钟无数据")
    expect(tile).to_have_class(re.compile(r"\bbad\b"))
    # The wall lists the quiet feed among what is overdue.
    wall = browser.new_context(viewport={"width": 1920, "height": 1080})
    try:
        screen = wall.new_page()
        _, token = app.security.users.issue_kiosk_token("hall wall", "test")
        screen.goto(f"{live_server.url}/kiosk/{token}")
        expect(screen.locator(f"#{ScreenID.OVERDUE}")).to_contain_text("110 数据中断 40 分钟", timeout=15_000)
    finally:
        wall.close()


def test_ind_ui005_a_chief_hears_of_a_report_delivered_on_schedule(live_server: LiveServer, page: Page) -> None:
    app = live_server.app
    open_map(page, live_server, "chief")
    expect(page.locator("#live-status")).to_have_class("live-pill live")
    key = clock.last_daily_cut().isoformat()
    app.services.reports.deliver(Kind.DAILY, key)  # what the schedule does at 17:00
    notice = page.locator(".report-notice")
    expect(notice).to_contain_text(f"每日任务完成报表（{key}）")
    expect(notice.locator("a")).to_have_attribute("href", f"/reports/daily/{key}")
