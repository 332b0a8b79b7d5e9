"""Operations endpoints: /healthz (JSON, 503 when a part is down), /livez (the process) and /metrics (Prometheus).

A proxy asks /livez, not /healthz: Redis and PostgreSQL are shared by every app process, so when one of them is
down (a Cluster failover, a database restart) every process answers 503 on /healthz, and a proxy judging by it
would take them all out and refuse every request, even those that need neither (measured: README, "Production
topology"). /healthz also costs queries, and a saturated machine made it miss the proxy's deadline. /livez
answers from the process alone: a process that does not answer it is dead or hung, and only then is another
process better.
"""

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

    @routes.get(URL.LIVEZ)
    def _livez() -> Response:
        return Response("ok\n", mimetype="text/plain")

    @routes.get(URL.METRICS)
    def _metrics() -> Response:
        return Response(prometheus(r, engine, hub), mimetype="text/plain; version=0.0.4")

    return routes
