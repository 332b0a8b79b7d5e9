"""Rectification notices (``/supervision/notices``): a chief issues one to a station for a missed standard (from
the Monday summary, any indicator or an inspection), with measures and a deadline of at most seven days; the
station chief reports progress and closes it; a quarter's review lists the notices by outcome.

Server-rendered forms (Jinja escapes every value; each POST is CSRF-checked by :mod:`auth.web`). A station
chief sees and reports on their own station's notices only.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from flask import Blueprint, Response, redirect, render_template, request

import clock
from auth.guard import guard, security
from auth.roles import Permission, Viewer
from auth.web import template_values
from i18n import text
from store import audit
from store.db import as_utc
from supervision.notices import MAX_DAYS, NoticeRefused, NoticeService, Outcome, outcome, quarter_of, quarter_period
from supervision.weekly import SummaryService, reason_text
from urls import URL, path

QUARTERS_OFFERED = 8


def blueprint(service: NoticeService, summaries: SummaryService, language: str,
              stations: list[tuple[str, str]]) -> Blueprint:
    """The pages. ``stations`` are (code, name) pairs for the forms."""
    routes = Blueprint("notices", __name__)
    station_names = dict(stations)

    def own_station(viewer: Viewer) -> str:
        """The station a viewer is bound to ("" for district-wide viewers)."""
        return "" if viewer.can(Permission.VIEW_ALL_STATIONS) else (viewer.station or "-")

    def listing(viewer: Viewer, message: str = "", status: int = 200) -> tuple[str, int]:
        now = clock.now()
        mine = own_station(viewer)
        station = mine or (request.args.get("station", "") if request.args.get("station") in station_names else "")
        quarters = _quarters(now)
        quarter = request.args.get("quarter", quarters[0])
        quarter = quarter if quarter in quarters else quarters[0]
        review = service.review(quarter, mine)
        latest = summaries.latest()
        source = f"summary:{latest['key']}" if latest else ""
        # A station already sent a notice for this summary is shown with it, not offered a second.
        sent = {n["station"]: n["notice_id"] for closed in (False, True)
                for n in service.listed(closed=closed, limit=1000) if n["source"] == source}
        below = [{"station": b["station"], "standard": "；".join(reason_text(r, language) for r in b["reasons"]),
                  "source": source, "sent": sent.get(b["station"])} for b in (latest or {}).get("below", [])
                 if not mine or b["station"] == mine]
        return render_template(
            "notices.html", **template_values(language, viewer), station=station, stations=stations,
            station_names=station_names, open_rows=[_shown(r, now) for r in service.listed(station=station)],
            closed_rows=[_shown(r, now) for r in service.listed(closed=True, station=station, limit=50)],
            review=review, quarters=quarters, quarter=quarter, outcomes=[o.value for o in Outcome],
            latest=latest, below=below, max_days=MAX_DAYS, form=_form(now), message=message), status

    def one(viewer: Viewer, notice_id: str, message: str = "", status: int = 200) -> tuple[str, int]:
        row = service.get(notice_id[:24])
        if row is None or not viewer.sees_station(row["station"]):
            return listing(viewer, text("notice.refused.unknown", language), 404)
        return render_template("notice.html", **template_values(language, viewer), notice=_shown(row, clock.now()),
                               progress=service.progress_of(row["notice_id"]), station_names=station_names,
                               message=message), status

    @routes.get(URL.NOTICES)
    @guard(Permission.VIEW_SUPERVISION, "notice.view")
    def _list(viewer: Viewer) -> tuple[str, int]:
        return listing(viewer)

    @routes.post(URL.NOTICES)
    @guard(Permission.ISSUE_NOTICES, "notice.issue")
    def _issue(viewer: Viewer) -> Response | tuple[str, int]:
        form = request.form
        try:
            deadline = clock.parse_local(form.get("deadline", ""))  # the form's time is Beijing time
        except ValueError:
            return listing(viewer, text("notice.refused.deadline", language, days=MAX_DAYS), 400)
        try:
            row = service.issue(form.get("station", ""), form.get("unit", ""), form.get("standard", ""),
                                form.get("measures", ""), deadline, viewer.username, form.get("source", "other"))
        except NoticeRefused as exc:
            return listing(viewer, str(exc), 400)
        return redirect(path(URL.NOTICE, notice_id=row["notice_id"]), code=303)

    @routes.get(URL.NOTICE)
    @guard(Permission.VIEW_SUPERVISION, "notice.view")
    def _notice(notice_id: str, viewer: Viewer) -> tuple[str, int]:
        return one(viewer, notice_id)

    @routes.post(URL.NOTICE_REPORT)
    @guard(Permission.REPORT_NOTICES, "notice.report")
    def _report(notice_id: str, viewer: Viewer) -> Response | tuple[str, int]:
        row = service.get(notice_id[:24])
        if row is None or not viewer.sees_station(row["station"]):
            security().record(viewer, "notice.report", outcome=audit.Outcome.REFUSED, target=notice_id[:24],
                              detail="unknown" if row is None else "other station")
            return listing(viewer, text("notice.refused.unknown", language), 404)
        try:
            service.report(row["notice_id"], viewer.username, request.form.get("note", ""),
                           closes=request.form.get("closes") == "1")
        except NoticeRefused as exc:
            return one(viewer, notice_id, str(exc), 400)
        return redirect(path(URL.NOTICE, notice_id=row["notice_id"]), code=303)

    return routes


def _quarters(now: datetime) -> list[str]:
    """This quarter and the ones before it, newest first."""
    day = clock.today(now)
    found = []
    for _ in range(QUARTERS_OFFERED):
        found.append(quarter_of(day))
        day = clock.today(quarter_period(found[-1]).start) - timedelta(days=1)
    return found


def _form(now: datetime) -> dict[str, str]:
    """The issue form's values: what the query prefills (from the summary, an indicator) or a refused form sent, so
    nothing typed is lost; the longest deadline by default."""
    given = request.values
    latest = f"{clock.local(now + timedelta(days=MAX_DAYS)):%Y-%m-%dT%H:%M}"
    return {"station": given.get("station", ""), "standard": given.get("standard", "")[:500],
            "measures": given.get("measures", "")[:500], "source": given.get("source", "other")[:64],
            "unit": given.get("unit", "")[:64], "deadline": given.get("deadline", "")[:16] or latest, "latest": latest,
            "min": f"{clock.local(now):%Y-%m-%dT%H:%M}"}


def _shown(row: dict[str, object], now: datetime) -> dict[str, object]:
    shown = dict(row)
    for name in ("deadline", "issued_at", "closed_at"):
        value = row[name]
        shown[name] = as_utc(value) if isinstance(value, datetime) else None
    shown["outcome"] = outcome(row, now).value
    return shown
