"""Running the product for a test: in this process (a live server thread) or as ``python app.py`` processes."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from settings import PROJECT_ROOT, Settings
from testkit.accounts import add_account

if TYPE_CHECKING:
    from werkzeug.serving import BaseWSGIServer

    from app import PinganApp


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class LiveServer:
    """An app served in this process (Socket.IO included) on a free loopback port."""

    app: PinganApp
    url: str
    _server: BaseWSGIServer
    _thread: threading.Thread

    def stop(self) -> None:
        self._server.shutdown()
        self._thread.join(timeout=10)
        self.app.stop()


def start_live_server(settings: Settings, consumer: bool = True) -> LiveServer:
    """Serve a fresh app on a free loopback port, in a background thread."""
    from werkzeug.serving import make_server

    from app import create_app

    app = create_app(settings)
    app.start(consumer=consumer, simulator=False)
    server = make_server("127.0.0.1", 0, app.server, threaded=True)
    thread = threading.Thread(target=server.serve_forever, name="live-server", daemon=True)
    thread.start()
    return LiveServer(app, f"http://127.0.0.1:{server.server_port}", server, thread)


def start_server(port: int, var_dir: Path, extra_env: dict[str, str] | None = None,
                 output: int | None = subprocess.DEVNULL) -> tuple[subprocess.Popen[bytes], float]:
    """Start ``python app.py`` (with the bench account) and return it with the seconds until it answered.

    Sign-ins are not rate limited here (load tools sign many clients in at once), and every
    server shares one secret key, so a session works on all processes of a drill, as behind a
    load balancer in production.
    """
    env = {**os.environ, "PORT": str(port), "VAR_DIR": str(var_dir), "SIMULATOR": "0", "BACKFILL": "0", "VIDEO": "0",
           "REPORT_SCHEDULE": "0",
           "LOGIN_PER_MINUTE": "1000000", "SECRET_KEY": "bench-secret-not-for-production", **(extra_env or {})}
    add_account(env)
    started = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "app.py"], cwd=PROJECT_ROOT, env=env, stdout=output, stderr=output)
    url = f"http://127.0.0.1:{port}/healthz"
    deadline = started + 60
    while time.perf_counter() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"app.py exited with {proc.returncode}")
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return proc, time.perf_counter() - started
        except OSError:
            time.sleep(0.02)  # polling a port that is not open yet: nothing to await
    proc.kill()
    raise RuntimeError("server did not answer within 60 s")


def stop_server(proc: subprocess.Popen[bytes]) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()


@dataclass
class S3Server:
    """A local S3-compatible server (moto's, from PyPI) in its own process, spoken to over HTTP."""

    proc: subprocess.Popen[bytes]
    endpoint: str

    def environment(self) -> dict[str, str]:
        """What the S3 client reads from its own configuration to reach this server."""
        return {"AWS_ENDPOINT_URL": self.endpoint, "AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test",
                "AWS_DEFAULT_REGION": "us-east-1"}

    def stop(self) -> None:
        stop_server(self.proc)


def start_s3_server() -> S3Server:
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    endpoint = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"the S3 server exited with {proc.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return S3Server(proc, endpoint)
        except OSError:
            time.sleep(0.02)  # polling a port that is not open yet: nothing to await
    proc.kill()
    raise RuntimeError("the S3 server did not listen within 30 s")
