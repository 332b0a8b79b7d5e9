"""Grid workers as people in the system: accounts bound to grids, a phone page that shows and moves only
their own grids' tasks, and every other role kept out of it."""

from __future__ import annotations

import json
from typing import Any

import pytest
import redis
from sqlalchemy import select

from app import PinganApp, create_app
from auth.roles import Role
from auth.users import UserError, UserStore
from bus import keys
from layouts.ids import PhoneID
from settings import Settings
from store.audit import AuditLog
from store.db import audit_log, grid_tasks
from testkit.accounts import PASSWORD, make_user, sign_in_client
from testkit.dash_requests import callback_request
from testkit.entries import incident
from testkit.live_client import LiveClient, sign_in
from testkit.photos import jpeg
from testkit.servers import LiveServer
from testkit.tasks import task_in
from testkit.waiting import wait_until
from urls import URL

OWN, OTHER = "SC-021", "SC-022"


@pytest.fixture
def app(settings: Settings) -> PinganApp:
    return create_app(settings)


def step_request(client: Any, action: dict[str, Any]) -> dict[str, Any]:
    dependencies = client.get(f"{URL.PHONE}_dash-dependencies").get_json()
    return callback_request(dependencies, (PhoneID.ACTION, "data"), action)


def state_of(app: PinganApp, task_id: str) -> str:
    with app.engine.connect() as conn:
        return str(conn.execute(select(grid_tasks.c.state).where(grid_tasks.c.task_id == task_id)).scalar_one())


def test_phone001_a_grid_worker_is_bound_to_known_grids(engine) -> None:  # type: ignore[no-untyped-def]
    users = UserStore(engine, known_grids=frozenset({OWN, OTHER}))
    with pytest.raises(UserError, match="at least one grid"):
        users.create("chen", PASSWORD, Role.GRID_WORKER)
    with pytest.raises(UserError, match="unknown grid"):
        users.create("chen", PASSWORD, Role.GRID_WORKER, grids=["SC-999"])
    with pytest.raises(UserError, match="unknown grid"):
        users.create("chen", PASSWORD, Role.GRID_WORKER, grids=["<b>"])
    users.create("chen", PASSWORD, Role.GRID_WORKER, grids=[" sc-022", OWN, OWN])
    assert users.grids_of("chen") == [OWN, OTHER] and users.workers_of(OWN) == ["chen"]
    users.set_role("chen", Role.GRID_WORKER, by="admin", grids=[OTHER])
    assert users.grids_of("chen") == [OTHER]
    users.set_role("chen", Role.DUTY_OFFICER, by="admin", grids=[OTHER])  # other roles work no grid
    assert users.grids_of("chen") == []
    details = [r["detail"] for r in AuditLog(engine).records(action="user.role")]
    assert details[0].endswith("grids=") and details[1].endswith("grids=SC-022")  # newest first


def test_phone002_the_grid_worker_signs_in_to_the_phone_page_and_nowhere_else(app: PinganApp) -> None:
    client = app.server.test_client()
    sign_in_client(client, make_user(app, Role.GRID_WORKER))
    assert client.get("/").headers["Location"] == "/m/"
    phone = client.get("/m/")
    assert phone.status_code == 200 and b"width=device-width" in phone.data
    assert b"grids.geojson" not in phone.data  # no map geometry over a mobile network
    for hall in ("/_dash-layout", "/screen/", "/reports", "/sensors", "/admin", "/geo/grids.geojson"):
        assert client.get(hall).status_code in {403, 302}, hall
    assert json.dumps(client.get("/m/_dash-layout").get_json()).count(f'"id": "{PhoneID.LIST.value}"') == 1
    # The hall's roles are sent to the hall (the step callback refuses them anyway: test_phone003).
    officer = app.server.test_client()
    sign_in_client(officer, make_user(app, Role.DUTY_OFFICER))
    assert officer.get("/m/").headers["Location"] == "/"
    app.stop()


