"""The device layer's index: devices clustered on the server, per zoom, answering one viewport at a time.

A city's 250,000 devices cannot go to the browser whole (tens of MB, a frozen page). The map asks instead for
what its viewport needs at its zoom (``GET /map/devices?bbox=w,s,e,n&zoom=z``) and gets at most
:data:`MAX_FEATURES` features: clusters (count, centroid, bounds, health counts and the worst health among their
devices) while zoomed out, single devices once zoomed in (docs/device-layer.md).

**Clustering: a quadtree of square screen cells.** Each device falls in a cell of :data:`CELL_PX` screen pixels
(Web Mercator, 256 px tiles) at every zoom up to :data:`CLUSTER_MAX_ZOOM`; a cluster is the devices of one cell,
drawn at their centroid. Cells at zoom z are exactly four cells at z + 1, so sorting the devices once by the Morton
(Z-order) code of their finest cell makes every zoom's clusters contiguous runs of that one order: each level is
a handful of numpy reductions (``reduceat``) over the sorted arrays, with no per-device Python. Above
:data:`CLUSTER_MAX_ZOOM` every device is its own feature, as the browser's supercluster did before.

**Health** is not part of the index: :meth:`DeviceClusters.set_health` takes who is not online (what
``{cc}:state:device-health`` holds) and recounts every level's clusters by state (one ``reduceat`` per level),
so a change costs milliseconds and the positions are never rebuilt for it.

**The cap.** A viewport's answer at its own zoom may hold more than :data:`MAX_FEATURES` features (a huge bbox,
a dense block at street zoom): the next coarser level is answered instead, down to the coarsest, whose largest
clusters are kept (``capped``). The response's size is bounded whatever the request.

:class:`DeviceLayer` keeps one index for a registry: built on first use, rebuilt in the background when the
registry changes (its size, or its load counter ``version`` where it keeps one; checked every
:data:`REGISTRY_CHECK_S`) or at once on :meth:`DeviceLayer.rebuild`, and health read from its source at most every
:data:`HEALTH_TTL_S`. It depends only
on the registry's public API (``geojson()``, ``len()``, and ``version`` if present). No Flask here:
``routes/device_layer.py`` serves it.
"""

from __future__ import annotations

import json
import math
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt

TILE_PX = 256  # Leaflet's Web Mercator world is 256 px wide at zoom 0
CELL_PX = 60  # a cluster's cell on screen: about the size of its bubble (40 px), so bubbles rarely overlap
MIN_ZOOM = 0
CLUSTER_MAX_ZOOM = 16  # above this every device is its own feature (the old client-side supercluster's maxZoom)
MAX_FEATURES = 2000  # a response never carries more features than this
MAX_LAT = 85.05112878  # Web Mercator's edge
HEALTH_ORDER = ("online", "awaiting", "offline", "faulty")  # best to worst: a cluster shows its worst
_CODE = {name: code for code, name in enumerate(HEALTH_ORDER)}
_UNKNOWN = _CODE["offline"]  # an unknown value is not a known-good device (as sensors.health.summary counts it)
HEALTH_TTL_S = 1.0
REGISTRY_CHECK_S = 10.0
COORD_DIGITS = 6

F64 = npt.NDArray[np.float64]
I64 = npt.NDArray[np.int64]


class Registry(Protocol):
    """What the layer needs of a device registry (geo.devices.DeviceRegistry's public API)."""

    def geojson(self) -> dict[str, Any]: ...

    def __len__(self) -> int: ...


@dataclass(frozen=True)
class BBox:
    west: float
    south: float
    east: float
    north: float

    @classmethod
    def parse(cls, text: str) -> BBox:
        """``w,s,e,n`` in degrees (WGS-84); ``ValueError`` for anything else."""
        parts = text.split(",")
        if len(parts) != 4:
            raise ValueError("bbox needs four numbers: west,south,east,north")
        west, south, east, north = (float(p) for p in parts)
        if not all(math.isfinite(v) for v in (west, south, east, north)):
            raise ValueError("bbox numbers must be finite")
        if not (-180 <= west < east <= 180 and -90 <= south < north <= 90):
            raise ValueError("bbox must be west < east within ±180 and south < north within ±90")
        return cls(west, south, east, north)


WORLD = BBox(-180.0, -90.0, 180.0, 90.0)


