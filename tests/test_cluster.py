"""The product on a real Redis Cluster (3 primaries, 3 replicas of Debian's redis-server; bus/local_cluster.py).

The consumer's tests run here again unchanged, on a Cluster client (their fixture ``r`` is this module's);
then what only a Cluster has: a primary killed under load.
"""

from __future__ import annotations

import json
import random
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
from sqlalchemy import Engine, select

from bus import keys
from bus.atomic import AtomicBatch
from bus.connection import connect, is_cluster_client
from bus.local_cluster import LocalCluster
from bus.produce import send
from geo.devices import DeviceRegistry
from geo.index import GridIndex
from ingest.consumer import Consumer
from store.db import incidents
from testkit.entries import incident
from testkit.waiting import wait_until

# The consumer's own tests, on a Cluster (pytest runs imported tests with this module's fixtures).
from tests.test_consumer import (  # noqa: F401
    consumer,
    test_consumer001_incident_is_located_kept_published_and_acked,
    test_consumer002_a_repeated_event_id_is_ignored,
    test_consumer003_bad_entries_go_to_dead_letters_and_good_ones_go_on,
    test_consumer005_kept_but_unpublished_is_published_once_on_reclaim,
    test_consumer006_unit_fixes_keep_the_newest,
    test_consumer007_sensor_heartbeats_alerts_and_unknown_devices,
    test_consumer008_trim_never_drops_pending_entries,
    test_consumer010_published_log_is_pruned,
)

# Dispatch's outbox relay script, and push over Socket.IO from an app whose every Redis client is a Cluster's
# (the hub's XREAD, sessions, the sign-in rate), all on a Cluster.
from tests.test_dispatch import service, test_disp009_outbox_rows_left_by_a_crash_are_relayed_exactly_once  # noqa: F401
from tests.test_live_socketio import (  # noqa: F401
    test_live001_client_receives_every_event_once,
    test_live002_reconnect_resumes_without_gap_or_duplicate,
)

pytestmark = pytest.mark.slow  # starts six redis-servers once per session


def _free_block(count: int) -> list[int]:
    """``count`` consecutive ports, each free with its cluster-bus port (+10000) free too."""
    # From a random place: two test runs at once (CI beside a run with the clock moved) must not pick one block.
    first = random.randrange(21000, 29000)
    for start in [*range(first, 30000, 17), *range(21000, first, 17)]:
        ports = list(range(start, start + count))
        try:
            sockets = []
            for port in ports + [p + 10000 for p in ports]:
                s = socket.socket()
                sockets.append(s)
                s.bind(("127.0.0.1", port))
        except OSError:
            continue
        finally:
            for s in sockets:
                s.close()
        return ports
    raise RuntimeError("no free block of ports for a Redis Cluster")


@pytest.fixture(scope="session")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalCluster]:
    nodes = LocalCluster(tmp_path_factory.mktemp("cluster"), _free_block(6))
    nodes.start()
    yield nodes
    nodes.stop()


@pytest.fixture
def redis_url(cluster: LocalCluster) -> str:
    return cluster.url


@pytest.fixture
def r(cluster: LocalCluster) -> Iterator[redis.Redis]:
    cluster.wait_ready()  # a test that killed a node leaves the cluster whole again, but check
    client = connect(cluster.url)
    client.flushall()  # on every primary
    yield client
    client.close()


def test_cluster001_url_names_a_cluster_and_every_key_shares_one_slot(r: redis.Redis) -> None:
    assert is_cluster_client(r)
    slots = {r.cluster_keyslot(key) for key in [*keys.INBOUND, keys.LIVE, keys.PUBLISHED, keys.DEAD,  # type: ignore[attr-defined]
                                                    keys.UNIT_STATE, keys.DEVICE_SEEN, keys.COUNTERS,
                                                    keys.OUTBOX_SENT + "7", keys.BATCH_TOKEN + "x", keys.AUTH]}
    assert slots == {700}


