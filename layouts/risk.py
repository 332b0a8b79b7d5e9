"""Risk on the page: the heatmap's legend and window, the grid's explanation, the leads board."""

from __future__ import annotations

from typing import Any

from dash import dcc, html

from auth.roles import Permission, Viewer
from i18n import text
from layouts.ids import RiskID
from settings import Settings

WINDOWS = ("24h", "7d", "30d")
DEFAULT_WINDOW = "7d"


def risk_legend(settings: Settings) -> html.Div:
    lang = settings.language
    return html.Div(className="risk-legend", children=[
        html.Div([html.Span(className=f"swatch risk-{grade}"), text(f"risk.legend.{grade}", lang)])
        for grade in ("high", "medium", "low")
    ] + [
        html.Div(className="risk-window", children=[
            html.Span(text("risk.window", lang), className="risk-window-label"),
            dcc.RadioItems(id=RiskID.WINDOW, options=[{"label": w, "value": w} for w in WINDOWS],
                           value=DEFAULT_WINDOW, inline=True, className="risk-window-options"),
        ]),
        dcc.Store(id=RiskID.VERSION),
    ])


def leads_board(settings: Settings, viewer: Viewer | None) -> html.Section:
    lang = settings.language
    can_run = bool(viewer and viewer.can(Permission.RUN_RISK))
    return html.Section(id=RiskID.BOARD, className="panel leads-panel", children=[
        html.Div(className="panel-head", children=[
            html.H2(text("leads.title", lang)),
            html.Span(id=RiskID.COUNT, className="leads-count"),
            # Always in the layout (its callback needs it); shown only to roles that may run.
            html.Button(text("risk.run", lang), id=RiskID.RUN, n_clicks=0, className="btn small", hidden=not can_run),
        ]),
        # Filled and re-ordered by the page script every second (countdowns run in the browser).
        html.Ol(id=RiskID.LIST, className="leads-list"),
        html.Div(id=RiskID.MESSAGE, className="dispatch-message", role="status"),
        dcc.Store(id=RiskID.ACTION),
    ])


def risk_details(detail: dict[str, Any] | None, window: str, language: str) -> html.Div:
    """Why the grid is graded so in ``window``: the grade, its numbers, the top factors."""
    if detail is None:
        return html.Div(className="risk-details", children=[
            html.H4(f"{text('risk.details.title', language)} · {window}"),
            html.P(text("risk.details.none", language), className="empty-hint")])
    grade = text(f"risk.legend.{detail['grade']}", language)
    factors = [html.Li(f"{_factor(key, language)} {share * 100:.0f}%") for key, share in detail["factors"]]
    return html.Div(className=f"risk-details risk-{detail['grade']}", children=[
        html.H4(f"{text('risk.details.title', language)} · {window}"),
        html.P(text("risk.details.value", language, grade=grade, score=detail["score"],
                    expected=detail["expected"], ratio=detail["ratio"]), **{"data-field": "risk.grade"}),
        html.Ol(factors, className="risk-factors"),
    ])


def _factor(key: str, language: str) -> str:
    if key.startswith("category:"):
        return text(f"category.{key.split(':', 1)[1]}", language)
    return text(f"risk.factor.{key}", language)
