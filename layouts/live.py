"""The live layer: socket, feed panel and status pill (markers are drawn by assets/pingan_live.js)."""

from __future__ import annotations

from dash import dcc, html
from dash_socketio import DashSocketIO

import clock
import deadlines
import urls
from auth.roles import Permission, Viewer
from geo.scenarios import verify_within_s
from i18n import CATALOGUE, text
from layouts.ids import ID, AlertID, DispatchID, LiveID, PhoneID, RiskID, ScreenID, SupervisionID, TaskID
from layouts.indicators import indicator_texts
from layouts.map import DISTRICT_BOUNDS
from mediation.cases import TYPE_OF_RULE
from settings import Settings

# Catalogue sections the page script needs to label what it draws.
_TEXT_PREFIXES = ("category.", "source.", "status.", "unit.", "scenario.", "alert.", "live.", "panel.feed.",
                  "state.", "instructions.", "dispatch.reassigning", "dispatch.send", "dispatch.add_unit", "site.",
                  "device.", "lead.", "leads.", "ind.", "screen.", "priority.", "feed.", "time.", "tasks.", "phone.",
                  "supervision.", "revisits.kind.", "summary.", "dispatch.mediate", "mediation.clock.",
                  "mediation.type.", "video.", "report.notice", "report.daily.", "report.weekly.",
                  "report.monthly.")


def page_texts(settings: Settings, viewer: Viewer | None = None,
               stations: list[tuple[str, str]] | None = None) -> dict[str, object]:
    """Labels for the page script, plus the settings it runs by and what the viewer may do.

    The flags only spare a viewer buttons that would be refused: the server decides.
    """
    catalogue = CATALOGUE[settings.language]
    return {
        "canOpenIncident": bool(viewer and viewer.can(Permission.OPEN_INCIDENT)),
        "canDispatch": bool(viewer and viewer.can(Permission.DISPATCH)),
        "canVerify": bool(viewer and viewer.can(Permission.VERIFY_ALERTS)),
        # Live video (the server checks every camera again: video/gate.py) and how many streams a page plays.
        "canWatch": bool(viewer and viewer.can(Permission.WATCH_CAMERAS)),
        "videoMaxStreams": settings.video_max_streams,
        "videoOn": settings.video,
        "wallCameras": list(settings.wall_cameras),
        "verifyWithinS": verify_within_s(),
        "alertListId": AlertID.LIST,
        "alertQueueId": AlertID.QUEUE,
        "alertActionId": AlertID.ACTION,
        "deviceLayerId": ID.DEVICE_LAYER,
        "gridLayerId": ID.GRID_LAYER,
        "canHandleLeads": bool(viewer and viewer.can(Permission.HANDLE_LEADS)),
        # A dispute lead offers the mediation centre's triage form (risk rules whose disputes mediation takes).
        "canOpenMediation": bool(viewer and viewer.can(Permission.OPEN_MEDIATION)),
        "mediationRules": sorted(TYPE_OF_RULE),
        "leadListId": RiskID.LIST,
        "leadActionId": RiskID.ACTION,
        "riskVersionId": RiskID.VERSION,
        "text": {k: v for k, v in catalogue.items() if k.startswith(_TEXT_PREFIXES)},
        "staleAfterS": settings.stale_after_s,
        "urgentRecentS": settings.urgent_recent_hours * 3600,
        # The server's time and pace when the page was made; every pushed batch brings them again.
        "clock": {"now_ms": clock.timestamp() * 1000, "speed": clock.speed()},
        "panelRefreshId": DispatchID.REFRESH,
        "urls": urls.for_scripts(),  # the server's URLs the page script calls
        "lang": settings.language,
        "feedId": LiveID.FEED,  # the list the page script fills
        "instructionsId": DispatchID.INSTRUCTIONS,
        "incidentStoreId": DispatchID.INCIDENT,
        "actionStoreId": DispatchID.ACTION,
        "replacesStoreId": DispatchID.REPLACES,
        "taskListId": TaskID.LIST,
        "supervisionListId": SupervisionID.LIST,
        "supervisionCountId": SupervisionID.COUNT,
        "supervisionSummaryId": SupervisionID.SUMMARY,
        "canReadReports": bool(viewer and viewer.can(Permission.VIEW_REPORTS)),
        "phoneListId": PhoneID.LIST,
        "phoneActionId": PhoneID.ACTION,
        "phoneVolunteersId": PhoneID.VOLUNTEERS,
        "amberFrom": deadlines.AMBER_FROM,  # every clock on the page turns amber at this share of its budget
        **indicator_texts(stations or []),
        "screenRootId": ScreenID.ROOT,
        "districtBounds": DISTRICT_BOUNDS,  # the wall's map refits to it when the screen's size changes
        "screenTilesId": ScreenID.TILES,
        "screenNewestId": ScreenID.NEWEST,
        "screenOverdueId": ScreenID.OVERDUE,
        "screenTickerId": ScreenID.TICKER,
        "screenVideoId": ScreenID.VIDEO,
    }


def status_bar(settings: Settings) -> html.Div:
    return html.Div(className="live-status-bar", children=[
        html.Span(text("live.status.connecting", settings.language), id=LiveID.STATUS,
                  className="live-pill connecting"),
        html.Span(id=LiveID.DEAD_LETTERS, className="dead-letters"),
    ])


def feed_panel(settings: Settings) -> html.Section:
    lang = settings.language
    return html.Section(className="panel feed-panel", children=[
        html.Div(className="panel-head", children=[
            html.H2(text("panel.feed.title", lang)),
            html.Span(id=LiveID.FEED_COUNT, className="feed-count"),
        ]),
        # The page script fills this list row by row; Dash never re-renders it.
        html.Ol(id=LiveID.FEED, className="feed-list"),
    ])


def live_components(settings: Settings, viewer: Viewer | None = None,
                    stations: list[tuple[str, str]] | None = None) -> list[object]:
    """Non-visual parts: the socket, the local one-second tick, the page texts."""
    return [
        DashSocketIO(id=LiveID.SOCKET, eventNames=["batch"]),
        dcc.Interval(id=LiveID.TICK, interval=1000),  # a local clock for staleness; no server call
        dcc.Store(id=LiveID.TEXTS, data=page_texts(settings, viewer, stations)),
    ]
