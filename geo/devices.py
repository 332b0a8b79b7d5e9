"""The district's sensing devices, generated deterministically (``python -m geo.devices``).

- 134 smart-sensing devices (HD cameras and behaviour-analysis terminals) at
  schools, hospitals, shopping streets and wedding-hotel districts, in the urban
  and suburban grids where such sites are;
- 28 old residential compounds without property management, each with a few
  buildings: a smoke sensor on every floor, a high-altitude-throwing camera on
  every building and smart door access at every entrance.

Written to ``data/devices.json`` (one device per line) with the thresholds each
device uses; scenarios themselves are configuration (data/scenarios.json).

That file is the *seed*: the registry lives in the database (``devices``), loaded from the file on a first
start and kept by imports at city scale (250,000 devices; docs/devices.md)::

    python -m geo.devices                       # regenerate data/devices.json (the seed)
    python -m geo.devices import devices.csv    # check every row, upsert the good ones by id (--strict: all or none)
    python -m geo.devices export devices.csv    # the registry as CSV, in the import's columns
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import asdict, dataclass, fields
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import shapely
import shapely.geometry
from sqlalchemy import Connection, Engine, func, select
from sqlalchemy.dialects import postgresql, sqlite

from geo.grids import RANDOM_SEED
from geo.index import GridIndex
from settings import DATA_DIR
from store.db import devices as devices_table

log = logging.getLogger(__name__)

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


@dataclass(frozen=True, slots=True)  # slots: 250,000 of them stay in every process's memory
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


COLUMNS = tuple(f.name for f in fields(Device))  # the table's columns, the CSV's, in this order
WRITE_BATCH = 5_000  # rows per executemany

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
    """Devices by id, in memory: O(1) lookups, iteration, the map's layers.

    With an ``engine`` the registry is the database's ``devices`` table (seeded from ``data/devices.json`` when
    the table is empty: a first start), kept by imports (``python -m geo.devices import``, docs/devices.md);
    :meth:`reload` reads it again, and :meth:`reload_if_changed` does when an import changed it since.
    Without one it is ``data/devices.json`` alone (tests, tools that need no database).

    ``devices`` (id -> :class:`Device`) is replaced whole by a reload, never changed in place: a caller iterating
    it meanwhile finishes on the registry it started with.
    """

    def __init__(self, data_dir: Path = DATA_DIR, engine: Engine | None = None) -> None:
        self.data_dir = data_dir
        self.engine = engine
        self.devices: dict[str, Device] = {}
        self.version = 0  # how many times it was loaded: a reload's readers (the health monitor) notice it
        self.loaded_stamp = 0.0  # the newest row's updated_at (epoch s) when loaded from the database
        if engine is not None:
            seed(engine, data_dir)
        self.reload()

    @classmethod
    def of(cls, devices: Iterable[Device]) -> DeviceRegistry:
        """A registry of these devices alone (tests, benchmarks): no file, no database."""
        registry = cls.__new__(cls)
        registry.data_dir, registry.engine, registry.version, registry.loaded_stamp = DATA_DIR, None, 1, 0.0
        registry.devices = {d.device_id: d for d in devices}
        return registry

    def reload(self) -> int:
        """Read the registry again (the database, or the file); returns how many devices it holds."""
        if self.engine is not None:
            devices, stamp = load(self.engine)
        else:
            raw = json.loads((self.data_dir / DEVICES_FILE).read_text(encoding="utf-8"))
            devices, stamp = {d["device_id"]: _interned(Device(**d)) for d in raw}, 0.0
        self.devices, self.loaded_stamp = devices, stamp
        self.version += 1
        return len(devices)

    def reload_if_changed(self) -> bool:
        """Reload when an import changed the database after this registry was read (its newest ``updated_at``:
        one indexed query, cheap enough for every health check of every process)."""
        if self.engine is None or newest_change(self.engine) <= self.loaded_stamp:
            return False
        count = self.reload()
        log.info("device registry reloaded after an import: %d devices", count)
        return True

    def get(self, device_id: str) -> Device | None:
        return self.devices.get(device_id)

    def all(self) -> list[Device]:
        """Every device (a list: safe to keep while a reload replaces the registry)."""
        return list(self.devices.values())

    def __iter__(self) -> Iterator[Device]:
        return iter(self.devices.values())  # a reload replaces the dict, never changes it: safe to iterate

    def __contains__(self, device_id: object) -> bool:
        return device_id in self.devices

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


# -- the registry in the database ----------------------------------------------------------------------

@dataclass(frozen=True)
class Written:
    """What an upsert changed: devices new to the registry, devices whose row changed, rows already as given."""

    new: int
    changed: int
    unchanged: int


def _device(row: Sequence[Any]) -> Device:
    """A Device from its columns in :data:`COLUMNS` order, its repeated strings shared (250,000 of them)."""
    device_id, kind, lon, lat, grid, site_kind, compound, building, floor, entrance, heartbeat_s, threshold = row
    return Device(device_id, sys.intern(kind), float(lon), float(lat), sys.intern(grid),
                  sys.intern(site_kind) if site_kind else None, sys.intern(compound) if compound else None,
                  building, floor, entrance, int(heartbeat_s), threshold)


def _interned(device: Device) -> Device:
    return _device(astuple(device))


def astuple(device: Device) -> tuple[Any, ...]:
    """The device's columns in :data:`COLUMNS` order."""
    return tuple(getattr(device, name) for name in COLUMNS)


