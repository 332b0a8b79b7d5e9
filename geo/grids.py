"""Generate the district's 863 governance grids, deterministically.

Run ``python -m geo.grids`` to (re)write ``data/grids.geojson``,
``data/stations.geojson`` and ``data/district.geojson``. The same inputs give the
same bytes: the random generator is seeded, coordinates are snapped to 1e-6
degrees and the JSON is written with a fixed key order.

How the grids are drawn
-----------------------
1. Seed density: a background level for the villages, a strong peak on the
   district seat (the urban core), a wide suburban ring and small bumps on a
   handful of township centres.
2. About 300,000 sample points are drawn from that density inside the boundary,
   and 863 centres are placed by Lloyd's algorithm over the samples (a
   density-weighted centroidal Voronoi tessellation): cells come out even in
   shape, small in the core and large in the countryside.
3. Voronoi cells of the centres are clipped to the boundary; a cell cut in two
   by the boundary keeps its larger part and gives the rest to its neighbour.
4. Police stations are contiguous blocks of similar grid counts: 12 seeds by
   k-means over the grid centres, then balanced growth over the adjacency graph.
5. Zones follow distance from the seat: ``urban`` < 4 km, ``suburban`` < 10 km,
   else ``rural`` (which later sets the 5 or 15 minute arrival targets).
"""

from __future__ import annotations

import argparse
import heapq
import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import shapely
from scipy.cluster.vq import kmeans2
from scipy.spatial import cKDTree
from shapely.geometry import MultiPoint, Polygon, mapping

from geo.district import COORD_PRECISION, DISTRICT_SEAT, load_boundary
from settings import DATA_DIR

GRID_COUNT = 863
STATION_COUNT = 12
RANDOM_SEED = 140602  # the district's administrative code
SAMPLE_COUNT = 300_000
LLOYD_ITERATIONS = 25
URBAN_RADIUS_KM = 4.0
SUBURBAN_RADIUS_KM = 10.0
ADJACENT_MIN_SHARED_KM = 0.005  # cells touching at a corner are not neighbours
UTM_49N = "EPSG:32649"  # metric CRS for areas

GRIDS_FILE = "grids.geojson"
STATIONS_FILE = "stations.geojson"
DISTRICT_FILE = "district.geojson"

_KM_PER_DEG_LAT = 110.574
_KM_PER_DEG_LON = 111.320 * math.cos(math.radians(DISTRICT_SEAT[1]))

_OCTANTS_ZH = ("东", "东北", "北", "西北", "西", "西南", "南", "东南")
_OCTANTS_EN = ("East", "Northeast", "North", "Northwest", "West", "Southwest", "South", "Southeast")

# Common surnames and given-name characters with pinyin, for plausible staff names.
_SURNAMES = (
    ("王", "Wang"), ("李", "Li"), ("张", "Zhang"), ("刘", "Liu"), ("陈", "Chen"), ("杨", "Yang"),
    ("赵", "Zhao"), ("黄", "Huang"), ("周", "Zhou"), ("吴", "Wu"), ("徐", "Xu"), ("孙", "Sun"),
    ("胡", "Hu"), ("朱", "Zhu"), ("高", "Gao"), ("郭", "Guo"), ("马", "Ma"), ("梁", "Liang"),
    ("宋", "Song"), ("郑", "Zheng"), ("韩", "Han"), ("冯", "Feng"), ("董", "Dong"), ("程", "Cheng"),
    ("贾", "Jia"), ("薛", "Xue"), ("阎", "Yan"), ("田", "Tian"), ("任", "Ren"), ("武", "Wu"),
    ("乔", "Qiao"), ("白", "Bai"), ("霍", "Huo"), ("温", "Wen"), ("崔", "Cui"), ("侯", "Hou"),
)
_GIVEN = (
    ("建", "jian"), ("国", "guo"), ("华", "hua"), ("明", "ming"), ("伟", "wei"), ("芳", "fang"),
    ("军", "jun"), ("丽", "li"), ("强", "qiang"), ("敏", "min"), ("静", "jing"), ("磊", "lei"),
    ("洋", "yang"), ("艳", "yan"), ("勇", "yong"), ("杰", "jie"), ("娟", "juan"), ("涛", "tao"),
    ("超", "chao"), ("霞", "xia"), ("平", "ping"), ("刚", "gang"), ("红", "hong"), ("斌", "bin"),
    ("波", "bo"), ("鹏", "peng"), ("海", "hai"), ("晋", "jin"), ("宇", "yu"), ("慧", "hui"),
    ("文", "wen"), ("志", "zhi"), ("飞", "fei"), ("兰", "lan"), ("峰", "feng"), ("荣", "rong"),
)


