"""Signing in and out, and the checks every HTTP request passes, on the Flask server.

Every request except the sign-in page, kiosk sign-in, static bundles and the
operations endpoints needs a live session (anonymous: 401, or the sign-in page
for a browser). Every state-changing request must carry the session's CSRF
token in ``X-CSRFToken`` (Dash's renderer sends it from the ``_csrf_token``
cookie; our scripts do the same). Responses carry a content-security policy
built from Dash's inline-script hashes and the usual hardening headers.
"""

from __future__ import annotations

import hmac
import secrets
import threading
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import redis
from flask import Blueprint, Response, abort, g, jsonify, redirect, render_template, request, session
from flask.blueprints import BlueprintSetupState
from flask_login import LoginManager, login_user, logout_user
from flask_socketio import SocketIO

import clock
import urls
from auth.guard import EXTENSION, Security, client_address, current_viewer
from auth.roles import Permission, Role, Viewer
from auth.sessions import ENDED_CHANNEL, Ended
from auth.users import SignIn
from i18n import rate_text, text
from settings import Settings
from store import audit
from urls import URL

CSRF_COOKIE = "_csrf_token"  # the name Dash's renderer reads
CSRF_HEADER = "X-CSRFToken"
SAFE_METHODS = {"GET", "HEAD", "OPTIONS"}
# Changes made outside this process (the command line) reach live sessions within this time.
RECHECK_ACCOUNT_S = 60

TEMPLATES = Path(__file__).resolve().parent.parent / "templates"  # shared by every server-rendered page


def secret_key(settings: Settings) -> str:
    """SECRET_KEY, or a random key kept in ``var_dir`` (so restarts keep sessions)."""
    if settings.secret_key:
        return settings.secret_key
    path = settings.var_dir / "secret_key"
    settings.var_dir.mkdir(parents=True, exist_ok=True)
    if not path.exists():
        path.touch(mode=0o600)
        path.write_text(secrets.token_urlsafe(48))
    return path.read_text().strip()


