"""Operational state for /healthz and /metrics: Redis, database, consumer lag, freshness."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any, cast

import redis
from sqlalchemy import Engine, func, select, text
from sqlalchemy.exc import SQLAlchemyError

from bus import keys
from bus.connection import StreamEntries, ping_now
from push.hub import PushHub, parse_id
from store.db import instructions

LAG_COUNT_CAP = 100_000


@dataclass
class Health:
    ok: bool
    checks: dict[str, Any] = field(default_factory=dict)


def consumer_lag(r: redis.Redis) -> dict[str, dict[str, int]]:
    """Per inbound stream: entries pending (read, not acked) and not yet read by the group."""
    out: dict[str, dict[str, int]] = {}
    for stream in keys.INBOUND:
        group = next((g for g in r.xinfo_groups(stream) if g["name"] == keys.CONSUMER_GROUP), None) \
            if r.exists(stream) else None
        if group is None:
            out[stream] = {"pending": 0, "unread": 0}
            continue
        last = str(group["last-delivered-id"])
        unread = len(cast(StreamEntries, r.xrange(stream, min=f"({last}", count=LAG_COUNT_CAP))) if last != "0-0" \
            else r.xlen(stream)
        out[stream] = {"pending": int(group["pending"]), "unread": unread}
    return out


def last_event_age_s(r: redis.Redis) -> float | None:
    newest = cast(StreamEntries, r.xrevrange(keys.LIVE, count=1))
    if not newest:
        return None
    return max(0.0, time.time() - parse_id(newest[0][0])[0] / 1000)


def check(r: redis.Redis, engine: Engine) -> Health:
    """Is each part answering? (what /healthz reports; 503 if any is not)."""
    checks: dict[str, Any] = {}
    ok = True
    try:
        started = time.perf_counter()
        ping_now(r)  # once: a Cluster's failover shows as down until the promotion, not as a 15 s wait
        checks["redis"] = {"ok": True, "ms": round((time.perf_counter() - started) * 1000, 2)}
        checks["consumer_lag"] = consumer_lag(r)
        checks["last_event_age_s"] = last_event_age_s(r)
    except (redis.ConnectionError, redis.TimeoutError) as exc:
        checks["redis"] = {"ok": False, "error": str(exc)}
        ok = False
    try:
        started = time.perf_counter()
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        checks["database"] = {"ok": True, "ms": round((time.perf_counter() - started) * 1000, 2)}
    except SQLAlchemyError as exc:
        checks["database"] = {"ok": False, "error": type(exc).__name__}
        ok = False
    return Health(ok, checks)


def prometheus(r: redis.Redis, engine: Engine, hub: PushHub) -> str:
    """Metrics in the Prometheus text format."""
    lines: list[str] = []

    def metric(name: str, kind: str, help_text: str, samples: list[tuple[str, float]]) -> None:
        lines.append(f"# HELP {name} {help_text}")
        lines.append(f"# TYPE {name} {kind}")
        lines.extend(f"{name}{labels} {value:g}" for labels, value in samples)

    counters = r.hgetall(keys.COUNTERS)
    metric("pingan_events_in_total", "counter", "Inbound entries processed.",
           [("", float(counters.get("events_in", 0)))])
    metric("pingan_dead_letters_total", "counter", "Inbound entries sent to {cc}:dead.",
           [("", float(counters.get("dead_letters", 0)))])
    lag = consumer_lag(r)
    metric("pingan_consumer_pending", "gauge", "Entries read but not yet acknowledged.",
           [(f'{{stream="{s}"}}', float(v["pending"])) for s, v in lag.items()])
    metric("pingan_consumer_unread", "gauge", "Entries not yet read by the consumer group.",
           [(f'{{stream="{s}"}}', float(v["unread"])) for s, v in lag.items()])
    age = last_event_age_s(r)
    metric("pingan_live_last_event_age_seconds", "gauge", "Age of the newest event pushed to screens.",
           [("", age if age is not None else float("nan"))])
    stats = hub.stats
    metric("pingan_push_pages", "gauge", "Pages subscribed to this process.", [("", float(len(hub.pages)))])
    metric("pingan_push_batches_total", "counter", "Batches emitted.", [("", float(stats.batches))])
    metric("pingan_push_events_total", "counter", "Events delivered in batches.", [("", float(stats.events))])
    metric("pingan_push_resends_total", "counter", "Batches re-sent for want of an ack.", [("", float(stats.resends))])
    quantiles = stats.ack_quantiles()
    metric("pingan_push_ack_seconds", "summary", "Emit to acknowledgement (page applied the batch).",
           [(f'{{quantile="{q}"}}', v) for q, v in quantiles.items()])
    with engine.connect() as conn:
        by_state = conn.execute(select(instructions.c.state, func.count()).group_by(instructions.c.state)).all()
    metric("pingan_instructions", "gauge", "Instructions by state.",
           [(f'{{state="{state}"}}', float(n)) for state, n in by_state])
    return "\n".join(lines) + "\n"
