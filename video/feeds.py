"""Simulated cameras: a frame source piped into ``ffmpeg``, which sends H.264 over RTP to the camera's mountpoint.

``python -m video.feeds CAM-001 31002`` is one simulated camera: 640x360 at 15 frames a second, a drifting
texture (so the encoder has motion to code), the camera's name and its wall clock (Beijing time) drawn as a
camera's on-screen display does, and the capture time as a barcode (:mod:`video.stamp`) for the latency
benchmark. ``ffmpeg`` encodes H.264 baseline with ``ultrafast``/``zerolatency`` and a keyframe every second
(plain RTP carries no keyframe requests back, so the GOP is the worst-case recovery after a loss). Either
process ending ends the other: the frame source's pipe breaks, or ``ffmpeg`` reads the end of its input.

:class:`FeedSupervisor` runs them on demand: a camera's feed starts when someone is allowed to watch it
(:mod:`video.gate`) and stops after :data:`IDLE_S` without a viewer, never more than ``max_feeds`` at once
(the least recently watched makes way), so a 2-core machine pays only for the cameras on someone's screen.
"""

from __future__ import annotations

import logging
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone

import numpy as np

from video import stamp
from video.cameras import Camera, CameraRegistry
from video.janus import H264_PAYLOAD, stop_process

log = logging.getLogger(__name__)

WIDTH, HEIGHT, FPS = 640, 360, 15
GOP = FPS  # a keyframe a second
BITRATE = "600k"
IDLE_S = 60.0
BEIJING = timezone(timedelta(hours=8))


def ffmpeg_args(port: int) -> list[str]:
    """Raw frames on stdin to H.264 over RTP on 127.0.0.1:``port`` (packets under Janus's 1200-byte MTU)."""
    return ["ffmpeg", "-hide_banner", "-loglevel", "error", "-fflags", "nobuffer",
            "-f", "rawvideo", "-pix_fmt", "yuv420p", "-s", f"{WIDTH}x{HEIGHT}", "-framerate", str(FPS), "-i", "-",
            "-c:v", "libx264", "-preset", "ultrafast", "-tune", "zerolatency", "-profile:v", "baseline",
            "-level", "3.1", "-b:v", BITRATE, "-g", str(GOP), "-keyint_min", str(GOP), "-bf", "0",
            "-x264-params", "repeat-headers=1", "-threads", "1",
            "-f", "rtp", "-payload_type", str(H264_PAYLOAD), f"rtp://127.0.0.1:{port}?pkt_size=1200"]


