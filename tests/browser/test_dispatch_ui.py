"""The duty officer's whole loop in a real browser, against simulated field units."""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Iterator

import pytest
import redis
from playwright.sync_api import APIResponse, Locator, Page, Route, expect

from bus import keys
from i18n import text
from layouts.ids import DispatchID, LiveID
from simulation.field_units import FieldUnits
from testkit.entries import SEAT, incident, unit
from testkit.servers import LiveServer
from tests.browser.test_live import open_live

LANG = "zh-CN"  # the test server's language


@pytest.fixture
def field_units(r: redis.Redis) -> Iterator[FieldUnits]:
    units = FieldUnits(r, speed=600)  # ten simulated minutes a second
    units.SILENT_SHARE = 0.0  # this unit always answers
    units.LATE_SHARE = 0.0
    units.ensure_group()
    stop = threading.Event()
    thread = threading.Thread(target=units.run, args=(stop, 0.05), daemon=True)
    thread.start()
    yield units
    stop.set()
    thread.join(timeout=5)


def test_dispatch_ui001_click_send_acknowledge_arrive_report_close(
    live_server: LiveServer, page: Page, r: redis.Redis, field_units: FieldUnits
) -> None:
    r.xadd(keys.UNITS, unit("PU-007", lon=f"{SEAT[0] + 0.004:.6f}", lat=f"{SEAT[1]:.6f}"))
    r.xadd(keys.UNITS, unit("PU-008", lon=f"{SEAT[0] + 0.002:.6f}", lat=f"{SEAT[1]:.6f}", status="busy"))
    open_live(page, live_server)
    r.xadd(keys.INCIDENTS, incident("LOOP-1", category="fight", priority="1"))

    page.locator(f"#{LiveID.FEED} [data-event-id='LOOP-1']").click()
    panel = page.locator(f"#{DispatchID.BODY}")
    expect(panel.locator(".incident-id")).to_have_text("LOOP-1")
    # The nearest available unit is recommended and ticked; the busy one is shown but not offered.
    expect(panel.locator(f"#{DispatchID.UNITS} input[value='PU-007']")).to_be_checked()
    expect(panel.locator(f"#{DispatchID.UNITS} input[value='PU-008']")).to_be_disabled()
    expect(page.locator(f"#{DispatchID.TEXT}")).to_contain_text("PU-008")  # forces within 2 km

    page.click(f"#{DispatchID.SEND}")
    expect(page.locator(f"#{DispatchID.MESSAGE}")).to_contain_text("指令已下达")
    row = page.locator(f"#{DispatchID.INSTRUCTIONS} li[data-instruction-id]")
    expect(row).to_have_count(1)
    expect(row.locator(".instr-unit")).to_have_text("PU-007")

    # The simulated unit acknowledges, goes, arrives and reports; the officer closes.
    expect(row).to_have_attribute("data-state", "result_reported", timeout=20_000)
    row.locator("button").click()
    expect(page.locator(f"#{DispatchID.INSTRUCTIONS} li[data-instruction-id]")).to_have_count(0)
    expect(page.locator(f"#{LiveID.FEED} [data-event-id='LOOP-1'] .feed-status")).to_have_text("已办结")

    # Every step is on the incident's log, in order.
    page.locator(f"#{LiveID.FEED} [data-event-id='LOOP-1']").click()
    expect(panel.locator(".dispatch-log li")).to_have_count(6)
    actions = panel.locator(".dispatch-log .log-action").all_inner_texts()
    assert actions == ["已下达", "已接收", "赶赴中", "已到场", "已反馈", "已办结"]


def test_dispatch_ui002_double_click_sends_once(live_server: LiveServer, page: Page, r: redis.Redis) -> None:
    r.xadd(keys.UNITS, unit("PU-009"))
    open_live(page, live_server)
    r.xadd(keys.INCIDENTS, incident("DBL-1"))
    page.locator(f"#{LiveID.FEED} [data-event-id='DBL-1']").click()
    expect(page.locator(f"#{DispatchID.UNITS} input[value='PU-009']")).to_be_checked()
    page.dblclick(f"#{DispatchID.SEND}")
    expect(page.locator(f"#{DispatchID.MESSAGE}")).to_contain_text("指令已下达")
    expect(page.locator(f"#{DispatchID.MESSAGE}")).not_to_have_attribute("data-dash-is-loading", "true")
    expect(page.locator(f"#{DispatchID.INSTRUCTIONS} li[data-instruction-id]")).to_have_count(1)
    assert len(r.xrange(keys.OUT_INSTRUCTIONS)) == 1


