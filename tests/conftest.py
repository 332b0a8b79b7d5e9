"""Shared fixtures (settings in a temporary folder, a live server, real Redis and databases) and test markers.

Every test gets one marker by what it needs: ``browser`` (headless Chromium, under tests/browser),
``redis`` (a real Redis server, and often an app), or ``unit`` (neither; ``make unit`` runs these in
well under a minute). ``slow`` marks tests that start processes or drain large backlogs.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
from sqlalchemy import Engine

from bus.outbox import OutboxRelay
from geo.devices import DeviceRegistry
from geo.index import GridIndex
from gridwork.tasks import TaskService
from media.store import LocalMediaStore
from risk.leads import LeadService
from settings import Settings
from testkit.servers import LiveServer, start_live_server

NEEDS_REDIS = {"r", "redis_url", "settings", "live_server"}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "browser" in item.path.parts:
            item.add_marker(pytest.mark.browser)
        elif NEEDS_REDIS & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.redis)
        else:
            item.add_marker(pytest.mark.unit)


@pytest.fixture(scope="session")
def grids() -> GridIndex:
    """The district's 863 grids (read-only: one for the whole run)."""
    return GridIndex()


@pytest.fixture(scope="session")
def devices() -> DeviceRegistry:
    """The district's device registry (read-only)."""
    return DeviceRegistry()


@pytest.fixture
def settings(tmp_path: Path, redis_url: str, r) -> Settings:  # type: ignore[no-untyped-def]
    """Settings for one test: a fresh var dir and SQLite file, the session's real Redis (flushed); no live video
    and no scheduled reports (their own tests switch them on: test_video_ui.py, test_schedule.py)."""
    return Settings.from_env(var_dir=tmp_path / "var", simulator=False, tile_url="", redis_url=redis_url,
                             database_url="", video=False, report_schedule=False)


@pytest.fixture
def live_server(settings: Settings) -> Iterator[LiveServer]:
    server = start_live_server(settings)
    yield server
    server.stop()


# -- real Redis and the system of record ---------------------------------------

@pytest.fixture(scope="session")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real redis-server (the embedded one), once per test session."""
    from bus.connection import EmbeddedRedis

    server = EmbeddedRedis(tmp_path_factory.mktemp("redis"))
    yield server.start()
    server.stop()


@pytest.fixture
def media(tmp_path: Path) -> LocalMediaStore:
    """A media store in a fresh directory (the default kind; the S3 one is tested against a real server)."""
    return LocalMediaStore(tmp_path / "media")


@pytest.fixture
def r(redis_url: str):  # type: ignore[no-untyped-def]
    from bus.connection import connect

    client = connect(redis_url)
    client.flushall()
    yield client
    client.close()


# -- the domain services many tests build the same way ---------------------------

@pytest.fixture
def relay(engine: Engine, r: redis.Redis) -> OutboxRelay:
    return OutboxRelay(engine, r)


@pytest.fixture
def tasks(engine: Engine, grids: GridIndex, relay: OutboxRelay) -> TaskService:
    return TaskService(engine, grids, relay=relay.relay)


@pytest.fixture
def lead_service(engine: Engine, grids: GridIndex, relay: OutboxRelay, tasks: TaskService) -> LeadService:
    """Leads as the product makes them: a medium one becomes its grid worker's task."""
    return LeadService(engine, grids, relay=relay.relay, tasks=tasks)


DATABASE_BACKENDS = ["sqlite"] + (["postgresql"] if os.environ.get("TEST_DATABASE_URL") else [])


@pytest.fixture(params=DATABASE_BACKENDS)
def empty_database(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """The URL of an empty database: a new SQLite file, or TEST_DATABASE_URL's database emptied."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'test.sqlite3'}"
    url = os.environ["TEST_DATABASE_URL"]
    _empty_postgres(url)
    return url


def _empty_postgres(url: str) -> None:
    # The whole schema, not the tables of today's metadata: alembic_version, the audit trigger function and
    # whatever an earlier test's revisions made must go too, or the next upgrade would not start from nothing.
    from store.db import make_engine

    eng = make_engine(url, migrate=False)
    try:
        with eng.begin() as conn:
            conn.exec_driver_sql("DROP SCHEMA public CASCADE")
            conn.exec_driver_sql("CREATE SCHEMA public")
    finally:
        eng.dispose()


@pytest.fixture
def engine(empty_database: str) -> Iterator[Engine]:
    """The system of record on SQLite, and on PostgreSQL when TEST_DATABASE_URL is set (CI).

    Every test starts from an empty database brought to the newest revision by the migrations.
    """
    from store.db import make_engine

    eng = make_engine(empty_database)
    yield eng
    eng.dispose()
