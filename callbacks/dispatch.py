"""Dispatch callbacks: thin; the guard checks the viewer, the dispatch service decides and records."""

from __future__ import annotations

import uuid

from dash import Dash, Input, Output, State, no_update
from dash.development.base_component import Component

from auth.guard import guard
from auth.lens import shown_caller
from auth.roles import Permission, Viewer
from dispatch.lifecycle import IllegalTransition
from dispatch.lifecycle import State as Step
from dispatch.service import DispatchService, Refused
from i18n import text
from layouts.dispatch import dispatch_body, dispatch_empty, dispatch_log
from layouts.ids import DispatchID, LiveID
from settings import Settings

OFFICER_ACTIONS = {"close": Step.CLOSED, "cancel": Step.CANCELLED}


def register(app: Dash, service: DispatchService, settings: Settings) -> None:
    """Attach the dispatch callbacks to ``app``."""
    lang = settings.language

    def station_of(code: str) -> str | None:
        grid = service.grids.get(code)
        return grid.station if grid else None

    @app.callback(
        Output(DispatchID.BODY, "children"),
        Output(DispatchID.KEY, "data"),
        Output(DispatchID.MESSAGE, "children"),
        Input(DispatchID.INCIDENT, "data"),
        prevent_initial_call=True,
    )
    @guard(Permission.OPEN_INCIDENT, "incident.open")
    def open_incident(incident_id: str | None, viewer: Viewer) -> tuple[list[Component] | Component, str | None, str]:
        rec = service.recommend(str(incident_id)[:64]) if incident_id else None
        if rec is None or not viewer.sees_station(station_of(rec.incident["grid"])):
            return dispatch_empty(lang), None, ""
        body = dispatch_body(rec, lang, shown_caller(viewer, rec.incident.get("caller")),
                             viewer.can(Permission.DISPATCH))
        return [*body, dispatch_log(service.log_for(rec.incident["event_id"]), lang)], uuid.uuid4().hex, ""

    @app.callback(
        Output(DispatchID.MESSAGE, "children", allow_duplicate=True),
        Output(DispatchID.KEY, "data", allow_duplicate=True),
        Output(DispatchID.REPLACES, "data", allow_duplicate=True),
        Input(DispatchID.SEND, "n_clicks"),
        State(DispatchID.INCIDENT, "data"),
        State(DispatchID.UNITS, "value"),
        State(DispatchID.TEXT, "value"),
        State(DispatchID.KEY, "data"),
        State(DispatchID.REPLACES, "data"),
        prevent_initial_call=True,
    )
    @guard(Permission.DISPATCH, "dispatch.send")
    def send(clicks: int, incident_id: str | None, units: list[str] | None, body: str | None,
             key: str | None, replaces: str | None, viewer: Viewer) -> tuple[str, object, object]:
        if not clicks or not incident_id:
            return no_update, no_update, no_update
        try:
            result = service.send(str(incident_id), [str(u) for u in units or []], str(body or ""), viewer.username,
                                  str(key or ""), replaces=str(replaces)[:24] if replaces else None)
        except Refused as exc:
            return text("dispatch.refused", lang, reason=exc.reason), no_update, no_update
        message = "dispatch.sent.duplicate" if result.duplicate else "dispatch.sent"
        return text(message, lang, ids=", ".join(result.instruction_ids)), uuid.uuid4().hex, None

    app.clientside_callback(
        "function(replaces, texts) { return replaces ? texts.text['dispatch.reassigning'].replace('{instruction}', "
        "replaces) : ''; }",
        Output(DispatchID.REASSIGN_NOTE, "children"),
        Input(DispatchID.REPLACES, "data"),
        State(LiveID.TEXTS, "data"),
    )

    @app.callback(
        Output(DispatchID.MESSAGE, "children", allow_duplicate=True),
        Input(DispatchID.DIVERT, "n_clicks"),
        State(DispatchID.INCIDENT, "data"),
        prevent_initial_call=True,
    )
    @guard(Permission.DISPATCH, "dispatch.divert")
    def divert(clicks: int, incident_id: str | None, viewer: Viewer) -> str:
        if not clicks or not incident_id:
            return no_update
        try:
            service.divert(str(incident_id)[:64], viewer.username, text("dispatch.divert.reason", lang))
        except Refused as exc:
            return text("dispatch.refused", lang, reason=exc.reason)
        return text("dispatch.diverted", lang)

    @app.callback(
        Output(DispatchID.MESSAGE, "children", allow_duplicate=True),
        Input(DispatchID.ACTION, "data"),
        prevent_initial_call=True,
    )
    @guard(Permission.DISPATCH, "dispatch.act")
    def act(action: dict | None, viewer: Viewer) -> str:
        target = OFFICER_ACTIONS.get(str((action or {}).get("action")))
        if target is None:
            return no_update
        try:
            service.transition(str(action["instruction_id"])[:24], target, viewer.username)
        except (Refused, IllegalTransition) as exc:
            return text("dispatch.refused", lang, reason=getattr(exc, "reason", str(exc)))
        return text(f"state.{target.value}", lang) + f": {action['instruction_id']}"
