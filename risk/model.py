"""The per-grid risk score: weighted, time-decayed, relative to the grid's own baseline.

For a window of ``W`` days (24 h, 7 d, 30 d), each incident in the window adds

    category weight × priority weight × time-of-day weight × 0.5 ** (age / (W / 2))

(grid workers' hazard reports get the hazard weight on top; a caller who called
before in the window adds the repeat weight; sensor alerts not dismissed as
false add the alert weight). The grid's *expected* score is what its last year
(``baseline_days`` before the window) gives for a window of that length with the
same decay; ``ratio = score / max(expected, min_expected)``.

Grades (data/risk.json): **high** when ``ratio ≥ 2.0`` and ``score ≥ 6``;
**medium** when ``ratio ≥ 1.3`` and ``score ≥ 3``; otherwise **low**. The top
contributing factors (by category, repeat calls, hazard reports, sensor alerts)
explain each grade.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cache
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import Engine, String, and_, select, type_coerce

from settings import DATA_DIR
from store.db import alert_verifications, incidents, sensor_events

RISK_FILE = "risk.json"
HAZARD_CATEGORIES = ("wage_arrears", "neighbour_dispute", "bride_price", "family_dispute")
BEIJING_OFFSET = pd.Timedelta(hours=8)


@cache
def load_config(path: str = str(DATA_DIR / RISK_FILE)) -> dict[str, Any]:
    """The risk model's and the rules' configuration (data/risk.json)."""
    with open(path, encoding="utf-8") as handle:
        config: dict[str, Any] = json.load(handle)
        return config


@dataclass(frozen=True)
class History:
    """What the model reads, loaded once per run."""

    incidents: pd.DataFrame  # event_id, reported_at (UTC), grid, category, priority, address, caller, source, lon, lat
    alerts: pd.DataFrame  # event_id, device_id, at (UTC), scenario, grid, verdict

    @property
    def local_hour(self) -> pd.Series:
        return (self.incidents["reported_at"] + BEIJING_OFFSET).dt.hour


def load_history(engine: Engine, since: datetime) -> History:
    """Incidents and sensor alerts since ``since`` (one query each)."""
    # Times come back raw (SQLite: ISO text) and are parsed once, vectorised: per-row datetime
    # parsing was most of a run's time.
    raw_time = type_coerce(incidents.c.reported_at, String).label("reported_at")
    with engine.connect() as conn:
        rows = conn.execute(select(
            incidents.c.event_id, raw_time, incidents.c.grid, incidents.c.category,
            incidents.c.priority, incidents.c.address, incidents.c.caller, incidents.c.source, incidents.c.lon,
            incidents.c.lat).where(incidents.c.reported_at >= since)).all()
        alert_rows = conn.execute(select(
            sensor_events.c.event_id, sensor_events.c.device_id, sensor_events.c.ingested_at, sensor_events.c.scenario,
            sensor_events.c.grid, alert_verifications.c.verdict)
            .outerjoin(alert_verifications, alert_verifications.c.event_id == sensor_events.c.event_id)
            .where(and_(sensor_events.c.kind == "alert", sensor_events.c.ingested_at >= since))).all()
    frame = _frame(rows, ["event_id", "reported_at", "grid", "category", "priority", "address", "caller", "source",
                          "lon", "lat"])
    frame["reported_at"] = _utc(frame["reported_at"])
    alerts = _frame(alert_rows, ["event_id", "device_id", "at", "scenario", "grid", "verdict"])
    alerts["at"] = _utc(alerts["at"])
    return History(frame, alerts)


def _frame(rows: Sequence[Any], names: list[str]) -> pd.DataFrame:
    # Column by column: pandas probes each SQLAlchemy row object when given rows, which is slow.
    if not rows:
        return pd.DataFrame({name: pd.Series([], dtype=object) for name in names})
    columns = list(zip(*rows, strict=True))
    return pd.DataFrame({name: list(values) for name, values in zip(names, columns, strict=True)})


def _utc(column: pd.Series) -> pd.Series:
    series = pd.to_datetime(column, format="ISO8601") if column.dtype == object else pd.to_datetime(column)
    return series.dt.tz_localize("UTC") if series.dt.tz is None else series.dt.tz_convert("UTC")


def incident_weights(history: History, config: dict[str, Any]) -> tuple[np.ndarray, np.ndarray]:
    """(base weight, factor key) per incident: category × priority × time of day."""
    score = config["score"]
    inc = history.incidents
    weight = inc["category"].map(score["category_weights"]).fillna(0.5).to_numpy(dtype=float, copy=True)
    weight = weight * inc["priority"].astype(str).map(score["priority_weights"]).fillna(1.0).to_numpy(dtype=float)
    hour = history.local_hour.to_numpy()
    for rule in score["time_of_day"]:
        start, end = rule["from_hour"], rule["to_hour"]
        in_hours = (hour >= start) | (hour < end) if start > end else (hour >= start) & (hour < end)
        weight *= np.where((inc["category"].to_numpy() == rule["category"]) & in_hours, rule["weight"], 1.0)
    factor = ("category:" + inc["category"]).to_numpy(dtype=object)
    hazard = (inc["source"].to_numpy() == "grid") & inc["category"].isin(HAZARD_CATEGORIES).to_numpy()
    weight = np.where(hazard, weight * score["hazard_report_weight"], weight)
    factor = np.where(hazard, "hazard_reports", factor)
    return weight, factor


def grid_scores(history: History, now: datetime, window_days: float, config: dict[str, Any] | None = None,
                weights: tuple[np.ndarray, np.ndarray] | None = None) -> pd.DataFrame:
    """Score, expected score, ratio, grade and top factors per grid with any activity.

    ``weights`` (from :func:`incident_weights`) may be passed in when grading several windows.
    """
    config = config or load_config()
    score_cfg = config["score"]
    inc = history.incidents
    now_ts = pd.Timestamp(now).tz_convert("UTC")
    half_life = window_days / 2
    age_days = (now_ts - inc["reported_at"]).dt.total_seconds().to_numpy() / 86400
    in_window = (age_days >= 0) & (age_days < window_days)
    decay = np.where(in_window, 0.5 ** (np.clip(age_days, 0, None) / half_life), 0.0)
    weight, factor = weights if weights is not None else incident_weights(history, config)

    parts = [pd.DataFrame({"grid": inc["grid"].to_numpy(), "factor": factor, "value": weight * decay})]
    # A caller who already called in this window: each further call adds the repeat weight.
    callers = inc.loc[in_window & inc["caller"].notna().to_numpy(), ["caller", "reported_at", "grid"]]
    if len(callers):
        order = callers.sort_values("reported_at")
        repeats = order[order.duplicated("caller", keep="first")]
        rep_age = (now_ts - repeats["reported_at"]).dt.total_seconds().to_numpy() / 86400
        parts.append(pd.DataFrame({"grid": repeats["grid"].to_numpy(), "factor": "repeat_calls",
                                   "value": score_cfg["repeat_call_weight"] * 0.5 ** (rep_age / half_life)}))
    alerts = history.alerts
    if len(alerts):
        a_age = (now_ts - alerts["at"]).dt.total_seconds().to_numpy() / 86400
        real = (a_age >= 0) & (a_age < window_days) & (alerts["verdict"].to_numpy() != "false_alarm")
        parts.append(pd.DataFrame({"grid": alerts["grid"].to_numpy()[real], "factor": "sensor_alerts",
                                   "value": score_cfg["sensor_alert_weight"] * 0.5 ** (a_age[real] / half_life)}))
    contributions = pd.concat(parts, ignore_index=True)
    contributions = contributions[contributions["value"] > 0]
    by_factor = contributions.groupby(["grid", "factor"], sort=False)["value"].sum()
    scores = by_factor.groupby(level="grid").sum()

    # The grid's own year before the window, as a daily rate, expressed for this window's decay.
    baseline_days = score_cfg["baseline_days"]
    base_mask = (age_days >= window_days) & (age_days < window_days + baseline_days)
    daily = pd.Series(weight[base_mask], index=inc["grid"].to_numpy()[base_mask]).groupby(level=0).sum()
    daily = daily / baseline_days
    decay_days = half_life / math.log(2) * (1 - 0.5 ** (window_days / half_life))
    grids = scores.index.union(daily.index)
    frame = pd.DataFrame(index=grids)
    frame["score"] = scores.reindex(grids).fillna(0.0)
    frame["expected"] = daily.reindex(grids).fillna(0.0) * decay_days
    frame["ratio"] = frame["score"] / np.maximum(frame["expected"], score_cfg["min_expected"])
    grades = score_cfg["grades"]
    high = (frame["ratio"] >= grades["high"]["ratio"]) & (frame["score"] >= grades["high"]["min_score"])
    medium = (frame["ratio"] >= grades["medium"]["ratio"]) & (frame["score"] >= grades["medium"]["min_score"])
    frame["grade"] = np.where(high, "high", np.where(medium, "medium", "low"))
    top = by_factor.sort_values(ascending=False).groupby(level="grid").head(3)
    factors: dict[str, list[list[Any]]] = {}
    for (grid, key), value in top.items():
        total = float(frame.at[grid, "score"]) or 1.0
        factors.setdefault(str(grid), []).append([key, round(float(value) / total, 3)])
    frame["factors"] = [factors.get(str(g), []) for g in grids]
    return frame


def since_for(now: datetime, config: dict[str, Any] | None = None) -> datetime:
    """How far back a run reads: the longest window plus the baseline year."""
    config = config or load_config()
    longest = max(config["score"]["windows"].values())
    return now - timedelta(days=longest + config["score"]["baseline_days"] + 1)
