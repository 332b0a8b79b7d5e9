"""Headless Chromium settings shared by the browser tests and the benchmarks."""

from __future__ import annotations

import shutil
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from testkit.accounts import BENCH_PASSWORD, BENCH_USER, sign_in_page

if TYPE_CHECKING:
    from playwright.sync_api import Browser, BrowserContext, Page

# The closed network refuses Chromium's background connections: switch them off.
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]

# Records when all 863 grid paths are in the DOM (performance.now(), ms from navigation).
GRIDS_DRAWN_PROBE = """
window.__gridsDrawnAt = null;
new MutationObserver(function (_, observer) {
  if (document.querySelectorAll('path.grid-cell').length >= 863) {
    window.__gridsDrawnAt = performance.now();
    observer.disconnect();
  }
}).observe(document, {subtree: true, childList: true});
"""


def chromium_path() -> str:
    """Path of Debian's chromium (installed by `make browser`)."""
    path = shutil.which("chromium")
    if path is None:
        raise RuntimeError("chromium is not installed: run `make browser` (Debian package `chromium`)")
    return path


VIEWPORT = {"width": 1920, "height": 1080}
PHONE_VIEWPORT = {"width": 360, "height": 740}  # the grid workers' phones


def new_context(browser: Browser, phone_at: tuple[float, float] | None = None) -> BrowserContext:
    """Every browser profile the tests and benchmarks use comes from here.

    The one place to log a profile in once pages need a session (its cookies then serve
    every page opened in it). ``phone_at`` (lon, lat) makes a touch phone that reports being there.
    """
    if phone_at is not None:
        return browser.new_context(viewport=PHONE_VIEWPORT, is_mobile=True, has_touch=True,  # type: ignore[arg-type]
                                   geolocation={"longitude": phone_at[0], "latitude": phone_at[1]},
                                   permissions=["geolocation"])
    return browser.new_context(viewport=VIEWPORT)  # type: ignore[arg-type]


def open_page(browser: Browser, url: str, ready: str | None = None, init_script: str | None = None,
              timeout_ms: float = 60_000, signed_in: bool = True) -> Page:
    """A fresh profile and page at ``url`` (signed in as the bench account through the form, unless
    ``signed_in=False``); waits for the JS condition ``ready`` when given."""
    page = new_context(browser).new_page()
    if init_script:
        page.add_init_script(init_script)
    if signed_in:
        parts = urlsplit(url)
        sign_in_page(page, f"{parts.scheme}://{parts.netloc}", BENCH_USER, BENCH_PASSWORD, then=parts.path or "/")
    else:
        page.goto(url)
    if ready:
        page.wait_for_function(ready, timeout=timeout_ms)
    return page
