"""Small helpers shared by tests: contract-valid entries, waiting for a condition."""

from __future__ import annotations

import re
import secrets
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, TypeVar

if TYPE_CHECKING:
    from flask.testing import FlaskClient
    from playwright.sync_api import Page

    from app import PinganApp

T = TypeVar("T")

SEAT = (112.432, 39.331)


def incident(event_id: str, **overrides: str) -> dict[str, str]:
    """A valid ``cc:in:incidents`` entry near the district seat."""
    fields = {
        "event_id": event_id,
        "reported_at": "2026-11-27T09:30:00+08:00",
        "lon": f"{SEAT[0]:.6f}",
        "lat": f"{SEAT[1]:.6f}",
        "category": "neighbour_dispute",
        "priority": "2",
        "address": "朔城区开发路12号",
        "description": "邻居因楼道堆物发生争吵",
        "caller": "13812345678",
        "source": "110",
    }
    fields.update(overrides)
    return fields


def unit(unit_id: str, observed_at: str, **overrides: str) -> dict[str, str]:
    fields = {"unit_id": unit_id, "observed_at": observed_at, "lon": "112.43", "lat": "39.33", "status": "available"}
    fields.update(overrides)
    return fields


def wait_until(condition: Callable[[], T], timeout: float = 20.0, what: str = "condition") -> T:
    """Return ``condition()`` once it is truthy; fail after ``timeout`` seconds.

    For things with no event to await (another process's progress), checked
    every 20 ms against a deadline.
    """
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.02)


def send_request(output: str, incident_id: str, unit_id: str, key: str, body: str = "请立即前往") -> dict:
    """The POST a browser makes when the officer clicks "send" (Dash's callback wire format).

    ``output`` is the send callback's key in ``/_dash-dependencies`` (Dash suffixes
    duplicated outputs with a hash, so it is read, not spelled).
    """
    from layouts.ids import DispatchID

    outputs = []
    for part in output.strip(".").split("..."):
        component, prop = part.split(".", 1)
        outputs.append({"id": component, "property": prop})
    return {
        "output": output,
        "outputs": outputs,
        "inputs": [{"id": DispatchID.SEND, "property": "n_clicks", "value": 1}],
        "state": [{"id": DispatchID.INCIDENT, "property": "data", "value": incident_id},
                  {"id": DispatchID.UNITS, "property": "value", "value": [unit_id]},
                  {"id": DispatchID.TEXT, "property": "value", "value": body},
                  {"id": DispatchID.KEY, "property": "data", "value": key},
                  {"id": DispatchID.REPLACES, "property": "data", "value": None}],
        "changedPropIds": [f"{DispatchID.SEND}.n_clicks"],
    }


def send_output(dependencies: list[dict]) -> str:
    """The send callback's output key, from Dash's dependency list."""
    from layouts.ids import DispatchID

    return next(d["output"] for d in dependencies if d["output"].startswith(f"..{DispatchID.MESSAGE}.children@")
                and any(i["id"] == DispatchID.SEND for i in d["inputs"]))


# -- signing in --------------------------------------------------------------------

PASSWORD = "correct-horse-battery"
_LOGIN_CSRF = re.compile(r'name="csrf" value="([^"]+)"')


def make_user(app: PinganApp, role: str, station: str | None = None, username: str | None = None) -> str:
    """Create an account with :data:`PASSWORD` in the app's system of record; returns its name."""
    username = username or f"{role.replace('_', '-')}-{secrets.token_hex(3)}"
    if role == "station_officer" and station is None:
        station = next(iter(app.grids.stations("en")))[0]
    app.security.users.create(username, PASSWORD, role, station=station)
    return username


def login_form(html: str, username: str, password: str = PASSWORD) -> dict[str, str]:
    """The sign-in form as a browser submits it (with the form's CSRF token)."""
    match = _LOGIN_CSRF.search(html)
    assert match, "no CSRF token in the sign-in page"
    return {"csrf": match.group(1), "username": username, "password": password}


def sign_in_client(client: FlaskClient, username: str, password: str = PASSWORD) -> dict[str, str]:
    """Sign a Flask test client in; returns the headers its state-changing requests need."""
    form = login_form(client.get("/login").get_data(as_text=True), username, password)
    response = client.post("/login", data=form)
    assert response.status_code == 302, response.get_data(as_text=True)[:300]
    cookie = client.get_cookie("_csrf_token")
    assert cookie is not None
    return {"X-CSRFToken": cookie.value}


def sign_in_page(page: Page, base_url: str, username: str, password: str = PASSWORD, then: str = "/") -> None:
    from bench.browser import sign_in_page as form_sign_in

    form_sign_in(page, base_url, username, password, then)
