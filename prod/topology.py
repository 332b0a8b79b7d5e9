"""Start, stop and look at the production topology on one machine (docs/production.md).

::

    127.0.0.1:8080  HAProxy (cookie PINGAN_SRV, health checks on /livez)
        -> 127.0.0.1:8061-8063  three gunicorn processes, one worker each (prod.wsgi:application)
        -> Redis: a Cluster on 7100-7105 (3 primaries, 3 replicas)  [PROD_REDIS=cluster, the default]
                  or one server on 7200                              [PROD_REDIS=single]
        -> PostgreSQL on 5432, database pingan_prod

Every process is started in its own session, its pid kept under ``var/prod/run``, its output under
``var/prod/log``; :meth:`Topology.down` stops what those pid files name (after checking each is still the
process it started). PostgreSQL is the machine's server (shared with the tests' database): ``up`` starts
it when it is down and ``down`` leaves it running.

Tests and benchmarks use :class:`Topology` with their own :class:`Layout` (other ports, another folder and
database), so they never touch a topology started by ``make prod-up``.
"""

from __future__ import annotations

import base64
import contextlib
import csv
import io
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Literal, cast

import redis
from redis.backoff import NoBackoff
from redis.crc import key_slot
from redis.retry import Retry

from settings import PROJECT_ROOT
from urls import URL

RedisMode = Literal["cluster", "single"]
HAPROXY_TEMPLATE = Path(__file__).resolve().parent / "haproxy.cfg"
ENSURE_PROD = PROJECT_ROOT / "scripts" / "ensure-prod.sh"
COOKIE = "PINGAN_SRV"  # HAProxy's stickiness cookie (prod/haproxy.cfg)
SERVER_HEADER = "X-Pingan-Server"  # which app process answered (prod/haproxy.cfg)
POLL_S = 0.05  # readiness is polled: each poll is a real check of the awaited condition
APP_READY_S = 120.0  # an app process imports Dash, opens the database and Redis, builds the district
REDIS_READY_S = 30.0
STOP_S = 15.0  # SIGTERM's grace before SIGKILL (gunicorn's own graceful timeout is 5 s)


def wait_until(condition: Callable[[], bool], timeout_s: float, what: str,
               failed: Callable[[], str | None] | None = None) -> float:
    """Poll ``condition`` until it holds; returns the seconds it took. ``failed`` may name a reason to give up
    early (a process that exited). Raises TimeoutError at the deadline."""
    started = time.monotonic()
    deadline = started + timeout_s
    while True:
        if condition():
            return time.monotonic() - started
        reason = failed() if failed else None
        if reason:
            raise RuntimeError(f"{what}: {reason}")
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what}: not within {timeout_s:.0f} s")
        time.sleep(POLL_S)


@dataclass(frozen=True)
class Layout:
    """Where every part listens and keeps its state. The defaults are ``make prod-up``'s."""

    root: Path = PROJECT_ROOT / "var" / "prod"
    host: str = "127.0.0.1"
    proxy_port: int = 8080
    app_ports: tuple[int, ...] = (8061, 8062, 8063)
    cluster_ports: tuple[int, ...] = (7100, 7101, 7102, 7103, 7104, 7105)
    single_port: int = 7200
    redis_mode: RedisMode = "cluster"
    database: str = "pingan_prod"
    # Point at real servers instead of starting local ones (docs/production.md): a REDIS_URL, a DATABASE_URL.
    external_redis_url: str = ""
    external_database_url: str = ""
    simulator: bool = False  # app 1 also runs the event simulator (the others never do)
    cluster_node_timeout_ms: int = 2000

    @classmethod
    def from_env(cls, **overrides: object) -> Layout:
        """``PROD_REDIS`` (cluster | single), ``PROD_REDIS_URL``, ``PROD_DATABASE_URL``, ``PROD_SIMULATOR``."""
        mode = os.environ.get("PROD_REDIS", "cluster").strip() or "cluster"
        if mode not in ("cluster", "single"):
            raise ValueError(f"PROD_REDIS must be cluster or single, got {mode!r}")
        layout = cls(redis_mode=cast(RedisMode, mode),
                     external_redis_url=os.environ.get("PROD_REDIS_URL", "").strip(),
                     external_database_url=os.environ.get("PROD_DATABASE_URL", "").strip(),
                     simulator=os.environ.get("PROD_SIMULATOR", "0").strip().lower() in {"1", "true", "yes", "on"})
        return replace(layout, **overrides)  # type: ignore[arg-type]  # checked by the dataclass's fields

    @property
    def redis_ports(self) -> tuple[int, ...]:
        """The local Redis nodes this layout starts (none when pointed at a real one)."""
        if self.external_redis_url:
            return ()
        return self.cluster_ports if self.redis_mode == "cluster" else (self.single_port,)

    @property
    def redis_url(self) -> str:
        if self.external_redis_url:
            return self.external_redis_url
        if self.redis_mode == "cluster":  # the form bus/connection.py agreed on; any primaries seed the client
            return "redis+cluster://" + ",".join(f"{self.host}:{p}" for p in self.cluster_ports[:3])
        return f"redis://{self.host}:{self.single_port}/0"

    @property
    def proxy_url(self) -> str:
        return f"http://{self.host}:{self.proxy_port}"

    def app_url(self, i: int) -> str:
        return f"http://{self.host}:{self.app_ports[i - 1]}"

    @property
    def apps(self) -> range:
        """App numbers, 1-based as their names (app1, app2, ...) and their cookie values."""
        return range(1, len(self.app_ports) + 1)

    @property
    def run_dir(self) -> Path:
        return self.root / "run"

    @property
    def log_dir(self) -> Path:
        return self.root / "log"


