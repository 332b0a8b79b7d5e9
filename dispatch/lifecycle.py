"""An instruction's lifecycle: the only legal moves, as a pure function.

    issued → received → en_route → on_scene → result_reported → closed
    (any open state) → cancelled          (before the result: the officer's call)
    issued / received / en_route → reassigned

Field feedback may skip steps (a unit can report "on scene" without "en route")
but never goes back; a late, repeated or out-of-order message changes nothing;
the terminal states accept nothing at all.
"""

from __future__ import annotations

from enum import StrEnum


class State(StrEnum):
    ISSUED = "issued"
    RECEIVED = "received"
    EN_ROUTE = "en_route"
    ON_SCENE = "on_scene"
    RESULT_REPORTED = "result_reported"
    CLOSED = "closed"
    CANCELLED = "cancelled"
    REASSIGNED = "reassigned"


class IncidentStatus(StrEnum):
    """Where an incident stands, derived from its instructions (``DispatchService``)."""

    NEW = "new"  # waiting for a dispatch (or back in the queue after every instruction ended)
    DISPATCHED = "dispatched"
    ON_SCENE = "on_scene"
    RESULT_REPORTED = "result_reported"
    CLOSED = "closed"
    DIVERTED_12345 = "diverted_12345"


# Finished incidents; every other status is still open and stays on the officers' board, whatever its age.
FINISHED_INCIDENTS = frozenset({IncidentStatus.CLOSED, IncidentStatus.DIVERTED_12345})
OPEN_INCIDENTS = frozenset(set(IncidentStatus) - FINISHED_INCIDENTS)


class Outcome(StrEnum):
    DISPERSED = "dispersed"
    RESCUED = "rescued"
    MEDIATED = "mediated"
    REFERRED_12345 = "referred_12345"
    DETAINED = "detained"
    FALSE_ALARM = "false_alarm"
    OTHER = "other"


# The forward path; a state's position orders field feedback.
PATH = (State.ISSUED, State.RECEIVED, State.EN_ROUTE, State.ON_SCENE, State.RESULT_REPORTED, State.CLOSED)
TERMINAL = frozenset({State.CLOSED, State.CANCELLED, State.REASSIGNED})
OPEN = frozenset(PATH[:-1])
FIELD_STEPS = frozenset({State.RECEIVED, State.EN_ROUTE, State.ON_SCENE, State.RESULT_REPORTED})
_CANCELLABLE = frozenset({State.ISSUED, State.RECEIVED, State.EN_ROUTE, State.ON_SCENE})
REASSIGNABLE = frozenset({State.ISSUED, State.RECEIVED, State.EN_ROUTE})


class IllegalTransition(ValueError):
    """A move the lifecycle does not allow; ``reason`` says why, for the officer."""

    def __init__(self, current: State, target: State, reason: str) -> None:
        super().__init__(f"{current} → {target}: {reason}")
        self.current, self.target, self.reason = current, target, reason


def next_state(current: State, target: State) -> State | None:
    """The state after asking to move from ``current`` to ``target``.

    Returns ``None`` when the request changes nothing (a repeat, or feedback
    that arrives after the instruction moved past it). Raises
    :class:`IllegalTransition` for a request that is never legal from here.
    """
    if current in TERMINAL:
        if target == current:
            return None
        if target in FIELD_STEPS:
            return None  # late field feedback for a finished instruction: ignored
        raise IllegalTransition(current, target, "the instruction is finished")
    if target is State.CANCELLED:
        if current not in _CANCELLABLE:
            raise IllegalTransition(current, target, "a result is already reported")
        return target
    if target is State.REASSIGNED:
        if current not in REASSIGNABLE:
            raise IllegalTransition(current, target, "the unit is already on scene")
        return target
    if target is State.CLOSED:
        if current is not State.RESULT_REPORTED:
            raise IllegalTransition(current, target, "no result reported yet")
        return target
    if target is State.ISSUED:
        return None
    # Field feedback: forward only.
    return target if PATH.index(target) > PATH.index(current) else None
