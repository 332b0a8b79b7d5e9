"""Sensor-alert callbacks: thin; the guard checks the viewer, the alert service decides and records."""

from __future__ import annotations

from dash import Dash, Input, Output, no_update

from auth.guard import guard
from auth.roles import Permission, Viewer
from i18n import text
from layouts.ids import AlertID, DispatchID
from sensors.alerts import AlertRefused, AlertService
from settings import Settings


def register(app: Dash, alerts: AlertService, settings: Settings) -> None:
    """Attach the alert callbacks to ``app``."""
    lang = settings.language

    @app.callback(
        Output(AlertID.MESSAGE, "children"),
        Output(DispatchID.INCIDENT, "data"),
        Input(AlertID.ACTION, "data"),
        prevent_initial_call=True,
    )
    @guard(Permission.VERIFY_ALERTS, "alert.verify")
    def verify(action: dict | None, viewer: Viewer) -> tuple[str, object]:
        if not isinstance(action, dict) or not action.get("event_id"):
            return no_update, no_update
        try:
            result = alerts.verify(str(action["event_id"])[:64], str(action.get("verdict")), viewer.username,
                                   str(action.get("reason") or ""))
        except (AlertRefused, ValueError) as exc:
            return text("alert.refused", lang, reason=str(exc)), no_update
        # A confirmed alert is an incident now: the dispatch panel opens on it.
        message = text(f"alert.done.{result.verdict.value}", lang, seconds=round(result.seconds))
        return message, result.incident_id or no_update
