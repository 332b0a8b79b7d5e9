"""Invariants of the committed 863 grids (data/grids.geojson) and their generator."""

from __future__ import annotations

import json
from collections import defaultdict, deque

import geopandas as gpd
import pytest
import shapely
from shapely.geometry import shape

from geo.district import load_boundary
from geo.grids import (
    DISTRICT_FILE,
    GRID_COUNT,
    GRIDS_FILE,
    STATIONS_FILE,
    SUBURBAN_RADIUS_KM,
    URBAN_RADIUS_KM,
    generate,
)
from settings import DATA_DIR

SLIVER_KM2 = 1e-4  # 100 m²: any overlap larger than this is a real overlap
UTM_49N = "EPSG:32649"


@pytest.fixture(scope="module")
def grids() -> list[dict]:
    return json.loads((DATA_DIR / GRIDS_FILE).read_text(encoding="utf-8"))["features"]


@pytest.fixture(scope="module")
def geoms(grids: list[dict]) -> gpd.GeoSeries:
    return gpd.GeoSeries([shape(f["geometry"]) for f in grids], crs="EPSG:4326").to_crs(UTM_49N)


def test_grid001_exactly_863_valid_polygons(grids: list[dict], geoms: gpd.GeoSeries) -> None:
    assert len(grids) == GRID_COUNT
    assert set(geoms.geom_type) == {"Polygon"}
    assert geoms.is_valid.all()
    assert (geoms.area > 0).all()


def test_grid002_codes_are_stable_and_complete(grids: list[dict]) -> None:
    codes = [f["properties"]["code"] for f in grids]
    assert codes == [f"SC-{n:03d}" for n in range(1, GRID_COUNT + 1)]
    assert [f["id"] for f in grids] == codes


def test_grid003_no_two_grids_overlap(geoms: gpd.GeoSeries) -> None:
    tree = shapely.STRtree(geoms.to_numpy())
    left, right = tree.query(geoms.to_numpy(), predicate="intersects")
    pairs = [(a, b) for a, b in zip(left, right, strict=True) if a < b]
    assert pairs, "neighbouring grids must touch"
    overlaps = shapely.area(shapely.intersection(geoms.to_numpy()[[a for a, _ in pairs]],
                                                 geoms.to_numpy()[[b for _, b in pairs]])) / 1e6
    assert overlaps.max() < SLIVER_KM2


def test_grid004_union_equals_the_district(geoms: gpd.GeoSeries) -> None:
    district = gpd.GeoSeries([load_boundary()], crs="EPSG:4326").to_crs(UTM_49N).iloc[0]
    union = shapely.union_all(geoms.to_numpy())
    difference = shapely.symmetric_difference(union, district).area
    assert difference / district.area < 0.001
    assert 1700 < district.area / 1e6 < 1840  # about 1,768 km²


def test_grid005_stations_are_contiguous_blocks(grids: list[dict], geoms: gpd.GeoSeries) -> None:
    stations = [f["properties"]["station"] for f in grids]
    assert 10 <= len(set(stations)) <= 14
    tree = shapely.STRtree(geoms.to_numpy())
    left, right = tree.query(geoms.to_numpy(), predicate="intersects")
    neighbours: dict[int, set[int]] = defaultdict(set)
    for a, b in zip(left.tolist(), right.tolist(), strict=True):
        # Neighbours share an edge (> 1 m), not just a corner.
        if a != b and geoms.iloc[a].intersection(geoms.iloc[b]).length > 1.0:
            neighbours[a].add(b)
    for station in set(stations):
        members = {i for i, s in enumerate(stations) if s == station}
        start = next(iter(members))
        seen, queue = {start}, deque([start])
        while queue:
            for nb in neighbours[queue.popleft()] & members:
                if nb not in seen:
                    seen.add(nb)
                    queue.append(nb)
        assert seen == members, f"{station} is split"


def test_grid006_every_grid_has_its_attributes(grids: list[dict], geoms: gpd.GeoSeries) -> None:
    required = {"code", "name_zh", "name_en", "station", "station_zh", "station_en", "officer_zh",
                "officer_en", "worker_zh", "worker_en", "zone", "area_km2", "centroid"}
    for feature, geom in zip(grids, geoms, strict=True):
        props = feature["properties"]
        assert required <= props.keys()
        assert all(props[k] for k in required)
        assert props["area_km2"] == pytest.approx(geom.area / 1e6, rel=1e-3)
        centroid = shape(feature["geometry"]).centroid
        assert props["centroid"] == pytest.approx([centroid.x, centroid.y], abs=2e-6)


def test_grid007_zones_follow_the_urban_core(grids: list[dict]) -> None:
    by_zone: dict[str, list[float]] = defaultdict(list)
    for f in grids:
        by_zone[f["properties"]["zone"]].append(f["properties"]["area_km2"])
    assert set(by_zone) == {"urban", "suburban", "rural"}
    median = {z: sorted(a)[len(a) // 2] for z, a in by_zone.items()}
    # Dense small grids in town, large ones in the countryside.
    assert median["urban"] < median["suburban"] < median["rural"]
    assert URBAN_RADIUS_KM < SUBURBAN_RADIUS_KM


def test_grid008_generator_reproduces_the_committed_files_byte_for_byte() -> None:
    outputs = generate()
    for name in (GRIDS_FILE, STATIONS_FILE, DISTRICT_FILE):
        assert outputs[name] == (DATA_DIR / name).read_text(encoding="utf-8"), name
