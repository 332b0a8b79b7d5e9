"""The district: its boundary (converted to WGS-84 at load) and its fixed places."""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path

import numpy as np
import shapely
from shapely.geometry import MultiPolygon, Polygon, shape

from geo.datum import gcj02_to_wgs84
from settings import DATA_DIR

BOUNDARY_GCJ02_FILE = "shuocheng-140602.geojson"

# The district seat (Shuocheng urban core, Shuozhou city), WGS-84 lon/lat.
DISTRICT_SEAT = (112.4320, 39.3310)

# Coordinates are kept to 6 decimals (about 0.1 m) everywhere we write them.
COORD_PRECISION = 1e-6


def _to_wgs84(geom: Polygon | MultiPolygon) -> Polygon | MultiPolygon:
    def convert(coords: np.ndarray) -> np.ndarray:
        lon, lat = gcj02_to_wgs84(coords[:, 0], coords[:, 1])
        return np.column_stack([lon, lat])

    return shapely.transform(geom, convert)


@lru_cache(maxsize=4)
def load_boundary(data_dir: Path = DATA_DIR) -> Polygon | MultiPolygon:
    """Return the district boundary in WGS-84, read from the committed GCJ-02 source.

    Parameters
    ----------
    data_dir : Path
        Folder holding ``shuocheng-140602.geojson``.

    Returns
    -------
    shapely geometry
        The boundary, converted to WGS-84 and snapped to :data:`COORD_PRECISION`.
    """
    raw = json.loads((data_dir / BOUNDARY_GCJ02_FILE).read_text(encoding="utf-8"))
    geom = shape(raw)
    return shapely.set_precision(_to_wgs84(geom), COORD_PRECISION)
