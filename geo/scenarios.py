"""What the district's sensing devices report: alert scenarios and the verification budget.

Configuration, not code (``data/scenarios.json``): each scenario's risk, the incident category a
confirmed alert becomes, the devices that may report it and the value or floor below which a
report is only a reading, whether its compound hears of it at once, and how long the duty officer
has to verify an alert.
"""

from __future__ import annotations

import json
from enum import StrEnum
from functools import cache
from typing import Any

from settings import DATA_DIR


@cache
def _scenario_config() -> dict[str, Any]:
    config: dict[str, Any] = json.loads((DATA_DIR / "scenarios.json").read_text(encoding="utf-8"))
    return config


def scenarios() -> dict[str, dict[str, Any]]:
    """Alert scenarios (read once per process)."""
    found: dict[str, dict[str, Any]] = _scenario_config()["scenarios"]
    return found


def verify_within_s() -> float:
    """How long the duty officer has to verify a sensor alert."""
    return float(_scenario_config()["verify_within_s"])


class Screened(StrEnum):
    """Why an alert from a device was kept as a reading instead of reaching the duty officer's queue."""

    BELOW_THRESHOLD = "below_threshold"  # e.g. smoke under 0.1 mg/m³
    BELOW_FLOOR = "below_floor"  # a throw from under the 3rd floor
    WRONG_DEVICE = "wrong_device"  # a scenario this type of device cannot report


def screen(scenario: str, device_type: str, value: float | None, floor: int | None,
           device_threshold: float | None = None) -> Screened | None:
    """Whether an alert is below what raises one (``None``: it is an alert).

    The device's own threshold (``data/devices.json``) overrides the scenario's default. A value or
    floor the platform did not send cannot be checked, so the alert stands: a smoke alarm is never
    silenced for a missing number.
    """
    config = scenarios()[scenario]
    if device_type not in config["device_types"]:
        return Screened.WRONG_DEVICE
    if "threshold" in config and value is not None:
        limit = device_threshold if device_threshold is not None else float(config["threshold"])
        if value < limit:
            return Screened.BELOW_THRESHOLD
    if "min_floor" in config and floor is not None:
        lowest = device_threshold if device_threshold is not None else float(config["min_floor"])
        if floor < lowest:
            return Screened.BELOW_FLOOR
    return None


def notifies_at_once(scenario: str | None, compound: str | None) -> bool:
    """Whether an alert of ``scenario`` from a device in ``compound`` (``None``: a public site) is sent to the
    grid worker and the property manager as it reaches the queue, before the duty officer's verdict."""
    return bool(compound) and bool(scenarios().get(scenario or "", {}).get("notify_at_once", False))
