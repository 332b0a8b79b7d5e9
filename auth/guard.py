"""The one guard every state-changing callback and Socket.IO handler goes through.

``@guard(Permission.DISPATCH, "dispatch.send")`` under ``@app.callback`` (or
``@socketio.on``) runs the handler only for a signed-in viewer whose role has
the permission, handing it the viewer as ``viewer=``. Anyone else gets HTTP 403
(a Socket.IO event is dropped), nothing is changed, and the refusal is written
to the audit log. Dash callbacks are plain HTTP endpoints: hiding a button is
not access control, this is.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from flask import abort, current_app, has_request_context, request
from flask_login import current_user

from auth.roles import Permission, Viewer
from auth.sessions import SessionRegistry
from auth.users import UserStore
from store import audit
from store.audit import AuditLog

F = TypeVar("F", bound=Callable[..., Any])
EXTENSION = "pingan.security"


@dataclass
class Security:
    """What the guard and the sign-in routes work with (kept in ``app.extensions``)."""

    users: UserStore
    sessions: SessionRegistry
    audit: AuditLog
    login_per_minute: int = 10

    def record(self, viewer: Viewer | None, action: str, **fields: Any) -> None:
        """Audit an act of ``viewer`` (or of an anonymous client) from the current request."""
        actor, role = (viewer.username, viewer.role.value) if viewer else ("anonymous", "")
        self.audit.append(actor, action, role=role, ip=client_address(), **fields)


def security() -> Security:
    return current_app.extensions[EXTENSION]


def current_viewer() -> Viewer | None:
    user = current_user._get_current_object() if has_request_context() else None
    return user if isinstance(user, Viewer) else None


def client_address() -> str:
    return (request.remote_addr or "") if has_request_context() else ""


def guard(permission: Permission, action: str, socket: bool = False) -> Callable[[F], F]:
    """Run the handler only for a viewer holding ``permission``; refuse and audit otherwise.

    ``action`` names the act in the audit log. With ``socket=True`` a refusal
    returns ``None`` (Socket.IO has no status code) instead of aborting with 403.
    """

    def decorate(handler: F) -> F:
        @functools.wraps(handler)
        def guarded(*args: Any, **kwargs: Any) -> Any:
            viewer = current_viewer()
            if viewer is None or not viewer.can(permission):
                security().record(viewer, action, outcome=audit.Outcome.REFUSED,
                                  detail=f"needs {permission.value}")
                if socket:
                    return None
                abort(403)
            return handler(*args, viewer=viewer, **kwargs)

        guarded.permission = permission  # type: ignore[attr-defined]
        guarded.action = action  # type: ignore[attr-defined]
        return guarded  # type: ignore[return-value]

    return decorate
