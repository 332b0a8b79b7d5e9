"""Grid workers' photos over HTTP: a phone sends one for its task, pages show them.

``POST /m/tasks/<task_id>/photos``: the picture itself is the body (``Content-Type: image/...``), one
photo a request, so a weak network retries one picture, not a form; the task service checks, cleans
and keeps it (gridwork/tasks.py, media/photos.py). Only the task's own grid worker (or the volunteer it
was handed to) may send, and every refusal says why (``photo.refused.*``) and keeps nothing.

``GET /media/<photo|thumb>/<sha256>.jpg``: a picture is shown only to whoever may see a task it
belongs to (its grid worker, the hall's people of its station or of all stations), or, for a camera
alert's snapshot, whoever may watch that grid's cameras; to anyone else it does not exist (404).
Pictures never change under their hash, so browsers may keep them.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from flask import Blueprint, Response, jsonify, request
from flask.blueprints import BlueprintSetupState
from werkzeug.exceptions import RequestEntityTooLarge

from auth.guard import current_viewer, guard, security
from auth.roles import Permission, Viewer
from gridwork.tasks import TaskRefused, TaskService, photos_of
from i18n import text
from media.photos import CONTENT_TYPE, MAX_BYTES, PhotoRefused, Refusal
from media.store import HASH, MediaStore, Variant, key_of, media_url
from sensors.alerts import AlertService
from store import audit
from urls import URL

# Nothing the product takes is larger than a photo; a bigger request is refused before it is read.
MAX_REQUEST_BYTES = MAX_BYTES + 64 * 1024


def may_see(viewer: Viewer, task: Mapping[str, Any]) -> bool:
    """Whoever may see the task may see its photos."""
    return viewer.takes_steps_of(task) or (viewer.can(Permission.VIEW_MAP) and viewer.sees_station(task["station"]))


def may_see_camera_grid(viewer: Viewer, station: str | None) -> bool:
    """Whoever may watch a grid's cameras may see its alerts' snapshots."""
    return viewer.can(Permission.WATCH_CAMERAS) and viewer.sees_station(station)


def blueprint(tasks: TaskService, media: MediaStore, language: str, alerts: AlertService | None = None,
              station_of: Callable[[str], str | None] = lambda grid: None) -> Blueprint:
    routes = Blueprint("media", __name__)

    @routes.record_once
    def _limit(state: BlueprintSetupState) -> None:
        state.app.config.setdefault("MAX_CONTENT_LENGTH", MAX_REQUEST_BYTES)

    def refusal(status: int, message: str) -> tuple[Response, int]:
        return jsonify(error=message), status

    @routes.post(URL.TASK_PHOTOS)
    @guard(Permission.TAKE_TASK_STEPS, "task.photo")
    def _upload(task_id: str, viewer: Viewer) -> tuple[Response, int]:
        task = tasks.get(task_id[:24])
        if task is None:
            return refusal(404, text("phone.refused.unknown", language))
        if not viewer.takes_steps_of(task):
            security().record(viewer, "task.photo", outcome=audit.Outcome.REFUSED, target=task["task_id"],
                              detail=f"grid {task['grid']} is not the viewer's")
            return refusal(403, text("phone.refused.not_yours", language))
        try:
            if (request.content_length or 0) > MAX_BYTES:
                raise PhotoRefused(Refusal.TOO_LARGE)
            row = tasks.add_photo(task["task_id"], viewer.username, request.get_data(cache=False))
        except (PhotoRefused, RequestEntityTooLarge) as exc:
            reason = exc.reason if isinstance(exc, PhotoRefused) else Refusal.TOO_LARGE
            security().record(viewer, "task.photo", outcome=audit.Outcome.REFUSED, target=task["task_id"],
                              detail=str(exc)[:200])
            status = 413 if reason is Refusal.TOO_LARGE else 422
            return refusal(status, text(f"photo.refused.{reason.value}", language, mb=MAX_BYTES // 2**20))
        except TaskRefused as exc:
            return refusal(409, text(f"phone.refused.{exc.reason}", language))
        photos = photos_of(row)
        return jsonify(task_id=row["task_id"], photos=photos,
                       thumbs=[media_url(Variant.THUMB, sha) for sha in photos]), 200

    @routes.get(URL.MEDIA)
    def _picture(variant: str, name: str) -> Response | tuple[Response, int]:
        viewer = current_viewer()
        sha = name.removesuffix(".jpg")
        if viewer is None or variant not in set(Variant) or not HASH.match(sha):
            return refusal(404, "no such picture")
        visible = tasks.photo_visible(sha, lambda task: may_see(viewer, task)) or (
            alerts is not None and alerts.snapshot_visible(sha, lambda grid: may_see_camera_grid(viewer,
                                                                                                 station_of(grid))))
        data = media.get(key_of(Variant(variant), sha)) if visible else None
        if data is None:
            return refusal(404, "no such picture")
        response = Response(data, mimetype=CONTENT_TYPE)
        response.headers["Cache-Control"] = "private, max-age=31536000, immutable"
        response.headers["Content-Disposition"] = f'inline; filename="{sha[:12]}.jpg"'
        response.set_etag(sha)
        return response

    @routes.get(URL.MEDIA_OTHER)
    def _nothing_else(rest: str) -> tuple[Response, int]:
        return refusal(404, "no such picture")  # not the hall's page, which would answer any other path

    return routes
