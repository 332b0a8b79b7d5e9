"""Grid workers' tasks on the hall's map (state and clock colour, live) and on the wall's overdue list."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

from playwright.sync_api import Locator, Page, expect

import clock
from gridwork.tasks import TaskKind
from layouts.ids import ScreenID
from settings import PROJECT_ROOT
from store.db import incidents, instructions
from testkit.servers import LiveServer
from tests.browser.test_live import open_live
from tests.browser.test_screen_ui import open_screen

SCREENSHOTS = PROJECT_ROOT / "tests" / "artifacts"
URBAN = "SC-001"  # a five-minute on-scene clock for an alert


def make_task(server: LiveServer, kind: TaskKind, ref: str, summary: str, made_ago: timedelta,
              site: bool = True, east: float = 0.0, result_due: timedelta | None = None) -> dict[str, Any]:
    """A task for URBAN's worker made ``made_ago`` before now at its centroid (``east``: degrees east of it;
    ``result_due``: from now), published live."""
    app = server.app
    grid = app.grids.get(URBAN)
    assert grid is not None
    now = clock.now()
    with app.engine.begin() as conn:
        row = app.tasks.create(conn, kind, ref, URBAN, summary, "test", now - made_ago,
                               site=(grid.centroid[0] + east, grid.centroid[1]) if site else None,
                               result_due=now + result_due if result_due is not None else None)
    app.tasks.relay()
    return row


def pin(page: Page, task_id: str) -> Locator:
    return page.locator(f".leaflet-marker-pane .task-pin[data-task-id='{task_id}']")


def test_grid_tasks_map_ui001_open_tasks_show_their_state_and_clock_on_the_map_and_leave_when_finished(
    live_server: LiveServer, page: Page, console_errors: list[str]
) -> None:
    app = live_server.app
    grid = app.grids.get(URBAN)
    assert grid is not None
    open_live(page, live_server)

    # An alert's task 4 min 10 s into its five minutes to arrive: amber, nobody moving yet.
    hostile = "<b>烟感 0.31</b> 3号楼"
    amber = make_task(live_server, TaskKind.ALERT, "MAP-T-1", hostile, timedelta(minutes=4, seconds=10))
    marker = pin(page, amber["task_id"])
    expect(marker).to_have_class("task-pin amber state-assigned")
    # A hazard whose result is ten minutes late: red. A lead without a site: in the list, not on the map.
    late = make_task(live_server, TaskKind.HAZARD, "MAP-T-2", "井盖缺失", timedelta(hours=2), east=0.03,
                     result_due=-timedelta(minutes=10))
    expect(pin(page, late["task_id"])).to_have_class("task-pin red state-assigned")
    siteless = make_task(live_server, TaskKind.LEAD, "MAP-T-3", "纠纷线索", timedelta(minutes=1), site=False)
    expect(page.locator(f"li[data-task-id='{siteless['task_id']}']")).to_have_count(1)
    expect(page.locator(".leaflet-marker-pane .task-pin")).to_have_count(2)

    # The tooltip: id, summary (as text), worker, state and the running clock.
    marker.hover()
    tooltip = page.locator(".leaflet-tooltip-pane .task-tooltip")
    expect(tooltip).to_contain_text(amber["task_id"])
    expect(tooltip).to_contain_text(hostile)
    expect(tooltip).to_contain_text(f"{grid.worker_zh} · {URBAN}")
    expect(tooltip).to_contain_text(re.compile(r"待接收 · 到场  0:[0-4]\d"))
    assert tooltip.locator("b").count() == 0
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / "grid-tasks-map.png"))
    page.mouse.move(5, 5)

    # Later events move the marker on: accepted, then on scene (the hour for photo and note: green again).
    app.tasks.accept(amber["task_id"], grid.worker_zh)
    expect(marker).to_have_class("task-pin amber state-accepted")
    app.tasks.arrive(amber["task_id"], grid.worker_zh, grid.centroid)
    expect(marker).to_have_class("task-pin ok state-on_scene")

    # The layers control hides and shows them like any overlay.
    layer_switch = page.locator(".leaflet-control-layers-overlays label", has_text="网格任务").locator("input")
    layer_switch.uncheck()
    expect(page.locator(".leaflet-marker-pane .task-pin")).to_have_count(0)
    layer_switch.check()
    expect(page.locator(".leaflet-marker-pane .task-pin")).to_have_count(2)

    # Finished tasks leave the map (the list keeps them an hour, marked): reported, or handed back.
    app.tasks.report(late["task_id"], grid.worker_zh, "resolved", "已更换井盖")
    expect(pin(page, late["task_id"])).to_have_count(0)
    expect(page.locator(f"li[data-task-id='{late['task_id']}']")).to_have_attribute("data-state", "reported")
    expect(marker).to_have_count(1)
    app.tasks.give_back(amber["task_id"], grid.worker_zh, "需专业人员处置")
    expect(page.locator(".leaflet-marker-pane .task-pin")).to_have_count(0)
    assert console_errors == []


def test_grid_tasks_map_ui002_an_overdue_grid_task_is_on_the_walls_overdue_list_ordered_by_lateness(
    live_server: LiveServer, page: Page, console_errors: list[str]
) -> None:
    app = live_server.app
    grid = app.grids.get(URBAN)
    assert grid is not None
    now = clock.now()
    with app.engine.begin() as conn:  # an instruction whose unit should have arrived ten minutes ago
        conn.execute(incidents.insert(), [{
            "event_id": "LATE-T", "stream_id": "1-0", "reported_at": now - timedelta(minutes=16), "ingested_at": now,
            "lon": 112.43, "lat": 39.33, "grid": URBAN, "category": "fight", "priority": 2,
            "address": "鄯阳街1号", "description": "", "caller": None, "source": "110", "status": "dispatched"}])
        conn.execute(instructions.insert(), [{
            "instruction_id": "INS-LATE-T", "idempotency_key": "late-t", "incident_id": "LATE-T", "unit_id": "PU-07",
            "state": "en_route", "text": "", "officer": "test", "zone": "urban",
            "issued_at": now - timedelta(minutes=15), "arrival_due": now - timedelta(minutes=10)}])
    # An alert's task made twenty minutes ago: its worker should have been there fifteen minutes ago.
    task = make_task(live_server, TaskKind.ALERT, "WALL-T-1", "打架 3号楼", timedelta(minutes=20))
    # One still in time is not overdue.
    make_task(live_server, TaskKind.ALERT, "WALL-T-2", "烟感", timedelta(minutes=1))

    open_screen(page, live_server, 1920, 1080)
    overdue = page.locator(f"#{ScreenID.OVERDUE} li.overdue-item")
    expect(overdue).to_have_count(2)
    first = overdue.nth(0)  # fifteen minutes late comes before ten
    expect(first).to_have_class("overdue-item grid-task")
    expect(first.locator(".overdue-text")).to_have_text(f"网格任务 · {grid.worker_zh} 到场超时")
    expect(first.locator(".overdue-late")).to_have_text(re.compile(r"^\+15:\d\d$"))
    expect(first.locator(".overdue-where")).to_have_text(URBAN)
    expect(overdue.nth(1)).to_have_class("overdue-item instruction")
    # The same look as the other overdue entries (the lateness in red, the same type and frame).
    looks = page.evaluate(f"""() => Array.from(document.querySelectorAll('#{ScreenID.OVERDUE} li.overdue-item'))
        .map(li => [li, li.querySelector('.overdue-late'), li.querySelector('.overdue-text')].map(n => {{
            const s = getComputedStyle(n);
            return [s.color, s.fontSize, s.display, s.borderLeftWidth, s.backgroundColor, s.paddingLeft];
        }}))""")
    assert looks[0] == looks[1]
    # The wall's map shows both open tasks, the late one red.
    expect(pin(page, task["task_id"])).to_have_class("task-pin red state-assigned")
    expect(page.locator(".leaflet-marker-pane .task-pin")).to_have_count(2)
    page.screenshot(path=str(SCREENSHOTS / "screen-overdue-grid-task.png"))

    # The worker arrives: the on-scene clock stops, the hour for the result runs; off the overdue list.
    app.tasks.arrive(task["task_id"], grid.worker_zh, grid.centroid)
    expect(page.locator(f"#{ScreenID.OVERDUE} li.overdue-item.grid-task")).to_have_count(0)
    expect(overdue).to_have_count(1)
    expect(pin(page, task["task_id"])).to_have_class("task-pin ok state-on_scene")
    assert console_errors == []