@pytest.mark.parametrize("role", [Role.DUTY_OFFICER, Role.STATION_OFFICER, Role.CHIEF, Role.SCREEN, Role.ADMIN])
def test_phone003_no_other_role_can_take_a_grid_workers_step(app: PinganApp, role: Role) -> None:
    task_id = task_in(app, OWN, "FORGE-1")
    client = app.server.test_client()
    username = make_user(app, role)
    headers = sign_in_client(client, username)
    worker = app.server.test_client()
    sign_in_client(worker, make_user(app, Role.GRID_WORKER))
    body = step_request(worker, {"task_id": task_id, "action": "accept"})  # the shape a real phone sends
    response = client.post("/m/_dash-update-component", json=body, headers=headers)
    assert response.status_code == 403
    assert state_of(app, task_id) == "assigned"
    with app.engine.connect() as conn:
        refused = conn.execute(select(audit_log.c.action).where(
            audit_log.c.actor == username, audit_log.c.outcome == "refused")).scalars().all()
    assert refused[-1] == ("task.step" if role is not Role.ADMIN else "map.view")
    app.stop()


def test_phone004_a_grid_worker_moves_only_their_own_grids_tasks(app: PinganApp) -> None:
    own, other = task_in(app, OWN, "MINE-1"), task_in(app, OTHER, "THEIRS-1")
    client = app.server.test_client()
    username = make_user(app, Role.GRID_WORKER)
    headers = sign_in_client(client, username)

    def step(action: dict[str, Any]) -> str:
        reply = client.post("/m/_dash-update-component", json=step_request(client, action), headers=headers)
        assert reply.status_code == 200
        return str(reply.get_json()["response"][PhoneID.MESSAGE]["children"])

    assert "不在您的网格" in step({"task_id": other, "action": "accept"})
    assert state_of(app, other) == "assigned"
    assert AuditLog(app.engine).records(actor=username, action="task.step")[0]["outcome"] == "refused"
    assert "已接收" in step({"task_id": own, "action": "accept"})
    assert "已到场" in step({"task_id": own, "action": "arrive", "lon": "112.43", "lat": "39.33"})
    assert "请填写处置情况" in step({"task_id": own, "action": "report", "outcome": "resolved", "note": "  "})
    assert "现场照片" in step({"task_id": own, "action": "report", "outcome": "resolved", "note": "已处理"})
    sent = client.post(f"/m/tasks/{own}/photos", data=jpeg("现场"), headers={**headers, "Content-Type": "image/jpeg"})
    assert sent.status_code == 200 and len(sent.get_json()["photos"]) == 1
    assert "已反馈" in step({"task_id": own, "action": "report", "outcome": "<script>", "note": "已处理"})
    with app.engine.connect() as conn:
        row = conn.execute(select(grid_tasks).where(grid_tasks.c.task_id == own)).mappings().one()
    assert (row["state"], row["outcome"], row["note"]) == ("reported", "resolved", "已处理")  # unknown outcome: none
    assert row["on_scene_distance_m"] == pytest.approx(0, abs=1)
    assert "已结束" in step({"task_id": own, "action": "give_back", "note": "晚了"})
    app.stop()


def test_phone005_the_phone_follows_its_own_grids_tasks_and_nothing_else(
    live_server: LiveServer, r: redis.Redis
) -> None:
    app = live_server.app
    before = task_in(app, OWN, "SNAP-OWN")
    task_in(app, OTHER, "SNAP-OTHER")
    r.xadd(keys.INCIDENTS, incident("PHONE-INC"))  # the hall's picture: never on the phone
    phone = LiveClient(live_server.url, sign_in(live_server.url, make_user(app, Role.GRID_WORKER), PASSWORD))
    hall = LiveClient(live_server.url, sign_in(live_server.url, make_user(app, Role.DUTY_OFFICER), PASSWORD))
    try:
        for client in (phone, hall):
            client.connect()
            wait_until(lambda c=client: c.snapshots == 1, what="the snapshot")  # type: ignore[misc]
        snapshot = phone.last_snapshot
        assert [t["task_id"] for t in snapshot["grid_tasks"]] == [before]
        assert snapshot["incidents"] == [] and snapshot["units"] == [] and snapshot["alerts"] == []
        for withheld in ("indicators", "risk_grades", "device_health", "counters"):
            assert snapshot.get(withheld) is None, withheld
        assert {t["ref"] for t in hall.last_snapshot["grid_tasks"]} == {"SNAP-OWN", "SNAP-OTHER"}

        late_own, late_other = task_in(app, OWN, "LIVE-OWN"), task_in(app, OTHER, "LIVE-OTHER")
        r.xadd(keys.INCIDENTS, incident("PHONE-INC-2"))
        hall.wait_for(2, kind="grid_task")
        app.tasks.accept(late_own, "test")
        [_, moved] = phone.wait_for(2, kind="grid_task")
        assert (moved["data"]["task_id"], moved["data"]["state"]) == (late_own, "accepted")
        wait_until(lambda: phone.last_id == hall.last_id, what="the same batches")
        assert {e["type"] for e in phone.events} == {"grid_task"}
        assert late_other not in {e["data"]["task_id"] for e in phone.events}
    finally:
        phone.close()
        hall.close()


