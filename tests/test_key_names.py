"""The move from the ``cc:`` key names to ``{cc}:`` (version 0.2.0) on a single Redis: nothing lost, and
producers that still write the old names are served until they switch (docs/ingest.md, "Key names")."""

from __future__ import annotations

import json

import redis
from sqlalchemy import Engine, select

from bus import keys
from bus.atomic import AtomicBatch
from bus.rename import main, rename_legacy_keys
from geo.devices import DeviceRegistry
from geo.index import GridIndex
from ingest.consumer import Consumer
from store.db import incidents
from testkit.entries import incident


def _kept(engine: Engine) -> set[str]:
    with engine.connect() as conn:
        return set(conn.execute(select(incidents.c.event_id)).scalars())


def test_keys001_an_old_redis_moves_to_the_new_names_with_its_groups_and_pending_entries(
    r: redis.Redis, engine: Engine, grids: GridIndex, devices: DeviceRegistry
) -> None:
    # What release 2026.12 left behind: an incident read but not acknowledged, a live event, a unit's state.
    old_incidents = keys.LEGACY_PREFIX + "in:incidents"
    r.xgroup_create(old_incidents, keys.CONSUMER_GROUP, id="0", mkstream=True)
    r.xadd(old_incidents, incident("OLD-1"))
    r.xreadgroup(keys.CONSUMER_GROUP, "old-process", {old_incidents: ">"})
    r.xadd(keys.LEGACY_PREFIX + "live", {"type": "incident", "data": "{}"})
    r.hset(keys.LEGACY_PREFIX + "state:units", "U-1", "{}")
    r.set(keys.LEGACY_PREFIX + "auth:session:abc", "x", ex=600)

    moved = rename_legacy_keys(r)

    assert len(moved.moved) == 4 and not moved.kept
    assert r.xlen(keys.LIVE) == 1 and r.hget(keys.UNIT_STATE, "U-1") == "{}"
    assert 0 < r.ttl(keys.AUTH + "session:abc") <= 600  # signed-in users stay signed in
    pending = r.xpending(keys.INCIDENTS, keys.CONSUMER_GROUP)
    assert pending["pending"] == 1  # the group and its pending entry moved with the stream
    worker = Consumer(r, engine, grids, devices, name="new")
    worker.reclaim_idle_ms = 0
    worker.ensure_groups()
    worker.reclaim()
    assert _kept(engine) == {"OLD-1"}
    assert all(r.xlen(name) == 0 for name in keys.LEGACY_INBOUND)  # the old names are empty (recreated for readers)


def test_keys002_a_producer_still_writing_the_old_name_is_served(
    r: redis.Redis, engine: Engine, grids: GridIndex, devices: DeviceRegistry
) -> None:
    worker = Consumer(r, engine, grids, devices, name="new")
    worker.ensure_groups()
    old_incidents = keys.LEGACY_PREFIX + "in:incidents"
    r.xadd(old_incidents, incident("LEGACY-1"))
    r.xadd(keys.INCIDENTS, incident("NEW-1"))
    response = r.xreadgroup(keys.CONSUMER_GROUP, worker.name, dict.fromkeys(worker.streams, ">"), count=100)
    result = worker.process({stream: entries for stream, entries in response})
    assert result.processed == 2 and result.published == 2
    assert _kept(engine) == {"LEGACY-1", "NEW-1"}
    assert r.xpending(old_incidents, keys.CONSUMER_GROUP)["pending"] == 0  # acknowledged on its own stream
    published = [json.loads(f["data"])["event_id"] for _, f in r.xrange(keys.LIVE) if f["type"] == "incident"]
    assert sorted(published) == ["LEGACY-1", "NEW-1"]


def test_keys003_a_new_name_already_taken_is_never_overwritten(r: redis.Redis, capsys) -> None:  # type: ignore[no-untyped-def]
    r.hset(keys.LEGACY_PREFIX + "counters", "events_in", 5)
    r.hset(keys.COUNTERS, "events_in", 7)
    url = f"unix://{r.connection_pool.connection_kwargs['path']}"
    assert main([url]) == 0
    assert r.hget(keys.COUNTERS, "events_in") == "7" and r.hget(keys.LEGACY_PREFIX + "counters", "events_in") == "5"
    assert "left: cc:counters" in capsys.readouterr().out


def test_keys004_a_batch_sent_twice_is_applied_once_on_a_single_redis(r: redis.Redis) -> None:
    batch = AtomicBatch()
    for n in range(1200):  # more than one chunk of arguments
        batch.xadd(keys.LIVE, {"type": "t", "data": str(n)})
    batch.hset(keys.DEVICE_SEEN, {f"D-{n}": str(n) for n in range(1500)})
    batch.xack(keys.INCIDENTS, keys.CONSUMER_GROUP, [f"{n}-0" for n in range(1, 2500)])
    ids = batch.apply(r)
    assert len(ids) == 1200 and batch.apply(r) == ids
    assert r.xlen(keys.LIVE) == 1200 and r.hlen(keys.DEVICE_SEEN) == 1500
