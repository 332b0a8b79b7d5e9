"""The supervision list over HTTP: a station chief sees and answers their own station's escalations only; a
district chief sees the district's list and every station's; every role without the right is refused and
audited; what people write is shown as text."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select
from time_machine import TimeMachineFixture

import routes.supervision
from app import PinganApp, create_app
from auth.roles import ROLE_PERMISSIONS, Permission, Role
from layouts.ids import SupervisionID
from risk.rules import Finding
from settings import Settings
from store.db import audit_log, escalations
from testkit.accounts import make_user, sign_in_client
from urls import URL, path

T0 = datetime(2026, 12, 7, 1, 0, tzinfo=UTC)  # a Monday, 09:00 in Beijing
pytestmark = pytest.mark.time_machine(T0, tick=False)
PS01_GRID, PS02_GRID = "SC-001", "SC-088"  # a grid of station PS-01, one of PS-02


@pytest.fixture
def app(settings: Settings) -> PinganApp:
    return create_app(settings)


def escalated(app: PinganApp, time_machine: TimeMachineFixture) -> dict[str, dict[str, dict[str, object]]]:
    """A high lead in each station, left five hours: each at its station chief's and the district's.
    Returns the escalations by station and level."""
    app.risk.leads.create([Finding("dispute_cluster", grid, "high", f"desk-{grid}", (), {"days": 7, "count": 4})
                           for grid in (PS01_GRID, PS02_GRID)])
    time_machine.move_to(T0 + timedelta(hours=5))
    found: dict[str, dict[str, dict[str, object]]] = {}
    for row in app.supervision.scan():
        found.setdefault(str(row["station"]), {})[str(row["level"])] = row
    return found


def signed_in(app: PinganApp, role: Role, station: str | None = None) -> tuple[FlaskClient, dict[str, str], str]:
    client = app.server.test_client()
    username = make_user(app, role, station=station)
    return client, sign_in_client(client, username), username


def refusals(app: PinganApp, actor: str) -> list[tuple[str, str]]:
    with app.engine.connect() as conn:
        return [(r.action, r.detail) for r in conn.execute(
            select(audit_log.c.action, audit_log.c.detail).where(
                audit_log.c.actor == actor, audit_log.c.outcome == "refused").order_by(audit_log.c.seq))]


def answered(app: PinganApp) -> list[tuple[str, str | None]]:
    with app.engine.connect() as conn:
        return [(r.escalation_id, r.response) for r in conn.execute(
            select(escalations.c.escalation_id, escalations.c.response).order_by(escalations.c.escalation_id))]


def test_sd001_a_station_chief_answers_their_own_stations_escalations_and_no_one_elses(
    app: PinganApp, time_machine: TimeMachineFixture
) -> None:
    found = escalated(app, time_machine)
    client, headers, chief = signed_in(app, Role.STATION_CHIEF, station="PS-01")
    page = client.get(URL.SUPERVISION).get_data(as_text=True)
    own = [found["PS-01"]["station"]["escalation_id"], found["PS-01"]["district"]["escalation_id"]]
    other = found["PS-02"]["station"]["escalation_id"]
    assert all(f'data-escalation-id="{e}"' in page for e in own)  # both levels of their own station
    assert other not in page and found["PS-02"]["district"]["escalation_id"] not in page
    assert "高风险线索超期未处置（矛盾纠纷聚集）" in page
    assert "上报时已超时 4 小时" in page and "上报时已超时 1 小时" not in page  # both levels were raised 4 h late
    assert "整改通知：一经逾期即报所长 · 超时 1 天 报区局" in page  # the rules, as configured
    assert client.get(URL.SUPERVISION + "?station=PS-02").get_data(as_text=True).count("data-escalation-id") == 2

    empty = client.post(path(URL.SUPERVISION_RESPOND, escalation_id=own[0]), data={"response": " "}, headers=headers)
    assert empty.status_code == 400 and "请填写答复内容" in empty.get_data(as_text=True)
    reply = client.post(path(URL.SUPERVISION_RESPOND, escalation_id=own[0]),
                        data={"response": "夜班警力不足 <b>已调整</b>"}, headers=headers)
    assert reply.status_code == 303 and reply.headers["Location"].endswith(f"#{own[0]}")
    shown = client.get(URL.SUPERVISION + "?state=answered").get_data(as_text=True)
    assert "夜班警力不足 &lt;b&gt;已调整&lt;/b&gt;" in shown  # their words, as text
    before = answered(app)
    refused = client.post(path(URL.SUPERVISION_RESPOND, escalation_id=other), data={"response": "不归我管"},
                          headers=headers)
    assert refused.status_code == 404 and answered(app) == before
    assert refusals(app, chief)[-1] == ("supervision.respond", "other station")
    # The home page gives them the live board (the hall's pages follow the same escalations).
    assert SupervisionID.PANEL in client.get("/_dash-layout").get_data(as_text=True)


def test_sd002_a_district_chief_reads_the_districts_list_and_answers_any(
    app: PinganApp, time_machine: TimeMachineFixture
) -> None:
    found = escalated(app, time_machine)
    client, headers, _ = signed_in(app, Role.CHIEF)
    page = client.get(URL.SUPERVISION).get_data(as_text=True)
    assert page.count("data-escalation-id") == 2  # the district's level by default, both stations
    assert found["PS-02"]["district"]["escalation_id"] in page
    assert client.get(URL.SUPERVISION + "?level=").get_data(as_text=True).count("data-escalation-id") == 4
    target = found["PS-02"]["district"]["escalation_id"]
    reply = client.post(path(URL.SUPERVISION_RESPOND, escalation_id=target), data={"response": "已约谈所长"},
                        headers=headers)
    assert reply.status_code == 303
    assert dict(answered(app))[str(target)] == "已约谈所长"
    figures = client.get(URL.SUPERVISION).get_data(as_text=True)
    assert re.search(r'data-figure="open"[^>]*>3<', figures) and re.search(r'data-figure="responded"[^>]*>1<', figures)


@pytest.mark.parametrize("role", [r for r in Role if Permission.RESPOND_SUPERVISION not in ROLE_PERMISSIONS[r]])
def test_sd003_forged_responses_are_refused_and_audited_for_every_role_without_the_right(
    app: PinganApp, time_machine: TimeMachineFixture, role: Role
) -> None:
    found = escalated(app, time_machine)
    target = found["PS-01"]["station"]["escalation_id"]
    client, headers, username = signed_in(app, role)
    assert (client.get(URL.SUPERVISION).status_code == 200) is (Permission.VIEW_SUPERVISION in ROLE_PERMISSIONS[role])
    before = answered(app)
    response = client.post(path(URL.SUPERVISION_RESPOND, escalation_id=target), data={"response": "伪造"},
                           headers=headers)
    assert response.status_code == 403 and answered(app) == before
    action = refusals(app, username)[-1][0]
    # A role without the map is stopped at the door; one with it by the route's own guard.
    assert action == ("supervision.respond" if Permission.VIEW_MAP in ROLE_PERMISSIONS[role] else "map.view")


def test_sd004_without_a_session_or_its_csrf_token_nothing_is_answered(
    app: PinganApp, time_machine: TimeMachineFixture
) -> None:
    found = escalated(app, time_machine)
    target = found["PS-01"]["station"]["escalation_id"]
    anonymous = app.server.test_client()
    assert anonymous.get(URL.SUPERVISION).status_code == 302  # a page: to the sign-in form
    assert anonymous.post(path(URL.SUPERVISION_RESPOND, escalation_id=target), data={"response": "x"}).status_code \
        == 401
    client, _, _ = signed_in(app, Role.STATION_CHIEF, station="PS-01")
    assert client.post(path(URL.SUPERVISION_RESPOND, escalation_id=target), data={"response": "x"}).status_code \
        == 403
    assert all(response is None for _, response in answered(app))


def test_sd005_a_station_chief_needs_a_station_and_has_no_dispatch(app: PinganApp) -> None:
    with pytest.raises(ValueError, match="needs a station"):
        app.security.users.create("chief-nostation", "correct-horse-battery-9", Role.STATION_CHIEF)
    may = ROLE_PERMISSIONS[Role.STATION_CHIEF]
    assert Permission.DISPATCH not in may and Permission.VERIFY_ALERTS not in may
    assert Permission.VIEW_ALL_STATIONS not in may  # their station's picture and figures only


@pytest.mark.parametrize("minutes, said", [(0, "0 分钟"), (9, "9 分钟"), (60, "1 小时"), (247, "4 小时 7 分钟"),
                                           (1440, "1 天"), (1500, "25 小时")])
def test_sd006_how_late_is_said_as_people_say_it(minutes: int, said: str) -> None:
    assert routes.supervision._duration(timedelta(minutes=minutes), "zh-CN") == said
