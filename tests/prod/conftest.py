"""The production topology, once for the session: HAProxy, three app processes, Redis, a PostgreSQL database.

It runs only when asked for (``pytest tests/prod`` or ``pytest -m prod``); anywhere else (``make test``) its
tests are skipped. Its own ports, folder and database: a topology started by ``make prod-up`` is left alone.
It runs on the Redis Cluster; ``PROD_REDIS=single`` runs it on one Redis server instead.
"""

from __future__ import annotations

import os
import random
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import cast

import pytest

from auth.users import UserStore
from prod.topology import Layout, RedisMode, Topology
from store.db import make_engine
from testkit.accounts import BENCH_PASSWORD, BENCH_USER

HERE = Path(__file__).resolve().parent



def _asked_for(config: pytest.Config) -> bool:
    if "prod" in (config.getoption("markexpr") or ""):
        return True
    invoked = config.invocation_params.dir
    for arg in config.args:
        target = (invoked / arg.split("::")[0]).resolve()
        if target == HERE or HERE in target.parents:
            return True
    return False


def _free_block() -> int:
    """A base port such that base .. base + 13 and the cluster bus ports base + 10000 .. + 10005 are free."""
    for base in range(random.randrange(12000, 15000, 20), 16000, 20):
        wanted = [*range(base, base + 14), *range(base + 10000, base + 10006)]
        if all(_free(port) for port in wanted):
            return base
    raise RuntimeError("no free block of ports for the topology")


def _free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


@pytest.fixture(scope="session")
def _prod(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Topology]:
    if not _asked_for(request.config):
        pytest.skip("the production topology: run pytest tests/prod or pytest -m prod")
    mode = cast(RedisMode, os.environ.get("PROD_REDIS", "cluster"))
    # Ports of their own, free now (beside make prod-up's and other runs'): a Redis Cluster node's bus port
    # is its port + 10000.
    base = _free_block()
    layout = Layout(root=tmp_path_factory.mktemp("prod"), proxy_port=base + 10,
                    app_ports=(base + 11, base + 12, base + 13), cluster_ports=tuple(range(base, base + 6)),
                    single_port=base + 6, redis_mode=mode,
                    database="pingan_prod_test")
    topo = Topology(layout)
    try:
        topo.up(fresh_database=True)
        engine = make_engine(topo.database_url, migrate=False)
        UserStore(engine).create(BENCH_USER, BENCH_PASSWORD, "duty_officer")
        engine.dispose()
        yield topo
    finally:
        topo.down(wipe=True)


@pytest.fixture(scope="session")
def redis_url(_prod: Topology) -> str:
    """The topology's Redis (overrides the root conftest's embedded one: these tests need the real thing)."""
    return _prod.layout.redis_url


@pytest.fixture(scope="session")
def topology(_prod: Topology, redis_url: str) -> Topology:
    """The running topology (through ``redis_url``, so the root conftest marks its tests ``redis``, not ``unit``)."""
    return _prod