def mercator_px(lon: F64, lat: F64, zoom: int) -> tuple[F64, F64]:
    """Screen pixels of WGS-84 points at ``zoom`` (Leaflet's EPSG:3857 with 256 px tiles)."""
    size = TILE_PX * 2.0**zoom
    x = (lon + 180.0) / 360.0 * size
    sin = np.sin(np.radians(np.clip(lat, -MAX_LAT, MAX_LAT)))
    y = (0.5 - np.log((1 + sin) / (1 - sin)) / (4 * np.pi)) * size
    return x, y


def _spread(v: npt.NDArray[np.uint64]) -> npt.NDArray[np.uint64]:
    """Put a zero bit between each of ``v``'s lower 32 bits (half a Morton code)."""
    v = v & np.uint64(0xFFFFFFFF)
    v = (v | (v << np.uint64(16))) & np.uint64(0x0000FFFF0000FFFF)
    v = (v | (v << np.uint64(8))) & np.uint64(0x00FF00FF00FF00FF)
    v = (v | (v << np.uint64(4))) & np.uint64(0x0F0F0F0F0F0F0F0F)
    v = (v | (v << np.uint64(2))) & np.uint64(0x3333333333333333)
    return (v | (v << np.uint64(1))) & np.uint64(0x5555555555555555)


@dataclass(frozen=True)
class _Level:
    """One zoom's clusters: runs of the devices' Morton order."""

    zoom: int
    starts: I64  # index of each cluster's first device (in the sorted order)
    count: I64
    lon: F64  # centroid
    lat: F64
    west: F64  # the cluster's devices' bounds (a click zooms to them)
    south: F64
    east: F64
    north: F64


@dataclass(frozen=True)
class _Health:
    """Who is not online, as codes over the sorted devices, and every level's counts by state."""

    codes: npt.NDArray[np.int8]
    counts: tuple[npt.NDArray[np.int32], ...]  # per level: (clusters, 4) devices per state
    worst: tuple[npt.NDArray[np.int8], ...]  # per level: the worst state's code


@dataclass(frozen=True)
class Answer:
    """What a viewport gets: its features (GeoJSON text, one per feature), the level they were taken at, and
    whether the cap cut them."""

    parts: list[str]
    zoom: int  # the level answered: the requested zoom's (above CLUSTER_MAX_ZOOM: single devices), or coarser
    capped: bool  # the coarsest level still held too many: only its largest clusters were kept

    def text(self) -> str:
        """The FeatureCollection as compact JSON (``zoom`` and ``capped`` as foreign members)."""
        return (f'{{"type":"FeatureCollection","features":[{",".join(self.parts)}],'
                f'"zoom":{self.zoom},"capped":{"true" if self.capped else "false"}}}')

    @property
    def features(self) -> list[dict[str, Any]]:
        """The features as dictionaries (tests, tools: the route sends :meth:`text`)."""
        return [json.loads(part) for part in self.parts]

    def geojson(self) -> dict[str, Any]:
        document: dict[str, Any] = json.loads(self.text())
        return document


