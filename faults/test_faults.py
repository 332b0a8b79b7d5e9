"""`make faults`: kill it, flood it, poison it; check what was accepted, kept and published.

Each test drives real processes (redis-server, stream workers) and prints its figures. Three sets
are compared at the end: what producers were told was accepted (XADD returned an id), what the
system of record holds, and what was published to screens (``{cc}:live``, which every page is fed
from).
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import redis
from sqlalchemy import Engine, func, select

from bus import keys
from bus.connection import EmbeddedRedis, connect
from settings import PROJECT_ROOT
from store.db import incidents, make_engine
from testkit import poison
from testkit.dash_requests import send_output, send_request
from testkit.entries import incident
from testkit.waiting import wait_until


def published_ids(r: redis.Redis) -> list[str]:
    return [json.loads(f["data"])["event_id"] for _, f in r.xrange(keys.LIVE) if f["type"] == "incident"]


def kept(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(incidents)).scalar_one())


class Producer(threading.Thread):
    """XADDs incidents at a steady rate; remembers what Redis acknowledged; rides out outages."""

    def __init__(self, url: str, rate: float, total: int, tag: str) -> None:
        super().__init__(daemon=True)
        self.url, self.rate, self.total, self.tag = url, rate, total, tag
        self.accepted: list[str] = []
        self.retries = 0
        self.halt = threading.Event()

    def run(self) -> None:
        r = connect(self.url)
        started = time.perf_counter()
        for n in range(self.total):
            if self.halt.is_set():
                break
            pause = started + n / self.rate - time.perf_counter()
            if pause > 0:
                time.sleep(pause)  # pacing the producer
            event_id = f"{self.tag}-{n}"
            while True:
                try:
                    r.xadd(keys.INCIDENTS, incident(event_id))
                    self.accepted.append(event_id)
                    break
                except (redis.ConnectionError, redis.TimeoutError):
                    self.retries += 1  # not acknowledged: retry, as a real producer would
                    time.sleep(0.05)


def start_worker(url: str, database: str, var: Path, name: str) -> subprocess.Popen[bytes]:
    env = {**os.environ, "REDIS_URL": url, "DATABASE_URL": database, "VAR_DIR": str(var)}
    return subprocess.Popen([sys.executable, "worker.py", "--name", name, "--reclaim-idle-ms", "300"],
                            cwd=PROJECT_ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


@pytest.fixture
def system(tmp_path: Path):  # type: ignore[no-untyped-def]
    server = EmbeddedRedis(tmp_path)
    url = server.start()
    database = f"sqlite:///{tmp_path / 'faults.sqlite3'}"
    yield server, url, database, make_engine(database)
    server.stop()


def test_fault001_consumer_killed_at_random_points(
    system, long_form: bool, tmp_path: Path  # type: ignore[no-untyped-def]
) -> None:
    _, url, database, engine = system
    r = connect(url)
    kills = 100 if long_form else 20
    rng = random.Random(11)
    producer = Producer(url, rate=200, total=10**9, tag="K")
    producer.start()
    worker = start_worker(url, database, tmp_path, "w0")
    for n in range(kills):
        # Kill only a worker that is busy: wait until it has processed something itself.
        seen = int(r.hget(keys.COUNTERS, "events_in") or 0)
        wait_until(lambda seen=seen: int(r.hget(keys.COUNTERS, "events_in") or 0) > seen, timeout=60,
                   what="the new worker to process")
        time.sleep(rng.uniform(0.0, 0.3))  # then a random point in its work
        worker.send_signal(signal.SIGKILL)
        worker.wait()
        worker = start_worker(url, database, tmp_path, f"w{n + 1}")
    producer.halt.set()
    producer.join()
    last_kill = time.monotonic()
    try:
        wait_until(lambda: kept(engine) == len(producer.accepted)
                   and r.xpending(keys.INCIDENTS, keys.CONSUMER_GROUP)["pending"] == 0,
                   timeout=120, what="the backlog to drain")
        drained_s = time.monotonic() - last_kill
    finally:
        worker.terminate()
        worker.wait(timeout=20)
    published = published_ids(r)
    print(f"\n[fault001] {kills} SIGKILLs of a busy worker at 200 ev/s: accepted {len(producer.accepted)}, "
          f"kept {kept(engine)}, published {len(published)} ({len(published) - len(set(published))} twice); "
          f"pending empty {drained_s:.1f} s after the last kill")
    assert set(published) == set(producer.accepted)
    assert len(published) == len(set(published)) == kept(engine) == len(producer.accepted)


def test_fault002_redis_killed_and_restarted_under_load(
    system, tmp_path: Path  # type: ignore[no-untyped-def]
) -> None:
    server, url, database, engine = system
    r = connect(url)
    producer = Producer(url, rate=200, total=2000, tag="R")
    worker = start_worker(url, database, tmp_path, "w")
    producer.start()
    try:
        wait_until(lambda: len(producer.accepted) > 600, what="load to build")
        server.process.send_signal(signal.SIGKILL)  # type: ignore[union-attr]
        server.process.wait()  # type: ignore[union-attr]
        down_at = time.monotonic()
        time.sleep(1.0)  # an outage of one second
        server.start()
        restarted_at = time.monotonic()
        before = len(published_ids(r))
        wait_until(lambda: len(published_ids(r)) > before, timeout=60, what="publishing to resume")
        recovered_s = time.monotonic() - restarted_at
        producer.join()
        wait_until(lambda: kept(engine) == len(producer.accepted)
                   and len(set(published_ids(r))) >= len(producer.accepted), timeout=60,
                   what="the backlog to drain")
    finally:
        worker.terminate()
        worker.wait(timeout=20)
    published = published_ids(r)
    print(f"\n[fault002] redis-server SIGKILLed for {restarted_at - down_at:.1f} s at 200 ev/s: "
          f"accepted {len(producer.accepted)} (producer retried {producer.retries}), kept {kept(engine)}, "
          f"published {len(published)}; consumer publishing again {recovered_s:.2f} s after the restart")
    assert set(published) == set(producer.accepted) and len(published) == len(set(published))


def test_fault003_poison_messages(tmp_path: Path, long_form: bool) -> None:
    """Malformed entries among good ones: every one dead-lettered with its reason, every good one kept and
    published once. (How much the poison costs in throughput is a figure: `make bench BENCH=poison`.)"""
    good, bad = (100_000, 1000) if long_form else (50_000, 500)
    server = EmbeddedRedis(tmp_path / "redis")
    url = server.start()
    try:
        poison.load(url, good, bad, "P")
        rate = poison.drain(url, tmp_path / "var", good + bad)
        r = connect(url)
        dead = [fields for _, fields in r.xrange(keys.DEAD)]
        published = published_ids(r)
        engine = make_engine(f"sqlite:///{tmp_path / 'var' / 'pingan.sqlite3'}")
        stored = kept(engine)
        engine.dispose()
    finally:
        server.stop()
    print(f"\n[fault003] {bad} malformed among {good:,} good: {len(dead)} in {{cc}}:dead, {stored:,} kept, "
          f"{len(published):,} published ({rate:,.0f} entries/s)")
    assert len(dead) == bad and all(d["reason"] and d["entry_id"] and "P-bad-" in d["fields"] for d in dead)
    assert stored == good
    assert len(published) == good == len(set(published))


def test_fault004_app_killed_while_instructions_are_sent(system, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """Each instruction exists once or not at all; a retry tells the officer which."""
    import requests

    from dispatch.service import request_key
    from layouts.ids import DispatchID
    from store.db import instructions, outbox
    from testkit.accounts import BENCH_PASSWORD, BENCH_USER
    from testkit.entries import unit
    from testkit.live_client import sign_in
    from testkit.servers import free_port, start_server, stop_server

    _, url, database, engine = system
    r = connect(url)
    sends = 60
    pipe = r.pipeline(transaction=False)
    for n in range(sends):
        pipe.xadd(keys.UNITS, unit(f"PU-{n:03d}"))
        pipe.xadd(keys.INCIDENTS, incident(f"A-{n}"))
    pipe.execute()
    port = free_port()
    env = {"REDIS_URL": url, "DATABASE_URL": database}
    proc, _ = start_server(port, tmp_path / "app", env)
    base = f"http://127.0.0.1:{port}"
    wait_until(lambda: r.hlen(keys.UNIT_STATE) == sends and kept(engine) == sends, what="units and incidents")
    # The officer's session lives in Redis and outlives the app process, like the browser's cookie.
    http = sign_in(base, BENCH_USER, BENCH_PASSWORD)
    output = send_output(http.get(f"{base}/_dash-dependencies", timeout=10).json())

    def instruction_count(key: str, unit_id: str) -> int:
        request = request_key(key, [unit_id], None)
        with engine.connect() as conn:
            return int(conn.execute(select(func.count()).select_from(instructions)
                                    .where(instructions.c.idempotency_key.like(f"{request}:%"))).scalar_one())

    acknowledged, interrupted, told_right = 0, 0, 0
    outcomes: list[str] = []
    rng = random.Random(5)
    kill_at = rng.sample(range(5, sends - 5), 6)
    for n in range(sends):
        key, unit_id = f"key-{n}", f"PU-{n:03d}"
        body = send_request(output, f"A-{n}", unit_id, key)
        if n in kill_at:  # the process dies while this request is in flight
            threading.Timer(rng.uniform(0.0, 0.02), proc.send_signal, args=(signal.SIGKILL,)).start()
        try:
            http.post(f"{base}/_dash-update-component", json=body, timeout=10).raise_for_status()
            acknowledged += 1
        except requests.RequestException:
            interrupted += 1
            proc.wait()
            existed = instruction_count(key, unit_id)
            proc, _ = start_server(port, tmp_path / "app", env)
            reply = http.post(f"{base}/_dash-update-component", json=body, timeout=10).json()
            shown = str(reply["response"][DispatchID.MESSAGE])
            # The officer retries the same click: the screen says "already sent" or "sent".
            told_right += ("重复提交" in shown) == (existed == 1)
            outcomes.append(f"{'existed' if existed else 'absent'}: {shown[:40]}")
        assert instruction_count(key, unit_id) == 1
    wait_until(lambda: _unsent(engine, outbox) == 0, timeout=30, what="the outbox relay")
    stop_server(proc)
    per_instruction = [f["instruction_id"] for _, f in r.xrange(keys.OUT_INSTRUCTIONS)]
    print(f"\n[fault004] {sends} sends, app SIGKILLed {len(kill_at)} times mid-request: {acknowledged} acknowledged, "
          f"{interrupted} interrupted and retried ({told_right} told correctly whether it had been sent); "
          f"{len(per_instruction)} entries in {{cc}}:out:instructions, {len(set(per_instruction))} distinct; "
          f"retries: {sorted(o.split(':')[0] for o in outcomes)}")
    assert told_right == interrupted, outcomes
    assert len(per_instruction) == len(set(per_instruction)) == sends


def _unsent(engine: Engine, table) -> int:  # type: ignore[no-untyped-def]
    with engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(table).where(table.c.sent_at.is_(None))).scalar_one())
