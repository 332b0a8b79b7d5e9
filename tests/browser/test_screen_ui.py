"""The command hall's big screen at 1920x1080 and 3840x2160: unattended, readable, honest about staleness."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import replace
from datetime import timedelta

import pytest
import redis
from playwright.sync_api import Page, expect

import clock
from bus import keys
from indicators.compute import DISTRICT
from layouts.ids import ScreenID
from settings import PROJECT_ROOT, Settings
from store.db import incidents, instructions
from testkit.browser import GRIDS_DRAWN_PROBE
from testkit.entries import incident
from testkit.servers import LiveServer, start_live_server
from urls import URL

SCREENSHOTS = PROJECT_ROOT / "tests" / "artifacts"  # kept by CI, looked at by people
TILES_READY = f"() => document.querySelectorAll('#{ScreenID.TILES} .ind-tile').length >= 10"


def open_screen(page: Page, server: LiveServer, width: int, height: int) -> None:
    """Open the wall the way a command hall does: the kiosk link, no person signing in."""
    _, token = server.app.security.users.issue_kiosk_token("hall wall", "test")
    page.set_viewport_size({"width": width, "height": height})
    page.add_init_script(GRIDS_DRAWN_PROBE)
    page.goto(f"{server.url}/kiosk/{token}")
    page.wait_for_url(f"{server.url}{URL.SCREEN}")
    page.wait_for_function("() => window.__gridsDrawnAt !== null")


@pytest.mark.parametrize(("width", "height"), [(1920, 1080), (3840, 2160)])
def test_screen_ui001_renders_at_wall_resolutions_without_errors(
    live_server: LiveServer, page: Page, console_errors: list[str], width: int, height: int
) -> None:
    live_server.app.indicators.publish()
    open_screen(page, live_server, width, height)
    expect(page.locator(f"#{ScreenID.FEED}")).to_have_class("screen-feed live")
    page.wait_for_function(TILES_READY)
    page.wait_for_function(f"() => document.querySelectorAll('#{ScreenID.GAUGES} .indicatorlayer .trace').length === 6")
    page.wait_for_function(f"() => document.querySelector('#{ScreenID.CLOCK}').textContent.length > 10")
    # One screen, nothing to scroll, the district filling the map.
    layout = page.evaluate("""() => ({
        scrollW: document.documentElement.scrollWidth, scrollH: document.documentElement.scrollHeight,
        smallest: Math.min(...Array.from(document.querySelectorAll('.screen .ind-tile-label, .screen-ticker-label,'
          + ' .overdue-none, .screen-subtitle')).map(n => parseFloat(getComputedStyle(n).fontSize))),
        tile: parseFloat(getComputedStyle(document.querySelector('.screen .ind-tile-value')).fontSize),
    })""")
    assert (layout["scrollW"], layout["scrollH"]) == (width, height)
    # Readable from 10 m: the smallest text is 1/60 of the height (18 px at 1080 lines), numbers 2.4 times that.
    assert layout["smallest"] >= height / 60 - 0.5
    assert layout["tile"] >= 2.4 * height / 60 - 0.5
    incidents_tile = page.locator(f"#{ScreenID.TILES} .ind-tile").first
    expect(incidents_tile.locator(".ind-tile-value")).to_have_text(
        str(live_server.app.indicators.today()["scopes"][DISTRICT]["incidents"]["count"]))
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"screen-{width}x{height}.png"))
    assert console_errors == []


def test_screen_ui002_newest_urgent_event_and_overdue_items_stand_out(
    live_server: LiveServer, page: Page, r: redis.Redis, console_errors: list[str]
) -> None:
    app = live_server.app
    now = clock.now()
    with app.engine.begin() as conn:  # an instruction whose unit should have arrived ten minutes ago
        conn.execute(incidents.insert(), [{
            "event_id": "LATE-1", "stream_id": "1-0", "reported_at": now - timedelta(minutes=16), "ingested_at": now,
            "lon": 112.43, "lat": 39.33, "grid": "SC-001", "category": "fight", "priority": 2,
            "address": "鄯阳街1号", "description": "", "caller": None, "source": "110", "status": "dispatched"}])
        conn.execute(instructions.insert(), [{
            "instruction_id": "INS-LATE", "idempotency_key": "late", "incident_id": "LATE-1", "unit_id": "PU-07",
            "state": "en_route", "text": "", "officer": "test", "zone": "urban",
            "issued_at": now - timedelta(minutes=15), "arrival_due": now - timedelta(minutes=10)}])
    app.indicators.publish()  # rows written behind the streams' back: recompute now, not in 30 s
    # An urgent call of three hours ago is history, not news: no banner for it.
    r.xadd(keys.INCIDENTS, incident("URGENT-OLD", category="fight", priority="1", ago=timedelta(hours=3)))
    open_screen(page, live_server, 1920, 1080)
    expect(page.locator(f"#{ScreenID.TICKER} li")).not_to_have_count(0)  # it arrived, in the ticker
    expect(page.locator(f"#{ScreenID.NEWEST}")).to_be_hidden()
    late = page.locator(f"#{ScreenID.OVERDUE} li.overdue-item.instruction")
    expect(late).to_have_count(1)
    expect(late).to_contain_text("PU-07")
    expect(late.locator(".overdue-late")).to_have_text(re.compile(r"^\+10:\d\d$"))
    r.xadd(keys.INCIDENTS, incident("URGENT-1", category="fire", priority="1", address="<b>朔州大道9号</b>"))
    newest = page.locator(f"#{ScreenID.NEWEST}")
    expect(newest).to_be_visible()
    expect(newest).to_have_class(re.compile(r"\bfresh\b"))
    expect(newest).to_contain_text("<b>朔州大道9号</b>")  # outside text shown as text, never as HTML
    expect(page.locator(f"#{ScreenID.TICKER} li").first).to_contain_text("朔州大道9号")
    assert page.locator(f"#{ScreenID.NEWEST} b").count() == 0
    page.screenshot(path=str(SCREENSHOTS / "screen-urgent-and-overdue.png"))
    # Dash's undo history (plotly/dash#727) would keep every pushed batch for as long as the wall runs.
    page.wait_for_function("() => window.dash_stores.every(s => s.getState().history.past.length <= 5)")
    assert console_errors == []


@pytest.fixture
def quick_stale_server(settings: Settings) -> Iterator[LiveServer]:
    server = start_live_server(replace(settings, stale_after_s=2.0))
    yield server
    server.stop()


def test_screen_ui003_a_silent_feed_shows_as_stale_and_recovers(
    quick_stale_server: LiveServer, page: Page, r: redis.Redis
) -> None:
    open_screen(page, quick_stale_server, 1920, 1080)
    expect(page.locator(f"#{ScreenID.FEED}")).to_have_class("screen-feed live")
    # Nothing arrives for longer than STALE_AFTER_S: the wall says so, in red, over the whole frame.
    expect(page.locator(f"#{ScreenID.FEED}")).to_have_class("screen-feed stale", timeout=15_000)
    expect(page.locator(f"#{ScreenID.ROOT}")).to_have_class(re.compile(r"\bstale\b"))
    r.xadd(keys.INCIDENTS, incident("FRESH-2"))
    expect(page.locator(f"#{ScreenID.FEED}")).to_have_class("screen-feed live")
    expect(page.locator(f"#{ScreenID.ROOT}")).not_to_have_class(re.compile(r"\bstale\b"))
