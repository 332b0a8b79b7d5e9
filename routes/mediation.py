"""The mediation centre's pages (``/mediation``): the cases a viewer may see, the triage form (opened from an
incident or a lead on the dispatch panel, or by hand), each case with its clocks, history and the forms of its
next step, the agreement as a PDF, and the public application form (``/mediation/apply``, no account).

Server-rendered forms (Jinja escapes every value; each signed-in POST is CSRF-checked by :mod:`auth.web`; the
public form carries its own token in the session cookie). Who sees which case is :class:`Scope`: a mediator
their own cases, a station's people their station's, the desk and the district's people all. Every act is a
route of its own with its permission, refused and audited for anyone else (tests/test_mediation_desk.py).
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import redis
from flask import Blueprint, Response, abort, redirect, render_template, request, session
from werkzeug.datastructures import MultiDict

import clock
from auth.guard import client_address, guard, security
from auth.roles import CASE_BOUND, Permission, Viewer
from auth.web import beijing_time, template_values
from bus import keys
from i18n import text
from mediation.cases import (
    CLOCK_FIELDS,
    MAX_FULFIL_DAYS,
    CaseType,
    clocks_met,
    handover_stopped,
    running_clock,
)
from mediation.identity import clean, mask_phone
from mediation.service import Application, MediationRefused, MediationService, Party, Scope, Triage, case_type_of
from reports.render import PRINT_CSS
from store import audit
from store.db import as_utc
from urls import URL, path

MAX_APPLICATION_BYTES = 16 * 1024  # the public form's whole body: ample for its fields, nothing to upload
APPLY_WINDOW_S = 3600


def scope_of(viewer: Viewer) -> Scope:
    if viewer.role in CASE_BOUND:
        return Scope(mediator=viewer.username)
    if viewer.can(Permission.VIEW_ALL_STATIONS):
        return Scope()
    return Scope(station=viewer.station or "-")


def blueprint(service: MediationService, r: redis.Redis, language: str, stations: list[tuple[str, str]],
              apply_per_hour: int, print_pdf: Callable[[str], bytes]) -> Blueprint:
    """The pages. ``stations`` are (code, name) pairs; ``print_pdf`` prints an HTML page (the reports' path)."""
    routes = Blueprint("mediation", __name__)
    station_names = dict(stations)

    def page(name: str, viewer: Viewer | None, status: int = 200, **values: Any) -> tuple[str, int]:
        frame = template_values(language, viewer) if viewer else {
            "t": lambda key, **v: text(key, language, **v), "lang": language, "viewer": None, "URL": URL, "url": path}
        return render_template(name, **frame, station_names=station_names, stations=stations,
                               case_types=[c.value for c in CaseType], **values), status

    # -- the list ---------------------------------------------------------------------------------------------

    @routes.get(URL.MEDIATION)
    @guard(Permission.VIEW_MEDIATION, "mediation.view")
    def _list(viewer: Viewer) -> tuple[str, int]:
        now = clock.now()
        scope = scope_of(viewer)
        shown = [_shown(row, now) for row in service.listed(scope)]
        closed = [_shown(row, now) for row in service.listed(scope, closed=True, limit=50)]
        team = service.mediators() if scope.everything else []
        # The district's figures this month so far, for those who see every case.
        month = clock.Period.month(clock.today(now).year, clock.today(now).month)
        figures = service.figures(month.start, now) if scope.everything else None
        return page("mediation.html", viewer, open_rows=shown, closed_rows=closed, team=team, figures=figures)

    # -- opening: the triage form -----------------------------------------------------------------------------

    @routes.get(URL.MEDIATION_NEW)
    @guard(Permission.OPEN_MEDIATION, "mediation.view")
    def _new(viewer: Viewer) -> tuple[str, int]:
        return triage_form(viewer, request.args)

    def triage_form(viewer: Viewer, given: MultiDict[str, str], message: str = "", status: int = 200
                    ) -> tuple[str, int]:
        source, ref = _source_of(given)
        origin = _origin(service, source, ref)
        if origin is None or (origin["station"] and not viewer.sees_station(origin["station"])):
            return page("mediation_new.html", viewer, 404, origin=None, form={}, proposal=[], team=[],
                        household_cases=[], message=text("mediation.refused.unknown", language))
        form = {"case_type": origin["case_type"], "address": origin["address"], "summary": origin["summary"],
                "applicant_phone": origin["caller"] if viewer.can(Permission.VIEW_PERSONAL_DATA) else "",
                "station": origin["station"], **{k: v[:2000] for k, v in given.items() if k != "csrf"},
                "station_fixed": "1" if origin["station"] else ""}
        proposal = service.proposed(form["case_type"], form["station"]) if form["station"] else []
        team = service.mediators() if viewer.can(Permission.ASSIGN_MEDIATORS) else []
        return page("mediation_new.html", viewer, status, origin=origin, form=form, proposal=proposal, team=team,
                    household_cases=service.open_for_household(form["address"]), message=message)

    @routes.post(URL.MEDIATION_NEW)
    @guard(Permission.OPEN_MEDIATION, "mediation.open")
    def _open(viewer: Viewer) -> Response | tuple[str, int]:
        form = request.form
        source, ref = _source_of(form)
        origin = _origin(service, source, ref)
        if origin is None or (origin["station"] and not viewer.sees_station(origin["station"])):
            security().record(viewer, "mediation.open", outcome=audit.Outcome.REFUSED, target=ref[:64],
                              detail="unknown" if origin is None else "other station")
            return triage_form(viewer, form, text("mediation.refused.unknown", language), 404)
        station = form.get("station", "") if viewer.can(Permission.VIEW_ALL_STATIONS) else (viewer.station or "")
        triage = _triage(form, station)
        chosen = form.getlist("mediator") if viewer.can(Permission.ASSIGN_MEDIATORS) else []
        try:
            parties = _parties(form)
            if source == "incident":
                case = service.open_from_incident(ref, triage, parties, viewer.username, chosen)
            elif source == "lead":
                case = service.open_from_lead(ref, triage, parties, viewer.username, chosen)
            else:
                case = service.open_by_hand(triage.case_type, station, form.get("address", ""),
                                            form.get("summary", ""), parties, viewer.username, triage, chosen)
        except MediationRefused as exc:
            return triage_form(viewer, form, str(exc), 400)
        return redirect(path(URL.MEDIATION_CASE, case_id=case["case_id"]), code=303)

    # -- one case -----------------------------------------------------------------------------------------

    def seen_case(viewer: Viewer, case_id: str, action: str) -> dict[str, Any] | None:
        """The case if this viewer may see it; otherwise ``None``, the refusal audited."""
        case = service.get(case_id[:24])
        if case is None or not service.visible(case, scope_of(viewer)):
            security().record(viewer, action, outcome=audit.Outcome.REFUSED, target=case_id[:24],
                              detail="unknown" if case is None else "not theirs")
            return None
        return case

    def case_page(viewer: Viewer, case: dict[str, Any], message: str = "", status: int = 200,
                  parties: list[dict[str, Any]] | None = None, form: MultiDict[str, str] | None = None
                  ) -> tuple[str, int]:
        now = clock.now()
        case_id = case["case_id"]
        return page("mediation_case.html", viewer, status, case=_shown(case, now), clocks=_clocks(case, now),
                    parties=parties or service.parties(case_id), full_numbers=parties is not None,
                    team=service.team(case_id), links=service.links(case_id), sessions=service.sessions(case_id),
                    history=[_history_line(e, language) for e in service.history(case_id)],
                    signatures=_signed(case),
                    everyone=service.mediators() if viewer.can(Permission.ASSIGN_MEDIATORS) else [],
                    defaults=_defaults(now, form), max_fulfil_days=MAX_FULFIL_DAYS, message=message,
                    triage_form={"case_type": case["case_type"], "station": case["station"],
                                 "station_fixed": "1" if case["station"] else "", **_defaults(now, form)})

    @routes.get(URL.MEDIATION_CASE)
    @guard(Permission.VIEW_MEDIATION, "mediation.view")
    def _case(case_id: str, viewer: Viewer) -> tuple[str, int]:
        case = seen_case(viewer, case_id, "mediation.view")
        if case is None:
            abort(404)
        return case_page(viewer, case)

    @routes.post(URL.MEDIATION_PARTIES)
    @guard(Permission.VIEW_PARTY_NUMBERS, "mediation.parties.view")
    def _parties_in_full(case_id: str, viewer: Viewer) -> tuple[str, int]:
        case = seen_case(viewer, case_id, "mediation.parties.view")
        if case is None:
            abort(404)
        shown = service.parties_in_full(case["case_id"], viewer.username, viewer.role.value, client_address())
        return case_page(viewer, case, parties=shown)

    @routes.get(URL.MEDIATION_AGREEMENT)
    @guard(Permission.VIEW_MEDIATION, "mediation.agreement")
    def _agreement(case_id: str, viewer: Viewer) -> Response:
        case = seen_case(viewer, case_id, "mediation.agreement")
        if case is None or case["agreed_at"] is None:
            abort(404)
        html = render_template("mediation_agreement.html", t=lambda key, **v: text(key, language, **v), lang=language,
                               case=_shown(case, clock.now()), parties=service.parties(case["case_id"]),
                               team=service.team(case["case_id"]), signatures=_signed(case),
                               station_names=station_names, css=_print_css())
        try:
            pdf = print_pdf(html)
        except RuntimeError as exc:  # Chromium missing: the page says so rather than failing
            return Response(str(exc), status=503, mimetype="text/plain")
        security().record(viewer, "mediation.agreement", target=case["case_id"])
        return Response(pdf, mimetype="application/pdf", headers={
            "Content-Disposition": f'attachment; filename="pingan-mediation-{case["case_id"]}.pdf"'})

    # -- the acts on a case: each its own route and permission ----------------------------------------------

    def act(name: str, permission: Permission, work: Callable[[dict[str, Any], Viewer], None]) -> None:
        def handler(case_id: str, viewer: Viewer) -> Response | tuple[str, int]:
            case = seen_case(viewer, case_id, f"mediation.{name}")
            if case is None:
                abort(404)
            try:
                work(case, viewer)
            except MediationRefused as exc:
                return case_page(viewer, case, str(exc), 400, form=request.form)
            return redirect(path(URL.MEDIATION_CASE, case_id=case["case_id"]), code=303)

        handler.__name__ = f"_{name}"
        routes.add_url_rule(path(URL.MEDIATION_ACT, case_id="<case_id>", act=name), endpoint=f"_{name}",
                            view_func=guard(permission, f"mediation.{name}")(handler), methods=["POST"])

    def triage_act(case: dict[str, Any], viewer: Viewer) -> None:
        station = request.form.get("station", "") if viewer.can(Permission.VIEW_ALL_STATIONS) else ""
        chosen = request.form.getlist("mediator") if viewer.can(Permission.ASSIGN_MEDIATORS) else []
        service.triage(case["case_id"], _triage(request.form, station), viewer.username, chosen)

    def contact_act(case: dict[str, Any], viewer: Viewer) -> None:
        form = request.form
        service.contact(case["case_id"], viewer.username, _local_time(form.get("session_at", ""), language),
                        form.get("remote") == "1", form.get("meeting_link", ""), form.get("identity", ""),
                        form.get("note", ""))

    def session_act(case: dict[str, Any], viewer: Viewer) -> None:
        form = request.form
        agreed = form.get("agreed") == "1"
        service.record_session(
            case["case_id"], viewer.username, form.get("claims", ""), form.get("dispute", ""), form.get("plan", ""),
            form.get("consensus", ""), agreed, form.get("agreement", ""),
            _local_time(form.get("fulfil_due", ""), language) if agreed else None,
            {side: form.get(f"sign_{side}", "") for side in ("applicant", "respondent")})

    def party_act(case: dict[str, Any], viewer: Viewer) -> None:
        form = request.form
        service.add_party(case["case_id"], Party(form.get("side", ""), form.get("name", ""), form.get("id_number", ""),
                                                 form.get("phone", "")), viewer.username)

    def assign_act(case: dict[str, Any], viewer: Viewer) -> None:
        service.assign(case["case_id"], request.form.getlist("mediator"), viewer.username)

    def fulfilment_act(case: dict[str, Any], viewer: Viewer) -> None:
        service.record_fulfilment(case["case_id"], viewer.username, request.form.get("fulfilled") == "1",
                                  request.form.get("note", ""))

    def visit_act(case: dict[str, Any], viewer: Viewer) -> None:
        service.record_visit(case["case_id"], viewer.username, request.form.get("satisfied") == "1",
                             request.form.get("note", ""))

    def reclassify_act(case: dict[str, Any], viewer: Viewer) -> None:
        service.reclassify(case["case_id"], request.form.get("case_type", ""), viewer.username,
                           request.form.get("note", ""))

    def send_back_act(case: dict[str, Any], viewer: Viewer) -> None:
        service.send_back(case["case_id"], viewer.username, request.form.get("note", ""))

    def withdraw_act(case: dict[str, Any], viewer: Viewer) -> None:
        service.withdraw(case["case_id"], viewer.username, request.form.get("note", ""))

    act("triage", Permission.OPEN_MEDIATION, triage_act)
    act("assign", Permission.ASSIGN_MEDIATORS, assign_act)
    for name, work in (("party", party_act), ("contact", contact_act), ("session", session_act),
                       ("fulfilment", fulfilment_act), ("visit", visit_act), ("reclassify", reclassify_act),
                       ("send_back", send_back_act), ("withdraw", withdraw_act)):
        act(name, Permission.MEDIATE, work)

    # -- the public application form --------------------------------------------------------------------

    @routes.route(URL.MEDIATION_APPLY, methods=["GET", "POST"])
    def _apply() -> tuple[str, int]:
        if request.method == "GET":
            return apply_page()
        if (request.content_length or 0) > MAX_APPLICATION_BYTES:
            security().record(None, "mediation.apply", outcome=audit.Outcome.REFUSED, detail="too large")
            return apply_page(text("mediation.apply.too_large", language), 413, keep=False)
        form = request.form
        expected = session.get("apply_csrf", "")
        if not expected or not secrets.compare_digest(form.get("csrf", ""), expected):
            security().record(None, "mediation.apply", outcome=audit.Outcome.REFUSED, detail="csrf")
            return apply_page(text("mediation.apply.expired", language), 400)
        if not _allow_application(r, client_address(), apply_per_hour):
            security().record(None, "mediation.apply", outcome=audit.Outcome.REFUSED, detail="rate limited")
            return apply_page(text("mediation.apply.rate_limited", language), 429)
        application = Application(
            Party("applicant", form.get("applicant_name", ""), form.get("applicant_id", ""),
                  form.get("applicant_phone", "")),
            Party("respondent", form.get("respondent_name", ""), "", form.get("respondent_phone", "")),
            form.get("case_type", ""), form.get("address", "")[:500], form.get("description", ""),
            form.get("remote") == "1")
        try:
            case, merged = service.apply_online(application)
        except MediationRefused as exc:
            return apply_page(str(exc), 400)
        session.pop("apply_csrf", None)  # a receipt's reload sends nothing twice
        return page("mediation_applied.html", None, case_id=case["case_id"], merged=merged,
                    phone=mask_phone(clean(form.get("applicant_phone", ""))))

    def apply_page(message: str = "", status: int = 200, keep: bool = True) -> tuple[str, int]:
        session["apply_csrf"] = session.get("apply_csrf") or secrets.token_urlsafe(32)
        typed = {k: v[:2000] for k, v in request.form.items() if k != "csrf"} if keep else {}
        return page("mediation_apply.html", None, status, csrf=session["apply_csrf"], form=typed, message=message,
                    max_bytes=MAX_APPLICATION_BYTES)

    return routes


def _allow_application(r: redis.Redis, address: str, per_hour: int) -> bool:
    """A fixed one-hour window per client address (the sign-in's scheme, an hour long)."""
    key = f"{keys.MEDIATION_APPLY_RATE}{address}:{int(clock.timestamp() // APPLY_WINDOW_S)}"
    pipe = r.pipeline()
    pipe.incr(key)
    pipe.expire(key, 2 * APPLY_WINDOW_S)
    count, _ = pipe.execute()
    return int(count) <= per_hour


def _source_of(given: MultiDict[str, str]) -> tuple[str, str]:
    for source in ("incident", "lead"):
        if given.get(source):
            return source, given[source][:64]
    return "manual", ""


def _origin(service: MediationService, source: str, ref: str) -> dict[str, Any] | None:
    """What the triage form starts from: the incident's or the lead's place, text and type (by hand: nothing)."""
    if source == "manual":
        return {"source": source, "ref": "", "case_type": CaseType.OTHER.value, "address": "", "summary": "",
                "caller": "", "station": "", "grid": None}
    found = service.origin(source, ref)
    if found is None:
        return None
    return {"source": source, "ref": ref, **found,
            "case_type": case_type_of(found.get("category"), found.get("rule"))}


def _triage(form: MultiDict[str, str], station: str) -> Triage:
    return Triage(form.get("case_type", ""), lawful=form.get("lawful") == "yes", willing=form.get("willing") == "yes",
                  note=form.get("note", ""), station=station)


def _parties(form: MultiDict[str, str]) -> list[Party]:
    """The parties the form names (a respondent may be unknown yet: added when the mediator reaches them)."""
    return [Party(side, form.get(f"{side}_name", ""), form.get(f"{side}_id", ""), form.get(f"{side}_phone", ""))
            for side in ("applicant", "respondent") if form.get(f"{side}_name", "").strip()]


def _local_time(value: str, language: str) -> datetime:
    try:
        return clock.parse_local(value)
    except ValueError:
        raise MediationRefused(text("mediation.refused.time", language)) from None


def _shown(row: dict[str, Any], now: datetime) -> dict[str, Any]:
    shown = dict(row)
    for name, value in row.items():
        if isinstance(value, datetime):
            shown[name] = as_utc(value)
    running = running_clock(row, now)
    shown["running"] = running
    shown["remaining"] = _remaining(running.due - now) if running else ""
    return shown


def _remaining(left: timedelta) -> str:
    """``3:25`` hours and minutes left, ``-0:12`` past."""
    minutes = int(left.total_seconds() // 60)
    sign, minutes = ("-", -minutes) if minutes < 0 else ("", minutes)
    return f"{sign}{minutes // 60}:{minutes % 60:02d}"


def _clocks(case: dict[str, Any], now: datetime) -> list[dict[str, Any]]:
    """Each of the case's four clocks: its deadline, when it stopped, whether met, or its running colour."""
    met = clocks_met(case, now)
    running = running_clock(case, now)
    found = []
    for name, (_start, due_field, done_field) in CLOCK_FIELDS.items():
        due = case[due_field]
        done = handover_stopped(case) if name.value == "handover" else case[done_field]
        found.append({"clock": name.value, "due": as_utc(due) if due else None, "done": as_utc(done) if done else None,
                      "met": met[name], "colour": running.colour.value if running and running.clock is name else ""})
    return found


def _history_line(event: dict[str, Any], language: str) -> dict[str, Any]:
    detail = event["detail"]
    words = dict(detail)
    for name in ("fits", "agreed", "fulfilled", "satisfied", "remote", "matched"):
        if name in words:
            words[name] = text(f"mediation.yes_no.{bool(words[name])}", language)
    for name in ("case_type", "before", "after"):
        if name in words:
            words[name] = text(f"mediation.type.{words[name]}", language)
    if "reasons" in words:
        words["reasons"] = "、".join(text(f"mediation.reason.{r}", language) for r in words["reasons"]) or "—"
    if "mediators" in words:
        words["mediators"] = "、".join(words["mediators"])
    for name in ("session_at", "fulfil_due"):
        if words.get(name):
            words[name] = beijing_time(datetime.fromisoformat(words[name]))[:16]
    if "source" in words:
        words["source"] = text(f"mediation.source.{words['source']}", language)
    if "identity" in words:
        words["identity"] = text(f"mediation.identity.{words['identity']}", language)
    return {**event, "line": text(f"mediation.event.{event['action']}", language, **words)}


def _defaults(now: datetime, form: MultiDict[str, str] | None) -> dict[str, str]:
    """The step forms' values: what a refused form sent (nothing typed is lost), or the usual choices."""
    latest = f"{clock.local(now + timedelta(days=MAX_FULFIL_DAYS)):%Y-%m-%dT%H:%M}"
    values = {"session_at": f"{clock.local(now + timedelta(days=1)):%Y-%m-%dT%H:%M}", "fulfil_due": latest,
              "fulfil_latest": latest, "now": f"{clock.local(now):%Y-%m-%dT%H:%M}"}
    return values | ({k: v[:2000] for k, v in form.items() if k != "csrf"} if form else {})


def _signed(case: dict[str, Any]) -> list[dict[str, Any]]:
    """The agreement's typed signatures, each with its time."""
    return [{**s, "at": datetime.fromisoformat(s["at"])} for s in json.loads(case["signatures"] or "[]")]


def _print_css() -> str:
    return PRINT_CSS.read_text(encoding="utf-8")

