"""Failover of the production topology under load: `make prod-failover` (`python -m bench failover`).

The topology of `make prod-up` on its own ports and database (HAProxy -> 3 gunicorn processes -> a Redis
Cluster of 3 primaries and 3 replicas -> PostgreSQL). Producers write 200 incidents/s to the Cluster, half
with a plain XADD and half with XADD + WAIT 1 on the slot's primary (bus/produce.py); python Socket.IO
clients and Chromium pages are signed in through the proxy; an HTTP poller asks the proxy for /healthz and
for the sign-in page every 100 ms. Then, one after the other:

1. the Redis primary holding ``{cc}`` is SIGKILLed (its replica is promoted), and later restarted;
2. an app process is SIGKILLed (its clients and pages move through the proxy), and later restarted;
3. PostgreSQL is restarted.

Printed from the same run: per producer, accepted = kept = published, acknowledged entries lost,
duplicates; per fault, when each part was back; what the clients and pages saw. Environment:
FAILOVER_RATE (incidents/s, 200), FAILOVER_CLIENTS (12), FAILOVER_PAGES (3), FAILOVER_CALM_S (10).
"""

from __future__ import annotations

import json
import os
import threading
import time
import urllib.error
import urllib.request
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import redis
from sqlalchemy import select

from bench.common import percentile
from bus import keys
from bus.connection import connect
from bus.produce import send
from prod.topology import Layout, Topology, wait_until
from settings import PROJECT_ROOT
from store.db import incidents, make_engine
from testkit.accounts import add_account
from testkit.entries import incident
from testkit.live_client import LiveClient, open_client
from testkit.pages import INSTRUMENT, LIVE_READY, PAGE_STATE
from urls import URL

RATE = float(os.environ.get("FAILOVER_RATE", "200"))
CLIENTS = int(os.environ.get("FAILOVER_CLIENTS", "12"))
PAGES = int(os.environ.get("FAILOVER_PAGES", "3"))
CALM_S = float(os.environ.get("FAILOVER_CALM_S", "10"))
POLL_S = 0.1

LAYOUT = Layout(root=PROJECT_ROOT / "var" / "bench-failover", proxy_port=8180, app_ports=(8181, 8182, 8183),
                cluster_ports=(7150, 7151, 7152, 7153, 7154, 7155), database="pingan_failover")


@dataclass(eq=False)  # a thread: hashed by identity
class Producer(threading.Thread):
    """Incidents at ``rate``/s to ``{cc}:in:incidents``; ``confirm``: XADD + WAIT 1 on the slot's primary."""

    url: str
    rate: float
    confirm: int
    tag: str
    acked: list[tuple[str, float]] = field(default_factory=list)  # event id, monotonic time of the reply
    unknown: list[str] = field(default_factory=list)  # an error: maybe written, maybe not
    unconfirmed: int = 0  # WAIT answered 0: written, not yet on a replica
    took_s: list[float] = field(default_factory=list)  # each acknowledged send, retries included
    halt: threading.Event = field(default_factory=threading.Event)

    def __post_init__(self) -> None:
        super().__init__(daemon=True, name=f"producer-{self.tag}")

    def run(self) -> None:
        r = connect(self.url)
        started, n = time.monotonic(), 0
        while not self.halt.is_set():
            pause = started + n / self.rate - time.monotonic()
            if pause > 0 and self.halt.wait(pause):
                break
            event_id = f"{self.tag}-{n}"
            n += 1
            asked = time.monotonic()
            try:
                sent = send(r, keys.INCIDENTS, incident(event_id), confirm_replicas=self.confirm)
            except redis.ConnectionError:
                self.unknown.append(event_id)
                continue
            self.acked.append((event_id, time.monotonic()))
            self.took_s.append(self.acked[-1][1] - asked)
            if self.confirm and not sent.replicas:
                self.unconfirmed += 1

    def first_ack_after(self, moment: float) -> float | None:
        return next((t for _, t in self.acked if t > moment), None)