def blueprint(security: Security, settings: Settings, csp_hashes: Callable[[], Sequence[str]]) -> Blueprint:
    """Signing in and out, kiosk links, and the checks and headers of every request, as one Blueprint."""
    lang = settings.language
    routes = Blueprint("auth", __name__)

    @routes.record_once
    def _setup(state: BlueprintSetupState) -> None:
        server = state.app
        server.secret_key = secret_key(settings)
        server.template_folder = str(TEMPLATES)
        server.config.update(
            SESSION_COOKIE_NAME="pingan_session",
            SESSION_COOKIE_HTTPONLY=True,
            SESSION_COOKIE_SAMESITE="Strict",
            SESSION_COOKIE_SECURE=settings.secure_cookies,
        )
        server.extensions[EXTENSION] = security
        server.jinja_env.filters["beijing"] = beijing_time
        server.jinja_env.filters["percent"] = rate_text
        server.jinja_env.filters["epoch_beijing"] = lambda s: beijing_time(datetime.fromtimestamp(s, UTC)) if s else "—"
        manager = LoginManager(server)
        manager.user_loader(_load)
        manager.unauthorized_handler(_sign_in_required)

    def _load(session_id: str) -> Viewer | None:
        viewer, ended, username = security.sessions.check(session_id)
        if ended is not None:
            g.session_ended = ended
            security.audit.append(username, f"session.{ended.value}", ip=client_address())
        if (viewer is not None and security.sessions.recheck_due(session_id, RECHECK_ACCOUNT_S)
                and not _account_still_valid(security, viewer)):
            security.sessions.end(session_id)
            g.session_ended = Ended.REVOKED
            return None
        return viewer

    def _sign_in_required() -> Response:
        why = getattr(g, "session_ended", None)
        if request.method == "GET" and request.path in urls.PAGES:
            query = {"next": request.full_path.rstrip("?")} | ({"why": why.value} if why else {})
            return redirect(f"{URL.LOGIN}?{urlencode(query)}")
        return jsonify(error="sign-in required", why=why.value if why else None), 401

    @routes.before_app_request
    def _check() -> Response | None:
        if request.path in urls.PUBLIC_PATHS or request.path.startswith(urls.PUBLIC_PREFIXES):
            return None
        viewer = current_viewer()
        if viewer is None:
            return _sign_in_required()
        if request.method not in SAFE_METHODS:
            expected = viewer.csrf
            # Scripts send the header; the server-rendered pages' forms send a field.
            sent = request.headers.get(CSRF_HEADER) or request.form.get("csrf", "")
            if not expected or not hmac.compare_digest(sent, expected):
                security.record(viewer, "csrf", outcome=audit.Outcome.REFUSED, detail=request.path[:100])
                return jsonify(error="missing or wrong CSRF token"), 403
        phone = viewer.can(Permission.TAKE_TASK_STEPS) and request.path.startswith(urls.PHONE_PREFIXES)
        if not viewer.can(Permission.VIEW_MAP) and not request.path.startswith(urls.NOT_MAP_PREFIXES) and not phone:
            if request.path == URL.HOME and viewer.can(Permission.MANAGE_USERS):
                return redirect(URL.ADMIN)
            if request.path == URL.HOME and viewer.can(Permission.CALL_REVISITS):
                return redirect(URL.REVISITS)
            if request.path == URL.HOME and viewer.can(Permission.MEDIATE):
                return redirect(URL.MEDIATION)
            if request.path == URL.HOME and viewer.can(Permission.TAKE_TASK_STEPS):
                return redirect(URL.PHONE)
            security.record(viewer, "map.view", outcome=audit.Outcome.REFUSED, detail=request.path[:100])
            return jsonify(error="not allowed for this role"), 403
        if request.path == URL.PHONE and not viewer.can(Permission.TAKE_TASK_STEPS):
            return redirect(URL.HOME)  # the phone page is the field's; the hall's people have the hall
        if request.path in urls.ACTIVITY:
            security.sessions.touch(viewer.session_id)
        return None

    @routes.after_app_request
    def _harden(response: Response) -> Response:
        for name, value in _headers(settings, csp_hashes(), phone=request.path.startswith(URL.PHONE)).items():
            response.headers.setdefault(name, value)
        viewer = current_viewer()
        if viewer is not None:
            token = viewer.csrf
            if token and request.cookies.get(CSRF_COOKIE) != token:
                # Read by scripts (Dash's renderer), so not HttpOnly; Strict keeps it same-site.
                response.set_cookie(CSRF_COOKIE, token, secure=settings.secure_cookies, samesite="Strict")
        return response

    @routes.route(URL.LOGIN, methods=["GET", "POST"])
    def _login() -> Response | str:
        message = ""
        if request.method == "POST":
            form_token = request.form.get("csrf", "")
            if not hmac.compare_digest(form_token, session.get("login_csrf", "")):
                abort(400)
            if not security.sessions.allow_login_attempt(client_address(), security.login_per_minute):
                security.record(None, "login", outcome=audit.Outcome.REFUSED, detail="rate limited",
                                target=request.form.get("username", "")[:64])
                return _login_page(text("login.rate_limited", lang), status=429)
            result = security.users.authenticate(request.form.get("username", "").strip(),
                                                 request.form.get("password", ""), ip=client_address())
            if result.status is SignIn.OK and result.user is not None:
                user = result.user
                session.clear()  # a fresh cookie: nothing from before signing in is carried over
                viewer = security.sessions.create(user["username"], Role(user["role"]), station=user["station"],
                                                  grids=security.users.grids_of(user["username"]))
                login_user(viewer)
                return redirect(_next_page(viewer))
            message = _sign_in_message(result.status, result.locked_until, lang)
        why = request.args.get("why", "")
        if not message and why in {e.value for e in Ended}:
            message = text(f"login.ended.{why}", lang)
        return _login_page(message)

    def _login_page(message: str, status: int = 200) -> tuple[str, int]:
        session["login_csrf"] = session.get("login_csrf") or secrets.token_urlsafe(32)
        return render_template("login.html", t=_translator(lang), lang=lang, message=message,
                               csrf=session["login_csrf"], next=request.args.get("next", "")), status

    @routes.post(URL.LOGOUT)
    def _logout() -> Response:
        viewer = current_viewer()
        if viewer is not None:
            security.sessions.end(viewer.session_id)
            security.record(viewer, "logout")
        logout_user()
        session.clear()
        response = redirect(URL.LOGIN)
        response.delete_cookie(CSRF_COOKIE)
        return response

    @routes.post(URL.TOUCH)
    def _touch() -> tuple[str, int]:
        return "", 204  # the activity was recorded by _check

    @routes.get(URL.KIOSK)
    def _kiosk(token: str) -> Response:
        if not security.sessions.allow_login_attempt(client_address(), security.login_per_minute):
            return jsonify(error="too many attempts"), 429
        record = security.users.kiosk(token[:100])
        if record is None:
            security.record(None, "kiosk.login", outcome=audit.Outcome.REFUSED, detail="unknown or revoked token")
            abort(404)
        session.clear()
        viewer = security.sessions.create(f"screen:{record['label']}", Role.SCREEN, kiosk_id=record["token_id"])
        login_user(viewer)
        security.record(viewer, "kiosk.login", target=record["token_id"])
        return redirect(URL.SCREEN)

    return routes


def _account_still_valid(security: Security, viewer: Viewer) -> bool:
    if viewer.kiosk:
        return security.users.kiosk_by_id(viewer.kiosk) is not None
    user = security.users.get(viewer.username)
    return bool(user and user["active"] and user["role"] == viewer.role.value
                and (user["station"] or None) == viewer.station)


