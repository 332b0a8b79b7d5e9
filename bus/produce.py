"""The producer's side of the ingest contract: XADD, optionally confirmed on a replica with WAIT.

Redis replicates asynchronously. An XADD a primary acknowledged can be lost if the primary dies before its
replica received it (a Cluster's failover then promotes the replica without it). A producer that needs
"acknowledged means kept" sends the XADD and ``WAIT <replicas> <ms>`` on one connection to the node that
took the write: redis-py's ``RedisCluster.wait()`` goes to an arbitrary "default" node, which says nothing
about this write (../shared/notes/cluster-spike.md, 4.3). docs/ingest.md, "Delivery guarantees", is the
contract this implements.

Any exception means "outcome unknown": the entry may have been written. Sending it again is safe because
the consumer keeps each ``event_id`` once; :func:`send` does so itself until :data:`RETRY_FOR_S`.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any, cast

import redis
from redis.cluster import RedisCluster
from redis.exceptions import AskError, ClusterDownError, MovedError, TryAgainError

from bus.connection import FAILOVER_BUDGET_S, RETRY_BACKOFF_S, ClusterClient, OutFields, is_cluster_client

RETRY_FOR_S = FAILOVER_BUDGET_S


@dataclass(frozen=True)
class Sent:
    entry_id: str
    replicas: int | None  # replicas that confirmed it (None: not asked); 0: written, not yet on a replica
    attempts: int


def send(r: redis.Redis, stream: str, fields: dict[str, str], confirm_replicas: int = 0,
         confirm_ms: int = 100) -> Sent:
    """XADD ``fields`` to ``stream``; with ``confirm_replicas``, wait until that many replicas have it.

    A WAIT that times out returns fewer replicas: the entry is written and may yet reach them (after a
    failover the new primary has no replica until the old node rejoins). That is reported, not retried:
    sending again would only add a duplicate.
    """
    deadline = time.monotonic() + RETRY_FOR_S
    pause = RETRY_BACKOFF_S[0]
    attempts = 0
    while True:
        attempts += 1
        try:
            pipe = _pinned_pipeline(r, stream)
            pipe.xadd(stream, cast(OutFields, fields))
            if confirm_replicas:
                pipe.wait(confirm_replicas, confirm_ms)
            replies = pipe.execute()
            return Sent(str(replies[0]), int(replies[1]) if confirm_replicas else None, attempts)
        except (redis.ConnectionError, redis.TimeoutError, MovedError, AskError, TryAgainError, ClusterDownError):
            # MOVED: the node we asked no longer holds the slot (a failover; the old primary back as a replica);
            # the write was refused, so sending it again to the new owner is safe.
            if time.monotonic() + pause > deadline:
                raise
            if is_cluster_client(r):
                cast(ClusterClient, cast(Any, r)).refresh_topology()
            time.sleep(pause)  # a failover under way: nothing to await but time
            pause = min(pause * 2, RETRY_BACKOFF_S[1])


def _pinned_pipeline(r: redis.Redis, stream: str) -> Any:
    """A pipeline on one connection to the primary holding ``stream`` (no MULTI: WAIT may not be in one)."""
    if is_cluster_client(r):
        cluster = cast(RedisCluster, cast(Any, r))
        node = cluster.get_node_from_key(stream)  # type: ignore[no-untyped-call]
        return node.redis_connection.pipeline(transaction=False)
    return r.pipeline(transaction=False)
