"""Security over real HTTP and Socket.IO: sign-in, roles, forged callbacks, CSRF, sessions, audit.

Dash callbacks are plain HTTP endpoints, so every test here forges the POST a
browser would make, from a client signed in (or not) as each role, and checks
the answer, the system of record and the audit log.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import threading
from datetime import timedelta
from typing import Any

import pytest
import redis
import requests
import socketio
from flask.testing import FlaskClient
from sqlalchemy import func, select, text
from time_machine import TimeMachineFixture

import clock
from app import PinganApp, create_app
from auth.roles import ROLE_PERMISSIONS, Permission, Role
from bus import keys
from i18n import CATALOGUE
from layouts.ids import ID, AlertID, DispatchID, RiskID
from risk.rules import Finding
from settings import PROJECT_ROOT, Settings
from store.audit import AuditLog
from store.db import (
    alert_verifications,
    audit_log,
    incidents,
    instructions,
    leads,
    notifications,
    outbox,
    risk_runs,
    sensor_events,
)
from testkit.accounts import PASSWORD, make_user, sign_in_client
from testkit.dash_requests import callback_request
from testkit.entries import SEAT, incident
from testkit.live_client import LiveClient, sign_in
from testkit.servers import LiveServer
from testkit.waiting import wait_until
from urls import MAP_DATA

SEAT_GRID = "SC-048"


# -- building forged callback requests from Dash's own dependency list ------------

def seed(app: PinganApp, r: redis.Redis) -> str:
    """An incident at the district seat, two available units, one open instruction; returns its id."""
    for unit_id in ("PU-1", "PU-2"):
        r.hset(keys.UNIT_STATE, unit_id, json.dumps({"unit_id": unit_id, "lon": SEAT[0], "lat": SEAT[1],
                                                      "status": "available", "observed_at": 0}))
    now = clock.now()
    with app.engine.begin() as conn:
        for event_id in ("E-1", "E-2"):
            conn.execute(incidents.insert().values(
                event_id=event_id, stream_id="1-0", reported_at=now, ingested_at=now, lon=SEAT[0], lat=SEAT[1],
                grid=SEAT_GRID, category="noise", priority=2, address="开发路12号", description="",
                caller="13812345678", source="110"))
        conn.execute(sensor_events.insert().values(
            event_id="AL-1", stream_id="2-0", device_id="SMK-01-1-01", observed_at=now, ingested_at=now,
            kind="alert", scenario="smoke", value=0.3, floor=1, grid=app.devices.get("SMK-01-1-01").grid))  # type: ignore[union-attr]
    # An open lead in another station's grid (so no station officer of the seat's station may handle it).
    app.risk.leads.create([Finding("fight_escalation", "SC-800", "high", "seed-lead", ("E-1",), {"count": 2,
                                                                                                "days": 7})])
    return app.dispatch.send("E-2", ["PU-2"], "前往", "seed-officer", "seed-key").instruction_ids[0]


def state_of(app: PinganApp, r: redis.Redis) -> dict[str, Any]:
    """Everything a state-changing callback could change."""
    with app.engine.connect() as conn:
        return {
            "instructions": conn.execute(select(instructions.c.instruction_id, instructions.c.state)
                                         .order_by(instructions.c.instruction_id)).all(),
            "incidents": conn.execute(select(incidents.c.event_id, incidents.c.status)
                                      .order_by(incidents.c.event_id)).all(),
            "outbox": conn.execute(select(func.count()).select_from(outbox)).scalar_one(),
            "verdicts": conn.execute(select(func.count()).select_from(alert_verifications)).scalar_one(),
            "notifications": conn.execute(select(func.count()).select_from(notifications)).scalar_one(),
            "field": r.xlen(keys.OUT_INSTRUCTIONS),
            "hotline": r.xlen(keys.OUT_HOTLINE),
            "leads": conn.execute(select(leads.c.lead_id, leads.c.state).order_by(leads.c.lead_id)).all(),
            "risk_runs": conn.execute(select(func.count()).select_from(risk_runs)).scalar_one(),
        }


def refusals(app: PinganApp, actor: str) -> list[str]:
    with app.engine.connect() as conn:
        return list(conn.execute(select(audit_log.c.action).where(
            audit_log.c.actor == actor, audit_log.c.outcome == "refused")).scalars())


STATE_CHANGING = ("dispatch.send", "dispatch.divert", "dispatch.act", "alert.verify", "lead.handle", "risk.run")
ACTING = {Permission.DISPATCH, Permission.VERIFY_ALERTS, Permission.HANDLE_LEADS, Permission.RUN_RISK}


def state_changing_requests(dependencies: list[dict], open_instruction: str,
                            lead_id: str = "LD-none") -> dict[str, dict[str, Any]]:
    """One forged request per state-changing callback, keyed by the guard's audit action."""
    send_states = {(DispatchID.INCIDENT.value, "data"): "E-1", (DispatchID.UNITS.value, "value"): ["PU-1"],
                   (DispatchID.TEXT.value, "value"): "立即前往", (DispatchID.KEY.value, "data"): "forged-key"}
    incident_state = {(DispatchID.INCIDENT.value, "data"): "E-1"}
    return {
        "dispatch.send": callback_request(dependencies, (DispatchID.SEND, "n_clicks"), 1, send_states),
        "dispatch.divert": callback_request(dependencies, (DispatchID.DIVERT, "n_clicks"), 1, incident_state),
        "dispatch.act": callback_request(dependencies, (DispatchID.ACTION, "data"),
                                         {"instruction_id": open_instruction, "action": "cancel"}),
        "alert.verify": callback_request(dependencies, (AlertID.ACTION, "data"),
                                         {"event_id": "AL-1", "verdict": "dispatched"}),
        "lead.handle": callback_request(dependencies, (RiskID.ACTION, "data"),
                                        {"lead_id": lead_id, "action": "useful", "result": "x"}),
        "risk.run": callback_request(dependencies, (RiskID.RUN, "n_clicks"), 1),
    }