def _next_page(viewer: Viewer) -> str:
    wanted = request.args.get("next", "")
    # Only a path on this site: never an open redirect.
    if wanted.startswith("/") and not wanted.startswith("//") and "\\" not in wanted:
        return wanted
    if viewer.can(Permission.MANAGE_USERS):
        return URL.ADMIN
    if viewer.can(Permission.CALL_REVISITS):
        return URL.REVISITS
    if viewer.can(Permission.MEDIATE) and not viewer.can(Permission.VIEW_MAP):
        return URL.MEDIATION
    return URL.PHONE if viewer.can(Permission.WORK_GRID_TASKS) else URL.HOME


def _sign_in_message(status: SignIn, locked_until: datetime | None, lang: str) -> str:
    if status is SignIn.LOCKED and locked_until is not None:
        return text("login.locked", lang, until=beijing_time(locked_until)[11:16])
    return text(f"login.{status.value}", lang)


def _translator(lang: str) -> Callable[..., str]:
    return lambda key, **values: text(key, lang, **values)


def _headers(settings: Settings, script_hashes: Sequence[str], phone: bool = False) -> dict[str, str]:
    """Security headers; ``phone``: a grid worker's page, which may ask for the phone's position ("on scene")."""
    tiles = _origin(settings.tile_url)
    policy = {
        "default-src": "'self'",
        "script-src": " ".join(["'self'", *script_hashes]),
        # React and Leaflet position elements with inline style attributes.
        "style-src": "'self' 'unsafe-inline'",
        "img-src": " ".join(["'self'", "data:", *([tiles] if tiles else [])]),
        "connect-src": "'self'",
        "font-src": "'self'",
        "object-src": "'none'",
        "base-uri": "'self'",
        "form-action": "'self'",
        "frame-ancestors": "'none'",
    }
    headers = {
        "Content-Security-Policy": "; ".join(f"{k} {v}" for k, v in policy.items()),
        "X-Content-Type-Options": "nosniff",
        "X-Frame-Options": "DENY",
        "Referrer-Policy": "same-origin",
        "Permissions-Policy": f"camera=(), microphone=(), geolocation=({'self' if phone else ''})",
        "Cache-Control": "no-store",
    }
    if settings.secure_cookies:
        headers["Strict-Transport-Security"] = "max-age=31536000"
    return headers


def _origin(url: str) -> str:
    """The CSP source of a tile URL template (``{s}`` subdomains become a wildcard)."""
    if "://" not in url:
        return ""
    scheme, rest = url.split("://", 1)
    return f"{scheme}://{rest.split('/', 1)[0].replace('{s}', '*')}"


class SocketCutter:
    """Cuts this process's Socket.IO connections of every session that ends, in any process.

    Each socket joins the room ``session:<id>`` when it connects; ending a session
    is published on ``{cc}:auth:ended``.
    """

    def __init__(self, r: redis.Redis, socketio: SocketIO) -> None:
        self.r = r
        self.socketio = socketio

    def cut(self, session_id: str) -> int:
        room = session_room(session_id)
        sids = [sid for sid, _ in self.socketio.server.manager.get_participants("/", room)]
        for sid in sids:
            self.socketio.server.disconnect(sid, namespace="/")
        return len(sids)

    def run(self, stop: threading.Event) -> None:
        while not stop.is_set():
            pubsub = self.r.pubsub(ignore_subscribe_messages=True)
            try:
                pubsub.subscribe(ENDED_CHANNEL)
                while not stop.is_set():
                    message = pubsub.get_message(timeout=1.0)
                    if message:
                        self.cut(str(message["data"]))
            except (redis.ConnectionError, redis.TimeoutError):
                stop.wait(0.5)
            finally:
                pubsub.close()


def beijing_time(value: datetime | None) -> str:
    """A stored (UTC) time as the command centre reads it."""
    if value is None:
        return ""
    aware = value if value.tzinfo else value.replace(tzinfo=UTC)
    return clock.local(aware).strftime("%Y-%m-%d %H:%M:%S")


def session_room(session_id: str) -> str:
    return f"session:{session_id}"


def viewer_rooms(viewer: Viewer) -> list[str]:
    """The Socket.IO rooms a viewer's socket joins: its session, its role, its station."""
    rooms = [session_room(viewer.session_id), f"role:{viewer.role.value}"]
    if viewer.station:
        rooms.append(f"station:{viewer.station}")
    return rooms


def template_values(lang: str, viewer: Viewer) -> dict[str, Any]:
    """What every server-rendered page's frame needs (texts, the viewer, the CSRF token for its forms)."""
    return {"t": _translator(lang), "lang": lang, "viewer": viewer, "role_name": text(f"role.{viewer.role}", lang),
            "csrf": viewer.csrf, "URL": URL, "url": urls.path}
