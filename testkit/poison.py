"""A backlog with malformed entries among good ones, and a consumer draining it (the fault drill and its benchmark)."""

from __future__ import annotations

import time
from pathlib import Path

import services
from bus import keys
from bus.connection import connect
from settings import Settings
from testkit.entries import incident


def load(url: str, good: int, bad: int, tag: str) -> None:
    """``good`` valid incidents with ``bad`` malformed entries spread among them."""
    r = connect(url)
    pipe = r.pipeline(transaction=False)
    poison_every = good // bad if bad else 0
    for n in range(good):
        # Callers as many as calls: the instant warning rules look each one up, as for real traffic.
        pipe.xadd(keys.INCIDENTS, incident(f"{tag}-{n}", lon=f"{112.30 + (n % 400) / 1000:.4f}",
                                           caller=f"139{n:08d}"))
        if poison_every and n % poison_every == 0:
            pipe.xadd(keys.INCIDENTS, {"event_id": f"{tag}-bad-{n}", "lon": "x" * (n % 7), "category": "<script>"})
        if n % 1000 == 999:
            pipe.execute()
    pipe.execute()


def drain(url: str, var_dir: Path, total: int) -> float:
    """Process ``total`` entries with the product's consumer (assembled as every entry point assembles it);
    returns entries per second."""
    parts = services.build(Settings.from_env(redis_url=url, database_url="", var_dir=var_dir, simulator=False))
    try:
        consumer = parts.consumer(name="poison")
        consumer.ensure_groups()
        r = connect(url)
        started = time.perf_counter()
        done = 0
        while done < total:
            response = r.xreadgroup(keys.CONSUMER_GROUP, consumer.name, {keys.INCIDENTS: ">"}, count=500)
            done += consumer.process({s: e for s, e in response}).processed
        return total / (time.perf_counter() - started)
    finally:
        parts.stop()
