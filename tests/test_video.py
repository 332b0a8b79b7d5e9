"""Live video's domain: the time code, the camera registry, the gateway's configuration (a real Janus), the
simulated feeds (real ffmpeg), and the relay's rules per role with every view audited."""

from __future__ import annotations

import json
import os
import secrets
import shutil
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import redis
from sqlalchemy import Engine, select

from auth.roles import ROLE_PERMISSIONS, Permission, Role, Viewer
from bus import keys
from geo.devices import DeviceRegistry
from geo.index import GridIndex
from routes.video import watcher_of
from store.db import audit_log
from testkit.waiting import wait_until
from video import stamp
from video.cameras import CameraRegistry, distance_m, read_sources
from video.feeds import HEIGHT, WIDTH, FeedSupervisor, Frames
from video.gate import STREAMING_PLUGIN, Refusal, VideoGate, VideoRefused
from video.janus import EmbeddedJanus, GatewayConfig, answers, free_port, write_config

HAS_JANUS = shutil.which("janus") is not None and shutil.which("ffmpeg") is not None
needs_janus = pytest.mark.skipif(not HAS_JANUS, reason="Debian's janus and ffmpeg are not installed")


@pytest.fixture(scope="module")
def cameras() -> CameraRegistry:
    return CameraRegistry(DeviceRegistry())


# -- the time code -------------------------------------------------------------

@pytest.mark.unit
def test_video001_the_time_code_reads_back_and_a_damaged_one_is_refused() -> None:
    luma = np.full((HEIGHT, WIDTH), 100, dtype=np.uint8)
    for epoch_ms in (0, 1, 1_796_608_614_322, 2**40 - 1, 2**40 + 5):
        stamp.draw(luma, epoch_ms)
        assert stamp.read(luma) == epoch_ms % 2**40
    bits = stamp.bits_of(1_796_608_614_322)
    bits[3] ^= 1  # one block misread
    assert stamp.read_bits(bits) is None
    # A simulated camera's frame carries it, under its on-screen display.
    frame = Frames("CAM-001", seed=1).frame(7, 1_796_608_614_322)
    assert len(frame) == WIDTH * HEIGHT * 3 // 2  # yuv420p
    assert stamp.read(np.frombuffer(frame[: WIDTH * HEIGHT], dtype=np.uint8).reshape(HEIGHT, WIDTH)) == (
        1_796_608_614_322 % 2**40)


# -- the registry --------------------------------------------------------------

@pytest.mark.unit
def test_video002_every_camera_has_one_stream_and_near_is_nearest_first(cameras: CameraRegistry) -> None:
    devices = DeviceRegistry()
    with_picture = {d.device_id for d in devices.devices.values()
                    if d.type in {"camera", "behaviour", "throwing_camera"}}
    assert {c.device_id for c in cameras.all()} == with_picture
    assert len({c.mountpoint for c in cameras.all()}) == len(with_picture)
    assert len({c.rtp_port for c in cameras.all()}) == len(with_picture)
    for camera in cameras.all()[:20]:
        assert cameras.by_mountpoint(camera.mountpoint) == camera
    centre = cameras.all()[0]
    found = cameras.near(centre.lon, centre.lat, 300)
    assert found[0] == (centre, 0.0)
    distances = [d for _, d in found]
    assert distances == sorted(distances) and distances[-1] <= 300
    # Every camera within 300 m is listed, none beyond it.
    truth = sorted(distance_m(centre.lon, centre.lat, c.lon, c.lat) for c in cameras.all())
    assert len(found) == min(12, len([d for d in truth if d <= 300]))


@pytest.mark.unit
def test_video003_the_bureau_s_cameras_come_from_a_sources_file(tmp_path: Path) -> None:
    sources = tmp_path / "cameras.json"
    sources.write_text(json.dumps({"CAM-003": "rtsp://10.0.0.3/stream1", "BHV-001": "rtsp://10.0.0.9/main"}))
    registry = CameraRegistry(DeviceRegistry(), read_sources(sources))
    assert not registry.simulated
    assert {c.device_id for c in registry.all()} == {"CAM-003", "BHV-001"}
    assert registry.get("BHV-001").rtsp_url == "rtsp://10.0.0.9/main"  # type: ignore[union-attr]
    assert registry.get("CAM-004") is None  # not in the file: no stream
    sources.write_text(json.dumps({"CAM-003": "http://10.0.0.3/"}))
    with pytest.raises(ValueError, match="CAM-003 is not an rtsp:// address"):
        read_sources(sources)
    sources.write_text("[]")
    with pytest.raises(ValueError, match="must map device ids"):
        read_sources(sources)


