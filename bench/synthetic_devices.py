"""A registry of N synthetic devices spread over the district's grids, for the device layer's benchmark.

Not written anywhere (data/ keeps the real seed): built in memory, deterministic for a given N. Each grid gets the
same share of devices, uniformly inside its polygon, so the small urban grids are dense and the large rural ones
sparse, as a city's cameras and sensors are. Only the public API the device layer reads (``geojson``, ``get``,
``len``, iteration) is offered, like geo.devices.DeviceRegistry's.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
import shapely

from geo.index import GridIndex

TYPES = ("camera", "behaviour", "smoke", "throwing_camera", "door")
TYPE_SHARES = (0.25, 0.05, 0.45, 0.1, 0.15)
SEED = 19


@dataclass(frozen=True, slots=True)
class SyntheticDevice:
    device_id: str
    type: str
    lon: float
    lat: float
    grid: str


class SyntheticRegistry:
    """``n`` devices over ``grids`` (same n, same devices)."""

    def __init__(self, n: int, grids: GridIndex | None = None) -> None:
        frame = (grids or GridIndex()).frame
        rng = np.random.default_rng(SEED + n)
        per_grid = np.full(len(frame), n // len(frame))
        per_grid[: n - int(per_grid.sum())] += 1
        devices: list[SyntheticDevice] = []
        kinds = rng.choice(len(TYPES), size=n, p=TYPE_SHARES)
        for (code, geometry), want in zip(zip(frame["code"], frame.geometry, strict=True), per_grid.tolist(),
                                          strict=True):
            min_x, min_y, max_x, max_y = geometry.bounds
            lon: list[float] = []
            lat: list[float] = []
            while len(lon) < want:  # rejection sampling in the grid's bounds, a batch at a time
                x = rng.uniform(min_x, max_x, 2 * want + 8)
                y = rng.uniform(min_y, max_y, 2 * want + 8)
                inside = shapely.contains_xy(geometry, x, y)
                lon += np.round(x[inside], 6).tolist()
                lat += np.round(y[inside], 6).tolist()
            for x_, y_ in zip(lon[:want], lat[:want], strict=True):
                i = len(devices)
                devices.append(SyntheticDevice(f"SYN-{i:06d}", TYPES[int(kinds[i])], x_, y_, str(code)))
        self.devices = {d.device_id: d for d in devices}

    def get(self, device_id: str) -> SyntheticDevice | None:
        return self.devices.get(device_id)

    def __iter__(self) -> Iterator[SyntheticDevice]:
        return iter(self.devices.values())

    def __len__(self) -> int:
        return len(self.devices)

    def geojson(self) -> dict[str, Any]:
        return {"type": "FeatureCollection", "features": [
            {"type": "Feature", "geometry": {"type": "Point", "coordinates": [d.lon, d.lat]},
             "properties": {"device_id": d.device_id, "type": d.type, "grid": d.grid}}
            for d in self.devices.values()]}

    def health(self, offline: float = 0.02, faulty: float = 0.005) -> dict[str, str]:
        """A plausible day: a share of the devices offline, a smaller one faulty (who is not online)."""
        rng = np.random.default_rng(SEED)
        draw = rng.random(len(self.devices))
        return {device_id: ("faulty" if p < faulty else "offline")
                for device_id, p in zip(self.devices, draw.tolist(), strict=True) if p < faulty + offline}
