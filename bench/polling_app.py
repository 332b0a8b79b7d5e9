"""The yardstick: a live page built the usual Dash way, polling every second.

A ``dcc.Interval`` fires each second; a server callback reads ``{cc}:live`` after
the page's cursor (kept in a ``dcc.Store``) and returns the newest markers.
Same markers, same Redis stream as the product's page: only the delivery differs.
Run by the push benchmark: ``python -m bench.polling_app PORT REDIS_URL``.
"""

from __future__ import annotations

import json
import sys

import dash_leaflet as dl
from dash import Dash, Input, Output, State, dcc
from dash_extensions.javascript import Namespace

from bus import keys
from bus.connection import connect
from layouts.map import DISTRICT_BOUNDS, DISTRICT_CENTER
from settings import PROJECT_ROOT

MARKER_CAP = 500


def build(redis_url: str) -> Dash:
    r = connect(redis_url)
    app = Dash(__name__, assets_folder=str(PROJECT_ROOT / "assets"))
    app.layout = dl.Map(
        [dl.GeoJSON(id="markers", data={"type": "FeatureCollection", "features": []},
                    pointToLayer=Namespace("pingan", "live")("incidentMarker")),
         dcc.Interval(id="poll", interval=1000), dcc.Store(id="cursor", data=None)],
        bounds=DISTRICT_BOUNDS, center=DISTRICT_CENTER, style={"height": "100vh"},
    )

    @app.callback(Output("markers", "data"), Output("cursor", "data"),
                  Input("poll", "n_intervals"), State("cursor", "data"), State("markers", "data"))
    def poll(_: int, cursor: str | None, data: dict) -> tuple[dict, str]:
        if cursor is None:  # start at the stream's end, like a page that just opened
            last = r.xrevrange(keys.LIVE, count=1)
            return data, last[0][0] if last else "0-0"
        entries = r.xrange(keys.LIVE, min=f"({cursor}", count=10_000)
        features = list(data["features"])
        for _, fields in entries:
            if fields["type"] == "incident":
                inc = json.loads(fields["data"])
                features.append({"type": "Feature", "properties": inc,
                                 "geometry": {"type": "Point", "coordinates": [inc["lon"], inc["lat"]]}})
        new_cursor = entries[-1][0] if entries else cursor
        return {"type": "FeatureCollection", "features": features[-MARKER_CAP:]}, new_cursor

    return app


if __name__ == "__main__":
    build(sys.argv[2]).run(host="127.0.0.1", port=int(sys.argv[1]), debug=False)