@dataclass(eq=False)
class Poller(threading.Thread):
    """GETs ``url`` every 100 ms; keeps (monotonic time, status) with 0 for no answer."""

    url: str
    samples: list[tuple[float, int]] = field(default_factory=list)
    halt: threading.Event = field(default_factory=threading.Event)

    def __post_init__(self) -> None:
        super().__init__(daemon=True)

    def run(self) -> None:
        while not self.halt.wait(POLL_S):
            try:
                with urllib.request.urlopen(self.url, timeout=5) as response:
                    status = response.status
            except urllib.error.HTTPError as exc:
                status = exc.code
            except OSError:
                status = 0
            self.samples.append((time.monotonic(), status))

    def failed_between(self, start: float, end: float) -> tuple[str, int, float | None]:
        """(the failed asks by status, e.g. "12 (503: 12)", asked, the first success after the last failure)."""
        window = [(t, s) for t, s in self.samples if start <= t <= end]
        failed = [(t, s) for t, s in window if s != 200]
        back = next((t for t, s in window if s == 200 and failed and t > failed[-1][0]), None)
        statuses = Counter(str(s or "no answer") for _, s in failed)
        by_status = ", ".join(f"{status}: {n}" for status, n in sorted(statuses.items()))
        return f"{len(failed)} ({by_status})" if failed else "0", len(window), back


def _live_after(r: redis.Redis, moment: float) -> float | None:
    """When the first live event after ``moment`` (monotonic) was published (stream ids are wall-clock ms)."""
    wall_ms = int((time.time() - (time.monotonic() - moment)) * 1000)
    first = r.xrange(keys.LIVE, min=f"{wall_ms}-0", count=1)
    if not first:
        return None
    return moment + (int(first[0][0].split("-")[0]) - wall_ms) / 1000


def _clients_back(clients: list[LiveClient], moment: float) -> tuple[float | None, float | None]:
    """(first, last) client's first event after ``moment`` (monotonic), as seconds after it."""
    wall_ms = (time.time() - (time.monotonic() - moment)) * 1000
    firsts = [next((t for t in client.received_at if t > wall_ms), None) for client in clients]
    got = [(t - wall_ms) / 1000 for t in firsts if t is not None]
    return (min(got), max(got)) if len(got) == len(clients) else (min(got) if got else None, None)


def _s(value: float | None) -> str:
    return "—" if value is None else f"{value:.2f} s"