def test_cluster002_a_batch_sent_twice_is_applied_once(r: redis.Redis) -> None:
    batch = AtomicBatch()
    batch.xadd(keys.LIVE, {"type": "t", "data": "{}"})
    batch.hincrby(keys.COUNTERS, "events_in", 3)
    batch.zadd(keys.PUBLISHED, {"E-1": 1.5})
    first = batch.apply(r)
    assert batch.apply(r) == first  # a retry after a lost reply
    assert r.xlen(keys.LIVE) == 1 and r.hget(keys.COUNTERS, "events_in") == "3"
    assert r.zscore(keys.PUBLISHED, "E-1") == 1.5


def _produce(r: redis.Redis, stop: threading.Event, rate: float, confirm: int,
             acked: list[str], failed: list[str]) -> None:
    n = 0
    while not stop.is_set():
        event_id = f"FO-{confirm}-{n}"
        n += 1
        try:
            send(r, keys.INCIDENTS, incident(event_id), confirm_replicas=confirm)
            acked.append(event_id)
        except redis.ConnectionError:
            failed.append(event_id)  # outcome unknown: it may be kept, or not
        stop.wait(1 / rate)


@pytest.mark.parametrize("confirm", [0, 1], ids=["xadd", "xadd+wait"])
def test_cluster003_a_primary_killed_under_load_loses_no_acknowledged_entry_and_doubles_none(
    cluster: LocalCluster, r: redis.Redis, engine: Engine, grids: GridIndex, devices: DeviceRegistry,
    tmp_path: Path, confirm: int,
) -> None:
    """200 incidents/s; the primary holding ``{cc}`` is SIGKILLed; its replica takes over. Every acknowledged
    incident is kept and published exactly once, and the consumer is back within 1 s of the promotion."""
    worker = Consumer(connect(cluster.url), engine, grids, devices, name="fo")
    stop, producing = threading.Event(), threading.Event()
    acked: list[str] = []
    failed: list[str] = []
    threads = [threading.Thread(target=worker.run, args=(stop,), daemon=True),
               threading.Thread(target=_produce, args=(connect(cluster.url), producing, 200, confirm, acked, failed),
                                daemon=True)]
    for thread in threads:
        thread.start()
    try:
        wait_until(lambda: len(acked) >= 200, timeout=20)
        owner = cluster.owner_of(keys.LIVE)
        killed = cluster.kill(owner)
        promoted = cluster.wait_promoted(owner)
        # The old primary rejoins as a replica, as an operator would bring it back: until then the promoted
        # primary has no replica and every WAIT waits out its 100 ms.
        cluster.start_node(owner)
        marker = len(acked)
        wait_until(lambda: len(acked) >= marker + 100, timeout=30)
        resumed = _first_live_after(r, promoted)
        producing.set()
        wait_until(lambda: _kept(engine) >= set(acked), timeout=60)
    finally:
        producing.set()
        stop.set()
        for thread in threads:
            thread.join(timeout=30)
    published = [json.loads(f["data"])["event_id"] for _, f in r.xrange(keys.LIVE) if f["type"] == "incident"]
    assert set(acked) <= _kept(engine)  # no acknowledged incident lost
    assert len(published) == len(set(published))  # none published twice
    assert set(acked) <= set(published)
    assert resumed - promoted < 1.0, f"consumer back {resumed - promoted:.2f} s after the promotion"
    assert promoted - killed < 15


def _kept(engine: Engine) -> set[str]:
    with engine.connect() as conn:
        return set(conn.execute(select(incidents.c.event_id)).scalars())


def _first_live_after(r: redis.Redis, monotonic_t: float) -> float:
    """When the first live entry written after ``monotonic_t`` was written (stream ids are wall-clock ms)."""
    wall_ms = int((time.time() - (time.monotonic() - monotonic_t)) * 1000)
    first = r.xrange(keys.LIVE, min=f"{wall_ms}-0", count=1)
    assert first, "nothing published after the promotion"
    entry_ms = int(first[0][0].split("-")[0])
    return monotonic_t + (entry_ms - wall_ms) / 1000
