"""Live incidents in a real browser: shown once, shown as text, none lost."""

from __future__ import annotations

import time

import redis
from playwright.sync_api import Page, expect

from layouts.ids import LiveID
from streams import keys
from tests.browser.test_map import open_map
from tests.conftest import LiveServer
from tests.helpers import incident

MARKER_IDS = "() => [...document.querySelectorAll('.incident-marker [data-event-id]')].map(e => e.dataset.eventId)"


def open_live(page: Page, url: str) -> None:
    open_map(page, url)
    expect(page.locator(f"#{LiveID.STATUS}")).to_have_class("live-pill live")


def test_live_ui001_incident_written_to_redis_appears_on_map_and_feed(
    live_server: LiveServer, page: Page, r: redis.Redis
) -> None:
    open_live(page, live_server.url)
    r.xadd(keys.INCIDENTS, incident("UI-1", category="fight", priority="1", address="朔城区鄯阳街8号"))
    marker = page.locator(".incident-marker [data-event-id='UI-1']")
    expect(marker).to_have_count(1)
    item = page.locator(f"#{LiveID.FEED} [data-event-id='UI-1']")
    expect(item).to_contain_text("打架斗殴")
    expect(item).to_contain_text("朔城区鄯阳街8号")
    expect(page.locator(f"#{LiveID.FEED_COUNT}")).to_have_text("今日 1 起")


def test_live_ui002_hostile_text_is_shown_as_text(live_server: LiveServer, page: Page, r: redis.Redis) -> None:
    open_live(page, live_server.url)
    address = "<script>window.__xss = 1</script>"
    description = '<img src=x onerror="window.__xss = 2">'
    r.xadd(keys.INCIDENTS, incident("XSS-1", address=address[:200], description=description))
    item = page.locator(f"#{LiveID.FEED} [data-event-id='XSS-1']")
    expect(item).to_contain_text(address)
    page.locator(".incident-marker [data-event-id='XSS-1']").hover()
    expect(page.locator(".leaflet-tooltip")).to_contain_text(description)
    assert page.evaluate("() => window.__xss") is None
    assert page.locator(f"#{LiveID.FEED} script, #{LiveID.FEED} img, .leaflet-tooltip img").count() == 0


def test_live_ui003_every_event_sent_is_shown_once(live_server: LiveServer, page: Page, r: redis.Redis) -> None:
    open_live(page, live_server.url)
    sent = [f"B-{n}" for n in range(400)]
    pipe = r.pipeline(transaction=False)
    for event_id in sent[:250]:  # a burst
        pipe.xadd(keys.INCIDENTS, incident(event_id))
    pipe.execute()
    for event_id in sent[250:]:  # then a steady ~200 events/s
        r.xadd(keys.INCIDENTS, incident(event_id))
        time.sleep(0.005)  # pacing the producer, not waiting for the result
    page.wait_for_function(f"() => window.pingan.live.state.shown >= {len(sent)}")
    shown = page.evaluate(MARKER_IDS)
    assert sorted(shown) == sorted(sent)
    assert page.evaluate("() => window.pingan.live.state.shown") == len(sent)
