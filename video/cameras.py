"""The cameras: every device with a picture, its stream, and the cameras near a place.

A camera (a device of type ``camera``, ``behaviour`` or ``throwing_camera``) has one stream, served by the
gateway as a mountpoint whose id is the camera's place in the registry's sorted order (stable for a given
registry). Where the picture comes from is the deployment's:

- simulated (the default, ``make run`` and the tests): the mountpoint takes RTP on a UDP port of its own on
  127.0.0.1, fed on demand by :mod:`video.feeds`;
- the bureau's cameras: ``VIDEO_SOURCES`` names a JSON file ``{"CAM-001": "rtsp://…", …}``; each listed
  camera's mountpoint pulls its RTSP stream (cameras on the national GB/T 28181 platform reach it through
  the platform's RTSP or a GB/T 28181 gateway that re-publishes RTSP). A camera missing from the file has
  no stream and shows "no video".
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path

from geo.devices import VIDEO_TYPES, Device, DeviceRegistry

RTP_BASE_PORT = 31000  # simulated camera n takes RTP on a base (this, or the next free block) + 2n: even ports
EARTH_RADIUS_M = 6_371_000.0


@dataclass(frozen=True)
class Camera:
    """One camera's stream: the device, its mountpoint, and where the gateway takes the picture from."""

    device_id: str
    mountpoint: int
    lon: float
    lat: float
    grid: str
    rtp_port: int | None  # simulated: the port its feed sends RTP to
    rtsp_url: str | None  # the bureau's camera


def distance_m(lon1: float, lat1: float, lon2: float, lat2: float) -> float:
    """Great-circle distance in metres (haversine)."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_M * math.asin(math.sqrt(a))


def read_sources(path: Path | None) -> dict[str, str] | None:
    """The bureau's cameras' RTSP addresses (``VIDEO_SOURCES``), or ``None`` when the cameras are simulated."""
    if path is None:
        return None
    raw = json.loads(path.read_text(encoding="utf-8"))
    if not isinstance(raw, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in raw.items()):
        raise ValueError(f"VIDEO_SOURCES: {path} must map device ids to rtsp:// addresses")
    wrong = [k for k, v in raw.items() if not v.startswith(("rtsp://", "rtsps://"))]
    if wrong:
        raise ValueError(f"VIDEO_SOURCES: {wrong[0]} is not an rtsp:// address")
    return raw


class CameraRegistry:
    """Every camera of the device registry with its stream (simulated unless ``sources`` are given)."""

    def __init__(self, devices: DeviceRegistry, sources: dict[str, str] | None = None,
                 rtp_base: int = RTP_BASE_PORT) -> None:
        self.simulated = sources is None
        video = sorted((d for d in devices.devices.values() if d.type in VIDEO_TYPES), key=lambda d: d.device_id)
        self._by_id: dict[str, Camera] = {}
        for n, device in enumerate(video):
            if sources is not None and device.device_id not in sources:
                continue
            self._by_id[device.device_id] = self._camera(device, n + 1, sources, rtp_base)
        self._by_mountpoint = {camera.mountpoint: camera for camera in self._by_id.values()}

    @staticmethod
    def _camera(device: Device, mountpoint: int, sources: dict[str, str] | None, rtp_base: int) -> Camera:
        return Camera(device.device_id, mountpoint, device.lon, device.lat, device.grid,
                      rtp_port=rtp_base + 2 * mountpoint if sources is None else None,
                      rtsp_url=sources.get(device.device_id) if sources is not None else None)

    def get(self, device_id: str) -> Camera | None:
        return self._by_id.get(device_id)

    def by_mountpoint(self, mountpoint: int) -> Camera | None:
        return self._by_mountpoint.get(mountpoint)

    def all(self) -> list[Camera]:
        return list(self._by_id.values())

    def near(self, lon: float, lat: float, radius_m: float, limit: int = 12) -> list[tuple[Camera, float]]:
        """The cameras within ``radius_m`` of a place, nearest first, with their distance in metres."""
        # A cheap box first: a degree of latitude is ~111 km; of longitude, that times cos(latitude).
        dlat = radius_m / 111_000.0
        dlon = dlat / max(math.cos(math.radians(lat)), 0.01)
        found = [(camera, distance_m(lon, lat, camera.lon, camera.lat)) for camera in self._by_id.values()
                 if abs(camera.lat - lat) <= dlat and abs(camera.lon - lon) <= dlon]
        return sorted((pair for pair in found if pair[1] <= radius_m), key=lambda pair: pair[1])[:limit]

    def __len__(self) -> int:
        return len(self._by_id)
