"""Socket.IO handlers and the two small HTTP routes of the push protocol.

dash-socketio does not expose its socket to page scripts, so a page subscribes
and acknowledges with ``fetch`` POSTs carrying its Socket.IO ``sid`` (the
component's ``socketId`` prop equals Flask-SocketIO's ``request.sid``). Other
clients (field apps, load tools) send the same messages as Socket.IO events.

A socket connects only with a signed-in session whose role may follow live events; it
joins its session's, role's and station's rooms, and every batch it gets is
seen through its viewer's lens (station, callers). The HTTP routes act only on
a socket of the caller's own session.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, jsonify, request
from flask_socketio import SocketIO, join_room

from auth.guard import current_viewer, guard, security
from auth.lens import lens_for
from auth.roles import Permission, Viewer
from auth.web import session_room, viewer_rooms
from geo.index import GridIndex
from push.hub import PushHub, parse_id
from store import audit
from urls import URL


def _valid_id(value: Any) -> str | None:
    if not isinstance(value, str) or len(value) > 40:
        return None
    try:
        parse_id(value)
    except ValueError:
        return None
    return value


def blueprint(socketio: SocketIO, hub: PushHub, grids: GridIndex) -> Blueprint:
    """The protocol's HTTP routes; its Socket.IO handlers are attached to ``socketio`` here too."""
    routes = Blueprint("live", __name__)

    def station_of(code: str) -> str | None:
        grid = grids.get(code)
        return grid.station if grid else None

    def subscribe(sid: str, viewer: Viewer, last_id: Any) -> None:
        hub.subscribe(sid, _valid_id(last_id), lens=lens_for(viewer, station_of))

    @socketio.on("connect")
    def _connect(*_: Any) -> None:
        viewer = current_viewer()
        if viewer is None or not viewer.can(Permission.FOLLOW_LIVE):
            security().record(viewer, "socket.connect", outcome=audit.Outcome.REFUSED, detail="not signed in"
                              if viewer is None else f"needs {Permission.FOLLOW_LIVE.value}")
            raise ConnectionRefusedError("sign-in required")
        for room in viewer_rooms(viewer):
            join_room(room)

    @socketio.on("disconnect")
    def _disconnect(*_: Any) -> None:
        hub.unsubscribe(request.sid)  # type: ignore[attr-defined]

    # Clients that hold their socket (not dash-socketio pages) may speak the protocol over it.
    @socketio.on("subscribe")
    @guard(Permission.FOLLOW_LIVE, "live.subscribe", socket=True)
    def _subscribe_event(body: Any, viewer: Viewer) -> None:
        subscribe(request.sid, viewer, (body or {}).get("last_id"))  # type: ignore[attr-defined]

    @socketio.on("ack")
    @guard(Permission.FOLLOW_LIVE, "live.ack", socket=True)
    def _ack_event(body: Any, viewer: Viewer) -> None:
        seq = (body or {}).get("seq")
        if isinstance(seq, int):
            hub.ack(request.sid, seq)  # type: ignore[attr-defined]

    def own_socket(sid: Any, viewer: Viewer) -> bool:
        """A connected socket of this very session (not someone else's, not another session's)."""
        if not isinstance(sid, str) or not socketio.server.manager.is_connected(sid, "/"):
            return False
        return session_room(viewer.session_id) in socketio.server.manager.get_rooms(sid, "/")

    @routes.post(URL.LIVE_SUBSCRIBE)
    @guard(Permission.FOLLOW_LIVE, "live.subscribe")
    def _subscribe(viewer: Viewer):  # type: ignore[no-untyped-def]
        body = request.get_json(silent=True) or {}
        if not own_socket(body.get("sid"), viewer):
            return jsonify(error="unknown socket"), 404
        subscribe(body["sid"], viewer, body.get("last_id"))
        return jsonify(ok=True)

    @routes.post(URL.LIVE_ACK)
    @guard(Permission.FOLLOW_LIVE, "live.ack")
    def _ack(viewer: Viewer):  # type: ignore[no-untyped-def]
        body = request.get_json(silent=True) or {}
        seq = body.get("seq")
        if not own_socket(body.get("sid"), viewer) or not isinstance(seq, int):
            return jsonify(error="bad ack"), 400
        return jsonify(ok=hub.ack(body["sid"], seq))

    return routes