# -- the gateway (a real Janus) --------------------------------------------------

@needs_janus
def test_video004_the_gateway_starts_from_the_registry_and_refuses_whoever_lacks_its_secret(
    tmp_path: Path, cameras: CameraRegistry
) -> None:
    secret = secrets.token_urlsafe(16)
    config = GatewayConfig(http_port=free_port(), api_secret=secret, ice_interfaces="lo")
    streaming = (write_config(tmp_path / "cfg", cameras.all(), config).parent / "janus.plugin.streaming.jcfg")
    text = streaming.read_text()
    # Each simulated camera keeps its last keyframe for a new viewer (the misspelt "buffer" key does nothing).
    assert text.count("bufferkf = true") == len(cameras)
    assert text.count('iface = "127.0.0.1"') == len(cameras)  # only this machine's feeds reach a mountpoint
    gateway = EmbeddedJanus(tmp_path, cameras.all(), config)
    try:
        url = gateway.start()
        assert answers(url, secret)
        # Only the relay holds the secret: whoever reaches the port without it cannot make a session.
        request = urllib.request.Request(url, data=json.dumps({"janus": "create", "transaction": "x"}).encode(),
                                         headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=5) as reply:
            assert json.loads(reply.read())["janus"] == "error"
        info = json.loads(urllib.request.urlopen(f"{url}/info?apisecret={secret}", timeout=5).read())
        assert list(info["plugins"]) == [STREAMING_PLUGIN]
        assert set(info["transports"]) == {"janus.transport.http"}
    finally:
        gateway.stop()


# -- simulated feeds (real ffmpeg) ------------------------------------------------

@needs_janus
def test_video005_feeds_start_when_watched_make_way_and_stop_when_idle(cameras: CameraRegistry) -> None:
    feeds = FeedSupervisor(cameras, max_feeds=2, idle_s=3600)
    first, second, third = cameras.all()[:3]
    try:
        feeds.want(first)
        feeds.want(second)
        assert set(feeds.running()) == {first.device_id, second.device_id}
        feeds.want(first)  # watched again: now the most recent
        feeds.want(third)  # a third on a machine allowed two: the least recently watched makes way
        assert set(feeds.running()) == {first.device_id, third.device_id}
        pid = feeds.running()[third.device_id]
        os.kill(pid, 9)
        wait_until(lambda: third.device_id not in feeds.running(), what="the killed feed to be seen gone")
        feeds.want(third)  # a watch brings a dead feed back
        assert feeds.running()[third.device_id] != pid
        feeds.idle_s = 0.0
        feeds.sweep()
        assert feeds.running() == {}
    finally:
        feeds.stop_all()


# -- the relay's rules ---------------------------------------------------------------

class Clock:
    def __init__(self) -> None:
        self.now = 1_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def gate(cameras: CameraRegistry, r: redis.Redis, engine: Engine, grids: GridIndex) -> Iterator[VideoGate]:
    yield VideoGate(cameras, r, engine, lambda code: grids.get(code).station if grids.get(code) else None,
                    now=Clock())


def station_of(gate: VideoGate, device_id: str) -> str:
    camera = gate.cameras.get(device_id)
    assert camera is not None
    return str(gate.station_of(camera.grid))


def watch(mountpoint: Any) -> dict[str, Any]:
    return {"janus": "message", "transaction": "t", "body": {"request": "watch", "id": mountpoint}}


def test_video006_who_may_watch_which_camera(gate: VideoGate) -> None:
    camera = gate.cameras.get("BHV-001")
    assert camera is not None
    own = station_of(gate, "BHV-001")
    other = next(c for c in gate.cameras.all() if gate.station_of(c.grid) != own)
    for role in Role:
        viewer = watcher_of(Viewer(f"u-{role.value}", role, "s", station=own))
        gate.redis.set(keys.VIDEO_SESSION + "1", viewer.username)
        allowed = ROLE_PERMISSIONS[role] >= {Permission.WATCH_CAMERAS}
        everywhere = allowed and ROLE_PERMISSIONS[role] >= {Permission.VIEW_ALL_STATIONS}
        for target, expected in ((camera, allowed), (other, everywhere)):
            try:
                gate.check(viewer, "1", "2", watch(target.mountpoint))
                outcome = True
            except VideoRefused as exc:
                outcome = False
                assert exc.reason is (Refusal.STATION if allowed else Refusal.NOT_ALLOWED)
            assert outcome is expected, (role, target.device_id)
    # The hall, the chiefs, the stations and the wall watch; the field, the desks and administrators do not.
    watchers = {role for role in Role if Permission.WATCH_CAMERAS in ROLE_PERMISSIONS[role]}
    assert watchers == {Role.DUTY_OFFICER, Role.STATION_OFFICER, Role.CHIEF, Role.STATION_CHIEF, Role.SCREEN}


