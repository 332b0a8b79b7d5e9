"""The WebRTC gateway: Debian's Janus with its streaming plugin, configured from the camera registry.

:func:`write_config` writes a private configuration folder (only the streaming plugin and the HTTP
transport; the HTTP API on loopback, every request needing the API secret, which only the dashboard's
signalling relay holds: see :mod:`video.gate`) with one mountpoint per camera. A simulated camera's
mountpoint takes H.264 over RTP on its own port and keeps the last keyframe (``bufferkf``: a new viewer's
first frame does not wait for the next one); a bureau camera's pulls its RTSP address.

:class:`EmbeddedJanus` runs that gateway as a child process for ``make run`` and the tests, the way
``EmbeddedRedis`` runs Redis. ``VIDEO_GATEWAY_URL`` names a gateway run by the bureau instead.
"""

from __future__ import annotations

import json
import logging
import shutil
import socket
import subprocess
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from video.cameras import Camera

log = logging.getLogger(__name__)

JANUS = "janus"
LIBRARY_DIRS = ("/usr/lib/x86_64-linux-gnu/janus", "/usr/lib/aarch64-linux-gnu/janus", "/usr/lib/janus")
H264_PAYLOAD = 96
H264_FMTP = "profile-level-id=42e01f;packetization-mode=1"
UNUSED_PLUGINS = ("audiobridge", "duktape", "echotest", "lua", "nosip", "recordplay", "sip", "textroom",
                  "videocall", "videoroom", "voicemail")
UNUSED_TRANSPORTS = ("mqtt", "nanomsg", "pfunix", "rabbitmq", "websockets")


@dataclass(frozen=True)
class GatewayConfig:
    http_port: int
    api_secret: str
    ice_interfaces: str  # ICE candidates only on these interfaces ("lo" on one machine; the LAN's in a hall)
    rtp_port_range: str = "40000-40999"  # the browsers' WebRTC media
    session_timeout_s: int = 60


def library_dir() -> Path:
    """Where Debian put Janus's plugins and transports."""
    for candidate in LIBRARY_DIRS:
        if Path(candidate, "plugins").is_dir():
            return Path(candidate)
    raise FileNotFoundError("Janus's plugins were not found: install Debian's janus (scripts/ensure-video.sh)")


def _mountpoint(camera: Camera) -> str:
    name = camera.device_id  # a libconfig name: a letter, then letters, digits, "-" and "_" (device ids are)
    if camera.rtsp_url is not None:
        return (f'{name}: {{\n  type = "rtsp"\n  id = {camera.mountpoint}\n  description = "{name}"\n'
                f'  audio = false\n  video = true\n  url = {json.dumps(camera.rtsp_url)}\n'
                f'  rtsp_reconnect_delay = 5\n  videobufferkf = true\n}}\n')
    return (f'{name}: {{\n  type = "rtp"\n  id = {camera.mountpoint}\n  description = "{name}"\n'
            # Bound to loopback: only this machine's feeds may send a simulated camera's picture.
            f'  media = ( {{ type = "video"  mid = "v"  label = "{name}"  port = {camera.rtp_port}  iface = "127.0.0.1"'
            f'  pt = {H264_PAYLOAD}  codec = "h264"  fmtp = "{H264_FMTP}"  bufferkf = true }} )\n}}\n')


def write_config(folder: Path, cameras: list[Camera], config: GatewayConfig) -> Path:
    """Write Janus's configuration for ``cameras`` into ``folder``; returns the main file."""
    folder.mkdir(parents=True, exist_ok=True)
    lib = library_dir()
    disabled_plugins = ",".join(f"libjanus_{p}.so" for p in UNUSED_PLUGINS)
    disabled_transports = ",".join(f"libjanus_{t}.so" for t in UNUSED_TRANSPORTS)
    main = folder / "janus.jcfg"
    main.write_text(
        "general: {\n"
        f'  configs_folder = "{folder}"\n  plugins_folder = "{lib}/plugins"\n'
        f'  transports_folder = "{lib}/transports"\n  events_folder = "{lib}/events"\n'
        f'  loggers_folder = "{lib}/loggers"\n  debug_level = 3\n'
        f"  session_timeout = {config.session_timeout_s}\n"
        f'  api_secret = "{config.api_secret}"\n  admin_secret = "{config.api_secret}"\n'
        "}\n"
        f'media: {{ rtp_port_range = "{config.rtp_port_range}" }}\n'
        + (f'nat: {{ ice_enforce_list = "{config.ice_interfaces}" }}\n' if config.ice_interfaces else "")
        + f'plugins: {{ disable = "{disabled_plugins}" }}\n'
        f'transports: {{ disable = "{disabled_transports}" }}\n'
        'loggers: { disable = "libjanus_jsonlog.so" }\n'
        'events: { broadcast = false }\n', encoding="utf-8")
    (folder / "janus.transport.http.jcfg").write_text(
        'general: { json = "compact"  base_path = "/janus"  http = true'
        f'  port = {config.http_port}  ip = "127.0.0.1"  https = false }}\n'
        "admin: { admin_http = false }\n", encoding="utf-8")
    (folder / "janus.plugin.streaming.jcfg").write_text(
        # No mountpoint can be made, changed or listed over the API: the configuration is the registry's.
        f'general: {{ admin_key = "{config.api_secret}"  string_ids = false }}\n'
        + "".join(_mountpoint(camera) for camera in cameras), encoding="utf-8")
    return main


def free_port() -> int:
    """A TCP port free on loopback now (the embedded gateway's HTTP API)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def answers(url: str, secret: str, timeout_s: float = 1.0) -> bool:
    """Whether a Janus gateway answers at ``url`` (its ``info`` request)."""
    try:
        with urllib.request.urlopen(f"{url}/info?apisecret={secret}", timeout=timeout_s) as reply:
            return bool(json.loads(reply.read()).get("janus") == "server_info")
    except (urllib.error.URLError, OSError, ValueError):
        return False


class EmbeddedJanus:
    """A Janus child process with the configuration of :func:`write_config`, under ``var_dir/janus``."""

    def __init__(self, var_dir: Path, cameras: list[Camera], config: GatewayConfig) -> None:
        self.dir = var_dir / "janus"
        self.cameras = cameras
        self.config = config
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.config.http_port}/janus"

    @staticmethod
    def installed() -> bool:
        return shutil.which(JANUS) is not None

    def start(self, timeout_s: float = 20.0) -> str:
        """Start the gateway and return its API's URL once it answers."""
        main = write_config(self.dir, self.cameras, self.config)
        log_file = self.dir / "janus.log"
        self.process = subprocess.Popen([JANUS, "-C", str(main), "-F", str(self.dir), "-L", str(log_file), "-N"],
                                        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + timeout_s
        while not answers(self.url, self.config.api_secret, timeout_s=0.5):
            if self.process.poll() is not None:
                raise RuntimeError(f"janus exited ({self.process.returncode}); see {log_file}")
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"janus did not answer within {timeout_s:.0f} s; see {log_file}")
            time.sleep(0.05)  # the HTTP port opens when it is ready: nothing to await
        log.info("embedded Janus at %s with %d mountpoints", self.url, len(self.cameras))
        return self.url

    def stop(self) -> None:
        if self.process is not None:
            stop_process(self.process)


def stop_process(process: subprocess.Popen[bytes], timeout_s: float = 10.0) -> None:
    """Ask a child to end (SIGTERM), and make it (SIGKILL) if it has not within ``timeout_s``."""
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
