"""The mediation centre over HTTP: the duty officer's triage form on an incident, a mediator working only their own
cases through the lifecycle to the agreement's PDF, the numbers masked until a mediator asks (audited), every
act refused and audited for roles without its right, and the public application form hardened (CSRF, size,
rate, checked numbers, markup shown as text, duplicates merged)."""

from __future__ import annotations

import io
import re
from datetime import UTC, datetime, timedelta

import pytest
from flask.testing import FlaskClient
from pypdf import PdfReader
from sqlalchemy import func, insert, select

import clock
from app import PinganApp, create_app
from auth.roles import ROLE_PERMISSIONS, Permission, Role
from mediation.identity import id_check_character
from settings import Settings
from store.db import audit_log, incidents, mediation_cases, mediation_events
from testkit.accounts import make_user, sign_in_client
from urls import URL, path

T0 = datetime(2026, 12, 7, 1, 0, tzinfo=UTC)  # Monday 09:00 in Beijing
pytestmark = pytest.mark.time_machine(T0, tick=False)
GRID = "SC-001"  # station PS-01
CSRF = re.compile(r'name="csrf" value="([^"]+)"')
ACTS = ("triage", "assign", "party", "contact", "session", "fulfilment", "visit", "reclassify", "send_back",
        "withdraw")


@pytest.fixture
def app(settings: Settings) -> PinganApp:
    return create_app(Settings(**{**settings.__dict__, "mediation_apply_per_hour": 5}))


def signed_in(app: PinganApp, role: Role, station: str | None = None, username: str | None = None
              ) -> tuple[FlaskClient, dict[str, str], str]:
    client = app.server.test_client()
    username = make_user(app, role, station=station, username=username)
    return client, sign_in_client(client, username), username


def keep_incident(app: PinganApp, event_id: str) -> None:
    with app.engine.begin() as conn:
        conn.execute(insert(incidents).values(
            event_id=event_id, stream_id="0-1", reported_at=T0 - timedelta(minutes=5), ingested_at=T0, lon=112.43,
            lat=39.33, grid=GRID, category="family_dispute", priority=2, address="朔城区康乐小区3号楼2单元501室",
            description="夫妻争吵 <b>摔东西</b>", caller="13912345678", source="110", status="closed", history=False))


def counts(app: PinganApp) -> tuple[int, int]:
    with app.engine.connect() as conn:
        return (conn.execute(select(func.count()).select_from(mediation_cases)).scalar_one(),
                conn.execute(select(func.count()).select_from(mediation_events)).scalar_one())


def refusals(app: PinganApp, username: str) -> list[tuple[str, str]]:
    with app.engine.connect() as conn:
        return [(a, d) for a, d in conn.execute(select(audit_log.c.action, audit_log.c.detail).where(
            audit_log.c.actor == username, audit_log.c.outcome == "refused").order_by(audit_log.c.seq))]


def local(moment: datetime) -> str:
    return f"{clock.local(moment):%Y-%m-%dT%H:%M}"


def valid_id(sequence: str = "123") -> str:
    first17 = f"14060219850312{sequence}"
    return first17 + id_check_character(first17)


def open_case(app: PinganApp) -> str:
    keep_incident(app, "INC-D1")
    duty, headers, _ = signed_in(app, Role.DUTY_OFFICER)
    form = duty.get(f"{URL.MEDIATION_NEW}?incident=INC-D1").get_data(as_text=True)
    assert 'value="13912345678"' in form and '<option value="family" selected>' in form  # prefilled from the call
    opened = duty.post(URL.MEDIATION_NEW, headers=headers, data={
        "incident": "INC-D1", "case_type": "family", "lawful": "yes", "willing": "yes", "applicant_name": "刘秀英",
        "applicant_phone": "13912345678", "mediator": ["MED-P01"]})  # not the duty officer's to choose: matched
    assert opened.status_code == 303
    return opened.headers["Location"].rsplit("/", 1)[1]