def run() -> None:
    from playwright.sync_api import sync_playwright

    from testkit.browser import CHROMIUM_ARGS, chromium_path, open_page

    topo = Topology(LAYOUT, out=lambda line: print(f"  {line}"))
    print(f"\nFailover under load ({RATE:.0f} incidents/s: half XADD, half XADD+WAIT; {CLIENTS} Socket.IO "
          f"clients and {PAGES} Chromium pages through HAProxy; 3 gunicorn processes; Redis Cluster 3+3; "
          "PostgreSQL)")
    topo.down(wipe=True)
    # Every bench client signs in from this machine's one address: the per-address limit would refuse them.
    os.environ["LOGIN_PER_MINUTE"] = str(10 * (CLIENTS + PAGES))
    topo.up(fresh_database=True)
    try:
        proxy = LAYOUT.proxy_url
        add_account({**os.environ, "DATABASE_URL": topo.database_url, "VAR_DIR": str(LAYOUT.root / "app1")})
        r = connect(LAYOUT.redis_url)
        producers = [Producer(LAYOUT.redis_url, RATE / 2, 0, "FO-X"), Producer(LAYOUT.redis_url, RATE / 2, 1, "FO-W")]
        health, users = Poller(proxy + URL.HEALTHZ), Poller(proxy + "/login")
        clients = [open_client(proxy) for _ in range(CLIENTS)]
        rows: list[tuple[str, str, str]] = []
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=chromium_path(), args=CHROMIUM_ARGS)
            pages = [open_page(browser, proxy + "/", LIVE_READY) for _ in range(PAGES)]
            for page in pages:
                page.evaluate(INSTRUMENT)
            for part in (*producers, health, users):
                part.start()
            try:
                time.sleep(CALM_S)  # the load runs undisturbed before the next fault

                # 1. the Redis primary holding {cc}
                dead = topo.primary_of(keys.LIVE)
                killed = topo.kill_redis_primary_of(keys.LIVE)
                wait_until(lambda: dead not in topo.primaries() and len(topo.primaries()) == 3, 60, "promotion")
                promoted = time.monotonic()
                _settle(lambda: _live_after(r, promoted) is not None
                        and all(p.first_ack_after(promoted) for p in producers))
                time.sleep(CALM_S)  # the load runs undisturbed before the next fault
                first, last = _clients_back(clients, promoted)
                hfail, hasked, hback = health.failed_between(killed, time.monotonic())
                ufail, uasked, _ = users.failed_between(killed, time.monotonic())
                rows += [
                    ("Redis primary SIGKILLed", "replica promoted", f"{promoted - killed:.2f} s after the kill"),
                    ("", "producer XADD acknowledged again",
                     _s(_after(producers[0].first_ack_after(promoted), promoted)) + " after the promotion"),
                    ("", "producer XADD+WAIT acknowledged again",
                     _s(_after(producers[1].first_ack_after(promoted), promoted)) + " after the promotion"),
                    ("", "consumers publishing again", _s(_after(_live_after(r, promoted), promoted)) + " after it"),
                    ("", "clients receiving again (first / last)", f"{_s(first)} / {_s(last)} after it"),
                    ("", "/healthz via the proxy", f"{hfail} of {hasked} asks failed; 200 again "
                     f"{_s(_after(hback, promoted))} after the promotion"),
                    ("", "sign-in page via the proxy", f"{ufail} of {uasked} asks failed"),
                ]
                restarted = topo.restart_redis_node(dead)
                rows.append(("", "old primary restarted, back as a replica", f"in {restarted:.1f} s"))
                time.sleep(CALM_S)  # the load runs undisturbed before the next fault

                # 2. an app process
                before = {id(c): c.disconnects for c in clients}
                killed = topo.kill_app(2)
                wait_until(lambda: topo.backend_states().get("app2") not in ("UP", None), 30, "app2 marked down")
                marked = time.monotonic()
                movers = [c for c in clients if c.disconnects > before[id(c)]]
                _settle(lambda: bool(movers) and _clients_back(movers, killed)[1] is not None)
                first, last = _clients_back(movers, killed) if movers else (None, None)
                ufail, uasked, _ = users.failed_between(killed, time.monotonic())
                rows += [
                    ("app process SIGKILLed", "HAProxy took it out", f"{marked - killed:.2f} s after the kill"),
                    ("", f"its {len(movers)} clients receiving again (first / last)",
                     f"{_s(first)} / {_s(last)} after the kill"),
                    ("", "clients on the other processes disconnected",
                     str(sum(1 for c in clients if c not in movers and c.disconnects > before[id(c)]))),
                    ("", "sign-in page via the proxy", f"{ufail} of {uasked} asks failed"),
                ]
                took = topo.start_app(2)
                rows.append(("", "app process restarted and UP in HAProxy", f"in {took:.1f} s"))
                time.sleep(CALM_S)  # the load runs undisturbed before the next fault

                # 3. PostgreSQL
                started = time.monotonic()
                took = topo.restart_postgres()
                back = time.monotonic()
                _settle(lambda: _live_after(r, back) is not None)
                hfail, hasked, hback = health.failed_between(started, time.monotonic())
                ufail, uasked, _ = users.failed_between(started, time.monotonic())
                rows += [
                    ("PostgreSQL restarted", "database answering again", f"in {took:.1f} s"),
                    ("", "consumers publishing again", _s(_after(_live_after(r, back), back)) + " after it answered"),
                    ("", "/healthz via the proxy", f"{hfail} of {hasked} asks failed; 200 again "
                     f"{_s(_after(hback, started))} after the restart began"),
                    ("", "sign-in page via the proxy", f"{ufail} of {uasked} asks failed"),
                ]
                time.sleep(CALM_S)  # the load runs undisturbed before the next fault
            finally:
                for part in (*producers, health, users):
                    part.halt.set()
                for producer in producers:
                    producer.join(timeout=30)
            engine = make_engine(topo.database_url, migrate=False)
            acked = {event_id for p in producers for event_id, _ in p.acked}
            _settle(lambda: acked <= _kept(engine), timeout_s=120)
            published = [json.loads(f["data"])["event_id"] for _, f in r.xrange(keys.LIVE) if f["type"] == "incident"]
            for client in clients:
                client.wait_for_ids(set(published), timeout=120)
            page_states = []
            for page in pages:
                page.wait_for_function("(ids) => ids.every(id => id in window.__faults.delivered)", arg=published,
                                       timeout=120_000)
                page_states.append(page.evaluate(PAGE_STATE))
            browser.close()
        kept = _kept(engine)
        _print_delivery(producers, kept, published)
        _print_faults(rows)
        _print_screens(clients, page_states, published)
        for client in clients:
            client.close()
    finally:
        topo.down(wipe=True)


