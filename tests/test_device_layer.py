"""The device layer's server-side clustering (geo/device_clusters.py) and its route (issue 19)."""

from __future__ import annotations

import gzip
import json
from collections.abc import Mapping
from typing import Any

import numpy as np
import pytest

from geo.device_clusters import (
    CLUSTER_MAX_ZOOM,
    MAX_FEATURES,
    WORLD,
    BBox,
    DeviceClusters,
    DeviceLayer,
    mercator_px,
)
from geo.devices import DeviceRegistry
from settings import Settings
from testkit.accounts import make_user, sign_in_client
from testkit.waiting import wait_until
from urls import URL

DISTRICT = BBox(112.01, 39.08, 112.77, 39.46)


def points(n: int, seed: int = 7, box: BBox = DISTRICT) -> list[dict[str, Any]]:
    """``n`` device features spread over ``box``."""
    rng = np.random.default_rng(seed)
    lon = rng.uniform(box.west, box.east, n)
    lat = rng.uniform(box.south, box.north, n)
    return [{"type": "Feature", "geometry": {"type": "Point", "coordinates": [float(x), float(y)]},
             "properties": {"device_id": f"D-{i:06d}", "type": "smoke", "grid": "SC-001"}}
            for i, (x, y) in enumerate(zip(lon, lat, strict=True))]


def counted(features: list[dict[str, Any]]) -> int:
    return sum(int(f["properties"].get("point_count", 1)) for f in features)


def ids_in(features: list[dict[str, Any]]) -> set[str]:
    return {f["properties"]["device_id"] for f in features if not f["properties"].get("cluster")}


class Registry:
    """A registry through the public API the layer uses (geojson, len), changed by hand."""

    def __init__(self, features: list[dict[str, Any]]) -> None:
        self.features = features
        self.asked = 0

    def geojson(self) -> dict[str, Any]:
        self.asked += 1
        return {"type": "FeatureCollection", "features": self.features}

    def __len__(self) -> int:
        return len(self.features)


def test_devlayer001_every_level_counts_every_device_once() -> None:
    index = DeviceClusters(points(20_000))
    for zoom in range(0, CLUSTER_MAX_ZOOM + 1):
        assert sum(count for count, _, _ in index.clusters_at(zoom)) == 20_000, zoom
    for zoom in (9, 10, 11, 13, 15):
        answer = index.query(DISTRICT, zoom)
        assert answer.zoom <= zoom and not answer.capped  # 20,000 spread evenly: zoom 13 needs > 2,000 bubbles
        assert counted(answer.features) == 20_000
    # Coarser levels hold fewer, bigger clusters; a level's clusters nest in the next coarser one's.
    sizes = [len(list(index.clusters_at(z))) for z in range(9, CLUSTER_MAX_ZOOM + 1)]
    assert sizes == sorted(sizes) and sizes[0] < sizes[-1]


