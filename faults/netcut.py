"""A TCP proxy between a browser and the app whose network can be cut, two ways.

It also stands in for a sticky load balancer: every connection of one page goes to one
backend, and ``route_to`` moves new connections to another one.

- ``reset``: every open connection is reset (RST) and new ones are refused until the cut
  ends: what a browser sees when a proxy, NAT or VPN restarts.
- ``blackhole``: bytes stop flowing both ways (held, not lost) and new connections hang until
  the cut ends: a pulled cable or a dead Wi-Fi. Short holes resume the same TCP connection;
  holes longer than Socket.IO's ping timeout make both ends give up and reconnect.

Why a proxy and not Chromium's offline emulation: DevTools' offline mode does not reliably
cut WebSockets that are already open, and a proxy cuts every kind of traffic (socket,
subscribe/ack POSTs, Dash callbacks) the same way a real network does.
"""

from __future__ import annotations

import contextlib
import socket
import struct
import threading
from typing import Literal

Mode = Literal["reset", "blackhole"]


class _Link:
    """One browser connection and its upstream twin."""

    def __init__(self, client: socket.socket) -> None:
        self.client = client
        self.upstream: socket.socket | None = None
        self._lock = threading.Lock()
        self.closed = False
        self.half_closed = 0  # directions that ended with a FIN; at 2 the link is done

    def interrupt(self) -> None:
        # shutdown(SHUT_RD) wakes a thread blocked in recv(); the pump then closes with RST.
        for sock in (self.client, self.upstream):
            if sock is not None:
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RD)

    def close(self, reset: bool) -> None:
        with self._lock:
            if self.closed:
                return
            self.closed = True
        for sock in (self.client, self.upstream):
            if sock is None:
                continue
            if reset:  # linger 0: close sends RST, as a dropped connection does
                with contextlib.suppress(OSError):
                    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            with contextlib.suppress(OSError):
                sock.close()


class CutProxy:
    """Listen on a free loopback port and forward to ``target_port``; ``cut()`` / ``restore()``."""

    def __init__(self, target_port: int, target_host: str = "127.0.0.1") -> None:
        self.target = (target_host, target_port)
        self.listener = socket.create_server(("127.0.0.1", 0), backlog=128)
        self.port = int(self.listener.getsockname()[1])
        self.mode: Mode | None = None
        self.flowing = threading.Event()  # cleared during a blackhole: pumps hold their bytes
        self.flowing.set()
        self.links: set[_Link] = set()
        self.lock = threading.Lock()
        self.connections = 0
        self.refused = 0
        self._closing = False
        threading.Thread(target=self._accept, name=f"cut-proxy-{self.port}", daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    # -- the fault -----------------------------------------------------------

    def cut(self, mode: Mode) -> None:
        with self.lock:
            self.mode = mode
            links = list(self.links)
        if mode == "blackhole":
            self.flowing.clear()
            return
        for link in links:
            link.interrupt()

    def route_to(self, target_port: int) -> None:
        """Send new connections to another backend, as a load balancer does when one dies."""
        self.target = (self.target[0], target_port)

    def restore(self) -> None:
        with self.lock:
            self.mode = None
        self.flowing.set()

    def close(self) -> None:
        self._closing = True
        self.restore()
        with contextlib.suppress(OSError):
            self.listener.close()
        with self.lock:
            links = list(self.links)
        for link in links:
            link.interrupt()
            link.close(reset=True)

    # -- plumbing ------------------------------------------------------------------

    def _accept(self) -> None:
        while not self._closing:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            if self.mode == "reset":
                self.refused += 1
                _Link(client).close(reset=True)
                continue
            link = _Link(client)
            with self.lock:
                self.links.add(link)
                self.connections += 1
            threading.Thread(target=self._open, args=(link,), daemon=True).start()

    def _open(self, link: _Link) -> None:
        self.flowing.wait()  # a connection opened during a blackhole hangs until it ends
        try:
            link.upstream = socket.create_connection(self.target, timeout=10)
            link.upstream.settimeout(None)
        except OSError:
            self._drop(link, reset=True)
            return
        if self.mode == "reset":
            self._drop(link, reset=True)
            return
        threading.Thread(target=self._pump, args=(link, link.client, link.upstream), daemon=True).start()
        self._pump(link, link.upstream, link.client)

    def _pump(self, link: _Link, src: socket.socket, dst: socket.socket) -> None:
        try:
            while True:
                data = src.recv(65536)
                self.flowing.wait()  # held, not lost, while the hole lasts
                if self.mode == "reset" or link.closed:
                    break
                if not data:
                    dst.shutdown(socket.SHUT_WR)  # pass the peer's FIN on, after the hole
                    with self.lock:
                        link.half_closed += 1
                        done = link.half_closed == 2
                    if done:
                        self._drop(link, reset=False)
                    return
                dst.sendall(data)
        except OSError:
            pass
        self._drop(link, reset=True)

    def _drop(self, link: _Link, reset: bool) -> None:
        with self.lock:
            self.links.discard(link)
        link.close(reset)
