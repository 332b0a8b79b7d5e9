"""Shared fixtures: settings in a temporary folder, a live server, a headless browser."""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from werkzeug.serving import BaseWSGIServer, make_server

from app import PinganApp, create_app
from settings import Settings


@pytest.fixture
def settings(tmp_path: Path, redis_url: str, r) -> Settings:  # type: ignore[no-untyped-def]
    """Settings for one test: a fresh var dir and SQLite file, the session's real Redis (flushed)."""
    return Settings.from_env(var_dir=tmp_path / "var", simulator=False, tile_url="", redis_url=redis_url,
                             database_url="")


@dataclass
class LiveServer:
    app: PinganApp
    url: str
    _server: BaseWSGIServer
    _thread: threading.Thread

    def stop(self) -> None:
        self._server.shutdown()
        self._thread.join(timeout=10)
        self.app.stop()


def start_live_server(settings: Settings, consumer: bool = True) -> LiveServer:
    """Serve a fresh app (Socket.IO included) on a free loopback port, in a background thread."""
    app = create_app(settings)
    app.start(consumer=consumer, simulator=False)
    server = make_server("127.0.0.1", 0, app.server, threaded=True)
    thread = threading.Thread(target=server.serve_forever, name="live-server", daemon=True)
    thread.start()
    return LiveServer(app, f"http://127.0.0.1:{server.server_port}", server, thread)


@pytest.fixture
def live_server(settings: Settings) -> Iterator[LiveServer]:
    server = start_live_server(settings)
    yield server
    server.stop()


# -- real Redis and the system of record ---------------------------------------

@pytest.fixture(scope="session")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real redis-server (the embedded one), once per test session."""
    from streams.connection import EmbeddedRedis

    server = EmbeddedRedis(tmp_path_factory.mktemp("redis"))
    yield server.start()
    server.stop()


@pytest.fixture
def r(redis_url: str):  # type: ignore[no-untyped-def]
    from streams.connection import connect

    client = connect(redis_url)
    client.flushall()
    yield client
    client.close()


DATABASE_BACKENDS = ["sqlite"] + (["postgresql"] if os.environ.get("TEST_DATABASE_URL") else [])


@pytest.fixture(params=DATABASE_BACKENDS)
def engine(request: pytest.FixtureRequest, tmp_path: Path):  # type: ignore[no-untyped-def]
    """The system of record on SQLite, and on PostgreSQL when TEST_DATABASE_URL is set (CI)."""
    from store.db import make_engine, metadata

    if request.param == "sqlite":
        eng = make_engine(f"sqlite:///{tmp_path / 'test.sqlite3'}")
    else:
        eng = make_engine(os.environ["TEST_DATABASE_URL"])
        metadata.drop_all(eng)
        metadata.create_all(eng)
    yield eng
    eng.dispose()