@dataclass
class Topology:
    """The parts of one :class:`Layout`: start and stop them, break and mend them, say how they are."""

    layout: Layout = field(default_factory=Layout.from_env)
    out: Callable[[str], None] = print
    # Children this Python process started: reaped when they die, so a dead one is not taken for a live zombie.
    children: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)
    database_url: str = ""

    # -- the whole topology ----------------------------------------------------------------------------

    def up(self, fresh_database: bool = False, redis_only: bool = False) -> float:
        """Start every part not already running and wait until the proxy serves; returns the seconds taken."""
        started = time.monotonic()
        lay = self.layout
        for folder in (lay.root, lay.run_dir, lay.log_dir):
            folder.mkdir(parents=True, exist_ok=True)
        self.start_redis()
        if redis_only:
            return time.monotonic() - started
        self.ensure_database(fresh=fresh_database)
        self.migrate()
        self.ensure_admin()
        # App 1 alone first: a first start seeds tables (mediators, ...) with read-then-insert, which two
        # processes doing at once on an empty database can collide on. Then the others together.
        self.start_app(1, wait_proxy=False)
        others = [i for i in lay.apps if i != 1]
        for i in others:
            self.start_app(i, wait=False)
        for i in others:
            self.wait_app(i)
        self.start_proxy()
        took = time.monotonic() - started
        self.out(f"prod: up in {took:.1f} s -> {lay.proxy_url}  (python -m prod status; python -m prod down)")
        return took

    def down(self, wipe: bool = False) -> float:
        """Stop the proxy, the apps and the Redis nodes (whatever their pid files name); returns the seconds.
        ``wipe`` also deletes their state (Redis data, keys, logs) and drops the database."""
        started = time.monotonic()
        names = self._pid_names()
        # The proxy first (no new requests), then the apps, then Redis (the apps' last writes land): each group
        # stopped together.
        groups = [[n for n in names if n == "haproxy"], [n for n in names if n.startswith("app")],
                  [n for n in names if n.startswith("redis-")]]
        took_each = []
        for group in filter(None, groups):
            group_started = time.monotonic()
            self._stop(*group)
            took_each.append(f"{', '.join(group)} ({time.monotonic() - group_started:.1f} s)")
        if wipe:
            if not self.layout.external_database_url:
                self._ensure_prod("database", self.layout.database, "--fresh")
            shutil.rmtree(self.layout.root, ignore_errors=True)
        took = time.monotonic() - started
        self.out(f"prod: stopped {', '.join(took_each) or 'nothing (nothing was running)'}; {took:.1f} s in all"
                 + ("; state wiped" if wipe else ""))
        return took

    # -- Redis ---------------------------------------------------------------------------------------------

    def start_redis(self) -> None:
        lay = self.layout
        if lay.external_redis_url:
            self.out(f"redis: {lay.external_redis_url} (external)")
            return
        for port in lay.redis_ports:
            self._start_redis_node(port, wait=False)
        for port in lay.redis_ports:
            self._wait_redis_node(port)
        if lay.redis_mode == "cluster":
            self._form_cluster()
            took = self.wait_cluster_ok()
            self.out(f"redis: cluster on {_ports(lay.cluster_ports)}, cluster_state:ok on every node "
                     f"({took:.1f} s), primaries {_ports(self.primaries())}")
        else:
            self.out(f"redis: single server on {lay.single_port} (appendfsync always)")

    def redis_node_ports(self) -> tuple[int, ...]:
        """Every local Redis node's port."""
        return self.layout.redis_ports

    def primaries(self) -> list[int]:
        """The ports of the nodes that are primaries now (of a single server: that one)."""
        if self.layout.redis_mode == "single":
            return list(self.layout.redis_ports)
        return sorted(port for port, (role, _) in self.cluster_roles().items() if role == "primary")

    def cluster_roles(self) -> dict[int, tuple[str, int | None]]:
        """port -> (primary | replica | failed, the primary's port for a replica), as a live node sees it."""
        for port in self.layout.cluster_ports:
            try:
                text = cast(str, self._cluster(port, "NODES"))
            except redis.RedisError:
                continue
            return _parse_cluster_nodes(text)
        return {}

    def primary_of(self, key: str) -> int:
        """The port of the primary holding ``key``'s slot now."""
        if self.layout.redis_mode == "single":
            return self.layout.single_port
        slot = key_slot(key.encode())
        for port in self.layout.cluster_ports:
            try:
                ranges = cast(list[list[object]], self._cluster(port, "SLOTS"))
            except redis.RedisError:
                continue
            for first, last, owner, *_ in ranges:  # [first slot, last slot, [host, port, id], replicas...]
                if int(str(first)) <= slot <= int(str(last)):
                    return int(str(cast(list[object], owner)[1]))
        raise RuntimeError(f"no live node knows who holds slot {slot} ({key!r})")

    def kill_redis_primary_of(self, key: str) -> float:
        """``kill -9`` the primary holding ``key``'s slot; returns the moment of the kill (``time.monotonic()``).
        The node's port is :meth:`primary_of` before the kill."""
        port = self.primary_of(key)
        pid = int(str(cast(Mapping[str, object], self._client(port).info("server"))["process_id"]))
        os.kill(pid, signal.SIGKILL)
        at = time.monotonic()
        self._reap(f"redis-{port}")
        return at

    def restart_redis_node(self, port: int) -> float:
        """Start a stopped node again with its data; waits until it serves (a Cluster node: cluster_state:ok
        and, back as a replica, its link to its primary up). Returns the seconds taken."""
        started = time.monotonic()
        self._start_redis_node(port, wait=True)
        if self.layout.redis_mode == "cluster":
            wait_until(lambda: self._node_settled(port), REDIS_READY_S, f"redis {port} rejoining the cluster")
        return time.monotonic() - started

    def wait_cluster_ok(self, timeout_s: float = REDIS_READY_S) -> float:
        """Until every live node says cluster_state:ok and every replica's link to its primary is up."""
        return wait_until(lambda: all(self._node_settled(p) for p in self.layout.cluster_ports
                                      if self._alive(f"redis-{p}")),
                          timeout_s, "the Redis Cluster settling")

    def _start_redis_node(self, port: int, wait: bool) -> None:
        name = f"redis-{port}"
        if self._alive(name):
            return
        self._claim(port, *([port + 10000] if self.layout.redis_mode == "cluster" else []))  # + its cluster bus
        node_dir = self.layout.root / "redis" / str(port)
        node_dir.mkdir(parents=True, exist_ok=True)
        conf = node_dir / "redis.conf"
        conf.write_text(self._redis_conf(port, node_dir))
        # Redis retitles itself "redis-server 127.0.0.1:<port>": the port identifies it either way.
        self._spawn(name, [_which("redis-server"), str(conf)], cwd=node_dir, marker=("redis-server", str(port)))
        if wait:
            self._wait_redis_node(port)

    def _wait_redis_node(self, port: int) -> None:
        # Our process answering, not merely something on the port.
        wait_until(lambda: self._alive(f"redis-{port}") and self._pings(port), REDIS_READY_S,
                   f"redis {port} answering", failed=lambda: self._exited(f"redis-{port}"))

    def _redis_conf(self, port: int, node_dir: Path) -> str:
        lines = [
            f"port {port}",
            f"bind {self.layout.host}",
            f"dir {node_dir}",
            "daemonize no",
            'save ""',
            # A write is on disk before it is acknowledged (what the embedded Redis does: bus/connection.py).
            "appendonly yes",
            "appendfsync always",
            # A replica (re)joining is sent its primary's data at once, not after Redis's default 5 s wait for
            # other replicas to share the transfer: a restarted node is a working replica again sooner.
            "repl-diskless-sync-delay 0",
        ]
        if self.layout.redis_mode == "cluster":
            lines += ["cluster-enabled yes",
                      "cluster-config-file nodes.conf",
                      # A dead primary is noticed in 2 s and replaced 3-4 s after its death
                      # (../shared/notes/cluster-spike.md: 6.5-9 s at Redis's default 5 s).
                      f"cluster-node-timeout {self.layout.cluster_node_timeout_ms}"]
        return "\n".join(lines) + "\n"

    def _form_cluster(self) -> None:
        """``redis-cli --cluster create`` on nodes that know no cluster yet; nodes that do rejoin by themselves."""
        ports = self.layout.cluster_ports
        assigned = [int(_info_fields(cast(str, self._cluster(p, "INFO")))
                        .get("cluster_slots_assigned", "0")) for p in ports]
        if all(assigned):
            return
        if any(assigned):
            raise RuntimeError(f"Redis nodes {_ports(ports)} are half in a cluster ({assigned} slots known); "
                               "python -m prod down --wipe starts them afresh")
        log = self.layout.log_dir / "redis-cluster-create.log"
        with log.open("ab") as sink:
            subprocess.run([_which("redis-cli"), "--cluster", "create", *(f"{self.layout.host}:{p}" for p in ports),
                            "--cluster-replicas", "1", "--cluster-yes"], check=True, stdout=sink,
                           stderr=subprocess.STDOUT, timeout=60)

    def _node_settled(self, port: int) -> bool:
        try:
            client = self._client(port)
            if _info_fields(cast(str, self._cluster(port, "INFO"))).get("cluster_state") != "ok":
                return False
            replication = cast(Mapping[str, object], client.info("replication"))
            if replication.get("role") != "master" and replication.get("master_link_status") != "up":
                return False
            # Its view agrees: right after --cluster create, cluster_state is ok before every node has heard
            # which nodes became replicas. Every node known, every live primary holding slots, none failing.
            rows = [line.split() for line in cast(str, self._cluster(port, "NODES")).splitlines() if line.strip()]
            if len(rows) != len(self.layout.cluster_ports):
                return False
            for row in rows:
                flags = set(row[2].split(","))
                node_port = int(row[1].split("@")[0].rsplit(":", 1)[1])
                if not self._alive(f"redis-{node_port}"):
                    continue  # a node stopped on purpose (a failover drill) is waited for by its restart
                if flags & {"fail", "fail?", "handshake", "noaddr"} or ("master" in flags and len(row) <= 8):
                    return False
            return True
        except redis.RedisError:
            return False

    def _pings(self, port: int) -> bool:
        try:
            return bool(self._client(port).ping())
        except redis.RedisError:
            return False

    def _cluster(self, port: int, subcommand: str) -> object:
        """``CLUSTER <subcommand>`` on one node, its raw reply (redis-py leaves execute_command untyped)."""
        return self._client(port).execute_command("CLUSTER", subcommand)  # type: ignore[no-untyped-call]

    def _client(self, port: int) -> redis.Redis:
        # No retries: a dead node must answer "refused" at once (redis-py's default retries with back-off would
        # make every look at a dead node, and so every poll of a failover, cost about a second).
        return redis.Redis(host=self.layout.host, port=port, decode_responses=True, socket_timeout=2,
                           socket_connect_timeout=1, retry=Retry(NoBackoff(), 0))

    # -- PostgreSQL ------------------------------------------------------------------------------------------

    def ensure_database(self, fresh: bool = False) -> str:
        """The local PostgreSQL started and the layout's database made (``fresh``: dropped first); its URL."""
        if self.layout.external_database_url:
            self.database_url = self.layout.external_database_url
        else:
            url = self._ensure_prod("database", self.layout.database, *(["--fresh"] if fresh else []))
            self.database_url = url.replace("postgresql://", "postgresql+psycopg://", 1)
            self.layout.root.mkdir(parents=True, exist_ok=True)
            self._database_file().write_text(self.database_url + "\n")  # for status, start_app of a later command
            self._database_file().chmod(0o600)
        self.out(f"postgres: {_safe(self.database_url)}")
        return self.database_url

    def migrate(self) -> None:
        """Bring the database to the newest revision once, before any app process starts (store/migrate.py)."""
        result = subprocess.run([sys.executable, "-m", "store.migrate"], cwd=PROJECT_ROOT, env=self._env(1),
                                capture_output=True, text=True, timeout=300)
        if result.returncode != 0:
            raise RuntimeError(f"migration failed:\n{result.stderr[-3000:]}")
        self.out(f"migrations: {result.stdout.strip().rsplit(': ', 1)[-1]}")

    def ensure_admin(self) -> None:
        """On a first start, the administrator account, its one-time password printed (as ``make run`` does)."""
        from auth.users import UserStore
        from store.db import make_engine

        engine = make_engine(self._url(), migrate=False)
        try:
            password = UserStore(engine).ensure_admin()
        finally:
            engine.dispose()
        if password:
            self.out(f"  First start: administrator account created.  username: admin  password: {password}")

    def restart_postgres(self) -> float:
        """Restart the local PostgreSQL server and wait until the database answers; returns the seconds."""
        started = time.monotonic()
        version = subprocess.run(["pg_lsclusters", "-h"], capture_output=True, text=True, check=True
                                 ).stdout.split()[0]
        sudo = [] if os.geteuid() == 0 else ["sudo", "-n"]
        subprocess.run([*sudo, "pg_ctlcluster", version, "main", "restart"], check=True, capture_output=True,
                       timeout=120)
        wait_until(self._database_answers, 60, "PostgreSQL answering")
        return time.monotonic() - started

    def _database_answers(self) -> bool:
        import psycopg

        try:
            with psycopg.connect(self._url().replace("postgresql+psycopg://", "postgresql://", 1),
                                 connect_timeout=1) as conn:
                conn.execute("SELECT 1")
            return True
        except psycopg.Error:
            return False

    def _url(self) -> str:
        """The database's URL: this object's, the one ``up`` kept, or (first) made now."""
        if not self.database_url and self.layout.external_database_url:
            self.database_url = self.layout.external_database_url
        if not self.database_url and self._database_file().exists():
            self.database_url = self._database_file().read_text().strip()
        if not self.database_url:
            self.ensure_database()
        return self.database_url

    def _database_file(self) -> Path:
        return self.layout.root / "database.url"

    # -- the app processes -------------------------------------------------------------------------------

    def start_app(self, i: int, wait: bool = True, wait_proxy: bool = True) -> float:
        """Start app process ``i`` (1-based) if it is not running; with ``wait``, until its /healthz answers
        200 and (``wait_proxy``, when the proxy runs) HAProxy has it UP. Returns the seconds taken."""
        started = time.monotonic()
        name = f"app{i}"
        if not self._alive(name):
            port = self.layout.app_ports[i - 1]
            self._claim(port)
            (self.layout.root / name).mkdir(parents=True, exist_ok=True)
            self._spawn(name, [
                sys.executable, "-m", "gunicorn", "prod.wsgi:application",
                # One worker: Socket.IO keeps its connections in the process; more processes, not more workers.
                "-w", "1", "--threads", "64", "--worker-class", "gthread",
                "-b", f"{self.layout.host}:{port}",
                "--graceful-timeout", "5",  # open WebSockets would otherwise hold a stop for 30 s
                "--timeout", "60",
                "--name", f"pingan-{name}",
                # Its own control socket (gunicorn's default is one path per user, which three masters would share).
                "--control-socket", str(self.layout.run_dir / f"{name}.ctl"),
                "--error-logfile", "-",
            ], cwd=PROJECT_ROOT, env=self._env(i), marker=("gunicorn", f":{port}"))
        if wait:
            self.wait_app(i)
            if wait_proxy and self._alive("haproxy"):
                self.wait_backend(i, "UP")
        return time.monotonic() - started

    def wait_app(self, i: int, timeout_s: float = APP_READY_S) -> float:
        """Until app ``i``'s own /healthz answers 200; raises early, with its log's tail, if it exits."""
        took = wait_until(lambda: self._alive(f"app{i}") and _status(self.layout.app_url(i) + URL.HEALTHZ) == 200,
                          timeout_s,
                          f"app{i} answering /healthz", failed=lambda: self._exited(f"app{i}"))
        self.out(f"app{i}: {self.layout.app_url(i)} ready in {took:.1f} s")
        return took

    def kill_app(self, i: int) -> float:
        """``kill -9`` app process ``i`` (gunicorn's master and its worker); returns the moment (monotonic)."""
        name = f"app{i}"
        pid = self._pid(name)
        if pid is None:
            raise RuntimeError(f"{name} is not running")
        os.killpg(pid, signal.SIGKILL)  # its own session: the master and its worker together
        at = time.monotonic()
        self._reap(name)
        return at

    def _env(self, i: int) -> dict[str, str]:
        """App ``i``'s environment: the shared secrets and servers, its own state folder."""
        lay = self.layout
        env = dict(os.environ)
        env.update(self._secrets())
        env.update({
            "REDIS_URL": lay.redis_url,
            "DATABASE_URL": self._url(),
            # Each process its own folder (nothing in it is shared state); photos in one place for all.
            "VAR_DIR": str(lay.root / f"app{i}"),
            "MEDIA_DIR": env.get("MEDIA_DIR") or str(lay.root / "media"),
            "SIMULATOR": "1" if lay.simulator and i == 1 else "0",
            "BACKFILL": "0",  # wsgi.py never backfills; said here so a reader need not check
            # Each process would start its own Janus gateway and camera feeds: the bureau's gateway is
            # VIDEO_GATEWAY_URL (docs/video.md), which this environment passes through when set.
            "VIDEO": env.get("VIDEO", "1") if env.get("VIDEO_GATEWAY_URL") else "0",
            "HOST": lay.host,
            "PORT": str(lay.app_ports[i - 1]),
            "PYTHONUNBUFFERED": "1",
        })
        return env

    def _secrets(self) -> dict[str, str]:
        """SECRET_KEY and PII_KEY, made once and kept in ``var/prod/secrets.env`` (0600): every process signs
        sessions and seals personal data with the same keys, so a cookie works on each of them."""
        path = self.layout.root / "secrets.env"
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            path.touch(mode=0o600)
            path.write_text(f"SECRET_KEY={base64.urlsafe_b64encode(os.urandom(48)).decode()}\n"
                            f"PII_KEY={base64.urlsafe_b64encode(os.urandom(32)).decode()}\n")
        pairs = (line.split("=", 1) for line in path.read_text().splitlines() if "=" in line)
        return {name: value for name, value in pairs}

    # -- HAProxy -----------------------------------------------------------------------------------------

    def render_haproxy(self) -> Path:
        """Write ``var/prod/haproxy.cfg`` from prod/haproxy.cfg and check it with ``haproxy -c``."""
        lay = self.layout
        servers = "\n".join(f"    server app{i} {lay.host}:{lay.app_ports[i - 1]} cookie app{i}" for i in lay.apps)
        text = HAPROXY_TEMPLATE.read_text()
        for name, value in {"stats_socket": str(self._stats_socket()), "bind": f"{lay.host}:{lay.proxy_port}",
                            "livez": URL.LIVEZ, "servers": servers}.items():
            text = text.replace("{{" + name + "}}", value)
        if "{{" in text:
            raise RuntimeError(f"{HAPROXY_TEMPLATE}: a field left unfilled")
        path = lay.root / "haproxy.cfg"
        path.write_text(text)
        check = subprocess.run([_which("haproxy"), "-c", "-q", "-f", str(path)], capture_output=True, text=True)
        if check.returncode != 0:
            raise RuntimeError(f"haproxy -c -f {path}:\n{check.stdout}{check.stderr}")
        return path

    def start_proxy(self) -> float:
        """Start HAProxy (if not running) and wait until every running app is UP behind it."""
        started = time.monotonic()
        if not self._alive("haproxy"):
            self._claim(self.layout.proxy_port)
            config = self.render_haproxy()
            self._spawn("haproxy", [_which("haproxy"), "-db", "-f", str(config)], cwd=self.layout.root,
                        marker=("haproxy", str(config)))
        for i in self.layout.apps:
            if self._alive(f"app{i}"):
                self.wait_backend(i, "UP")
        wait_until(lambda: _status(self.layout.proxy_url + URL.HEALTHZ) == 200, 10, "the proxy's /healthz",
                   failed=lambda: self._exited("haproxy"))
        self.out(f"haproxy: {self.layout.proxy_url} -> {', '.join(f'app{i}' for i in self.layout.apps)} "
                 f"(cookie {COOKIE}, checks on {URL.LIVEZ} every 500 ms)")
        return time.monotonic() - started

    def backend_states(self) -> dict[str, str]:
        """app name -> HAProxy's view of it (UP, DOWN, "UP 1/2", MAINT, ...); empty when HAProxy is not up."""
        try:
            stats = self._haproxy("show stat")
        except OSError:
            return {}
        rows = csv.DictReader(io.StringIO(stats.lstrip("# ")))
        return {row["svname"]: row["status"] for row in rows
                if row.get("pxname") == "apps" and row.get("svname") not in ("FRONTEND", "BACKEND")}

    def wait_backend(self, i: int, state: str, timeout_s: float = 15.0) -> float:
        """Until HAProxy reports app ``i`` in ``state`` (UP or DOWN); returns the seconds it took."""
        return wait_until(lambda: self.backend_states().get(f"app{i}") == state, timeout_s,
                          f"HAProxy marking app{i} {state}")

    def _stats_socket(self) -> Path:
        return self.layout.run_dir / "haproxy.sock"

    def _haproxy(self, command: str) -> str:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as conn:
            conn.settimeout(2)
            conn.connect(str(self._stats_socket()))
            conn.sendall(command.encode() + b"\n")
            chunks = []
            while chunk := conn.recv(65536):
                chunks.append(chunk)
        return b"".join(chunks).decode()

    # -- looking at it -----------------------------------------------------------------------------------

    def status(self) -> list[str]:
        """One line per part: up or down, and for Redis which node is primary."""
        lay = self.layout
        lines = []
        states = self.backend_states()
        proxy = "up" if self._alive("haproxy") else "down"
        behind = ", ".join(f"{name} {state}" for name, state in states.items())
        lines.append(f"haproxy   {proxy:5} {lay.proxy_url}" + (f"  [{behind}]" if behind else ""))
        for i in lay.apps:
            alive = self._alive(f"app{i}")
            health = _status(lay.app_url(i) + URL.HEALTHZ) if alive else None
            state = "up" if health == 200 else ("down" if not alive else f"sick ({health or 'no answer'})")
            lines.append(f"app{i}      {state:5} {lay.app_url(i)}" + (" (simulator)" if lay.simulator and i == 1
                                                                        else ""))
        if lay.external_redis_url:
            lines.append(f"redis     external {_safe(lay.external_redis_url)}")
        elif lay.redis_mode == "cluster":
            roles = self.cluster_roles()
            for port in lay.cluster_ports:
                alive = self._alive(f"redis-{port}") or self._pings(port)
                role, primary = roles.get(port, ("unknown", None))
                what = {"primary": "primary", "replica": f"replica of {primary}", "failed": "failed"}.get(role, role)
                lines.append(f"redis     {'up' if alive else 'down':5} {lay.host}:{port}  {what if alive else ''}")
        else:
            alive = self._pings(lay.single_port)
            lines.append(f"redis     {'up' if alive else 'down':5} {lay.host}:{lay.single_port}  single server")
        if lay.external_database_url or self.database_url or self._database_file().exists():
            url = self._url()  # never makes one here: one of the three above is known
            lines.append(f"postgres  {'up' if self._database_answers() else 'down':5} {_safe(url)}")
        else:
            lines.append("postgres  -     (no database yet: python -m prod up makes it)")
        return lines

    # -- processes ----------------------------------------------------------------------------------------

    def _claim(self, *ports: int) -> None:
        """Refuse to start on a port something else listens on (it would answer our readiness checks)."""
        for port in ports:
            with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
                probe.settimeout(0.5)
                if probe.connect_ex((self.layout.host, port)) == 0:
                    raise RuntimeError(f"port {port} on {self.layout.host} is in use by another process "
                                       "(python -m prod status; ss -ltnp)")

    def _spawn(self, name: str, argv: list[str], cwd: Path, marker: tuple[str, ...],
               env: Mapping[str, str] | None = None) -> None:
        """Start ``argv`` in its own session, output to ``var/prod/log/<name>.log``; ``marker``: what its command
        line must contain for a pid file to still name it (pids are reused)."""
        log = (self.layout.log_dir / f"{name}.log").open("ab")
        with log:
            # Its own session: it outlives this command, and a stop reaches its children (gunicorn's worker).
            process = subprocess.Popen(argv, cwd=cwd, env=dict(env) if env is not None else None,
                                       stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                                       start_new_session=True)
        self.children[name] = process
        self._pid_file(name).write_text("\n".join([str(process.pid), *marker]) + "\n")

    def _pid_file(self, name: str) -> Path:
        return self.layout.run_dir / f"{name}.pid"

    def _pid_names(self) -> list[str]:
        return sorted(p.stem for p in self.layout.run_dir.glob("*.pid")) if self.layout.run_dir.exists() else []

    def _pid(self, name: str) -> int | None:
        """The pid in ``name``'s pid file, if that process is alive and still the one started (its command)."""
        self._reap(name)
        if name in self.children:
            return self.children[name].pid
        try:
            pid_text, *marker = self._pid_file(name).read_text().splitlines()
            pid = int(pid_text)
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except (OSError, ValueError):
            return None
        return pid if all(part in cmdline for part in marker) and state != "Z" else None

    def _alive(self, name: str) -> bool:
        self._reap(name)
        if name in self.children:  # ours and not exited (its command line may not be exec'd yet)
            return True
        return self._pid(name) is not None

    def _exited(self, name: str) -> str | None:
        """Why ``name`` is gone (with its log's tail), or None while it runs."""
        if self._alive(name):
            return None
        tail = _tail(self.layout.log_dir / f"{name}.log")
        return f"{name} exited; the end of {self.layout.log_dir / (name + '.log')}:\n{tail}"

    def _reap(self, name: str) -> None:
        process = self.children.get(name)
        if process is not None and process.poll() is not None:
            del self.children[name]

    def _stop(self, *names: str) -> None:
        """SIGTERM each (Redis writes its AOF and exits; gunicorn ends its worker), SIGKILL what is left after
        STOP_S; forget their pid files."""
        pids = {name: pid for name in names if (pid := self._pid(name)) is not None}
        for pid in pids.values():
            with contextlib.suppress(ProcessLookupError):
                os.killpg(pid, signal.SIGTERM)
        try:
            wait_until(lambda: not any(self._alive(name) for name in pids), STOP_S, f"{', '.join(pids)} stopping")
        except TimeoutError:
            for name, pid in pids.items():
                if self._alive(name):
                    with contextlib.suppress(ProcessLookupError):
                        os.killpg(pid, signal.SIGKILL)
            wait_until(lambda: not any(self._alive(name) for name in pids), 5, f"{', '.join(pids)} killed")
        for name in names:
            self._pid_file(name).unlink(missing_ok=True)

    def _ensure_prod(self, *args: str) -> str:
        result = subprocess.run(["bash", str(ENSURE_PROD), *args], capture_output=True, text=True, timeout=600)
        if result.returncode != 0:
            raise RuntimeError(f"scripts/ensure-prod.sh {' '.join(args)}:\n{result.stderr[-2000:]}")
        return result.stdout.strip().splitlines()[-1] if result.stdout.strip() else ""


