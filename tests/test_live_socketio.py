"""Push over real Socket.IO: a real client, a real server, and two app processes sharing Redis."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest
import redis
from sqlalchemy import func, select

from auth.users import UserStore
from bench.common import free_port
from bench.live_client import LiveClient, open_client, sign_in
from settings import PROJECT_ROOT
from store.db import incidents, make_engine
from streams import keys
from tests.conftest import LiveServer
from tests.helpers import PASSWORD, incident, make_user, wait_until


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


def test_live003_two_app_processes_both_deliver_and_process_once(
    redis_url: str, r: redis.Redis, tmp_path: Path
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
    try:
        for n in range(300):
            r.xadd(keys.INCIDENTS, incident(f"T-{n}"))
        for client in clients:
            got = client.wait_for(300)
            assert sorted(e["data"]["event_id"] for e in got) == sorted(f"T-{n}" for n in range(300))
        published = [json.loads(f["data"])["event_id"] for _, f in r.xrange(keys.LIVE) if f["type"] == "incident"]
        assert len(published) == 300 == len(set(published))
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
