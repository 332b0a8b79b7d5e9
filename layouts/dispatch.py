"""The dispatch panel (recommend, instruct, divert) and the open-instructions list."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any

from dash import dcc, html

from dispatch.recommend import Candidate
from dispatch.service import Recommendation
from i18n import text
from layouts.ids import DispatchID
from settings import Settings


def dispatch_panel(settings: Settings) -> html.Section:
    lang = settings.language
    return html.Section(id=DispatchID.PANEL, className="panel dispatch-panel", children=[
        html.Div(className="panel-head", children=[html.H2(text("dispatch.title", lang))]),
        html.Div(id=DispatchID.REASSIGN_NOTE, className="reassign-note"),
        html.Div(id=DispatchID.BODY, className="panel-body", children=dispatch_empty(lang)),
        html.Div(id=DispatchID.MESSAGE, className="dispatch-message", role="status"),
        dcc.Store(id=DispatchID.INCIDENT),
        dcc.Store(id=DispatchID.KEY),
        dcc.Store(id=DispatchID.ACTION),
        dcc.Store(id=DispatchID.REPLACES),
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
            html.Button(id=DispatchID.SEND), html.Button(id=DispatchID.DIVERT)]


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


def dispatch_body(rec: Recommendation, language: str, caller: str | None, can_dispatch: bool) -> list[object]:
    """The panel for one incident (every value rendered as text).

    ``caller`` is the number as this viewer may see it; without ``can_dispatch``
    the panel is read-only (the callbacks refuse such a viewer anyway).
    """
    inc = rec.incident
    grid = f"{inc['grid']} {rec.grid_name}".strip()
    fields = [
        ("dispatch.field.reported", _hhmmss(inc["reported_at"])),
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
    options = [{"label": _unit_label(c, language), "value": c.unit_id, "disabled": not c.offered}
               for c in rec.ranked[:12]]
    first = [rec.ranked[0].unit_id] if rec.ranked and rec.ranked[0].offered else []
    actions: list[object] = [
        html.Button(text("dispatch.send", language), id=DispatchID.SEND, n_clicks=0, className="btn primary"),
        html.Button(text("dispatch.divert", language), id=DispatchID.DIVERT, n_clicks=0, className="btn"),
    ] if can_dispatch else [html.P(text("dispatch.read_only", language), className="empty-hint")]
    return [
        html.H3(inc["event_id"], className="incident-id"),
        summary,
        html.H4(text("dispatch.units", language)),
        html.Div(className="unit-option unit-header", children=[
            html.Span(text(f"dispatch.col.{col}", language)) for col in ("unit", "status", "distance", "eta")]),
        # Always present (even empty): the send callback reads its value.
        dcc.Checklist(id=DispatchID.UNITS, options=options, value=first, className="unit-list"),
        None if options else html.P(text("dispatch.no_units", language), className="empty-hint"),
        html.P(text("dispatch.nearby", language, count=len(rec.nearby)), className="nearby"),
        html.Label(text("dispatch.text", language), htmlFor=DispatchID.TEXT),
        dcc.Textarea(id=DispatchID.TEXT, value=rec.suggested_text, className="dispatch-text", maxLength=1000),
        html.Div(className="dispatch-actions", children=actions),
    ]


BEIJING = timezone(timedelta(hours=8))
_STATES = {"issued", "received", "en_route", "on_scene", "result_reported", "closed", "cancelled", "reassigned"}


def dispatch_log(entries: list[dict[str, Any]], language: str) -> html.Details:
    """The incident's append-only log: who did what, when."""
    rows = []
    for entry in entries:
        action = str(entry["action"])
        label = text(f"state.{action}", language) if action in _STATES else text(f"status.{action}", language)
        rows.append(html.Li([
            html.Span(_hhmmss(entry["at"]), className="log-time"),
            html.Span(str(entry["actor"]), className="log-actor"),
            html.Span(label, className="log-action"),
            html.Span(str(entry["instruction_id"]), className="log-instruction"),
        ]))
    return html.Details(open=True, className="dispatch-log",
                        children=[html.Summary(text("dispatch.log", language)), html.Ol(rows)])


def _hhmmss(value: datetime) -> str:
    aware = value if value.tzinfo else value.replace(tzinfo=UTC)
    return aware.astimezone(BEIJING).strftime("%H:%M:%S")
