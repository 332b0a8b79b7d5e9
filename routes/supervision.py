"""The supervision list (``/supervision``): late items escalated to a station chief or to the district, each
answered by its station, which closes it.

A station chief sees and answers their own station's escalations; a district chief sees every station's
(the district's level first) and may answer any. Server-rendered forms (Jinja escapes every value; each
POST is CSRF-checked by :mod:`auth.web`); the hall's pages follow the same escalations live.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from flask import Blueprint, Response, redirect, render_template, request

import clock
from auth.guard import guard, security
from auth.roles import Permission, Viewer
from auth.web import template_values
from clock import Period
from i18n import text
from store import audit
from store.db import as_utc
from supervision.late import ItemKind
from supervision.service import Level, Rule, SupervisionRefused, SupervisionService, describe, escalation_payload
from urls import URL, path


def blueprint(service: SupervisionService, language: str, stations: list[tuple[str, str]]) -> Blueprint:
    """The list. ``stations`` are (code, name) pairs for the filter."""
    routes = Blueprint("supervision", __name__)
    station_names = dict(stations)

    def page(viewer: Viewer, message: str = "", status: int = 200) -> tuple[str, int]:
        all_stations = viewer.can(Permission.VIEW_ALL_STATIONS)
        station = request.args.get("station", "") if all_stations else (viewer.station or "")
        station = station if station in station_names else ""
        answered = request.args.get("state") == "answered"
        # The district's own list first for a district chief; a station chief's whole list.
        level = request.args.get("level", Level.DISTRICT.value if all_stations else "")
        level = level if level in {lv.value for lv in Level} else ""
        if not all_stations and not station:
            rows: list[dict[str, object]] = []  # a station chief without a station sees nothing, not everything
        else:
            rows = [_shown(row, language) for row in service.listed(answered=answered, level=level, station=station)]
        mine = "" if all_stations else station
        return render_template(
            "supervision.html", **template_values(language, viewer), rows=rows, answered=answered, level=level,
            station=station, stations=stations, station_names=station_names, all_stations=all_stations,
            counts=service.counts(mine), today=service.figures(Period.today(clock.now()), mine),
            rules=_rules(service, language), levels=[lv.value for lv in Level], message=message), status

    @routes.get(URL.SUPERVISION)
    @guard(Permission.VIEW_SUPERVISION, "supervision.view")
    def _list(viewer: Viewer) -> tuple[str, int]:
        return page(viewer)

    @routes.post(URL.SUPERVISION_RESPOND)
    @guard(Permission.RESPOND_SUPERVISION, "supervision.respond")
    def _respond(escalation_id: str, viewer: Viewer) -> Response | tuple[str, int]:
        row = service.get(escalation_id[:24])
        if row is None or not viewer.sees_station(row["station"]):
            # Another station's escalation is none of this viewer's business: refused as unknown, and audited.
            security().record(viewer, "supervision.respond", outcome=audit.Outcome.REFUSED,
                              target=escalation_id[:24], detail="unknown" if row is None else "other station")
            return page(viewer, text("supervision.refused.unknown", language), 404)
        try:
            service.respond(row["escalation_id"], viewer.username, request.form.get("response", ""))
        except SupervisionRefused as exc:
            return page(viewer, str(exc), 400)
        return redirect(path(URL.SUPERVISION) + f"#{row['escalation_id']}", code=303)  # a reload does not post twice

    return routes


def _rules(service: SupervisionService, language: str) -> list[str]:
    def after(delay: timedelta | None) -> str:
        return _duration(delay, language) if delay is not None else ""

    def described(kind: ItemKind, rule: Rule) -> str:
        name = text(f"supervision.kind.{kind}", language)
        if rule.station_after is None:
            return text("supervision.rule.district_only", language, kind=name, district=after(rule.district_after))
        if not rule.station_after and rule.district_after is not None:
            return text("supervision.rule.at_once", language, kind=name, district=after(rule.district_after))
        if rule.district_after is None:
            return text("supervision.rule.station_only", language, kind=name, station=after(rule.station_after))
        return text("supervision.rule", language, kind=name, station=after(rule.station_after),
                    district=after(rule.district_after))

    return [described(kind, rule) for kind, rule in service.rules.items()]


def _duration(delay: timedelta, language: str) -> str:
    """A delay as people say it: whole days, hours (and minutes), or minutes."""
    minutes = int(delay.total_seconds() // 60)
    if minutes and minutes % 1440 == 0:
        return text("duration.days", language, days=minutes // 1440)
    if minutes >= 60:
        hours, rest = divmod(minutes, 60)
        return text("duration.hours", language, hours=hours) if not rest else \
            text("duration.hours_minutes", language, hours=hours, minutes=rest)
    return text("duration.minutes", language, minutes=minutes)


def _shown(row: dict[str, object], language: str) -> dict[str, object]:
    """An escalation for the page: its item described, its times as times (the page's Beijing filter)."""
    shown = escalation_payload(row)
    shown["what"] = describe(shown, language)
    for name in ("due_at", "raised_at", "cleared_at", "responded_at"):
        value = row[name]
        shown[name] = as_utc(value) if isinstance(value, datetime) else None
    due, raised = shown["due_at"], shown["raised_at"]
    assert isinstance(due, datetime) and isinstance(raised, datetime)
    shown["late"] = _duration(timedelta(minutes=int((raised - due).total_seconds() // 60)), language)
    return shown
