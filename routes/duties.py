"""The core task list (``/duties``): a day's completion table per centre, post and person, and ticking one's own
manual duty done.

Who sees which rows: a district chief everyone's (a centre or a station chosen for the rows; the summary
always); a station chief their station's people; everyone else holding a post their own rows only. Only the
person themselves ticks a duty (a grid worker: the roster's worker of their bound grids; a mediator: their
registry entry; anyone else: by username); any other tick is refused (403) and audited. Server-rendered forms
(Jinja escapes every value; each POST is CSRF-checked by :mod:`auth.web`).
"""

from __future__ import annotations

from datetime import date

from flask import Blueprint, Response, abort, redirect, render_template, request

import clock
from auth.guard import client_address, guard, security
from auth.roles import Permission, Role, Viewer
from auth.web import template_values
from duties.config import Duty, Every, Kind
from duties.service import DutyRefused, DutyService, Row
from geo.roster import Post as RosterPost
from i18n import rate_text, text
from store import audit
from urls import URL, path


def blueprint(service: DutyService, language: str, stations: list[tuple[str, str]]) -> Blueprint:
    """The table. ``stations`` are (code, name) pairs for the filter."""
    routes = Blueprint("duties", __name__)
    station_names = dict(stations)
    centres = [(c.centre_id, c.title[language]) for c in service.config.centres]

    def own(viewer: Viewer) -> set[str]:
        # Bound grids make a grid worker the roster's worker there, and a station officer its community officer.
        if viewer.can(Permission.WORK_GRID_TASKS):
            return service.own(viewer.username, viewer.grids, RosterPost.GRID_WORKER)
        if viewer.role is Role.STATION_OFFICER:
            return service.own(viewer.username, viewer.grids, RosterPost.COMMUNITY_OFFICER)
        return service.own(viewer.username)

    def page(viewer: Viewer, message: str = "", status: int = 200) -> tuple[str, int]:
        now = clock.now()
        day = _day(request.args.get("day", "")) or clock.today(now)
        centre = request.args.get("centre", "")
        centre = centre if centre in dict(centres) else ""
        supervises = viewer.can(Permission.VIEW_SUPERVISION)
        all_stations = supervises and viewer.can(Permission.VIEW_ALL_STATIONS)
        station = request.args.get("station", "") if all_stations else (viewer.station or "") if supervises else ""
        station = station if station in station_names else ""
        people = None if supervises else own(viewer)
        if supervises and not all_stations and not station:
            rows: list[Row] = []  # a station chief without a station sees nothing, not everything
        else:
            rows = service.table(day, now, language=language, centre=centre, station=station, people=people)
        detailed = not all_stations or bool(centre or station)  # the whole district: its summary, not 3,000 rows
        mine = own(viewer) if viewer.can(Permission.TICK_DUTIES) else set()
        return render_template(
            "duties.html", **template_values(language, viewer), day=day.isoformat(), centre=centre, centres=centres,
            centre_names=dict(centres), station=station, stations=stations, station_names=station_names,
            all_stations=all_stations,
            summary=service.summary(rows), rows=[_shown(row, language, mine) for row in rows] if detailed else [],
            detailed=detailed, asof=clock.local(now).strftime("%Y-%m-%d %H:%M"), message=message), status

    @routes.get(URL.DUTIES)
    @guard(Permission.VIEW_DUTIES, "duties.view")
    def _table(viewer: Viewer) -> tuple[str, int]:
        return page(viewer)

    @routes.post(URL.DUTY_TICK)
    @guard(Permission.TICK_DUTIES, "duty.tick")
    def _tick(viewer: Viewer) -> Response | tuple[str, int]:
        duty_id, person_id = request.form.get("duty_id", "")[:40], request.form.get("person_id", "")[:64]
        day = _day(request.form.get("day", ""))
        if day is None:
            return page(viewer, text("duties.refused.day", language), 400)
        if person_id not in own(viewer):
            # Someone else's duty is not this viewer's to tick: refused, and audited.
            security().record(viewer, "duty.tick", outcome=audit.Outcome.REFUSED, target=f"{duty_id}/{person_id}",
                              detail="not their own")
            abort(403)
        try:
            service.tick(duty_id, person_id, day, viewer.username, request.form.get("note", ""),
                         role=viewer.role.value, ip=client_address())
        except DutyRefused as exc:
            return page(viewer, text(f"duties.refused.{exc.reason}", language), 400)
        # A reload does not post twice.
        return redirect(path(URL.DUTIES) + f"?day={day.isoformat()}#{duty_id}-{person_id}", code=303)

    return routes


def _day(value: str) -> date | None:
    try:
        return date.fromisoformat(value) if value else None
    except ValueError:
        return None


def standard_text(duty: Duty, language: str) -> str:
    standard = duty.standard
    if standard.kind is Kind.DONE:
        return text("duties.standard.done", language)
    target = rate_text(standard.target) if standard.kind is Kind.RATE else f"{standard.target:g}"
    return text(f"duties.standard.{standard.direction.value}", language, target=target)


def deadline_text(duty: Duty, language: str) -> str:
    deadline = duty.deadline
    at = f"{deadline.hour:02d}:{deadline.minute:02d}"
    if deadline.every is Every.WEEKLY:
        return text("duties.deadline.weekly", language, weekday=text(f"duties.weekday.{deadline.weekday}", language),
                    at=at)
    if deadline.every is Every.MONTHLY:
        return text("duties.deadline.monthly", language, day=deadline.day, at=at) if deadline.day else \
            text("duties.deadline.monthly_last", language, at=at)
    return text("duties.deadline.daily", language, at=at)


def value_text(row: Row, language: str) -> str:
    if row.duty.manual:
        if row.tick is None:
            return text("duties.value.not_ticked", language)
        at = clock.local(row.tick["ticked_at"]).strftime("%m-%d %H:%M")
        return text("duties.value.ticked" if row.value else "duties.value.ticked_late", language, at=at)
    if row.value is None:
        return text("duties.value.none", language)
    return rate_text(row.value) if row.duty.standard.kind is Kind.RATE else f"{row.value:g}"


def _shown(row: Row, language: str, mine: set[str]) -> dict[str, object]:
    """A round for the page: its texts in the page's language, and whether the viewer may tick it now."""
    return {"id": f"{row.duty.duty_id}-{row.person.person_id}", "duty_id": row.duty.duty_id,
            "person_id": row.person.person_id, "person": row.person.name, "station": row.person.station or "",
            "post": row.post.title[language], "duty": row.duty.title_in(language),
            "standard": standard_text(row.duty, language), "value": value_text(row, language),
            "deadline": deadline_text(row.duty, language), "due": row.period.due, "period": row.period.key,
            "state": row.state.value, "clock": row.clock,
            "tickable": row.duty.manual and row.tick is None and row.person.person_id in mine}
