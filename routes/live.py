"""Socket.IO handlers and the two small HTTP routes of the push protocol.

dash-socketio does not expose its socket to page scripts, so a page subscribes
and acknowledges with ``fetch`` POSTs carrying its Socket.IO ``sid`` (the
component's ``socketId`` prop equals Flask-SocketIO's ``request.sid``). Other
clients (field apps, load tools) send the same messages as Socket.IO events.
"""

from __future__ import annotations

from typing import Any

from flask import Flask, jsonify, request
from flask_socketio import SocketIO

from streams.push import PushHub, parse_id

SUBSCRIBE = "/live/subscribe"
ACK = "/live/ack"


def _valid_id(value: Any) -> str | None:
    if not isinstance(value, str) or len(value) > 40:
        return None
    try:
        parse_id(value)
    except ValueError:
        return None
    return value


def register(server: Flask, socketio: SocketIO, hub: PushHub) -> None:
    """Attach the handlers."""

    @socketio.on("disconnect")
    def _disconnect(*_: Any) -> None:
        hub.unsubscribe(request.sid)  # type: ignore[attr-defined]

    # Clients that hold their socket (not dash-socketio pages) may speak the protocol over it.
    @socketio.on("subscribe")
    def _subscribe_event(body: Any) -> None:
        hub.subscribe(request.sid, _valid_id((body or {}).get("last_id")))  # type: ignore[attr-defined]

    @socketio.on("ack")
    def _ack_event(body: Any) -> None:
        seq = (body or {}).get("seq")
        if isinstance(seq, int):
            hub.ack(request.sid, seq)  # type: ignore[attr-defined]

    def connected(sid: Any) -> bool:
        return isinstance(sid, str) and socketio.server.manager.is_connected(sid, "/")

    @server.post(SUBSCRIBE)
    def _subscribe():  # type: ignore[no-untyped-def]
        body = request.get_json(silent=True) or {}
        if not connected(body.get("sid")):
            return jsonify(error="unknown socket"), 404
        hub.subscribe(body["sid"], _valid_id(body.get("last_id")))
        return jsonify(ok=True)

    @server.post(ACK)
    def _ack():  # type: ignore[no-untyped-def]
        body = request.get_json(silent=True) or {}
        seq = body.get("seq")
        if not connected(body.get("sid")) or not isinstance(seq, int):
            return jsonify(error="bad ack"), 400
        return jsonify(ok=hub.ack(body["sid"], seq))
