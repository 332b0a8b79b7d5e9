"""Issue 9 figure: server fan-out under load, and the client count where p95 passes 1 s.

Workload: one ``python app.py`` (its consumer and push hub, threading mode) on a fresh embedded
Redis per step; N python-socketio clients speaking the push protocol (subscribe, batches, acks
over the socket) spread over several client *processes*, so the load generator is not one GIL;
a producer XADDs incidents to ``{cc}:in:incidents`` at 100 events/s for 10 s.

Assumption: the district's peak is about 10 events/s (incidents, alerts and unit fixes
together, the simulator at speed 1 stays well below); ×10 gives the 100 events/s used here.

Latency is XADD -> client received: each entry carries ``sent_at`` (the producer's clock, epoch
ms), the consumer passes it on, the client stamps ``received_at`` on arrival (same machine,
one clock). Lost: an event some client never got within the settle time. Disconnects: socket
drops seen by the clients during the run.

``python -m bench fanout`` runs the sweep; ``python -m bench.fanout_bench --clients 20`` one step.

Topology mode (issue 19), ``python -m bench fanout-prod`` (``make prod-fanout``): the production topology
(prod/topology.py) on its own ports, database and folder (``var/bench-fanout``), brought up once: HAProxy -> 3
gunicorn processes -> Redis Cluster 3+3 -> PostgreSQL. For 10 and 100 events/s the same sweep runs through the
proxy, each client with its own ``PINGAN_SRV`` cookie (round robin picks its process; the proxy's
``X-Pingan-Server`` header says which). Per step: clients and p95 per process, the processes' CPU (from /proc of
the pids in the Topology's pid files), batches re-sent for want of an ack (each process's /metrics), and each
time HAProxy's health check took a process out (its log). Then headless Chromium pages (each its own profile, map
tiles off), their latency XADD -> batch received by the page (testkit.pages.ARRIVALS): 1, 5, 10 and 20 pages alone at
10 ev/s (the pages served with p95 <= 1 s, and the CPU Chromium took: on this machine a page is rendered in
software, on the same 2 cores as the servers), then the 20 beside the clients at each rate.
"""

from __future__ import annotations

import argparse
import contextlib
import copy
import functools
import itertools
import json
import math
import os
import re
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, TYPE_CHECKING

import requests

from bench.common import percentile, report
from bus import keys
from bus.connection import EmbeddedRedis, connect
from prod.topology import COOKIE, SERVER_HEADER, Layout, Topology
from settings import PROJECT_ROOT
from testkit.accounts import BENCH_PASSWORD, BENCH_USER, add_account
from testkit.entries import incident
from testkit.live_client import LiveClient, open_client, sign_in
from testkit.pages import ARRIVALS, ARRIVALS_READ, LIVE_READY
from testkit.servers import free_port, start_server, stop_server
from urls import URL

if TYPE_CHECKING:
    from playwright.sync_api import Page

PEAK_RATE = 10  # events/s, the district's assumed peak
RATE = PEAK_RATE * 10
SECONDS = 10.0
SETTLE_S = 20.0
SWEEP = (10, 25, 50, 100, 200, 400)
CLIENTS_PER_PROCESS = 25


@dataclass
class Step:
    clients: int
    processes: int
    sent: int = 0
    latencies: list[float] = field(default_factory=list)
    lost: int = 0
    disconnects: int = 0
    failed_connects: int = 0
    app_cores: float = 0.0  # CPU the app process used while the producer ran (1.0 = one core)
    client_cores: float = 0.0  # the same for all client processes together
    idle_cores: float = 0.0  # what the whole machine left idle meanwhile (others' work included)
    rate: float = RATE
    servers: dict[str, int] = field(default_factory=dict)  # clients connected per app process
    server_latencies: dict[str, list[float]] = field(default_factory=dict)
    server_cores: dict[str, float] = field(default_factory=dict)  # CPU per app process (and the proxy)
    pages: Pages | None = None  # what Chromium pages beside the clients saw (topology mode)
    marked_down: list[str] = field(default_factory=list)  # HAProxy took a process out: "app2 (503)"
    resends: int = 0  # batches the app processes re-sent for want of an ack within 2 s (their /metrics)

    def p(self, q: float) -> float:
        return percentile(self.latencies, q)

    def too_slow(self) -> bool:
        """Not served: p95 over 1 s, or a client that could not even connect."""
        return self.p(95) > 1000 or self.failed_connects > 0

    def summary(self) -> str:
        return (f"p50 {self.p(50):6.0f}  p95 {self.p(95):6.0f}  p99 {self.p(99):6.0f} ms   "
                f"lost {self.lost} of {self.sent * self.clients}   disconnects {self.disconnects}   "
                f"CPU: app {self.app_cores:.2f}, clients {self.client_cores:.2f}, idle {self.idle_cores:.2f} cores"
                + (f"   failed connects {self.failed_connects}" if self.failed_connects else ""))


