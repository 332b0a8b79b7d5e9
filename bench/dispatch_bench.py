"""Issue 4 figures: ranking units, and click "send" -> entry in {cc}:out:instructions.

- **Ranking**: 300 units around the district ranked for one incident
  (``dispatch.recommend.rank_units``), median of 2,000 runs. Yardstick: the same
  ranking done the plain way (a Python loop computing haversine per unit and
  sorting), in the same run.
- **Callback load**: 16 officer sessions at once, each opening an incident's panel
  (ranking 2,000 units) and sending, for 15 s: p50/p95/p99 and any 5xx.
- **Send**: the real send path as the officer's browser calls it — an HTTP POST
  to Dash's callback endpoint of a running app — until the instruction is in
  ``{cc}:out:instructions`` (read by a blocking XREAD), 200 sends, each to a fresh
  unit and incident. Yardstick: a plain XADD round trip on the same Redis.
"""

from __future__ import annotations

import math
import statistics
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import redis

from bench.common import percentile, report
from bus import keys
from bus.connection import EmbeddedRedis, connect
from dispatch.recommend import rank_units
from layouts.ids import DispatchID
from testkit.accounts import BENCH_PASSWORD, BENCH_USER
from testkit.dash_requests import send_output, send_request
from testkit.entries import SEAT, incident, unit
from testkit.live_client import sign_in
from testkit.servers import free_port, start_server, stop_server

UNITS = 300
SENDS = 200


def _units(rng: np.random.Generator) -> list[dict[str, Any]]:
    return [{"unit_id": f"PU-{n:03d}", "lon": float(rng.uniform(112.05, 112.75)),
             "lat": float(rng.uniform(39.1, 39.45)), "status": "available" if rng.random() < 0.7 else "busy"}
            for n in range(UNITS)]


