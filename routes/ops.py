"""Operations endpoints: /healthz (JSON, 503 when a part is down) and /metrics (Prometheus)."""

from __future__ import annotations

import redis
from flask import Blueprint, Response, jsonify
from sqlalchemy import Engine

from push.health import check, prometheus
from push.hub import PushHub
from urls import URL


def blueprint(r: redis.Redis, engine: Engine, hub: PushHub) -> Blueprint:
    routes = Blueprint("ops", __name__)

    @routes.get(URL.HEALTHZ)
    def _healthz():  # type: ignore[no-untyped-def]
        health = check(r, engine)
        return jsonify(ok=health.ok, **health.checks), (200 if health.ok else 503)

    @routes.get(URL.METRICS)
    def _metrics() -> Response:
        return Response(prometheus(r, engine, hub), mimetype="text/plain; version=0.0.4")

    return routes