def test_video007_only_the_streaming_plugin_s_viewing_requests_pass(gate: VideoGate) -> None:
    officer = watcher_of(Viewer("duty", Role.DUTY_OFFICER, "s"))
    camera = gate.cameras.all()[0]
    assert gate.check(officer, None, None, {"janus": "create"}).camera is None
    gate.redis.set(keys.VIDEO_SESSION + "11", "duty")
    assert gate.check(officer, "11", None, None).camera is None  # the long poll
    assert gate.check(officer, "11", None, {"janus": "attach", "plugin": STREAMING_PLUGIN}).camera is None
    assert gate.check(officer, "11", "22", watch(camera.mountpoint)).camera == camera
    for ok in ({"janus": "trickle"}, {"janus": "detach"}, {"janus": "hangup"}, {"janus": "keepalive"},
               {"janus": "message", "body": {"request": "start"}}, {"janus": "message", "body": {"request": "pause"}}):
        gate.check(officer, "11", None if ok["janus"] == "keepalive" else "22", ok)
    refused = [
        (None, None, {"janus": "info"}),
        (None, None, None),
        ("11", None, {"janus": "attach", "plugin": "janus.plugin.videoroom"}),
        ("11", None, {"janus": "claim"}),
        ("11", "22", {"janus": "message", "body": {"request": "list"}}),
        ("11", "22", {"janus": "message", "body": {"request": "create", "id": 999, "type": "rtp"}}),
        ("11", "22", {"janus": "message", "body": {"request": "destroy", "id": camera.mountpoint}}),
        ("11", "22", {"janus": "message", "body": "watch"}),
        ("11", "22", None),
    ]
    for session, handle, body in refused:
        with pytest.raises(VideoRefused) as caught:
            gate.check(officer, session, handle, body)
        assert caught.value.reason is Refusal.REQUEST, body
    for mountpoint in (99_999, "1", None, 1.5):
        with pytest.raises(VideoRefused) as caught:
            gate.check(officer, "11", "22", watch(mountpoint))
        assert caught.value.reason is Refusal.CAMERA
    # Another person's session is not this officer's to poll or use.
    gate.redis.set(keys.VIDEO_SESSION + "33", "someone-else")
    for body in (None, {"janus": "keepalive"}):
        with pytest.raises(VideoRefused) as caught:
            gate.check(officer, "33", None, body)
        assert caught.value.reason is Refusal.NOT_YOURS


def audit_rows(engine: Engine, action: str) -> list[tuple[str, str, str]]:
    with engine.connect() as conn:
        return [tuple(row) for row in conn.execute(select(audit_log.c.actor, audit_log.c.target, audit_log.c.detail)
                                                   .where(audit_log.c.action == action).order_by(audit_log.c.seq))]


