"""The device layer's viewport route: ``GET /map/devices?bbox=w,s,e,n&zoom=z`` (geo/device_clusters.py).

Map data like the geometry routes: a session holding ``view_map`` is required (auth/web.py checks every request
before it gets here; the URL is in ``urls.MAP_DATA``). Without ``bbox`` the whole registry is answered, without
``zoom`` the map's widest zoom. The answer changes with device health, so it is never cached; it is gzip-compressed
when the browser accepts it (at most ``MAX_FEATURES`` features: tens of kB).
"""

from __future__ import annotations

import gzip

import redis
from flask import Blueprint, Response, current_app, jsonify, request

from geo.device_clusters import WORLD, BBox, DeviceLayer, Registry
from sensors.health import health_map
from urls import URL

EXTENSION = "pingan.device_layer"  # the app's DeviceLayer, in server.extensions (benchmarks swap its registry)
GEOJSON_MIMETYPE = "application/geo+json"
DEFAULT_ZOOM = 9  # the command map's minZoom (layouts/map.py)
MAX_ZOOM = 24
GZIP_LEVEL = 5


def layer() -> DeviceLayer:
    """The running app's device layer."""
    found: DeviceLayer = current_app.extensions[EXTENSION]
    return found


def blueprint(devices: Registry, r: redis.Redis) -> Blueprint:
    """The route over ``devices``, coloured by the health the monitor keeps in Redis (sensors.health.health_map)."""
    routes = Blueprint("device_layer", __name__)
    device_layer = DeviceLayer(devices, lambda: health_map(r))

    @routes.record_once
    def _setup(state) -> None:  # type: ignore[no-untyped-def]
        state.app.extensions[EXTENSION] = device_layer

    @routes.get(URL.DEVICE_VIEW)
    def _devices() -> Response | tuple[Response, int]:
        try:
            bbox = BBox.parse(request.args["bbox"]) if "bbox" in request.args else WORLD
            zoom = float(request.args.get("zoom", DEFAULT_ZOOM))
            if not 0 <= zoom <= MAX_ZOOM:
                raise ValueError(f"zoom must be within 0..{MAX_ZOOM}")
        except ValueError as exc:
            return jsonify(error=str(exc)), 400
        answer = device_layer.query(bbox, zoom)
        raw = answer.text().encode()
        if "gzip" in request.accept_encodings:
            response = Response(gzip.compress(raw, compresslevel=GZIP_LEVEL, mtime=0), mimetype=GEOJSON_MIMETYPE)
            response.headers["Content-Encoding"] = "gzip"
        else:
            response = Response(raw, mimetype=GEOJSON_MIMETYPE)
        response.headers["Vary"] = "Accept-Encoding"
        response.cache_control.no_store = True
        return response

    return routes