@pytest.fixture
def app(settings: Settings) -> PinganApp:
    return create_app(settings)


def signed_in(app: PinganApp, role: str, station: str | None = None) -> tuple[FlaskClient, dict[str, str], str]:
    client = app.server.test_client()
    username = make_user(app, role, station=station)
    return client, sign_in_client(client, username), username


# -- every server callback is guarded, and the state-changing ones are all tested ----

def test_sec001_every_server_callback_is_guarded(app: PinganApp) -> None:
    server_callbacks = [v["callback"] for v in app.dash.callback_map.values() if v.get("callback")]
    assert server_callbacks
    assert all(isinstance(getattr(f, "permission", None), Permission) for f in server_callbacks)
    # A new state-changing callback must join the forged-request matrix below.
    acting = {f.action for f in server_callbacks if f.permission in ACTING}
    assert acting == set(STATE_CHANGING)
    # The big screen only watches: none of its callbacks reaches the server.
    assert not [v for v in app.screen.callback_map.values() if v.get("callback")]
    # The phone's one server callback takes a grid worker's step (its forged requests: tests/test_phone.py).
    phone = [v["callback"] for v in app.phone.callback_map.values() if v.get("callback")]
    assert [(f.permission, f.action) for f in phone] == [(Permission.TAKE_TASK_STEPS, "task.step")]
    # So is the one route that takes something from a phone, a photo (its forged requests: tests/test_media.py).
    upload = app.server.view_functions["media._upload"]
    assert (upload.permission, upload.action) == (Permission.TAKE_TASK_STEPS, "task.photo")
    # The return-visit desk's routes that change something (their forged requests: tests/test_revisit_desk.py).
    desk = {name: app.server.view_functions[f"revisits.{name}"] for name in ("_call", "_add", "_draw")}
    assert {(f.permission, f.action) for f in desk.values()} == {
        (Permission.CALL_REVISITS, "revisit.call"), (Permission.ADD_REVISITS, "revisit.add"),
        (Permission.DRAW_REVISITS, "revisit.draw")}
    # Supervision's one route that changes something (its forged requests: tests/test_supervision_desk.py).
    respond = app.server.view_functions["supervision._respond"]
    assert (respond.permission, respond.action) == (Permission.RESPOND_SUPERVISION, "supervision.respond")
    # And the rectification notices' (tests/test_notices_desk.py).
    notices = {name: app.server.view_functions[f"notices.{name}"] for name in ("_issue", "_report")}
    assert {(f.permission, f.action) for f in notices.values()} == {
        (Permission.ISSUE_NOTICES, "notice.issue"), (Permission.REPORT_NOTICES, "notice.report")}
    # And the mediation centre's, an act per route (tests/test_mediation_desk.py); the public application form is
    # the one POST without a session (its own CSRF token, size and rate limits: test_mdd004).
    mediation = {name: app.server.view_functions[f"mediation.{name}"] for name in (
        "_open", "_parties_in_full", "_triage", "_assign", "_party", "_contact", "_session", "_fulfilment", "_visit",
        "_reclassify", "_send_back", "_withdraw")}
    assert {(name, f.permission) for name, f in mediation.items()} == {
        ("_open", Permission.OPEN_MEDIATION), ("_parties_in_full", Permission.VIEW_PARTY_NUMBERS),
        ("_triage", Permission.OPEN_MEDIATION), ("_assign", Permission.ASSIGN_MEDIATORS),
        *((name, Permission.MEDIATE) for name in ("_party", "_contact", "_session", "_fulfilment", "_visit",
                                                  "_reclassify", "_send_back", "_withdraw"))}
    # The core task list's one route that changes something: ticking one's own duty (tests/test_duties.py).
    tick = app.server.view_functions["duties._tick"]
    assert (tick.permission, tick.action) == (Permission.TICK_DUTIES, "duty.tick")
    # Live video's signalling relay: every request checked per viewer and camera (tests/test_video.py, video009).
    relay = {name: app.server.view_functions[f"video.{name}"] for name in ("_create", "_session", "_camera", "_near")}
    assert {f.permission for f in relay.values()} == {Permission.WATCH_CAMERAS}
    # Every POST route of the server is one of those above (or the sign-in, admin and push protocol's own).
    posts = {rule.endpoint for rule in app.server.url_map.iter_rules() if "POST" in (rule.methods or ())}
    assert {e for e in posts if e.startswith(("revisits.", "supervision.", "notices.", "mediation.", "video.",
                                              "duties."))} == {
        "revisits._call", "revisits._add", "revisits._draw", "supervision._respond", "notices._issue",
        "notices._report", "mediation._apply", *(f"mediation.{name}" for name in mediation), "video._create",
        "video._session", "duties._tick"}