# -- one client process --------------------------------------------------------------------------

def own_server(base_url: str, signed: requests.Session) -> tuple[requests.Session, str]:
    """A copy of the signed-in session without the proxy's stickiness cookie, sent once through the proxy:
    round robin picks its app process, which the new PINGAN_SRV cookie pins (sessions live in Redis, so the
    copy is signed in on every process; one argon2 sign-in per worker, not per client)."""
    http = requests.Session()
    http.headers.update(signed.headers)
    for cookie in signed.cookies:
        if cookie.name != COOKIE:
            http.cookies.set_cookie(copy.copy(cookie))
    response = http.get(base_url + URL.HEALTHZ, timeout=10)
    return http, response.headers.get(SERVER_HEADER, "?")


def worker(base_url: str, count: int, out: IO[str], spread: bool = False) -> None:
    """Open ``count`` clients, say READY, then on ``DONE tag total`` report what each received.
    ``spread``: behind the proxy, each client on the app process round robin gives it."""
    http = sign_in(base_url, BENCH_USER, BENCH_PASSWORD)  # one signed-in session for this process's screens
    server_of: dict[int, str] = {}

    def connect_one(_: int) -> LiveClient | None:
        try:
            own, server = own_server(base_url, http) if spread else (http, "app")
            client = open_client(base_url, own)
            server_of[id(client)] = server
            return client
        except Exception:  # counted: a client that could not connect is a finding, not a crash
            return None

    with ThreadPoolExecutor(max_workers=10) as pool:
        opened = list(pool.map(connect_one, range(count)))
    clients = [c for c in opened if c is not None]
    deadline = time.monotonic() + 60
    for client in clients:
        with client.changed:
            client.changed.wait_for(lambda c=client: c.snapshots >= 1, max(0.0, deadline - time.monotonic()))
    disconnects_before = sum(c.disconnects for c in clients)
    print("READY", flush=True, file=out)
    tag, total, settle = sys.stdin.readline().split()[1:4]
    deadline = time.monotonic() + float(settle)
    prefix = f"{tag}-"  # event ids are tag-n: "FO10" must not match "FO100-..." (an earlier step's snapshot)
    latencies: dict[str, list[float]] = {}
    lost = 0
    for client in clients:
        def have_all(c: LiveClient = client) -> bool:
            return sum(1 for e in c.events if e["type"] == "incident"
                       and e["data"]["event_id"].startswith(prefix)) >= int(total)
        with client.changed:
            client.changed.wait_for(have_all, max(0.0, deadline - time.monotonic()))
            got = [(e, t) for e, t in zip(client.events, client.received_at, strict=True)
                   if e["type"] == "incident" and e["data"]["event_id"].startswith(prefix)]
        lost += int(total) - len({e["data"]["event_id"] for e, _ in got})
        latencies.setdefault(server_of[id(client)], []).extend(
            round(t - float(e["data"]["sent_at"]), 1) for e, t in got)
    print(json.dumps({"latencies": latencies, "lost": lost, "failed": count - len(clients),
                      "servers": Counter(server_of[id(c)] for c in clients),
                      "disconnects": sum(c.disconnects for c in clients) - disconnects_before}), flush=True, file=out)
    os._exit(0)  # closing hundreds of sockets one by one takes seconds; the server sees them go


# -- the parent ------------------------------------------------------------------------------------

def produce(redis_url: str, rate: float, seconds: float, tag: str) -> int:
    r = connect(redis_url)
    total = int(rate * seconds)
    started = time.perf_counter()
    for n in range(total):
        pause = started + n / rate - time.perf_counter()
        if pause > 0:
            time.sleep(pause)  # pacing the producer
        r.xadd(keys.INCIDENTS, incident(f"{tag}-{n}", sent_at=f"{time.time() * 1000:.1f}"))
    return total


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def idle_seconds() -> float:
    """Idle CPU time of the whole machine so far (Linux /proc/stat: idle + iowait)."""
    fields = Path("/proc/stat").read_text().split("\n", 1)[0].split()
    return (int(fields[4]) + int(fields[5])) / os.sysconf("SC_CLK_TCK")


