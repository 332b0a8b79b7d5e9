"""The production topology, as a user meets it: through HAProxy on one port, to any of three app processes.

One session-scoped topology (tests/prod/conftest.py): /healthz through the proxy, a browser kept on one process
by the PINGAN_SRV cookie while its session works on every process, the live push over Socket.IO through the
proxy, one app process killed (taken out by the health checks, requests still answered) and started again, and
(PROD_REDIS=cluster) the Redis primary of the product's keys killed: a replica takes over, the push resumes.
"""

from __future__ import annotations

import threading
import time

import pytest
import requests

from bus import keys
from bus.connection import connect
from prod.topology import COOKIE, SERVER_HEADER, Topology
from testkit.accounts import BENCH_PASSWORD, BENCH_USER
from testkit.entries import incident
from testkit.live_client import open_client, sign_in
from urls import URL

pytestmark = pytest.mark.prod

MARKED_DOWN_S = 2.0  # checks every 500 ms, down after 2 failures: about 1 s, with room for a busy machine


def pin(browser: requests.Session, app: str) -> None:
    """Send ``browser`` to ``app`` from now on, as if HAProxy had set its cookie so (one cookie, not two)."""
    for cookie in [c for c in browser.cookies if c.name == COOKIE]:
        browser.cookies.clear(cookie.domain, cookie.path, cookie.name)
    browser.cookies.set(COOKIE, app, domain="127.0.0.1", path="/")


def test_prod001_healthz_answers_through_the_proxy_and_on_every_app(topology: Topology) -> None:
    response = requests.get(topology.layout.proxy_url + URL.HEALTHZ, timeout=5)
    assert response.status_code == 200 and response.json()["ok"] is True
    for i in topology.layout.apps:
        assert requests.get(topology.layout.app_url(i) + URL.HEALTHZ, timeout=5).status_code == 200
    assert set(topology.backend_states().values()) == {"UP"}
    status = "\n".join(topology.status())
    assert "haproxy   up" in status and "sick" not in status and "down " not in status


def test_prod002_a_browser_stays_on_one_app_and_its_session_works_on_every_app(topology: Topology) -> None:
    proxy = topology.layout.proxy_url
    # New browsers are spread round robin, each told its process in the cookie.
    first = [requests.get(proxy + URL.LOGIN, timeout=5) for _ in topology.layout.apps]
    assert all(r.status_code == 200 and 'name="csrf"' in r.text for r in first)  # the sign-in page
    assert {r.cookies[COOKIE] for r in first} == {f"app{i}" for i in topology.layout.apps}
    assert all(r.headers[SERVER_HEADER] == r.cookies[COOKIE] for r in first)

    browser = sign_in(proxy, BENCH_USER, BENCH_PASSWORD)
    home = browser.cookies[COOKIE]
    answered = {browser.get(proxy + URL.HEALTHZ, timeout=5).headers[SERVER_HEADER] for _ in range(12)}
    assert answered == {home}
    page = browser.get(proxy + "/", timeout=10, allow_redirects=False)
    assert page.status_code == 200 and page.headers[SERVER_HEADER] == home
    # The same signed-in session on every process (one SECRET_KEY, sessions in the shared Redis).
    for i in topology.layout.apps:
        pin(browser, f"app{i}")
        page = browser.get(proxy + "/", timeout=10, allow_redirects=False)
        assert (page.status_code, page.headers[SERVER_HEADER]) == (200, f"app{i}")


@pytest.mark.parametrize("transport", ["websocket", "polling"])
def test_prod003_live_push_reaches_a_page_through_the_proxy(topology: Topology, redis_url: str,
                                                            transport: str) -> None:
    proxy = topology.layout.proxy_url
    http = sign_in(proxy, BENCH_USER, BENCH_PASSWORD)
    # Subscribing and acknowledging over HTTP, like a Dash page: only the process holding the socket knows its
    # sid, so these requests must reach it (the cookie); long-polling needs the same for every poll.
    client = open_client(proxy, http, over_http=True, connect=False)
    client.sio.eio.http = http  # every poll with the browser's cookies, as a browser sends them
    client.sio.connect(proxy, transports=[transport], wait_timeout=10)
    try:
        r = connect(redis_url)
        event_id = f"PROD-{transport}-{time.monotonic_ns()}"
        r.xadd(keys.INCIDENTS, incident(event_id))
        assert client.wait_for_ids({event_id}, timeout=30), f"{event_id} not pushed through the proxy"
        assert client.duplicates == 0 and client.gaps == 0
    finally:
        client.close()


