"""The command-hall big screen (``/screen/``): a 16:9 LED wall, dark, read from ten metres, unattended.

A second Dash app on the same server, fed by the same pushed batches as the
officers' page (assets/pingan_live.js applies them). Everything on it is drawn by
assets/pingan_screen.js and assets/pingan_indicators.js; sizes are in units of the
screen's height, so 1920x1080 and 3840x2160 show the same picture.
"""

from __future__ import annotations

from dash import dcc, html

from auth.roles import Viewer
from i18n import text
from layouts.ids import IndicatorID, ScreenID
from layouts.live import live_components
from layouts.map import command_map
from layouts.risk import risk_legend
from layouts.shell import auth_config
from settings import Settings

_GRAPH_CONFIG = {"displayModeBar": False, "responsive": True, "staticPlot": True}  # nothing to click on a wall


def screen_page(settings: Settings, viewer: Viewer | None = None,
                stations: list[tuple[str, str]] | None = None) -> html.Div:
    """The whole wall."""
    lang = settings.language
    return html.Div(id=ScreenID.ROOT, className="screen", lang=lang, children=[
        html.Header(className="screen-header", children=[
            html.Div(className="screen-brand", children=[
                html.H1(text("app.title", lang)),
                html.Span(text("screen.subtitle", lang), className="screen-subtitle"),
            ]),
            html.Div(text("live.status.connecting", lang), id=ScreenID.FEED, className="screen-feed connecting"),
            html.Time(id=ScreenID.CLOCK, className="screen-clock"),
        ]),
        html.Section(className="screen-left", children=[
            html.H2(text("screen.today", lang)),
            html.Div(id=ScreenID.TILES, className="ind-tiles screen-tiles"),
        ]),
        html.Main(className="screen-map", children=[
            command_map(settings, interactive=False),
            html.Div(id=ScreenID.NEWEST, className="screen-newest", hidden=True),
            # The scene video over the map's south-east corner (assets/pingan_video.js): the newest urgent event's
            # camera, then the wall's own set.
            html.Div(id=ScreenID.VIDEO, className="screen-video", **{"aria-label": text("video.wall.title", lang)}),
            html.Div(className="map-legend", children=[
                # The wall hides the layers control: its legend names the grid tasks' diamonds.
                html.Div([html.Span(className="swatch grid-task"), text("map.layer.tasks", lang)],
                         className="legend-tasks"),
                risk_legend(settings),
            ]),
        ]),
        html.Section(className="screen-right", children=[
            html.H2(text("screen.overdue", lang)),
            html.Ol(id=ScreenID.OVERDUE, className="screen-overdue"),
            dcc.Graph(id=ScreenID.GAUGES, className="screen-graph gauges", config=_GRAPH_CONFIG, figure={}),
            dcc.Graph(id=ScreenID.TREND, className="screen-graph trend", config=_GRAPH_CONFIG, figure={}),
        ]),
        html.Footer(className="screen-footer", children=[
            html.Span(text("screen.latest", lang), className="screen-ticker-label"),
            html.Ol(id=ScreenID.TICKER, className="screen-ticker"),
        ]),
        dcc.Store(id=IndicatorID.VERSION, data=0),
        auth_config(settings, viewer),
        *live_components(settings, viewer, stations),
    ])