def _readline(proc: subprocess.Popen[str], timeout: float) -> str:
    """One line of a worker's stdout, or an error after ``timeout`` (a hung worker must not hang us)."""
    result: list[str] = []
    reader = threading.Thread(target=lambda: result.append(proc.stdout.readline() if proc.stdout else ""),
                              daemon=True)
    reader.start()
    reader.join(timeout)
    if not result or not result[0]:
        raise RuntimeError(f"client process {proc.pid} said nothing within {timeout:.0f} s")
    return result[0]


def process_cpu(pids: list[int]) -> float:
    """CPU seconds of these processes and their children (a gunicorn master's worker), those alive."""
    children = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            if int(stat.read_text().rsplit(")", 1)[1].split()[1]) in pids:
                children.append(int(stat.parent.name))
        except (OSError, ValueError, IndexError):
            continue  # a process that ended while we looked
    total = 0.0
    for pid in {*pids, *children}:
        with contextlib.suppress(OSError):
            total += cpu_seconds(pid)
    return total


def load(base_url: str, redis_url: str, clients: int, tag: str, cpu_of: dict[str, list[int]],
         rate: float = RATE, seconds: float = SECONDS, per_process: int = CLIENTS_PER_PROCESS,
         spread: bool = False, during: Callable[[], None] | None = None) -> Step:
    """``clients`` clients over several client processes at ``base_url``, one load run of ``rate`` events/s
    XADDed to ``redis_url``; ``cpu_of``: the server processes whose CPU to measure, by name.
    ``during``: called after the settle, while the clients are still connected (pages read then)."""
    processes = max(2, math.ceil(clients / per_process))
    step = Step(clients, processes, rate=rate)
    shares = [clients // processes + (1 if n < clients % processes else 0) for n in range(processes)]
    workers = [subprocess.Popen([sys.executable, "-m", "bench.fanout_bench", "--worker", base_url, str(share),
                                 *(["--spread"] if spread else [])],
                                cwd=PROJECT_ROOT, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                stderr=subprocess.DEVNULL, text=True) for share in shares]
    try:
        for proc in workers:
            assert _readline(proc, 180).strip() == "READY"
        # Where the CPU goes while the load runs: on 2 shared cores the clients compete with the server.
        server_cpu = {name: process_cpu(pids) for name, pids in cpu_of.items()}
        client_cpu, idle = sum(cpu_seconds(p.pid) for p in workers), idle_seconds()
        started = time.perf_counter()
        step.sent = produce(redis_url, rate, seconds, tag)
        elapsed = time.perf_counter() - started
        step.server_cores = {name: (process_cpu(pids) - server_cpu[name]) / elapsed for name, pids in cpu_of.items()}
        step.app_cores = sum(v for k, v in step.server_cores.items() if k.startswith("app"))
        step.client_cores = (sum(cpu_seconds(p.pid) for p in workers) - client_cpu) / elapsed
        step.idle_cores = (idle_seconds() - idle) / elapsed
        for proc in workers:
            assert proc.stdin is not None
            proc.stdin.write(f"DONE {tag} {step.sent} {SETTLE_S}\n")
            proc.stdin.flush()
        for proc in workers:
            result = json.loads(_readline(proc, SETTLE_S + 60))
            for server, latencies in result["latencies"].items():
                step.latencies += latencies
                step.server_latencies.setdefault(server, []).extend(latencies)
            for server, count in result["servers"].items():
                step.servers[server] = step.servers.get(server, 0) + count
            step.lost += result["lost"] + result["failed"] * step.sent
            step.failed_connects += result["failed"]
            step.disconnects += result["disconnects"]
        if during:
            during()
    finally:
        for proc in workers:
            proc.kill()
            proc.wait()
    return step


def run_step(clients: int, tmp: Path, rate: float = RATE, seconds: float = SECONDS,
             per_process: int = CLIENTS_PER_PROCESS) -> Step:
    """One app process on a fresh Redis, ``clients`` clients over several processes, one load run."""
    folder = tmp / f"fanout-{clients}"
    redis_server = EmbeddedRedis(folder / "redis")
    redis_url = redis_server.start()
    port = free_port()
    app, _ = start_server(port, folder / "app", {"REDIS_URL": redis_url,
                                                 "DATABASE_URL": f"sqlite:///{folder / 'fanout.sqlite3'}"})
    try:
        return load(f"http://127.0.0.1:{port}", redis_url, clients, f"FO{clients}", {"app": [app.pid]},
                    rate, seconds, per_process)
    finally:
        stop_server(app)
        redis_server.stop()


def sweep(counts: tuple[int, ...] = SWEEP, refine: int = 2, step_at: Callable[[int], Step] | None = None,
          beyond: bool = True) -> list[Step]:
    """Grow the client count until p95 passes 1 s, run one step beyond (``beyond``: to see how it degrades),
    then halve the interval where it crossed ``refine`` times. ``step_at``: how one step runs (default: one
    app process on a fresh Redis)."""
    steps: list[Step] = []

    with tempfile.TemporaryDirectory() as tmp_dir:
        tmp = Path(tmp_dir)
        run_at = step_at or (lambda clients: run_step(clients, tmp))

        def run_one(clients: int) -> Step:
            step = run_at(clients)
            print(f"  {clients:4} clients in {step.processes} processes: {step.summary()}", flush=True)
            steps.append(step)
            return step

        crossed = None
        for n, clients in enumerate(counts):
            if run_one(clients).too_slow():
                crossed = n
                if beyond and n + 1 < len(counts):
                    run_one(counts[n + 1])
                break
        if crossed is not None:
            low, high = (counts[crossed - 1] if crossed else 0), counts[crossed]  # the first too slow: from 0
            for _ in range(refine):
                middle = (low + high) // 2
                if middle in (low, high):
                    break
                if run_one(middle).too_slow():
                    high = middle
                else:
                    low = middle
    return sorted(steps, key=lambda s: s.clients)


def run() -> None:
    print(f"\n== fan-out: python-socketio clients, {RATE} ev/s (peak {PEAK_RATE} ev/s x10) for {SECONDS:.0f} s, "
          f"XADD -> client received ==", flush=True)
    steps = sweep()
    passed = next((s for s in steps if s.too_slow()), None)
    below = [s for s in steps if not s.too_slow() and (passed is None or s.clients < passed.clients)]
    rows = [(f"{s.clients} clients ({s.processes} client processes)", s.summary()) for s in steps]
    if passed:
        rows.append(("p95 passes 1 s", f"between {below[-1].clients if below else 0} and {passed.clients} clients"))
    else:
        rows.append(("p95 passes 1 s", f"not within {steps[-1].clients} clients"))
    report("fan-out sweep (one app process, threading mode)", rows)


# -- the production topology: 3 app processes behind HAProxy (issue 19) ------------------------------------

PROD_RATES = (PEAK_RATE, RATE)  # the district's peak and 10x
PROD_SWEEP = (15, 30, 60, 120, 240, 360)
PROD_PAGES = 20
PROD_PAGE_SWEEP = (1, 5, 10, PROD_PAGES)  # pages alone, at the district's peak
# Python clients beside the pages: the capacity found, at most this many. Each socket holds one of a process's
# 64 gunicorn threads (threading mode), so capacity + 20 pages could run out of threads instead of measuring.
PROD_PAGE_CLIENTS = 60
FANOUT_LAYOUT = Layout(root=PROJECT_ROOT / "var" / "bench-fanout", proxy_port=8380, app_ports=(8381, 8382, 8383),
                       cluster_ports=(7350, 7351, 7352, 7353, 7354, 7355), database="pingan_fanout")


@dataclass
class Pages:
    """What the Chromium pages of one step saw of its incidents."""

    servers: dict[str, int]  # pages per app process (their PINGAN_SRV cookie)
    latencies: list[float] = field(default_factory=list)
    missed: int = 0  # incidents of the step some page never applied
    doubled: int = 0  # incidents some page applied twice
    sizes: list[int] = field(default_factory=list)  # events per applied batch
    apply_ms: list[float] = field(default_factory=list)  # the page's time applying each batch
    gap_ms: list[float] = field(default_factory=list)  # from one batch to the next on the same page

    def cycle(self) -> str:
        """Where a page's time went: its batches, their size, applying them, and waiting for the next."""
        if not self.sizes:
            return "-"
        return (f"{len(self.sizes)} batches, {statistics.mean(self.sizes):.1f} events each; applying p50 "
                f"{percentile(self.apply_ms, 50):.0f} / p95 {percentile(self.apply_ms, 95):.0f} ms; batch to "
                f"next p50 {percentile(self.gap_ms, 50):.0f} / p95 {percentile(self.gap_ms, 95):.0f} ms")

    def p(self, q: float) -> float:
        return percentile(self.latencies, q)


def _pids(layout: Layout) -> dict[str, list[int]]:
    """The app processes' and the proxy's pids, from the Topology's pid files (first line: the pid)."""
    names = [f"app{i}" for i in layout.apps] + ["haproxy"]
    return {name: [int((layout.run_dir / f"{name}.pid").read_text().split()[0])] for name in names}


def _per_app(values: dict[str, int], layout: Layout) -> str:
    return " / ".join(str(values.get(f"app{i}", 0)) for i in layout.apps)


def _read_pages(pages: list[Page], tag: str, sent: int) -> Pages:
    """Wait (up to the settle time) for every page to apply the step's incidents, then read their arrivals."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    deadline = time.monotonic() + SETTLE_S
    ids = [f"{tag}-{n}" for n in range(sent)]
    result = Pages(Counter(_page_server(page) for page in pages))
    for page in pages:
        with contextlib.suppress(PlaywrightTimeout):  # a page still short at the deadline: counted as missed
            page.wait_for_function("(ids) => ids.every(id => id in window.__arrivals.at)", arg=ids,
                                   timeout=max(1.0, deadline - time.monotonic()) * 1000)
        seen = page.evaluate(ARRIVALS_READ, f"{tag}-")
        result.latencies += seen["latencies"]
        result.missed += sent - len(seen["latencies"])
        result.doubled += seen["doubled"]
        batches = seen["batches"]
        result.sizes += [b[2] for b in batches]
        result.apply_ms += [b[1] for b in batches]
        result.gap_ms += [b[0] - a[0] for a, b in itertools.pairwise(batches)]
    return result


def _page_server(page: Page) -> str:
    return next((c["value"] for c in page.context.cookies() if c["name"] == COOKIE), "?")


_STEP_NUMBERS = itertools.count(1)


def prod_step(topo: Topology, rate: float, clients: int, pages: list[Page] | None = None) -> Step:
    """One load run through the proxy: ``clients`` python clients spread by round robin (+ ``pages``, and then
    Chromium's CPU too)."""
    tag = f"FP{next(_STEP_NUMBERS)}R{rate:.0f}C{clients}"  # unique: the topology's streams outlive a step
    for i in topo.layout.apps:  # the last step may have had one taken out (its /healthz slow or 503): start even
        topo.wait_backend(i, "UP", timeout_s=60)
    seen: list[Pages] = []
    downs_before, resends_before = len(_marked_down(topo.layout)), _resends(topo.layout)
    cpu_of = _pids(topo.layout) | ({"chromium": _chromium_pids()} if pages else {})
    step = load(topo.layout.proxy_url, topo.layout.redis_url, clients, tag, cpu_of, rate, SECONDS,
                spread=True, during=(lambda: seen.append(_read_pages(pages, tag, int(rate * SECONDS))))
                if pages else None)
    step.pages = seen[0] if seen else None
    step.marked_down = _marked_down(topo.layout)[downs_before:]
    step.resends = _resends(topo.layout) - resends_before
    return step


def _chromium_pids() -> list[int]:
    """Every Chromium process on the machine (the bench's browser: its renderers, GPU and utility processes)."""
    pids = []
    for comm in Path("/proc").glob("[0-9]*/comm"):
        with contextlib.suppress(OSError):
            if comm.read_text().strip() in ("chromium", "chrome", "headless_shell"):
                pids.append(int(comm.parent.name))
    return pids


def _resends(layout: Layout) -> int:
    """pingan_push_resends_total summed over the app processes (asked directly, not through the proxy)."""
    total = 0.0
    for i in layout.apps:
        text = requests.get(layout.app_url(i) + URL.METRICS, timeout=30).text
        total += sum(float(line.split()[-1]) for line in text.splitlines()
                     if line.startswith("pingan_push_resends_total"))
    return int(total)


_DOWN = re.compile(r"^Server apps/(app\d+) is DOWN, reason: ([^,]+)(?:, code: (\d+))?", re.MULTILINE)


def _marked_down(layout: Layout) -> list[str]:
    """Every time HAProxy took an app process out, from its log: "app2 (503)", "app3 (Layer7 timeout)"."""
    try:
        text = (layout.log_dir / "haproxy.log").read_text(errors="replace")
    except OSError:
        return []
    return [f"{app} ({code or reason})" for app, reason, code in _DOWN.findall(text)]


def _row(step: Step, layout: Layout) -> str:
    per_p95 = " / ".join(f"{percentile(step.server_latencies.get(f'app{i}', []), 95):.0f}" for i in layout.apps)
    cores = " / ".join(f"{step.server_cores.get(f'app{i}', 0):.2f}" for i in layout.apps)
    return (f"| {step.rate:.0f} | {step.clients} | {_per_app(step.servers, layout)} | {step.p(50):.0f} / "
            f"{step.p(95):.0f} / {step.p(99):.0f} | {per_p95} | {step.lost} of {step.sent * step.clients} | "
            f"{step.disconnects} | {step.failed_connects} | {cores} | {step.server_cores.get('haproxy', 0):.2f} | "
            f"{step.client_cores:.2f} | {step.idle_cores:.2f} | {step.resends} | "
            f"{', '.join(step.marked_down) or '-'} |")


HEADER = ("| ev/s | clients | per process (app1 / app2 / app3) | p50 / p95 / p99 ms | p95 per process ms | lost | "
          "disconnects | failed connects | CPU app1 / app2 / app3 (cores) | HAProxy | clients | idle | "
          "batches re-sent (no ack in 2 s) | taken out by HAProxy's check |\n"
          "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|")


def run_prod() -> None:
    from playwright.sync_api import sync_playwright

    from testkit.browser import CHROMIUM_ARGS, chromium_path, open_page

    layout = FANOUT_LAYOUT
    started = time.monotonic()
    print(f"\n== fan-out over the production topology: HAProxy -> 3 gunicorn processes -> Redis Cluster 3+3 -> "
          f"PostgreSQL; python-socketio clients ({CLIENTS_PER_PROCESS} per client process, each its own "
          f"PINGAN_SRV through the proxy), {', '.join(f'{r} ev/s' for r in PROD_RATES)} for {SECONDS:.0f} s "
          f"per step, XADD -> client received; then Chromium pages alone and beside the clients ==", flush=True)
    topo = Topology(layout, out=lambda line: print(f"  {line}", flush=True))
    topo.down(wipe=True)
    # Every bench client signs in from this machine's one address: the per-address limit would refuse them.
    os.environ["LOGIN_PER_MINUTE"] = "100000"
    os.environ["TILE_URL"] = ""  # 20 pages fetching map tiles would measure the tile server (tests do the same)
    try:
        topo.up(fresh_database=True)
        add_account({**os.environ, "DATABASE_URL": topo.database_url, "VAR_DIR": str(layout.root / "app1")})
        sweeps: dict[float, list[Step]] = {}
        for rate in PROD_RATES:
            print(f"\n  -- {rate} ev/s --", flush=True)
            sweeps[rate] = sweep(PROD_SWEEP, step_at=functools.partial(prod_step, topo, rate), beyond=False)
        capacity = {rate: _capacity(steps) for rate, steps in sweeps.items()}
        with_pages: list[Step] = []
        pages_alone: list[Step] = []
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=chromium_path(), args=CHROMIUM_ARGS)
            try:
                pages = []
                for count in PROD_PAGE_SWEEP:
                    while len(pages) < count:  # each its own context (cookies): round robin spreads them
                        page = open_page(browser, layout.proxy_url + "/", LIVE_READY, timeout_ms=120_000)
                        page.evaluate(ARRIVALS)
                        pages.append(page)
                    step = prod_step(topo, PEAK_RATE, 0, pages)
                    print(f"  {PEAK_RATE} ev/s, {count} pages alone: {_pages_row(step)}", flush=True)
                    pages_alone.append(step)
                for rate in PROD_RATES:
                    clients = min(capacity[rate][0] or PROD_PAGE_CLIENTS, PROD_PAGE_CLIENTS)
                    step = prod_step(topo, rate, clients, pages)
                    print(f"  {rate} ev/s, {clients} clients + {PROD_PAGES} pages: {step.summary()}", flush=True)
                    with_pages.append(step)
            finally:
                browser.close()
        _print_prod(layout, sweeps, capacity, pages_alone, with_pages)
    finally:
        topo.down(wipe=True)
        print(f"\n  wall time {time.monotonic() - started:.0f} s", flush=True)


def _capacity(steps: list[Step]) -> tuple[int, int | None]:
    """(the most clients served with p95 <= 1 s below the first step that was not, that step's count or None)."""
    failed = next((s.clients for s in steps if s.too_slow()), None)
    good = [s.clients for s in steps if not s.too_slow() and (failed is None or s.clients < failed)]
    return (good[-1] if good else 0), failed


def _pages_row(step: Step) -> str:
    pages = step.pages
    assert pages is not None
    count = sum(pages.servers.values())
    return (f"| {step.rate:.0f} | {step.clients} | {count} ({_per_app(pages.servers, FANOUT_LAYOUT)}) | "
            f"{pages.p(50):.0f} / {pages.p(95):.0f} / {pages.p(99):.0f} | {pages.missed} of {step.sent * count} | "
            f"{pages.doubled} | "
            f"{step.server_cores.get('chromium', 0):.2f} | {step.app_cores:.2f} | {step.idle_cores:.2f} | "
            f"{step.resends} | {pages.cycle()} |")


PAGES_HEADER = ("| ev/s | python clients | pages (app1 / app2 / app3) | pages p50 / p95 / p99 ms | incidents a page "
                "missed | applied twice | CPU Chromium (cores) | CPU apps | idle | batches re-sent | "
                "the pages' batches |\n"
                "|---|---|---|---|---|---|---|---|---|---|---|")


def _print_prod(layout: Layout, sweeps: dict[float, list[Step]], capacity: dict[float, tuple[int, int | None]],
                pages_alone: list[Step], with_pages: list[Step]) -> None:
    for rate, steps in sweeps.items():
        print(f"\n  Workload: {rate} incidents/s XADDed to the Cluster for {SECONDS:.0f} s; python-socketio clients "
              f"through HAProxy (round robin + PINGAN_SRV); latency XADD -> client received\n")
        print(HEADER)
        for step in steps:
            print(_row(step, layout))
    print("\n  Capacity: clients per process with p95 <= 1 s (3 processes, clients and server on the same 2 cores)\n")
    print("| ev/s | total clients served (p95 <= 1 s) | per process | first count not served |")
    print("|---|---|---|---|")
    for rate, (good, failed) in capacity.items():
        beyond = failed if failed else "none within the sweep"
        print(f"| {rate} | {good} | {good / len(layout.app_ports):.0f} | {beyond} |")
    print(f"\n  Workload: headless Chromium pages alone (each its own profile, signed in through the proxy, map tiles "
          f"off), {PEAK_RATE} incidents/s; page latency XADD -> batch received by the page; Chromium renders in "
          "software on the same 2 cores\n")
    print(PAGES_HEADER)
    for step in pages_alone:
        print(_pages_row(step))
    served = [sum(s.pages.servers.values()) for s in pages_alone if s.pages and s.pages.p(95) <= 1000]
    print(f"\n  Pages served with p95 <= 1 s at {PEAK_RATE} ev/s: {max(served, default=0)} "
          f"(of {', '.join(str(n) for n in PROD_PAGE_SWEEP)} tried)")
    print(f"\n  Workload: the same, plus {PROD_PAGES} of those pages beside the clients\n")
    print(HEADER)
    for step in with_pages:
        print(_row(step, layout))
    print()
    print(PAGES_HEADER)
    for step in with_pages:
        print(_pages_row(step))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="server fan-out benchmark")
    parser.add_argument("--worker", nargs=2, metavar=("URL", "COUNT"), help=argparse.SUPPRESS)
    parser.add_argument("--spread", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--clients", type=int, nargs="*", help="client counts to run (default: the sweep)")
    args = parser.parse_args(argv)
    if args.worker:
        threading.excepthook = lambda args: None  # a socket dying mid-callback is counted, not printed
        worker(args.worker[0], int(args.worker[1]), sys.stdout, spread=args.spread)
    elif args.clients:
        for clients in args.clients:
            with tempfile.TemporaryDirectory() as tmp_dir:
                step = run_step(clients, Path(tmp_dir))
            print(f"{clients} clients in {step.processes} processes: {step.summary()}")
    else:
        run()


if __name__ == "__main__":
    main()
