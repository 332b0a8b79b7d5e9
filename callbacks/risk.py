"""Risk callbacks: the heatmap (client-side, hideout only), the grid's explanation, runs and leads."""

from __future__ import annotations

from dash import Dash, Input, Output, State, no_update
from dash.development.base_component import Component

from auth.guard import guard
from auth.roles import Permission, Viewer
from i18n import text
from layouts.ids import ID, RiskID
from layouts.risk import WINDOWS, risk_details
from risk.engine import RiskEngine
from risk.leads import LeadRefused
from settings import Settings


def register_heatmap(app: Dash) -> None:
    """New grades or another window: only the grid layer's hideout changes, never its geometry
    (the officers' map and the wall's)."""
    app.clientside_callback(
        "function(window_, version, hideout) { return window.pingan.risk.hideout(window_, hideout); }",
        Output(ID.GRID_LAYER, "hideout", allow_duplicate=True),
        Input(RiskID.WINDOW, "value"),
        Input(RiskID.VERSION, "data"),
        State(ID.GRID_LAYER, "hideout"),
        prevent_initial_call=True,
    )


def register(app: Dash, risk: RiskEngine, settings: Settings) -> None:
    """Attach the risk callbacks to ``app``."""
    lang = settings.language

    register_heatmap(app)

    @app.callback(
        Output(ID.DETAILS_RISK, "children"),
        Input(ID.SELECTED_GRID, "data"),
        Input(RiskID.WINDOW, "value"),
        prevent_initial_call=True,
    )
    @guard(Permission.VIEW_MAP, "risk.explain")
    def explain(grid: str | None, window: str | None, viewer: Viewer) -> Component | None:
        if not grid or window not in WINDOWS:
            return None
        return risk_details(risk.detail(str(grid)[:16], window), window, lang)

    @app.callback(
        Output(RiskID.MESSAGE, "children"),
        Input(RiskID.RUN, "n_clicks"),
        prevent_initial_call=True,
    )
    @guard(Permission.RUN_RISK, "risk.run")
    def run_now(clicks: int, viewer: Viewer) -> str:
        if not clicks:
            return no_update
        result = risk.run("on_demand", by=viewer.username)
        return text("risk.run.done", lang, seconds=f"{result.seconds:.1f}", leads=result.leads_created)

    @app.callback(
        Output(RiskID.MESSAGE, "children", allow_duplicate=True),
        Input(RiskID.ACTION, "data"),
        prevent_initial_call=True,
    )
    @guard(Permission.HANDLE_LEADS, "lead.handle")
    def act(action: dict | None, viewer: Viewer) -> str:
        if not isinstance(action, dict) or not action.get("lead_id"):
            return no_update
        lead_id, kind = str(action["lead_id"])[:24], str(action.get("action"))
        lead = risk.leads.get(lead_id)
        if lead is None or not viewer.sees_station(lead["station"]):  # a station handles its own leads
            return text("lead.refused", lang, reason=text("lead.refused.unknown", lang))
        try:
            if kind == "ack":
                risk.leads.acknowledge(lead_id, viewer.username)
                return text("lead.done.acknowledged", lang)
            if kind in {"useful", "not_useful"}:
                risk.leads.handle(lead_id, viewer.username, str(action.get("result") or ""), kind == "useful")
                return text("lead.done.handled", lang)
        except LeadRefused as exc:
            return text("lead.refused", lang, reason=str(exc))
        return no_update
