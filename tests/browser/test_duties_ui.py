"""The core task list in Chromium: a grid worker on their phone opens their duties from the phone page and ticks the
day's patrol done; the chief's completion table for the station shows it met, with the rest of the day's rows.

The table's day is the one whose 17:00 round is running now (today before 17:00, tomorrow after): the test reads
the same whatever the hour it runs at.
"""

from __future__ import annotations

from datetime import timedelta

from playwright.sync_api import Page, expect

import clock
from auth.roles import Role
from settings import PROJECT_ROOT
from testkit.accounts import make_user, sign_in_page
from testkit.servers import LiveServer

SCREENSHOTS = PROJECT_ROOT / "tests" / "artifacts"
GRID, WORKER = "SC-021", "GW-SC-021"


def test_duties_ui001_a_grid_worker_ticks_their_patrol_and_the_chief_sees_it_met(
    live_server: LiveServer, page: Page, console_errors: list[str]
) -> None:
    app = live_server.app
    now = clock.local(clock.now())
    day = clock.today() if now.hour < clock.DAILY_CUT_HOUR else clock.today() + timedelta(days=1)
    station = app.grids.get(GRID).station  # type: ignore[union-attr]

    worker = make_user(app, Role.GRID_WORKER, grids=(GRID,))
    page.set_viewport_size({"width": 360, "height": 740})
    sign_in_page(page, live_server.url, worker, then="/m/")
    page.locator("#phone-duties").click()
    page.goto(f"{live_server.url}/duties?day={day.isoformat()}")
    rows = page.locator("#duties-list tbody tr[data-duty]")
    expect(rows).to_have_count(3)  # records a day, households a week, the day's patrol: theirs only
    assert set(rows.evaluate_all("rows => rows.map(r => r.dataset.person)")) == {WORKER}
    patrol = page.locator(f"#duties-list tr[data-duty='grid.patrol'][data-person='{WORKER}']")
    expect(patrol).to_have_attribute("data-state", "in_progress")
    patrol.locator("input[name='note']").fill("巡查康乐小区3号楼，消防通道畅通")
    patrol.locator("button[type='submit']").click()
    expect(patrol).to_have_attribute("data-state", "met")
    expect(patrol.locator("form.tick")).to_have_count(0)  # done: nothing more to tick

    chief_page = page.context.browser.new_page(viewport={"width": 1600, "height": 1000})  # type: ignore[union-attr]
    chief = make_user(app, Role.CHIEF)
    sign_in_page(chief_page, live_server.url, chief, then="/duties")
    chief_page.goto(f"{live_server.url}/duties?day={day.isoformat()}&centre=grid&station={station}")
    row = chief_page.locator(f"#duties-list tr[data-duty='grid.patrol'][data-person='{WORKER}']")
    expect(row).to_have_attribute("data-state", "met")
    expect(row.locator("form.tick")).to_have_count(0)  # the chief reads; only the worker ticks their own
    others = chief_page.locator("#duties-list tr[data-duty='grid.patrol'][data-state='in_progress']")
    expect(others.first).to_be_visible()  # the station's other workers have not ticked yet
    chief_page.screenshot(path=str(SCREENSHOTS / "duties-table.png"))
    chief_page.close()
    assert console_errors == []
