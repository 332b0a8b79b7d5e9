"""Indicators callbacks: the view switch and the charts run in the page; the drill-down asks the server."""

from __future__ import annotations

from dash import Dash, Input, Output, State
from dash.development.base_component import Component

from auth.guard import guard
from auth.roles import Permission, Viewer
from geo.index import GridIndex
from i18n import text
from indicators.compute import DISTRICT, Period
from indicators.live import Indicators
from layouts.ids import IndicatorID, LiveID
from layouts.indicators import grid_table
from settings import Settings


def register(app: Dash, indicators: Indicators, grids: GridIndex, settings: Settings) -> None:
    """Attach the indicators callbacks to ``app``."""
    lang = settings.language
    names = {code: grid.localized("name", lang) for code in grids.codes if (grid := grids.get(str(code)))}

    app.clientside_callback(
        """function(n, texts) {
            const shown = n % 2 === 1;
            const t = window.pingan.dom.text;
            return [!shown, shown, t(texts, shown ? "ind.toggle.hide" : "ind.toggle.show")];
        }""",
        Output(IndicatorID.VIEW, "hidden"),
        Output(IndicatorID.SHOWN, "data"),
        Output(IndicatorID.TOGGLE, "children"),
        Input(IndicatorID.TOGGLE, "n_clicks"),
        State(LiveID.TEXTS, "data"),
        prevent_initial_call=True,
    )
    app.clientside_callback(
        "function(v, scope, shown, texts) { return window.pingan.indicators.panel(v, scope, shown, texts); }",
        Output(IndicatorID.ASOF, "children"),
        Output(IndicatorID.TREND, "figure"),
        Output(IndicatorID.CATEGORIES, "figure"),
        Output(IndicatorID.ARRIVAL, "figure"),
        Output(IndicatorID.RESULT, "figure"),
        Output(IndicatorID.GAUGES, "figure"),
        Input(IndicatorID.VERSION, "data"),
        Input(IndicatorID.SCOPE, "value"),
        Input(IndicatorID.SHOWN, "data"),
        State(LiveID.TEXTS, "data"),
    )

    @app.callback(
        Output(IndicatorID.GRIDS, "children"),
        Input(IndicatorID.SCOPE, "value"),
        Input(IndicatorID.SHOWN, "data"),
        prevent_initial_call=True,
    )
    @guard(Permission.VIEW_MAP, "indicators.grids")
    def station_grids(scope: str | None, shown: bool, viewer: Viewer) -> Component | str:
        station = str(scope or "")[:16]
        if not shown or station == DISTRICT or not viewer.sees_station(station):
            return text("ind.grids.pick", lang)
        rows = indicators.station_grids(station, Period.today(indicators.clock()))
        if not rows:
            return text("ind.grids.pick", lang)
        return grid_table(rows, names, lang)
