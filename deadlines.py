"""When a clock counts as missed, and what colour it shows: one rule for every clock in the product.

A *step* is a pair (done, due) of timestamps on a record (an instruction's arrival, a grid task's
result, ...). A record that ends early (cancelled, reassigned, handed back) stops its clocks.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from enum import StrEnum
from typing import Any

from store.db import as_utc

AMBER_FROM = 0.8  # a clock turns amber when 80% of its budget has gone, red when it is breached


class Colour(StrEnum):
    GREEN = "green"
    AMBER = "amber"
    RED = "red"


def colour(started: datetime, due: datetime, asof: datetime) -> Colour:
    """How a running clock from ``started`` to ``due`` looks at ``asof``."""
    if asof > due:
        return Colour.RED
    budget = (due - started).total_seconds()
    spent = (asof - started).total_seconds()
    return Colour.AMBER if budget > 0 and spent >= AMBER_FROM * budget else Colour.GREEN


def at(row: Mapping[str, Any], field: str) -> datetime | None:
    value = row.get(field)
    return as_utc(value) if value is not None else None


def missed(row: Mapping[str, Any], steps: Sequence[tuple[str, str]], finished_field: str,
           since: datetime, asof: datetime) -> bool:
    """Whether ``row`` missed a step whose deadline fell in ``[since, asof)``: done after it, or not at all by
    ``asof``, without the record having ended (``finished_field``) before it."""
    finished = at(row, finished_field)
    for done_field, due_field in steps:
        due, done = at(row, due_field), at(row, done_field)
        if due is None or not since <= due < asof:
            continue
        if done is not None and done <= due:
            continue  # met
        if done is None and finished is not None and finished <= due:
            continue  # ended in time (cancelled, reassigned, handed back): nothing was missed
        return True
    return False


def instruction_overdue_since(row: Mapping[str, Any], asof: datetime) -> datetime | None:
    """The deadline an open instruction has passed at ``asof`` without its step (its arrival, or once arrived its
    result), or ``None``: the one definition of an overdue instruction, for the screens' counts and supervision."""
    arrived, result, result_due = at(row, "on_scene_at"), at(row, "result_at"), at(row, "result_due")
    if arrived is None or arrived > asof:
        due = at(row, "arrival_due")
        return due if due is not None and due < asof else None
    return result_due if (result is None or result > asof) and result_due is not None and result_due < asof else None