class Frames:
    """The frames of one simulated camera: texture, on-screen display, and the time code."""

    def __init__(self, name: str, seed: int) -> None:
        rng = np.random.default_rng(seed)
        # Large soft blocks: motion the encoder codes cheaply, as a street scene's would be.
        blocks = rng.integers(70, 170, size=(HEIGHT // 24 + 1, WIDTH // 24 * 2 + 1), dtype=np.uint8)
        self.texture = np.kron(blocks, np.ones((24, 24), dtype=np.uint8))[:HEIGHT, :]
        self.chroma = np.full(WIDTH * HEIGHT // 2, 128, dtype=np.uint8)  # U and V planes: grey
        self.name = name
        self._label_second = -1
        self._label = np.zeros((0, 0), dtype=np.uint8)

    def label(self, now: datetime) -> np.ndarray:
        """The on-screen display (camera and Beijing time), drawn again only when the second changes."""
        second = int(now.timestamp())
        if second != self._label_second:
            from PIL import Image, ImageDraw, ImageFont

            image = Image.new("L", (WIDTH, 36), 0)
            text = f"{self.name}  {now.astimezone(BEIJING):%Y-%m-%d %H:%M:%S}  SIM"
            ImageDraw.Draw(image).text((10, 4), text, fill=235, font=ImageFont.load_default(size=24))
            self._label = np.asarray(image, dtype=np.uint8)
            self._label_second = second
        return self._label

    def luma(self, n: int, epoch_ms: int) -> np.ndarray:
        """The picture's brightness plane: the drifting texture under the on-screen display."""
        shift = (n * 3) % (self.texture.shape[1] - WIDTH)
        luma = np.ascontiguousarray(self.texture[:, shift: shift + WIDTH])
        label = self.label(datetime.fromtimestamp(epoch_ms / 1000, UTC))
        luma[HEIGHT - label.shape[0]:, :] = np.maximum(label, 24)  # light text on a dark band
        return luma

    def frame(self, n: int, epoch_ms: int) -> bytes:
        """One raw yuv420p frame, the capture time drawn as a code at its top."""
        luma = self.luma(n, epoch_ms)
        stamp.draw(luma, epoch_ms)
        return luma.tobytes() + self.chroma.tobytes()


def still(name: str, epoch_ms: int) -> bytes:
    """A simulated camera's snapshot (a JPEG of its picture at ``epoch_ms``), as an alert carries it."""
    import io

    from PIL import Image

    out = io.BytesIO()
    Image.fromarray(Frames(name, seed=sum(name.encode())).luma(0, epoch_ms)).save(out, "JPEG", quality=80)
    return out.getvalue()


def run_feed(name: str, port: int) -> int:
    """Feed one camera until ``ffmpeg`` goes (or the process is stopped)."""
    encoder = subprocess.Popen(ffmpeg_args(port), stdin=subprocess.PIPE)
    assert encoder.stdin is not None
    frames = Frames(name, seed=port)
    start = time.monotonic()
    n = 0
    try:
        while True:
            encoder.stdin.write(frames.frame(n, int(time.time() * 1000)))  # the capture time, as a camera's
            encoder.stdin.flush()
            n += 1
            pause = start + n / FPS - time.monotonic()
            if pause > 0:
                time.sleep(pause)  # the frame rate: a camera's shutter, not a wait for anything
    except (BrokenPipeError, KeyboardInterrupt):
        return 0
    finally:
        encoder.stdin.close()
        encoder.wait()


@dataclass
class _Feed:
    process: subprocess.Popen[bytes]
    wanted_at: float


@dataclass
class FeedSupervisor:
    """Simulated cameras' feeds, started when watched and stopped when nobody is (see the module)."""

    cameras: CameraRegistry
    max_feeds: int = 6
    idle_s: float = IDLE_S
    _feeds: dict[str, _Feed] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def want(self, camera: Camera) -> None:
        """Someone is watching ``camera``: make sure its feed runs (again, if it ended)."""
        if camera.rtp_port is None:
            return  # a bureau camera: the gateway pulls it
        with self._lock:
            feed = self._feeds.get(camera.device_id)
            if feed is not None and feed.process.poll() is None:
                feed.wanted_at = time.monotonic()
                return
            while len([f for f in self._feeds.values() if f.process.poll() is None]) >= self.max_feeds:
                oldest = min(self._feeds, key=lambda key: self._feeds[key].wanted_at)
                self._end(oldest)
            process = subprocess.Popen([sys.executable, "-m", "video.feeds", camera.device_id, str(camera.rtp_port)],
                                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            self._feeds[camera.device_id] = _Feed(process, time.monotonic())
            log.info("simulated camera %s started (port %d)", camera.device_id, camera.rtp_port)

    def running(self) -> dict[str, int]:
        """The feeds now running: camera -> the frame source's process id."""
        with self._lock:
            return {key: feed.process.pid for key, feed in self._feeds.items() if feed.process.poll() is None}

    def sweep(self) -> None:
        """Stop the feeds nobody has watched for ``idle_s``."""
        now = time.monotonic()
        with self._lock:
            for key in [key for key, feed in self._feeds.items() if now - feed.wanted_at > self.idle_s]:
                self._end(key)

    def run(self, stop: threading.Event) -> None:
        while not stop.wait(5.0):
            self.sweep()
        self.stop_all()

    def stop_all(self) -> None:
        with self._lock:
            for key in list(self._feeds):
                self._end(key)

    def _end(self, key: str) -> None:
        stop_process(self._feeds.pop(key).process, timeout_s=5.0)


if __name__ == "__main__":
    raise SystemExit(run_feed(sys.argv[1], int(sys.argv[2])))
