"""The return-visit desk (``/revisits``): the visits to make, each with its matter's history, the number to
call, the calls made and their outcome; a chief draws a month's sample or adds a matter by hand.

Server-rendered forms (Jinja escapes every value; each POST is CSRF-checked by :mod:`auth.web`). The
number to call is shown in full only to the desk (``CALL_REVISITS``), on the visit's own page, and each
showing is audited (``revisit.contact``); every other list and role sees it masked.
"""

from __future__ import annotations

from datetime import datetime

from flask import Blueprint, Response, redirect, render_template, request

import clock
import deadlines
from auth.guard import guard, security
from auth.roles import Permission, Viewer
from auth.web import template_values
from clock import Period
from i18n import text
from revisits.results import VisitResult
from revisits.sample import MatterKind
from revisits.service import MAX_ATTEMPTS, Reason, RevisitRefused, RevisitService, visit_payload
from store.db import as_utc
from urls import URL, path

MONTHS_OFFERED = 12  # a chief may draw any of the last twelve complete months not drawn yet


def blueprint(service: RevisitService, language: str, stations: list[tuple[str, str]]) -> Blueprint:
    """The desk. ``stations`` are (code, name) pairs for the filter."""
    routes = Blueprint("revisits", __name__)
    station_names = dict(stations)

    def desk(viewer: Viewer, message: str = "") -> str:
        now = clock.now()
        done = request.args.get("state") == "done"
        station = request.args.get("station", "")
        station = station if station in station_names else ""
        visits = [_shown(row, now, full_number=False) for row in service.visits(done=done, station=station)]
        this_month = Period.month(clock.local(now).year, clock.local(now).month)
        return render_template(
            "revisits.html", **template_values(language, viewer), visits=visits, done=done, station=station,
            stations=stations, station_names=station_names, figures=service.figures(this_month, now),
            month_label=f"{clock.local(now):%Y-%m}", samples=service.samples(), months=_months(now),
            kinds=[k.value for k in MatterKind], reasons=[r.value for r in Reason if r is not Reason.SAMPLE],
            open_count=service.count_open(), message=message)

    def one(viewer: Viewer, visit_id: str, message: str = "", status: int = 200) -> tuple[str, int]:
        row = service.get(visit_id[:24])
        if row is None:
            return desk(viewer, text("revisit.refused.unknown", language)), 404
        full = viewer.can(Permission.CALL_REVISITS)
        if full and row["contact_phone"]:
            security().record(viewer, "revisit.contact", target=row["visit_id"])  # who saw which number
        return render_template(
            "revisit.html", **template_values(language, viewer), visit=_shown(row, clock.now(), full_number=full),
            history=service.history(row), attempts=service.attempts_of(row["visit_id"]),
            results=[r.value for r in VisitResult], max_attempts=MAX_ATTEMPTS,
            station_names=station_names, message=message), status

    @routes.get(URL.REVISITS)
    @guard(Permission.VIEW_REVISITS, "revisits.view")
    def _desk(viewer: Viewer) -> str:
        return desk(viewer)

    @routes.get(URL.REVISIT)
    @guard(Permission.VIEW_REVISITS, "revisit.view")
    def _visit(visit_id: str, viewer: Viewer) -> tuple[str, int]:
        return one(viewer, visit_id)

    @routes.post(URL.REVISIT_CALL)
    @guard(Permission.CALL_REVISITS, "revisit.call")
    def _call(visit_id: str, viewer: Viewer) -> Response | tuple[str, int]:
        try:
            service.record(visit_id[:24], viewer.username, request.form.get("result", ""),
                           request.form.get("note", ""))
        except RevisitRefused as exc:
            return one(viewer, visit_id, message=str(exc), status=400)
        return redirect(path(URL.REVISIT, visit_id=visit_id[:24]), code=303)  # a reload does not call twice

    @routes.post(URL.REVISITS_ADD)
    @guard(Permission.ADD_REVISITS, "revisit.add")
    def _add(viewer: Viewer) -> Response | tuple[str, int]:
        try:
            row = service.add(request.form.get("kind", ""), request.form.get("matter_id", ""),
                              request.form.get("reason", ""), viewer.username)
        except RevisitRefused as exc:
            return desk(viewer, str(exc)), 400
        return redirect(path(URL.REVISIT, visit_id=row["visit_id"]), code=303)

    @routes.post(URL.REVISITS_DRAW)
    @guard(Permission.DRAW_REVISITS, "revisit.draw")
    def _draw(viewer: Viewer) -> str | tuple[str, int]:
        wanted = request.form.get("month", "")
        offered = {label: (year, month) for label, year, month in _months(clock.now())}
        if wanted not in offered:
            return desk(viewer, text("revisit.refused.month", language)), 400
        sample = service.draw(Period.month(*offered[wanted]), viewer.username)
        return desk(viewer, text("revisit.drawn", language, month=wanted, drawn=sample["drawn"],
                                 population=sample["population"], seed=sample["seed"]))

    return routes


def _months(now: datetime) -> list[tuple[str, int, int]]:
    """The last complete months, newest first: (label, year, month)."""
    year, month = clock.previous_month(now)
    found = []
    for _ in range(MONTHS_OFFERED):
        found.append((f"{year:04d}-{month:02d}", year, month))
        year, month = (year - 1, 12) if month == 1 else (year, month - 1)
    return found


def _shown(row: dict[str, object], now: datetime, *, full_number: bool) -> dict[str, object]:
    """A visit for the page: the number masked unless ``full_number``, its due clock's colour while open."""
    shown = visit_payload(row, full_number=full_number)
    due, created = row["due_at"], row["created_at"]
    assert isinstance(due, datetime) and isinstance(created, datetime)
    shown["clock"] = "done" if row["visited_at"] is not None else deadlines.colour(as_utc(created), as_utc(due), now)
    for field in ("due_at", "closed_at", "visited_at", "created_at"):  # as times, for the page's Beijing filter
        value = row[field]
        shown[field] = as_utc(value) if isinstance(value, datetime) else None
    return shown
