"""The hall follows the grid worker's task: passed on from an alert, then each step, live, with its clock."""

from __future__ import annotations

import re

import redis
from playwright.sync_api import Page, expect

from bus import keys
from layouts.ids import AlertID, TaskID
from settings import PROJECT_ROOT
from testkit.photos import jpeg
from testkit.servers import LiveServer
from tests.browser.test_live import open_live
from tests.browser.test_sensors_ui import CAMERA, alert

SCREENSHOTS = PROJECT_ROOT / "tests" / "artifacts"


def test_gridwork_ui001_an_alert_passed_to_the_grid_worker_becomes_a_task_the_hall_follows(
    live_server: LiveServer, page: Page, r: redis.Redis, console_errors: list[str]
) -> None:
    app = live_server.app
    open_live(page, live_server)
    r.xadd(keys.SENSORS, alert("GW-UI-1", device_id=CAMERA, scenario="fight"))
    card = page.locator(f"#{AlertID.LIST} [data-event-id='GW-UI-1']")
    card.locator(".alert-worker").click()  # not a police matter yet: the grid worker goes to look

    row = page.locator(f"#{TaskID.LIST} li[data-task-id]")
    expect(row).to_have_count(1)
    device = app.devices.get(CAMERA)
    grid = app.grids.get(device.grid) if device else None
    assert grid is not None
    expect(row.locator(".task-worker")).to_have_text(f"{grid.worker_zh} · {grid.code}")
    expect(row.locator(".task-state")).to_have_text("待接收 · 到场")
    expect(row.locator(".task-clock")).to_have_text(re.compile(r"^[0-4]:[0-5]\d$"))  # five minutes, running
    expect(row.locator(".task-summary")).to_contain_text("告警核查")

    [task] = app.tasks.open_tasks()
    app.tasks.accept(task["task_id"], grid.worker_zh)
    expect(row.locator(".task-state")).to_have_text("已接收 · 到场")
    assert device is not None
    app.tasks.arrive(task["task_id"], grid.worker_zh, (device.lon + 0.01, device.lat))  # far from the site
    expect(row.locator(".task-state")).to_have_text("已到场 · 反馈")
    expect(row.locator(".task-clock")).to_have_text(re.compile(r"^(59|60):[0-5]\d$"))  # the hour for photo and note
    expect(row.locator(".task-far")).to_have_text(re.compile(r"^到场位置距现场 8\d\d 米$"))
    row.screenshot(path=str(SCREENSHOTS / "grid-task-hall.png"))
    app.tasks.add_photo(task["task_id"], grid.worker_zh, jpeg("口角现场"))  # an alert's result needs its photo
    expect(row.locator(".task-photo img")).to_have_count(1)
    app.tasks.report(task["task_id"], grid.worker_zh, "resolved", "两人口角，已劝离")
    expect(row).to_have_attribute("data-state", "reported")
    expect(row.locator(".task-clock")).to_have_text("✓")

    # A page opened now starts from the snapshot: the finished task is still there, marked.
    page.reload()
    expect(page.locator(f"#{TaskID.LIST} li[data-task-id='{task['task_id']}']")).to_have_attribute(
        "data-state", "reported")
    assert app.tasks.open_tasks() == []
    assert console_errors == []
