"""Small helpers shared by tests: contract-valid entries, waiting for a condition."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

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
