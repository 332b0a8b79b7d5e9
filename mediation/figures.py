"""The mediation centre's figures for a period, from the record alone (so a past month gives the same figures
whenever it is asked): cases by type, source and outcome, the clocks met, the success rate, triage accuracy,
the second-mediation rate, and each mediator's cases and success against the seeds' targets (20 a month,
at least 90%).

*Success* counts the cases closed in the period that were mediated to an end (success, no agreement,
unfulfilled and referred, dissatisfied after the second mediation); cases sent back at triage, withdrawn, or
continued as a second mediation (whose own case carries the result) are not. *Triage accuracy* is the share of
cases triaged as fitting that the centre neither reclassified nor sent back.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, and_, or_, select

from mediation.cases import (
    CLOCK_FIELDS,
    MONTHLY_CASES_TARGET,
    SUCCESS_TARGET,
    Clock,
    Outcome,
    handover_stopped,
)
from store.db import as_utc, mediation_assignments, mediation_cases, mediators

MEDIATED = (Outcome.SUCCESS, Outcome.NO_AGREEMENT, Outcome.REFERRED, Outcome.DISSATISFIED)


def cases_between(conn: Connection, start: datetime, asof: datetime) -> list[dict[str, Any]]:
    """The cases a period's figures read: opened by ``asof`` and not closed before ``start``."""
    rows = conn.execute(select(mediation_cases).where(and_(
        mediation_cases.c.opened_at < asof,
        or_(mediation_cases.c.closed_at.is_(None), mediation_cases.c.closed_at >= start)))).mappings()
    return [dict(r) for r in rows]


def _in(value: Any, start: datetime, asof: datetime) -> bool:
    return value is not None and start <= as_utc(value) < asof


def _rate(part: int, whole: int) -> float | None:
    return part / whole if whole else None


def clock_figures(rows: Iterable[Mapping[str, Any]], start: datetime, asof: datetime) -> dict[str, dict[str, int]]:
    """Per clock, the deadlines that fell in the period: met, and missed (done late, or not done by ``asof``
    while the case was open)."""
    found: dict[str, dict[str, int]] = {c.value: {"met": 0, "missed": 0} for c in Clock}
    for row in rows:
        for name, (_start, due_field, done_field) in CLOCK_FIELDS.items():
            if not _in(row[due_field], start, asof):
                continue
            due = as_utc(row[due_field])
            done = handover_stopped(row) if name is Clock.HANDOVER else row[done_field]
            closed = row["closed_at"]
            if done is not None and as_utc(done) <= due:
                found[name.value]["met"] += 1
            elif done is None and closed is not None and as_utc(closed) <= due:
                continue  # ended before the deadline (withdrawn, sent back): nothing was missed
            elif done is not None or due < asof:
                found[name.value]["missed"] += 1
    return found


def figures(rows: list[dict[str, Any]], teams: Mapping[str, list[str]], people: Mapping[str, tuple[str, str]],
            start: datetime, asof: datetime, months: float = 1.0) -> dict[str, Any]:
    """The figures of ``rows`` (:func:`cases_between`); ``teams``: case -> its mediators' ids; ``people``:
    mediator id -> (name, kind); ``months``: how many months the period is (the per-mediator target scales)."""
    opened = [r for r in rows if _in(r["opened_at"], start, asof)]
    closed = [r for r in rows if _in(r["closed_at"], start, asof)]
    mediated = [r for r in closed if r["outcome"] in MEDIATED]
    succeeded = [r for r in mediated if r["outcome"] == Outcome.SUCCESS]
    triaged_fit = [r for r in rows if _in(r["triaged_at"], start, asof) and r["fits"] and r["source"] != "second"]
    errors = [r for r in triaged_fit if r["reclassified"] or r["outcome"] == Outcome.RETURNED]
    # Of the first rounds that ended at a return visit (or unfulfilled), those that went to a second mediation.
    visited = [r for r in closed if r["round"] == 1 and r["outcome"] in (Outcome.SUCCESS, Outcome.SECOND,
                                                                          Outcome.REFERRED)]
    open_at_end = [r for r in rows if r["closed_at"] is None or as_utc(r["closed_at"]) >= asof]

    # A mediator's cases of the period: those handed to them in it (a case's team is set at its hand-over).
    handed = {r["case_id"] for r in rows if _in(r["handed_over_at"], start, asof)}
    mediated_ids, succeeded_ids = {r["case_id"] for r in mediated}, {r["case_id"] for r in succeeded}
    per_mediator: dict[str, Counter[str]] = {}
    for row in rows:
        case_id = row["case_id"]
        for mediator_id in teams.get(case_id, []):
            tally = per_mediator.setdefault(mediator_id, Counter())
            tally["cases"] += case_id in handed
            tally["mediated"] += case_id in mediated_ids
            tally["succeeded"] += case_id in succeeded_ids
    target = round(MONTHLY_CASES_TARGET * months)
    mediator_rows = [{"mediator_id": m, "name": people.get(m, (m, ""))[0], "kind": people.get(m, (m, ""))[1],
                      "cases": t["cases"], "mediated": t["mediated"],
                      "success_rate": _rate(t["succeeded"], t["mediated"]), "cases_target": target,
                      "meets": t["cases"] >= target and (_rate(t["succeeded"], t["mediated"]) or 0) >= SUCCESS_TARGET}
                     for m, t in sorted(per_mediator.items())]
    clocks = clock_figures(rows, start, asof)
    met = sum(c["met"] for c in clocks.values())
    missed = sum(c["missed"] for c in clocks.values())
    return {
        "opened": len(opened),
        "by_type": dict(Counter(r["case_type"] for r in opened)),
        "by_source": dict(Counter(r["source"] for r in opened)),
        "open": len(open_at_end),
        "by_stage": dict(Counter(r["stage"] for r in open_at_end)),
        "closed": len(closed),
        "by_outcome": dict(Counter(r["outcome"] for r in closed)),
        "mediated": len(mediated),
        "succeeded": len(succeeded),
        "success_rate": _rate(len(succeeded), len(mediated)),
        "success_target": SUCCESS_TARGET,
        "triaged_fit": len(triaged_fit),
        "triage_errors": len(errors),
        "triage_accuracy": _rate(len(triaged_fit) - len(errors), len(triaged_fit)),
        "second_rate": _rate(sum(1 for r in visited if r["outcome"] == Outcome.SECOND), len(visited)),
        "clocks": clocks,
        "clocks_met": met,
        "clocks_missed": missed,
        "clock_rate": _rate(met, met + missed),
        "mediators": mediator_rows,
    }


def period_figures(conn: Connection, start: datetime, asof: datetime, months: float = 1.0) -> dict[str, Any]:
    """:func:`figures` read from the record."""
    rows = cases_between(conn, start, asof)
    ids = [r["case_id"] for r in rows]
    teams: dict[str, list[str]] = {}
    assigned = select(mediation_assignments.c.case_id, mediation_assignments.c.mediator_id)
    for case_id, mediator_id in conn.execute(assigned.where(mediation_assignments.c.case_id.in_(ids))):
        teams.setdefault(case_id, []).append(mediator_id)
    people = {mediator_id: (name, kind) for mediator_id, name, kind in conn.execute(
        select(mediators.c.mediator_id, mediators.c.name, mediators.c.kind))}
    return figures(rows, teams, people, start, asof, months)
