"""The chiefs' indicators view: over the map at the press of a header button.

Tiles, the stations table and the charts are drawn by assets/pingan_indicators.js
from pushed figures; only the drill-down into a station's grids is asked of the
server, when a chief picks the station.
"""

from __future__ import annotations

from typing import Any

from dash import dcc, html

from auth.roles import Permission, Viewer
from i18n import text
from indicators.compute import ARRIVAL_TARGETS_MIN, DISTRICT, TARGETS
from layouts.ids import IndicatorID
from settings import Settings

_GRAPH_CONFIG = {"displayModeBar": False, "responsive": True}


def indicator_texts(stations: list[tuple[str, str]]) -> dict[str, Any]:
    """What the page script needs besides the catalogue: element ids, targets and station names."""
    return {
        "indicatorVersionId": IndicatorID.VERSION,
        "indicatorTilesId": IndicatorID.TILES,
        "indicatorStationsId": IndicatorID.STATIONS,
        "indicatorScopeId": IndicatorID.SCOPE,
        "indicatorTargets": TARGETS,
        "arrivalTargetsMin": list(ARRIVAL_TARGETS_MIN),
        "districtScope": DISTRICT,
        "stations": dict(stations),
    }


def scope_options(viewer: Viewer | None, stations: list[tuple[str, str]], language: str) -> list[dict[str, str]]:
    """The district and every station for those who see them all; a station officer's own station only."""
    if viewer is not None and not viewer.can(Permission.VIEW_ALL_STATIONS):
        return [{"label": name, "value": code} for code, name in stations if code == viewer.station]
    return [{"label": text("ind.scope.district", language), "value": DISTRICT}] + [
        {"label": name, "value": code} for code, name in stations]


def indicators_toggle(settings: Settings) -> html.Button:
    return html.Button(text("ind.toggle.show", settings.language), id=IndicatorID.TOGGLE, n_clicks=0,
                       className="btn view-toggle")


def indicators_view(settings: Settings, viewer: Viewer | None, stations: list[tuple[str, str]]) -> html.Section:
    lang = settings.language
    options = scope_options(viewer, stations, lang)

    def graph(component_id: IndicatorID, css: str) -> dcc.Graph:
        return dcc.Graph(id=component_id, className=f"ind-graph {css}", config=_GRAPH_CONFIG, figure={})

    return html.Section(id=IndicatorID.VIEW, className="indicators-view", hidden=True, children=[
        html.Div(className="ind-head", children=[
            html.H2(text("ind.title", lang)),
            dcc.Dropdown(id=IndicatorID.SCOPE, options=options, value=options[0]["value"] if options else None,
                         clearable=False, searchable=False, className="ind-scope"),
            html.Span(id=IndicatorID.ASOF, className="ind-asof"),
        ]),
        html.Div(id=IndicatorID.TILES, className="ind-tiles"),
        html.Div(className="ind-charts", children=[
            graph(IndicatorID.GAUGES, "wide"),
            graph(IndicatorID.TREND, "wide"),
            graph(IndicatorID.CATEGORIES, ""),
            graph(IndicatorID.ARRIVAL, ""),
            graph(IndicatorID.RESULT, ""),
        ]),
        html.H3(text("ind.stations", lang)),
        # Filled by the page script; a row's click picks that station.
        html.Div(id=IndicatorID.STATIONS, className="ind-stations"),
        html.H3(text("ind.grids", lang)),
        html.Div(id=IndicatorID.GRIDS, className="ind-grids",
                 children=html.P(text("ind.grids.pick", lang), className="empty-hint")),
        dcc.Store(id=IndicatorID.VERSION, data=0),
        dcc.Store(id=IndicatorID.SHOWN, data=False),
    ])


def grid_table(rows: list[dict[str, Any]], names: dict[str, str], language: str) -> html.Table:
    """The drill-down: a station's grids with their figures (values rendered as text)."""
    def pct(value: float | None) -> str:
        return "–" if value is None else f"{value:.1%}"

    def minutes(value: float | None) -> str:
        return "–" if value is None else f"{value:.1f}"

    head = html.Tr([html.Th(text(key, language)) for key in (
        "ind.col.grid", "ind.col.incidents", "ind.col.repeat", "ind.col.open", "ind.col.overdue",
        "ind.col.arrival", "ind.col.on_time", "ind.col.completeness")])
    body = [html.Tr([
        html.Td(f"{row['grid']} {names.get(row['grid'], '')}"), html.Td(row["incidents"]), html.Td(row["repeat"]),
        html.Td(row["open"]), html.Td(row["overdue"], className="bad" if row["overdue"] else ""),
        html.Td(minutes(row["arrival_median_min"])), html.Td(pct(row["arrival_on_time"])),
        html.Td(pct(row["completeness"])),
    ], **{"data-grid": row["grid"]}) for row in sorted(rows, key=lambda r: (-r["overdue"], -r["incidents"], r["grid"]))]
    return html.Table([html.Thead(head), html.Tbody(body)], className="ind-table")
