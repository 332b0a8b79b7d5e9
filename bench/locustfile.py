"""HTTP load on the production topology: duty officers dispatching and chiefs reading (`make prod-load`).

Every request is one a browser makes (page GETs, Dash callback POSTs with the CSRF header, the reports' pages),
through the proxy, so HAProxy's sticky cookie keeps each session on one app process. bench/load_bench.py brings up
the topology, creates the accounts, seeds units and incidents, answers instructions as field units do and runs this
file headless; by hand, against a topology seeded the same way (from the project root)::

    PYTHONPATH=. .venv/bin/locust -f bench/locustfile.py --host http://127.0.0.1:8280

Environment (load_bench.py sets it): LOAD_PASSWORD, LOAD_OFFICERS (100), LOAD_CHIEFS (20), LOAD_INCIDENTS (incidents
LOAD-00000... kept before the run). Officer n signs in as ``load-officer-NNN`` and sends unit ``PU-LNNN`` (one unit
each: units are reserved until their instruction ends, so sharing them would measure refusals); chief n as
``load-chief-NN``. A request counts as failed when its status is not the expected one or when its answer does not say
what the act should have done (an instruction created, closed; a report rendered), not only on 5xx.
"""

from __future__ import annotations

import itertools
import json
import os
import random
import re
import time
from collections.abc import Callable, Iterator
from typing import Any

from locust import HttpUser, between, events, task
from locust.clients import ResponseContextManager

from layouts.ids import DispatchID, IndicatorID
from testkit.dash_requests import callback_request, send_output, send_request

PASSWORD = os.environ.get("LOAD_PASSWORD", "bench-password-not-secret")
OFFICERS = int(os.environ.get("LOAD_OFFICERS", "100"))
CHIEFS = int(os.environ.get("LOAD_CHIEFS", "20"))
INCIDENTS = int(os.environ.get("LOAD_INCIDENTS", "3000"))
TIMEOUT_S = 60.0  # a request still unanswered then is a failure (requests has no default)
# The bench's field units report a result 1-3 s after a send; an officer seeing nothing for this long gives up.
RESULT_WAIT_S = float(os.environ.get("LOAD_RESULT_WAIT_S", "30"))

DASH = "/_dash-update-component"
MAP_GEOMETRY = ("/geo/grids.geojson", "/geo/stations.geojson", "/geo/district.geojson", "/geo/grid-labels.geojson")
CSRF_FIELD = re.compile(r'name="csrf" value="([^"]+)"')
DAILY_LINK = re.compile(r'href="(/reports/daily/\d{4}-\d{2}-\d{2})"')
WEEKLY_LINK = re.compile(r'href="(/reports/weekly/\d{4}-\d{2}-\d{2})"')
RESULT_REPORTED = re.compile(r'"data-state":\s*"result_reported"')
# Ids make every refusal's text unique; without them the failures group by kind.
IDS = re.compile(r"\b(?:INS-[0-9a-f]+|PU-L\d+|LOAD-\d+)\b")

_officer_numbers = itertools.count()
_chief_numbers = itertools.count()
_incidents: Iterator[int] = iter(range(INCIDENTS))  # one gevent process: a plain iterator is shared safely


def _prop(reply: dict[str, Any], component: str, prop: str) -> Any:
    return reply.get(component, {}).get(prop)


