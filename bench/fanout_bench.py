"""Issue 9 figure: server fan-out under load, and the client count where p95 passes 1 s.

Workload: one ``python app.py`` (its consumer and push hub, threading mode) on a fresh embedded
Redis per step; N python-socketio clients speaking the push protocol (subscribe, batches, acks
over the socket) spread over several client *processes*, so the load generator is not one GIL;
a producer XADDs incidents to ``cc:in:incidents`` at 100 events/s for 10 s.

Assumption: the district's peak is about 10 events/s (incidents, alerts and unit fixes
together, the simulator at speed 1 stays well below); ×10 gives the 100 events/s used here.

Latency is XADD -> client received: each entry carries ``sent_at`` (the producer's clock, epoch
ms), the consumer passes it on, the client stamps ``received_at`` on arrival (same machine,
one clock). Lost: an event some client never got within the settle time. Disconnects: socket
drops seen by the clients during the run.

``python -m bench fanout`` runs the sweep; ``python -m bench.fanout_bench --clients 20`` one step.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from bench.common import percentile, report
from bus import keys
from bus.connection import EmbeddedRedis, connect
from settings import PROJECT_ROOT
from testkit.accounts import BENCH_PASSWORD, BENCH_USER
from testkit.entries import incident
from testkit.live_client import LiveClient, open_client, sign_in
from testkit.servers import free_port, start_server, stop_server

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

    def p(self, q: float) -> float:
        return percentile(self.latencies, q)

    def summary(self) -> str:
        return (f"p50 {self.p(50):6.0f}  p95 {self.p(95):6.0f}  p99 {self.p(99):6.0f} ms   "
                f"lost {self.lost} of {self.sent * self.clients}   disconnects {self.disconnects}   "
                f"CPU: app {self.app_cores:.2f}, clients {self.client_cores:.2f}, idle {self.idle_cores:.2f} cores"
                + (f"   failed connects {self.failed_connects}" if self.failed_connects else ""))


# -- one client process --------------------------------------------------------------------------

def worker(base_url: str, count: int, out: IO[str]) -> None:
    """Open ``count`` clients, say READY, then on ``DONE tag total`` report what each received."""
    http = sign_in(base_url, BENCH_USER, BENCH_PASSWORD)  # one signed-in session for this process's screens

    def connect_one(_: int) -> LiveClient | None:
        try:
            return open_client(base_url, http)
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
    latencies: list[float] = []
    lost = 0
    for client in clients:
        def have_all(c: LiveClient = client) -> bool:
            return sum(1 for e in c.events if e["type"] == "incident"
                       and e["data"]["event_id"].startswith(tag)) >= int(total)
        with client.changed:
            client.changed.wait_for(have_all, max(0.0, deadline - time.monotonic()))
            got = [(e, t) for e, t in zip(client.events, client.received_at, strict=True)
                   if e["type"] == "incident" and e["data"]["event_id"].startswith(tag)]
        lost += int(total) - len({e["data"]["event_id"] for e, _ in got})
        latencies += [round(t - float(e["data"]["sent_at"]), 1) for e, t in got]
    print(json.dumps({"latencies": latencies, "lost": lost, "failed": count - len(clients),
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


def run_step(clients: int, tmp: Path, rate: float = RATE, seconds: float = SECONDS,
             per_process: int = CLIENTS_PER_PROCESS) -> Step:
    """One app process on a fresh Redis, ``clients`` clients over several processes, one load run."""
    processes = max(2, math.ceil(clients / per_process))
    step = Step(clients, processes)
    folder = tmp / f"fanout-{clients}"
    redis_server = EmbeddedRedis(folder / "redis")
    redis_url = redis_server.start()
    port = free_port()
    app, _ = start_server(port, folder / "app", {"REDIS_URL": redis_url,
                                                 "DATABASE_URL": f"sqlite:///{folder / 'fanout.sqlite3'}"})
    shares = [clients // processes + (1 if n < clients % processes else 0) for n in range(processes)]
    workers = [subprocess.Popen([sys.executable, "-m", "bench.fanout_bench", "--worker", f"http://127.0.0.1:{port}",
                                 str(share)], cwd=PROJECT_ROOT, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                stderr=subprocess.DEVNULL, text=True) for share in shares]
    try:
        for proc in workers:
            assert _readline(proc, 120).strip() == "READY"
        tag = f"FO{clients}"
        # Where the CPU goes while the load runs: on 2 shared cores the clients compete with the server.
        app_cpu, client_cpu, idle = cpu_seconds(app.pid), sum(cpu_seconds(p.pid) for p in workers), idle_seconds()
        started = time.perf_counter()
        step.sent = produce(redis_url, rate, seconds, tag)
        elapsed = time.perf_counter() - started
        step.app_cores = (cpu_seconds(app.pid) - app_cpu) / elapsed
        step.client_cores = (sum(cpu_seconds(p.pid) for p in workers) - client_cpu) / elapsed
        step.idle_cores = (idle_seconds() - idle) / elapsed
        for proc in workers:
            assert proc.stdin is not None
            proc.stdin.write(f"DONE {tag} {step.sent} {SETTLE_S}\n")
            proc.stdin.flush()
        for proc in workers:
            result = json.loads(_readline(proc, SETTLE_S + 60))
            step.latencies += result["latencies"]
            step.lost += result["lost"] + result["failed"] * step.sent
            step.failed_connects += result["failed"]
            step.disconnects += result["disconnects"]
    finally:
        for proc in workers:
            proc.kill()
            proc.wait()
        stop_server(app)
        redis_server.stop()
    return step


def sweep(counts: tuple[int, ...] = SWEEP, refine: int = 2) -> list[Step]:
    """Grow the client count until p95 passes 1 s, run one step beyond (to see how it degrades),
    then halve the interval where it crossed ``refine`` times."""
    steps: list[Step] = []

    def run_one(clients: int, tmp: Path) -> Step:
        step = run_step(clients, tmp)
        print(f"  {clients:4} clients in {step.processes} processes: {step.summary()}", flush=True)
        steps.append(step)
        return step

    with tempfile.TemporaryDirectory() as tmp_dir:
        tmp = Path(tmp_dir)
        crossed = None
        for n, clients in enumerate(counts):
            if run_one(clients, tmp).p(95) > 1000:
                crossed = n
                if n + 1 < len(counts):
                    run_one(counts[n + 1], tmp)
                break
        if crossed:
            low, high = counts[crossed - 1], counts[crossed]
            for _ in range(refine):
                middle = (low + high) // 2
                if middle in (low, high):
                    break
                if run_one(middle, tmp).p(95) > 1000:
                    high = middle
                else:
                    low = middle
    return sorted(steps, key=lambda s: s.clients)


def run() -> None:
    print(f"\n== fan-out: python-socketio clients, {RATE} ev/s (peak {PEAK_RATE} ev/s x10) for {SECONDS:.0f} s, "
          f"XADD -> client received ==", flush=True)
    steps = sweep()
    passed = next((s for s in steps if s.p(95) > 1000), None)
    below = [s for s in steps if s.p(95) <= 1000 and (passed is None or s.clients < passed.clients)]
    rows = [(f"{s.clients} clients ({s.processes} client processes)", s.summary()) for s in steps]
    if passed:
        rows.append(("p95 passes 1 s", f"between {below[-1].clients if below else 0} and {passed.clients} clients"))
    else:
        rows.append(("p95 passes 1 s", f"not within {steps[-1].clients} clients"))
    report("fan-out sweep (one app process, threading mode)", rows)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="server fan-out benchmark")
    parser.add_argument("--worker", nargs=2, metavar=("URL", "COUNT"), help=argparse.SUPPRESS)
    parser.add_argument("--clients", type=int, nargs="*", help="client counts to run (default: the sweep)")
    args = parser.parse_args(argv)
    if args.worker:
        threading.excepthook = lambda args: None  # a socket dying mid-callback is counted, not printed
        worker(args.worker[0], int(args.worker[1]), sys.stdout)
    elif args.clients:
        for clients in args.clients:
            with tempfile.TemporaryDirectory() as tmp_dir:
                step = run_step(clients, Path(tmp_dir))
            print(f"{clients} clients in {step.processes} processes: {step.summary()}")
    else:
        run()


if __name__ == "__main__":
    main()
