"""The evaluation index in Chromium, as a chief and a community officer use it: the league tables, one officer's
drill-down from the score to the leaves to the records behind them, and their time in community from positions
that came in on the stream.

The day judged is the last working day before today (built relative to the clock: no literal dates).
"""

from __future__ import annotations

from datetime import date, datetime, timedelta

from playwright.sync_api import Page, expect
from sqlalchemy import func, insert, select

import clock
from app import PinganApp
from auth.roles import Role
from bus import keys
from settings import PROJECT_ROOT
from store.db import incidents, instructions, leads, positions
from testkit.accounts import make_user, sign_in_page
from testkit.servers import LiveServer
from testkit.waiting import wait_until

SCREENSHOTS = PROJECT_ROOT / "tests" / "artifacts"
GRID, OFFICER = "SC-001", "CO-SC-001"


def last_working_day() -> date:
    day = clock.today() - timedelta(days=1)
    while day.weekday() >= 5:
        day -= timedelta(days=1)
    return day


def seed_day(app: PinganApp, day: date) -> None:
    """On ``day`` in SC-001: three calls from one place (a repeat), one without a description; a unit on scene in
    4 minutes and one in 9 (of 5); a high lead handled in 20 minutes."""
    def at(hour: int, minute: int = 0) -> datetime:
        return clock.at(day, hour, minute)

    with app.engine.begin() as conn:
        conn.execute(insert(incidents), [
            {"event_id": f"EV-{n}", "stream_id": "1-0", "reported_at": at(9 + n), "ingested_at": at(9 + n),
             "lon": 112.44, "lat": 39.35, "grid": GRID, "category": "theft", "priority": 2,
             "address": "康乐小区3号楼" if n < 3 else "城东路8号", "description": "" if n == 3 else "情况说明",
             "caller": "13800000000", "source": "110", "status": "closed"} for n in range(4)])
        conn.execute(insert(instructions), [
            {"instruction_id": f"EVI-{n}", "idempotency_key": f"EVI-{n}", "incident_id": f"EV-{n}", "unit_id": "U-1",
             "state": "closed", "text": "", "officer": "t", "zone": "urban", "issued_at": at(9 + n),
             "arrival_due": at(9 + n, 5), "on_scene_at": at(9 + n, minutes), "result_at": at(9 + n, minutes + 10),
             "result_due": at(9 + n, minutes + 15), "finished_at": at(9 + n, 40)}
            for n, minutes in ((0, 4), (1, 9))])
        conn.execute(insert(leads), [
            {"lead_id": "EVL-1", "grid": GRID, "level": "high", "created_at": at(10), "deadline": at(11),
             "handled_at": at(10, 20), "dedupe_key": "EVL-1", "rule": "repeat_location", "station": "PS-01",
             "target": "station", "recipient": "x", "state": "handled", "summary": "重复报警", "suggestion": "",
             "evidence": "[]"}])


def send_track(app: PinganApp, day: date) -> int:
    """The officer's terminal every 10 minutes of the working day: in the grid, but 14:30–16:30 at the station
    (1 km away); the consumer keeps each fix with whether it was inside."""
    grid = app.grids.get(GRID)
    assert grid is not None
    inside = grid.centroid
    outside = (inside[0] + 0.02, inside[1])
    sent = 0
    moment = clock.at(day, 8, 30)
    while moment <= clock.at(day, 18):
        local = clock.local(moment)
        place = outside if (14, 30) <= (local.hour, local.minute) < (16, 30) else inside
        app.redis.xadd(keys.POSITIONS, {"person_id": OFFICER, "observed_at": local.isoformat(timespec="seconds"),
                                        "lon": f"{place[0]:.6f}", "lat": f"{place[1]:.6f}", "source": "terminal"})
        sent += 1
        moment += timedelta(minutes=10)
    return sent


def test_evaluation_ui001_a_chief_drills_from_the_league_to_an_officers_records(
    live_server: LiveServer, page: Page, console_errors: list[str]
) -> None:
    app = live_server.app
    day = last_working_day()
    seed_day(app, day)
    sent = send_track(app, day)

    def kept() -> bool:
        with app.engine.connect() as conn:
            return conn.execute(select(func.count()).select_from(positions)).scalar_one() == sent
    wait_until(kept, what="the officer's positions kept")

    chief = make_user(app, Role.CHIEF)
    sign_in_page(page, live_server.url, chief, then="/evaluation")
    page.goto(f"{live_server.url}/evaluation?period=day&key={day.isoformat()}&station=PS-01")
    people = page.locator("#evaluation-people tbody tr[data-subject]")
    expect(people.first).to_have_attribute("data-subject", OFFICER)  # the one with a track and a clean day first
    expect(page.locator("#evaluation-stations tbody tr[data-subject]")).to_have_count(12)
    page.set_viewport_size({"width": 1600, "height": 1000})
    page.screenshot(path=str(SCREENSHOTS / "evaluation-league.png"))

    people.first.locator("a").click()
    expect(page.locator("h1")).to_contain_text(app.grids.get(GRID).officer_zh)  # type: ignore[union-attr]
    tree = page.locator("#evaluation-tree")
    # 08:30–12:00 and 14:30–18:00 is 7 hours; 14:30–16:30 away: 5 of 7 in the community.
    presence = tree.locator("tr[data-node='presence.time.share']")
    expect(presence.locator(".value")).to_have_text("71.4%")
    expect(tree.locator("tr[data-node='response.arrival.on_time'] .basis")).to_have_text("1 / 2")
    expect(tree.locator("tr[data-node='prevention.leads.disposal'] .value")).to_have_text("100.0%")
    expect(tree.locator("tr[data-node='data.completeness.incidents'] .basis")).to_have_text("3 / 4")
    expect(tree.locator("tr[data-node='conflict.mediation.success'] .score")).to_have_text("不计分")
    expect(page.locator("#evaluation-trend td[data-month]")).to_have_count(6)
    page.screenshot(path=str(SCREENSHOTS / "evaluation-drilldown.png"), full_page=True)

    tree.locator("tr[data-node='response.arrival.on_time'] a").click()
    records = page.locator("#evaluation-records tbody tr[data-record]")
    expect(records).to_have_count(2)
    expect(page.locator("#evaluation-records tr[data-record='EVI-1']")).to_have_class("late")
    page.go_back()
    presence.locator("a").click()
    expect(page.locator("#evaluation-records tr[data-record='CO-SC-001'] .share")).to_have_text("71.4%")
    assert console_errors == []


def test_evaluation_ui002_an_officer_sees_their_own_and_nobody_elses(
    live_server: LiveServer, page: Page, console_errors: list[str]
) -> None:
    app = live_server.app
    day = last_working_day()
    seed_day(app, day)
    officer = make_user(app, Role.STATION_OFFICER, station="PS-01", grids=(GRID,))
    sign_in_page(page, live_server.url, officer, then="/sensors")
    page.locator("nav a[href='/evaluation']").click()  # their league table is their own page
    expect(page).to_have_url(f"{live_server.url}/evaluation/{OFFICER}?period=month&key={clock.today():%Y-%m}")
    expect(page.locator("h1")).to_contain_text(OFFICER)
    expect(page.locator("#evaluation-summary [data-figure='rank-station']")).to_have_count(0)  # no league for them
    response = page.goto(f"{live_server.url}/evaluation/CO-SC-002")
    assert response is not None and response.status == 404
    assert all("404" in message for message in console_errors)