def _parse_cluster_nodes(text: str) -> dict[int, tuple[str, int | None]]:
    """CLUSTER NODES -> port -> (primary | replica | failed, the primary's port for a replica)."""
    rows = [line.split() for line in text.splitlines() if line.strip()]
    port_of = {row[0]: int(row[1].split("@")[0].rsplit(":", 1)[1]) for row in rows}
    roles: dict[int, tuple[str, int | None]] = {}
    for row in rows:
        flags = set(row[2].split(","))
        port = port_of[row[0]]
        if "fail" in flags or "fail?" in flags:
            roles[port] = ("failed", None)
        elif "master" in flags:
            roles[port] = ("primary", None)
        else:
            roles[port] = ("replica", port_of.get(row[3]))
    return roles


def _info_fields(text: str) -> dict[str, str]:
    return dict(line.split(":", 1) for line in text.splitlines() if ":" in line)


def _status(url: str) -> int | None:
    """The HTTP status of a GET (None when nothing answers)."""
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return int(response.status)
    except urllib.error.HTTPError as exc:
        return int(exc.code)
    except OSError:
        return None


def _which(program: str) -> str:
    found = shutil.which(program) or shutil.which(program, path="/usr/sbin:/usr/bin")
    if not found:
        raise RuntimeError(f"{program} is not installed: run scripts/ensure-prod.sh")
    return found


def _tail(path: Path, lines: int = 30) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


def _ports(ports: Iterable[int]) -> str:
    return ",".join(str(p) for p in ports)


def _safe(url: str) -> str:
    """A URL without its password."""
    if "@" not in url or "://" not in url:
        return url
    scheme, rest = url.split("://", 1)
    credentials, host = rest.rsplit("@", 1)
    return f"{scheme}://{credentials.split(':', 1)[0]}:***@{host}"
