"""Serve the map's geometry once, cacheable, gzip-compressed when the browser accepts it.

The 863 grids reach the browser only through these URLs; callbacks never carry geometry.
"""

from __future__ import annotations

import gzip
import hashlib
import json
from dataclasses import dataclass
from typing import Any

from flask import Blueprint, Response, request

from geo.devices import DeviceRegistry
from geo.grids import DISTRICT_FILE, STATIONS_FILE
from geo.index import GridIndex
from urls import URL

GEOJSON_MIMETYPE = "application/geo+json"
CACHE_SECONDS = 3600


@dataclass(frozen=True)
class _Payload:
    raw: bytes
    compressed: bytes
    etag: str

    @classmethod
    def of(cls, raw: bytes) -> _Payload:
        # mtime=0 keeps the gzip bytes (and so the ETag semantics) reproducible.
        return cls(raw, gzip.compress(raw, compresslevel=6, mtime=0), hashlib.sha256(raw).hexdigest()[:32])


def _respond(payload: _Payload) -> Response:
    if request.if_none_match.contains(payload.etag):
        response = Response(status=304)
    elif "gzip" in request.accept_encodings:
        response = Response(payload.compressed, mimetype=GEOJSON_MIMETYPE)
        response.headers["Content-Encoding"] = "gzip"
    else:
        response = Response(payload.raw, mimetype=GEOJSON_MIMETYPE)
    response.set_etag(payload.etag)
    response.headers["Vary"] = "Accept-Encoding"
    response.cache_control.max_age = CACHE_SECONDS
    response.cache_control.private = True
    return response


def _compact(document: dict[str, Any]) -> bytes:
    return json.dumps(document, ensure_ascii=False, separators=(",", ":")).encode()


def blueprint(grids: GridIndex, devices: DeviceRegistry, language: str) -> Blueprint:
    """The geometry routes (grid attributes in ``language``)."""
    routes = Blueprint("geo", __name__)
    payloads = {
        URL.COMPOUNDS: _Payload.of(_compact(devices.compounds_geojson())),
        URL.GRIDS: _Payload.of(_compact(grids.display_geojson(language))),
        URL.STATIONS: _Payload.of((grids.data_dir / STATIONS_FILE).read_bytes()),
        URL.DISTRICT: _Payload.of((grids.data_dir / DISTRICT_FILE).read_bytes()),
        URL.GRID_LABELS: _Payload.of(_compact(grids.label_points)),
    }
    for url, payload in payloads.items():
        routes.add_url_rule(url, endpoint=url.name.lower(), view_func=lambda payload=payload: _respond(payload))
    return routes