def test_devlayer002_a_cluster_is_the_devices_of_one_screen_cell_drawn_at_their_centroid() -> None:
    features = points(3_000, seed=3)
    index = DeviceClusters(features, cell_px=60)
    zoom = 12
    lon = np.array([f["geometry"]["coordinates"][0] for f in features])
    lat = np.array([f["geometry"]["coordinates"][1] for f in features])
    x, y = mercator_px(lon, lat, zoom)
    cells: dict[tuple[int, int], list[int]] = {}
    for i, key in enumerate(zip((x // 60).astype(int).tolist(), (y // 60).astype(int).tolist(), strict=True)):
        cells.setdefault(key, []).append(i)
    expected = sorted((len(m), round(float(lon[m].mean()), 9), round(float(lat[m].mean()), 9)) for m in cells.values())
    got = sorted((c, round(x_, 9), round(y_, 9)) for c, x_, y_ in index.clusters_at(zoom))
    assert got == expected


def test_devlayer003_bbox_filters_and_single_devices_above_the_cluster_zoom() -> None:
    features = points(5_000, seed=11)
    index = DeviceClusters(features)
    west = BBox(DISTRICT.west, DISTRICT.south, (DISTRICT.west + DISTRICT.east) / 2, DISTRICT.north)
    inside = {f["properties"]["device_id"] for f in features if f["geometry"]["coordinates"][0] <= west.east}
    # Zoomed in beyond the cluster zoom: exactly the devices inside, each by itself.
    close = BBox(112.30, 39.20, 112.32, 39.22)
    expected = {f["properties"]["device_id"] for f in features
                if 112.30 <= f["geometry"]["coordinates"][0] <= 112.32
                and 39.20 <= f["geometry"]["coordinates"][1] <= 39.22}
    answer = index.query(close, CLUSTER_MAX_ZOOM + 1.5)
    assert answer.zoom == CLUSTER_MAX_ZOOM + 1 and ids_in(answer.features) == expected
    assert not any(f["properties"].get("cluster") for f in answer.features)
    single = next(iter(answer.features))["properties"]
    assert set(single) >= {"device_id", "type", "grid"} and "health" not in single  # online: nothing to say
    # Zoomed out: clusters whose centroids are inside; together they hold about the devices inside.
    clustered = index.query(west, 11)
    assert all(west.west <= f["geometry"]["coordinates"][0] <= west.east for f in clustered.features)
    assert abs(counted(clustered.features) - len(inside)) < 0.05 * len(inside)
    assert index.query(BBox(0.0, 0.0, 1.0, 1.0), 11).features == []


def test_devlayer004_the_answer_is_capped_by_answering_a_coarser_level() -> None:
    index = DeviceClusters(points(30_000, seed=5))
    answer = index.query(DISTRICT, 18, max_features=500)
    assert len(answer.features) <= 500 and answer.zoom < CLUSTER_MAX_ZOOM and not answer.capped
    assert counted(answer.features) == 30_000  # coarser, but nothing lost
    # Devices all over the world, the whole world asked at street zoom, and a cap nothing fits: still bounded,
    # the largest clusters kept.
    world = DeviceClusters(points(5_000, seed=1, box=BBox(-170, -60, 170, 60)) + points(3_000, seed=2))
    worst = world.query(WORLD, 18, max_features=2)
    assert len(worst.features) == 2 and worst.capped and worst.zoom == 0
    assert max(f["properties"]["point_count"] for f in worst.features) >= 3_000
    default = index.query(WORLD, 24)
    assert len(default.features) <= MAX_FEATURES
    assert len(json.dumps(default.geojson()).encode()) < 200 * MAX_FEATURES  # bytes bounded with the count


def test_devlayer005_clusters_carry_their_worst_health_and_counts_by_state() -> None:
    features = points(2_000, seed=9)
    index = DeviceClusters(features)
    index.set_health({"D-000001": "faulty", "D-000002": "offline", "D-000003": "awaiting", "D-000004": "gibberish",
                      "NOT-A-DEVICE": "faulty"})
    (everything,) = index.query(DISTRICT, 0).features
    props = everything["properties"]
    assert props["cluster"] and props["point_count"] == 2_000
    assert props["worst"] == "faulty" and props["health"] == [1_996, 1, 2, 1]  # an unknown value counts offline
    for zoom in (10, 13, 16):
        answer = index.query(DISTRICT, zoom)
        worst = [f for f in answer.features if f["properties"].get("worst") == "faulty"
                 or f["properties"].get("health") == "faulty"]
        assert len(worst) == 1, zoom
    device = index.query(DISTRICT, 18, max_features=5_000).features
    assert {f["properties"]["device_id"]: f["properties"].get("health") for f in device}["D-000001"] == "faulty"
    index.set_health({})
    assert index.query(DISTRICT, 0).features[0]["properties"]["worst"] == "online"


def test_devlayer006_the_layer_rebuilds_when_the_registry_changes_and_rereads_health() -> None:
    registry = Registry(points(1_000))
    health: dict[str, str] = {}
    layer = DeviceLayer(registry, lambda: health, health_ttl_s=0, registry_check_s=0)
    assert counted(layer.query(DISTRICT, 9).features) == 1_000
    registry.features = points(1_500, seed=2)
    # Rebuilt in the background, the old index answering meanwhile.
    wait_until(lambda: counted(layer.query(DISTRICT, 9).features) == 1_500, what="the rebuilt index")
    asked = registry.asked
    health["D-000010"] = "offline"
    assert layer.query(DISTRICT, 0).features[0]["properties"]["worst"] == "offline"
    assert registry.asked == asked  # health alone rebuilds nothing
    assert layer.build_s > 0
    registry.features = points(800, seed=4)
    assert counted(layer.rebuild().query(DISTRICT, 9).features) == 800  # at once, when asked


def test_devlayer007_the_district_registry_through_its_public_api() -> None:
    registry = DeviceRegistry()
    layer = DeviceLayer(registry, dict)
    answer = layer.query(DISTRICT, 9)
    assert counted(answer.features) == len(registry)


def test_devlayer008_bbox_parsing_refuses_what_is_not_a_box() -> None:
    assert BBox.parse("112.1,39.1,112.5,39.4") == BBox(112.1, 39.1, 112.5, 39.4)
    for bad in ("1,2,3", "a,b,c,d", "112.5,39.1,112.1,39.4", "0,0,200,1", "nan,0,1,1", "0,0,inf,1"):
        with pytest.raises(ValueError):
            BBox.parse(bad)


def _signed_in(settings: Settings, role: str) -> Any:
    from app import create_app

    app = create_app(settings)
    client = app.server.test_client()
    sign_in_client(client, make_user(app, role))
    return client


def test_devlayer009_the_route_answers_the_map_and_no_one_else(settings: Settings) -> None:
    from app import create_app

    client = _signed_in(settings, "duty_officer")
    response = client.get(f"{URL.DEVICE_VIEW}?bbox=112.0,39.0,112.8,39.5&zoom=11.5",
                          headers={"Accept-Encoding": "gzip"})
    assert response.status_code == 200 and response.mimetype == "application/geo+json"
    assert response.headers["Content-Encoding"] == "gzip" and "no-store" in response.headers["Cache-Control"]
    body: Mapping[str, Any] = json.loads(gzip.decompress(response.data))
    assert body["type"] == "FeatureCollection" and body["zoom"] == 11
    assert counted(body["features"]) == len(DeviceRegistry())
    for bad in ("bbox=1,2,3&zoom=10", "bbox=112,39,113,40&zoom=x", "zoom=99"):
        refused = client.get(f"{URL.DEVICE_VIEW}?{bad}")
        assert refused.status_code == 400 and "error" in refused.get_json()
    # Without a session: nothing; a role without the map (the administrator, a grid worker): refused.
    anonymous = create_app(settings).server.test_client()
    assert anonymous.get(URL.DEVICE_VIEW).status_code == 401
    for role in ("admin", "grid_worker", "revisit_clerk"):
        refused = _signed_in(settings, role).get(URL.DEVICE_VIEW)
        assert refused.status_code == 403, role
        assert b"device_id" not in refused.data