@pytest.mark.parametrize("role", [Role.STATION_OFFICER, Role.CHIEF, Role.SCREEN, Role.ADMIN, Role.GRID_WORKER,
                                  Role.VOLUNTEER, Role.REVISIT_CLERK, Role.STATION_CHIEF])
def test_sec002_forged_state_changing_callbacks_are_refused_and_audited(
    app: PinganApp, r: redis.Redis, role: Role
) -> None:
    open_instruction = seed(app, r)
    client, headers, username = signed_in(app, role)
    dependencies = client.get("/_dash-dependencies").get_json() if Permission.VIEW_MAP in ROLE_PERMISSIONS[role] \
        else _dependencies_as_duty_officer(app)
    needs = {f.action: f.permission for v in app.dash.callback_map.values() if (f := v.get("callback"))}
    refused = 0
    lead_id = app.risk.leads.open_leads()[0]["lead_id"]
    for action, body in state_changing_requests(dependencies, open_instruction, lead_id).items():
        if ROLE_PERMISSIONS[role] >= {needs[action]}:
            continue  # this role may act (a station officer's leads, a chief's risk run): tested elsewhere
        refused += 1
        before = state_of(app, r)
        response = client.post("/_dash-update-component", json=body, headers=headers)
        assert response.status_code == 403, (role, action)
        assert state_of(app, r) == before, (role, action)
        # A role without the map is stopped at the door, before any callback runs.
        audited = action if ROLE_PERMISSIONS[role] >= {Permission.VIEW_MAP} else "map.view"
        assert refusals(app, username)[-1] == audited, (role, action)
    assert refused >= 4


