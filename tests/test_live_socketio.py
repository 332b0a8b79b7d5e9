"""Push over real Socket.IO: a real client, a real server, and two app processes sharing Redis."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import urllib.request
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import pytest
import redis
from sqlalchemy import func, select

import clock
from auth.users import UserStore
from bus import keys
from settings import PROJECT_ROOT
from store.db import incidents, make_engine
from testkit.accounts import PASSWORD, make_user
from testkit.entries import SEAT, incident
from testkit.live_client import LiveClient, open_client, sign_in
from testkit.servers import LiveServer, free_port
from testkit.waiting import wait_until


def signed_in_client(server: LiveServer, role: str = "duty_officer", over_http: bool = False) -> LiveClient:
    username = make_user(server.app, role)
    return open_client(server.url, sign_in(server.url, username, PASSWORD), over_http=over_http)


@pytest.mark.parametrize("over_http", [True, False], ids=["acks-over-http", "acks-over-socket"])
def test_live001_client_receives_every_event_once(live_server: LiveServer, r: redis.Redis, over_http: bool) -> None:
    client = signed_in_client(live_server, over_http=over_http)
    try:
        wait_until(lambda: client.snapshots == 1, what="the snapshot")
        pipe = r.pipeline(transaction=False)
        for n in range(500):
            pipe.xadd(keys.INCIDENTS, incident(f"S-{n}"))
        pipe.execute()
        got = client.wait_for(500)
        assert sorted(e["data"]["event_id"] for e in got) == sorted(f"S-{n}" for n in range(500))
        assert client.gaps == 0
    finally:
        client.close()


def test_live002_reconnect_resumes_without_gap_or_duplicate(live_server: LiveServer, r: redis.Redis) -> None:
    client = signed_in_client(live_server)
    try:
        for n in range(5):
            r.xadd(keys.INCIDENTS, incident(f"R-{n}"))
        client.wait_for(5)
        client.sio.disconnect()
        for n in range(5, 10):
            r.xadd(keys.INCIDENTS, incident(f"R-{n}"))
        wait_until(lambda: sum(f["type"] == "incident" for _, f in r.xrange(keys.LIVE)) >= 10, what="the consumer")
        client.connect()  # re-subscribes from its last stream id
        got = client.wait_for(10)
        assert [e["data"]["event_id"] for e in got] == [f"R-{n}" for n in range(10)]
        assert client.snapshots == 1
    finally:
        client.close()


def _start_app(port: int, env: dict[str, str]) -> subprocess.Popen[bytes]:
    proc = subprocess.Popen([sys.executable, "app.py"], cwd=PROJECT_ROOT, env={**env, "PORT": str(port)})

    def answers() -> bool:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2) as response:
                return response.status == 200
        except OSError:
            return False

    wait_until(answers, timeout=60, what=f"app on port {port}")
    return proc


# Late tickets: a delayed 12345 hand-over, a backlog after an outage. Their age is a display matter, never a drop.
AGES = (timedelta(seconds=5), timedelta(minutes=20), timedelta(hours=5), timedelta(days=3), timedelta(weeks=3))


def ids_of(events: list[dict]) -> list[str]:
    return sorted(e["data"]["event_id"] for e in events)


def publish_aged(r: redis.Redis, tag: str, count: int) -> list[str]:
    """``count`` incidents, their reports spread over ``AGES``; returns their ids."""
    pipe = r.pipeline(transaction=False)
    for n in range(count):
        pipe.xadd(keys.INCIDENTS, incident(f"{tag}-{n}", ago=AGES[n % len(AGES)]))
    pipe.execute()
    return sorted(f"{tag}-{n}" for n in range(count))


def connect_while(publish: Callable[[], list[str]], *connect: Callable[[], LiveClient]) -> tuple[list[str], list]:
    """Open clients while ``publish`` runs, so some subscribe in the middle of it (snapshot, then cursor)."""
    clients: list[LiveClient] = []
    openers = [threading.Thread(target=lambda c=c: clients.append(c())) for c in connect]
    for opener in openers:
        opener.start()
    published = publish()
    for opener in openers:
        opener.join(timeout=30)
    return published, clients


def test_live004_late_and_old_incidents_reach_every_client_exactly_once(
    live_server: LiveServer, r: redis.Redis
) -> None:
    early = signed_in_client(live_server)
    wait_until(lambda: early.snapshots == 1, what="the snapshot")
    published, late_comers = connect_while(lambda: publish_aged(r, "OLD", 300),
                                           lambda: signed_in_client(live_server),
                                           lambda: signed_in_client(live_server, over_http=True))
    try:
        for client in (early, *late_comers):
            assert ids_of(client.wait_for(300)) == published
            assert (client.redelivered, client.gaps) == (0, 0)
        # Shown as late, not as today's (the feed marks them; today's tiles count only today's).
        [payload] = [e["data"] for e in early.events if e["type"] == "incident" and e["data"]["event_id"] == "OLD-3"]
        assert payload["late"] is True and payload["reported_at"] < payload["ingested_at"]
    finally:
        for client in (early, *late_comers):
            client.close()


def test_live005_a_page_that_loads_gets_every_open_incident_whatever_its_age(
    live_server: LiveServer, r: redis.Redis
) -> None:
    publish_aged(r, "OPEN", len(AGES))
    r.xadd(keys.INCIDENTS, incident("HIST-1", ago=timedelta(hours=1), history="1"))  # backfilled history
    wait_until(lambda: live_server.app.dispatch.incident("HIST-1"), what="the consumer")
    # Received days ago: one still being handled (it must stay on the board), one finished (it may go).
    days_ago = clock.now() - timedelta(days=3)
    base = {"stream_id": "1-0", "reported_at": days_ago, "ingested_at": days_ago, "lon": SEAT[0], "lat": SEAT[1],
            "grid": live_server.app.grids.locate_codes([SEAT[0]], [SEAT[1]])[0], "category": "theft", "priority": 2,
            "address": "朔城区民福街3号", "description": "电动车被盗", "source": "110"}
    with live_server.app.engine.begin() as conn:
        conn.execute(incidents.insert(), [{**base, "event_id": "DAYS-OPEN", "status": "dispatched"},
                                          {**base, "event_id": "DAYS-DONE", "status": "closed"}])
    client = signed_in_client(live_server)
    try:
        wait_until(lambda: client.snapshots == 1, what="the snapshot")
        # Everything received today and everything still open, whatever its age; not history, not old and done.
        assert sorted(client.snapshot_ids) == ["DAYS-OPEN", *(f"OPEN-{n}" for n in range(len(AGES)))]
    finally:
        client.close()


@pytest.mark.slow  # starts processes
@pytest.mark.parametrize("ages", ["current", "aged"])
def test_live003_two_app_processes_both_deliver_and_process_once(
    redis_url: str, r: redis.Redis, tmp_path: Path, ages: str
) -> None:
    database = f"sqlite:///{tmp_path / 'shared.sqlite3'}"
    env = {**os.environ, "REDIS_URL": redis_url, "DATABASE_URL": database, "SIMULATOR": "0", "BACKFILL": "0",
           "VAR_DIR": str(tmp_path)}
    accounts = make_engine(database)
    UserStore(accounts).create("watch", PASSWORD, "duty_officer")
    accounts.dispose()
    ports = [free_port(), free_port()]
    procs = [_start_app(port, env) for port in ports]
    urls = [f"http://127.0.0.1:{port}" for port in ports]
    clients = [open_client(url, sign_in(url, "watch", PASSWORD)) for url in urls]

    def publish() -> list[str]:
        if ages == "aged":
            return publish_aged(r, "T", 300)
        for n in range(300):
            r.xadd(keys.INCIDENTS, incident(f"T-{n}"))
        return sorted(f"T-{n}" for n in range(300))

    # One more client on each process connects while the incidents are being published.
    published, late_comers = connect_while(publish, *(lambda url=url: open_client(url, sign_in(url, "watch", PASSWORD))
                                                      for url in urls))
    clients += late_comers
    try:
        for client in clients:
            got = client.wait_for(300)
            assert ids_of(got) == published and client.redelivered == 0
        on_live = [json.loads(f["data"])["event_id"] for _, f in r.xrange(keys.LIVE) if f["type"] == "incident"]
        assert len(on_live) == 300 == len(set(on_live))
        engine = make_engine(database)
        with engine.connect() as conn:
            assert conn.execute(select(func.count()).select_from(incidents)).scalar_one() == 300
        engine.dispose()
        # Both processes' consumers shared the work through the group.
        consumers = r.xinfo_consumers(keys.INCIDENTS, keys.CONSUMER_GROUP)
        assert len(consumers) == 2
    finally:
        for client in clients:
            client.close()
        for proc in procs:
            proc.terminate()
            proc.wait(timeout=20)
