"""Grid workers' tasks made directly through the task service, as an alert passed to a grid would make them."""

from __future__ import annotations

from typing import TYPE_CHECKING

import clock
from gridwork.tasks import TaskKind

if TYPE_CHECKING:
    from app import PinganApp


def task_in(app: PinganApp, grid: str, ref: str) -> str:
    """An alert's task on ``grid`` with a site near the district seat, published to the live stream; its id."""
    with app.engine.begin() as conn:
        row = app.tasks.create(conn, TaskKind.ALERT, ref, grid, f"看一看 {ref}", "duty", clock.now(),
                               site=(112.43, 39.33))
    app.tasks.relay()
    return str(row["task_id"])
