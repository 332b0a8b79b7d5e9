"""Live video over HTTP: the camera a page may watch, the cameras near a place, and the gateway's signalling.

``GET /video/cameras/<device_id>``: the camera's stream (mountpoint) and the gateway's state, for a viewer
who may watch it; another station's camera is refused (403, audited) and an unknown one is 404.
``GET /video/near?lon=&lat=``: the cameras within ``VIDEO_NEAR_M`` that the viewer may watch, nearest first.
``/video/janus[/…]``: Janus's HTTP API, relayed. Each request is checked by :class:`video.gate.VideoGate`
and sent on with the gateway's API secret, which no page ever holds; the video itself goes from the gateway
to the browser over WebRTC, never through this process. ``GET /video/lib/<janus.js|adapter.js>``: the
gateway's page library from Debian's packages (the same release as the gateway).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import urllib3
from flask import Blueprint, Response, jsonify, request, send_file

from auth.guard import guard, security
from auth.roles import Permission, Viewer
from i18n import text
from settings import Settings
from store import audit
from urls import URL
from video.gate import Allowed, Refusal, VideoRefused, Watcher
from video.service import VideoService

MAX_SIGNAL_BYTES = 64 * 1024  # an SDP offer or answer is a few kilobytes
LONG_POLL_S = 40.0  # the gateway holds a poll up to 30 s
LIBRARIES = {"janus.js": Path("/usr/share/javascript/janus-gateway/janus.js"),
             "adapter.js": Path("/usr/share/javascript/webrtc-adapter/adapter.js")}


def watcher_of(viewer: Viewer) -> Watcher:
    """The viewer as the relay's rules see them: may they watch, and which stations' cameras."""
    return Watcher(viewer.username, viewer.can(Permission.WATCH_CAMERAS), viewer.can(Permission.VIEW_ALL_STATIONS),
                   viewer.station)


def blueprint(video: VideoService, settings: Settings) -> Blueprint:
    routes = Blueprint("video", __name__)
    language = settings.language
    http = urllib3.PoolManager(maxsize=64, retries=False)

    def janus_error(status: int, reason: str) -> tuple[Response, int]:
        # The gateway's own error shape, so janus.js reports it like any other.
        return jsonify(janus="error", error={"code": status, "reason": reason}), status

    def refused(viewer: Viewer, exc: VideoRefused) -> tuple[Response, int]:
        security().record(viewer, "video.watch", outcome=audit.Outcome.REFUSED, target=exc.detail[:64],
                          detail=exc.reason.value)
        return janus_error(403, text(f"video.refused.{exc.reason.value}", language))

    @routes.get(URL.VIDEO_CAMERA)
    @guard(Permission.WATCH_CAMERAS, "video.camera")
    def _camera(device_id: str, viewer: Viewer) -> tuple[Response, int]:
        try:
            camera = video.gate.camera_for(watcher_of(viewer), device_id[:32])
        except VideoRefused as exc:
            if exc.reason is Refusal.CAMERA:
                return jsonify(error=text("video.refused.camera", language)), 404
            return refused(viewer, exc)
        return jsonify(device_id=camera.device_id, mountpoint=camera.mountpoint, gateway=video.state().value), 200

    @routes.get(URL.VIDEO_NEAR)
    @guard(Permission.WATCH_CAMERAS, "video.near")
    def _near(viewer: Viewer) -> tuple[Response, int]:
        try:
            lon, lat = float(request.args["lon"]), float(request.args["lat"])
        except (KeyError, ValueError):
            return jsonify(error="lon and lat are required numbers"), 400
        near = [{"device_id": camera.device_id, "distance_m": round(distance)}
                for camera, distance in video.cameras.near(lon, lat, settings.video_near_m)
                if video.gate.may_watch(watcher_of(viewer), camera)]
        return jsonify(cameras=near, radius_m=settings.video_near_m), 200

    @routes.get(URL.VIDEO_LIBRARY)
    def _library(name: str) -> Response | tuple[Response, int]:
        path = LIBRARIES.get(name)
        if path is None or not path.exists():
            return jsonify(error="no such library"), 404
        return send_file(path, mimetype="text/javascript", max_age=86400)

    def relay(viewer: Viewer, session: str | None, handle: str | None) -> tuple[Response, int]:
        watcher = watcher_of(viewer)
        body: dict[str, Any] | None = None
        if request.method == "POST":
            if (request.content_length or 0) > MAX_SIGNAL_BYTES:
                return janus_error(413, "too large")
            parsed = request.get_json(silent=True)
            if not isinstance(parsed, dict):
                return janus_error(400, "a JSON object is expected")
            body = parsed
        try:
            allowed: Allowed = video.gate.check(watcher, session, handle, body)
        except VideoRefused as exc:
            return refused(viewer, exc)  # whether or not a gateway runs: a forged request is refused, audited
        if video.gateway_url is None:
            return janus_error(503, text("video.gateway.off", language))
        target = "/".join(part for part in (video.gateway_url, session, handle) if part)
        try:
            if body is None:
                query = {k: v for k, v in request.args.items() if k in {"rid", "maxev"}}
                reply = http.request("GET", target, fields=query | {"apisecret": video.api_secret},
                                     timeout=urllib3.Timeout(connect=2.0, read=LONG_POLL_S))
            else:
                reply = http.request("POST", target, body=json.dumps(body | {"apisecret": video.api_secret}),
                                     headers={"Content-Type": "application/json"},
                                     timeout=urllib3.Timeout(connect=2.0, read=10.0))
        except urllib3.exceptions.HTTPError:
            return janus_error(502, text("video.gateway.down", language))
        try:
            answer = json.loads(reply.data)
        except ValueError:
            return janus_error(502, text("video.gateway.down", language))
        if isinstance(answer, dict):
            video.gate.relayed(watcher, session, handle, body, allowed, answer)
        elif session is not None:
            video.gate.relayed(watcher, session, None, None, allowed, {})
        response = Response(json.dumps(answer), status=reply.status, mimetype="application/json")
        response.headers["Cache-Control"] = "no-store"
        return response, reply.status

    @routes.post(URL.VIDEO_GATEWAY)
    @guard(Permission.WATCH_CAMERAS, "video.session")
    def _create(viewer: Viewer) -> tuple[Response, int]:
        return relay(viewer, None, None)

    @routes.route(URL.VIDEO_GATEWAY_PATH, methods=["GET", "POST"])
    @guard(Permission.WATCH_CAMERAS, "video.session")
    def _session(rest: str, viewer: Viewer) -> tuple[Response, int]:
        parts = rest.split("/")
        if len(parts) > 2 or not all(part.isdigit() and len(part) <= 20 for part in parts):
            return janus_error(404, "no such session")
        session, handle = parts[0], parts[1] if len(parts) == 2 else None
        if request.method == "GET" and handle is not None:
            return janus_error(404, "no such session")
        return relay(viewer, session, handle)

    return routes
