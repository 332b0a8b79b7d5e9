"""Leads: each early warning, pushed to the right people with a deadline, kept until handled.

A lead carries its rule, grid, level, evidence (event ids), a suggested handling,
its target (the police station for high risk, within 1 hour; the grid worker for
medium, within 4 hours, as a task on their phone: their report handles the lead)
and its state (pushed → acknowledged → handled; overdue when the deadline passes
first). Creating leads is idempotent (a unique key per finding); each new lead is
written, in the same transaction, to the outbox for ``{cc}:out:leads`` (what stations'
and grid workers' apps read) and for the screens.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from sqlalchemy import Connection, Engine, Select, and_, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite

import clock
from bus import keys
from bus.events import Live, iso
from bus.outbox import queue, queue_event
from geo.index import GridIndex
from gridwork.tasks import TaskKind, TaskService
from i18n import text
from risk.model import load_config
from risk.rules import Finding
from store import audit
from store.db import as_utc, leads


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
    clock: Callable[[], datetime] = field(default=clock.now)
    tasks: TaskService | None = None  # makes a medium lead's grid-worker task (none: no tasks)

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
        with self.engine.begin() as conn:
            fresh = self.create_in(conn, findings, self.clock())
        if fresh:
            self.relay()
        return fresh

    def create_in(self, conn: Connection, findings: list[Finding], now: datetime) -> list[dict[str, Any]]:
        """:meth:`create` inside ``conn``'s transaction (a return visit reopens its matter with the visit's
        outcome); the caller relays after the commit."""
        targets = load_config()["leads"]
        rows = []
        for finding in findings:
            grid = self.grids.get(finding.grid)
            target = targets[finding.level]
            recipient = (grid.localized("station", self.language) if target["target"] == "station"
                         else grid.localized("worker", self.language)) if grid else finding.grid
            facts = {"grid": finding.grid, **finding.facts}
            rows.append({
                "lead_id": f"LD-{secrets.token_hex(5)}", "dedupe_key": finding.key[:200], "rule": finding.rule,
                "grid": finding.grid, "station": grid.station if grid else "", "level": finding.level,
                "target": target["target"], "recipient": recipient, "created_at": now,
                "deadline": now + timedelta(hours=target["deadline_hours"]), "state": LeadState.PUSHED.value,
                # Written once in the installation's language for outside readers ({cc}:out:leads); screens and
                # reports render the facts in their own.
                "summary": text(f"lead.summary.{finding.rule}", self.language, **facts),
                "suggestion": text(f"lead.suggest.{finding.rule}", self.language),
                "facts": json.dumps(facts, ensure_ascii=False, default=_plain),
                "evidence": json.dumps(list(finding.evidence)),
            })
        created = set(conn.execute(
            self._insert(leads).on_conflict_do_nothing(index_elements=["dedupe_key"]).returning(leads.c.lead_id),
            rows).scalars())
        fresh = [row for row in rows if row["lead_id"] in created]
        for row in fresh:
            payload = self.payload(row)
            queue(conn, keys.OUT_LEADS, {
                "lead_id": row["lead_id"], "rule": row["rule"], "grid": row["grid"], "level": row["level"],
                "target": row["target"], "recipient": row["recipient"], "deadline": payload["deadline"],
                "evidence": row["evidence"], "summary": row["summary"], "suggestion": row["suggestion"],
                "facts": row["facts"]})
            queue_event(conn, Live.LEAD, payload)
            if self.tasks is not None and row["target"] == "grid_worker":
                # The grid worker's task, on the lead's own deadline.
                self.tasks.create(conn, TaskKind.LEAD, row["lead_id"], row["grid"], row["summary"], "risk", now,
                                  result_due=row["deadline"])
        return fresh

    def open_leads(self, limit: int = 500) -> list[dict[str, Any]]:
        """Leads not yet handled, by deadline."""
        with self.engine.connect() as conn:
            rows = conn.execute(pending_leads(self.clock(), select(leads)).order_by(leads.c.deadline)
                                .limit(limit)).mappings().all()
        return [self.payload(dict(row)) for row in rows]

    def payload(self, row: dict[str, Any]) -> dict[str, Any]:
        """A lead as screens show it, in this service's language (the board runs the countdowns)."""
        return lead_payload(row, self.language, self.grids)

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

    def handled_by_task(self, conn: Connection, task: dict[str, Any], actor: str, now: datetime) -> None:
        """A grid worker reported the task a medium lead made: the lead is handled with their note, in the
        task's transaction (one already handled at the desk stays as it was)."""
        if task["kind"] == "lead":
            self.handled_in(conn, task["ref"], actor, str(task["note"]), task["outcome"] != "false_alarm", now)

    def handled_in(self, conn: Connection, lead_id: str, actor: str, result: str, useful: bool,
                   now: datetime) -> None:
        """A lead handled by another act, in that act's transaction (a grid worker's report, a mediation case
        opened from it); one already handled stays as it was."""
        row = conn.execute(select(leads).where(leads.c.lead_id == lead_id)).mappings().first()
        if row is None or LeadState(row["state"]) is LeadState.HANDLED:
            return
        self._move_in(conn, dict(row), actor, LeadState.HANDLED, now, result=result[:500], useful=useful)

    def _move(self, lead_id: str, actor: str, target: LeadState, allowed: set[LeadState],
              **values: Any) -> dict[str, Any]:
        now = self.clock()
        with self.engine.begin() as conn:
            row = conn.execute(select(leads).where(leads.c.lead_id == lead_id)).mappings().first()
            if row is None:
                raise LeadRefused(text("lead.refused.unknown", self.language))
            if LeadState(row["state"]) not in allowed:
                raise LeadRefused(text("lead.refused.state", self.language,
                                       state=text(f"lead.state.{row['state']}", self.language)))
            updated = self._move_in(conn, dict(row), actor, target, now, **values)
        self.relay()
        return updated

    def _move_in(self, conn: Connection, row: dict[str, Any], actor: str, target: LeadState, now: datetime,
                 **values: Any) -> dict[str, Any]:
        stamps: dict[LeadState, dict[str, Any]] = {LeadState.ACKNOWLEDGED: {"acknowledged_at": now},
                                                   LeadState.HANDLED: {"handled_at": now, "handled_by": actor}}
        stamp = stamps[target]
        moved = conn.execute(update(leads).where(and_(leads.c.lead_id == row["lead_id"],
                                                      leads.c.state == row["state"]))
                             .values(state=target.value, **stamp, **values)).rowcount
        if moved != 1:
            raise LeadRefused(text("lead.refused.state", self.language, state="?"))
        updated = {**row, "state": target.value, **stamp, **values}
        late = as_utc(updated["deadline"]) < now
        audit.append(conn, actor, f"lead.{target.value}", target=row["lead_id"],
                     detail=f"rule={row['rule']} grid={row['grid']} late={late} {values.get('result', '')}"[:1000],
                     at=now)
        queue_event(conn, Live.LEAD, self.payload(updated))
        return updated


