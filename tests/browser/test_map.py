"""The command map in a real browser: grids drawn, hover tooltip, click details, offline tiles."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from i18n import text
from layouts.ids import ID
from testkit.accounts import make_user, sign_in_page
from testkit.browser import GRIDS_DRAWN_PROBE
from testkit.servers import LiveServer, start_live_server

GRID_COUNT = 863


def open_map(page: Page, server: LiveServer, role: str = "duty_officer") -> str:
    """Sign a new ``role`` account in through the form and wait for the grids; returns the username."""
    username = make_user(server.app, role)
    page.add_init_script(GRIDS_DRAWN_PROBE)
    sign_in_page(page, server.url, username)
    page.wait_for_function("() => window.__gridsDrawnAt !== null")
    return username


def grid_centre(page: Page, code: str) -> tuple[float, float]:
    """Screen position of a point inside the grid, from Leaflet's own layer."""
    box = page.evaluate(
        """(code) => {
            const r = document.querySelector('path.grid-' + code).getBoundingClientRect();
            return [r.x + r.width / 2, r.y + r.height / 2];
        }""",
        code,
    )
    return box[0], box[1]


def test_map001_all_grids_drawn(live_server: LiveServer, page: Page, console_errors: list[str]) -> None:
    open_map(page, live_server)
    assert page.locator("path.grid-cell").count() == GRID_COUNT
    assert page.locator("path.station-outline").count() == 12
    assert console_errors == []


def test_map002_hover_shows_tooltip(live_server: LiveServer, page: Page) -> None:
    open_map(page, live_server)
    grid = live_server.app.grids.get("SC-006")
    assert grid is not None
    x, y = grid_centre(page, "SC-006")
    page.mouse.move(x, y)
    # New risk grades restyle the layer while the pointer rests: a second tooltip may open for a moment.
    tooltip = page.locator(".grid-tooltip", has_text="SC-006").last
    expect(tooltip).to_contain_text("SC-006")
    for expected in (grid.name_zh, grid.station_zh, grid.officer_zh, grid.worker_zh):
        expect(tooltip).to_contain_text(expected)


def test_map003_click_opens_details(live_server: LiveServer, page: Page) -> None:
    open_map(page, live_server)
    grid = live_server.app.grids.get("SC-500")
    assert grid is not None
    page.mouse.click(*grid_centre(page, "SC-500"))
    body = page.locator(f"#{ID.DETAILS_BODY}")
    expect(body.locator("[data-field='grid.code']")).to_have_text("SC-500")
    expect(body.locator("[data-field='grid.worker']")).to_have_text(grid.worker_zh)
    expect(body.locator("[data-field='grid.zone']")).to_have_text(text(f"zone.{grid.zone}"))
    # The selected grid is outlined on the map through hideout, without reloading geometry.
    page.mouse.move(5, 1070)  # leave the grid, so its hover style is gone
    selected_js = "[...document.querySelectorAll('path.grid-cell')].filter(p => p.getAttribute('stroke') === '#ffd54f')"
    page.wait_for_function(f"() => {selected_js}.length > 0")
    assert page.evaluate(f"() => {selected_js}.map(p => p.classList[1])") == ["grid-SC-500"]
    page.click(f"#{ID.DETAILS_CLOSE}")
    expect(body).to_have_text(text("panel.details.empty"))


def test_map004_unreachable_tiles_leave_map_usable(
    page: Page, settings, tmp_path: Path, console_errors: list[str]
) -> None:
    # Port 9 (discard) on loopback refuses connections: a tile server that is down.
    offline = replace(settings, tile_url="http://127.0.0.1:9/{z}/{x}/{y}.png")
    server = start_live_server(offline)
    try:
        open_map(page, server)
        page.wait_for_function(
            "() => document.querySelectorAll('img.leaflet-tile').length > 0 && "
            "[...document.querySelectorAll('img.leaflet-tile')].every(i => i.complete)"
        )
        visible_tiles = page.evaluate(
            "() => [...document.querySelectorAll('img.leaflet-tile')]"
            ".filter(i => getComputedStyle(i).visibility !== 'hidden' && i.naturalWidth === 0).length"
        )
        assert visible_tiles == 0
        assert page.locator("path.grid-cell").count() == GRID_COUNT
    finally:
        server.stop()
    # Only the refused tile requests may be logged.
    assert all("ERR_CONNECTION_REFUSED" in e or "Failed to load resource" in e for e in console_errors)


def test_map005_labels_appear_at_street_zoom(live_server: LiveServer, page: Page) -> None:
    open_map(page, live_server)
    assert page.locator(".grid-label").count() == 0
    page.evaluate("() => window.pingan.map.leaflet.setView([39.331, 112.432], 15)")
    seat_grid = live_server.app.grids.locate_codes([112.432], [39.331])[0]
    expect(page.locator(".show-labels .grid-label span", has_text=seat_grid)).to_be_visible()
    assert page.locator(".grid-label").count() == GRID_COUNT
    page.evaluate("() => window.pingan.map.leaflet.setZoom(11)")
    expect(page.locator(".grid-label span", has_text=seat_grid)).to_be_hidden()


@pytest.mark.parametrize("language", ["en"])
def test_map006_english_interface(page: Page, tmp_path: Path, settings, language: str) -> None:
    english = replace(settings, language=language)
    server = start_live_server(english)
    try:
        open_map(page, server)
        expect(page.locator("h1")).to_have_text(text("app.title", language))
        grid = server.app.grids.get("SC-100")
        assert grid is not None
        page.mouse.click(*grid_centre(page, "SC-100"))
        expect(page.locator("[data-field='grid.station']")).to_have_text(grid.station_en)
    finally:
        server.stop()
