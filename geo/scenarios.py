"""What the district's sensing devices report: alert scenarios and the verification budget.

Configuration, not code (``data/scenarios.json``): each scenario's risk, the incident category a
confirmed alert becomes, and how long the duty officer has to verify an alert.
"""

from __future__ import annotations

import json
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
