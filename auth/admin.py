"""The administrator's pages (users, kiosk tokens) and the audit log viewer.

Server-rendered forms (Jinja escapes every value); each POST is CSRF-checked by
:mod:`auth.web` and guarded like a callback. New and reset passwords are random,
shown once on the page and never stored in clear.
"""

from __future__ import annotations

import re
import secrets

from flask import Blueprint, Response, render_template, request, stream_with_context

from auth.guard import guard, security
from auth.roles import Permission, Role, Viewer
from auth.users import UserError
from auth.web import template_values
from i18n import text
from urls import URL, path


def blueprint(language: str, stations: list[tuple[str, str]]) -> Blueprint:
    """The pages. ``stations`` are (code, name) pairs for the forms."""
    routes = Blueprint("admin", __name__)

    def page(viewer: Viewer, message: str = "", secret: str = "", secret_label: str = "") -> str:
        sec = security()
        now_users = []
        for user in sec.users.all():
            locked = user["locked_until"] is not None and user["failed_logins"] >= sec.users.max_failures
            now_users.append({**user, "locked": locked, "grids": sec.users.grids_of(user["username"])})
        return render_template("admin.html", **template_values(language, viewer),
                               users=now_users, tokens=sec.users.kiosk_tokens(), roles=[r.value for r in Role],
                               stations=stations, message=message, secret=secret, secret_label=secret_label)

    @routes.get(URL.ADMIN)
    @guard(Permission.MANAGE_USERS, "admin.view")
    def _admin(viewer: Viewer) -> str:
        return page(viewer)

    @routes.post(URL.ADMIN_USERS)
    @guard(Permission.MANAGE_USERS, "user.create")
    def _create(viewer: Viewer) -> tuple[str, int] | str:
        password = secrets.token_urlsafe(12)
        username = request.form.get("username", "").strip().lower()
        try:
            security().users.create(username, password, request.form.get("role", ""),
                                    station=request.form.get("station") or None, grids=_grids(), by=viewer.username)
        except UserError as exc:
            return page(viewer, message=str(exc)), 400
        return page(viewer, message=text("admin.created", language, username=username), secret=password,
                    secret_label=text("admin.password_once", language, username=username))

    @routes.post(URL.ADMIN_USER)
    @guard(Permission.MANAGE_USERS, "user.change")
    def _change(username: str, op: str, viewer: Viewer) -> tuple[str, int] | str:
        users = security().users
        secret = ""
        try:
            if op == "reset":
                secret = secrets.token_urlsafe(12)
                users.set_password(username, secret, by=viewer.username)
            elif op == "unlock":
                users.unlock(username, by=viewer.username)
            elif op in {"disable", "enable"}:
                if username == viewer.username:
                    raise UserError(text("admin.not_self", language))
                users.set_active(username, op == "enable", by=viewer.username)
            elif op == "role":
                if username == viewer.username:
                    raise UserError(text("admin.not_self", language))
                users.set_role(username, request.form.get("role", ""), by=viewer.username,
                               station=request.form.get("station") or None, grids=_grids())
            else:
                return page(viewer, message=op[:20]), 404
        except UserError as exc:
            return page(viewer, message=str(exc)), 400
        if op in {"reset", "disable", "role"}:
            # Whatever the person had open is signed out (their sockets are cut as the sessions end).
            security().sessions.end_all(username=username)
        label = text("admin.password_once", language, username=username) if secret else ""
        return page(viewer, message=text("admin.done", language), secret=secret, secret_label=label)

    @routes.post(URL.ADMIN_KIOSK)
    @guard(Permission.MANAGE_USERS, "kiosk.issue")
    def _issue(viewer: Viewer) -> str:
        token_id, token = security().users.issue_kiosk_token(request.form.get("label", "").strip(), viewer.username)
        url = request.host_url.rstrip("/") + path(URL.KIOSK, token=token)
        return page(viewer, message=text("admin.done", language), secret=url,
                    secret_label=text("admin.kiosk.once", language, token_id=token_id))

    @routes.post(URL.ADMIN_KIOSK_REVOKE)
    @guard(Permission.MANAGE_USERS, "kiosk.revoke")
    def _revoke(token_id: str, viewer: Viewer) -> tuple[str, int] | str:
        try:
            security().users.revoke_kiosk_token(token_id[:16], viewer.username)
        except UserError as exc:
            return page(viewer, message=str(exc)), 400
        security().sessions.end_all(kiosk_id=token_id)
        return page(viewer, message=text("admin.done", language))

    @routes.get(URL.AUDIT)
    @guard(Permission.VIEW_AUDIT, "audit.view")
    def _audit(viewer: Viewer) -> str:
        log = security().audit
        actor, action = request.args.get("actor", "")[:64], request.args.get("action", "")[:48]
        return render_template("audit.html", **template_values(language, viewer),
                               records=log.records(actor=actor, action=action), check=log.verify(),
                               actor=actor, action=action)

    @routes.get(URL.AUDIT_CSV)
    @guard(Permission.VIEW_AUDIT, "audit.export")
    def _audit_csv(viewer: Viewer) -> Response:
        security().record(viewer, "audit.export")
        return Response(stream_with_context(security().audit.export_csv()), mimetype="text/csv",
                        headers={"Content-Disposition": "attachment; filename=pingan-audit.csv"})

    return routes


def _grids() -> list[str]:
    """A grid worker's grids as the form gives them: codes separated by commas, spaces or "、"."""
    return re.split(r"[\s,，、]+", request.form.get("grids", "")[:200])