class DeviceClusters:
    """Every zoom's clusters of a set of device points, queried by viewport (see the module's docstring)."""

    def __init__(self, features: Sequence[Mapping[str, Any]], cell_px: int = CELL_PX,
                 max_zoom: int = CLUSTER_MAX_ZOOM, min_zoom: int = MIN_ZOOM) -> None:
        self.cell_px, self.max_zoom, self.min_zoom = cell_px, max_zoom, min_zoom
        n = len(features)
        lon = np.fromiter((f["geometry"]["coordinates"][0] for f in features), dtype=np.float64, count=n)
        lat = np.fromiter((f["geometry"]["coordinates"][1] for f in features), dtype=np.float64, count=n)
        x, y = mercator_px(lon, lat, max_zoom)
        cx = np.floor(x / cell_px).astype(np.uint64)
        cy = np.floor(y / cell_px).astype(np.uint64)
        morton = _spread(cx) | (_spread(cy) << np.uint64(1))
        order = np.argsort(morton, kind="stable")
        self._morton = morton[order]
        self.lon = lon[order]
        self.lat = lat[order]
        # Each device's feature as JSON text without its closing braces (its health goes there): ~100 bytes a
        # device rather than a dictionary's ~400, and an answer is a join.
        self._heads: list[str] = []
        self.index: dict[str, int] = {}
        encode = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode  # one encoder: twice as fast
        for i in order.tolist():
            feature = features[i]
            properties = encode(feature["properties"])
            self.index[str(feature["properties"]["device_id"])] = len(self._heads)
            self._heads.append(f'{{"type":"Feature","geometry":{{"type":"Point","coordinates":'
                               f'[{float(lon[i])!r},{float(lat[i])!r}]}},"properties":{properties[:-1]}')
        self.levels = tuple(self._level(z) for z in range(min_zoom, max_zoom + 1))
        self._health = self._count(np.zeros(n, dtype=np.int8))

    def __len__(self) -> int:
        return len(self.lon)

    def _level(self, zoom: int) -> _Level:
        code = self._morton >> np.uint64(2 * (self.max_zoom - zoom))
        n = len(code)
        if n == 0:
            empty_i, empty_f = np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float64)
            return _Level(zoom, empty_i, empty_i, empty_f, empty_f, empty_f, empty_f, empty_f, empty_f)
        starts = np.flatnonzero(np.concatenate(([True], code[1:] != code[:-1]))).astype(np.int64)
        count = np.diff(np.append(starts, n)).astype(np.int64)
        return _Level(
            zoom, starts, count,
            np.add.reduceat(self.lon, starts) / count, np.add.reduceat(self.lat, starts) / count,
            np.minimum.reduceat(self.lon, starts), np.minimum.reduceat(self.lat, starts),
            np.maximum.reduceat(self.lon, starts), np.maximum.reduceat(self.lat, starts),
        )

    # -- health ----------------------------------------------------------------------------------

    def set_health(self, not_online: Mapping[str, str]) -> None:
        """Recount every level by state from who is not online (device_id -> awaiting / offline / faulty)."""
        codes = np.zeros(len(self), dtype=np.int8)
        for device_id, health in not_online.items():
            i = self.index.get(device_id)
            if i is not None:
                codes[i] = _CODE.get(health, _UNKNOWN)
        self._health = self._count(codes)  # one assignment: a query sees the old counts or the new, never half

    def _count(self, codes: npt.NDArray[np.int8]) -> _Health:
        onehot = np.zeros((len(codes), len(HEALTH_ORDER)), dtype=np.int32)
        onehot[np.arange(len(codes)), codes] = 1
        counts = tuple(np.add.reduceat(onehot, level.starts, axis=0) if len(level.starts)
                       else np.zeros((0, len(HEALTH_ORDER)), dtype=np.int32) for level in self.levels)
        # The worst state present: the highest code with a count (codes run best to worst).
        worst = tuple((len(HEALTH_ORDER) - 1 - np.argmax(c[:, ::-1] > 0, axis=1)).astype(np.int8) for c in counts)
        return _Health(codes, counts, worst)

    def health_of(self, device_id: str) -> str:
        i = self.index.get(device_id)
        return HEALTH_ORDER[int(self._health.codes[i])] if i is not None else HEALTH_ORDER[0]

    # -- queries -----------------------------------------------------------------------------------

    def query(self, bbox: BBox, zoom: float, max_features: int = MAX_FEATURES) -> Answer:
        """The features a viewport of ``bbox`` needs at ``zoom``: at most ``max_features`` of them."""
        level = max(self.min_zoom, min(math.floor(zoom), self.max_zoom + 1))
        health = self._health
        if level > self.max_zoom:
            inside = np.flatnonzero(self._within(self.lon, self.lat, bbox))
            if len(inside) <= max_features:
                return Answer([self._device(int(i), health) for i in inside], level, capped=False)
            level = self.max_zoom
        while True:
            clusters = self.levels[level - self.min_zoom]
            inside = np.flatnonzero(self._within(clusters.lon, clusters.lat, bbox))
            capped = False
            if len(inside) > max_features:
                if level > self.min_zoom:
                    level -= 1
                    continue
                capped = True  # the coarsest level: keep its largest clusters
                inside = np.sort(inside[np.argsort(-clusters.count[inside], kind="stable")[:max_features]])
            return Answer([self._feature(clusters, int(c), health) for c in inside], level, capped)

    @staticmethod
    def _within(lon: F64, lat: F64, bbox: BBox) -> npt.NDArray[np.bool_]:
        return (lon >= bbox.west) & (lon <= bbox.east) & (lat >= bbox.south) & (lat <= bbox.north)

    def _device(self, i: int, health: _Health) -> str:
        code = int(health.codes[i])
        return self._heads[i] + (f',"health":"{HEALTH_ORDER[code]}"}}}}' if code else "}}")

    def _feature(self, clusters: _Level, c: int, health: _Health) -> str:
        if clusters.count[c] == 1:  # a cluster of one is that device
            return self._device(int(clusters.starts[c]), health)
        at = clusters.zoom - self.min_zoom
        d = COORD_DIGITS
        counts = ",".join(str(int(v)) for v in health.counts[at][c])
        return (f'{{"type":"Feature","geometry":{{"type":"Point","coordinates":[{round(float(clusters.lon[c]), d)},'
                f'{round(float(clusters.lat[c]), d)}]}},"properties":{{"cluster":true,'
                f'"point_count":{int(clusters.count[c])},"worst":"{HEALTH_ORDER[int(health.worst[at][c])]}",'
                f'"health":[{counts}],"bounds":[{round(float(clusters.west[c]), d)},'
                f'{round(float(clusters.south[c]), d)},{round(float(clusters.east[c]), d)},'
                f'{round(float(clusters.north[c]), d)}]}}}}')

    def clusters_at(self, zoom: int) -> Iterable[tuple[int, float, float]]:
        """Every cluster of a level as (count, lon, lat): for tests and benchmarks."""
        level = self.levels[zoom - self.min_zoom]
        return zip(level.count.tolist(), level.lon.tolist(), level.lat.tolist(), strict=True)


