"""The dispatch panel (recommend, instruct, divert) and the open-instructions list."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from dash import dcc, html

import clock
from dispatch.lifecycle import FINISHED_INCIDENTS, OPEN, REASSIGNABLE, State
from dispatch.recommend import Candidate
from dispatch.service import Recommendation
from i18n import text
from layouts.ids import DispatchID
from mediation.cases import TYPE_OF_CATEGORY
from settings import Settings
from store.db import as_utc
from urls import URL


def dispatch_panel(settings: Settings, can_dispatch: bool) -> html.Section:
    lang = settings.language
    return html.Section(id=DispatchID.PANEL, className="panel dispatch-panel", children=[
        html.Div(className="panel-head", children=[html.H2(text("dispatch.title", lang))]),
        html.Div(id=DispatchID.REASSIGN_NOTE, className="reassign-note"),
        html.Div(id=DispatchID.BODY, className="panel-body", children=dispatch_empty(lang)),
        dispatch_actions(lang) if can_dispatch else None,
        html.Div(id=DispatchID.MESSAGE, className="dispatch-message", role="status"),
        dcc.Store(id=DispatchID.INCIDENT),
        dcc.Store(id=DispatchID.KEY),
        dcc.Store(id=DispatchID.ACTION),
        dcc.Store(id=DispatchID.REPLACES),
        dcc.Store(id=DispatchID.SENT),
        dcc.Store(id=DispatchID.MODE),  # what the form offers now: re-rendered only when it changes
        dcc.Store(id=DispatchID.REFRESH),  # bumped by the page script when the incident's instructions move
    ])


def instructions_panel(settings: Settings) -> html.Section:
    lang = settings.language
    return html.Section(className="panel instructions-panel", children=[
        html.Div(className="panel-head", children=[
            html.H2(text("instructions.title", lang)),
            html.Span(id=DispatchID.BREACHES, className="breaches"),
        ]),
        # Filled and re-ordered by the page script every second (clocks run in the browser).
        html.Ol(id=DispatchID.INSTRUCTIONS, className="instructions-list"),
    ])


def dynamic_components() -> list[object]:
    """Components the dispatch panel renders later: listed so Dash can validate callbacks."""
    return [dcc.Checklist(id=DispatchID.UNITS), dcc.Textarea(id=DispatchID.TEXT),
            html.Button(id=DispatchID.SEND), html.Button(id=DispatchID.DIVERT),
            html.Div(id=DispatchID.STATE), html.Div(id=DispatchID.FORM)]


def dispatch_empty(language: str) -> html.P:
    return html.P(text("dispatch.empty", language), className="empty-hint")


def _unit_label(c: Candidate, language: str) -> html.Span:
    status = text(f"unit.{c.status}", language)
    return html.Span(className=f"unit-option {'offered' if c.offered else 'not-offered'}", children=[
        html.Span(c.unit_id, className="u-id"),
        html.Span(status, className=f"u-status {c.status}"),
        html.Span(text("dispatch.distance.value", language, km=c.distance_km), className="u-dist"),
        html.Span(text("dispatch.eta.value", language, minutes=c.eta_min), className="u-eta"),
    ])


class Mode(StrEnum):
    """What the panel offers for its incident."""

    SEND = "send"  # nothing dispatched yet: send (or divert to 12345)
    ADD = "add"  # units on their way: add a unit, or reassign one
    FINISHED = "finished"  # closed or diverted: nothing more to send


def panel_mode(incident: dict[str, Any], instructions: list[dict[str, Any]]) -> Mode:
    if incident["status"] in FINISHED_INCIDENTS:
        return Mode.FINISHED
    return Mode.ADD if any(State(i["state"]) in OPEN for i in instructions) else Mode.SEND


def dispatch_body(rec: Recommendation, instructions: list[dict[str, Any]], log: list[dict[str, Any]],
                  language: str, caller: str | None, can_dispatch: bool, can_mediate: bool = False,
                  can_watch: bool = False, evidence: str | None = None, near_m: float | None = None) -> list[object]:
    """The panel for one incident: what it is, where it stands (follows the live state), what can be sent.

    ``caller`` is the number as this viewer may see it; without ``can_dispatch``
    the panel is read-only (the callbacks refuse such a viewer anyway). A dispute offers the mediation
    centre's triage form to a viewer who may open a case (``can_mediate``). A viewer who may watch cameras
    (``can_watch``) sees the alert's snapshot the incident was raised from (``evidence``, its address) and, with
    live video on, the cameras within ``near_m`` of the scene, nearest first (filled by assets/pingan_video.js).
    """
    inc = rec.incident
    mode = panel_mode(inc, instructions)
    grid = f"{inc['grid']} {rec.grid_name}".strip()
    fields = [
        ("dispatch.field.reported", _when(inc["reported_at"])),
        ("dispatch.field.category", f"{text('category.' + inc['category'], language)} · P{inc['priority']}"),
        ("dispatch.field.grid", grid),
        ("dispatch.field.address", inc["address"]),
        ("dispatch.field.caller", caller or "—"),
        ("dispatch.field.description", inc["description"] or "—"),
    ]
    summary = html.Dl(className="grid-details incident-summary", children=[
        part for key, value in fields
        for part in (html.Dt(text(key, language)), html.Dd(value, **{"data-field": key}))
    ])
    return [
        html.H3(inc["event_id"], className="incident-id"),
        summary,
        html.Div(id=DispatchID.STATE, className="dispatch-state",
                 children=dispatch_state(inc, instructions, log, language, can_dispatch)),
        html.Div(id=DispatchID.FORM, className="dispatch-form", children=dispatch_form(rec, mode, language)),
        None if can_dispatch else html.P(text("dispatch.read_only", language), className="empty-hint"),
        html.A(text("dispatch.mediate", language), href=f"{URL.MEDIATION_NEW}?incident={inc['event_id']}",
               target="_blank", rel="noopener", className="btn small mediate-link")
        if can_mediate and inc["category"] in TYPE_OF_CATEGORY else None,
        html.Figure(id=DispatchID.EVIDENCE, className="panel-evidence", children=[
            html.Img(src=evidence, alt=text("panel.evidence", language)),
            html.Figcaption(text("panel.evidence", language))]) if can_watch and evidence else None,
        html.Div(id=DispatchID.CAMERAS, className="panel-cameras", **{
            "data-lon": str(inc["lon"]), "data-lat": str(inc["lat"]), "data-incident": inc["event_id"],
            "data-radius": f"{near_m:g}"}) if can_watch and near_m else None,
    ]


def dispatch_state(incident: dict[str, Any], instructions: list[dict[str, Any]], log: list[dict[str, Any]],
                   language: str, can_dispatch: bool) -> list[object]:
    """Where the incident stands: its status, each unit on it with its step and deadline, the log."""
    rows = []
    for ins in instructions:
        state = State(ins["state"])
        if state is State.REASSIGNED:
            continue
        due = ins["result_due"] if state is State.ON_SCENE else ins["arrival_due"]
        row: list[object] = [
            html.Span(ins["unit_id"], className="u-id"),
            html.Span(text(f"state.{state.value}", language), className="u-state"),
            html.Span(text("dispatch.due", language, time=_when(due)) if state in OPEN and due else "",
                      className="u-due"),
        ]
        if can_dispatch and state in REASSIGNABLE:
            row.append(html.Button(text("instructions.reassign", language), className="btn small reassign",
                                   id={"type": REASSIGN_BUTTON, "instruction": ins["instruction_id"]}, n_clicks=0))
        rows.append(html.Li(row, className=f"panel-instr {state.value}",
                            **{"data-instruction-id": ins["instruction_id"], "data-state": state.value}))
    return [
        html.P([html.Span(text("dispatch.field.status", language) + "："),
                html.Strong(text(f"status.{incident['status']}", language), className="incident-status")],
               className="dispatch-status", **{"data-status": incident["status"]}),
        html.Ol(rows, className="panel-instructions") if rows else None,
        dispatch_log(log, language),
    ]


def dispatch_form(rec: Recommendation, mode: Mode, language: str) -> list[object]:
    """The units to choose and the instruction to send, as ``mode`` allows."""
    if mode is Mode.FINISHED:
        return [html.P(text("dispatch.finished", language), className="empty-hint dispatch-finished")]
    options = [{"label": _unit_label(c, language), "value": c.unit_id, "disabled": not c.offered}
               for c in rec.ranked[:12]]
    # Tick the nearest free unit for a first send; adding a unit is a deliberate choice.
    first = [rec.ranked[0].unit_id] if mode is Mode.SEND and rec.ranked and rec.ranked[0].offered else []
    return [
        html.H4(text("dispatch.units" if mode is Mode.SEND else "dispatch.units.add", language)),
        html.Div(className="unit-option unit-header", children=[
            html.Span(text(f"dispatch.col.{col}", language)) for col in ("unit", "status", "distance", "eta")]),
        # Always present (even empty): the send callback reads its value.
        dcc.Checklist(id=DispatchID.UNITS, options=options, value=first, className="unit-list"),
        None if options else html.P(text("dispatch.no_units", language), className="empty-hint"),
        html.P(text("dispatch.nearby", language, count=len(rec.nearby)), className="nearby"),
        html.Label(text("dispatch.text", language), htmlFor=DispatchID.TEXT),
        dcc.Textarea(id=DispatchID.TEXT, value=rec.suggested_text, className="dispatch-text", maxLength=1000),
    ]


def dispatch_actions(language: str) -> html.Div:
    """The send and divert buttons: made once with the page, outside everything a callback re-renders.

    Dash re-runs a callback whose input component is re-created, dropping its answer in flight: while they lived in
    the form, a live push re-rendering it dropped the send's answer (its message and the next idempotency key).
    ``MODE`` shows and relabels them in place; they stay hidden until an incident is open.
    """
    return html.Div(className="dispatch-actions", children=[
        html.Button(text(SEND_LABEL[Mode.SEND], language), id=DispatchID.SEND, n_clicks=0, className="btn primary",
                    hidden=True),
        html.Button(text("dispatch.divert", language), id=DispatchID.DIVERT, n_clicks=0, className="btn", hidden=True),
    ])


SEND_LABEL = {Mode.SEND: "dispatch.send", Mode.ADD: "dispatch.add_unit"}  # what the send button says, by mode


REASSIGN_BUTTON = "dispatch-panel-reassign"  # pattern-matching id type of the panel's reassign buttons
_STATES = {s.value for s in State}


def dispatch_log(entries: list[dict[str, Any]], language: str) -> html.Details:
    """The incident's append-only log: who did what, when."""
    rows = []
    for entry in entries:
        action = str(entry["action"])
        label = text(f"state.{action}", language) if action in _STATES else text(f"status.{action}", language)
        rows.append(html.Li([
            html.Span(_when(entry["at"], seconds=True), className="log-time"),
            html.Span(str(entry["actor"]), className="log-actor"),
            html.Span(label, className="log-action"),
            html.Span(str(entry["instruction_id"]), className="log-instruction"),
        ]))
    return html.Details(open=True, className="dispatch-log",
                        children=[html.Summary(text("dispatch.log", language)), html.Ol(rows)])


def _when(value: datetime, seconds: bool = False) -> str:
    """A Beijing time as people read it: the time today, with the date on another day."""
    local = clock.local(as_utc(value))
    shown = local.strftime("%H:%M:%S" if seconds else "%H:%M")
    return shown if local.date() == clock.today() else f"{local:%m-%d} {shown}"
