"""Map interactions: grid selection, the details panel, the header clock, the grid tasks' markers."""

from __future__ import annotations

from dash import Dash, Input, Output, State, ctx, no_update
from dash.development.base_component import Component

from auth.guard import guard
from auth.roles import Permission, Viewer
from geo.index import GridIndex
from i18n import text
from layouts.ids import ID, LiveID
from layouts.shell import details_empty, grid_details
from settings import Settings


def register(app: Dash, grids: GridIndex, settings: Settings) -> None:
    """Attach the map callbacks to ``app``."""
    language = settings.language

    app.clientside_callback(
        "function(selected, hideout) { return Object.assign({}, hideout, {selected: selected}); }",
        Output(ID.GRID_LAYER, "hideout"),
        Input(ID.SELECTED_GRID, "data"),
        State(ID.GRID_LAYER, "hideout"),
        prevent_initial_call=True,
    )

    app.clientside_callback(
        "function(n) { return window.pingan.map.clockText(); }",
        Output(ID.CLOCK, "children"),
        Input(ID.CLOCK_TICK, "n_intervals"),
    )

    # The grid tasks' markers follow the tasks the page keeps from pushed batches (no request to the server).
    app.clientside_callback(
        "function(batch, n, texts) { window.pingan.map.tasksChanged(texts); }",  # no outputs
        Input(LiveID.SOCKET, "data-batch"),
        Input(LiveID.TICK, "n_intervals"),
        State(LiveID.TEXTS, "data"),
    )

    @app.callback(
        Output(ID.DETAILS_BODY, "children"),
        Output(ID.SELECTED_GRID, "data"),
        Input(ID.GRID_LAYER, "clickData"),
        Input(ID.DETAILS_CLOSE, "n_clicks"),
        prevent_initial_call=True,
    )
    @guard(Permission.VIEW_MAP, "grid.open")
    def show_grid(feature: dict | None, _close: int, viewer: Viewer) -> tuple[Component, str | None]:
        if ctx.triggered_id == ID.DETAILS_CLOSE or not feature:
            return details_empty(language), None
        # The browser's copy of the feature is untrusted: only its code is used.
        code = str((feature.get("properties") or {}).get("code", ""))[:16]
        grid = grids.get(code)
        if grid is None:
            return text("grid.unknown", language, code=code), no_update
        return grid_details(grid, language), grid.code
