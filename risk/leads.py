"""Leads: each early warning, pushed to the right people with a deadline, kept until handled.

A lead carries its rule, grid, level, evidence (event ids), a suggested handling,
its target (the police station for high risk, within 1 hour; the grid worker for
medium, within 4 hours) and its state (pushed → acknowledged → handled; overdue
when the deadline passes first). Creating leads is idempotent (a unique key per
finding); each new lead is written, in the same transaction, to the outbox for
``cc:out:leads`` (what stations' and grid workers' apps read) and for the screens.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any

from sqlalchemy import Engine, and_, select, update
from sqlalchemy.dialects import postgresql, sqlite

from geo.index import GridIndex
from i18n import text
from risk.model import load_config
from risk.rules import Finding
from store import audit
from store.db import as_utc, leads
from store.outbox import queue
from streams import keys
from streams.live import encode


class LeadState(StrEnum):
    PUSHED = "pushed"
    ACKNOWLEDGED = "acknowledged"
    HANDLED = "handled"


class LeadRefused(ValueError):
    """A change to a lead that cannot be made (the message says why)."""


@dataclass
class LeadService:
    engine: Engine
    grids: GridIndex
    relay: Callable[[], int] = lambda: 0
    language: str = "zh-CN"
    clock: Callable[[], datetime] = field(default=lambda: datetime.now(UTC))

    def __post_init__(self) -> None:
        self._insert = postgresql.insert if self.engine.dialect.name == "postgresql" else sqlite.insert

    def create(self, findings: list[Finding]) -> list[dict[str, Any]]:
        """A lead for each finding not seen before; returns the new leads."""
        if not findings:
            return []
        with self.engine.connect() as conn:  # most findings are known: no write transaction for them
            known = set(conn.execute(select(leads.c.dedupe_key).where(
                leads.c.dedupe_key.in_([f.key[:200] for f in findings]))).scalars())
        findings = [f for f in findings if f.key[:200] not in known]
        if not findings:
            return []
        now = self.clock()
        targets = load_config()["leads"]
        rows = []
        for finding in findings:
            grid = self.grids.get(finding.grid)
            target = targets[finding.level]
            recipient = (grid.localized("station", self.language) if target["target"] == "station"
                         else grid.localized("worker", self.language)) if grid else finding.grid
            rows.append({
                "lead_id": f"LD-{secrets.token_hex(5)}", "dedupe_key": finding.key[:200], "rule": finding.rule,
                "grid": finding.grid, "station": grid.station if grid else "", "level": finding.level,
                "target": target["target"], "recipient": recipient, "created_at": now,
                "deadline": now + timedelta(hours=target["deadline_hours"]), "state": LeadState.PUSHED.value,
                "summary": self._summary(finding), "suggestion": text(f"lead.suggest.{finding.rule}", self.language),
                "evidence": json.dumps(list(finding.evidence)),
            })
        with self.engine.begin() as conn:
            created = set(conn.execute(
                self._insert(leads).on_conflict_do_nothing(index_elements=["dedupe_key"]).returning(leads.c.lead_id),
                rows).scalars())
            fresh = [row for row in rows if row["lead_id"] in created]
            for row in fresh:
                payload = lead_payload(row)
                queue(conn, keys.OUT_LEADS, {
                    "lead_id": row["lead_id"], "rule": row["rule"], "grid": row["grid"], "level": row["level"],
                    "target": row["target"], "recipient": row["recipient"], "deadline": payload["deadline"],
                    "evidence": row["evidence"], "summary": row["summary"], "suggestion": row["suggestion"]}, now)
                queue(conn, keys.LIVE, encode("lead", payload), now)
        if fresh:
            self.relay()
        return fresh

    def _summary(self, finding: Finding) -> str:
        return text(f"lead.summary.{finding.rule}", self.language, grid=finding.grid, **finding.facts)

    def open_leads(self, limit: int = 500) -> list[dict[str, Any]]:
        """Leads not yet handled, by deadline."""
        with self.engine.connect() as conn:
            rows = conn.execute(select(leads).where(leads.c.state != LeadState.HANDLED.value)
                                .order_by(leads.c.deadline).limit(limit)).mappings().all()
        return [lead_payload(dict(row)) for row in rows]

    def get(self, lead_id: str) -> dict[str, Any] | None:
        with self.engine.connect() as conn:
            row = conn.execute(select(leads).where(leads.c.lead_id == lead_id)).mappings().first()
        return dict(row) if row else None

    def acknowledge(self, lead_id: str, actor: str) -> dict[str, Any]:
        return self._move(lead_id, actor, LeadState.ACKNOWLEDGED, {LeadState.PUSHED})

    def handle(self, lead_id: str, actor: str, result: str, useful: bool) -> dict[str, Any]:
        """Record what was done and whether the lead was worth it (the rule's precision)."""
        result = result.strip()[:500]
        if not result:
            raise LeadRefused(text("lead.refused.result", self.language))
        return self._move(lead_id, actor, LeadState.HANDLED, {LeadState.PUSHED, LeadState.ACKNOWLEDGED},
                          result=result, useful=useful)

    def _move(self, lead_id: str, actor: str, target: LeadState, allowed: set[LeadState],
              **values: Any) -> dict[str, Any]:
        now = self.clock()
        stamp = {LeadState.ACKNOWLEDGED: {"acknowledged_at": now},
                 LeadState.HANDLED: {"handled_at": now, "handled_by": actor}}[target]
        with self.engine.begin() as conn:
            row = conn.execute(select(leads).where(leads.c.lead_id == lead_id)).mappings().first()
            if row is None:
                raise LeadRefused(text("lead.refused.unknown", self.language))
            if LeadState(row["state"]) not in allowed:
                raise LeadRefused(text("lead.refused.state", self.language,
                                       state=text(f"lead.state.{row['state']}", self.language)))
            moved = conn.execute(update(leads).where(and_(leads.c.lead_id == lead_id, leads.c.state == row["state"]))
                                 .values(state=target.value, **stamp, **values)).rowcount
            if moved != 1:
                raise LeadRefused(text("lead.refused.state", self.language, state="?"))
            updated = {**dict(row), "state": target.value, **stamp, **values}
            late = as_utc(updated["deadline"]) < now
            audit.append(conn, actor, f"lead.{target.value}", target=lead_id,
                         detail=f"rule={row['rule']} grid={row['grid']} late={late} {values.get('result', '')}"[:1000],
                         at=now)
            queue(conn, keys.LIVE, encode("lead", lead_payload(updated)), now)
        self.relay()
        return updated


def lead_payload(row: dict[str, Any]) -> dict[str, Any]:
    """A lead as screens show it (the board runs the countdowns)."""
    def iso(value: datetime | None) -> str | None:
        return as_utc(value).isoformat() if value else None

    return {
        "lead_id": row["lead_id"], "rule": row["rule"], "grid": row["grid"], "level": row["level"],
        "target": row["target"], "recipient": row["recipient"], "state": row["state"],
        "created_at": iso(row["created_at"]), "deadline": iso(row["deadline"]),
        "handled_at": iso(row.get("handled_at")), "summary": row["summary"], "suggestion": row["suggestion"],
        "evidence": json.loads(row["evidence"]) if isinstance(row["evidence"], str) else row["evidence"],
    }

