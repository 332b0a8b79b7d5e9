"""The hall's list of grid workers' tasks: filled by the page script (assets/pingan_tasks.js) from pushed events."""

from __future__ import annotations

from dash import html

from i18n import text
from layouts.ids import TaskID
from settings import Settings


def tasks_panel(settings: Settings) -> html.Section:
    lang = settings.language
    return html.Section(id=TaskID.PANEL, className="panel tasks-panel", children=[
        html.Div(className="panel-head", children=[html.H2(text("tasks.title", lang))]),
        # Each task with its running clock (on scene, then the result), the late ones first.
        html.Ol(id=TaskID.LIST, className="tasks-list"),
    ])
