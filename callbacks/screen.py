"""Big-screen callbacks: all client-side (the wall applies pushed batches itself; it never asks)."""

from __future__ import annotations

from dash import Dash, Input, Output, State

import callbacks.live
import callbacks.risk
from layouts.ids import IndicatorID, LiveID, ScreenID


def register(app: Dash) -> None:
    """Attach the big screen's callbacks to its Dash ``app``."""
    callbacks.live.register_socket(app)
    callbacks.risk.register_heatmap(app)  # the same heatmap as the officers' map
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
