"""The grids in memory: look up by code, locate points, list neighbours."""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import shapely
from numpy.typing import ArrayLike, NDArray

from geo.grids import GRIDS_FILE, STATIONS_FILE
from settings import DATA_DIR

# Arrival targets by zone (minutes from dispatch): 5 in town, 15 in outlying areas.
ARRIVAL_TARGET_MINUTES = {"urban": 5, "suburban": 15, "rural": 15}

NO_GRID = -1


@dataclass(frozen=True)
class Grid:
    """One governance grid's attributes (bilingual fields keep both languages)."""

    code: str
    name_zh: str
    name_en: str
    station: str
    station_zh: str
    station_en: str
    officer_zh: str
    officer_en: str
    worker_zh: str
    worker_en: str
    zone: str
    area_km2: float
    centroid: tuple[float, float]

    @property
    def arrival_target_minutes(self) -> int:
        return ARRIVAL_TARGET_MINUTES[self.zone]

    def localized(self, field: str, language: str) -> str:
        """The ``field`` in the user's language (``name``, ``station``, ``officer``, ``worker``)."""
        suffix = "zh" if language == "zh-CN" else "en"
        return str(getattr(self, f"{field}_{suffix}"))


class GridIndex:
    """All 863 grids with a spatial index.

    Parameters
    ----------
    data_dir : Path
        Folder holding ``grids.geojson``.
    """

    def __init__(self, data_dir: Path = DATA_DIR) -> None:
        self.data_dir = data_dir
        self.frame: gpd.GeoDataFrame = gpd.read_file(data_dir / GRIDS_FILE).set_index("code", drop=False)
        self.codes: NDArray[np.str_] = self.frame["code"].to_numpy(dtype=str)
        self._geoms = self.frame.geometry.to_numpy()
        self._tree = shapely.STRtree(self._geoms)
        self._by_code = {row.code: _grid_from_row(row) for row in self.frame.itertuples(index=False)}

    def __len__(self) -> int:
        return len(self._by_code)

    def get(self, code: str) -> Grid | None:
        """Return the grid with ``code``, or ``None``."""
        return self._by_code.get(code)

    def locate(self, lon: ArrayLike, lat: ArrayLike) -> NDArray[np.int64]:
        """Return, for each point, the position of the grid containing it (or ``NO_GRID``).

        Vectorised: one STRtree query for all points.
        """
        points = shapely.points(np.asarray(lon, dtype=float), np.asarray(lat, dtype=float))
        points = np.atleast_1d(points)
        found = np.full(len(points), NO_GRID, dtype=np.int64)
        point_idx, grid_idx = self._tree.query(points, predicate="within")
        found[point_idx] = grid_idx
        return found

    def locate_codes(self, lon: ArrayLike, lat: ArrayLike) -> list[str | None]:
        """Like :meth:`locate`, but return grid codes (``None`` outside the district)."""
        return [None if i == NO_GRID else str(self.codes[i]) for i in self.locate(lon, lat)]

    def stations(self, language: str) -> list[tuple[str, str]]:
        """(code, name) of every police station, by code."""
        names = {grid.station: grid.localized("station", language) for grid in self._by_code.values()}
        return sorted(names.items())

    @cached_property
    def stations_geojson(self) -> dict[str, Any]:
        geojson: dict[str, Any] = json.loads((self.data_dir / STATIONS_FILE).read_text(encoding="utf-8"))
        return geojson

    def display_geojson(self, language: str) -> dict[str, Any]:
        """The grids as the map needs them: geometry plus the tooltip fields in one language.

        About half the size of ``grids.geojson``, which keeps both languages and
        attributes the map never shows.
        """
        raw: dict[str, Any] = json.loads((self.data_dir / GRIDS_FILE).read_text(encoding="utf-8"))
        suffix = "zh" if language == "zh-CN" else "en"
        for feature in raw["features"]:
            props = feature["properties"]
            feature["properties"] = {"code": props["code"]} | {
                field: props[f"{field}_{suffix}"] for field in ("name", "station", "officer", "worker")
            }
        return raw

    @cached_property
    def label_points(self) -> dict[str, Any]:
        """GeoJSON points where grid labels go (inside each grid, even concave ones)."""
        points = shapely.point_on_surface(self._geoms)
        features = [
            {
                "type": "Feature",
                "properties": {"code": code},
                "geometry": {"type": "Point", "coordinates": [round(p.x, 6), round(p.y, 6)]},
            }
            for code, p in zip(self.codes.tolist(), points, strict=True)
        ]
        return {"type": "FeatureCollection", "features": features}


def _grid_from_row(row: Any) -> Grid:
    return Grid(
        code=row.code,
        name_zh=row.name_zh,
        name_en=row.name_en,
        station=row.station,
        station_zh=row.station_zh,
        station_en=row.station_en,
        officer_zh=row.officer_zh,
        officer_en=row.officer_en,
        worker_zh=row.worker_zh,
        worker_en=row.worker_en,
        zone=row.zone,
        area_km2=float(row.area_km2),
        centroid=(float(row.centroid[0]), float(row.centroid[1])),
    )
