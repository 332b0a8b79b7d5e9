"""Risk pages and data: the incident-density points and the weekly review of leads."""

from __future__ import annotations

import gzip
import json
import time
from datetime import date, timedelta

from flask import Blueprint, Response, render_template, request
from sqlalchemy import Engine, select

import clock
from auth.guard import guard
from auth.roles import Permission, Viewer
from auth.web import template_values
from risk.review import weekly_review
from store.db import incidents
from urls import URL

DENSITY_DAYS = 30
DENSITY_TTL_S = 60.0


def blueprint(engine: Engine, language: str) -> Blueprint:
    routes = Blueprint("risk", __name__)
    cache: dict[str, tuple[float, bytes, bytes]] = {}

    @routes.get(URL.DENSITY)
    @guard(Permission.VIEW_MAP, "risk.density")
    def _density(viewer: Viewer) -> Response:
        # Positions only (no text): rebuilt at most once a minute, whoever asks.
        built, raw, packed = cache.get("density", (0.0, b"", b""))
        if time.monotonic() - built > DENSITY_TTL_S:
            since = clock.now() - timedelta(days=DENSITY_DAYS)
            with engine.connect() as conn:
                points = conn.execute(select(incidents.c.lon, incidents.c.lat)
                                      .where(incidents.c.reported_at >= since)).all()
            document = {"type": "FeatureCollection", "features": [
                {"type": "Feature", "geometry": {"type": "Point", "coordinates": [lon, lat]}, "properties": {}}
                for lon, lat in points]}
            raw = json.dumps(document, separators=(",", ":")).encode()
            packed = gzip.compress(raw, compresslevel=5)
            cache["density"] = (time.monotonic(), raw, packed)
        if "gzip" in request.accept_encodings:
            response = Response(packed, mimetype="application/geo+json")
            response.headers["Content-Encoding"] = "gzip"
        else:
            response = Response(raw, mimetype="application/geo+json")
        response.headers["Vary"] = "Accept-Encoding"
        return response

    @routes.get(URL.RISK_REVIEW)
    @guard(Permission.VIEW_MAP, "risk.review")
    def _review(viewer: Viewer) -> str:
        try:
            monday = date.fromisoformat(request.args.get("week", ""))
        except ValueError:
            monday = clock.today()
        monday -= timedelta(days=monday.weekday())
        week = clock.Period.calendar_week(monday)
        start, end = week.start, week.end
        review = weekly_review(engine, start, end)
        return render_template("review.html", **template_values(language, viewer), review=review,
                               week=monday.isoformat(), previous=(monday - timedelta(days=7)).isoformat(),
                               following=(monday + timedelta(days=7)).isoformat())

    return routes
