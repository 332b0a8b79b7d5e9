"""A person's community as a shape: their grids' union and the margin around it, measured in metres.

The grids are WGS-84 degrees; a margin is metres. Each area is held in its own local frame, metres east and
north of its centroid (an equirectangular projection with the metres per degree at that latitude, about 86.3 km
per degree of longitude and 111.0 km of latitude at Shuocheng's 39.3° N). Over a person's few grids (a few
kilometres) the frame's error is far below a metre, where a single scale for the whole district would be
0.5% off at its edges; pyproj would add nothing at this size.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np
import shapely
from numpy.typing import ArrayLike, NDArray

from geo.index import GridIndex
from geo.roster import Roster


def metres_per_degree(lat: float) -> tuple[float, float]:
    """Metres per degree of longitude and of latitude at ``lat`` (the WGS-84 ellipsoid's series)."""
    phi = math.radians(lat)
    return (111_412.84 * math.cos(phi) - 93.5 * math.cos(3 * phi),
            111_132.954 - 559.822 * math.cos(2 * phi) + 1.175 * math.cos(4 * phi))


@dataclass(frozen=True)
class Area:
    """A shape in metres around ``(lon0, lat0)``; :meth:`contains` takes WGS-84 positions."""

    shape: Any  # shapely geometry, metres east and north of the origin
    lon0: float
    lat0: float

    @classmethod
    def of(cls, geometries: Iterable[Any], margin_m: float) -> Area:
        """The union of WGS-84 ``geometries`` grown by ``margin_m`` metres."""
        union = shapely.union_all(list(geometries))
        centre = union.centroid
        lon0, lat0 = float(centre.x), float(centre.y)
        per_lon, per_lat = metres_per_degree(lat0)
        local = shapely.transform(union, lambda xy: (xy - (lon0, lat0)) * (per_lon, per_lat))
        shape = local.buffer(margin_m) if margin_m > 0 else local
        shapely.prepare(shape)  # many points per area
        return cls(shape, lon0, lat0)

    def contains(self, lon: ArrayLike, lat: ArrayLike) -> NDArray[np.bool_]:
        """Whether each position lies in the area (its edge counts as in)."""
        per_lon, per_lat = metres_per_degree(self.lat0)
        x = (np.asarray(lon, dtype=float) - self.lon0) * per_lon
        y = (np.asarray(lat, dtype=float) - self.lat0) * per_lat
        return np.asarray(shapely.intersects_xy(self.shape, x, y), dtype=bool)


class Areas:
    """Every roster person's area (their grids and ``margin_m``), made on first use and kept."""

    def __init__(self, roster: Roster, grids: GridIndex, margin_m: float) -> None:
        self.roster = roster
        self.grids = grids
        self.margin_m = margin_m
        self._made: dict[str, Area] = {}
        self._lock = threading.Lock()

    def of(self, person_id: str) -> Area | None:
        """The person's area, or None for an id the roster does not know."""
        area = self._made.get(person_id)
        if area is not None:
            return area
        person = self.roster.get(person_id)
        if person is None:
            return None
        area = Area.of(self.grids.frame.geometry.loc[list(person.grids)], self.margin_m)
        with self._lock:
            return self._made.setdefault(person_id, area)
