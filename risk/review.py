"""The weekly review: lead disposal (target 100% for high risk), rule precision, incident change per grid."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Engine, and_, func, select

from store.db import incidents, leads

TARGETS = {"high": 1.0, "medium": None}  # the seeds set 100% disposal for high-risk leads


def weekly_review(engine: Engine, start: datetime, end: datetime, top: int = 15) -> dict[str, Any]:
    """Figures for leads created in ``[start, end)`` and incidents in it against the week before."""
    with engine.connect() as conn:
        rows = conn.execute(select(leads.c.rule, leads.c.level, leads.c.state, leads.c.deadline, leads.c.handled_at,
                                   leads.c.useful)
                            .where(and_(leads.c.created_at >= start, leads.c.created_at < end))).mappings().all()
        counts: dict[str, dict[str, int]] = {}
        for label, since, until in (("this", start, end), ("last", start - timedelta(days=7), start)):
            counts[label] = dict(conn.execute(
                select(incidents.c.grid, func.count()).where(and_(
                    incidents.c.reported_at >= since, incidents.c.reported_at < until)).group_by(incidents.c.grid)
            ).all())
    disposal = []
    for level in ("high", "medium"):
        mine = [r for r in rows if r["level"] == level]
        handled = [r for r in mine if r["state"] == "handled"]
        on_time = [r for r in handled if _naive(r["handled_at"]) <= _naive(r["deadline"])]
        disposal.append({"level": level, "created": len(mine), "handled": len(handled), "on_time": len(on_time),
                         "rate": len(handled) / len(mine) if mine else None, "target": TARGETS[level]})
    precision = []
    for rule in sorted({r["rule"] for r in rows}):
        judged = [r for r in rows if r["rule"] == rule and r["useful"] is not None]
        useful = sum(1 for r in judged if r["useful"])
        precision.append({"rule": rule, "leads": sum(1 for r in rows if r["rule"] == rule), "useful": useful,
                          "not_useful": len(judged) - useful, "precision": useful / len(judged) if judged else None})
    grids = set(counts["this"]) | set(counts["last"])
    moved: list[dict[str, Any]] = [{"grid": g, "this": counts["this"].get(g, 0), "last": counts["last"].get(g, 0),
                                    "delta": counts["this"].get(g, 0) - counts["last"].get(g, 0)} for g in grids]
    change = sorted(moved, key=lambda c: (-abs(c["delta"]), c["grid"]))[:top]
    return {"disposal": disposal, "precision": precision, "change": change}


def _naive(value: datetime) -> datetime:
    return value.replace(tzinfo=None) if value.tzinfo else value
