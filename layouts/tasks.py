"""The hall's lists filled from pushed events: grid workers' tasks (assets/pingan_tasks.js) and open escalations
(assets/pingan_supervision.js)."""

from __future__ import annotations

from dash import html

from auth.roles import Permission, Viewer
from i18n import text
from layouts.ids import SupervisionID, TaskID
from settings import Settings
from urls import URL


def tasks_panel(settings: Settings) -> html.Section:
    lang = settings.language
    return html.Section(id=TaskID.PANEL, className="panel tasks-panel", children=[
        html.Div(className="panel-head", children=[html.H2(text("tasks.title", lang))]),
        # Each task with its running clock (on scene, then the result), the late ones first.
        html.Ol(id=TaskID.LIST, className="tasks-list"),
    ])


def supervision_board(settings: Settings, viewer: Viewer | None) -> html.Section | None:
    """Open escalations for those who answer them (district first, then by deadline); ``/supervision`` has
    the whole record and the response form."""
    if viewer is None or not viewer.can(Permission.VIEW_SUPERVISION):
        return None
    lang = settings.language
    return html.Section(id=SupervisionID.PANEL, className="panel supervision-panel", children=[
        html.Div(className="panel-head", children=[
            html.H2(text("supervision.board", lang)),
            html.Span(id=SupervisionID.COUNT, className="leads-count"),
            html.A(text("supervision.board.more", lang), href=URL.SUPERVISION, className="btn small"),
        ]),
        html.Div(id=SupervisionID.SUMMARY, className="supervision-summary", hidden=True),
        html.Ol(id=SupervisionID.LIST, className="supervision-list"),
    ])