def test_phone006_a_grid_worker_hands_a_task_to_a_volunteer_of_the_grid_who_then_takes_its_steps(
    live_server: LiveServer,
) -> None:
    """The "N" of 1+1+N: a volunteer gets only what their grid worker hands them, and the clocks stay the worker's."""
    app, base = live_server.app, live_server.url
    task_id, kept_back = task_in(app, OWN, "HAND-1"), task_in(app, OWN, "HAND-2")
    worker = make_user(app, Role.GRID_WORKER)
    helper, second = (make_user(app, Role.VOLUNTEER, grids=(OWN,), username=name) for name in ("vol-a", "vol-b"))
    elsewhere = make_user(app, Role.VOLUNTEER, grids=(OTHER,))
    assert app.security.users.workers_of(OWN, Role.VOLUNTEER) == [helper, second]
    worker_phone, helper_phone = sign_in(base, worker, PASSWORD), sign_in(base, helper, PASSWORD)
    assert helper_phone.get(f"{base}/", allow_redirects=False, timeout=10).headers["Location"] == "/m/"
    page = worker_phone.get(f"{base}/m/_dash-layout", timeout=10).text
    assert json.dumps({OWN: [helper, second]}).replace('"', '\\"') in page  # whom the worker can hand a task to

    def step(session: Any, action: dict[str, Any]) -> str:
        body = step_request_http(session, base, action)
        reply = session.post(f"{base}/m/_dash-update-component", json=body, timeout=10)
        assert reply.status_code == 200
        return str(reply.json()["response"][PhoneID.MESSAGE]["children"])

    live = LiveClient(base, helper_phone)
    try:
        live.connect()
        wait_until(lambda: live.snapshots == 1, what="the snapshot")
        assert live.last_snapshot["grid_tasks"] == []  # nothing is theirs until it is handed to them
        assert "不在您的网格" in step(helper_phone, {"task_id": task_id, "action": "accept"})
        assert "请选择本网格的志愿者" in step(worker_phone, {"task_id": task_id, "action": "hand",
                                                      "volunteer": elsewhere})
        assert "已交给志愿者" in step(worker_phone, {"task_id": task_id, "action": "hand", "volunteer": helper})
        [handed] = live.wait_for(1, kind="grid_task")
        assert (handed["data"]["task_id"], handed["data"]["volunteer"]) == (task_id, helper)
        assert "该任务已交给志愿者" in step(worker_phone, {"task_id": task_id, "action": "hand", "volunteer": second})
        assert "不在您的网格" in step(helper_phone, {"task_id": kept_back, "action": "hand", "volunteer": helper})
        assert "已到场" in step(helper_phone, {"task_id": task_id, "action": "arrive"})
        photo = helper_phone.post(f"{base}/m/tasks/{task_id}/photos", data=jpeg("楼道"),
                                  headers={"Content-Type": "image/jpeg"}, timeout=10)
        assert photo.status_code == 200
        assert helper_phone.get(f"{base}{photo.json()['thumbs'][0]}", timeout=10).status_code == 200
        assert "已反馈" in step(helper_phone, {"task_id": task_id, "action": "report", "note": "楼道杂物已清理"})
        assert kept_back not in {e["data"]["task_id"] for e in live.events}
    finally:
        live.close()
    task = app.tasks.get(task_id)
    assert task is not None and task["state"] == "reported"
    assert task["worker"] == app.grids.get(OWN).worker_zh  # type: ignore[union-attr]  # answerable: the worker
    assert [(e["actor"], e["action"]) for e in app.tasks.log_for(task_id)][1:] == [
        (worker, "handed"), (helper, "on_scene"), (helper, "photo"), (helper, "reported")]


def step_request_http(session: Any, base: str, action: dict[str, Any]) -> dict[str, Any]:
    dependencies = session.get(f"{base}{URL.PHONE}_dash-dependencies", timeout=10).json()
    return callback_request(dependencies, (PhoneID.ACTION, "data"), action)
