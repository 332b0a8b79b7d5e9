"""The field's phone page: the page script applies pushed batches; one guarded callback takes each step.

A step is taken only on one's own task: a grid worker's grids', or one handed to a volunteer (the lens
never shows them others, and a forged request for another task is refused and audited here). Only the
grid worker hands a task to a volunteer, and only to one of the task's grid.
"""

from __future__ import annotations

from typing import Any

from dash import Dash, Input, Output, State, no_update

import callbacks.live
from auth.guard import guard, security
from auth.roles import Permission, Role, Viewer
from gridwork.tasks import TERMINAL, TaskRefused, TaskService, TaskState
from i18n import text
from layouts.ids import AuthID, LiveID, PhoneID
from settings import Settings
from store import audit

OUTCOMES = ("resolved", "false_alarm", "referred")  # what a grid worker may report (phone.outcome.*)


def register(app: Dash, tasks: TaskService, settings: Settings) -> None:
    """Attach the phone page's callbacks to its Dash ``app``."""
    lang = settings.language
    callbacks.live.register_socket(app)
    app.clientside_callback(
        "function(n) { if (n) { window.pingan.auth.logout('logout'); } }",  # no outputs
        Input(AuthID.LOGOUT, "n_clicks"),
        prevent_initial_call=True,
    )
    app.clientside_callback(
        "function(b, t, c, x) { return window.pingan.phone.update(b, t, c, x); }",
        Output(PhoneID.STATUS, "children"),
        Output(PhoneID.STATUS, "className"),
        Input(LiveID.SOCKET, "data-batch"),
        Input(LiveID.TICK, "n_intervals"),
        Input(LiveID.SOCKET, "connected"),
        State(LiveID.TEXTS, "data"),
    )

    def refused(reason: str) -> str:
        return text("phone.refused", lang, reason=text(f"phone.refused.{reason}", lang))

    @app.callback(
        Output(PhoneID.MESSAGE, "children"),
        Input(PhoneID.ACTION, "data"),
        prevent_initial_call=True,
    )
    @guard(Permission.TAKE_TASK_STEPS, "task.step")
    def step(action: dict[str, Any] | None, viewer: Viewer) -> str:
        if not isinstance(action, dict) or not action.get("task_id"):
            return no_update
        task_id, kind = str(action["task_id"])[:24], str(action.get("action", ""))
        task = tasks.get(task_id)
        if task is None:
            return refused("unknown")
        if not viewer.takes_steps_of(task) or (kind == "hand" and not viewer.works_grid(task["grid"])):
            security().record(viewer, "task.step", outcome=audit.Outcome.REFUSED, target=task_id,
                              detail=f"{kind}: grid {task['grid']} is not the viewer's")
            return refused("not_yours")
        if TaskState(task["state"]) in TERMINAL:
            return refused("finished")
        note = str(action.get("note") or "")[:500]
        try:
            if kind == "accept":
                done = tasks.accept(task_id, viewer.username)
            elif kind == "arrive":
                done = tasks.arrive(task_id, viewer.username, _position(action))
            elif kind == "report":
                outcome = str(action.get("outcome"))
                done = tasks.report(task_id, viewer.username, outcome if outcome in OUTCOMES else "resolved", note)
            elif kind == "hand":
                volunteer = str(action.get("volunteer") or "")[:64]
                if volunteer not in security().users.workers_of(task["grid"], Role.VOLUNTEER):
                    return refused("volunteer")
                done = tasks.hand_to(task_id, viewer.username, volunteer)
                return text("phone.handed", lang, task=task_id, volunteer=volunteer)
            elif kind == "give_back":
                if not note.strip():
                    return refused("reason")
                done = tasks.give_back(task_id, viewer.username, note)
            else:
                return no_update
        except TaskRefused as exc:
            return refused(exc.reason)
        return text("phone.done", lang, task=task_id, step=text(f"tasks.state.{done.task['state']}", lang))


def _position(action: dict[str, Any]) -> tuple[float, float] | None:
    """The phone's position, if it sent a plausible one (the site check is the domain's)."""
    try:
        lon, lat = float(action["lon"]), float(action["lat"])
    except (KeyError, TypeError, ValueError):
        return None
    return (lon, lat) if -180 <= lon <= 180 and -90 <= lat <= 90 else None
