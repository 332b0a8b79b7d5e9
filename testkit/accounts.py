"""People who sign in during tests, benchmarks and drills, through the real sign-in form."""

from __future__ import annotations

import re
import secrets
import subprocess
import sys
from typing import TYPE_CHECKING

from settings import PROJECT_ROOT

if TYPE_CHECKING:
    from flask.testing import FlaskClient
    from playwright.sync_api import Page

    from app import PinganApp

PASSWORD = "correct-horse-battery"
# The account benchmarks and fault drills sign in with (created in the server's database).
BENCH_USER = "bench"
BENCH_PASSWORD = "bench-password-not-secret"
_LOGIN_CSRF = re.compile(r'name="csrf" value="([^"]+)"')


GRID_WORKERS_GRIDS = ("SC-021",)  # where a test's grid worker works unless told otherwise (BHV-001's grid)


def make_user(app: PinganApp, role: str, station: str | None = None, username: str | None = None,
              grids: tuple[str, ...] | None = None) -> str:
    """Create an account with :data:`PASSWORD` in the app's system of record; returns its name."""
    username = username or f"{role.replace('_', '-')}-{secrets.token_hex(3)}"
    if role in {"station_officer", "station_chief"} and station is None:
        station = next(iter(app.grids.stations("en")))[0]
    if role in {"grid_worker", "volunteer"} and grids is None:
        grids = GRID_WORKERS_GRIDS
    app.security.users.create(username, PASSWORD, role, station=station, grids=grids or ())
    return username


def add_account(env: dict[str, str], username: str = BENCH_USER, role: str = "duty_officer",
                grids: tuple[str, ...] = ()) -> None:
    """Create ``username`` in the database ``env`` points at (VAR_DIR / DATABASE_URL), if missing."""
    done = subprocess.run([sys.executable, "-m", "auth", "add", username, "--role", role, "--password",
                           BENCH_PASSWORD, "--grids", ",".join(grids)], cwd=PROJECT_ROOT, env=env,
                          capture_output=True, text=True)
    if done.returncode != 0 and "exists" not in done.stderr:
        raise RuntimeError(f"could not create {username}: {done.stderr.strip()}")


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
    """Sign in through the real form, like the person at the desk, and wait for ``then``."""
    page.goto(f"{base_url}/login?next={then}")
    page.fill("#login-username", username)
    page.fill("#login-password", password)
    page.click("#login-submit")
    page.wait_for_url(f"{base_url}{then}")
