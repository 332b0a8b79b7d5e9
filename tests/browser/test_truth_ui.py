"""One truth per figure: the duty officer's page, the chiefs' panel, the wall and the daily report say the same
numbers at the same moment; an open dispatch panel follows what happens to its incident; a late ticket
shows its date and that it came late.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
import redis
from playwright.sync_api import Browser, Page, expect
from time_machine import TimeMachineFixture

import clock
from bus import keys
from i18n import text
from indicators.compute import DISTRICT
from layouts.ids import AlertID, DispatchID, IndicatorID, LiveID, RiskID, ScreenID
from sensors.alerts import Verdict
from testkit.accounts import make_user, sign_in_page
from testkit.browser import new_context
from testkit.entries import SEAT, incident, sensor, unit
from testkit.servers import LiveServer
from testkit.waiting import wait_until
from tests.browser.test_indicators_ui import show_indicators
from tests.browser.test_live import open_live
from tests.browser.test_screen_ui import TILES_READY, open_screen

LANG = "zh-CN"


def tile_value(page: Page, root: str, figure: str) -> str:
    return page.locator(f"#{root} .ind-tile[data-figure='{figure}'] .ind-tile-value").inner_text()


def seed_the_day(server: LiveServer, r: redis.Redis, time_machine: TimeMachineFixture) -> None:
    """A day's work by 17:00: incidents (one a late ticket from days ago), instructions late and on time, a unit
    that arrived but never reported, a family calling twice (a lead past its hour), alerts waiting."""
    app = server.app
    for n in range(1, 5):
        r.xadd(keys.UNITS, unit(f"PU-{n}", lon=f"{SEAT[0] + 0.002 * n:.6f}", lat=f"{SEAT[1]:.6f}"))
    for n, hours in enumerate((7, 5, 3, 2)):
        r.xadd(keys.INCIDENTS, incident(f"DAY-{n}", ago=timedelta(hours=hours), caller=f"1370000000{n}"))
    # A late ticket: reaches the centre today, reported three days ago, so not today's.
    r.xadd(keys.INCIDENTS, incident("LATE-1", ago=timedelta(days=3), caller="13700000009"))
    for n in (1, 2):
        r.xadd(keys.INCIDENTS, incident(f"FAM-{n}", category="family_dispute", caller="13811112222",
                                        ago=timedelta(minutes=40 - 10 * n)))
    wait_until(lambda: r.hlen(keys.UNIT_STATE) == 4 and app.dispatch.incident("FAM-2"), what="the consumer")
    # 16:00: two units sent; one never arrives, the other arrives and never reports (both miss a deadline).
    for n in (0, 1):
        app.dispatch.send(f"DAY-{n}", [f"PU-{n + 1}"], "前往处置", "duty", f"k-{n}")
    [arrived] = app.dispatch.instructions_for("DAY-1")
    app.dispatch.feedback(arrived["instruction_id"], "PU-2", "on_scene", clock.now() + timedelta(minutes=3), None, "")
    device = next(d for d in app.devices.devices.values() if d.type == "behaviour")
    r.xadd(keys.SENSORS, sensor("AL-OLD", device.device_id, scenario="fight"))
    r.xadd(keys.SENSORS, sensor("AL-DONE", device.device_id, scenario="fight"))
    wait_until(lambda: len(app.alerts.open_alerts()) == 2, what="the alerts")
    app.alerts.verify("AL-DONE", Verdict.FALSE_ALARM, "duty", reason="误报")
    # 16:54 a unit due at 16:59 (late by 17:00), 16:58 one due after it; an alert just before the cut.
    today = clock.today()
    time_machine.move_to(clock.at(today, 16, 54))
    app.dispatch.send("DAY-2", ["PU-3"], "前往处置", "duty", "k-2")
    time_machine.move_to(clock.at(today, 16, 58))
    app.dispatch.send("DAY-3", ["PU-4"], "前往处置", "duty", "k-3")
    time_machine.move_to(clock.at(today, 16, 59) + timedelta(seconds=50))
    r.xadd(keys.SENSORS, sensor("AL-NEW", device.device_id, scenario="fight"))
    wait_until(lambda: len(app.alerts.open_alerts()) == 2, what="the new alert")
    time_machine.move_to(clock.at(today, 17) + timedelta(seconds=20))  # the moment everybody looks


@pytest.mark.time_machine("2026-11-24T16:00:00+08:00")  # a Tuesday afternoon; the report cut is at 17:00
def test_truth_ui001_four_views_tell_the_same_numbers_at_one_moment(
    live_server: LiveServer, page: Page, browser: Browser, r: redis.Redis, time_machine: TimeMachineFixture,
    console_errors: list[str]
) -> None:
    app = live_server.app
    seed_the_day(live_server, r, time_machine)
    f = app.indicators.publish()["scopes"][DISTRICT]
    # What was made above, as the one computation reads it.
    assert (f["incidents"]["count"], f["instructions"]["open"], f["instructions"]["overdue"]) == (6, 4, 3)
    assert (f["instructions"]["breaches"], f["queue"]["unverified"], f["queue"]["overdue"]) == (3, 2, 1)
    assert (f["leads"]["pending"], f["leads"]["late"]) == (1, 1)

    # 1. The duty officer's page: the header's figures.
    open_live(page, live_server)
    expect(page.locator(f"#{LiveID.FEED_COUNT}")).to_have_text(text("panel.feed.count", LANG, count=6))
    expect(page.locator(f"#{DispatchID.BREACHES}")).to_have_text(text("instructions.breaches", LANG, count=3))
    expect(page.locator(f"#{AlertID.COUNT}")).to_have_text(text("alert.queue.count", LANG, count=2))
    expect(page.locator(f"#{AlertID.BREACHES}")).to_have_text(
        text("alert.breaches", LANG, count=f["verification"]["due"] - f["verification"]["within"]))
    expect(page.locator(f"#{RiskID.COUNT}")).to_have_text(text("leads.count", LANG, count=1))
    expect(page.locator(f"#{DispatchID.INSTRUCTIONS} li.instr.red")).to_have_count(3)  # the list agrees

    # 2. The chiefs' panel.
    chief = new_context(browser).new_page()
    sign_in_page(chief, live_server.url, make_user(app, "chief"))
    show_indicators(chief)
    # 3. The wall.
    wall = new_context(browser).new_page()
    open_screen(wall, live_server, 1920, 1080)
    wall.wait_for_function(TILES_READY)
    for view, root in ((chief, IndicatorID.TILES), (wall, ScreenID.TILES)):
        assert tile_value(view, root, "incidents") == "6"
        assert tile_value(view, root, "open") == "4"
        assert text("ind.overdue", LANG, count=3) in view.locator(f"#{root} [data-figure='open']").inner_text()
        assert text("ind.breaches", LANG, count=3) in view.locator(f"#{root} [data-figure='open']").inner_text()
        assert tile_value(view, root, "unverified") == "2"
        assert tile_value(view, root, "pending") == "1"
    # 4. The daily report of 17:00, opened a minute later.
    chief.goto(f"{live_server.url}/reports/daily/2026-11-24")
    figures = {row.get_attribute("data-figure"): row.locator("td").nth(1).inner_text()
               for row in chief.locator("#report-figures tr[data-figure]").all()}
    assert (figures["incidents"], figures["open"], figures["breaches"]) == ("6", "4", "3")
    assert (figures["unverified"], figures["pending"]) == ("2", "1")
    assert console_errors == []


def test_truth_ui002_the_dispatch_panel_follows_its_incident(
    live_server: LiveServer, page: Page, r: redis.Redis
) -> None:
    app = live_server.app
    r.xadd(keys.UNITS, unit("PU-31", lon=f"{SEAT[0] + 0.003:.6f}", lat=f"{SEAT[1]:.6f}"))
    r.xadd(keys.UNITS, unit("PU-32", lon=f"{SEAT[0] + 0.006:.6f}", lat=f"{SEAT[1]:.6f}"))
    open_live(page, live_server)
    r.xadd(keys.INCIDENTS, incident("FOLLOW-1", category="fight", priority="1"))
    page.locator(f"#{LiveID.FEED} [data-event-id='FOLLOW-1']").click()
    panel = page.locator(f"#{DispatchID.BODY}")
    expect(panel.locator(".incident-id")).to_have_text("FOLLOW-1")
    page.click(f"#{DispatchID.SEND}")
    expect(page.locator(f"#{DispatchID.MESSAGE}")).to_contain_text("指令已下达")
    # At once: the unit on its instruction, and the form offers adding a unit (not the same send again).
    sent = panel.locator(".panel-instr[data-state='issued']")
    expect(sent.locator(".u-id")).to_have_text("PU-31")
    expect(page.locator(f"#{DispatchID.SEND}")).to_have_text(text("dispatch.add_unit", LANG))
    expect(panel.locator(f"#{DispatchID.UNITS} input[value='PU-31']")).to_be_disabled()
    expect(panel.locator(f"#{DispatchID.UNITS} input[value='PU-31']")).not_to_be_checked()
    expect(page.locator(f"#{DispatchID.DIVERT}")).to_be_hidden()
    expect(panel.locator(".panel-instr .reassign")).to_have_count(1)
    # A second click with nothing chosen sends nothing, and says why.
    page.click(f"#{DispatchID.SEND}")
    expect(page.locator(f"#{DispatchID.MESSAGE}")).to_contain_text("未下达")
    # The unit answers from the field: the panel's state and log grow without reopening.
    [instruction] = app.dispatch.instructions_for("FOLLOW-1")
    for step in ("received", "on_scene"):
        app.dispatch.feedback(instruction["instruction_id"], "PU-31", step, clock.now(), None, "")
    expect(panel.locator(".panel-instr .u-state")).to_have_text(text("state.on_scene", LANG))
    expect(panel.locator(".dispatch-log li")).to_have_count(3)
    app.dispatch.feedback(instruction["instruction_id"], "PU-31", "result_reported", clock.now(), "dispersed", "")
    # The list's button is the close button only once the report has reached the page (before, it reassigns).
    row = page.locator(f"#{DispatchID.INSTRUCTIONS} li[data-instruction-id]")
    expect(row).to_have_attribute("data-state", "result_reported")
    row.locator("button").click()  # close, from the list
    expect(panel.locator(".dispatch-status .incident-status")).to_have_text(text("status.closed", LANG))
    expect(panel.locator(".dispatch-log li")).to_have_count(5)
    expect(page.locator(f"#{DispatchID.SEND}")).to_be_hidden()  # nothing more to send on a closed incident
    expect(panel.locator(".dispatch-finished")).to_be_visible()


@pytest.mark.time_machine("2026-11-24T10:00:00+08:00")  # mid-morning: "today" is not about to turn
def test_truth_ui003_a_late_ticket_shows_its_date_and_that_it_came_late(
    live_server: LiveServer, page: Page, r: redis.Redis
) -> None:
    open_live(page, live_server)
    r.xadd(keys.INCIDENTS, incident("NOW-1", ago=timedelta(minutes=2)))
    r.xadd(keys.INCIDENTS, incident("TICKET-1", ago=timedelta(days=3, hours=2)))
    late = page.locator(f"#{LiveID.FEED} [data-event-id='TICKET-1']")
    reported = clock.local(clock.now() - timedelta(days=3, hours=2))
    expected_time = reported.strftime("%m-%d %H:%M") if reported.year == clock.local().year else \
        reported.strftime("%Y-%m-%d %H:%M")
    expect(late.locator(".feed-time")).to_have_text(expected_time)
    expect(late.locator(".feed-late")).to_have_text(
        text("feed.late", LANG, ago=text("time.ago.days", LANG, count=3)))
    fresh = page.locator(f"#{LiveID.FEED} [data-event-id='NOW-1']")
    expect(fresh.locator(".feed-time")).to_have_text(clock.local(clock.now() - timedelta(minutes=2)).strftime("%H:%M"))
    expect(fresh.locator(".feed-late")).to_have_count(0)
    # Today's count is today's incidents: the ticket of three days ago is not one of them.
    live_server.app.indicators.publish()
    expect(page.locator(f"#{LiveID.FEED_COUNT}")).to_have_text(text("panel.feed.count", LANG, count=1))
