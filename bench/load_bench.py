"""HTTP load through the production topology with locust: `make prod-load` (`python -m bench load`).

The topology of `make prod-up` on its own ports, folder and database (HAProxy :8280 -> 3 gunicorn processes
:8281-8283 -> a Redis Cluster on 7250-7255 -> PostgreSQL, database pingan_load). Before the run: 100 duty officer
and 20 chief accounts (one person each), one patrol unit per officer and LOAD_INCIDENTS incidents written to the
Cluster's inbound streams and waited for until the consumers have kept them; field units (the simulator's, hurried
600x) answer every instruction so officers can close what they sent. Then locust runs bench/locustfile.py headless
(100 officers, 20 chiefs) and this prints, per request type, the count, failures and p50 / p95 / p99, requests/s,
the failures by kind, the CPU of the app processes, HAProxy and locust itself (one machine: the load generator
shares the cores with what it measures), what the database holds afterwards and when HAProxy took apps out. The
topology is torn down at the end, whatever happens; var/bench-load keeps locust's CSV and log and the topology's logs.
Percentiles are locust's (kept in buckets: two significant digits above 100 ms).

Environment: LOAD_OFFICERS (100), LOAD_CHIEFS (20), LOAD_SECONDS (60), LOAD_SPAWN_RATE (20 users/s),
LOAD_INCIDENTS (default: enough for every officer to dispatch one every 2 s).
"""

from __future__ import annotations

import csv
import os
import re
import resource
import shutil
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import psutil
import redis
from sqlalchemy import Engine, func, select

from auth.users import UserError, UserStore
from bus import keys
from bus.connection import connect
from bus.produce import send
from prod.topology import Layout, Topology, wait_until
from settings import PROJECT_ROOT
from simulation.field_units import FieldUnits
from store.db import incidents, instructions, make_engine
from testkit.accounts import BENCH_PASSWORD
from testkit.entries import SEAT, incident, unit

