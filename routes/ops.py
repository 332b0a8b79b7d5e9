"""Operations endpoints: /healthz (JSON, 503 when a part is down) and /metrics (Prometheus)."""

from __future__ import annotations

import redis
from flask import Flask, Response, jsonify
from sqlalchemy import Engine

from streams.health import check, prometheus
from streams.push import PushHub


def register(server: Flask, r: redis.Redis, engine: Engine, hub: PushHub) -> None:
    @server.get("/healthz")
    def _healthz():  # type: ignore[no-untyped-def]
        health = check(r, engine)
        return jsonify(ok=health.ok, **health.checks), (200 if health.ok else 503)

    @server.get("/metrics")
    def _metrics() -> Response:
        return Response(prometheus(r, engine, hub), mimetype="text/plain; version=0.0.4")