def test_sec019_a_station_officer_handles_only_their_own_stations_leads(app: PinganApp, r: redis.Redis) -> None:
    seed(app, r)
    [lead] = app.risk.leads.open_leads()
    own = app.grids.get(lead["grid"]).station  # type: ignore[union-attr]
    other = next(code for code, _ in app.grids.stations("en") if code != own)
    for station, allowed in ((other, False), (own, True)):
        client, headers, _ = signed_in(app, Role.STATION_OFFICER, station=station)
        body = callback_request(client.get("/_dash-dependencies").get_json(), (RiskID.ACTION, "data"),
                                {"lead_id": lead["lead_id"], "action": "useful", "result": "已走访"})
        reply = json.dumps(client.post("/_dash-update-component", json=body, headers=headers).get_json(),
                           ensure_ascii=False)
        assert ("已记录处置结果" in reply) is allowed
        assert (app.risk.leads.get(lead["lead_id"])["state"] == "handled") is allowed  # type: ignore[index]


def _dependencies_as_duty_officer(app: PinganApp) -> list[dict]:
    client, _, _ = signed_in(app, Role.DUTY_OFFICER)
    return client.get("/_dash-dependencies").get_json()


def test_sec003_the_duty_officer_may_act_and_every_act_is_audited(app: PinganApp, r: redis.Redis) -> None:
    """The positive control of the matrix: the same forged-shape requests work for the right role."""
    open_instruction = seed(app, r)
    client, headers, username = signed_in(app, Role.DUTY_OFFICER)
    requests_ = state_changing_requests(client.get("/_dash-dependencies").get_json(), open_instruction)
    for action in ("dispatch.send", "dispatch.act", "alert.verify"):
        before = state_of(app, r)
        response = client.post("/_dash-update-component", json=requests_[action], headers=headers)
        assert response.status_code == 200, action
        assert state_of(app, r) != before, action
    with app.engine.connect() as conn:
        acts = conn.execute(select(audit_log.c.action, audit_log.c.target).where(audit_log.c.actor == username)
                            .order_by(audit_log.c.seq)).all()
    actions = [a for a, _ in acts]
    assert actions[0] == "login"
    assert "instruction.issued" in actions and "instruction.cancelled" in actions and "alert.dispatched" in actions
    assert (("instruction.cancelled", open_instruction)) in acts


def test_sec004_anonymous_clients_get_nothing(app: PinganApp, r: redis.Redis) -> None:
    seed(app, r)
    client = app.server.test_client()
    for path in ["/", "/_dash-layout", "/_dash-dependencies", *MAP_DATA, "/admin", "/audit", "/audit.csv"]:
        response = client.get(path)
        assert response.status_code in {302, 401}, path
        if response.status_code == 302:
            assert response.headers["Location"].startswith("/login"), path
        assert b"SC-" not in response.data and "开发路".encode() not in response.data, path
    for path in ["/_dash-update-component", "/live/subscribe", "/live/ack", "/logout", "/admin/users"]:
        assert client.post(path, json={}).status_code in {302, 401}, path
    dependencies = _dependencies_as_duty_officer(app)
    body = state_changing_requests(dependencies, "INS-x")["dispatch.send"]
    before = state_of(app, r)
    assert client.post("/_dash-update-component", json=body).status_code == 401
    assert state_of(app, r) == before


def test_sec005_anonymous_socket_is_refused(live_server: LiveServer) -> None:
    anonymous = socketio.Client(reconnection=False)
    with pytest.raises(socketio.exceptions.ConnectionError):
        anonymous.connect(live_server.url, transports=["websocket"], wait_timeout=5)
    assert "socket.connect" in refusals(live_server.app, "anonymous")


