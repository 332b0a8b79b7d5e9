"""A mediation case's words and clocks: its types, stages and outcomes, and the deadlines of the seeds' standard.

    triage ──(fits)──> assigned ──(both parties contacted, session fixed)──> scheduled ──(agreement)──> fulfilling
       │                                                                         │                        │
       └─(does not fit: back to the normal process, reason kept)                 └─(no agreement)         │
                                                                                                          v
    closed <──(satisfied)── visiting <──(fulfilled)────────────────────────────────────────────── recorded fulfilment
       ^                        └─(dissatisfied, first round: closed, and the one second mediation opens as a
       │                           new case with the same parties and mediators, handed over at once)
       └──(not fulfilled: judicial-confirmation referral)

Each round is a case of its own, so a case's columns never change once a step is recorded and a past month's
figures read the same whenever they are asked.

Clocks (every one amber at 80% of its budget, red when missed, like every clock in the product):
hand-over within :data:`HANDOVER` of opening, both parties contacted within :data:`CONTACT` of the hand-over,
fulfilment by the agreement's own deadline (at most :data:`MAX_FULFIL_DAYS` days), the return visit within
:data:`VISIT_AFTER` of that deadline.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

import deadlines
from deadlines import Colour

HANDOVER = timedelta(hours=1)
CONTACT = timedelta(hours=24)
MAX_FULFIL_DAYS = 7
VISIT_AFTER = timedelta(days=3)
ROUNDS = 2  # the first mediation and one second mediation
MONTHLY_CASES_TARGET = 20  # a mediator's cases a month
SUCCESS_TARGET = 0.9  # a mediator's success rate


class CaseType(StrEnum):
    NEIGHBOUR = "neighbour"
    FAMILY = "family"
    MARRIAGE = "marriage"  # marriage and love
    BRIDE_PRICE = "bride_price"
    DEBT = "debt"
    WAGE = "wage"
    PROPERTY = "property"  # property management, tenancy
    LAND = "land"
    CONSUMER = "consumer"
    OTHER = "other"


# The incident categories (and early-warning rules) whose disputes a case takes its type from.
TYPE_OF_CATEGORY = {"neighbour_dispute": CaseType.NEIGHBOUR, "family_dispute": CaseType.FAMILY,
                    "wage_arrears": CaseType.WAGE, "bride_price": CaseType.BRIDE_PRICE}
TYPE_OF_RULE = {"family_repeat": CaseType.FAMILY, "dispute_cluster": CaseType.NEIGHBOUR,
                "wage_arrears": CaseType.WAGE, "bride_price": CaseType.BRIDE_PRICE, "night_noise": CaseType.NEIGHBOUR}


class Source(StrEnum):
    DISPATCH = "dispatch"  # the triage form on an incident, from the dispatch panel
    LEAD = "lead"  # an early-warning lead (a household calling again, a dispute cluster)
    ONLINE = "online"  # the public application form
    MANUAL = "manual"  # opened by hand at the centre (a walk-in, public-opinion monitoring)
    SECOND = "second"  # the one second mediation of a case whose parties were dissatisfied (source_ref: that case)


class Stage(StrEnum):
    TRIAGE = "triage"
    ASSIGNED = "assigned"
    SCHEDULED = "scheduled"
    FULFILLING = "fulfilling"
    VISITING = "visiting"
    CLOSED = "closed"


OPEN_STAGES = (Stage.TRIAGE, Stage.ASSIGNED, Stage.SCHEDULED, Stage.FULFILLING, Stage.VISITING)


class Outcome(StrEnum):
    SUCCESS = "success"  # fulfilled, and the parties satisfied at the return visit
    RETURNED = "returned"  # did not fit mediation: back to the normal process
    NO_AGREEMENT = "no_agreement"
    REFERRED = "referred"  # not fulfilled: judicial confirmation requested
    SECOND = "second"  # dissatisfied at the return visit: continued as the second mediation (a case of its own)
    DISSATISFIED = "dissatisfied"  # dissatisfied after the second mediation
    WITHDRAWN = "withdrawn"


class Clock(StrEnum):
    HANDOVER = "handover"
    CONTACT = "contact"
    FULFIL = "fulfil"
    VISIT = "visit"


# Each clock: the column it starts from, its deadline, and the step that stops it.
CLOCK_FIELDS: dict[Clock, tuple[str, str, str]] = {
    Clock.HANDOVER: ("opened_at", "handover_due", "handed_over_at"),
    Clock.CONTACT: ("handed_over_at", "contact_due", "contacted_at"),
    Clock.FULFIL: ("agreed_at", "fulfil_due", "fulfilled_at"),
    Clock.VISIT: ("fulfil_due", "visit_due", "visited_at"),
}


@dataclass(frozen=True)
class Running:
    """A case's clock that is running at a moment."""

    clock: Clock
    started: datetime
    due: datetime
    colour: Colour


def handover_stopped(row: Mapping[str, Any]) -> datetime | None:
    """A triage that sends a case back stops the hand-over clock as surely as a hand-over."""
    return deadlines.at(row, "handed_over_at") or (deadlines.at(row, "triaged_at") if row.get("fits") is False
                                                   else None)


def running_clock(row: Mapping[str, Any], asof: datetime) -> Running | None:
    """The clock a case is on at ``asof`` (at most one at a time), or ``None`` (closed, or between clocks)."""
    if row["closed_at"] is not None:
        return None
    for name, (start_field, due_field, done_field) in CLOCK_FIELDS.items():
        started, due = deadlines.at(row, start_field), deadlines.at(row, due_field)
        done = handover_stopped(row) if name is Clock.HANDOVER else deadlines.at(row, done_field)
        if started is not None and due is not None and done is None:
            return Running(name, started, due, deadlines.colour(started, due, asof))
    return None


def clocks_met(row: Mapping[str, Any], asof: datetime) -> dict[Clock, bool | None]:
    """Per clock, whether it was met (``None``: not due yet, or never started)."""
    met: dict[Clock, bool | None] = {}
    for name, (_start, due_field, done_field) in CLOCK_FIELDS.items():
        due = deadlines.at(row, due_field)
        done = handover_stopped(row) if name is Clock.HANDOVER else deadlines.at(row, done_field)
        if due is None:
            met[name] = None
        elif done is not None:
            met[name] = done <= due
        else:
            met[name] = False if due < asof and row["closed_at"] is None else None
    return met
