"""Risk at the desk: the heatmap colours by grade, a lead appears with its deadline and is handled."""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import timedelta

import redis
from playwright.sync_api import Page, expect
from sqlalchemy import select

import clock
from bus import keys
from layouts.ids import RiskID
from settings import Settings
from store.db import incidents, leads
from testkit.entries import incident
from testkit.servers import LiveServer, start_live_server
from testkit.waiting import wait_until
from tests.browser.test_live import open_live
from tests.browser.test_map import grid_centre

SEAT_GRID = "SC-048"
FILL = "(code) => document.querySelector('path.grid-' + code).getAttribute('fill')"


def test_risk_ui001_heatmap_colours_by_grade_and_a_lead_is_handled(live_server: LiveServer, page: Page) -> None:
    app = live_server.app
    now = clock.now()
    # The fights happen away from the grid's middle, so a click there selects the grid, not a marker.
    cell = app.grids.frame.loc[SEAT_GRID].geometry
    (cx, cy), (vx, vy) = (cell.centroid.x, cell.centroid.y), cell.exterior.coords[0]
    spot = (cx + 0.7 * (vx - cx), cy + 0.7 * (vy - cy))
    with app.engine.begin() as conn:  # three fights in the last hours: a high-risk grid and lead
        conn.execute(incidents.insert(), [{
            "event_id": f"FIGHT-{n}", "stream_id": "1-0", "reported_at": now - timedelta(hours=n + 1),
            "ingested_at": now, "lon": spot[0], "lat": spot[1], "grid": SEAT_GRID, "category": "fight",
            "priority": 1, "address": f"鄯阳街{n}号", "description": "", "caller": None, "source": "110",
            "status": "closed"} for n in range(3)])
    open_live(page, live_server)
    assert page.evaluate(FILL, SEAT_GRID) != "#ff5252"
    page.click(f"#{RiskID.RUN}")  # the on-demand run, as the officer starts it
    expect(page.locator(f"#{RiskID.MESSAGE}")).to_contain_text("研判完成")
    page.wait_for_function(f"() => ({FILL})('{SEAT_GRID}') === '#ff5252'")
    row = page.locator(f"#{RiskID.LIST} li[data-lead-id]").filter(has_text="打架斗殴多发")
    expect(row).to_have_count(1)
    expect(row.locator(".lead-target")).to_contain_text("派出所")
    expect(row.locator(".lead-target")).to_contain_text("证据 3 条")
    expect(row.locator(".lead-clock")).to_have_text(re.compile(r"^(59|1:00):\d\d$"))  # within 1 hour
    # Another window: the same hideout, this window's grades.
    page.locator(f"#{RiskID.WINDOW} label", has_text="30d").click()
    page.wait_for_function(f"() => ({FILL})('{SEAT_GRID}') === '#ff5252'")
    # Why the grid is graded so: click it.
    page.evaluate(f"() => window.pingan.map.leaflet.setView([{cy}, {cx}], 16, {{animate: false}})")
    page.mouse.click(*grid_centre(page, SEAT_GRID))  # through the incidents' canvas, onto the grid
    expect(page.locator("[data-field='grid.code']")).to_have_text(SEAT_GRID)
    expect(page.locator("[data-field='risk.grade']")).to_contain_text("高风险")
    expect(page.locator(".risk-factors li").first).to_contain_text("打架斗殴")
    row.locator(".lead-result").fill("已走访涉事双方并调解")
    row.locator(".lead-useful").click()
    expect(row).to_have_count(0)
    with app.engine.connect() as conn:
        done = conn.execute(select(leads).where(leads.c.rule == "fight_escalation")).mappings().one()
    assert (done["state"], done["useful"], done["result"]) == ("handled", True, "已走访涉事双方并调解")


def test_risk_ui002_an_english_page_shows_leads_in_english(settings: Settings, page: Page, r: redis.Redis) -> None:
    """Leads keep their facts, not their words: a page in English reads them in English, a report too."""
    server = start_live_server(replace(settings, language="en"))
    try:
        app = server.app
        # Written while the installation spoke Chinese (its summary kept for outside readers) ...
        app.risk.leads.language = "zh-CN"
        for n in (1, 2):
            r.xadd(keys.INCIDENTS, incident(f"FAM-{n}", category="family_dispute", caller="13811112222",
                                            ago=timedelta(hours=3 - n)))
        wait_until(lambda: app.risk.leads.open_leads(), what="the instant warning")
        with app.engine.connect() as conn:
            kept = conn.execute(select(leads.c.summary, leads.c.facts)).mappings().one()
        assert re.search(r"[\u4e00-\u9fff]", kept["summary"]) and kept["facts"]
        # ... and read on an English page.
        app.risk.leads.language = "en"
        open_live(page, server)
        row = page.locator(f"#{RiskID.LIST} li[data-lead-id]")
        expect(row).to_have_count(1)
        shown = row.inner_text()
        assert "family" in shown.lower() and not re.search(r"[\u4e00-\u9fff]", shown), shown
    finally:
        server.stop()
