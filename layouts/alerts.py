"""The sensor-alert queue over the map (its cards are drawn by assets/pingan_alerts.js)."""

from __future__ import annotations

from dash import dcc, html

from i18n import text
from layouts.ids import AlertID
from settings import Settings


def alert_queue(settings: Settings) -> html.Section:
    lang = settings.language
    return html.Section(id=AlertID.QUEUE, className="alert-queue", role="alert", children=[
        html.Div(className="alert-queue-head", children=[
            html.H2(text("alert.queue.title", lang)),
            html.Span(id=AlertID.COUNT, className="alert-count"),
            html.Span(id=AlertID.BREACHES, className="breaches"),
        ]),
        # Filled by the page script; Dash never re-renders it.
        html.Ol(id=AlertID.LIST, className="alert-list"),
        html.Div(id=AlertID.MESSAGE, className="alert-message", role="status"),
        dcc.Store(id=AlertID.ACTION),
    ])
