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


def test_supervision_ui002_the_monday_summary_reaches_the_chief_who_issues_a_notice_the_station_closes(
    live_server: LiveServer, page: Page, console_errors: list[str]
) -> None:
    app = live_server.app
    monday = clock.last_summary_monday(clock.now())
    with app.engine.begin() as conn:  # last week: two high leads in PS-01, neither handled
        app.risk.leads.create_in(conn, [Finding("dispute_cluster", PS01_GRID, "high", f"week-{i}", (),
                                                {"days": 7, "count": 5}) for i in range(2)],
                                 clock.at(monday - timedelta(days=3), 10))
    chief = make_user(app, Role.CHIEF)
    sign_in_page(page, live_server.url, chief)
    expect(page.locator(f"#{SupervisionID.LIST} li.empty-hint")).to_have_text("暂无待答复的督办")
    app.summaries.announce(monday)  # what Monday 08:00 does: pushed to the open page
    summary = page.locator(f"#{SupervisionID.SUMMARY}")
    expect(summary.locator(".summary-head")).to_contain_text("1 个派出所未达标")
    expect(summary.locator(".summary-below[data-station='PS-01'] .summary-reasons")).to_have_text(
        "高风险线索处置率 0%（0/2，目标 100%）")
    page.screenshot(path=str(SCREENSHOTS / "monday-summary-board.png"))

    summary.locator(".summary-open").click()
    expect(page.locator("table").first).to_be_visible()
    expect(page.locator("article.report")).to_have_attribute("data-kind", "summary")
    page.goto(f"{live_server.url}/supervision/notices")
    page.locator("#notices-from-summary li[data-station='PS-01'] a.issue").click()
    standard = page.locator("#notices-issue textarea[name='standard']")
    expect(standard).to_have_value("高风险线索处置率 0%（0/2，目标 100%）")
    page.fill("#notices-issue textarea[name='measures']", "逐条复核未处置线索，建立日清台账")
    page.click("#notices-issue button[type='submit']")
    expect(page.locator("#notice-record .outcome")).to_have_text("整改中")
    notice_url = page.url
    page.goto(f"{live_server.url}/supervision/notices")  # the summary's line now names its notice
    expect(page.locator("#notices-from-summary li[data-station='PS-01'] a.sent")).to_contain_text("已下发 RN-")
    expect(page.locator("#notices-from-summary a.issue")).to_have_count(0)

    station_chief = make_user(app, Role.STATION_CHIEF, station="PS-01")
    desk = page.context.browser.new_page()  # type: ignore[union-attr]
    sign_in_page(desk, live_server.url, station_chief, then="/supervision/notices")
    desk.goto(notice_url)
    desk.fill("#notice-report textarea[name='note']", "已全部处置并建立台账")
    desk.check("#notice-report input[name='closes']")
    desk.click("#notice-report button[type='submit']")
    expect(desk.locator("#notice-record .outcome")).to_contain_text("按期办结")
    expect(desk.locator("#notice-progress tr.closes")).to_have_count(1)
    desk.screenshot(path=str(SCREENSHOTS / "notice-closed.png"), full_page=True)
    assert console_errors == []