def test_sec006_state_changing_requests_need_the_csrf_token(app: PinganApp, r: redis.Redis) -> None:
    seed(app, r)
    client, headers, username = signed_in(app, Role.DUTY_OFFICER)
    body = state_changing_requests(client.get("/_dash-dependencies").get_json(), "INS-x")["dispatch.send"]
    before = state_of(app, r)
    for forged in ({}, {"X-CSRFToken": "not-the-token"}, {"X-CSRFToken": headers["X-CSRFToken"][:-1] + "x"}):
        response = client.post("/_dash-update-component", json=body, headers=forged)
        assert response.status_code == 403
    assert state_of(app, r) == before
    assert refusals(app, username).count("csrf") == 3
    # The sign-in form has its own token: a cross-site form post cannot sign anyone in.
    fresh = app.server.test_client()
    response = fresh.post("/login", data={"username": username, "password": PASSWORD, "csrf": "guess"})
    assert response.status_code == 400


def test_sec007_lockout_after_five_failures_for_ten_minutes(app: PinganApp) -> None:
    username = make_user(app, Role.DUTY_OFFICER)
    now = clock.now()
    app.security.users.clock = lambda: now
    client = app.server.test_client()
    for _ in range(5):
        page = client.get("/login").get_data(as_text=True)
        form = {"csrf": _form_token(page), "username": username, "password": "wrong-password"}
        assert client.post("/login", data=form).status_code == 200  # the form again, with a message
    page = client.get("/login").get_data(as_text=True)
    response = client.post("/login", data={"csrf": _form_token(page), "username": username, "password": PASSWORD})
    assert response.status_code == 200 and "锁定" in response.get_data(as_text=True)
    with app.engine.connect() as conn:
        actions = list(conn.execute(select(audit_log.c.action, audit_log.c.outcome)
                                    .where(audit_log.c.actor == username).order_by(audit_log.c.seq)))
    assert ("user.lockout", "ok") in actions and actions[-1] == ("login", "refused")
    app.security.users.clock = lambda: now + timedelta(minutes=10, seconds=1)
    sign_in_client(client, username)  # asserts the redirect into the app


def test_sec008_sign_in_is_rate_limited_per_address(app: PinganApp) -> None:
    minute = clock.now().timestamp() // 60 * 60
    app.security.sessions.clock = lambda: minute + 1  # every attempt in one window, whatever the wall clock
    client = app.server.test_client()
    statuses = []
    for n in range(app.settings.login_per_minute + 1):
        page = client.get("/login").get_data(as_text=True)
        form = {"csrf": _form_token(page), "username": f"nobody-{n}", "password": "whatever-it-is"}
        statuses.append(client.post("/login", data=form).status_code)
    assert statuses[:-1] == [200] * app.settings.login_per_minute
    assert statuses[-1] == 429


def test_sec009_idle_lock_and_absolute_lifetime(app: PinganApp, time_machine: TimeMachineFixture) -> None:
    time_machine.move_to(clock.now(), tick=False)
    client, headers, username = signed_in(app, Role.DUTY_OFFICER)
    # Activity every 20 minutes keeps the session open ...
    for _ in range(3):
        time_machine.shift(20 * 60)
        assert client.post("/auth/touch", headers=headers).status_code == 204
    # ... 30 minutes without any locks it.
    time_machine.shift(30 * 60 + 1)
    response = client.get("/_dash-layout")
    assert response.status_code == 401 and response.get_json()["why"] == "idle"
    assert client.get("/").headers["Location"].startswith("/login")
    assert "session.idle" in [a for a, in _audit(app, username)]
    # A session kept busy still ends after its absolute lifetime.
    client, headers, username = signed_in(app, Role.DUTY_OFFICER)
    for _ in range(int(app.settings.session_hours * 60 / 20)):
        time_machine.shift(20 * 60)
        client.post("/auth/touch", headers=headers)
    time_machine.shift(20 * 60)
    response = client.get("/_dash-layout")
    assert response.status_code == 401 and response.get_json()["why"] == "expired"


