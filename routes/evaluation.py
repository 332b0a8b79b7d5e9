"""The evaluation index (``/evaluation``): league tables, one subject's drill-down, and a leaf's records.

- ``/evaluation?period=month&key=2026-11&kind=community_officer&station=PS-01``: the stations' league and the
  people's (community officers or grid workers), best first, for a day, a calendar week or a month;
- ``/evaluation/<subject>``: the subject's score, its tree from the core indicators to the leaves (value, target,
  what it was computed from, the weight it carries), and its trend month by month;
- ``/evaluation/<subject>/<leaf>``: the records behind one leaf (instructions, leads, tasks, visits, entries...).

Who sees what (:class:`evaluation.service.Scope`): a community officer or grid worker their own subject only; a
station chief their station's people and every station's score; a chief everyone; the big screen the stations
only. A subject outside the scope answers 404, and the refusal is audited.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

from flask import Blueprint, Response, abort, redirect, render_template, request

import clock
from auth.guard import guard, security
from auth.roles import Permission, Role, Viewer
from auth.web import template_values
from clock import Period
from evaluation.index import Node, Scored, SubjectKind
from evaluation.measures import MEASURES, Unit
from evaluation.service import Evaluation, EvaluationService, Result, Scope
from geo.roster import Post
from i18n import text
from store import audit
from urls import URL, path

PERIOD_KINDS = ("month", "week", "day")


def scope_of(viewer: Viewer, service: EvaluationService) -> Scope:
    """What ``viewer`` may see of the scores."""
    post = Post.GRID_WORKER if viewer.role is Role.GRID_WORKER else Post.COMMUNITY_OFFICER
    own = service.own(viewer.grids, post) if viewer.role in (Role.GRID_WORKER, Role.STATION_OFFICER) else frozenset()
    people = viewer.can(Permission.VIEW_SCORES)
    everyone = people and viewer.can(Permission.VIEW_ALL_STATIONS)
    return Scope(everyone=everyone, station=viewer.station if people and not everyone else None, own=own,
                 stations=viewer.can(Permission.VIEW_STATION_SCORES))


def period_from(kind: str, key: str, now: datetime) -> tuple[Period, str, str]:
    """The period a request names (``month`` + ``2026-11``, ``week`` or ``day`` + a date), the running month
    by default; with the kind and key as understood (a week's key is its Monday)."""
    today = clock.today(now)
    try:
        if kind == "day":
            day = date.fromisoformat(key) if key else today
            return Period.day(day), "day", day.isoformat()
        if kind == "week":
            day = date.fromisoformat(key) if key else today
            monday = day - timedelta(days=day.weekday())
            return Period.calendar_week(monday), "week", monday.isoformat()
        year, month = (int(part) for part in key.split("-")) if key else (today.year, today.month)
        return Period.month(year, month), "month", f"{year:04d}-{month:02d}"
    except ValueError:
        abort(404)


def blueprint(service: EvaluationService, language: str) -> Blueprint:
    routes = Blueprint("evaluation", __name__)

    def chosen() -> tuple[Period, str, str]:
        return period_from(request.args.get("period", "month"), request.args.get("key", "").strip()[:10],
                           service.now())

    def visible(subject_id: str, viewer: Viewer, scope: Scope, action: str) -> None:
        subject = service.subject(subject_id[:16])
        if subject is None or not scope.sees(subject):
            # Another person's scores are none of this viewer's business: answered as unknown, and audited.
            security().record(viewer, action, outcome=audit.Outcome.REFUSED, target=subject_id[:16],
                              detail="unknown" if subject is None else "not in scope")
            abort(404)

    def values(viewer: Viewer, period: Period, kind: str, key: str) -> dict[str, Any]:
        return {**template_values(language, viewer), "period": period, "period_kind": kind, "period_key": key,
                "period_kinds": PERIOD_KINDS, "shown": lambda node, value: shown(node, value, language),
                "name": lambda node: node.name(language)}

    @routes.get(URL.EVALUATION)
    @guard(Permission.VIEW_EVALUATION, "evaluation.view")
    def _league(viewer: Viewer) -> str | Response:
        scope = scope_of(viewer, service)
        period, kind, key = chosen()
        if not scope.sees_people and not scope.stations and not scope.station:
            return render_template("evaluation.html", **values(viewer, period, kind, key), evaluation=None,
                                   stations=[], people=[], kinds=[], people_kind="", station="", station_names={},
                                   cores=[], message=text("evaluation.none_yours", language))
        if scope.own and not scope.everyone and scope.station is None and len(scope.own) == 1:
            # A person has one subject: their own page is their league table.
            [own] = scope.own
            return redirect(path(URL.EVALUATION_SUBJECT, subject_id=own) + f"?period={kind}&key={key}")
        evaluation = service.evaluate(period)
        people_kind = request.args.get("kind", SubjectKind.COMMUNITY_OFFICER.value)
        people_kind = people_kind if people_kind in (SubjectKind.COMMUNITY_OFFICER, SubjectKind.GRID_WORKER) \
            else SubjectKind.COMMUNITY_OFFICER.value
        station = request.args.get("station", "") if scope.everyone else (scope.station or "")
        stations = evaluation.league(SubjectKind.STATION, scope)
        people = evaluation.league(SubjectKind(people_kind), scope, station) if scope.sees_people else []
        return render_template(
            "evaluation.html", **values(viewer, period, kind, key), evaluation=evaluation, stations=stations,
            people=people, people_kind=people_kind, kinds=[SubjectKind.COMMUNITY_OFFICER, SubjectKind.GRID_WORKER],
            station=station, station_names={r.subject.subject_id: r.subject.name(language) for _, r in stations},
            cores=list(service.index.tree), everyone=scope.everyone, message="")

    @routes.get(URL.EVALUATION_SUBJECT)
    @guard(Permission.VIEW_EVALUATION, "evaluation.view")
    def _subject(subject_id: str, viewer: Viewer) -> str:
        scope = scope_of(viewer, service)
        visible(subject_id, viewer, scope, "evaluation.view")
        period, kind, key = chosen()
        evaluation = service.evaluate(period)
        result = evaluation.results[subject_id]
        ranks = _ranks(evaluation, result, scope)
        trend = service.trend(subject_id)
        return render_template(
            "evaluation_subject.html", **values(viewer, period, kind, key), result=result,
            subject=result.subject, rows=_flattened(result.scored), ranks=ranks, kept_at=evaluation.kept_at,
            trend=[(p.local_label(), f"{clock.local(p.start):%Y-%m}", s) for p, s in trend],
            post_name=text(f"evaluation.kind.{result.subject.kind}", language))

    @routes.get(URL.EVALUATION_LEAF)
    @guard(Permission.VIEW_EVALUATION, "evaluation.view")
    def _leaf(subject_id: str, leaf_id: str, viewer: Viewer) -> str:
        scope = scope_of(viewer, service)
        visible(subject_id, viewer, scope, "evaluation.view")
        node = service.index.get(leaf_id[:64])
        subject = service.subject(subject_id)
        if node is None or not node.is_leaf or subject is None or not node.applies(subject.kind):
            abort(404)
        period, kind, key = chosen()
        result = service.evaluate(period).results[subject_id]
        scored = result.scored.find(node.node_id)
        assert node.measure is not None
        records = MEASURES[node.measure].records(service.basis(subject, period))
        return render_template(
            "evaluation_leaf.html", **values(viewer, period, kind, key), subject=subject, node=node, scored=scored,
            records=records, columns=_columns(records))

    return routes


def _ranks(evaluation: Evaluation, result: Result, scope: Scope) -> dict[str, tuple[int | None, int]]:
    """The subject's rank in its station and in the district, where the viewer may see the whole league."""
    subject, ranks = result.subject, {}
    if subject.kind is SubjectKind.STATION:
        if scope.stations or scope.everyone:
            ranks["district"] = evaluation.rank_of(subject.subject_id, subject.kind, scope)
        return ranks
    if scope.everyone or scope.station == subject.station:
        ranks["station"] = evaluation.rank_of(subject.subject_id, subject.kind, scope, subject.station)
    if scope.everyone:
        ranks["district"] = evaluation.rank_of(subject.subject_id, subject.kind, scope)
    return ranks


def _flattened(root: Scored) -> list[tuple[int, Scored]]:
    """The scored tree as rows with their depth, in reading order (the root first)."""
    rows: list[tuple[int, Scored]] = []
    stack = [(0, root)]
    while stack:
        depth, node = stack.pop()
        rows.append((depth, node))
        stack.extend((depth + 1, child) for child in reversed(node.children))
    return rows


def shown(node: Node, value: float | None, language: str) -> str:
    """A leaf's value or target as people read it: a percentage, a count, records a day."""
    if value is None or node.measure is None:
        return "—"
    unit = MEASURES[node.measure].unit
    if unit is Unit.RATE:
        return f"{value * 100:.1f}%"
    if unit is Unit.PER_DAY:
        return text("evaluation.per_day", language, n=f"{value:.1f}")
    return f"{value:g}"


COLUMN_ORDER = ("id", "grid", "source", "place", "category", "from", "due", "at", "seconds", "outcome", "result",
                "missing", "worker", "working_h", "inside_h", "unknown_h", "fixes", "share", "count", "met")


def _columns(records: list[dict[str, Any]]) -> list[str]:
    present = {key for record in records for key in record}
    return [name for name in COLUMN_ORDER if name in present]
