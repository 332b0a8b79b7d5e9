"""Rectification notices over HTTP: a chief issues one from the Monday summary (the form prefilled), the station
chief reports progress and closes it, another station's chief cannot; every role without the right is refused
and audited; what people write is shown as text."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select
from time_machine import TimeMachineFixture

import clock
from app import PinganApp, create_app
from auth.roles import ROLE_PERMISSIONS, Permission, Role
from settings import Settings
from store.db import as_utc, audit_log, notice_progress, notices
from testkit.accounts import make_user, sign_in_client
from urls import URL, path

T0 = datetime(2026, 12, 7, 1, 0, tzinfo=UTC)  # Monday 09:00 in Beijing
pytestmark = pytest.mark.time_machine(T0, tick=False)


@pytest.fixture
def app(settings: Settings) -> PinganApp:
    return create_app(settings)


def signed_in(app: PinganApp, role: Role, station: str | None = None) -> tuple[FlaskClient, dict[str, str], str]:
    client = app.server.test_client()
    username = make_user(app, role, station=station)
    return client, sign_in_client(client, username), username


def state(app: PinganApp) -> tuple[list[tuple[str, object]], int]:
    with app.engine.connect() as conn:
        return ([(r.notice_id, r.closed_at) for r in conn.execute(select(notices.c.notice_id, notices.c.closed_at)
                                                                  .order_by(notices.c.notice_id))],
                len(conn.execute(select(notice_progress.c.id)).all()))


def deadline_in(days: float) -> str:
    return f"{clock.local(clock.now() + timedelta(days=days)):%Y-%m-%dT%H:%M}"


def test_nd001_a_chief_issues_from_the_summary_and_the_station_chief_reports_and_closes(app: PinganApp) -> None:
    app.summaries.announce(clock.today(clock.now()))  # an empty week: nobody below target
    client, headers, _ = signed_in(app, Role.CHIEF)
    prefilled = client.get(URL.NOTICES + "?station=PS-02&standard=高风险线索处置率 75%&source=summary:2026-12-07")
    page = prefilled.get_data(as_text=True)
    assert prefilled.status_code == 200 and "高风险线索处置率 75%</textarea>" in page
    assert 'value="summary:2026-12-07"' in page and '<option value="PS-02" selected>' in page
    too_late = client.post(URL.NOTICES, data={"station": "PS-02", "standard": "x", "measures": "y",
                                              "deadline": deadline_in(8)}, headers=headers)
    assert too_late.status_code == 400 and "7 天以内" in too_late.get_data(as_text=True)
    assert ">y</textarea>" in too_late.get_data(as_text=True)  # what was typed is kept for the next try
    issued = client.post(URL.NOTICES, data={
        "station": "PS-02", "unit": "社区警务队", "standard": "高风险线索处置率 75% <script>x</script>",
        "measures": "逐条复核", "deadline": deadline_in(7), "source": "summary:2026-12-07"}, headers=headers)
    assert issued.status_code == 303
    notice_id = issued.headers["Location"].rsplit("/", 1)[1]
    kept = app.notices.get(notice_id)
    assert kept is not None and as_utc(kept["deadline"]) == clock.now() + timedelta(days=7)  # the form's Beijing time
    shown = client.get(issued.headers["Location"]).get_data(as_text=True)
    assert "&lt;script&gt;x&lt;/script&gt;" in shown and "<script>x" not in shown
    assert 'id="notice-report"' not in shown  # a chief issues; the station reports

    other, other_headers, other_chief = signed_in(app, Role.STATION_CHIEF, station="PS-01")
    assert other.get(path(URL.NOTICE, notice_id=notice_id)).status_code == 404
    before = state(app)
    refused = other.post(path(URL.NOTICE_REPORT, notice_id=notice_id), data={"note": "x", "closes": "1"},
                         headers=other_headers)
    assert refused.status_code == 404 and state(app) == before
    with app.engine.connect() as conn:
        assert conn.execute(select(audit_log.c.detail).where(
            audit_log.c.actor == other_chief, audit_log.c.outcome == "refused")).scalars().all() == ["other station"]

    station, station_headers, _ = signed_in(app, Role.STATION_CHIEF, station="PS-02")
    assert notice_id in station.get(URL.NOTICES).get_data(as_text=True)
    assert station.post(path(URL.NOTICE_REPORT, notice_id=notice_id), data={"note": "已建立台账"},
                        headers=station_headers).status_code == 303
    assert station.post(path(URL.NOTICE_REPORT, notice_id=notice_id), data={"note": "已全部处置", "closes": "1"},
                        headers=station_headers).status_code == 303
    row = app.notices.get(notice_id)
    assert row is not None and row["closed_by"].startswith("station-chief-")
    review = client.get(URL.NOTICES).get_data(as_text=True)
    assert 'data-station="PS-02"><td>' in review and 'data-outcome="on_time">1<' in review


@pytest.mark.parametrize("role", list(Role))
def test_nd002_forged_notices_and_reports_are_refused_and_audited_for_every_role_without_the_right(
    app: PinganApp, role: Role, time_machine: TimeMachineFixture
) -> None:
    notice = app.notices.issue("PS-01", "", "x", "y", clock.now() + timedelta(days=3), "chief-li")
    client, headers, username = signed_in(app, role, station="PS-01" if role is Role.STATION_CHIEF else None)
    may = ROLE_PERMISSIONS[role]
    assert (client.get(URL.NOTICES).status_code == 200) is (Permission.VIEW_SUPERVISION in may)
    for permission, url, form in (
        (Permission.ISSUE_NOTICES, URL.NOTICES,
         {"station": "PS-01", "standard": "x", "measures": "y", "deadline": deadline_in(2)}),
        (Permission.REPORT_NOTICES, path(URL.NOTICE_REPORT, notice_id=str(notice["notice_id"])),
         {"note": "伪造", "closes": "1"}),
    ):
        if permission in may:
            continue
        before = state(app)
        assert client.post(url, data=form, headers=headers).status_code == 403, (role, permission)
        assert state(app) == before
        with app.engine.connect() as conn:
            action = conn.execute(select(audit_log.c.action).where(
                audit_log.c.actor == username, audit_log.c.outcome == "refused")
                .order_by(audit_log.c.seq.desc()).limit(1)).scalar_one()
        expected = {Permission.ISSUE_NOTICES: "notice.issue", Permission.REPORT_NOTICES: "notice.report"}[permission]
        assert action == (expected if Permission.VIEW_MAP in may else "map.view"), (role, permission)
    # Without the form's CSRF token nothing is taken, whoever asks.
    chief, _, _ = signed_in(app, Role.CHIEF)
    before = state(app)
    assert chief.post(URL.NOTICES, data={"station": "PS-01", "standard": "x", "measures": "y",
                                         "deadline": deadline_in(2)}).status_code == 403
    assert state(app) == before