def load(engine: Engine) -> tuple[dict[str, Device], float]:
    """Every device in the database, and the newest row's ``updated_at`` (epoch s; 0 for an empty table)."""
    newest = newest_change(engine)  # first: an import committing meanwhile is newer, and read again at the next check
    with engine.connect() as conn:
        rows = conn.execute(select(*(devices_table.c[name] for name in COLUMNS))).all()
    return {row[0]: _device(row) for row in rows}, newest


def newest_change(engine: Engine) -> float:
    """When the registry last changed: its newest row's ``updated_at`` (epoch s; 0 for an empty table)."""
    with engine.connect() as conn:
        newest = conn.execute(select(func.max(devices_table.c.updated_at))).scalar_one_or_none()
    return _epoch(newest) if newest is not None else 0.0


def seed(engine: Engine, data_dir: Path = DATA_DIR) -> int:
    """On a first start (an empty ``devices`` table), load ``data_dir/devices.json``; returns the rows added.

    Idempotent: once the table holds a device it is left alone (imports keep it from then on); two processes
    starting at once both try, and the second adds nothing (``ON CONFLICT DO NOTHING``).
    """
    with engine.connect() as conn:
        if conn.execute(select(devices_table.c.device_id).limit(1)).first() is not None:
            return 0
    path = data_dir / DEVICES_FILE
    if not path.exists():
        return 0
    raw = json.loads(path.read_text(encoding="utf-8"))
    at = datetime.now(UTC)
    rows = [dict(d, updated_at=at) for d in raw]
    with engine.begin() as conn:
        statement = _insert(conn)(devices_table).on_conflict_do_nothing(index_elements=["device_id"])
        for start in range(0, len(rows), WRITE_BATCH):
            conn.execute(statement, rows[start:start + WRITE_BATCH])
    log.info("device registry seeded from %s: %d devices", path, len(rows))
    return len(rows)


def upsert(engine: Engine, devices: Sequence[Device], at: datetime | None = None,
           advance: Callable[[int], object] | None = None) -> Written:
    """Write ``devices`` by id in one transaction: new ones inserted, changed ones updated, the rest left as they
    are (a repeated import writes nothing). ``advance(n)`` is told of each batch written (a progress bar)."""
    at = at or datetime.now(UTC)
    current, _ = load(engine)
    new = [d for d in devices if d.device_id not in current]
    changed = [d for d in devices if d.device_id in current and current[d.device_id] != d]
    unchanged = len(devices) - len(new) - len(changed)
    if advance is not None and unchanged:
        advance(unchanged)
    with engine.begin() as conn:
        insert = _insert(conn)(devices_table)
        statement = insert.on_conflict_do_update(
            index_elements=["device_id"],
            set_={name: insert.excluded[name] for name in (*COLUMNS[1:], "updated_at")})
        rows = [dict(zip(COLUMNS, astuple(d), strict=True), updated_at=at) for d in (*new, *changed)]
        for start in range(0, len(rows), WRITE_BATCH):
            batch = rows[start:start + WRITE_BATCH]
            conn.execute(statement, batch)
            if advance is not None:
                advance(len(batch))
    return Written(len(new), len(changed), unchanged)


def _insert(conn: Connection) -> Any:
    return postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert


def _epoch(value: datetime) -> float:
    return (value if value.tzinfo else value.replace(tzinfo=UTC)).timestamp()


def main(argv: list[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if args and args[0] in {"import", "export"}:
        from geo import devices_csv

        return devices_csv.main(args)
    parser = argparse.ArgumentParser(
        prog="python -m geo.devices",
        description="Generate data/devices.json (the registry's seed); "
                    "`import FILE.csv` and `export FILE.csv` keep the registry in the database (docs/devices.md)")
    parser.add_argument("--out", type=Path, default=DATA_DIR)
    parsed = parser.parse_args(args)
    text = to_text(generate())
    (parsed.out / DEVICES_FILE).write_text(text, encoding="utf-8")
    print(f"wrote {parsed.out / DEVICES_FILE} ({text.count(chr(10)) - 2} devices)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