class Desk(HttpUser):
    """A signed-in person at a desk: the sign-in form, the map page as the browser loads it."""

    abstract = True
    username = ""
    dependencies: list[dict[str, Any]]
    layout: dict[str, Any]

    def arrive(self) -> None:
        """Sign in and open the page, trying again after a pause as a person would: a refused sign-in or a 503
        is counted as a failure, and the desk stays in the run instead of leaving it."""
        while not self.sign_in():
            time.sleep(random.uniform(2, 5))
        while not self.open_page():
            time.sleep(random.uniform(2, 5))

    def sign_in(self) -> bool:
        with self.client.get("/login", name="/login", catch_response=True, timeout=TIMEOUT_S) as page:
            token = CSRF_FIELD.search(page.text or "")
            if page.status_code != 200 or token is None:
                page.failure(f"no sign-in form ({_status(page)})")
                return False
        form = {"csrf": token.group(1), "username": self.username, "password": PASSWORD}
        with self.client.post("/login", name="/login", data=form, allow_redirects=False, catch_response=True,
                              timeout=TIMEOUT_S) as done:
            if done.status_code != 302:  # 200 is the form again (refused), 429 the per-address limit
                done.failure(f"sign-in refused ({_status(done)})")
                return False
        # Dash's renderer sends the CSRF cookie back as this header on every callback POST.
        self.client.headers["X-CSRFToken"] = self.client.cookies.get("_csrf_token") or ""
        return True

    def open_page(self) -> bool:
        """GET / and what the page asks for at once: its layout, its callbacks, the map's geometry."""
        self.expect_ok(self.get("/", "/ (page)"))
        layout = self.expect_ok(self.get("/_dash-layout", "/_dash-layout"), json)
        deps = self.expect_ok(self.get("/_dash-dependencies", "/_dash-dependencies"), json)
        for url in MAP_GEOMETRY:
            self.expect_ok(self.get(url, "/geo/*.geojson"))
        if not isinstance(deps, list) or not isinstance(layout, dict):
            return False  # already counted as a failure; nothing the page does works without them
        self.dependencies, self.layout = deps, layout
        return True

    def get(self, url: str, name: str) -> ResponseContextManager:
        """A GET as the browser makes it, not following redirects (the sign-in page is no answer to a page)."""
        return self.client.get(url, name=name, allow_redirects=False, catch_response=True, timeout=TIMEOUT_S)

    @staticmethod
    def expect_ok(response: ResponseContextManager, parse: Any = None) -> Any:
        """Count anything but a 200 as a failure (a redirect to the sign-in page included); parsed with ``parse``."""
        with response:
            if response.status_code != 200:
                response.failure(_status(response))
                return None
            try:
                return parse.loads(response.text) if parse else response.text
            except ValueError:
                response.failure("unparsable answer")
                return None

    def callback(self, name: str, body: dict[str, Any],
                 check: Callable[[dict[str, Any]], str | None] = lambda reply: None) -> dict[str, Any] | None:
        """POST one Dash callback; a failure unless 200 with outputs and ``check`` finds nothing wrong."""
        with self.client.post(DASH, json=body, name=name, catch_response=True, timeout=TIMEOUT_S) as response:
            if response.status_code != 200:  # 204: the callback changed nothing (PreventUpdate): never expected here
                response.failure(_status(response))
                return None
            try:
                reply = response.json()["response"]
            except (ValueError, KeyError, TypeError):
                response.failure("not a Dash callback answer")
                return None
            problem = check(reply)
            if problem:
                response.failure(IDS.sub("…", problem)[:160])
                return None
            return dict(reply)


class DutyOfficer(Desk):
    """Opens the next incident's panel, sends its unit, waits for the unit's result on the panel, closes it."""

    fixed_count = OFFICERS
    wait_time = between(1, 3)

    def on_start(self) -> None:
        self.number = next(_officer_numbers)
        self.username = f"load-officer-{self.number:03d}"
        self.unit = f"PU-L{self.number:03d}"
        self.arrive()
        self.send_key = send_output(self.dependencies)

    @task
    def dispatch_one(self) -> None:
        n = next(_incidents, None)
        if n is None:
            events.request.fire(request_type="LOAD", name="incident pool", response_time=0, response_length=0,
                                exception=RuntimeError("every seeded incident used: raise LOAD_INCIDENTS"))
            time.sleep(5)  # nothing left to dispatch; the failure above is counted every 5 s until the end
            return
        incident = f"LOAD-{n:05d}"
        panel = self.callback("callback: open incident", callback_request(
            self.dependencies, (DispatchID.INCIDENT, "data"), incident),
            lambda reply: None if isinstance(_prop(reply, DispatchID.KEY, "data"), str)
            else "incident not shown (unknown to the app, or not this officer's)")
        if panel is None:
            return
        time.sleep(random.uniform(0.5, 1.5))  # reading the panel before the click
        sent = self.callback("callback: send instruction", send_request(
            self.send_key, incident, self.unit, str(_prop(panel, DispatchID.KEY, "data"))), self.sent_problem)
        if sent is None:
            return
        instruction = _prop(sent, DispatchID.SENT, "data")["ids"][0]
        if not self.wait_for_result(incident, str(_prop(sent, DispatchID.MODE, "data"))):
            # Cancelling frees the unit: left reserved, every later send of this officer would be refused as busy.
            self.act(instruction, "cancel")
            return
        self.act(instruction, "close")

    def act(self, instruction: str, action: str) -> None:
        """A button on the open instruction (close, cancel); its answer names the instruction when it was done."""
        self.callback(f"callback: {action} instruction", callback_request(
            self.dependencies, (DispatchID.ACTION, "data"), {"instruction_id": instruction, "action": action}),
            lambda reply: None if str(_prop(reply, DispatchID.MESSAGE, "children")).endswith(f": {instruction}")
            else f"{action} refused: {_prop(reply, DispatchID.MESSAGE, 'children')}")

    def sent_problem(self, reply: dict[str, Any]) -> str | None:
        """Why this send's answer does not show one new instruction (refused, a repeat, or empty)."""
        sent = _prop(reply, DispatchID.SENT, "data")
        message = str(_prop(reply, DispatchID.MESSAGE, "children"))
        if not isinstance(sent, dict) or not sent.get("ids"):
            return f"no instruction created: {message}"
        if len(sent["ids"]) != 1 or not str(sent["ids"][0]).startswith("INS-"):
            return f"unexpected instructions {sent['ids']}"
        if "重复" in message or "Already" in message:  # dispatch.sent.duplicate: a fresh key must never repeat
            return "answered as a repeated send"
        return None

    def wait_for_result(self, incident: str, mode: str) -> bool:
        """Refresh the panel, as the page does when a pushed event moves its incident, until the unit's result
        shows (each refresh is a request of its own; a unit that never answers is a failure)."""
        deadline = time.monotonic() + RESULT_WAIT_S
        bump = 0
        while time.monotonic() < deadline:
            time.sleep(random.uniform(0.7, 1.3))
            bump += 1
            reply = self.callback("callback: refresh panel", callback_request(
                self.dependencies, (DispatchID.REFRESH, "data"), bump,
                {(DispatchID.INCIDENT, "data"): incident, (DispatchID.MODE, "data"): mode}))
            if reply is not None and RESULT_REPORTED.search(json.dumps(reply)):
                return True
        events.request.fire(request_type="WAIT", name="unit's result on the panel", response_time=RESULT_WAIT_S * 1000,
                            response_length=0, exception=TimeoutError(f"no result within {RESULT_WAIT_S:.0f} s"))
        return False