def _plain_rank(units: list[dict[str, Any]], lon: float, lat: float) -> list[tuple[float, str]]:
    out = []
    for u in units:
        p1, p2 = math.radians(u["lat"]), math.radians(lat)
        a = math.sin((p2 - p1) / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(math.radians(lon - u["lon"]) / 2) ** 2
        out.append((2 * 6371.0088 * math.asin(math.sqrt(a)), u["unit_id"]))
    return sorted(out)


def ranking() -> list[tuple[str, str]]:
    units = _units(np.random.default_rng(1))
    reserved = {u["unit_id"] for u in units[:20]}

    def timed(fn: Any, runs: int = 2000) -> float:
        samples = []
        for _ in range(runs):
            start = time.perf_counter()
            fn()
            samples.append(time.perf_counter() - start)
        return statistics.median(samples) * 1000

    ours = timed(lambda: rank_units(units, SEAT[0], SEAT[1], "urban", reserved))
    plain = timed(lambda: _plain_rank(units, SEAT[0], SEAT[1]))
    return [("rank 300 units (numpy), median", f"{ours:.3f} ms  (target <= 2 ms)"),
            ("yardstick: Python loop + sort, median", f"{plain:.3f} ms")]


@contextmanager
def _app_with_units(tmp: Path, count: int, tag: str) -> Iterator[tuple[redis.Redis, str]]:
    """A running app on its own Redis, with ``count`` units (PU-0000…) and incidents (tag-0…) ingested."""
    server = EmbeddedRedis(tmp)
    url = server.start()
    r = connect(url)
    port = free_port()
    proc, _ = start_server(port, tmp / "app", {"REDIS_URL": url})
    try:
        pipe = r.pipeline(transaction=False)
        for n in range(count):
            pipe.xadd(keys.UNITS, unit(f"PU-{n:04d}",
                                       lon=f"{SEAT[0] + (n % 50) * 1e-3:.6f}", lat=f"{SEAT[1] + (n // 50) * 1e-3:.6f}"))
            pipe.xadd(keys.INCIDENTS, incident(f"{tag}-{n}"))
        pipe.execute()
        deadline = time.monotonic() + 60
        while r.hlen(keys.UNIT_STATE) < count and time.monotonic() < deadline:
            time.sleep(0.05)  # the consumer is filling unit state: nothing to await
        yield r, f"http://127.0.0.1:{port}"
    finally:
        stop_server(proc)
        server.stop()


def send_path(tmp: Path) -> list[tuple[str, str]]:
    with _app_with_units(tmp, SENDS, "B") as (r, base):
        http = sign_in(base, BENCH_USER, BENCH_PASSWORD)
        output = send_output(http.get(f"{base}/_dash-dependencies", timeout=10).json())
        newest = r.xrevrange(keys.OUT_INSTRUCTIONS, count=1)
        last = newest[0][0] if newest else "0-0"
        latencies, xadds = [], []
        for n in range(SENDS):
            body = send_request(output, f"B-{n}", f"PU-{n:04d}", f"bench-{n}")
            start = time.perf_counter()
            http.post(f"{base}/_dash-update-component", json=body, timeout=10).raise_for_status()
            entries = r.xread({keys.OUT_INSTRUCTIONS: last}, block=5000, count=1)
            latencies.append((time.perf_counter() - start) * 1000)
            last = entries[0][1][0][0]
            start = time.perf_counter()
            r.xadd("bench:yardstick", {"n": str(n)})
            xadds.append((time.perf_counter() - start) * 1000)
        return [
            ("click send -> in {cc}:out:instructions",
             f"p50 {percentile(latencies, 50):.1f}  p95 {percentile(latencies, 95):.1f}  "
             f"p99 {percentile(latencies, 99):.1f} ms  ({SENDS} sends)"),
            ("yardstick: one XADD round trip", f"p50 {percentile(xadds, 50):.2f}  p95 {percentile(xadds, 95):.2f} ms"),
        ]


def _panel_request(dependencies: list[dict[str, Any]], incident_id: str) -> dict[str, Any]:
    """The POST a page makes when the officer clicks an incident (the dispatch panel renders)."""
    dep = next(d for d in dependencies if any(i["id"] == DispatchID.INCIDENT for i in d["inputs"]))
    outputs = [{"id": part.split(".", 1)[0], "property": part.split(".", 1)[1]}
               for part in dep["output"].strip(".").split("...")]
    return {"output": dep["output"], "outputs": outputs,
            "inputs": [{"id": DispatchID.INCIDENT, "property": "data", "value": incident_id}],
            "changedPropIds": [f"{DispatchID.INCIDENT}.data"]}


def callback_load(tmp: Path, sessions: int = 16, seconds: float = 15.0) -> list[tuple[str, str]]:
    """Many officer sessions opening panels and sending at once (each send to its own unit)."""
    units = 2000
    with _app_with_units(tmp, units, "C") as (_, base):
        dependencies = sign_in(base, BENCH_USER, BENCH_PASSWORD).get(f"{base}/_dash-dependencies", timeout=10).json()
        send_key = send_output(dependencies)
        panel_ms: list[float] = []
        send_ms: list[float] = []
        errors: list[int] = []
        counter = iter(range(units))
        lock = threading.Lock()
        stop_at = time.monotonic() + seconds

        def officer() -> None:
            http = sign_in(base, BENCH_USER, BENCH_PASSWORD)
            while time.monotonic() < stop_at:
                with lock:
                    n = next(counter, None)
                if n is None:
                    return
                for body, sink in ((_panel_request(dependencies, f"C-{n}"), panel_ms),
                                   (send_request(send_key, f"C-{n}", f"PU-{n:04d}", f"load-{n}"), send_ms)):
                    started = time.perf_counter()
                    response = http.post(f"{base}/_dash-update-component", json=body, timeout=30)
                    elapsed = (time.perf_counter() - started) * 1000
                    with lock:
                        sink.append(elapsed)
                        if response.status_code >= 500:
                            errors.append(response.status_code)

        threads = [threading.Thread(target=officer) for _ in range(sessions)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()

        def summary(samples: list[float]) -> str:
            return (f"p50 {percentile(samples, 50):.0f}  p95 {percentile(samples, 95):.0f}  "
                    f"p99 {percentile(samples, 99):.0f} ms  ({len(samples)} calls)")

        return [(f"open panel (rank 2,000 units), {sessions} sessions", summary(panel_ms)),
                (f"send instruction, {sessions} sessions", summary(send_ms)),
                ("5xx responses", str(len(errors)))]


def run() -> None:
    report("dispatch: ranking", ranking())
    with tempfile.TemporaryDirectory() as tmp:
        report("dispatch: send (real HTTP to the Dash callback, SQLite, embedded Redis)", send_path(Path(tmp)))
    with tempfile.TemporaryDirectory() as tmp:
        report("dispatch: callback load (werkzeug threaded dev server, SQLite)", callback_load(Path(tmp)))


if __name__ == "__main__":
    run()
