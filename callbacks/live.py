"""Live callbacks: all client-side (the page applies pushed batches itself)."""

from __future__ import annotations

from dash import Dash, Input, Output, State

from layouts.ids import ID, AlertID, AuthID, DispatchID, LiveID, RiskID


def register_socket(app: Dash) -> None:
    """Subscribe to the push hub whenever the page's socket (re)connects (the officers' page and the wall)."""
    app.clientside_callback(
        "function(socketId, connected) { window.pingan.live.onSocket(socketId, connected); }",  # no outputs
        Input(LiveID.SOCKET, "socketId"),
        Input(LiveID.SOCKET, "connected"),
    )


def register(app: Dash) -> None:
    """Attach the live-layer callbacks to ``app``."""
    app.clientside_callback(
        "function(n) { if (n) { window.pingan.auth.logout('logout'); } }",  # no outputs
        Input(AuthID.LOGOUT, "n_clicks"),
        prevent_initial_call=True,
    )
    register_socket(app)
    app.clientside_callback(
        "function(b, t, c, s, x) { return window.pingan.live.update(b, t, c, s, x); }",
        Output(LiveID.FEED_COUNT, "children"),
        Output(LiveID.STATUS, "children"),
        Output(LiveID.STATUS, "className"),
        Output(LiveID.DEAD_LETTERS, "children"),
        Output(LiveID.GRID_LIVE, "children"),
        Output(DispatchID.BREACHES, "children"),
        Output(AlertID.COUNT, "children"),
        Output(AlertID.BREACHES, "children"),
        Output(RiskID.COUNT, "children"),
        Input(LiveID.SOCKET, "data-batch"),
        Input(LiveID.TICK, "n_intervals"),
        Input(LiveID.SOCKET, "connected"),
        Input(ID.SELECTED_GRID, "data"),
        State(LiveID.TEXTS, "data"),
    )