class Chief(Desk):
    """Reads the indicators (a station's grids, computed on request) and the reports."""

    fixed_count = CHIEFS
    wait_time = between(2, 5)
    stations: list[str]

    def on_start(self) -> None:
        self.username = f"load-chief-{next(_chief_numbers):02d}"
        self.arrive()
        self.stations = [str(o["value"]) for o in _find(self.layout, IndicatorID.SCOPE).get("options", [])
                         if str(o.get("value", "")).startswith("PS-")]
        if not self.stations:
            events.request.fire(request_type="LOAD", name="indicators scope", response_time=0, response_length=0,
                                exception=RuntimeError("no station in the indicators' scope menu"))

    @task(3)
    def station_grids(self) -> None:
        """The indicators view is drawn from pushed figures; choosing a station asks the server for its grids."""
        if not self.stations:
            return  # counted once, at the start
        station = random.choice(self.stations)
        self.callback("callback: indicators, a station's grids", callback_request(
            self.dependencies, (IndicatorID.SCOPE, "value"), station, {(IndicatorID.SHOWN, "data"): True}),
            lambda reply: None if isinstance(_prop(reply, IndicatorID.GRIDS, "children"), dict | list)
            else f"no grid table: {_prop(reply, IndicatorID.GRIDS, 'children')}")

    @task(2)
    def reports(self) -> None:
        """The reports list, then a daily report (and now and then a weekly one) as HTML."""
        index = self.expect_ok(self.get("/reports", "/reports"))
        if index is None:
            return
        daily = DAILY_LINK.findall(index)
        if not daily:
            events.request.fire(request_type="GET", name="/reports/daily/[key]", response_time=0, response_length=0,
                                exception=RuntimeError("no daily report listed"))
            return
        self.report(random.choice(daily), "/reports/daily/[key]")
        weekly = WEEKLY_LINK.findall(index)
        if weekly and random.random() < 0.3:
            self.report(random.choice(weekly), "/reports/weekly/[key]")

    def report(self, url: str, name: str) -> None:
        with self.get(url, name) as page:
            if page.status_code != 200:
                page.failure(_status(page))
            elif "<table" not in page.text:
                page.failure("a report page without its tables")

    @task(1)
    def reload(self) -> None:
        self.open_page()


def _status(response: ResponseContextManager) -> str:
    """A failure's kind: the status, or for no answer at all the error (refused, reset, timed out)."""
    if response.status_code == 0:
        return f"no answer ({type(response.error).__name__})"
    return f"HTTP {response.status_code}"


def _find(tree: Any, component_id: str) -> dict[str, Any]:
    """The props of the component ``component_id`` in a Dash layout (empty when absent)."""
    if isinstance(tree, dict):
        props = tree.get("props", {})
        if isinstance(props, dict) and props.get("id") == component_id:
            return props
        children = props.get("children") if isinstance(props, dict) else None
        return _find(children, component_id)
    if isinstance(tree, list):
        for child in tree:
            found = _find(child, component_id)
            if found:
                return found
    return {}
