"""Helpers for benchmarks: free ports, a server subprocess, percentiles, printing."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Sequence
from pathlib import Path

from settings import PROJECT_ROOT


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def percentile(values: Sequence[float], q: float) -> float:
    """The q-th percentile (0-100), nearest-rank."""
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    rank = max(0, min(len(ordered) - 1, round(q / 100 * len(ordered) + 0.5) - 1))
    return ordered[rank]


# The account benchmarks and fault drills sign in with (created in the server's database).
BENCH_USER = "bench"
BENCH_PASSWORD = "bench-password-not-secret"


def add_account(env: dict[str, str], username: str = BENCH_USER, role: str = "duty_officer") -> None:
    """Create ``username`` in the database ``env`` points at (VAR_DIR / DATABASE_URL), if missing."""
    done = subprocess.run([sys.executable, "-m", "auth", "add", username, "--role", role, "--password",
                           BENCH_PASSWORD], cwd=PROJECT_ROOT, env=env, capture_output=True, text=True)
    if done.returncode != 0 and "exists" not in done.stderr:
        raise RuntimeError(f"could not create {username}: {done.stderr.strip()}")


def start_server(port: int, var_dir: Path, extra_env: dict[str, str] | None = None) -> tuple[subprocess.Popen, float]:
    """Start ``python app.py`` (with the bench account) and return it with the seconds until it answered.

    Sign-ins are not rate limited here (load tools sign many clients in at once), and every
    server shares one secret key, so a session works on all processes of a drill, as behind a
    load balancer in production.
    """
    env = {**os.environ, "PORT": str(port), "VAR_DIR": str(var_dir), "SIMULATOR": "0", "BACKFILL": "0",
           "LOGIN_PER_MINUTE": "1000000", "SECRET_KEY": "bench-secret-not-for-production", **(extra_env or {})}
    add_account(env)
    started = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "app.py"], cwd=PROJECT_ROOT, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
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


def stop_server(proc: subprocess.Popen) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()


def report(title: str, rows: list[tuple[str, str]]) -> None:
    print(f"\n== {title} ==")
    width = max(len(k) for k, _ in rows)
    for key, value in rows:
        print(f"  {key.ljust(width)}  {value}")