OFFICERS = int(os.environ.get("LOAD_OFFICERS", "100"))
CHIEFS = int(os.environ.get("LOAD_CHIEFS", "20"))
SECONDS = int(os.environ.get("LOAD_SECONDS", "60"))
SPAWN_RATE = float(os.environ.get("LOAD_SPAWN_RATE", "20"))
# An officer's loop takes 4 s and more (think times, the unit's answer): one incident per 2 s each is plenty.
INCIDENTS = int(os.environ.get("LOAD_INCIDENTS", str(OFFICERS * SECONDS // 2 + OFFICERS)))

OUT = PROJECT_ROOT / "var" / "bench-load"  # locust's CSV and log, and the topology's logs, kept after the run
LAYOUT = Layout(root=OUT / "topology", proxy_port=8280, app_ports=(8281, 8282, 8283),
                cluster_ports=(7250, 7251, 7252, 7253, 7254, 7255), database="pingan_load")
LOCUSTFILE = Path(__file__).with_name("locustfile.py")


@dataclass
class Row:
    """One line of locust's ``_stats.csv``."""

    kind: str
    name: str
    count: int
    failures: int
    p50: str
    p95: str
    p99: str
    rps: float


def run() -> None:
    topo = Topology(LAYOUT, out=lambda line: print(f"  {line}"))
    print(f"\nHTTP load through the proxy (locust: {OFFICERS} duty officers, {CHIEFS} chiefs, {SECONDS} s; "
          "HAProxy -> 3 gunicorn processes -> Redis Cluster 3+3 -> PostgreSQL)")
    topo.down(wipe=True)
    # Every locust user signs in from this machine's one address: the per-address limit would refuse most.
    os.environ["LOGIN_PER_MINUTE"] = str(10 * (OFFICERS + CHIEFS))
    topo.up(fresh_database=True)
    halt = threading.Event()
    try:
        engine = make_engine(topo.database_url, migrate=False)
        _accounts(UserStore(engine))
        r = connect(LAYOUT.redis_url)
        field = FieldUnits(connect(LAYOUT.redis_url), speed=600)  # a result 1-3 s after the send
        field.SILENT_SHARE = field.LATE_SHARE = 0.0  # every unit answers: a silent one would read as a failure
        field.ensure_group()
        threading.Thread(target=field.run, args=(halt, 0.05), daemon=True, name="field-units").start()
        _seed(r, engine)

        out = OUT / "locust"
        out.mkdir(parents=True, exist_ok=True)
        processes = _app_processes()
        cpu_before = {name: _cpu_s(procs) for name, procs in processes.items()}
        children_before = _children_cpu_s()
        lags: list[int] = []
        sampled = threading.Event()
        threading.Thread(target=_sample_lag, args=(connect(LAYOUT.redis_url), lags, sampled), daemon=True).start()
        started = time.monotonic()
        locust = _locust(out, LAYOUT.proxy_url)
        sampled.set()
        wall = time.monotonic() - started
        cpu = {name: (_cpu_s(procs) - cpu_before[name]) / wall for name, procs in processes.items()}
        cpu["locust itself"] = (_children_cpu_s() - children_before) / wall
        rows = _rows(out / "load_stats.csv")
        if not rows:
            raise RuntimeError(f"locust wrote no statistics (exit {locust.returncode}); see {out / 'locust.log'}:\n"
                               + "\n".join((out / "locust.log").read_text(errors="replace").splitlines()[-30:]))
        _print_table(rows)
        _print_failures(out / "load_failures.csv")
        print("\n  CPU over the run (share of one core): " + ", ".join(f"{name} {share:.0%}"
                                                                       for name, share in cpu.items())
              + f"; load average after it {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
        with engine.connect() as conn:
            states: dict[str, int] = dict(conn.execute(
                select(instructions.c.state, func.count()).group_by(instructions.c.state)).all())
        print(f"  instructions in the database afterwards, by state: {states or 'none'}")
        # An instruction left short of its result: the field units' answers late, or the consumers behind on them.
        print(f"  field units' answers: {r.xlen(keys.FEEDBACK):,} sent, {len(field.due)} still due; the consumers' "
              f"lag on them (entries not yet read) during the run: max {max(lags, default=0)}, "
              f"median {sorted(lags)[len(lags) // 2] if lags else 0}")
        _print_proxy_events(LAYOUT.log_dir / "haproxy.log")
    finally:
        halt.set()
        # The logs outlive the wipe: a 503 in the table is explained by HAProxy's and the apps' logs.
        shutil.rmtree(OUT / "logs", ignore_errors=True)
        if LAYOUT.log_dir.exists():
            shutil.copytree(LAYOUT.log_dir, OUT / "logs")
        topo.down(wipe=True)


def _accounts(users: UserStore) -> None:
    """One account per person: sessions, the audit log and the idle lock are per person, as at real desks."""
    people = [(f"load-officer-{n:03d}", "duty_officer") for n in range(OFFICERS)]
    people += [(f"load-chief-{n:02d}", "chief") for n in range(CHIEFS)]
    for username, role in people:
        try:
            users.create(username, BENCH_PASSWORD, role, by="bench:load")
        except UserError as exc:
            if "exists" not in str(exc):
                raise
    print(f"  accounts: {OFFICERS} duty officers, {CHIEFS} chiefs")


def _seed(r: redis.Redis, engine: Engine) -> None:
    """Units and incidents through the ingest contract (the Cluster's inbound streams), then until kept."""
    started = time.monotonic()
    for n in range(OFFICERS):  # a few hundred metres apart around the district seat
        send(r, keys.UNITS, unit(f"PU-L{n:03d}", lon=f"{SEAT[0] + (n % 10) * 1e-3:.6f}",
                                 lat=f"{SEAT[1] + (n // 10) * 1e-3:.6f}"))
    for n in range(INCIDENTS):
        # Callers and addresses differ: one caller calling thousands of times would be a troubled household.
        send(r, keys.INCIDENTS, incident(f"LOAD-{n:05d}", caller=f"139{n:08d}",
                                         address=f"朔城区开发路{n + 1}号"))

    def kept() -> int:
        with engine.connect() as conn:
            return int(conn.execute(select(func.count()).select_from(incidents)
                                    .where(incidents.c.event_id.like("LOAD-%"))).scalar_one())

    wait_until(lambda: int(r.hlen(keys.UNIT_STATE)) >= OFFICERS and kept() >= INCIDENTS, 300,
               "the consumers keeping the seeded units and incidents")
    print(f"  seeded {OFFICERS} units and {INCIDENTS} incidents (kept in {time.monotonic() - started:.1f} s)")


def _sample_lag(r: redis.Redis, lags: list[int], halt: threading.Event) -> None:
    """Every second, how many field answers the consumers have not read yet (XINFO GROUPS' lag)."""
    while not halt.wait(1.0):
        try:
            groups = r.xinfo_groups(keys.FEEDBACK)
        except redis.RedisError:
            continue
        lags += [int(g["lag"]) for g in groups if g["name"] == keys.CONSUMER_GROUP and g.get("lag") is not None]


def _locust(out: Path, host: str) -> subprocess.CompletedProcess[bytes]:
    """locust headless; its exit code is 1 whenever a request failed, so only missing statistics are an error."""
    env = {**os.environ, "PYTHONPATH": str(PROJECT_ROOT), "LOAD_PASSWORD": BENCH_PASSWORD,
           "LOAD_OFFICERS": str(OFFICERS), "LOAD_CHIEFS": str(CHIEFS), "LOAD_INCIDENTS": str(INCIDENTS)}
    argv = [sys.executable, "-m", "locust", "-f", str(LOCUSTFILE), "--headless", "-u", str(OFFICERS + CHIEFS),
            "-r", str(SPAWN_RATE), "-t", f"{SECONDS}s", "--host", host, "--csv", str(out / "load"),
            "--only-summary", "--stop-timeout", "5", "--loglevel", "WARNING"]
    print(f"  locust -u {OFFICERS + CHIEFS} -r {SPAWN_RATE:g} -t {SECONDS}s --host {host} (log: {out / 'locust.log'})")
    with (out / "locust.log").open("wb") as log:
        return subprocess.run(argv, cwd=PROJECT_ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
                              timeout=SECONDS + 180, check=False)


def _app_processes() -> dict[str, list[psutil.Process]]:
    """Each app's gunicorn master and worker, and HAProxy, from the pid files the topology keeps."""
    found = {}
    for name in [*(f"app{i}" for i in LAYOUT.apps), "haproxy"]:
        pid = int((LAYOUT.run_dir / f"{name}.pid").read_text().split()[0])
        leader = psutil.Process(pid)
        found[name] = [leader, *leader.children(recursive=True)]
    return found


def _children_cpu_s() -> float:
    """CPU seconds of this process's finished children (locust, once it has exited)."""
    used = resource.getrusage(resource.RUSAGE_CHILDREN)
    return used.ru_utime + used.ru_stime


def _cpu_s(procs: list[psutil.Process]) -> float:
    total = 0.0
    for proc in procs:
        try:
            times = proc.cpu_times()
        except psutil.NoSuchProcess:
            continue
        total += times.user + times.system
    return total


def _rows(path: Path) -> list[Row]:
    if not path.exists():
        return []
    with path.open(newline="") as f:
        return [Row(kind=line["Type"], name=line["Name"], count=int(line["Request Count"]),
                    failures=int(line["Failure Count"]), p50=line["50%"], p95=line["95%"], p99=line["99%"],
                    rps=float(line["Requests/s"])) for line in csv.DictReader(f)]


def _print_table(rows: list[Row]) -> None:
    print("\n  | request type | count | failures | p50 ms | p95 ms | p99 ms | req/s |")
    print("  |---|---|---|---|---|---|---|")
    for row in rows:
        name = "**all requests**" if row.name == "Aggregated" else f"{row.kind} {row.name}".strip()
        print(f"  | {name} | {row.count:,} | {row.failures:,} | {row.p50} | {row.p95} | {row.p99} | {row.rps:.1f} |")


def _print_proxy_events(path: Path) -> None:
    """HAProxy taking an app out (its /healthz check failed twice) is why a whole site answers 503."""
    if not path.exists():
        return
    changes: list[str] = []
    for line in path.read_text(errors="replace").splitlines():
        # Each change is written twice, as a warning on stderr and as a log line: count it once.
        event = re.sub(r"^\[WARNING\]\s+\(\d+\)\s*:\s*", "", line.strip())
        if re.search(r" is (DOWN|UP)\b", event) and (not changes or changes[-1] != event):
            changes.append(event)
    down = [line for line in changes if " is DOWN" in line]
    if not down:
        print("  HAProxy: no app taken out during the run")
        return
    print(f"  HAProxy took an app out {len(down)} times ({sum(' is UP' in line for line in changes)} back), "
          f"every app at once {sum(' 0 active and' in line for line in down)}x (then it answers 503); first:")
    for line in down[:3]:
        print(f"    {line[:160]}")
    print(f"  logs: {OUT / 'logs'}")


def _print_failures(path: Path) -> None:
    with path.open(newline="") as f:
        failures = sorted(csv.DictReader(f), key=lambda line: -int(line["Occurrences"]))
    if not failures:
        print("\n  failures: none")
        return
    print("\n  | failed request | error | occurrences |")
    print("  |---|---|---|")
    for line in failures:
        error = re.sub(r"^\w+\((['\"])(.*)\1\)$", r"\2", line["Error"])  # CatchResponseError('HTTP 403')
        print(f"  | {line['Method']} {line['Name']} | {error} | {int(line['Occurrences']):,} |")
