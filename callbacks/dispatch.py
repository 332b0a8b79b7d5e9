"""Dispatch callbacks: thin; the guard checks the viewer, the dispatch service decides and records."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from typing import Any

from dash import ALL, Dash, Input, Output, State, no_update

from auth.guard import guard
from auth.lens import shown_caller
from auth.roles import Permission, Viewer
from dispatch.lifecycle import IllegalTransition
from dispatch.lifecycle import State as Step
from dispatch.service import DispatchService, Recommendation, Refused
from i18n import text
from layouts.dispatch import (
    REASSIGN_BUTTON,
    SEND_LABEL,
    Mode,
    dispatch_body,
    dispatch_empty,
    dispatch_form,
    dispatch_state,
    panel_mode,
)
from layouts.ids import DispatchID, LiveID
from media.store import Variant, media_url
from settings import Settings

OFFICER_ACTIONS = {"close": Step.CLOSED, "cancel": Step.CANCELLED}


def register(app: Dash, service: DispatchService, settings: Settings,
             evidence: Callable[[str], str | None] = lambda incident_id: None) -> None:
    """Attach the dispatch callbacks to ``app``; ``evidence`` names the snapshot an incident was raised from."""
    lang = settings.language

    def station_of(code: str) -> str | None:
        grid = service.grids.get(code)
        return grid.station if grid else None

    def view(incident_id: str, viewer: Viewer) -> tuple[Recommendation, list[dict[str, Any]]] | None:
        """The incident's recommendation and instructions, if this viewer may see it."""
        rec = service.recommend(incident_id[:64])
        if rec is None or not viewer.sees_station(station_of(rec.incident["grid"])):
            return None
        return rec, service.instructions_for(rec.incident["event_id"])

    def state_and_form(incident_id: str, viewer: Viewer, mode: str | None,
                       form_always: bool) -> tuple[object, object, object]:
        """The panel's state part, its form (when its mode changed, or ``form_always``) and the mode."""
        found = view(incident_id, viewer)
        if found is None:
            return no_update, no_update, no_update
        rec, instructions = found
        can_dispatch = viewer.can(Permission.DISPATCH)
        now = panel_mode(rec.incident, instructions)
        state = dispatch_state(rec.incident, instructions, service.log_for(rec.incident["event_id"]), lang,
                               can_dispatch)
        form = dispatch_form(rec, now, lang) if form_always or now != mode else no_update
        return state, form, now.value

    @app.callback(
        Output(DispatchID.BODY, "children"),
        Output(DispatchID.KEY, "data"),
        Output(DispatchID.MESSAGE, "children"),
        Output(DispatchID.MODE, "data"),
        Input(DispatchID.INCIDENT, "data"),
        prevent_initial_call=True,
    )
    @guard(Permission.OPEN_INCIDENT, "incident.open")
    def open_incident(incident_id: str | None, viewer: Viewer) -> tuple[object, str | None, str, str | None]:
        found = view(str(incident_id), viewer) if incident_id else None
        if found is None:
            return dispatch_empty(lang), None, "", None
        rec, instructions = found
        can_watch = viewer.can(Permission.WATCH_CAMERAS)
        snapshot = evidence(rec.incident["event_id"]) if can_watch and rec.incident["source"] == "sensor" else None
        body = dispatch_body(rec, instructions, service.log_for(rec.incident["event_id"]), lang,
                             shown_caller(viewer, rec.incident.get("caller")), viewer.can(Permission.DISPATCH),
                             viewer.can(Permission.OPEN_MEDIATION), can_watch=can_watch,
                             evidence=media_url(Variant.PHOTO, snapshot) if snapshot else None,
                             near_m=settings.video_near_m if settings.video else None)
        return body, uuid.uuid4().hex, "", panel_mode(rec.incident, instructions).value

    @app.callback(
        Output(DispatchID.STATE, "children"),
        Output(DispatchID.FORM, "children"),
        Output(DispatchID.MODE, "data", allow_duplicate=True),
        Input(DispatchID.REFRESH, "data"),
        State(DispatchID.INCIDENT, "data"),
        State(DispatchID.MODE, "data"),
        prevent_initial_call=True,
    )
    @guard(Permission.OPEN_INCIDENT, "incident.refresh")
    def follow(_bumped: int | None, incident_id: str | None, mode: str | None, viewer: Viewer) -> tuple[object, ...]:
        """Its incident moved (a unit answered, an officer acted): the panel shows where it stands now,
        and changes what it offers only when that changed (the officer's typing is kept)."""
        if not incident_id:
            return no_update, no_update, no_update
        return state_and_form(str(incident_id), viewer, mode, form_always=False)

    @app.callback(
        Output(DispatchID.MESSAGE, "children", allow_duplicate=True),
        Output(DispatchID.KEY, "data", allow_duplicate=True),
        Output(DispatchID.SENT, "data"),
        Output(DispatchID.STATE, "children", allow_duplicate=True),
        Output(DispatchID.FORM, "children", allow_duplicate=True),
        Output(DispatchID.MODE, "data", allow_duplicate=True),
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
             key: str | None, replaces: str | None, viewer: Viewer) -> tuple[object, ...]:
        if not clicks or not incident_id:
            return (no_update,) * 6
        try:
            result = service.send(str(incident_id), [str(u) for u in units or []], str(body or ""), viewer.username,
                                  str(key or ""), replaces=str(replaces)[:24] if replaces else None)
        except Refused as exc:
            return (text("dispatch.refused", lang, reason=exc.reason), *(no_update,) * 5)
        message = "dispatch.sent.duplicate" if result.duplicate else "dispatch.sent"
        # The panel shows the units on their instructions at once, and offers adding one instead of sending.
        state, form, mode = state_and_form(str(incident_id), viewer, None, form_always=True)
        sent = {"replaced": replaces or None, "ids": result.instruction_ids}
        return text(message, lang, ids=", ".join(result.instruction_ids)), uuid.uuid4().hex, sent, state, form, mode

    app.clientside_callback(
        # A send's answer ends the reassign mode it used, and only that one: the live list shows the new instruction
        # before the answer arrives, and a "reassign" chosen on it meanwhile must survive the late answer.
        "function(sent, current) { return sent && sent.replaced && sent.replaced === current ? null "
        ": window.dash_clientside.no_update; }",
        Output(DispatchID.REPLACES, "data", allow_duplicate=True),
        Input(DispatchID.SENT, "data"),
        State(DispatchID.REPLACES, "data"),
        prevent_initial_call=True,
    )

    app.clientside_callback(  # the buttons stay put (see dispatch_actions): what the panel offers shows them
        "function(mode, texts) { const labels = " + json.dumps({str(m): key for m, key in SEND_LABEL.items()})
        + "; const offered = mode === '" + Mode.SEND + "' || mode === '" + Mode.ADD + "'; "
        "return [texts.text[labels[mode] || labels['" + Mode.SEND + "']], !offered, mode !== '" + Mode.SEND + "']; }",
        Output(DispatchID.SEND, "children"),
        Output(DispatchID.SEND, "hidden"),
        Output(DispatchID.DIVERT, "hidden"),
        Input(DispatchID.MODE, "data"),
        State(LiveID.TEXTS, "data"),
        prevent_initial_call=True,
    )

    app.clientside_callback(  # a reassign button in the panel: the next send replaces that instruction
        "function(clicks) { const id = window.dash_clientside.callback_context.triggered_id; "
        "return id && clicks.some(function (n) { return n; }) ? id.instruction : window.dash_clientside.no_update; }",
        Output(DispatchID.REPLACES, "data", allow_duplicate=True),
        Input({"type": REASSIGN_BUTTON, "instruction": ALL}, "n_clicks"),
        prevent_initial_call=True,
    )

    app.clientside_callback(
        "function(incidentId) { window.pingan.live.panelShows(incidentId); }",  # no outputs
        Input(DispatchID.INCIDENT, "data"),
    )

    app.clientside_callback(
        "function(replaces, texts) { return replaces ? texts.text['dispatch.reassigning'].replace('{instruction}', "
        "replaces) : ''; }",
        Output(DispatchID.REASSIGN_NOTE, "children"),
        Input(DispatchID.REPLACES, "data"),
        State(LiveID.TEXTS, "data"),
    )

    @app.callback(
        Output(DispatchID.MESSAGE, "children", allow_duplicate=True),
        Output(DispatchID.STATE, "children", allow_duplicate=True),
        Output(DispatchID.FORM, "children", allow_duplicate=True),
        Output(DispatchID.MODE, "data", allow_duplicate=True),
        Input(DispatchID.DIVERT, "n_clicks"),
        State(DispatchID.INCIDENT, "data"),
        prevent_initial_call=True,
    )
    @guard(Permission.DISPATCH, "dispatch.divert")
    def divert(clicks: int, incident_id: str | None, viewer: Viewer) -> tuple[object, ...]:
        if not clicks or not incident_id:
            return (no_update,) * 4
        try:
            service.divert(str(incident_id)[:64], viewer.username, text("dispatch.divert.reason", lang))
        except Refused as exc:
            return (text("dispatch.refused", lang, reason=exc.reason), *(no_update,) * 3)
        return (text("dispatch.diverted", lang), *state_and_form(str(incident_id), viewer, None, form_always=True))

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
