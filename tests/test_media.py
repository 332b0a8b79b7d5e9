"""Photos are evidence: only real pictures are kept, cleaned of the phone's position, by content hash, in a
local directory or a real S3-compatible server, and shown only to whoever may see their task."""

from __future__ import annotations

import hashlib
import io
from collections.abc import Iterator

import pytest
import requests
from PIL import Image
from sqlalchemy import select

import clock
from auth.roles import Role
from gridwork.tasks import TaskKind, TaskService, photos_of
from media.photos import GPS_IFD, MAX_BYTES, THUMB_SIDE, PhotoRefused, Refusal, clean
from media.store import LocalMediaStore, S3MediaStore, Variant, key_of
from store.audit import AuditLog
from store.db import grid_task_photos
from testkit.accounts import PASSWORD, make_user
from testkit.live_client import sign_in
from testkit.photos import ORIENTATION, encode, jpeg, picture
from testkit.servers import LiveServer, S3Server, start_s3_server
from testkit.tasks import task_in

OWN, OTHER_STATION = "SC-021", "SC-200"  # PS-01, PS-03
PDF = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"


def decoded(data: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(data))
    image.load()
    return image


def big_png() -> bytes:
    """A real picture of more than 20 MB: noise does not compress."""
    noise = Image.frombytes("RGB", (2700, 2700), hashlib.shake_256(b"noise").digest(2700 * 2700 * 3))
    return encode(noise, "PNG", compress_level=0)


# -- cleaning -----------------------------------------------------------------------------------


@pytest.mark.unit
@pytest.mark.parametrize("fmt", ["JPEG", "PNG", "WEBP"])
def test_media001_jpeg_png_and_webp_are_kept_as_jpegs_with_a_thumbnail(fmt: str) -> None:
    sent = encode(picture(1600, 1200), fmt)
    photo = clean(sent)
    kept, thumb = decoded(photo.data), decoded(photo.thumb)
    assert (kept.format, thumb.format, photo.source_format) == ("JPEG", "JPEG", fmt)
    assert (kept.size, (photo.width, photo.height)) == ((1600, 1200), (1600, 1200))
    assert max(thumb.size) == THUMB_SIDE and thumb.size[0] > thumb.size[1]
    assert photo.sha256 == hashlib.sha256(photo.data).hexdigest()
    assert clean(sent).sha256 == photo.sha256  # the same photo sent again is the same photo


@pytest.mark.unit
def test_media002_the_gps_position_is_removed_and_the_picture_turned_upright() -> None:
    sent = jpeg(gps=(112.4330, 39.3310), orientation=6)  # 800x600 as stored, "rotate 90° to view"
    assert GPS_IFD in Image.open(io.BytesIO(sent)).getexif()
    photo = clean(sent)
    kept = decoded(photo.data)
    assert photo.location_removed and kept.size == (600, 800)
    assert len(kept.getexif()) == 0 and b"Exif" not in photo.data[:200]
    assert GPS_IFD not in decoded(photo.thumb).getexif()
    assert not clean(jpeg()).location_removed
    # Transparency is laid on white, not black.
    clear = Image.new("RGBA", (40, 40), (0, 0, 0, 0))
    assert decoded(clean(encode(clear, "PNG")).data).getpixel((20, 20)) == (255, 255, 255)
    assert ORIENTATION not in kept.getexif()


