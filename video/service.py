"""The video side of the running services: the camera registry, the gateway (embedded or the bureau's), the
simulated feeds and the relay's rules, assembled once from the settings (``services.build``)."""

from __future__ import annotations

import logging
import secrets
import socket
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum

import redis
from sqlalchemy import Engine

from geo.devices import DeviceRegistry
from settings import Settings
from video.cameras import RTP_BASE_PORT, Camera, CameraRegistry, read_sources
from video.feeds import FeedSupervisor
from video.gate import VideoGate
from video.janus import EmbeddedJanus, GatewayConfig, answers, free_port

log = logging.getLogger(__name__)

WATCH_EVERY_S = 2.0


class GatewayState(StrEnum):
    """What pages are told about the gateway (``video.gateway.<state>``)."""

    UP = "up"
    DOWN = "down"  # configured, not answering now
    OFF = "off"  # video is switched off, or Janus is not installed


@dataclass
class VideoService:
    """Cameras, gateway and rules (see the module); ``gateway_url`` is where the relay sends signalling."""

    settings: Settings
    cameras: CameraRegistry
    gate: VideoGate
    api_secret: str
    gateway_url: str | None = None
    embedded: EmbeddedJanus | None = None
    feeds: FeedSupervisor | None = None
    _started: threading.Event = field(default_factory=threading.Event)

    def start(self) -> None:
        """Start the embedded gateway (if that is the setting and Janus is installed)."""
        if self._started.is_set():
            return
        self._started.set()
        if self.embedded is None:
            return
        if not EmbeddedJanus.installed():
            log.warning("video: Debian's janus is not installed (scripts/ensure-video.sh); live video is off")
            self.gateway_url = None
            return
        try:
            self.gateway_url = self.embedded.start()
        except (RuntimeError, OSError) as exc:
            log.error("video: the embedded gateway did not start: %s", exc)
            self.gateway_url = None

    def watchdog(self) -> bool:
        """Start the embedded gateway again if it died; whether it was restarted (pages reconnect by themselves)."""
        embedded = self.embedded
        if embedded is None or embedded.process is None or embedded.process.poll() is None:
            return False
        log.error("video: the embedded gateway exited (%s); starting it again", embedded.process.returncode)
        try:
            self.gateway_url = embedded.start()
        except (RuntimeError, OSError) as exc:
            log.error("video: the embedded gateway did not start again: %s", exc)
            return False
        return True

    def run(self, stop: threading.Event) -> None:
        """Every few seconds: close the views nobody polls, stop the feeds nobody watches, restart a dead gateway."""
        while not stop.wait(WATCH_EVERY_S):
            self.watchdog()
            self.gate.sweep()
            if self.feeds is not None:
                self.feeds.sweep()
        if self.feeds is not None:
            self.feeds.stop_all()

    def state(self) -> GatewayState:
        if self.gateway_url is None:
            return GatewayState.OFF
        return GatewayState.UP if answers(self.gateway_url, self.api_secret) else GatewayState.DOWN

    def stop(self) -> None:
        if self.feeds is not None:
            self.feeds.stop_all()
        if self.embedded is not None:
            self.embedded.stop()


def _udp_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def free_rtp_base(count: int, first: int = RTP_BASE_PORT, step: int = 1000) -> int:
    """The first block of ``count`` even UDP ports free now (a second installation on the machine takes the next)."""
    for base in range(first, 60000 - 2 * count, step):
        if all(_udp_free(base + 2 * n) for n in range(1, count + 1)):
            return base
    raise OSError("no free block of UDP ports for the simulated cameras")


def build(settings: Settings, devices: DeviceRegistry, client: redis.Redis, engine: Engine,
          station_of: Callable[[str], str | None]) -> VideoService:
    """The video services the settings describe (the gateway is started by :meth:`VideoService.start`)."""
    sources = read_sources(settings.video_sources)
    bureau = bool(settings.video_gateway_url)
    cameras = CameraRegistry(devices, sources, rtp_base=RTP_BASE_PORT)
    embedded = feeds = None
    secret = settings.video_gateway_secret or secrets.token_urlsafe(24)
    if settings.video and not bureau:
        if cameras.simulated:
            cameras = CameraRegistry(devices, sources, rtp_base=free_rtp_base(len(cameras)))
            feeds = FeedSupervisor(cameras, max_feeds=settings.video_sim_feeds)
        embedded = EmbeddedJanus(settings.var_dir, cameras.all(), GatewayConfig(
            http_port=free_port(), api_secret=secret, ice_interfaces=settings.video_ice_interfaces))
    gate = VideoGate(cameras, client, engine, station_of, feeds=feeds)
    return VideoService(settings, cameras, gate, secret, gateway_url=settings.video_gateway_url or None,
                        embedded=embedded, feeds=feeds)


__all__ = ["Camera", "GatewayState", "VideoService", "build"]
