"""The return-visit desk over HTTP: the clerk's day (the number in full on the visit's page, audited; a call
that reopens the matter), a chief's view (numbers masked, no calls), and every other role refused at every
route that changes something."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from flask.testing import FlaskClient
from sqlalchemy import Engine, func, insert, select

import clock
import services
from app import PinganApp, create_app
from auth.roles import ROLE_PERMISSIONS, Permission, Role
from clock import Period
from settings import Settings
from store.db import audit_log, incidents, leads, revisit_samples, revisits
from testkit.accounts import make_user, sign_in_client
from testkit.entries import SEAT
from testkit.waiting import wait_until
from urls import URL, path

CALLER = "13912345678"


@pytest.fixture
def app(settings: Settings) -> PinganApp:
    return create_app(settings)


def closed_incident(engine: Engine, event_id: str, description: str = "楼上噪音扰民",
                    at: datetime | None = None) -> str:
    at = at or clock.now() - timedelta(days=2)
    with engine.begin() as conn:
        conn.execute(insert(incidents).values(
            event_id=event_id, stream_id="1-0", reported_at=at, ingested_at=at, lon=SEAT[0], lat=SEAT[1],
            grid="SC-001", category="noise", priority=3, address="朔城区开发路12号", description=description,
            caller=CALLER, source="110", status="closed", history=True))
    return event_id


def signed_in(app: PinganApp, role: Role) -> tuple[FlaskClient, dict[str, str], str]:
    client = app.server.test_client()
    username = make_user(app, role)
    return client, sign_in_client(client, username), username


def audited(app: PinganApp, actor: str, outcome: str = "ok") -> list[tuple[str, str]]:
    with app.engine.connect() as conn:
        return [(r.action, r.target) for r in conn.execute(
            select(audit_log.c.action, audit_log.c.target).where(
                audit_log.c.actor == actor, audit_log.c.outcome == outcome).order_by(audit_log.c.seq))]


def test_desk001_the_clerk_sees_the_number_on_the_visit_audited_and_a_persisting_problem_reopens_the_matter(
    app: PinganApp
) -> None:
    visit = app.revisits.add("incident", closed_incident(app.engine, "E-DESK-1"), "complaint", "chief-li")
    client, headers, clerk = signed_in(app, Role.REVISIT_CLERK)
    assert client.get("/").headers["Location"] == URL.REVISITS  # the clerk's home is the desk

    desk = client.get(URL.REVISITS).get_data(as_text=True)
    assert visit["visit_id"] in desk and "139******78" in desk and CALLER not in desk  # masked in the list
    page = client.get(path(URL.REVISIT, visit_id=visit["visit_id"])).get_data(as_text=True)
    assert f'href="tel:{CALLER}"' in page and 'id="revisit-call"' in page
    assert ("revisit.contact", visit["visit_id"]) in audited(app, clerk)  # who saw which number

    unanswered = client.post(path(URL.REVISIT_CALL, visit_id=visit["visit_id"]),
                             data={"result": "unreachable"}, headers=headers)
    assert unanswered.status_code == 303
    refused = client.post(path(URL.REVISIT_CALL, visit_id=visit["visit_id"]),
                          data={"result": "persists", "note": ""}, headers=headers)
    assert refused.status_code == 400 and "请记录当事人意见" in refused.get_data(as_text=True)
    answered = client.post(path(URL.REVISIT_CALL, visit_id=visit["visit_id"]),
                           data={"result": "persists", "note": "夜里仍有噪音 <b>每天</b>"}, headers=headers)
    assert answered.status_code == 303
    page = client.get(answered.headers["Location"]).get_data(as_text=True)
    row = app.revisits.get(visit["visit_id"])
    assert row is not None and row["result"] == "persists" and row["attempts"] == 2
    assert f"已重新交办 {row['reopened_lead']}" in page
    assert "夜里仍有噪音 &lt;b&gt;每天&lt;/b&gt;" in page  # what people said is shown as text
    assert 'id="revisit-call"' not in page  # an ended visit takes no more calls
    with app.engine.connect() as conn:
        lead = conn.execute(select(leads.c.rule, leads.c.target).where(
            leads.c.lead_id == row["reopened_lead"])).one()
    assert tuple(lead) == ("revisit_persists", "station")
    again = client.post(path(URL.REVISIT_CALL, visit_id=visit["visit_id"]),
                        data={"result": "satisfied"}, headers=headers)
    assert again.status_code == 400 and "该回访已结束" in again.get_data(as_text=True)
    assert [a for a, _ in audited(app, clerk) if a == "revisit.call"] == ["revisit.call"] * 2


def test_desk002_a_chief_sees_visits_with_numbers_masked_adds_a_matter_and_draws_a_month(app: PinganApp) -> None:
    matter = closed_incident(app.engine, "E-DESK-2", description="<script>alert(1)</script>")
    client, headers, chief = signed_in(app, Role.CHIEF)
    added = client.post(URL.REVISITS_ADD, data={"kind": "incident", "matter_id": matter, "reason": "chief"},
                        headers=headers)
    assert added.status_code == 303
    page = client.get(added.headers["Location"]).get_data(as_text=True)
    assert "139******78" in page and CALLER not in page and 'id="revisit-call"' not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page and "<script>alert(1)" not in page
    assert not [a for a, _ in audited(app, chief) if a == "revisit.contact"]  # no number shown, none audited
    twice = client.post(URL.REVISITS_ADD, data={"kind": "incident", "matter_id": matter, "reason": "complaint"},
                        headers=headers)
    assert twice.status_code == 400 and "不重复回访" in twice.get_data(as_text=True)

    year, month = clock.previous_month()
    label = f"{year:04d}-{month:02d}"
    drawn = client.post(URL.REVISITS_DRAW, data={"month": label}, headers=headers)
    assert drawn.status_code == 200 and f"{label} 已抽取" in drawn.get_data(as_text=True)
    this_month = f"{clock.local():%Y-%m}"
    assert client.post(URL.REVISITS_DRAW, data={"month": this_month}, headers=headers).status_code == 400
    with app.engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(revisit_samples)).scalar_one() == 1


ACTIONS = {  # each route that changes something, the permission it needs, and a body it would accept
    "revisit.call": (Permission.CALL_REVISITS, lambda visit: path(URL.REVISIT_CALL, visit_id=visit),
                     {"result": "satisfied"}),
    "revisit.add": (Permission.ADD_REVISITS, lambda _: URL.REVISITS_ADD,
                    {"kind": "incident", "matter_id": "E-FORGED", "reason": "complaint"}),
    "revisit.draw": (Permission.DRAW_REVISITS, lambda _: URL.REVISITS_DRAW, {"month": "{previous}"}),
}


def state_of(app: PinganApp) -> tuple[object, ...]:
    with app.engine.connect() as conn:
        return (conn.execute(select(revisits.c.visit_id, revisits.c.attempts, revisits.c.result)
                             .order_by(revisits.c.visit_id)).all(),
                conn.execute(select(func.count()).select_from(revisit_samples)).scalar_one(),
                conn.execute(select(func.count()).select_from(leads)).scalar_one())


@pytest.mark.parametrize("role", list(Role))
def test_desk003_forged_requests_to_the_desk_are_refused_and_audited_for_every_role_without_the_right(
    app: PinganApp, role: Role
) -> None:
    visit = app.revisits.add("incident", closed_incident(app.engine, "E-DESK-3"), "complaint", "chief-li")
    closed_incident(app.engine, "E-FORGED")
    year, month = clock.previous_month()
    client, headers, username = signed_in(app, role)
    may = ROLE_PERMISSIONS[role]
    assert (client.get(URL.REVISITS).status_code == 200) is (Permission.VIEW_REVISITS in may), role
    for action, (permission, url, body) in ACTIONS.items():
        if permission in may:
            continue  # allowed: tested above
        form = {k: v.format(previous=f"{year:04d}-{month:02d}") for k, v in body.items()}
        before = state_of(app)
        response = client.post(url(visit["visit_id"]), data=form, headers=headers)
        assert response.status_code == 403, (role, action)
        assert state_of(app) == before, (role, action)
        # The desk's addresses are open to roles without the map: the route's own guard refuses, and says so.
        assert audited(app, username, "refused")[-1][0] == action, (role, action)
    # Without the form's CSRF token nothing is taken, whoever asks.
    clerk, _, _ = signed_in(app, Role.REVISIT_CLERK)
    assert clerk.post(path(URL.REVISIT_CALL, visit_id=visit["visit_id"]), data={"result": "satisfied"}
                      ).status_code == 403
    assert app.revisits.get(visit["visit_id"])["attempts"] == 0  # type: ignore[index]


def test_desk004_without_a_session_the_desk_asks_to_sign_in(app: PinganApp) -> None:
    client = app.server.test_client()
    assert client.get(URL.REVISITS).status_code == 302  # a page: to the sign-in form
    assert client.post(URL.REVISITS_ADD, data={}).status_code == 401


def test_desk005_a_first_start_draws_last_months_sample_once_its_history_is_kept(settings: Settings) -> None:
    parts = services.build(settings)  # BACKFILL on: the history is still to come
    try:
        year, month = clock.previous_month()
        last_month = Period.month(year, month)
        closed_incident(parts.engine, "E-HISTORY", at=last_month.start + timedelta(days=3))
        parts.start(consumer=False, simulator=False)
        assert not parts.history_ready.is_set() and parts.revisits.samples() == []  # waits for the history
        parts.history_ready.set()  # what backfill_history() does once the consumer has kept it all
        [sample] = wait_until(parts.revisits.samples, what="last month's sample")
        assert (sample["population"], sample["drawn"]) == (1, 1)
    finally:
        parts.stop()
