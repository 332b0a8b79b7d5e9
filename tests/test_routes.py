"""The page and geometry routes over real HTTP (Flask's test client)."""

from __future__ import annotations

import gzip
import json

from app import create_app
from layouts.ids import ID, Route
from settings import Settings


def test_route001_geometry_is_served_gzip_and_cacheable(settings: Settings) -> None:
    client = create_app(settings).server.test_client()
    response = client.get(Route.GRIDS, headers={"Accept-Encoding": "gzip"})
    assert response.status_code == 200
    assert response.headers["Content-Encoding"] == "gzip"
    assert response.mimetype == "application/geo+json"
    features = json.loads(gzip.decompress(response.data))["features"]
    assert len(features) == 863
    etag = response.headers["ETag"]
    again = client.get(Route.GRIDS, headers={"If-None-Match": etag})
    assert again.status_code == 304 and again.data == b""


def test_route002_all_geometry_routes_answer(settings: Settings) -> None:
    client = create_app(settings).server.test_client()
    for route in Route:
        response = client.get(route)
        assert response.status_code == 200, route
        assert json.loads(response.data)["type"] == "FeatureCollection"


def test_route003_page_preloads_geometry_and_sets_language(settings: Settings) -> None:
    client = create_app(settings).server.test_client()
    html = client.get("/").get_data(as_text=True)
    assert '<html lang="zh-CN">' in html
    assert f'href="{Route.GRIDS}" as="fetch"' in html


def test_route004_details_callback_ignores_forged_feature_text(settings: Settings) -> None:
    """A forged click carrying markup gets a plain-text refusal, never HTML."""
    client = create_app(settings).server.test_client()
    body = {
        "output": f"..{ID.DETAILS_BODY}.children...{ID.SELECTED_GRID}.data..",
        "outputs": [{"id": ID.DETAILS_BODY, "property": "children"}, {"id": ID.SELECTED_GRID, "property": "data"}],
        "inputs": [
            {"id": ID.GRID_LAYER, "property": "clickData",
             "value": {"properties": {"code": "<img src=x onerror=alert(1)>", "name_zh": "<b>x</b>"}}},
            {"id": ID.DETAILS_CLOSE, "property": "n_clicks", "value": 0},
        ],
        "changedPropIds": [f"{ID.GRID_LAYER}.clickData"],
    }
    response = client.post("/_dash-update-component", json=body)
    assert response.status_code == 200
    children = response.get_json()["response"][ID.DETAILS_BODY]["children"]
    assert isinstance(children, str)  # rendered by React as text
    assert children.startswith("未找到网格")
