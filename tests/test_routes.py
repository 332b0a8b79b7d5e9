"""The page and geometry routes over real HTTP (Flask's test client)."""

from __future__ import annotations

import gzip
import json

import clock
from app import create_app
from bus import keys
from layouts.ids import ID
from settings import Settings
from store.db import incidents
from testkit.accounts import make_user, sign_in_client
from testkit.dash_requests import send_output, send_request
from testkit.entries import SEAT
from urls import MAP_DATA, URL


def signed_in(settings: Settings, role: str = "duty_officer"):  # type: ignore[no-untyped-def]
    """A fresh app and a test client signed in as ``role``, with the headers its POSTs need."""
    app = create_app(settings)
    client = app.server.test_client()
    headers = sign_in_client(client, make_user(app, role))
    return app, client, headers


def test_route001_geometry_is_served_gzip_and_cacheable(settings: Settings) -> None:
    _, client, _ = signed_in(settings)
    response = client.get(URL.GRIDS, headers={"Accept-Encoding": "gzip"})
    assert response.status_code == 200
    assert response.headers["Content-Encoding"] == "gzip"
    assert response.mimetype == "application/geo+json"
    features = json.loads(gzip.decompress(response.data))["features"]
    assert len(features) == 863
    etag = response.headers["ETag"]
    again = client.get(URL.GRIDS, headers={"If-None-Match": etag})
    assert again.status_code == 304 and again.data == b""


def test_route002_all_geometry_routes_answer(settings: Settings) -> None:
    _, client, _ = signed_in(settings)
    for route in MAP_DATA:
        response = client.get(route)
        assert response.status_code == 200, route
        assert json.loads(response.data)["type"] == "FeatureCollection"


def test_route003_page_preloads_geometry_and_sets_language(settings: Settings) -> None:
    _, client, _ = signed_in(settings)
    html = client.get("/").get_data(as_text=True)
    assert '<html lang="zh-CN">' in html
    assert f'href="{URL.GRIDS}" as="fetch"' in html


def test_route004_details_callback_ignores_forged_feature_text(settings: Settings) -> None:
    """A forged click carrying markup gets a plain-text refusal, never HTML."""
    _, client, headers = signed_in(settings)
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
    response = client.post("/_dash-update-component", json=body, headers=headers)
    assert response.status_code == 200
    children = response.get_json()["response"][ID.DETAILS_BODY]["children"]
    assert isinstance(children, str)  # rendered by React as text
    assert children.startswith("未找到网格")


def test_route005_a_retried_send_request_makes_one_instruction(settings: Settings, r) -> None:  # type: ignore[no-untyped-def]
    """The same Dash callback POST sent twice (a network retry) issues one instruction."""
    app, app_client, headers = signed_in(settings)
    r.hset(keys.UNIT_STATE, "PU-1", json.dumps({"unit_id": "PU-1", "lon": SEAT[0], "lat": SEAT[1],
                                                  "status": "available", "observed_at": 0}))
    now = clock.now()
    with app.engine.begin() as conn:
        conn.execute(incidents.insert().values(
            event_id="E-1", stream_id="1-0", reported_at=now, ingested_at=now, lon=SEAT[0], lat=SEAT[1],
            grid="SC-048", category="noise", priority=2, address="x", description="", source="110"))
    body = send_request(send_output(app_client.get("/_dash-dependencies").get_json()), "E-1", "PU-1", "retry-key",
                        body="go")
    first = app_client.post("/_dash-update-component", json=body, headers=headers)
    second = app_client.post("/_dash-update-component", json=body, headers=headers)
    assert first.status_code == second.status_code == 200
    assert "INS-" in str(first.get_json()) and "INS-" in str(second.get_json())
    assert len(r.xrange(keys.OUT_INSTRUCTIONS)) == 1
    app.stop()
