"""A camera alert's snapshot at ingest: kept as evidence when it is a picture; refused with a reason (and a dead
letter) when it is not, the alert kept all the same; shown only to whoever may watch its grid's cameras."""

from __future__ import annotations

import base64
import hashlib
import io
import json
from pathlib import Path

import pytest
import redis
from PIL import Image
from sqlalchemy import Engine, select

from auth.roles import Role
from bus import keys
from geo.devices import DeviceRegistry
from geo.index import GridIndex
from ingest.consumer import Consumer
from media.photos import THUMB_SIDE
from media.store import LocalMediaStore, Variant, key_of
from store.db import sensor_events
from testkit.accounts import PASSWORD, make_user
from testkit.entries import sensor
from testkit.live_client import sign_in
from testkit.photos import encode, grainy, picture
from testkit.servers import LiveServer

CAMERA = "BHV-001"
SMOKE = "SMK-01-1-03"


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def jpeg(label: str = "BHV-001 fight", width: int = 640, height: int = 360) -> bytes:
    return encode(picture(width, height, label=label), "JPEG", quality=85)


@pytest.fixture
def media(tmp_path: Path) -> LocalMediaStore:
    return LocalMediaStore(tmp_path / "media")


@pytest.fixture
def worker(r: redis.Redis, engine: Engine, grids: GridIndex, devices: DeviceRegistry,
           media: LocalMediaStore) -> Consumer:
    consumer = Consumer(r, engine, grids, devices, name="snap", media=media)
    consumer.ensure_groups()
    return consumer


def drain(worker: Consumer) -> None:
    while response := worker.r.xreadgroup(keys.CONSUMER_GROUP, worker.name, {keys.SENSORS: ">"}, count=100):
        worker.process({stream: entries for stream, entries in response})


def kept(engine: Engine, event_id: str) -> dict[str, object]:
    with engine.connect() as conn:
        return dict(conn.execute(select(sensor_events).where(sensor_events.c.event_id == event_id)).mappings().one())


def dead_letters(r: redis.Redis) -> dict[str, str]:
    return {json.loads(f["fields"]).get("event_id", "?"): f["reason"] for _, f in r.xrange(keys.DEAD)}


def test_snap001_a_camera_alert_s_snapshot_is_kept_and_travels_with_the_alert(
    worker: Consumer, engine: Engine, r: redis.Redis, media: LocalMediaStore
) -> None:
    r.xadd(keys.SENSORS, sensor("SNAP-1", CAMERA, scenario="fight", snapshot=b64(jpeg())))
    drain(worker)
    row = kept(engine, "SNAP-1")
    sha = str(row["snapshot"])
    assert row["kind"] == "alert" and row["snapshot_refused"] is None
    picture_kept = media.get(key_of(Variant.PHOTO, sha))
    assert picture_kept is not None and hashlib.sha256(picture_kept).hexdigest() == sha
    assert media.get(key_of(Variant.THUMB, sha)) is not None
    [(_, live)] = r.xrange(keys.LIVE)
    payload = json.loads(live["data"])
    assert payload["snapshot"] == f"/media/photo/{sha}.jpg" and payload["has_video"] is True
    assert r.xlen(keys.DEAD) == 0
    # The same alert again (a producer's retry): one alert, one picture.
    r.xadd(keys.SENSORS, sensor("SNAP-1", CAMERA, scenario="fight", snapshot=b64(jpeg())))
    drain(worker)
    assert r.xlen(keys.LIVE) == 1 and len(list((media.root / "photos").iterdir())) == 1


@pytest.mark.parametrize(("what", "snapshot", "device", "reason"), [
    ("not an image", b64(b"%PDF-1.4 not a picture at all"), CAMERA, "not_an_image"),
    ("truncated", b64(jpeg()[:2500]), CAMERA, "broken"),
    ("too large", b64(encode(grainy(1600, 1200), "PNG")), CAMERA, "too_large"),
    ("not base64", "this is not base64!!", CAMERA, "not_base64"),
    ("from a smoke sensor", b64(jpeg()), SMOKE, "no_camera"),
])
def test_snap002_a_bad_snapshot_is_refused_with_its_reason_and_the_alert_is_kept(
    worker: Consumer, engine: Engine, r: redis.Redis, media: LocalMediaStore, what: str, snapshot: str, device: str,
    reason: str
) -> None:
    scenario = "smoke" if device == SMOKE else "fight"
    extra = {"value": "0.4"} if device == SMOKE else {}
    r.xadd(keys.SENSORS, sensor("BAD-1", device, scenario=scenario, snapshot=snapshot, **extra))
    drain(worker)
    row = kept(engine, "BAD-1")
    assert (row["kind"], row["snapshot"], row["snapshot_refused"]) == ("alert", None, reason), what
    assert dead_letters(r)["BAD-1"].startswith(f"snapshot: {reason}"), what
    assert not media.root.exists() or not any(p.is_file() for p in media.root.rglob("*"))
    # The duty officer still gets the alert, told why it has no picture.
    [payload] = [json.loads(f["data"]) for _, f in r.xrange(keys.LIVE) if f["type"] == "alert"]
    assert payload["snapshot_refused"] == reason


def test_snap003_a_snapshot_is_shown_only_to_whoever_may_watch_its_grid_s_cameras(live_server: LiveServer) -> None:
    app, base = live_server.app, live_server.url
    app.services.redis.xadd(keys.SENSORS, sensor("SEE-SNAP", CAMERA, scenario="fight",
                                                             snapshot=b64(jpeg("evidence"))))
    sha = wait_for_snapshot(app.engine, "SEE-SNAP")
    full, thumb = f"{base}/media/photo/{sha}.jpg", f"{base}/media/thumb/{sha}.jpg"
    own = app.indicators.station_of(app.devices.devices[CAMERA].grid)
    other = next(code for code, _ in app.grids.stations("en") if code != own)
    allowed = [make_user(app, Role.DUTY_OFFICER), make_user(app, Role.CHIEF),
               make_user(app, Role.STATION_OFFICER, station=own), make_user(app, Role.STATION_CHIEF, station=own)]
    for username in allowed:
        answer = sign_in(base, username, PASSWORD).get(full, timeout=10)
        assert (answer.status_code, hashlib.sha256(answer.content).hexdigest()) == (200, sha), username
    thumbnail = Image.open(io.BytesIO(sign_in(base, allowed[0], PASSWORD).get(thumb, timeout=10).content))
    assert max(thumbnail.size) == THUMB_SIDE
    refused = [make_user(app, Role.STATION_OFFICER, station=other), make_user(app, Role.GRID_WORKER),
               make_user(app, Role.REVISIT_CLERK), make_user(app, Role.MEDIATOR)]
    for username in refused:
        assert sign_in(base, username, PASSWORD).get(full, timeout=10).status_code in {403, 404}, username


def wait_for_snapshot(engine: Engine, event_id: str) -> str:
    from testkit.waiting import wait_until

    def snapshot() -> str | None:
        with engine.connect() as conn:
            return conn.execute(select(sensor_events.c.snapshot).where(sensor_events.c.event_id == event_id)).scalar()

    return wait_until(snapshot, what="the alert and its snapshot kept")
