"""/healthz and /metrics over HTTP, after real events went through the real consumer."""

from __future__ import annotations

import threading

import pytest
import redis
import requests
from sqlalchemy.exc import OperationalError

import services
from bus import keys
from testkit.entries import incident
from testkit.servers import LiveServer
from testkit.waiting import wait_until
from urls import URL


def test_ops001_healthz_reports_parts_and_lag(live_server: LiveServer, r: redis.Redis) -> None:
    client = live_server.app.server.test_client()
    r.xadd(keys.INCIDENTS, incident("H-1"))
    # The incident itself on {cc}:live (the startup risk run may publish grades there first).
    wait_until(lambda: any(f["type"] == "incident" for _, f in r.xrange(keys.LIVE)), what="the consumer")
    body = client.get("/healthz").get_json()
    assert body["ok"] is True
    assert body["redis"]["ok"] and body["database"]["ok"]
    assert body["consumer_lag"][keys.INCIDENTS] == {"pending": 0, "unread": 0}
    assert 0 <= body["last_event_age_s"] < 60


def test_ops002_metrics_in_prometheus_format(live_server: LiveServer, r: redis.Redis) -> None:
    r.xadd(keys.INCIDENTS, incident("M-1"))
    r.xadd(keys.INCIDENTS, {"event_id": "M-BAD"})
    wait_until(lambda: r.hget(keys.COUNTERS, "events_in") == "2", what="the consumer")
    response = live_server.app.server.test_client().get("/metrics")
    assert response.mimetype == "text/plain"
    metrics = dict(line.rsplit(" ", 1) for line in response.get_data(as_text=True).splitlines()
                   if line and not line.startswith("#"))
    assert metrics["pingan_events_in_total"] == "2"
    assert metrics["pingan_dead_letters_total"] == "1"
    assert metrics[f'pingan_consumer_pending{{stream="{keys.INCIDENTS}"}}'] == "0"
    assert "pingan_push_batches_total" in metrics


def test_ops003_a_background_part_that_fails_is_started_again(monkeypatch: pytest.MonkeyPatch) -> None:
    """A loop killed by an error it did not handle (the database restarting under it) runs again."""
    monkeypatch.setattr(services, "RESTART_AFTER_S", 0.01)
    parts = object.__new__(services.Services)  # only what spawn uses: the stop event and the threads
    parts.stop_event, parts.threads = threading.Event(), []
    runs: list[int] = []
    second_run = threading.Event()

    def loop(stop: threading.Event) -> None:
        runs.append(len(runs))
        if len(runs) == 1:
            raise OperationalError("SELECT 1", {}, Exception("server closed the connection unexpectedly"))
        second_run.set()
        stop.wait()

    parts.spawn("flaky", loop, parts.stop_event)
    assert second_run.wait(5)
    parts.stop_event.set()
    parts.threads[0].join(5)
    assert runs == [0, 1] and not parts.threads[0].is_alive()


def test_ops004_livez_answers_from_the_process_alone(live_server: LiveServer, r: redis.Redis) -> None:
    """What the proxy asks: no session needed, and nothing shared is touched (routes/ops.py)."""
    response = requests.get(live_server.url + URL.LIVEZ, timeout=5)
    assert (response.status_code, response.text) == (200, "ok\n")
