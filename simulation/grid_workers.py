"""Simulated grid workers answering their tasks, so `make run` shows the grid's side of the loop working.

They follow the same live events the phones follow (``grid_task`` on ``{cc}:live``) and take the steps a
person would take on the phone page, through the same :class:`gridwork.tasks.TaskService`: most accept
within a minute or two, arrive within their clock and send the result well inside the hour; some are
late; a few cannot handle the task and hand it back with a reason. An alert's result comes with one or
two photos (simulation/photos.py), sent through the same checks as a phone's. Times run at the clock's
pace.
"""

from __future__ import annotations

import heapq
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, ClassVar, cast

import numpy as np
import redis

import clock
from bus import keys
from bus.connection import StreamsReply
from bus.events import Live, decode
from gridwork.tasks import TaskKind, TaskRefused, TaskService
from simulation.photos import field_photo

log = logging.getLogger(__name__)

Step = Callable[[], object]


@dataclass
class GridWorkers:
    """Simulated grid workers, one for every grid, taking their tasks' steps at the clock's pace."""

    r: redis.Redis
    tasks: TaskService
    seed: int = 11
    speed: float | None = None  # a test may hurry them; their stamps stay the clock's
    LATE_SHARE: ClassVar[float] = 0.15
    GIVE_BACK_SHARE: ClassVar[float] = 0.05
    NOTES: ClassVar[tuple[str, ...]] = ("已到现场核实，情况已处置", "已联系物业共同查看，已消除隐患",
                                        "现场无异常，已告知住户", "已劝离相关人员并做好登记", "已拍照留存，已通知社区")
    REASONS: ClassVar[tuple[str, ...]] = ("需消防专业处置", "当事人拒绝配合，需民警到场", "不在本人网格，请改派")
    rng: np.random.Generator = field(init=False)
    due: list[tuple[float, int, Step]] = field(init=False, default_factory=list)
    cursor: str = "$"
    serial: int = 0

    def __post_init__(self) -> None:
        self.rng = np.random.default_rng(self.seed)

    def _at(self, world_s: float, now: float, step: Step) -> None:
        self.serial += 1
        heapq.heappush(self.due, (now + world_s / (self.speed or clock.speed()), self.serial, step))

    def _seconds_until(self, due: str | None, fallback_s: float) -> float:
        return (datetime.fromisoformat(due) - clock.now()).total_seconds() if due else fallback_s

    def plan(self, task: dict[str, Any], now: float) -> None:
        """Schedule one new task's steps (world seconds from now)."""
        if task["state"] != "assigned":  # each task is announced assigned once: its later moves are ours
            return
        task_id, worker = task["task_id"], task["worker"] or "grid-worker"
        late = self.rng.random() < self.LATE_SHARE
        accept = float(self.rng.uniform(20, 120))
        self._at(accept, now, lambda: self.tasks.accept(task_id, worker))
        if self.rng.random() < self.GIVE_BACK_SHARE:
            reason = str(self.rng.choice(self.REASONS))
            self._at(accept + 60, now, lambda: self.tasks.give_back(task_id, worker, reason))
            return
        site = (task["lon"], task["lat"]) if task.get("lon") is not None else None
        arrive = accept
        if task.get("on_scene_due"):
            budget = self._seconds_until(task["on_scene_due"], 300)
            share = float(self.rng.uniform(1.1, 1.6) if late else self.rng.uniform(0.4, 0.9))
            arrive = max(accept + 10, budget * share)
            self._at(arrive, now, lambda: self.tasks.arrive(task_id, worker, site))
        # The result: within the hour after arriving for an alert, within its own budget otherwise.
        result_budget = 3600.0 if task["kind"] == "alert" else self._seconds_until(task.get("result_due"), 3600)
        share = float(self.rng.uniform(1.05, 1.3) if late else self.rng.uniform(0.2, 0.8))
        note = str(self.rng.choice(self.NOTES))
        done = arrive + result_budget * share
        if task["kind"] == TaskKind.ALERT:  # "photo + note": the photos just before the result
            for n in range(int(self.rng.integers(1, 3))):
                self._at(done - 30 + n, now, self._photo_step(task_id, worker, f"{task_id} · {n + 1}", site))
        self._at(done, now, lambda: self.tasks.report(task_id, worker, "resolved", note))

    def _photo_step(self, task_id: str, worker: str, caption: str, site: tuple[float, float] | None) -> Step:
        """Taking and sending a photo (drawn when it is taken, not when it is planned)."""
        return lambda: self.tasks.add_photo(task_id, worker, field_photo(self.rng, caption, site))

    def step(self, block_ms: int = 0) -> int:
        """Read new task events and take the steps that are due; returns steps taken."""
        now = time.monotonic()
        if self.cursor == "$":  # from now on: the newest id, so nothing between two reads is missed
            newest = self.r.xrevrange(keys.LIVE, count=1)
            self.cursor = str(newest[0][0]) if newest else "0-0"
        response = cast(StreamsReply, self.r.xread({keys.LIVE: self.cursor}, count=500, block=block_ms or None))
        for _, entries in response or []:
            for entry_id, fields in entries:
                self.cursor = entry_id
                if fields.get("type") == Live.GRID_TASK:
                    self.plan(decode(entry_id, fields)["data"], now)
        taken = 0
        while self.due and self.due[0][0] <= time.monotonic():
            _, _, take = heapq.heappop(self.due)
            try:
                take()
                taken += 1
            except TaskRefused:
                pass  # the task ended meanwhile (called off, or handed back by a real phone)
        return taken

    def run(self, stop: threading.Event, tick_ms: int = 500) -> None:
        while not stop.is_set():
            try:
                self.step(block_ms=tick_ms)
            except (redis.ConnectionError, redis.TimeoutError) as exc:
                log.warning("grid workers: Redis unavailable (%s)", exc)
                stop.wait(1.0)
