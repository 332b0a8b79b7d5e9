"""Shared fixtures: settings in a temporary folder, a live server, a headless browser."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from werkzeug.serving import BaseWSGIServer, make_server

from app import PinganApp, create_app
from settings import Settings


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings.from_env(var_dir=tmp_path / "var", simulator=False, tile_url="")


@dataclass
class LiveServer:
    app: PinganApp
    url: str
    _server: BaseWSGIServer
    _thread: threading.Thread

    def stop(self) -> None:
        self._server.shutdown()
        self._thread.join(timeout=10)


def start_live_server(settings: Settings) -> LiveServer:
    """Serve a fresh app on a free loopback port, in a background thread."""
    app = create_app(settings)
    server = make_server("127.0.0.1", 0, app.server, threaded=True)
    thread = threading.Thread(target=server.serve_forever, name="live-server", daemon=True)
    thread.start()
    return LiveServer(app, f"http://127.0.0.1:{server.server_port}", server, thread)


@pytest.fixture
def live_server(settings: Settings) -> Iterator[LiveServer]:
    server = start_live_server(settings)
    yield server
    server.stop()