def test_mdd001_from_the_dispatch_panels_triage_form_to_the_agreement_pdf_by_the_matched_mediator(
    app: PinganApp
) -> None:
    case_id = open_case(app)
    [lead] = app.mediation.team(case_id)[:1]
    assert lead["mediator_id"] in {"MED-L02", "MED-P01", "MED-P02", "MED-P03", "MED-P05"}
    mediator, headers, _ = signed_in(app, Role.MEDIATOR, username=lead["username"])
    listing = mediator.get(URL.MEDIATION).get_data(as_text=True)
    assert f'data-case-id="{case_id}"' in listing and "本月受理" not in listing  # their cases; no district figures
    case_url = path(URL.MEDIATION_CASE, case_id=case_id)
    page = mediator.get(case_url).get_data(as_text=True)
    assert "139****5678" in page and "13912345678" not in page  # masked until asked
    assert "夫妻争吵 &lt;b&gt;摔东西&lt;/b&gt;" in page  # the caller's words, as text

    def act(step: str, **data: str) -> str:
        reply = mediator.post(path(URL.MEDIATION_ACT, case_id=case_id, act=step), headers=headers, data=data)
        assert reply.status_code in (303, 400), (step, reply.status_code)
        return reply.get_data(as_text=True) if reply.status_code == 400 else ""

    refused = act("contact", session_at=local(T0 + timedelta(days=1)), identity="in_person", note="已电话联系")
    assert "先登记申请人和被申请人" in refused and "已电话联系</textarea>" in refused  # nothing typed is lost
    assert act("party", side="respondent", name="王建国", phone="13698765432") == ""
    assert act("contact", session_at=local(T0 + timedelta(hours=3)), remote="1",
               meeting_link="https://meeting.example.cn/r/1", identity="video") == ""
    steps = {"claims": "女方要求返还彩礼", "dispute": "返还金额", "plan": "分两次返还", "consensus": "同意"}
    too_long = act("session", agreed="1", agreement="男方返还三万元", fulfil_due=local(T0 + timedelta(days=8)),
                   sign_applicant="刘秀英", sign_respondent="王建国", **steps)
    assert "最长 7 天" in too_long
    assert act("session", agreed="1", agreement="男方于七日内返还三万元", fulfil_due=local(T0 + timedelta(days=7)),
               sign_applicant="刘秀英", sign_respondent="王建国", **steps) == ""
    kept = app.mediation.get(case_id) or {}
    # The form's times are Beijing time, kept as the moments they name (a naive store would shift them 8 h).
    assert (kept["fulfil_due"], kept["session_at"]) == (T0 + timedelta(days=7), T0 + timedelta(hours=3))
    pdf = mediator.get(path(URL.MEDIATION_AGREEMENT, case_id=case_id))
    assert pdf.status_code == 200 and pdf.mimetype == "application/pdf"
    printed = "".join(p.extract_text() for p in PdfReader(io.BytesIO(pdf.data)).pages)
    assert case_id in printed and "男方于七日内返还三万元" in printed and "王建国" in printed
    assert "13698765432" not in printed
    step = mediator.get(case_url).get_data(as_text=True)
    assert 'id="mediation-step-fulfilment"' in step and 'name="fulfilled" value="0"' in step
    assert act("fulfilment", fulfilled="1") == ""
    step = mediator.get(case_url).get_data(as_text=True)
    assert 'id="mediation-step-visit"' in step and "不满意（启动二次调解）" in step
    assert act("visit", satisfied="1", note="双方满意") == ""
    assert (app.mediation.get(case_id) or {})["outcome"] == "success"
    shown = mediator.get(case_url).get_data(as_text=True)
    assert 'data-outcome="success"' in shown and "调解成功" in shown

    # The numbers in full: a deliberate, audited act of a mediator; a chief sees the case masked, and cannot.
    full = mediator.post(path(URL.MEDIATION_PARTIES, case_id=case_id), headers=headers).get_data(as_text=True)
    assert "13912345678" in full and "13698765432" in full
    chief, chief_headers, chief_name = signed_in(app, Role.CHIEF)
    assert "139****5678" in chief.get(case_url).get_data(as_text=True)
    assert chief.post(path(URL.MEDIATION_PARTIES, case_id=case_id), headers=chief_headers).status_code == 403
    assert refusals(app, chief_name) == [("mediation.parties.view", "needs view_party_numbers")]
    with app.engine.connect() as conn:
        viewed = conn.execute(select(audit_log.c.actor, audit_log.c.target).where(
            audit_log.c.action == "mediation.parties.view", audit_log.c.outcome == "ok")).all()
    assert [tuple(v) for v in viewed] == [(lead["username"], case_id)]