def send_nearest(page: Page, live_server: LiveServer, r: redis.Redis, incident_id: str, nearest: str) -> Locator:
    """Open the officer's page, open a new incident and send its recommended unit ``nearest`` (2 km from the seat,
    so it is chosen); returns the open-instructions rows once the list shows that unit."""
    r.xadd(keys.UNITS, unit(nearest, lon=f"{SEAT[0] + 0.002:.6f}", lat=f"{SEAT[1]:.6f}"))
    open_live(page, live_server)
    r.xadd(keys.INCIDENTS, incident(incident_id))
    page.locator(f"#{LiveID.FEED} [data-event-id='{incident_id}']").click()
    expect(page.locator(f"#{DispatchID.UNITS} input[value='{nearest}']")).to_be_checked()
    page.click(f"#{DispatchID.SEND}")
    row = page.locator(f"#{DispatchID.INSTRUCTIONS} li[data-instruction-id]")
    expect(row.locator(".instr-unit")).to_have_text(nearest)  # pushed live (the send's answer may come later)
    return row


def test_dispatch_ui003_reassign_from_the_open_instructions_list(
    live_server: LiveServer, page: Page, r: redis.Redis
) -> None:
    r.xadd(keys.UNITS, unit("PU-022", lon=f"{SEAT[0] + 0.01:.6f}", lat=f"{SEAT[1]:.6f}"))
    row = send_nearest(page, live_server, r, "RE-1", "PU-021")

    row.locator("button", has_text="改派").click()
    expect(page.locator(f"#{DispatchID.REASSIGN_NOTE}")).to_contain_text("改派指令")
    page.locator(f"#{DispatchID.UNITS} input[value='PU-022']").check()
    expect(page.locator(f"#{DispatchID.UNITS} input[value='PU-021']")).to_be_disabled()  # still held
    page.click(f"#{DispatchID.SEND}")
    expect(row).to_have_count(1)
    expect(row.locator(".instr-unit")).to_have_text("PU-022")
    expect(page.locator(f"#{DispatchID.REASSIGN_NOTE}")).to_be_empty()


def hold_the_first_send_answer(page: Page) -> list[tuple[Route, APIResponse]]:
    """Let the server answer the first send but keep that answer from the page until the test fulfils it."""
    held: list[tuple[Route, APIResponse]] = []

    def hold(route: Route) -> None:
        call = json.loads(route.request.post_data or "{}")
        if not held and any(i.get("id") == DispatchID.SEND and i.get("value") for i in call.get("inputs", [])):
            held.append((route, route.fetch()))  # the server has sent it; the page hears nothing yet
            return
        route.continue_()

    page.route(re.compile(r"/_dash-update-component\b"), hold)
    return held


def test_dispatch_ui003b_a_late_send_answer_keeps_the_reassign_chosen_meanwhile(
    live_server: LiveServer, page: Page, r: redis.Redis
) -> None:
    """A year ahead in CI: the live list showed the new instruction, the officer chose "reassign" on it, and only
    then did the send's own answer land, clearing that choice (the note never showed, or the next send added a
    second unit). Here the answer is held until the reassign mode is set."""
    held = hold_the_first_send_answer(page)
    row = send_nearest(page, live_server, r, "RE-2", "PU-031")
    instruction = row.get_attribute("data-instruction-id")
    # The reassign mode, as the list's button sets it first (its panel reopening follows).
    page.evaluate("([store, id]) => window.dash_clientside.set_props(store, {data: id})",
                  [DispatchID.REPLACES, instruction])
    note = page.locator(f"#{DispatchID.REASSIGN_NOTE}")
    expect(note).to_contain_text("改派指令")
    [(route, answer)] = held
    route.fulfill(response=answer)
    expect(page.locator(f"#{DispatchID.MESSAGE}")).to_contain_text("指令已下达")
    expect(note).to_contain_text("改派指令")


def test_dispatch_ui003c_a_send_answer_landing_after_the_live_push_still_lands(
    live_server: LiveServer, page: Page, r: redis.Redis
) -> None:
    """CI: the live push re-rendered the panel's form before the send's answer came, which re-created the send
    button; Dash re-ran the send callback for the new button and dropped the answer in flight. The officer saw no
    "sent", and the idempotency key stayed, so the next "add a unit" counted as a repeat and sent nothing."""
    r.xadd(keys.UNITS, unit("PU-042", lon=f"{SEAT[0] + 0.01:.6f}", lat=f"{SEAT[1]:.6f}"))
    held = hold_the_first_send_answer(page)
    send_nearest(page, live_server, r, "RE-3", "PU-041")
    # The push has moved the panel on to adding a unit while the answer is still out.
    expect(page.locator(f"#{DispatchID.FORM} h4")).to_have_text(text("dispatch.units.add", LANG))
    expect(page.locator(f"#{DispatchID.SEND}")).to_have_text(text("dispatch.add_unit", LANG))
    [(route, answer)] = held
    route.fulfill(response=answer)
    message = page.locator(f"#{DispatchID.MESSAGE}")
    expect(message).to_contain_text(text("dispatch.sent", LANG, ids=""))

    page.locator(f"#{DispatchID.UNITS} input[value='PU-042']").check()
    page.click(f"#{DispatchID.SEND}")
    rows = page.locator(f"#{DispatchID.INSTRUCTIONS} li[data-instruction-id]")
    expect(rows).to_have_count(2)
    expect(message).not_to_contain_text(text("dispatch.sent.duplicate", LANG, ids=""))
