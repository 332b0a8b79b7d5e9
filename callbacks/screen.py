"""Big-screen callbacks: all client-side (the wall applies pushed batches itself; it never asks)."""

from __future__ import annotations

from dash import Dash, Input, Output, State

from layouts.ids import ID, IndicatorID, LiveID, RiskID, ScreenID


def register(app: Dash) -> None:
    """Attach the big screen's callbacks to its Dash ``app``."""
    app.clientside_callback(
        "function(socketId, connected) { window.pingan.live.onSocket(socketId, connected); }",  # no outputs
        Input(LiveID.SOCKET, "socketId"),
        Input(LiveID.SOCKET, "connected"),
    )
    app.clientside_callback(
        "function(b, n, c, texts) { return window.pingan.screen.update(b, n, c, texts); }",
        Output(ScreenID.FEED, "children"),
        Output(ScreenID.FEED, "className"),
        Output(ScreenID.CLOCK, "children"),
        Input(LiveID.SOCKET, "data-batch"),
        Input(LiveID.TICK, "n_intervals"),
        Input(LiveID.SOCKET, "connected"),
        State(LiveID.TEXTS, "data"),
    )
    app.clientside_callback(
        "function(v, texts) { return window.pingan.screen.charts(v, texts); }",
        Output(ScreenID.GAUGES, "figure"),
        Output(ScreenID.TREND, "figure"),
        Input(IndicatorID.VERSION, "data"),
        State(LiveID.TEXTS, "data"),
    )
    # The same heatmap as the officers' map: new grades restyle the grids through hideout only.
    app.clientside_callback(
        "function(window_, version, hideout) { return window.pingan.risk.hideout(window_, hideout); }",
        Output(ID.GRID_LAYER, "hideout"),
        Input(RiskID.WINDOW, "value"),
        Input(RiskID.VERSION, "data"),
        State(ID.GRID_LAYER, "hideout"),
        prevent_initial_call=True,
    )