def _kept(engine: Any) -> set[str]:
    with engine.connect() as conn:
        return set(conn.execute(select(incidents.c.event_id).where(incidents.c.event_id.like("FO-%"))).scalars())


def _after(moment: float | None, origin: float) -> float | None:
    return None if moment is None else moment - origin


def _settle(condition: Callable[[], bool], timeout_s: float = 60) -> None:
    wait_until(condition, timeout_s, "the parts resuming")


def _print_delivery(producers: list[Producer], kept: set[str], published: list[str]) -> None:
    print("\n  | producer | accepted (acknowledged) | kept | published | acknowledged lost | outcome unknown "
          "(kept of them) | duplicates published | send p50 / p95 / max |")
    print("  |---|---|---|---|---|---|---|---|")
    shown = set(published)
    for producer in producers:
        acked = {event_id for event_id, _ in producer.acked}
        mine = [e for e in published if e.startswith(producer.tag + "-")]
        name = "XADD + WAIT 1 (node-pinned)" if producer.confirm else "XADD"
        extra = f"; WAIT answered 0 for {producer.unconfirmed}" if producer.confirm else ""
        print(f"  | {name} | {len(acked):,} | {len(acked & kept):,} | {len(acked & shown):,} | "
              f"{len(acked - kept)} | {len(producer.unknown)} ({len(set(producer.unknown) & kept)}){extra} | "
              f"{len(mine) - len(set(mine))} | {percentile(producer.took_s, 50) * 1000:.1f} / "
              f"{percentile(producer.took_s, 95) * 1000:.1f} ms / {max(producer.took_s):.2f} s |")


def _print_faults(rows: list[tuple[str, str, str]]) -> None:
    print("\n  | fault | part | back |")
    print("  |---|---|---|")
    for fault, part, value in rows:
        print(f"  | {fault} | {part} | {value} |")


def _print_screens(clients: list[LiveClient], page_states: list[dict[str, Any]], published: list[str]) -> None:
    latencies = [t for c in clients for t in c.received_at]
    print(f"\n  clients: {len(clients)}, each got {min(len(c.seen_ids & set(published)) for c in clients):,} to "
          f"{max(len(c.seen_ids & set(published)) for c in clients):,} of {len(set(published)):,} incidents; "
          f"batches re-sent (dropped by their seq) {sum(c.duplicates for c in clients)}, "
          f"incidents delivered twice {sum(c.redelivered for c in clients)}, "
          f"gaps {sum(c.gaps for c in clients)}, reconnections {sum(c.connects - 1 for c in clients)}; "
          f"events received {len(latencies):,}")
    for n, state in enumerate(page_states):
        twice = sum(count - 1 for count in state["delivered"].values())
        print(f"  page {n + 1}: {len(state['delivered']):,} incidents delivered, {twice} twice, "
              f"{state['connects']} reconnections, {state['markers']} markers on the map")
