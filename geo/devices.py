"""The district's sensing devices, generated deterministically (``python -m geo.devices``).

- 134 smart-sensing devices (HD cameras and behaviour-analysis terminals) at
  schools, hospitals, shopping streets and wedding-hotel districts, in the urban
  and suburban grids where such sites are;
- 28 old residential compounds without property management, each with a few
  buildings: a smoke sensor on every floor, a high-altitude-throwing camera on
  every building and smart door access at every entrance.

Written to ``data/devices.json`` (one device per line) with the thresholds each
device uses; scenarios themselves are configuration (data/scenarios.json).
"""

from __future__ import annotations

import argparse
import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import shapely
import shapely.geometry

from geo.grids import RANDOM_SEED
from geo.index import GridIndex
from settings import DATA_DIR

DEVICES_FILE = "devices.json"
SITE_DEVICE_COUNT = 134
COMPOUND_COUNT = 28
SITE_KINDS = ("school", "hospital", "shopping", "wedding_hotel")
SITE_KIND_SHARES = (0.35, 0.2, 0.3, 0.15)
VIDEO_TYPES = frozenset({"camera", "behaviour", "throwing_camera"})  # devices with a picture (and a stream)
HEARTBEAT_INTERVAL_S = {"camera": 60, "behaviour": 60, "smoke": 300, "throwing_camera": 60, "door": 120}
SMOKE_THRESHOLD_MG_M3 = 0.1
THROWING_MIN_FLOOR = 3
COMPOUND_MARGIN_DEG = 0.0004  # about 40 m around a compound's buildings


@dataclass(frozen=True)
class Device:
    """One device: where it is and what it watches."""

    device_id: str
    type: str  # camera / behaviour / smoke / throwing_camera / door
    lon: float
    lat: float
    grid: str
    site_kind: str | None = None
    compound: str | None = None
    building: int | None = None
    floor: int | None = None
    entrance: int | None = None
    heartbeat_s: int = 60
    threshold: float | None = None


def _point_in(grid_geom: shapely.Polygon, rng: np.random.Generator) -> tuple[float, float]:
    min_x, min_y, max_x, max_y = grid_geom.bounds
    while True:
        x, y = rng.uniform(min_x, max_x), rng.uniform(min_y, max_y)
        if shapely.contains_xy(grid_geom, x, y):
            return round(float(x), 6), round(float(y), 6)


def generate(data_dir: Path = DATA_DIR) -> list[Device]:
    """Place every device (same seed, same result)."""
    rng = np.random.default_rng(RANDOM_SEED + 1)
    grids = GridIndex(data_dir)
    frame = grids.frame
    urban = frame[frame["zone"] == "urban"]
    town = frame[frame["zone"] != "rural"]
    devices: list[Device] = []
    kinds = rng.choice(len(SITE_KINDS), size=SITE_DEVICE_COUNT, p=SITE_KIND_SHARES)
    for n, kind in enumerate(kinds.tolist(), start=1):
        pool = urban if rng.random() < 0.75 else town
        row = pool.iloc[int(rng.integers(len(pool)))]
        lon, lat = _point_in(row.geometry, rng)
        dtype = "behaviour" if rng.random() < 0.4 else "camera"
        prefix = "BHV" if dtype == "behaviour" else "CAM"
        devices.append(Device(f"{prefix}-{n:03d}", dtype, lon, lat, row.code, site_kind=SITE_KINDS[kind],
                              heartbeat_s=HEARTBEAT_INTERVAL_S[dtype]))
    compound_grids = urban.iloc[rng.choice(len(urban), size=COMPOUND_COUNT, replace=False)]
    for c, row in enumerate(compound_grids.itertuples(), start=1):
        compound = f"CP-{c:02d}"
        for b in range(1, int(rng.integers(3, 7)) + 1):
            lon, lat = _point_in(row.geometry, rng)
            floors = int(rng.integers(5, 8))
            base = dict(lon=lon, lat=lat, grid=row.code, compound=compound, building=b)
            for f in range(1, floors + 1):
                devices.append(Device(f"SMK-{c:02d}-{b}-{f:02d}", "smoke", floor=f,
                                      heartbeat_s=HEARTBEAT_INTERVAL_S["smoke"], threshold=SMOKE_THRESHOLD_MG_M3,
                                      **base))
            devices.append(Device(f"THR-{c:02d}-{b}", "throwing_camera",
                                  heartbeat_s=HEARTBEAT_INTERVAL_S["throwing_camera"], threshold=THROWING_MIN_FLOOR,
                                  **base))
            for e in range(1, int(rng.integers(1, 3)) + 1):
                devices.append(Device(f"DR-{c:02d}-{b}-{e}", "door", entrance=e,
                                      heartbeat_s=HEARTBEAT_INTERVAL_S["door"], **base))
    return devices


def to_text(devices: list[Device]) -> str:
    lines = [json.dumps(asdict(d), ensure_ascii=False, separators=(",", ":"), sort_keys=True) for d in devices]
    return "[\n" + ",\n".join(lines) + "\n]\n"


class DeviceRegistry:
    """Devices by id (loaded from data/devices.json)."""

    def __init__(self, data_dir: Path = DATA_DIR) -> None:
        raw = json.loads((data_dir / DEVICES_FILE).read_text(encoding="utf-8"))
        self.devices = {d["device_id"]: Device(**d) for d in raw}

    def get(self, device_id: str) -> Device | None:
        return self.devices.get(device_id)

    def geojson(self) -> dict[str, Any]:
        """Every device as a point with what the map shows (health comes live, not from here)."""
        fields = ("device_id", "type", "grid", "site_kind", "compound", "building", "floor", "entrance")
        return {"type": "FeatureCollection", "features": [
            {"type": "Feature", "geometry": {"type": "Point", "coordinates": [d.lon, d.lat]},
             "properties": {f: getattr(d, f) for f in fields if getattr(d, f) is not None}}
            for d in self.devices.values()]}

    def compounds_geojson(self) -> dict[str, Any]:
        """Each compound's outline: its buildings' hull, widened by about 40 m."""
        buildings: dict[str, list[tuple[float, float]]] = {}
        grid_of: dict[str, str] = {}
        for d in self.devices.values():
            if d.compound:
                buildings.setdefault(d.compound, []).append((d.lon, d.lat))
                grid_of[d.compound] = d.grid
        features = []
        for compound, points in sorted(buildings.items()):
            outline = shapely.MultiPoint(sorted(set(points))).convex_hull.buffer(COMPOUND_MARGIN_DEG)
            features.append({"type": "Feature", "geometry": shapely.geometry.mapping(outline),
                             "properties": {"compound": compound, "grid": grid_of[compound]}})
        return {"type": "FeatureCollection", "features": features}

    def __len__(self) -> int:
        return len(self.devices)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Generate data/devices.json")
    parser.add_argument("--out", type=Path, default=DATA_DIR)
    args = parser.parse_args(argv)
    text = to_text(generate())
    (args.out / DEVICES_FILE).write_text(text, encoding="utf-8")
    print(f"wrote {args.out / DEVICES_FILE} ({text.count(chr(10)) - 2} devices)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
