"""The single page: header, map in the centre, side panels.

Laid out with CSS grid (assets/pingan.css) for a 1920x1080 command-hall screen
and a duty officer's desktop; later panels (live feed, dispatch, indicators)
take their places in the side column.
"""

from __future__ import annotations

from dash import dcc, html

from auth.roles import Permission, Viewer
from geo.grids import GRID_COUNT
from geo.index import Grid
from i18n import text
from layouts.alerts import alert_queue
from layouts.dispatch import dispatch_panel, instructions_panel
from layouts.ids import ID, AuthID, LiveID
from layouts.indicators import indicators_toggle, indicators_view
from layouts.live import feed_panel, live_components, status_bar
from layouts.map import command_map
from layouts.risk import leads_board, risk_legend
from layouts.tasks import supervision_board, tasks_panel
from settings import Settings
from urls import URL


def user_corner(settings: Settings, viewer: Viewer | None) -> html.Div:
    """Who is signed in, links their role allows, and signing out."""
    lang = settings.language
    if viewer is None:
        return html.Div(id=AuthID.USER, className="header-user")
    links = [html.A(text(label, lang), href=href) for permission, label, href in (
        (Permission.VIEW_SUPERVISION, "nav.supervision", URL.SUPERVISION),
        (Permission.VIEW_REPORTS, "nav.reports", URL.REPORTS), (Permission.MANAGE_USERS, "nav.admin", URL.ADMIN),
        (Permission.VIEW_AUDIT, "nav.audit", URL.AUDIT))
        if viewer.can(permission)]
    return html.Div(id=AuthID.USER, className="header-user", children=[
        *links,
        html.Span(f"{viewer.username} · {text('role.' + viewer.role.value, lang)}"),
        html.Button(text("nav.logout", lang), id=AuthID.LOGOUT, n_clicks=0) if not viewer.kiosk else None,
        auth_config(settings, viewer),
    ])


def auth_config(settings: Settings, viewer: Viewer | None) -> html.Div:
    """The idle lock the page script enforces: none for a big screen's kiosk session (the server agrees)."""
    minutes = 0 if viewer is not None and viewer.kiosk else settings.idle_lock_minutes
    return html.Div(id=AuthID.CONFIG, hidden=True, **{"data-idle-minutes": str(minutes),
                                                     "data-login-url": URL.LOGIN, "data-logout-url": URL.LOGOUT,
                                                     "data-touch-url": URL.TOUCH})


def header(settings: Settings, viewer: Viewer | None = None) -> html.Header:
    """Brand, live status, the map / indicators switch, the clock and the signed-in person."""
    lang = settings.language
    return html.Header(
        className="shell-header",
        children=[
            html.Div(className="brand", children=[
                html.H1(text("app.title", lang)),
                html.Span(text("app.subtitle", lang), className="subtitle"),
            ]),
            html.Div(className="header-status", children=[
                status_bar(settings),
                indicators_toggle(settings),
                html.Span(text("clock.label", lang), className="clock-label"),
                html.Time(id=ID.CLOCK, className="clock"),
                user_corner(settings, viewer),
            ]),
        ],
    )


def map_legend(settings: Settings) -> html.Div:
    lang = settings.language
    return html.Div(className="map-legend", children=[
        html.Div([html.Span(className="swatch station"), text("map.legend.station", lang)]),
        html.Div([html.Span(className="swatch grid"), text("map.legend.grid", lang)]),
        html.Div(text("map.grids.count", lang, count=GRID_COUNT), className="legend-count"),
        risk_legend(settings),
    ])


def details_panel(settings: Settings) -> html.Section:
    lang = settings.language
    return html.Section(
        id=ID.DETAILS_PANEL,
        className="panel details-panel",
        children=[
            html.Div(className="panel-head", children=[
                html.H2(text("panel.details.title", lang)),
                html.Button("×", id=ID.DETAILS_CLOSE, className="panel-close",
                            title=text("panel.details.close", lang), n_clicks=0),
            ]),
            html.Div(id=ID.DETAILS_BODY, className="panel-body",
                     children=details_empty(lang)),
            html.Div(id=ID.DETAILS_RISK, className="panel-body risk-body"),
            html.Div(id=LiveID.GRID_LIVE, className="grid-live"),
        ],
    )


