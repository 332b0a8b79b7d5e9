"""Waiting for what another thread or process does, when there is no event to await."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


def wait_until(condition: Callable[[], T], timeout: float = 20.0, what: str = "condition") -> T:
    """Return ``condition()`` once it is truthy; fail after ``timeout`` seconds.

    For things with no event to await (another process's progress), checked
    every 20 ms against a deadline (machine time: a frozen product clock does not stop it).
    """
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.02)
