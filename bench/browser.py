"""Headless Chromium settings shared by the browser tests and the benchmarks."""

from __future__ import annotations

import shutil
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from playwright.sync_api import Page

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


def sign_in_page(page: Page, base_url: str, username: str, password: str, then: str = "/") -> None:
    """Sign in through the real form, like the person at the desk, and wait for ``then``."""
    page.goto(f"{base_url}/login?next={then}")
    page.fill("#login-username", username)
    page.fill("#login-password", password)
    page.click("#login-submit")
    page.wait_for_url(f"{base_url}{then}")