def _plain(value: Any) -> Any:
    """numpy scalars in a finding's facts as plain numbers."""
    return value.item() if hasattr(value, "item") else str(value)


def pending_leads(asof: datetime, query: Select[Any]) -> Select[Any]:
    """``query`` narrowed to the leads waiting to be handled at ``asof``: the leads board, every count of it,
    and what a report says was still pending at its period's end."""
    return query.where(and_(leads.c.created_at <= asof,
                            or_(leads.c.handled_at.is_(None), leads.c.handled_at > asof)))


def lead_texts(row: dict[str, Any], language: str) -> tuple[str, str]:
    """The lead's summary and suggestion in ``language``, from its rule and facts (leads kept before facts
    were stored keep the text they were written with)."""
    if not row.get("facts"):
        return row["summary"], row["suggestion"]
    facts = json.loads(row["facts"])
    return text(f"lead.summary.{row['rule']}", language, **facts), text(f"lead.suggest.{row['rule']}", language)


def lead_payload(row: dict[str, Any], language: str, grids: GridIndex) -> dict[str, Any]:
    """A lead as screens show it, its texts and recipient in ``language``."""
    summary, suggestion = lead_texts(row, language)
    grid = grids.get(row["grid"])
    recipient = row["recipient"]
    if grid is not None:
        recipient = grid.localized("station" if row["target"] == "station" else "worker", language)
    return {
        "lead_id": row["lead_id"], "rule": row["rule"], "grid": row["grid"], "level": row["level"],
        "target": row["target"], "recipient": recipient, "state": row["state"],
        "created_at": iso(row["created_at"]), "deadline": iso(row["deadline"]),
        "handled_at": iso(row.get("handled_at")), "summary": summary, "suggestion": suggestion,
        "evidence": json.loads(row["evidence"]) if isinstance(row["evidence"], str) else row["evidence"],
    }

