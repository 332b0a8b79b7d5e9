"""The credit-based push hub against a real Redis: one batch in flight, no gap, no duplicate."""

from __future__ import annotations

from typing import Any

import pytest
import redis
from sqlalchemy import Engine

from bus import keys
from bus.events import Live, encode
from push.hub import PushHub


class Screen:
    """Records what the hub emits to each page."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, dict[str, Any]]] = []

    def __call__(self, sid: str, payload: dict[str, Any]) -> None:
        self.sent.append((sid, {**payload, "events": list(payload["events"])}))

    def last(self, sid: str) -> dict[str, Any]:
        return next(p for s, p in reversed(self.sent) if s == sid)


def publish(r: redis.Redis, n: int, start: int = 0) -> list[str]:
    return [r.xadd(keys.LIVE, encode(Live.INCIDENT, {"event_id": f"E-{i}"})) for i in range(start, start + n)]


def event_ids(batch: dict[str, Any]) -> list[str]:
    return [e["data"]["event_id"] for e in batch["events"]]


def test_push001_new_page_gets_a_snapshot_then_deltas(r: redis.Redis, engine: Engine) -> None:
    publish(r, 3)
    screen = Screen()
    hub = PushHub(r, engine, screen)
    hub.subscribe("a", None)
    first = screen.last("a")
    assert first["seq"] == 1 and "snapshot" in first and first["events"] == []
    assert hub.ack("a", 1)
    publish(r, 2, start=3)
    hub.poll_once(block_ms=100)
    second = screen.last("a")
    assert (second["seq"], event_ids(second)) == (2, ["E-3", "E-4"])


def test_push002_one_batch_in_flight_and_the_ack_releases_everything_piled_up(r: redis.Redis, engine: Engine) -> None:
    screen = Screen()
    hub = PushHub(r, engine, screen, max_batch=250)
    hub.subscribe("a", None)
    hub.ack("a", 1)
    publish(r, 1)
    hub.poll_once(block_ms=100)
    assert event_ids(screen.last("a")) == ["E-0"]
    publish(r, 300, start=1)  # arrives while batch 2 is still being applied
    hub.poll_once(block_ms=100)
    assert screen.last("a")["seq"] == 2, "a second batch was sent before the first was acknowledged"
    hub.ack("a", 2)
    third = screen.last("a")
    assert (third["seq"], len(third["events"])) == (3, 250)
    hub.ack("a", 3)
    fourth = screen.last("a")
    assert event_ids(fourth) == [f"E-{i}" for i in range(251, 301)]


def test_push003_unacknowledged_batch_is_resent_with_a_new_try(r: redis.Redis, engine: Engine) -> None:
    screen = Screen()
    hub = PushHub(r, engine, screen, resend_after_s=0.0)
    hub.subscribe("a", None)
    hub.poll_once(block_ms=10)
    resent = screen.last("a")
    assert (resent["seq"], resent["try"]) == (1, 1)
    assert not hub.ack("a", 7), "an ack for a batch never sent changes nothing"


def test_push004_resume_from_last_id_has_no_gap_and_no_duplicate(r: redis.Redis, engine: Engine) -> None:
    ids = publish(r, 10)
    screen = Screen()
    hub = PushHub(r, engine, screen)
    hub.subscribe("b", ids[3])  # reconnecting page that had applied E-0..E-3
    assert event_ids(screen.last("b")) == [f"E-{i}" for i in range(4, 10)]


def test_push005_a_page_behind_retention_gets_a_snapshot(r: redis.Redis, engine: Engine) -> None:
    publish(r, 5)
    r.xtrim(keys.LIVE, maxlen=2)
    screen = Screen()
    hub = PushHub(r, engine, screen)
    hub.subscribe("c", "1-0")
    assert "snapshot" in screen.last("c")


def test_push006_pages_near_and_far_behind_the_ring_get_the_right_next_batch(
    r: redis.Redis, engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The ring holds the recent events (found by bisection); an older cursor is served from Redis."""
    import push.hub

    monkeypatch.setattr(push.hub, "RING_SIZE", 40)
    screen = Screen()
    hub = PushHub(r, engine, screen, max_batch=7)
    hub.poll_once(block_ms=10)  # the tail starts here
    ids = []
    for chunk in range(6):  # 60 events in six reads: the ring is trimmed back to its size on the way
        ids += publish(r, 10, start=10 * chunk)
        hub.poll_once(block_ms=100)
    assert len(hub._ring) <= 50 and hub._ring[-1]["id"] == ids[-1]
    hub.subscribe("near", ids[45])  # inside the ring
    assert event_ids(screen.last("near")) == [f"E-{i}" for i in range(46, 53)]
    hub.subscribe("far", ids[2])  # older than the ring: read from the stream
    assert event_ids(screen.last("far")) == [f"E-{i}" for i in range(3, 10)]
    hub.subscribe("end", ids[-1])  # up to date: nothing to send
    assert "end" not in {sid for sid, _ in screen.sent}
