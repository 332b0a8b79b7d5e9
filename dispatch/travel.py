"""Estimated travel time from a unit to an incident.

Straight-line distance times a detour factor, at a realistic speed for the
zone. :class:`TravelModel` is the seam where a road-graph model plugs in later.
"""

from __future__ import annotations

from typing import Protocol

import numpy as np
from numpy.typing import ArrayLike, NDArray

EARTH_RADIUS_KM = 6371.0088
DETOUR_FACTOR = 1.35  # roads are longer than the straight line
SPEED_KMH = {"urban": 28.0, "suburban": 45.0, "rural": 55.0}


def haversine_km(lon1: ArrayLike, lat1: ArrayLike, lon2: float, lat2: float) -> NDArray[np.float64]:
    """Great-circle distances (km) from many points to one point."""
    lon1 = np.radians(np.asarray(lon1, dtype=float))
    lat1 = np.radians(np.asarray(lat1, dtype=float))
    lon2r, lat2r = np.radians(lon2), np.radians(lat2)
    a = np.sin((lat2r - lat1) / 2) ** 2 + np.cos(lat1) * np.cos(lat2r) * np.sin((lon2r - lon1) / 2) ** 2
    km: NDArray[np.float64] = 2 * EARTH_RADIUS_KM * np.arcsin(np.sqrt(a))
    return km


class TravelModel(Protocol):
    def minutes(self, lon: ArrayLike, lat: ArrayLike, to_lon: float, to_lat: float, zone: str) -> NDArray[np.float64]:
        """Travel minutes from each (lon, lat) to the target."""
        ...


class StraightLineModel:
    """Distance × detour factor at the zone's speed."""

    def minutes(self, lon: ArrayLike, lat: ArrayLike, to_lon: float, to_lat: float, zone: str) -> NDArray[np.float64]:
        km = haversine_km(lon, lat, to_lon, to_lat) * DETOUR_FACTOR
        return km / SPEED_KMH.get(zone, SPEED_KMH["rural"]) * 60.0
