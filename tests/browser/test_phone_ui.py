"""A grid worker's phone and the hall, side by side: an alert passed to the grid worker reaches the phone within
2 s, and each step taken on the phone shows in the hall as it happens."""

from __future__ import annotations

import re
import time

import redis
from playwright.sync_api import Browser, Page, expect
from sqlalchemy import select

import clock
from auth.roles import Role
from bus import keys
from gridwork.tasks import TaskKind
from layouts.ids import AlertID, PhoneID, TaskID
from settings import PROJECT_ROOT
from store.db import grid_task_photos
from testkit.accounts import make_user, sign_in_page
from testkit.browser import new_context
from testkit.photos import encode, grainy
from testkit.servers import LiveServer
from tests.browser.test_live import open_live
from tests.browser.test_sensors_ui import CAMERA, alert

SCREENSHOTS = PROJECT_ROOT / "tests" / "artifacts"


def test_phone_ui001_alert_to_grid_worker_accept_arrive_report_seen_live_in_the_hall(
    live_server: LiveServer, page: Page, browser: Browser, r: redis.Redis, console_errors: list[str]
) -> None:
    app = live_server.app
    device = app.devices.get(CAMERA)
    assert device is not None
    worker = make_user(app, Role.GRID_WORKER, grids=(device.grid,))
    phone_context = new_context(browser, phone_at=(device.lon, device.lat))  # standing at the camera
    phone = phone_context.new_page()
    phone_errors: list[str] = []
    phone.on("pageerror", lambda exc: phone_errors.append(str(exc)))
    sign_in_page(phone, live_server.url, worker, then="/m/")
    expect(phone.locator(f"#{PhoneID.STATUS}")).to_have_class("live-pill live")
    expect(phone.locator(f"#{PhoneID.LIST} .empty-hint")).to_be_visible()
    open_live(page, live_server)

    r.xadd(keys.SENSORS, alert("PH-1", device_id=CAMERA, scenario="fight"))
    page.locator(f"#{AlertID.LIST} [data-event-id='PH-1'] .alert-worker").click()
    passed_at = time.monotonic()
    card = phone.locator(f"#{PhoneID.LIST} .phone-task")
    expect(card).to_have_count(1, timeout=2000)  # on the phone within 2 s of the officer's click
    print(f"\n[phone_ui001] task on the phone {time.monotonic() - passed_at:.2f} s after the click")
    expect(card.locator(".pt-clock")).to_have_text(re.compile(r"^[0-4]:[0-5]\d$"))
    expect(card.locator(".pt-summary")).to_contain_text("BHV-001")
    expect(card.locator(".pt-nav")).to_have_attribute("href", re.compile(r"^geo:39\.\d+,112\.\d+"))
    phone.screenshot(path=str(SCREENSHOTS / "phone-task-list.png"))
    hall_row = page.locator(f"#{TaskID.LIST} li[data-task-id]")

    card.locator(".pt-accept").click()
    expect(hall_row.locator(".task-state")).to_have_text("已接收 · 到场")
    card.locator(".pt-arrive").click()  # the phone gives its position: at the site
    expect(hall_row.locator(".task-state")).to_have_text("已到场 · 反馈")
    expect(hall_row.locator(".task-far")).to_have_count(0)
    expect(card.locator(".pt-clock")).to_have_text(re.compile(r"^(59|60):[0-5]\d$"))  # the hour for photo and note
    card.locator(".pt-note").fill("两名学生口角，已劝离并告知学校")
    clock = card.locator(".pt-clock")
    for _ in range(2):  # two clock ticks while the note is typed: it must survive them
        expect(clock).not_to_have_text(clock.inner_text())
    expect(card.locator(".pt-note")).to_have_value("两名学生口角，已劝离并告知学校")
    # "Photo + note": the result waits for a photo. A 4000x3000 phone photo is made smaller on the phone
    # before it goes; the server cleans it again (its GPS position is not kept).
    expect(card.locator(".pt-report")).to_be_disabled()
    expect(card.locator(".pt-photo-needed")).to_be_visible()
    taken = encode(grainy(4000, 3000, label="PH-1"), "JPEG", gps=(device.lon, device.lat), quality=90)
    assert len(taken) > 1_500_000
    card.locator(".pt-photo-input").set_input_files(
        [{"name": "IMG_0001.jpg", "mimeType": "image/jpeg", "buffer": taken}])
    expect(card.locator(".pt-thumb")).to_have_count(1)
    expect(hall_row.locator(".task-photo img")).to_have_count(1)  # the hall sees the photo as it arrives
    expect(card.locator(".pt-report")).to_be_enabled()
    expect(card.locator(".pt-photo-needed")).to_be_hidden()
    expect(card.locator(".pt-note")).to_have_value("两名学生口角，已劝离并告知学校")  # the card was not rebuilt
    card.locator(".pt-thumb").evaluate("img => img.decode()")  # drawn before the picture is taken of it
    phone.screenshot(path=str(SCREENSHOTS / "phone-task-photo.png"))
    [uploaded] = app.tasks.get(hall_row.get_attribute("data-task-id") or "")["photos"].split(",")  # type: ignore[index]
    with app.engine.connect() as conn:
        kept = conn.execute(select(grid_task_photos).where(grid_task_photos.c.sha256 == uploaded)).mappings().one()
    assert (kept["width"], kept["height"], kept["uploaded_by"]) == (2560, 1920, worker)
    card.locator(".pt-report").click()
    expect(hall_row).to_have_attribute("data-state", "reported")
    expect(hall_row.locator(".task-clock")).to_have_text("✓")
    expect(card).to_have_attribute("data-state", "reported")
    expect(phone.locator(f"#{PhoneID.MESSAGE}")).to_contain_text("已反馈")
    phone.screenshot(path=str(SCREENSHOTS / "phone-task-reported.png"))
    [task] = [t for t in app.tasks.board() if t["ref"] == "PH-1"]
    assert (task["state"], task["distance_m"]) == ("reported", 0)
    assert [e["action"] for e in app.tasks.log_for(task["task_id"])] == ["assigned", "accepted", "on_scene",
                                                                          "photo", "reported"]
    assert console_errors == [] and phone_errors == []
    phone_context.close()