def test_sec010_logout_cuts_the_socket_and_ends_the_session(live_server: LiveServer) -> None:
    username = make_user(live_server.app, Role.DUTY_OFFICER)
    http = sign_in(live_server.url, username, PASSWORD)
    client = LiveClient(live_server.url, http).connect()
    cut = threading.Event()
    client.sio.on("disconnect", lambda *_: cut.set())
    client.sio.reconnection = False
    assert http.post(f"{live_server.url}/logout", allow_redirects=False, timeout=10).status_code == 302
    assert cut.wait(10), "the socket was not cut"
    assert http.get(f"{live_server.url}/_dash-layout", timeout=10).status_code == 401
    again = LiveClient(live_server.url, http)
    with pytest.raises(socketio.exceptions.ConnectionError):
        again.sio.connect(live_server.url, transports=["websocket"], wait_timeout=5,
                          headers={"Cookie": "; ".join(f"{c.name}={c.value}" for c in http.cookies)})


def test_sec011_cookies_and_security_headers(settings: Settings) -> None:
    from dataclasses import replace

    for secure in (False, True):
        app = create_app(replace(settings, secure_cookies=secure))
        client = app.server.test_client()
        username = make_user(app, Role.DUTY_OFFICER)
        page = client.get("/login")
        response = client.post("/login", data={"csrf": _form_token(page.get_data(as_text=True)),
                                                "username": username, "password": PASSWORD})
        cookies = {c.split("=", 1)[0]: c for c in response.headers.getlist("Set-Cookie")}
        session_cookie, csrf_cookie = cookies["pingan_session"], cookies["_csrf_token"]
        assert "HttpOnly" in session_cookie and "SameSite=Strict" in session_cookie
        assert "HttpOnly" not in csrf_cookie and "SameSite=Strict" in csrf_cookie  # the renderer reads it
        assert ("Secure" in session_cookie) is secure and ("Secure" in csrf_cookie) is secure
        headers = client.get("/").headers
        policy = headers["Content-Security-Policy"]
        assert "script-src 'self' 'sha256-" in policy and "unsafe-eval" not in policy
        assert "frame-ancestors 'none'" in policy and "object-src 'none'" in policy
        assert headers["X-Content-Type-Options"] == "nosniff" and headers["X-Frame-Options"] == "DENY"
        assert ("Strict-Transport-Security" in headers) is secure
        app.stop()


def test_sec012_personal_data_is_shown_by_role(app: PinganApp, r: redis.Redis) -> None:
    seed(app, r)
    station = app.grids.get(SEAT_GRID).station  # type: ignore[union-attr]
    other = next(code for code, _ in app.grids.stations("en") if code != station)
    expected = {Role.DUTY_OFFICER: "13812345678", Role.CHIEF: "138******78"}
    for role, caller in expected.items():
        client, headers, _ = signed_in(app, role)
        body = callback_request(client.get("/_dash-dependencies").get_json(), (DispatchID.INCIDENT, "data"), "E-1")
        panel = json.dumps(client.post("/_dash-update-component", json=body, headers=headers).get_json(),
                           ensure_ascii=False)
        assert caller in panel, role
        # Chiefs get no send button: the panel says it is read-only, and their page has none.
        read_only = CATALOGUE[app.settings.language]["dispatch.read_only"]
        assert (read_only in panel) is (role is not Role.DUTY_OFFICER), role
        layout = json.dumps(client.get("/_dash-layout", headers=headers).get_json())
        assert (f'"id": "{DispatchID.SEND.value}"' in layout) is (role is Role.DUTY_OFFICER), role
    # A station officer sees their own station's incidents, not another's.
    for own, visible in ((station, True), (other, False)):
        client, headers, _ = signed_in(app, Role.STATION_OFFICER, station=own)
        body = callback_request(client.get("/_dash-dependencies").get_json(), (DispatchID.INCIDENT, "data"), "E-1")
        panel = json.dumps(client.post("/_dash-update-component", json=body, headers=headers).get_json(),
                           ensure_ascii=False)
        assert ("13812345678" in panel) is visible