def test_mdd002_a_mediator_sees_and_works_only_their_own_cases_and_a_station_only_its_own(app: PinganApp) -> None:
    case_id = open_case(app)
    team = {m["username"] for m in app.mediation.team(case_id)}
    outsider = next(u for u in ("mediator1", "mediator2", "mediator3", "lawyer1") if u not in team)
    other, headers, name = signed_in(app, Role.MEDIATOR, username=outsider)
    assert f'data-case-id="{case_id}"' not in other.get(URL.MEDIATION).get_data(as_text=True)
    assert other.get(path(URL.MEDIATION_CASE, case_id=case_id)).status_code == 404
    before = counts(app)
    for act in ("party", "contact", "withdraw"):
        reply = other.post(path(URL.MEDIATION_ACT, case_id=case_id, act=act), headers=headers,
                           data={"side": "respondent", "name": "x", "note": "x"})
        assert reply.status_code == 404, act
    assert counts(app) == before
    assert [d for _, d in refusals(app, name)] == ["not theirs"] * 4
    elsewhere, _, _ = signed_in(app, Role.STATION_CHIEF, station="PS-02")
    assert elsewhere.get(path(URL.MEDIATION_CASE, case_id=case_id)).status_code == 404
    own, _, _ = signed_in(app, Role.STATION_CHIEF, station="PS-01")
    assert own.get(path(URL.MEDIATION_CASE, case_id=case_id)).status_code == 200


# Every role but the desk, which holds every mediation right (its acts: test_mdd004).
@pytest.mark.parametrize("role", [r for r in Role if r is not Role.MEDIATION_DESK])
def test_mdd003_every_act_is_refused_and_audited_for_a_role_without_its_right(app: PinganApp, role: Role) -> None:
    case_id = open_case(app)
    client, headers, username = signed_in(app, role, username="mediator1" if role is Role.MEDIATOR else None)
    needs = {name: app.server.view_functions[f"mediation._{name}"].permission for name in ACTS}
    needs |= {"open": Permission.OPEN_MEDIATION, "parties": Permission.VIEW_PARTY_NUMBERS}
    urls = {name: path(URL.MEDIATION_ACT, case_id=case_id, act=name) for name in ACTS}
    urls |= {"open": URL.MEDIATION_NEW, "parties": path(URL.MEDIATION_PARTIES, case_id=case_id)}
    refused = 0
    for name, permission in needs.items():
        if permission in ROLE_PERMISSIONS[role]:
            continue  # this role may act here: its scope and steps are tested above
        before = counts(app)
        reply = client.post(urls[name], headers=headers, data={"incident": "INC-D1", "lawful": "yes", "willing": "yes",
                                                               "applicant_name": "x", "note": "x", "fulfilled": "0"})
        assert reply.status_code == 403, (role, name)
        assert counts(app) == before, (role, name)
        refused += 1
    assert [a for a, _ in refusals(app, username)] == [
        "mediation.open" if name == "open" else f"mediation.{'parties.view' if name == 'parties' else name}"
        for name, permission in needs.items() if permission not in ROLE_PERMISSIONS[role]]
    assert refused >= 3
    # Forged without the session's CSRF token: refused before any route runs, whatever the role.
    assert client.post(urls["withdraw"], data={"note": "x"}).status_code == 403


