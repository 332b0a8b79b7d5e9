"""Headless Chromium settings shared by the browser tests and the benchmarks."""

from __future__ import annotations

import shutil

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