def test_sec013_live_events_are_seen_through_the_role(live_server: LiveServer, r: redis.Redis) -> None:
    app = live_server.app
    station = app.grids.get(SEAT_GRID).station  # type: ignore[union-attr]
    other = next(code for code, _ in app.grids.stations("en") if code != station)
    token_id, token = app.security.users.issue_kiosk_token("wall", "test")
    screen_http = requests.Session()
    assert screen_http.get(f"{live_server.url}/kiosk/{token}", allow_redirects=False, timeout=10).status_code == 302
    watchers = {
        "duty": LiveClient(live_server.url, sign_in(live_server.url, make_user(app, Role.DUTY_OFFICER), PASSWORD)),
        "own-station": LiveClient(live_server.url, sign_in(
            live_server.url, make_user(app, Role.STATION_OFFICER, station=station), PASSWORD)),
        "other-station": LiveClient(live_server.url, sign_in(
            live_server.url, make_user(app, Role.STATION_OFFICER, station=other), PASSWORD)),
        "screen": LiveClient(live_server.url, screen_http),
    }
    for watcher in watchers.values():
        watcher.connect()
        wait_until(lambda w=watcher: w.snapshots == 1, what="the snapshot")  # type: ignore[misc]
    try:
        r.xadd(keys.INCIDENTS, incident("LENS-1", lon=f"{SEAT[0]:.6f}", lat=f"{SEAT[1]:.6f}"))
        r.xadd(keys.INCIDENTS, incident("LENS-2"))  # both at the seat: a marker that the stream moved on
        for name in ("duty", "own-station", "screen"):
            got = watchers[name].wait_for(2)
            assert [e["data"]["event_id"] for e in got] == ["LENS-1", "LENS-2"], name
        assert watchers["duty"].events[0]["data"]["caller"] == "138******78"
        assert "caller" not in watchers["screen"].events[0]["data"]
        # The other station's officer got the same batches (acknowledged, in sequence), but no incident.
        wait_until(lambda: watchers["other-station"].last_id == watchers["duty"].last_id, what="the batches")
        assert watchers["other-station"].events == []
        # Revoking the screen's token ends its session and cuts its socket.
        cut = threading.Event()
        watchers["screen"].sio.on("disconnect", lambda *_: cut.set())
        watchers["screen"].sio.reconnection = False
        app.security.users.revoke_kiosk_token(token_id, "test")
        app.security.sessions.end_all(kiosk_id=token_id)
        assert cut.wait(10)
    finally:
        for watcher in watchers.values():
            watcher.close()


def test_sec014_admin_manages_users_in_the_ui(app: PinganApp) -> None:
    password = app.security.users.ensure_admin()
    assert password and app.security.users.ensure_admin() is None  # created once
    admin = app.server.test_client()
    headers = sign_in_client(admin, "admin", password)
    assert admin.get("/").headers["Location"] == "/admin"  # no map for the administrator
    page = admin.post("/admin/users", data={"username": "wang", "role": "duty_officer", "csrf":
                                            headers["X-CSRFToken"]}).get_data(as_text=True)
    shown = re.search(r'<code id="admin-secret">([^<]+)</code>', page)
    assert shown, page[:500]
    officer = app.server.test_client()
    officer_headers = sign_in_client(officer, "wang", shown.group(1))
    assert officer.post("/auth/touch", headers=officer_headers).status_code == 204
    # Disabling the account ends the officer's session at once.
    admin.post("/admin/users/wang/disable", data={"csrf": headers["X-CSRFToken"]})
    assert officer.post("/auth/touch", headers=officer_headers).status_code == 401
    # The officer cannot use the administrator's forms.
    other, other_headers, other_name = signed_in(app, Role.DUTY_OFFICER)
    response = other.post("/admin/users", data={"username": "mallory", "role": "admin",
                                                 "csrf": other_headers["X-CSRFToken"]})
    assert response.status_code == 403 and app.security.users.get("mallory") is None
    assert "user.create" in refusals(app, other_name)
    actions = [a for a, in _audit(app, "admin")]
    assert "user.create" in actions and "user.disable" in actions