def test_prod004_a_killed_app_is_taken_out_at_once_and_requests_keep_succeeding(topology: Topology) -> None:
    proxy = topology.layout.proxy_url
    browser = requests.Session()
    victim = browser.get(proxy + URL.HEALTHZ, timeout=5).cookies[COOKIE]  # kept in its jar: pinned to victim
    i = int(victim.removeprefix("app"))
    failures: list[str] = []
    answered_by: set[str] = set()
    stop = threading.Event()

    def keep_asking() -> None:  # a browser pinned to the victim, asking all along
        while not stop.is_set():
            try:
                pin(browser, victim)  # HAProxy moves it to another process: it keeps asking for the dead one
                response = browser.get(proxy + URL.HEALTHZ, timeout=5)
                answered_by.add(response.headers.get(SERVER_HEADER, "?"))
                if response.status_code != 200:
                    failures.append(str(response.status_code))
            except requests.RequestException as exc:
                failures.append(type(exc).__name__)
            time.sleep(0.02)

    asker = threading.Thread(target=keep_asking, daemon=True)
    asker.start()
    try:
        killed_at = topology.kill_app(i)
        topology.wait_backend(i, "DOWN", timeout_s=10)
        marked_down_s = time.monotonic() - killed_at
        time.sleep(1.0)  # requests after the mark, too
    finally:
        stop.set()
        asker.join(10)
    print(f"\napp{i} killed: HAProxy marked it DOWN after {marked_down_s:.2f} s; "
          f"requests meanwhile answered by {sorted(answered_by)}, {len(failures)} failed")
    assert marked_down_s < MARKED_DOWN_S
    assert failures == []
    assert answered_by - {victim}, "the pinned browser was not sent to another process"

    restart_s = topology.start_app(i)  # until its /healthz answers and HAProxy has it UP again
    print(f"app{i} started again and UP behind the proxy in {restart_s:.1f} s")
    pin(browser, victim)
    response = browser.get(proxy + URL.HEALTHZ, timeout=5)
    assert (response.status_code, response.headers[SERVER_HEADER]) == (200, victim)


def test_prod005_a_killed_redis_primary_is_replaced_and_the_push_resumes(topology: Topology, redis_url: str) -> None:
    if topology.layout.redis_mode != "cluster":
        pytest.skip("a Redis Cluster's failover: PROD_REDIS=cluster")
    proxy = topology.layout.proxy_url
    client = open_client(proxy, sign_in(proxy, BENCH_USER, BENCH_PASSWORD), over_http=True)
    r = connect(redis_url)
    try:
        old = topology.primary_of(keys.LIVE)
        killed_at = topology.kill_redis_primary_of(keys.LIVE)
        while topology.primary_of(keys.LIVE) == old:  # the survivors' slot map: no event to await
            assert time.monotonic() - killed_at < 20, f"no replica promoted for {old}"
            time.sleep(0.05)
        promoted_s = time.monotonic() - killed_at
        event_id = f"PROD-failover-{time.monotonic_ns()}"
        r.xadd(keys.INCIDENTS, incident(event_id))
        assert client.wait_for_ids({event_id}, timeout=30), "the push did not resume after the failover"
        resumed_s = time.monotonic() - killed_at
        back_s = topology.restart_redis_node(old)
        print(f"\nRedis primary {old} killed: replica promoted after {promoted_s:.1f} s, an incident pushed "
              f"through the proxy {resumed_s:.1f} s after the kill; {old} back as a replica in {back_s:.1f} s")
        assert topology.cluster_roles()[old][0] == "replica"
        assert client.disconnects == 0  # its WebSocket stayed up through the failover (HAProxy keeps tunnels)
        topology.wait_cluster_ok()
    finally:
        client.close()
