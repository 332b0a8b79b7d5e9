"""Supervision in Chromium, as a station chief uses it: the hall's board shows their station's escalations and
grows live as items go late; the list at /supervision takes a response, and the answered escalation leaves
the board without a reload."""

from __future__ import annotations

from datetime import timedelta

from playwright.sync_api import Page, expect

import clock
from app import PinganApp
from auth.roles import Role
from layouts.ids import SupervisionID
from risk.rules import Finding
from settings import PROJECT_ROOT
from testkit.accounts import make_user, sign_in_page
from testkit.servers import LiveServer

SCREENSHOTS = PROJECT_ROOT / "tests" / "artifacts"
PS01_GRID, PS02_GRID = "SC-001", "SC-088"


def late_lead(app: PinganApp, grid: str, key: str, hours_ago: float) -> None:
    """A high lead made ``hours_ago`` (its hour's deadline long gone), then the scan that escalates it."""
    with app.engine.begin() as conn:
        app.risk.leads.create_in(conn, [Finding("dispute_cluster", grid, "high", key, (), {"days": 7, "count": 5})],
                                 clock.now() - timedelta(hours=hours_ago))
    app.supervision.scan()


def test_supervision_ui001_a_station_chief_sees_escalations_arrive_and_answers_one(
    live_server: LiveServer, page: Page, console_errors: list[str]
) -> None:
    app = live_server.app
    late_lead(app, PS01_GRID, "ui-1", hours_ago=6)  # to the station chief and the district
    chief = make_user(app, Role.STATION_CHIEF, station="PS-01")
    sign_in_page(page, live_server.url, chief)
    board = page.locator(f"#{SupervisionID.LIST} li.escalation")
    expect(board).to_have_count(2)
    expect(board.first.locator(".escalation-level")).to_have_text("区局督办")  # the district's first
    expect(board.first.locator(".escalation-what")).to_have_text("高风险线索超期未处置（矛盾纠纷聚集）")

    late_lead(app, PS01_GRID, "ui-2", hours_ago=2.5)  # pushed while the page is open
    late_lead(app, PS02_GRID, "ui-3", hours_ago=6)  # another station's: not on this board
    expect(board).to_have_count(3)
    expect(page.locator(f"#{SupervisionID.COUNT}")).to_have_text("3")
    expect(page.locator("#leads-list li[data-lead-id]")).to_have_count(2)
    page.screenshot(path=str(SCREENSHOTS / "supervision-board.png"))

    desk = page.context.new_page()
    desk.goto(f"{live_server.url}/supervision")
    rows = desk.locator("#supervision-list tbody tr[data-escalation-id]")
    expect(rows).to_have_count(3)
    first = rows.first
    answered_id = first.get_attribute("data-escalation-id")
    first.locator("textarea").fill("夜班警力不足，已调整排班")
    first.locator("button[type='submit']").click()
    expect(rows).to_have_count(2)
    desk.screenshot(path=str(SCREENSHOTS / "supervision-list.png"), full_page=True)
    expect(board).to_have_count(2)  # gone from the hall's board, pushed
    expect(page.locator(f"#{SupervisionID.LIST} [data-escalation-id='{answered_id}']")).to_have_count(0)
    assert console_errors == []