def details_empty(language: str) -> html.P:
    return html.P(text("panel.details.empty", language), className="empty-hint")


def grid_details(grid: Grid, language: str) -> html.Dl:
    """The details of one grid as a definition list (all values rendered as text)."""
    rows = [
        ("grid.code", grid.code),
        ("grid.name", grid.localized("name", language)),
        ("grid.station", grid.localized("station", language)),
        ("grid.officer", grid.localized("officer", language)),
        ("grid.worker", grid.localized("worker", language)),
        ("grid.zone", text(f"zone.{grid.zone}", language)),
        ("grid.area", text("grid.area.value", language, value=grid.area_km2)),
        ("grid.arrival_target",
         text("grid.arrival_target.value", language, minutes=grid.arrival_target_minutes)),
        ("grid.centroid", f"{grid.centroid[1]:.5f}, {grid.centroid[0]:.5f}"),
    ]
    children: list[object] = []
    for key, value in rows:
        children += [html.Dt(text(key, language)), html.Dd(value, **{"data-field": key})]
    return html.Dl(children, className="grid-details")


def page(settings: Settings, viewer: Viewer | None = None, stations: list[tuple[str, str]] | None = None) -> html.Div:
    """The whole page, as ``viewer`` may see it (``None``: the shape only, for validation).

    ``stations`` (code, name) are what the indicators view offers to drill into.
    """
    stations = stations or []
    return html.Div(
        className="shell",
        lang=settings.language,
        children=[
            header(settings, viewer),
            html.Main(className="map-area", children=[command_map(settings), map_legend(settings),
                                                       alert_queue(settings),
                                                       indicators_view(settings, viewer, stations)]),
            html.Aside(className="side-column", children=[
                dispatch_panel(settings, bool(viewer and viewer.can(Permission.DISPATCH))),
                supervision_board(settings, viewer),
                instructions_panel(settings), tasks_panel(settings), leads_board(settings, viewer),
                details_panel(settings), feed_panel(settings),
            ]),
            dcc.Store(id=ID.SELECTED_GRID, data=None),
            *live_components(settings, viewer, stations),
            dcc.Interval(id=ID.CLOCK_TICK, interval=1000)  # a local clock, no server call,
        ],
    )


# The page skeleton. Geometry and the lazily loaded GeoJSON chunk are preloaded
# so they download while the Dash renderer starts, not after it.
_PRELOADS = (
    '<link rel="preload" href="{grids}" as="fetch" crossorigin="anonymous">',
    '<link rel="preload" href="{stations}" as="fetch" crossorigin="anonymous">',
    '<link rel="preload" href="{district}" as="fetch" crossorigin="anonymous">',
    '<link rel="preload" href="{base}_dash-component-suites/dash_leaflet/async-GeoJSON.js" as="script">',
)


def index_html(settings: Settings, base: str = "/", map_page: bool = True) -> str:
    """Dash's ``index_string`` with the page language and, for a page with the map, its preloads (``base``: the
    Dash app's own path). A phone on a weak network is spared the megabytes of geometry."""
    preloads = "\n        ".join(_PRELOADS).format(
        grids=URL.GRIDS, stations=URL.STATIONS, district=URL.DISTRICT, base=base
    ) if map_page else ""
    return f"""<!DOCTYPE html>
<html lang="{settings.language}">
    <head>
        {{%metas%}}
        <title>{{%title%}}</title>
        {{%favicon%}}
        {preloads}
        {{%css%}}
    </head>
    <body>
        {{%app_entry%}}
        <footer>
            {{%config%}}
            {{%scripts%}}
            {{%renderer%}}
        </footer>
    </body>
</html>"""