def test_video008_every_view_is_audited_with_who_which_camera_and_how_long(gate: VideoGate, engine: Engine) -> None:
    clock = gate.now
    assert isinstance(clock, Clock)
    officer = watcher_of(Viewer("duty", Role.DUTY_OFFICER, "s"))
    first, second = gate.cameras.all()[:2]
    gate.relayed(officer, None, None, {"janus": "create"}, gate.check(officer, None, None, {"janus": "create"}),
                 {"janus": "success", "data": {"id": 5}})
    assert gate.redis.get(keys.VIDEO_SESSION + "5") == "duty"  # the session is the officer's now
    gate.relayed(officer, "5", "6", watch(first.mountpoint), gate.check(officer, "5", "6", watch(first.mountpoint)),
                 {"janus": "ack"})
    assert audit_rows(engine, "video.watch") == [("duty", first.device_id, "")]
    clock.now += 42
    switch = {"janus": "message", "body": {"request": "switch", "id": second.mountpoint}}
    gate.relayed(officer, "5", "6", switch, gate.check(officer, "5", "6", switch), {"janus": "ack"})
    clock.now += 7
    gate.relayed(officer, "5", "6", {"janus": "detach"}, gate.check(officer, "5", "6", {"janus": "detach"}),
                 {"janus": "success"})
    assert audit_rows(engine, "video.watched") == [("duty", first.device_id, "seconds=42"),
                                                   ("duty", second.device_id, "seconds=7")]
    assert gate.views() == []
    # A page closed without a word: once its session stops being polled, the sweep closes its views.
    gate.relayed(officer, "5", "8", watch(first.mountpoint), gate.check(officer, "5", "8", watch(first.mountpoint)),
                 {"janus": "ack"})
    clock.now += 30
    assert gate.sweep() == 0  # still polled (the session key lives)
    gate.redis.delete(keys.VIDEO_SESSION + "5")  # what its expiry does
    assert gate.sweep() == 1
    assert audit_rows(engine, "video.watched")[-1] == ("duty", first.device_id, "seconds=30")
    # A refused answer from the gateway records nothing.
    before = audit_rows(engine, "video.watch")
    gate.redis.set(keys.VIDEO_SESSION + "9", "duty")
    gate.relayed(officer, "9", "1", watch(first.mountpoint), gate.check(officer, "9", "1", watch(first.mountpoint)),
                 {"janus": "error", "error": {"code": 458}})
    assert audit_rows(engine, "video.watch") == before


def test_video009_forged_video_requests_from_every_role_are_refused_and_audited(settings: Any, r: redis.Redis) -> None:
    """Every role × the relay and the camera routes, over HTTP: who may not watch gets 403 (a role without the map
    is stopped at the door), a station's people only their station's cameras; every refusal audited."""
    import dataclasses

    from app import create_app
    from testkit.accounts import make_user, sign_in_client

    app = create_app(dataclasses.replace(settings, login_per_minute=1000))  # a sign-in per role, one address
    cameras = app.services.video.cameras
    own_camera = cameras.get("BHV-001")
    assert own_camera is not None
    own = app.indicators.station_of(own_camera.grid)
    other_camera = next(c for c in cameras.all() if app.indicators.station_of(c.grid) != own)
    for role in Role:
        client = app.server.test_client()
        username = make_user(app, role.value, station=own if role in {Role.STATION_OFFICER, Role.STATION_CHIEF}
                             else None)
        headers = sign_in_client(client, username)
        watches = Permission.WATCH_CAMERAS in ROLE_PERMISSIONS[role]
        everywhere = watches and Permission.VIEW_ALL_STATIONS in ROLE_PERMISSIONS[role]
        r.set(keys.VIDEO_SESSION + "77", username)  # as if the gateway had made this viewer's session
        answers = {
            "own camera": client.get(f"/video/cameras/{own_camera.device_id}").status_code,
            "other camera": client.get(f"/video/cameras/{other_camera.device_id}").status_code,
            "create": client.post("/video/janus", json={"janus": "create"}, headers=headers).status_code,
            "watch other": client.post("/video/janus/77/88", json=watch(other_camera.mountpoint),
                                       headers=headers).status_code,
            "list": client.post("/video/janus/77/88", json={"janus": "message", "body": {"request": "list"}},
                                headers=headers).status_code,
        }
        # No gateway runs in this app (VIDEO off): what is allowed answers 503 "not enabled", never 403.
        expected = {
            "own camera": 200 if watches else 403,
            "other camera": 200 if everywhere else 403,
            "create": 503 if watches else 403,
            "watch other": 503 if everywhere else 403,
            "list": 403,
        }
        assert answers == expected, role
        actions = [row[0] for row in audit_rows_of(app.engine, username)]
        refused_here = sum(1 for key, status in expected.items() if status == 403)
        assert len(actions) == refused_here, (role, actions)
        # Without the CSRF token nothing reaches the relay at all.
        assert client.post("/video/janus", json={"janus": "create"}).status_code == 403
    app.stop()


def audit_rows_of(engine: Engine, actor: str) -> list[tuple[str, str]]:
    with engine.connect() as conn:
        return [tuple(row) for row in conn.execute(select(audit_log.c.action, audit_log.c.detail).where(
            audit_log.c.actor == actor, audit_log.c.outcome == "refused", audit_log.c.action != "csrf"))]