@pytest.mark.unit
def test_media003_what_is_not_a_photo_we_keep_is_refused_with_its_reason() -> None:
    whole = jpeg()
    cases = {
        Refusal.EMPTY: b"",
        Refusal.NOT_AN_IMAGE: PDF,  # a PDF renamed photo.jpg
        Refusal.FORMAT: encode(picture(), "GIF"),
        Refusal.BROKEN: whole[: len(whole) * 2 // 3],  # a truncated JPEG
        Refusal.TOO_LARGE: big_png(),  # a 20 MB picture
        Refusal.TOO_MANY_PIXELS: encode(Image.new("1", (10_000, 10_000)), "PNG"),  # tiny file, 100 MP
    }
    assert len(cases[Refusal.TOO_LARGE]) > 20 * 2**20
    for reason, sent in cases.items():
        with pytest.raises(PhotoRefused) as refused:
            clean(sent)
        assert refused.value.reason is reason, reason
    # The size limit, to the byte: a JPEG padded after its end marker to exactly 10 MB is kept.
    padded = whole + b"\0" * (MAX_BYTES - len(whole))
    assert clean(padded).width == 800
    with pytest.raises(PhotoRefused, match="too_large"):
        clean(padded + b"\0")


# -- stores -------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def s3() -> Iterator[S3Server]:
    server = start_s3_server()
    yield server
    server.stop()


@pytest.mark.unit
def test_media004_the_local_store_keeps_each_picture_once_under_its_hash(media: LocalMediaStore) -> None:
    photo = clean(jpeg())
    key = key_of(Variant.PHOTO, photo.sha256)
    assert key == f"photos/{photo.sha256}.jpg" and media.get(key) is None
    media.put(key, photo.data, "image/jpeg")
    media.put(key, photo.data, "image/jpeg")
    assert media.get(key) == photo.data
    assert [p.name for p in media.root.rglob("*")] == ["photos", f"{photo.sha256}.jpg"]  # no partial files
    for forged in ("../secret_key", "A" * 64, photo.sha256[:63]):
        with pytest.raises(ValueError):
            key_of(Variant.PHOTO, forged)


def test_media005_photos_kept_in_a_real_s3_compatible_server(
    s3: S3Server, engine, grids, monkeypatch: pytest.MonkeyPatch  # type: ignore[no-untyped-def]
) -> None:
    """The S3 store against moto's server (PyPI) over HTTP, configured as any S3 client is: its environment."""
    for name, value in s3.environment().items():
        monkeypatch.setenv(name, value)
    store = S3MediaStore("pingan-evidence")  # made on first use
    tasks = TaskService(engine, grids, media=store)
    with engine.begin() as conn:
        task = tasks.create(conn, TaskKind.ALERT, "S3-1", OWN, "smoke", "duty", clock.now())
    row = tasks.add_photo(task["task_id"], "chen", jpeg(gps=(112.43, 39.33)))
    [sha] = photos_of(row)
    again = S3MediaStore("pingan-evidence", client=store.client)  # the bucket is there: nothing to make
    kept = again.get(key_of(Variant.PHOTO, sha))
    assert kept is not None and hashlib.sha256(kept).hexdigest() == sha
    assert GPS_IFD not in decoded(kept).getexif()
    head = store.client.head_object(Bucket="pingan-evidence", Key=key_of(Variant.THUMB, sha))
    assert head["ContentType"] == "image/jpeg"
    assert again.get(key_of(Variant.PHOTO, "0" * 64)) is None


# -- over HTTP ----------------------------------------------------------------------------------


def post_photo(session: requests.Session, base: str, task_id: str, body: bytes,
               content_type: str = "image/jpeg") -> requests.Response:
    return session.post(f"{base}/m/tasks/{task_id}/photos", data=body, headers={"Content-Type": content_type},
                        timeout=30)


def test_media006_a_grid_worker_sends_photos_bad_ones_are_refused_and_nothing_of_them_is_kept(
    live_server: LiveServer,
) -> None:
    app, base = live_server.app, live_server.url
    task_id = task_in(app, OWN, "HTTP-1")
    worker = make_user(app, Role.GRID_WORKER)
    phone = sign_in(base, worker, PASSWORD)
    refusals = {
        "文件不是图片": (PDF, "image/jpeg", 422),
        "照片已损坏或不完整": (jpeg()[:3000], "image/jpeg", 422),
        "照片超过 10 MB": (big_png(), "image/png", 413),
        "未收到照片": (b"", "image/jpeg", 422),
    }
    for message, (body, content_type, status) in refusals.items():
        answer = post_photo(phone, base, task_id, body, content_type)
        assert (answer.status_code, answer.json()["error"]) == (status, message)
    media_root = app.settings.var_dir / "media"
    assert not media_root.exists() or not any(p.is_file() for p in media_root.rglob("*"))
    assert len([r for r in AuditLog(app.engine).records(actor=worker, action="task.photo")
                if r["outcome"] == "refused"]) == 4
    sent = post_photo(phone, base, task_id, jpeg("one", gps=(112.43, 39.33)))
    assert sent.status_code == 200
    [sha] = sent.json()["photos"]
    assert post_photo(phone, base, task_id, jpeg("one", gps=(112.43, 39.33))).json()["photos"] == [sha]  # a retry
    for n in (2, 3):
        assert len(post_photo(phone, base, task_id, jpeg(f"photo {n}")).json()["photos"]) == n
    full = post_photo(phone, base, task_id, jpeg("four"))
    assert (full.status_code, full.json()["error"]) == (409, "每个任务最多 3 张照片")
    with app.engine.connect() as conn:
        rows = conn.execute(select(grid_task_photos).order_by(grid_task_photos.c.id)).mappings().all()
    assert rows[0]["sha256"] == sha and len(rows) == 3
    assert (rows[0]["uploaded_by"], rows[0]["location_removed"]) == (worker, True)
    kept = [r for r in AuditLog(app.engine).records(actor=worker, action="task.photo") if r["outcome"] != "refused"]
    assert len(kept) == 3 and kept[-1]["target"] == task_id  # newest first: the one with a position is last
    assert kept[-1]["detail"] == f"{sha} 800x600 location removed" and "location" not in kept[0]["detail"]
    # Without the page's CSRF token nothing is taken.
    bare = requests.post(f"{base}/m/tasks/{task_id}/photos", data=jpeg(), cookies=phone.cookies, timeout=10,
                         headers={"Content-Type": "image/jpeg"})
    assert bare.status_code == 403


def test_media007_a_photo_is_shown_only_to_whoever_may_see_its_task(live_server: LiveServer) -> None:
    app, base = live_server.app, live_server.url
    own = task_in(app, OWN, "SEE-1")
    phone = sign_in(base, make_user(app, Role.GRID_WORKER), PASSWORD)
    [sha] = post_photo(phone, base, own, jpeg("evidence")).json()["photos"]
    thumb, full = f"{base}/media/thumb/{sha}.jpg", f"{base}/media/photo/{sha}.jpg"

    def status(session: requests.Session, url: str) -> int:
        return session.get(url, timeout=10).status_code

    answer = phone.get(full, timeout=10)
    assert (answer.status_code, answer.headers["Content-Type"]) == (200, "image/jpeg")
    assert hashlib.sha256(answer.content).hexdigest() == sha and "immutable" in answer.headers["Cache-Control"]
    assert max(decoded(phone.get(thumb, timeout=10).content).size) == THUMB_SIDE
    allowed = [make_user(app, Role.DUTY_OFFICER), make_user(app, Role.CHIEF),
               make_user(app, Role.STATION_OFFICER, station="PS-01")]
    for username in allowed:
        assert status(sign_in(base, username, PASSWORD), thumb) == 200, username
    refused = [make_user(app, Role.STATION_OFFICER, station="PS-03"),
               make_user(app, Role.GRID_WORKER, grids=(OTHER_STATION,))]
    for username in refused:
        assert status(sign_in(base, username, PASSWORD), full) == 404, username
    assert status(requests.Session(), full) == 401
    assert status(phone, f"{base}/media/photo/{'0' * 64}.jpg") == 404
    assert status(phone, f"{base}/media/photo/..%2F..%2Fsecret_key") == 404
    assert status(phone, f"{base}/media/other/{sha}.jpg") == 404


@pytest.mark.parametrize("role", [Role.DUTY_OFFICER, Role.CHIEF, Role.SCREEN, Role.ADMIN, "other_grid"])
def test_media008_nobody_but_the_tasks_grid_worker_can_send_it_a_photo(
    live_server: LiveServer, role: str
) -> None:
    app, base = live_server.app, live_server.url
    task_id = task_in(app, OWN, "FORGE-PHOTO")
    other_grid = role == "other_grid"
    username = make_user(app, Role.GRID_WORKER, grids=(OTHER_STATION,)) if other_grid else make_user(app, role)
    answer = post_photo(sign_in(base, username, PASSWORD), base, task_id, jpeg())
    assert answer.status_code == 403
    assert photos_of(app.tasks.get(task_id) or {}) == []
    assert AuditLog(app.engine).records(actor=username)[0]["outcome"] == "refused"
