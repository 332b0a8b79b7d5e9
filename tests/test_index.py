"""Locating points in grids (vectorised STRtree) and looking grids up."""

from __future__ import annotations

import numpy as np
import pytest
import shapely

from geo.index import NO_GRID, GridIndex


@pytest.fixture(scope="module")
def index() -> GridIndex:
    return GridIndex()


def test_index001_every_grid_contains_its_label_point(index: GridIndex) -> None:
    points = index.label_points["features"]
    lon = [f["geometry"]["coordinates"][0] for f in points]
    lat = [f["geometry"]["coordinates"][1] for f in points]
    assert index.locate_codes(lon, lat) == [f["properties"]["code"] for f in points]


def test_index002_points_outside_the_district_have_no_grid(index: GridIndex) -> None:
    assert index.locate_codes([111.0, 113.5], [39.3, 39.3]) == [None, None]


def test_index003_random_points_match_a_brute_force_search(index: GridIndex) -> None:
    rng = np.random.default_rng(7)
    lon = rng.uniform(112.0, 112.8, 2000)
    lat = rng.uniform(39.08, 39.46, 2000)
    found = index.locate(lon, lat)
    geoms = index.frame.geometry.to_numpy()
    for i in range(0, 2000, 50):
        inside = np.flatnonzero(shapely.contains_xy(geoms, lon[i], lat[i]))
        assert found[i] == (inside[0] if len(inside) else NO_GRID)


def test_index004_lookup_by_code(index: GridIndex) -> None:
    grid = index.get("SC-863")
    assert grid is not None
    assert grid.arrival_target_minutes in (5, 15)
    assert grid.localized("name", "en") == grid.name_en
    assert index.get("SC-864") is None