def test_phone_ui002_a_grid_worker_hands_a_task_to_a_volunteer_whose_phone_gets_it(
    live_server: LiveServer, browser: Browser
) -> None:
    app = live_server.app
    grid = "SC-021"
    worker = make_user(app, Role.GRID_WORKER, grids=(grid,))
    volunteer = make_user(app, Role.VOLUNTEER, grids=(grid,), username="vol-li")
    phones = {}
    for who in (worker, volunteer):
        context = new_context(browser, phone_at=(112.43, 39.33))
        phones[who] = context.new_page()
        sign_in_page(phones[who], live_server.url, who, then="/m/")
        expect(phones[who].locator(f"#{PhoneID.STATUS}")).to_have_class("live-pill live")
    with app.engine.begin() as conn:
        app.tasks.create(conn, TaskKind.LEAD, "L-HAND", grid, "邻里纠纷，需上门调解", "risk", clock.now())
    app.tasks.relay()
    card = phones[worker].locator(f"#{PhoneID.LIST} .phone-task")
    expect(card).to_have_count(1)
    expect(phones[volunteer].locator(f"#{PhoneID.LIST} .empty-hint")).to_be_visible()
    card.locator(".pt-hand-open").click()
    expect(card.locator(".pt-volunteer")).to_have_value("vol-li")
    card.locator(".pt-hand-send").click()
    expect(card.locator(".pt-volunteer-line")).to_have_text("志愿者 vol-li")
    expect(card.locator(".pt-hand-open")).to_have_count(0)  # handed once, for good
    helper_card = phones[volunteer].locator(f"#{PhoneID.LIST} .phone-task")
    expect(helper_card).to_have_count(1)
    expect(helper_card.locator(".pt-hand-open")).to_have_count(0)  # a volunteer hands nothing on
    helper_card.locator(".pt-accept").click()
    expect(card).to_have_attribute("data-state", "accepted")  # the worker sees the volunteer's steps live
    for page in phones.values():
        page.context.close()
