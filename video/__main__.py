"""``python -m video config DIR``: write the gateway's configuration for this registry into ``DIR`` (to install on
the bureau's own Janus: its streaming plugin's mountpoints then follow the registry's numbering)."""

from __future__ import annotations

import argparse
from pathlib import Path

from geo.devices import DeviceRegistry
from settings import Settings
from video.cameras import CameraRegistry, read_sources
from video.janus import GatewayConfig, write_config


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m video", description="Live video tools")
    commands = parser.add_subparsers(dest="command", required=True)
    config = commands.add_parser("config", help="write Janus's configuration for the cameras (VIDEO_SOURCES)")
    config.add_argument("folder", type=Path)
    config.add_argument("--port", type=int, default=8088, help="the HTTP API's port")
    args = parser.parse_args(argv)
    settings = Settings.from_env()
    cameras = CameraRegistry(DeviceRegistry(settings.data_dir), read_sources(settings.video_sources))
    secret = settings.video_gateway_secret or "set-VIDEO_GATEWAY_SECRET"
    main_file = write_config(args.folder, cameras.all(), GatewayConfig(
        http_port=args.port, api_secret=secret, ice_interfaces=settings.video_ice_interfaces))
    print(f"wrote {main_file} and its plugin and transport files: {len(cameras)} mountpoints")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