@dataclass(frozen=True)
class Station:
    """A police station: a contiguous block of grids."""

    code: str
    name_zh: str
    name_en: str
    short_zh: str
    short_en: str
    zone: str


def _to_km(lon: np.ndarray, lat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    return (lon - DISTRICT_SEAT[0]) * _KM_PER_DEG_LON, (lat - DISTRICT_SEAT[1]) * _KM_PER_DEG_LAT


def _to_lonlat_coords(coords: np.ndarray) -> np.ndarray:
    return np.column_stack(
        [coords[:, 0] / _KM_PER_DEG_LON + DISTRICT_SEAT[0], coords[:, 1] / _KM_PER_DEG_LAT + DISTRICT_SEAT[1]]
    )


def _to_km_coords(coords: np.ndarray) -> np.ndarray:
    x, y = _to_km(coords[:, 0], coords[:, 1])
    return np.column_stack([x, y])


def _sample_density(boundary_km: Polygon, rng: np.random.Generator) -> np.ndarray:
    """Draw sample points from the seed density (a mixture), inside the boundary."""
    shapely.prepare(boundary_km)
    min_x, min_y, max_x, max_y = boundary_km.bounds

    def uniform(n: int) -> np.ndarray:
        return np.column_stack([rng.uniform(min_x, max_x, n), rng.uniform(min_y, max_y, n)])

    # Township centres: spread-out places more than 10 km from the seat.
    towns: list[np.ndarray] = []
    while len(towns) < 9:
        p = uniform(1)[0]
        if (
            shapely.contains_xy(boundary_km, p[0], p[1])
            and np.hypot(*p) > 10.0
            and all(np.hypot(*(p - t)) > 9.0 for t in towns)
        ):
            towns.append(p)

    # (centre, sigma km, share of the samples); the rest is uniform background.
    components = [(np.zeros(2), 2.2, 0.50), (np.zeros(2), 7.0, 0.25)]
    components += [(t, 1.2, 0.015) for t in towns]
    chunks = []
    for centre, sigma, share in components:
        chunks.append(rng.normal(centre, sigma, size=(int(SAMPLE_COUNT * share * 1.3), 2)))
    background_share = 1.0 - sum(c[2] for c in components)
    chunks.append(uniform(int(SAMPLE_COUNT * background_share * 2.2)))
    points = np.concatenate(chunks)
    inside = shapely.contains_xy(boundary_km, points[:, 0], points[:, 1])
    kept: np.ndarray = points[inside]  # shapely is untyped: ``inside`` is Any
    return kept


def _lloyd(samples: np.ndarray, count: int, rng: np.random.Generator) -> np.ndarray:
    """Place ``count`` centres by Lloyd's algorithm over density samples."""
    centres = samples[rng.choice(len(samples), size=count, replace=False)]
    for _ in range(LLOYD_ITERATIONS):
        _, owner = cKDTree(centres).query(samples)
        sums = np.zeros_like(centres)
        np.add.at(sums, owner, samples)
        counts = np.bincount(owner, minlength=count)[:, None]
        centres = np.where(counts > 0, sums / np.maximum(counts, 1), centres)
    return centres


def _voronoi_cells(centres: np.ndarray, boundary_km: Polygon) -> list[Polygon]:
    """Voronoi cells of ``centres`` clipped to the boundary, each a single polygon."""
    envelope = boundary_km.buffer(5.0).envelope
    regions = shapely.voronoi_polygons(MultiPoint(centres), extend_to=envelope, ordered=True)
    clipped = shapely.intersection(np.asarray(regions.geoms), boundary_km)
    cells: list[Polygon] = []
    orphans: list[Polygon] = []
    for geom in clipped:
        parts = sorted(shapely.get_parts(geom), key=lambda p: -p.area)
        cells.append(parts[0])
        orphans.extend(p for p in parts[1:] if p.area > 0)
    # A piece cut off by the boundary joins the cell it shares most border with.
    for piece in orphans:
        shared = [piece.intersection(c).length for c in cells]
        best = int(np.argmax(shared))
        merged = shapely.union(cells[best], piece)
        cells[best] = max(shapely.get_parts(merged), key=lambda p: p.area)
    return cells


def _adjacency(cells: list[Polygon]) -> list[set[int]]:
    tree = shapely.STRtree(cells)
    left, right = tree.query(cells, predicate="intersects")
    neighbours: list[set[int]] = [set() for _ in cells]
    for a, b in zip(left.tolist(), right.tolist(), strict=True):
        if a < b and cells[a].intersection(cells[b]).length > ADJACENT_MIN_SHARED_KM:
            neighbours[a].add(b)
            neighbours[b].add(a)
    return neighbours


def _assign_stations(
    centres: np.ndarray, neighbours: list[set[int]], rng: np.random.Generator
) -> np.ndarray:
    """Group grids into STATION_COUNT contiguous blocks of similar grid counts.

    Seeds come from k-means over the grid centres; then the station with the
    fewest grids repeatedly claims its nearest unclaimed neighbouring grid, so
    every block stays connected and the workload stays even.
    """
    station_centres, _ = kmeans2(centres, STATION_COUNT, minit="++", seed=rng, iter=50)
    _, seeds = cKDTree(centres).query(station_centres)
    owner = np.full(len(centres), -1)
    frontiers: list[list[tuple[float, int]]] = [[] for _ in range(STATION_COUNT)]
    sizes: list[tuple[int, int]] = []

    def claim(station: int, cell: int) -> None:
        owner[cell] = station
        for nb in neighbours[cell]:
            if owner[nb] == -1:
                dist = float(np.hypot(*(centres[nb] - station_centres[station])))
                heapq.heappush(frontiers[station], (dist, nb))

    for station, cell in enumerate(seeds.tolist()):
        claim(station, cell)
        heapq.heappush(sizes, (1, station))
    while sizes:
        size, station = heapq.heappop(sizes)
        frontier = frontiers[station]
        while frontier and owner[frontier[0][1]] != -1:
            heapq.heappop(frontier)
        if not frontier:
            continue  # enclosed: this station stops growing
        claim(station, heapq.heappop(frontier)[1])
        heapq.heappush(sizes, (size + 1, station))
    if (owner == -1).any():
        raise RuntimeError("grid adjacency graph is not connected")
    return owner


def _zone(distance_km: float) -> str:
    if distance_km < URBAN_RADIUS_KM:
        return "urban"
    if distance_km < SUBURBAN_RADIUS_KM:
        return "suburban"
    return "rural"


def _octant(x: float, y: float) -> int:
    return int(((math.degrees(math.atan2(y, x)) + 22.5) % 360) // 45)


def _describe_stations(centres: np.ndarray, owner: np.ndarray) -> tuple[list[Station], np.ndarray]:
    """Name the stations and renumber them (urban first, then by bearing)."""
    keys = []
    for station in range(STATION_COUNT):
        cx, cy = centres[owner == station].mean(axis=0)
        zone = _zone(float(np.hypot(cx, cy)))
        zone_rank = ("urban", "suburban", "rural").index(zone)
        keys.append((zone_rank, _octant(cx, cy), float(np.hypot(cx, cy)), station, zone))
    keys.sort()
    renumber = np.empty(STATION_COUNT, dtype=int)
    stations: list[Station] = []
    used: dict[str, int] = {}
    for new_index, (_, octant, _, old_index, zone) in enumerate(keys):
        renumber[old_index] = new_index
        d_zh, d_en = _OCTANTS_ZH[octant], _OCTANTS_EN[octant]
        short_zh, short_en = {
            "urban": (f"城{d_zh}", f"City {d_en}"),
            "suburban": (f"{d_zh}郊", f"{d_en} Suburb"),
            "rural": (f"{d_zh}部乡", f"{d_en} Rural"),
        }[zone]
        used[short_zh] = used.get(short_zh, 0) + 1
        if used[short_zh] > 1:
            short_zh, short_en = f"{short_zh}{used[short_zh]}", f"{short_en} {used[short_zh]}"
        stations.append(
            Station(
                code=f"PS-{new_index + 1:02d}",
                name_zh=f"{short_zh}派出所",
                name_en=f"{short_en} Police Station",
                short_zh=short_zh,
                short_en=short_en,
                zone=zone,
            )
        )
    return stations, renumber[owner]


def _person(rng: np.random.Generator) -> tuple[str, str]:
    surname = _SURNAMES[rng.integers(len(_SURNAMES))]
    given = [_GIVEN[i] for i in rng.integers(len(_GIVEN), size=int(rng.integers(1, 3)))]
    zh = surname[0] + "".join(g[0] for g in given)
    en = f"{surname[1]} " + "".join(g[1] for g in given).capitalize()
    return zh, en


def _round_coords(geom: Any) -> Any:
    return json.loads(json.dumps(mapping(geom)), parse_float=lambda s: round(float(s), 6))


def _feature_collection_text(features: list[dict[str, Any]]) -> str:
    """One feature per line: compact for the browser, diffable in git."""
    lines = [json.dumps(f, ensure_ascii=False, separators=(",", ":"), sort_keys=True) for f in features]
    return '{"type":"FeatureCollection","features":[\n' + ",\n".join(lines) + "\n]}\n"


def generate(data_dir: Path = DATA_DIR) -> dict[str, str]:
    """Build the grids, station outlines and WGS-84 district outline.

    Parameters
    ----------
    data_dir : Path
        Folder holding the boundary source file.

    Returns
    -------
    dict
        File name -> GeoJSON text, ready to be written.
    """
    rng = np.random.default_rng(RANDOM_SEED)
    boundary = load_boundary(data_dir)
    boundary_km = shapely.transform(boundary, _to_km_coords)
    samples = _sample_density(boundary_km, rng)
    centres = _lloyd(samples, GRID_COUNT, rng)
    cells_km = _voronoi_cells(centres, boundary_km)
    cell_centres = np.array([[c.centroid.x, c.centroid.y] for c in cells_km])
    neighbours = _adjacency(cells_km)
    stations, owner = _describe_stations(cell_centres, _assign_stations(cell_centres, neighbours, rng))

    cells = shapely.set_precision(
        shapely.transform(np.asarray(cells_km), _to_lonlat_coords), COORD_PRECISION
    )
    cells = [max(shapely.get_parts(c), key=lambda p: p.area) for c in cells]
    areas_km2 = gpd.GeoSeries(cells, crs="EPSG:4326").to_crs(UTM_49N).area.to_numpy() / 1e6

    # Codes run station by station, north to south, west to east within a station.
    order = sorted(
        range(GRID_COUNT),
        key=lambda i: (owner[i], -round(cell_centres[i][1], 1), cell_centres[i][0]),
    )
    features = []
    per_station: dict[int, int] = {}
    for number, i in enumerate(order, start=1):
        station = stations[owner[i]]
        per_station[owner[i]] = per_station.get(owner[i], 0) + 1
        k = per_station[owner[i]]
        officer_zh, officer_en = _person(rng)
        worker_zh, worker_en = _person(rng)
        centroid = cells[i].centroid
        features.append(
            {
                "type": "Feature",
                "id": f"SC-{number:03d}",
                "properties": {
                    "code": f"SC-{number:03d}",
                    "name_zh": f"{station.short_zh}第{k}网格",
                    "name_en": f"{station.short_en} Grid {k}",
                    "station": station.code,
                    "station_zh": station.name_zh,
                    "station_en": station.name_en,
                    "officer_zh": officer_zh,
                    "officer_en": officer_en,
                    "worker_zh": worker_zh,
                    "worker_en": worker_en,
                    "zone": _zone(float(np.hypot(*cell_centres[i]))),
                    "area_km2": round(float(areas_km2[i]), 4),
                    "centroid": [round(centroid.x, 6), round(centroid.y, 6)],
                },
                "geometry": _round_coords(cells[i]),
            }
        )

    station_features = []
    for index, station in enumerate(stations):
        outline = shapely.set_precision(
            shapely.union_all([cells[i] for i in range(GRID_COUNT) if owner[i] == index]), COORD_PRECISION
        )
        station_features.append(
            {
                "type": "Feature",
                "id": station.code,
                "properties": {
                    "code": station.code,
                    "name_zh": station.name_zh,
                    "name_en": station.name_en,
                    "zone": station.zone,
                    "grids": int((owner == index).sum()),
                },
                "geometry": _round_coords(outline),
            }
        )
    district = [{"type": "Feature", "id": "140602", "properties": {"code": "140602", "name_zh": "朔城区",
                 "name_en": "Shuocheng District"}, "geometry": _round_coords(boundary)}]
    return {
        GRIDS_FILE: _feature_collection_text(features),
        STATIONS_FILE: _feature_collection_text(station_features),
        DISTRICT_FILE: _feature_collection_text(district),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=DATA_DIR, help="folder to write (default: data/)")
    parser.add_argument("--check", action="store_true", help="exit 1 if the files on disk differ")
    args = parser.parse_args(argv)
    outputs = generate()
    stale = [name for name, text in outputs.items() if not (args.out / name).exists()
             or (args.out / name).read_text(encoding="utf-8") != text]
    if args.check:
        for name in stale:
            print(f"differs: {args.out / name}")
        return 1 if stale else 0
    args.out.mkdir(parents=True, exist_ok=True)
    for name, text in outputs.items():
        (args.out / name).write_text(text, encoding="utf-8")
        print(f"wrote {args.out / name} ({len(text.encode()):,} bytes)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
