"""The command map: district outline, 863 grids, station outlines, grid labels."""

from __future__ import annotations

import dash_leaflet as dl
from dash_extensions.javascript import Namespace

from i18n import text
from layouts.ids import ID, MapTaskID, RiskID
from settings import Settings
from urls import URL

# Client-side functions live in assets/pingan_map.js under window.pingan.map.
_js = Namespace("pingan", "map")
# The device layer's functions live in assets/pingan_devices.js under window.pingan.devices.
_devices_js = Namespace("pingan", "devices")

# Initial view: the whole district (WGS-84 lat/lon corners).
DISTRICT_BOUNDS = [[39.08, 112.01], [39.46, 112.77]]
DISTRICT_CENTER = [39.27, 112.39]  # dash-leaflet's viewport tracking needs a centre too
STREET_ZOOM = 14

# A 1x1 transparent GIF: a tile that fails to load leaves no broken-image icon.
BLANK_TILE = "data:image/gif;base64,R0lGODlhAQABAAAAACH5BAEAAAAALAAAAAABAAEAAAIBRAA7"


def grid_hideout(language: str) -> dict[str, object]:
    """The grid layer's ``hideout``: everything its style and tooltip functions read.

    Later features (risk colouring, selection) change only this dictionary, never
    the geometry.
    """
    return {
        "selected": None,
        "fill": {},  # grid code -> colour, filled by the risk layer
        # Grid labels load lazily, the first time the map reaches street zoom.
        "labelsUrl": URL.GRID_LABELS,
        "streetZoom": STREET_ZOOM,
        "labels": {
            "station": text("grid.station", language),
            "officer": text("grid.officer", language),
            "worker": text("grid.worker", language),
        },
    }


def task_layer() -> dl.LayerGroup:
    """The grid workers' open tasks with a site: the page script (assets/pingan_map.js) draws one marker per
    task into this group from the pushed events, coloured by its clock; the group hands itself over when the
    map adds it."""
    return dl.LayerGroup(id=MapTaskID.LAYER, eventHandlers={"add": _js("taskLayerAdded")})


def device_layer() -> dl.GeoJSON:
    """The sensing devices, clustered on the server (docs/device-layer.md). This layer is the overlay's anchor: when
    the overlay is switched on, the page script (assets/pingan_devices.js) draws beside it what the viewport needs
    at its zoom, asked of ``URL.DEVICE_VIEW`` after every move, and stops when it is switched off. Its ``hideout``
    is where pingan_alerts.js sets the devices' live health (device_id -> awaiting / offline / faulty) and hands it
    to the page script: single devices take their colour from it, clusters the worst health the server counted."""
    return dl.GeoJSON(
        id=ID.DEVICE_LAYER,
        # Never any features of its own; the handlers get the layer's props, and its ``data`` names the URL (a
        # foreign member: GeoJSON readers ignore it).
        data={"type": "FeatureCollection", "features": [], "viewUrl": URL.DEVICE_VIEW},
        hideout={"health": {}},
        eventHandlers={"add": _devices_js("added"), "remove": _devices_js("removed")},
    )


def device_layers(settings: Settings) -> dl.LayersControl:
    """The overlays the officer switches: the grid tasks (on by default: few, and each one a clock running),
    sensing devices (clustered on the server, coloured by health: :func:`device_layer`) and compound outlines (off by
    default: their clusters would sit over the incidents and grids the officer clicks), incident density."""
    lang = settings.language
    devices = device_layer()
    compounds = dl.GeoJSON(id=ID.COMPOUND_LAYER, url=URL.COMPOUNDS, interactive=False, style=_js("compoundStyle"))
    # Where the last 30 days' incidents were: an alternative to the graded grids.
    density = dl.GeoJSON(id=RiskID.DENSITY_LAYER, url=URL.DENSITY, interactive=False,
                         pointToLayer=_js("densityPoint"))
    tasks = text("map.layer.tasks", lang)
    # ``overlays`` names those checked from the start: dash-leaflet only tracks the ones switched on by hand
    # and fails on switching off one it never saw switched on.
    return dl.LayersControl(id=ID.LAYERS, position="topright", collapsed=False, overlays=[tasks], children=[
        dl.Overlay(task_layer(), name=tasks, checked=True),
        dl.Overlay(dl.LayerGroup([compounds, devices]), name=text("map.layer.devices", lang), checked=False),
        dl.Overlay(dl.LayerGroup([density]), name=text("map.layer.density", lang), checked=False),
    ])


# What a wall map without a person in front of it switches off.
_NO_INTERACTION = {"dragging": False, "zoomControl": False, "scrollWheelZoom": False, "doubleClickZoom": False,
                   "boxZoom": False, "keyboard": False, "touchZoom": False}


def command_map(settings: Settings, interactive: bool = True) -> dl.Map:
    """Build the map component (geometry loads by URL, once); the big screen's is not ``interactive``."""
    layers: list[object] = []
    if settings.tile_url:
        layers.append(
            dl.TileLayer(
                id=ID.TILE_LAYER,
                url=settings.tile_url,
                attribution=settings.tile_attribution or None,
                errorTileUrl=BLANK_TILE,
            )
        )
    layers += [
        dl.GeoJSON(
            id=ID.DISTRICT_LAYER,
            url=URL.DISTRICT,
            interactive=False,
            style=_js("districtStyle"),
        ),
        dl.GeoJSON(
            id=ID.GRID_LAYER,
            url=URL.GRIDS,
            style=_js("gridStyle"),
            onEachFeature=_js("gridTooltip"),
            hideout=grid_hideout(settings.language),
        ),
        dl.GeoJSON(
            id=ID.STATION_LAYER,
            url=URL.STATIONS,
            interactive=False,
            style=_js("stationStyle"),
        ),
        device_layers(settings),
    ]
    return dl.Map(
        id=ID.MAP,
        children=layers,
        bounds=DISTRICT_BOUNDS,
        center=DISTRICT_CENTER,
        minZoom=9,
        maxZoom=18,
        zoomSnap=0.25,
        attributionControl=bool(settings.tile_url),
        className="command-map",
        **({} if interactive else _NO_INTERACTION),
    )