class DeviceLayer:
    """One registry's :class:`DeviceClusters`, kept current: what the route asks (thread-safe).

    The first query builds the index; a changed registry is rebuilt in a background thread while the old index
    keeps answering; health is read from its source at most every ``health_ttl_s`` by one request at a time
    (the others answer with the counts they have).
    """

    def __init__(self, registry: Registry, health: Callable[[], Mapping[str, str]],
                 health_ttl_s: float = HEALTH_TTL_S, registry_check_s: float = REGISTRY_CHECK_S) -> None:
        self._registry = registry
        self._health_source = health
        self._health_ttl_s = health_ttl_s
        self._registry_check_s = registry_check_s
        self._lock = threading.Lock()  # the index's swap and its health
        self._building = threading.Lock()  # one build at a time
        self._index: DeviceClusters | None = None
        self._signature: tuple[int, object] | None = None
        self._checked_at = -math.inf
        self._health_at = -math.inf
        self._health_seen: dict[str, str] | None = None
        self.build_s = 0.0  # how long the last build took (the benchmark reports it)

    def use(self, registry: Registry, health: Callable[[], Mapping[str, str]] | None = None) -> None:
        """Serve another registry (and health source) from now on: the next query builds its index."""
        with self._building, self._lock:
            self._registry = registry
            if health is not None:
                self._health_source = health
            self._index, self._signature, self._health_seen = None, None, None
            self._checked_at = self._health_at = -math.inf

    def rebuild(self) -> DeviceClusters:
        """Build the index again now (the registry changed): positions, then the current health."""
        with self._building:
            return self._build()

    def _build(self) -> DeviceClusters:
        started = time.perf_counter()
        signature = self._signature_now()
        index = DeviceClusters(self._registry.geojson()["features"])
        with self._lock:
            if self._health_seen is not None:
                index.set_health(self._health_seen)
            self._index, self._signature = index, signature
        self.build_s = time.perf_counter() - started
        return index

    def _build_in_background(self) -> None:
        try:
            self._build()
        finally:
            self._building.release()

    def _signature_now(self) -> tuple[int, object]:
        # Its size, and its load counter where it keeps one (the database registry's ``version``).
        return len(self._registry), getattr(self._registry, "version", None)

    def current(self) -> DeviceClusters:
        """The index (rebuilt if the registry changed: its size or its reloads), health no older than the TTL."""
        index = self._index
        if index is None:
            with self._building:
                index = self._index or self._build()
        now = time.monotonic()
        if now - self._checked_at >= self._registry_check_s:
            self._checked_at = now
            if self._signature_now() != self._signature and self._building.acquire(blocking=False):
                threading.Thread(target=self._build_in_background, name="device-layer-build", daemon=True).start()
        if now - self._health_at >= self._health_ttl_s and self._lock.acquire(blocking=False):
            try:
                health = dict(self._health_source())
                current = self._index or index
                if health != self._health_seen or current is not index:
                    current.set_health(health)
                    self._health_seen = health
                self._health_at = now
            finally:
                self._lock.release()
        return self._index or index

    def query(self, bbox: BBox, zoom: float, max_features: int = MAX_FEATURES) -> Answer:
        return self.current().query(bbox, zoom, max_features)