def test_sec015_audit_chain_detects_tampering(engine) -> None:  # type: ignore[no-untyped-def]
    log = AuditLog(engine)
    for n in range(20):
        log.append(f"officer-{n % 3}", "instruction.issued", target=f"INS-{n}", detail="前往 <b>x</b>")
    assert log.verify().intact and log.verify().records == 20
    # The database refuses changes to past records ...
    with pytest.raises(Exception, match="append-only"), engine.begin() as conn:
        conn.execute(text("UPDATE audit_log SET detail = 'nothing happened' WHERE seq = 7"))
    assert log.verify().intact
    # ... and someone who drops the trigger to edit one is still caught.
    with engine.begin() as conn:
        if engine.dialect.name == "sqlite":
            conn.execute(text("DROP TRIGGER audit_log_no_update"))
            conn.execute(text("DROP TRIGGER audit_log_no_delete"))
        else:
            conn.execute(text("DROP TRIGGER audit_log_append_only ON audit_log"))
        conn.execute(text("UPDATE audit_log SET detail = 'nothing happened' WHERE seq = 7"))
    check = log.verify()
    assert not check.intact and check.first_broken == 7
    exported = "".join(log.export_csv())
    assert exported.count("\n") == 21 and "nothing happened" in exported


def test_sec016_removing_the_newest_records_is_detected(engine) -> None:  # type: ignore[no-untyped-def]
    log = AuditLog(engine)
    for n in range(5):
        log.append("officer", "login", target=str(n))
    with engine.begin() as conn:
        if engine.dialect.name == "sqlite":
            conn.execute(text("DROP TRIGGER audit_log_no_delete"))
        else:
            conn.execute(text("DROP TRIGGER audit_log_append_only ON audit_log"))
        conn.execute(text("DELETE FROM audit_log WHERE seq = 5"))
    assert log.verify().first_broken == 5


def test_sec017_command_line_manages_accounts_and_verifies_the_log(settings: Settings, tmp_path) -> None:  # type: ignore[no-untyped-def]
    env = {"VAR_DIR": str(settings.var_dir), "PATH": "/usr/bin:/bin"}

    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "auth", *args], cwd=PROJECT_ROOT, env=env,
                              capture_output=True, text=True, timeout=60)

    added = cli("add", "zhao", "--role", "chief")
    assert added.returncode == 0 and len(added.stdout.strip()) >= 12  # the random first password
    assert cli("add", "zhao", "--role", "chief").returncode == 2  # exists
    assert cli("add", "li", "--role", "station_officer").returncode == 2  # needs a station
    assert "zhao" in cli("list").stdout
    assert cli("verify-audit").returncode == 0


def _form_token(page: str) -> str:
    match = re.search(r'name="csrf" value="([^"]+)"', page)
    assert match
    return match.group(1)


def _audit(app: PinganApp, actor: str) -> list[tuple[str]]:
    with app.engine.connect() as conn:
        return [tuple(row) for row in conn.execute(select(audit_log.c.action).where(audit_log.c.actor == actor)
                                                   .order_by(audit_log.c.seq))]


def test_sec018_details_panel_is_guarded_by_view_permission(app: PinganApp) -> None:
    """The administrator has no map: even the read-only grid callback refuses them."""
    password = app.security.users.ensure_admin()
    client = app.server.test_client()
    headers = sign_in_client(client, "admin", password or "")
    body = callback_request(_dependencies_as_duty_officer(app), (ID.GRID_LAYER, "clickData"),
                            {"properties": {"code": "SC-001"}})
    assert client.post("/_dash-update-component", json=body, headers=headers).status_code == 403
    assert refusals(app, "admin") == ["map.view"]
