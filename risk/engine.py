"""Risk runs: the daily run, the on-demand run, and the instant checks on each new incident.

A run reads a year and a month of history once, grades every grid for the 24 h,
7 d and 30 d windows (kept in Redis, announced on ``{cc}:live`` so heatmaps
recolour), runs every enabled rule and turns new findings into leads. Running
twice makes no duplicate leads. The daily run happens at ``daily_run_at``
(Beijing time, data/risk.json) in one process at a time (a Redis lease).
"""

from __future__ import annotations

import json
import logging
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, cast

import redis
from sqlalchemy import Engine, and_, insert, select

import clock
from bus import events, keys
from bus.connection import Fields, OutFields
from bus.events import Live
from geo.devices import DeviceRegistry
from risk.leads import LeadService
from risk.model import grid_scores, incident_weights, load_config, load_history, since_for
from risk.rules import CALLER_CATEGORIES, INSTANT_RULES, Call, Context, caller_finding, household_findings, run_rules
from store.db import as_utc, incidents, risk_runs

log = logging.getLogger(__name__)
LEASE_S = 600


@dataclass(frozen=True)
class RunResult:
    seconds: float
    incidents: int
    findings: int
    leads_created: int
    grades: dict[str, dict[str, int]]  # window -> grade -> grids


@dataclass
class RiskEngine:
    engine: Engine
    r: redis.Redis
    devices: DeviceRegistry
    leads: LeadService
    clock: Callable[[], datetime] = field(default=clock.now)
    owner: str = field(default_factory=lambda: secrets.token_hex(6))

    def run(self, kind: str = "on_demand", by: str = "system") -> RunResult:
        """Grade every grid for every window and turn new findings into leads."""
        started = time.perf_counter()
        now = self.clock()
        config = load_config()
        history = load_history(self.engine, since_for(now, config))
        grades: dict[str, dict[str, int]] = {}
        pipe = self.r.pipeline(transaction=True)
        announced: dict[str, dict[str, str]] = {}
        weights = incident_weights(history, config)  # the same for every window
        for window, days in config["score"]["windows"].items():
            frame = grid_scores(history, now, days, config, weights)
            grades[window] = {g: int((frame["grade"] == g).sum()) for g in ("high", "medium", "low")}
            graded = {str(grid): grade for grid, grade in frame["grade"].items() if grade != "low"}
            announced[window] = graded
            pipe.hset(keys.RISK_GRADES, window, json.dumps(graded))
            pipe.delete(keys.RISK_DETAIL + window)
            details: OutFields = {
                str(row.Index): json.dumps({"grade": row.grade, "score": round(float(row.score), 2),
                                            "expected": round(float(row.expected), 2),
                                            "ratio": round(float(row.ratio), 2), "factors": row.factors})
                for row in frame.itertuples()}
            if details:
                pipe.hset(keys.RISK_DETAIL + window, mapping=details)
        events.publish(pipe, Live.RISK_GRADES, {"grades": announced, "at": now.isoformat()})
        pipe.execute()
        health = cast(Fields, self.r.hgetall(keys.DEVICE_HEALTH))
        findings = run_rules(Context(history, now, self.devices, health), config)
        created = self.leads.create(findings)
        seconds = time.perf_counter() - started
        with self.engine.begin() as conn:
            conn.execute(insert(risk_runs).values(kind=kind, started_at=now, seconds=seconds,
                                                  incidents=len(history.incidents), warnings=len(findings),
                                                  leads_created=len(created), by=by))
        return RunResult(seconds, len(history.incidents), len(findings), len(created), grades)

    def check_incidents(self, rows: list[dict[str, Any]]) -> int:
        """Instant rules for newly kept incidents (a family calling again): leads at once.

        Two indexed queries at most: the batch's callers (ix_incidents_caller_reported) and, when the batch
        has family disputes, the recent family disputes in their grids (ix_incidents_grid_reported), so a
        household calling from a new number is known by its address. The rules' own tests then run on
        plain tuples: this runs after every consumer batch, so it avoids building frames.
        """
        config = load_config()
        rules = {name: {**config["rules"][name], "name": name} for name in INSTANT_RULES
                 if config["rules"][name].get("enabled", True)}
        callers = {row["caller"] for row in rows if row.get("caller")}
        family = CALLER_CATEGORIES["family_repeat"] or ()
        family_rows = [row for row in rows if row.get("category") in family] if "family_repeat" in rules else []
        grids = {row["grid"] for row in family_rows if row.get("grid")}
        if not rules or not (callers or family_rows):
            return 0
        now = max(as_utc(row["reported_at"]) for row in rows)
        longest = max(cfg["window_days"] for cfg in rules.values())
        history: dict[str, list[Call]] = {caller: [] for caller in callers}
        calls: dict[str, Call] = {}  # every call loaded, by event id (both queries may return one)
        columns = (incidents.c.event_id, incidents.c.reported_at, incidents.c.grid, incidents.c.category,
                   incidents.c.caller, incidents.c.address)
        with self.engine.connect() as conn:
            if callers:
                for event_id, at, grid, category, caller, address in conn.execute(
                        select(*columns).where(and_(incidents.c.caller.in_(sorted(callers)),
                                                    incidents.c.reported_at > now - timedelta(days=longest)))):
                    call = Call(event_id, as_utc(at), grid, category, caller or "", address or "")
                    history[caller].append(call)
                    calls[event_id] = call
            if grids:
                since = now - timedelta(days=rules["family_repeat"]["window_days"])
                for event_id, at, grid, category, caller, address in conn.execute(
                        select(*columns).where(and_(incidents.c.grid.in_(sorted(grids)),
                                                    incidents.c.reported_at > since,
                                                    incidents.c.category.in_(family)))):
                    calls.setdefault(event_id, Call(event_id, as_utc(at), grid, category, caller or "", address or ""))
        findings = []
        if "family_repeat" in rules:
            # The daily run's own grouping; only the households this batch called from.
            findings += household_findings(now, rules["family_repeat"], calls.values(),
                                           involving={str(row["event_id"]) for row in family_rows})
        if "repeat_caller" in rules:
            for caller in sorted(callers):
                finding = caller_finding(now, rules["repeat_caller"], caller, history[caller],
                                         CALLER_CATEGORIES["repeat_caller"])
                if finding is not None:
                    findings.append(finding)
        return len(self.leads.create(findings))

    def detail(self, grid: str, window: str) -> dict[str, Any] | None:
        """Why a grid is graded as it is (the latest run)."""
        raw = self.r.hget(keys.RISK_DETAIL + window, grid)
        return json.loads(raw) if raw else None

    def grades(self) -> dict[str, dict[str, str]]:
        """The latest run's non-low grades per window (for snapshots)."""
        return {window: json.loads(raw) for window, raw in cast(Fields, self.r.hgetall(keys.RISK_GRADES)).items()}

    def run_daily(self, stop: threading.Event) -> None:
        """Run at startup when there are no grades yet, then every day at ``daily_run_at``."""
        if not self.r.exists(keys.RISK_GRADES) and self._lease():
            self._safe_run("startup")
        while not clock.wait(stop, self._seconds_to_next_run()):
            if self._lease():
                self._safe_run("daily")

    def _safe_run(self, kind: str) -> None:
        try:
            result = self.run(kind)
            log.info("risk run (%s): %.2f s, %d findings, %d new leads", kind, result.seconds, result.findings,
                     result.leads_created)
        except (redis.ConnectionError, redis.TimeoutError) as exc:
            log.warning("risk run (%s) skipped: Redis unavailable (%s)", kind, exc)
        except Exception:  # a failed run must not stop tomorrow's
            log.exception("risk run (%s) failed", kind)

    def _seconds_to_next_run(self) -> float:
        hour, minute = (int(part) for part in load_config()["daily_run_at"].split(":"))
        now = self.clock()
        return (clock.next_at(hour, minute, now) - now).total_seconds()

    def _lease(self) -> bool:
        return bool(self.r.set(keys.RISK_LEASE, self.owner, nx=True, ex=LEASE_S))