def apply_form(client: FlaskClient, **overrides: str) -> dict[str, str]:
    page = client.get(URL.MEDIATION_APPLY)
    assert page.status_code == 200
    match = CSRF.search(page.get_data(as_text=True))
    assert match
    return {"csrf": match.group(1), "applicant_name": "刘秀英", "applicant_id": valid_id(),
            "applicant_phone": "139 1234 5678", "respondent_name": "王建国", "case_type": "debt",
            "address": "朔城区康乐小区3号楼2单元501室", "description": "借款三万元逾期未还 <script>alert(1)</script>",
            **overrides}


def test_mdd004_the_public_form_takes_an_application_without_an_account_and_refuses_what_it_must(
    app: PinganApp
) -> None:
    public = app.server.test_client()
    bad_id = apply_form(public, applicant_id=valid_id()[:17] + ("0" if valid_id()[17] != "0" else "1"))
    refused = public.post(URL.MEDIATION_APPLY, data=bad_id)
    page = refused.get_data(as_text=True)
    assert refused.status_code == 400 and "身份证号码有误" in page and 'value="刘秀英"' in page  # kept for the fix
    assert public.post(URL.MEDIATION_APPLY, data=apply_form(public, applicant_phone="12345")).status_code == 400
    assert public.post(URL.MEDIATION_APPLY, data={**apply_form(public), "csrf": "forged"}).status_code == 400
    huge = public.post(URL.MEDIATION_APPLY, data=apply_form(public, description="纠" * 20_000))
    assert huge.status_code == 413
    assert counts(app)[0] == 0

    received = public.post(URL.MEDIATION_APPLY, data=apply_form(public))
    receipt = received.get_data(as_text=True)
    assert received.status_code == 200 and 'data-merged="no"' in receipt and "139****5678" in receipt
    case_id = re.search(r'data-case-id="([^"]+)"', receipt).group(1)  # type: ignore[union-attr]
    case = app.mediation.get(case_id) or {}
    assert (case["source"], case["stage"], case["opened_by"]) == ("online", "triage", "anonymous")
    again = public.post(URL.MEDIATION_APPLY, data=apply_form(public, description="补充：对方已失联"))
    again_text = again.get_data(as_text=True)
    assert 'data-merged="yes"' in again_text and case_id in again_text
    other = public.post(URL.MEDIATION_APPLY, data=apply_form(public, applicant_id=valid_id("456")))
    assert 'data-merged="no"' in other.get_data(as_text=True)  # another applicant: a case of its own
    # The sixth attempt from this address within the hour (the limit is 5, refused ones count): nothing kept.
    assert public.post(URL.MEDIATION_APPLY, data=apply_form(public, applicant_id=valid_id("789"))).status_code == 429
    assert counts(app)[0] == 2

    desk, headers, _ = signed_in(app, Role.MEDIATION_DESK)
    shown = desk.get(path(URL.MEDIATION_CASE, case_id=case_id)).get_data(as_text=True)
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in shown and "<script>alert(1)" not in shown
    assert 'id="mediation-step-triage"' in shown
    triaged = desk.post(path(URL.MEDIATION_ACT, case_id=case_id, act="triage"), headers=headers, data={
        "case_type": "debt", "station": "PS-03", "lawful": "yes", "willing": "yes", "mediator": ["MED-L01"]})
    assert triaged.status_code == 303
    assert [m["mediator_id"] for m in app.mediation.team(case_id)] == ["MED-L01"]  # the desk's choice
    with app.engine.connect() as conn:
        assert conn.execute(select(audit_log.c.detail).where(
            audit_log.c.action == "mediation.apply", audit_log.c.outcome == "refused")
            .order_by(audit_log.c.seq)).scalars().all() == ["csrf", "too large", "rate limited"]
