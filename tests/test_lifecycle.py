"""The instruction lifecycle: property-based, plus its boundaries."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dispatch.lifecycle import OPEN, PATH, TERMINAL, IllegalTransition, State, next_state


def test_life001_the_happy_path() -> None:
    state = State.ISSUED
    for target in PATH[1:]:
        new = next_state(state, target)
        assert new is target
        state = new
    assert state is State.CLOSED


@pytest.mark.parametrize(("current", "target"), [
    (State.ISSUED, State.CLOSED),  # no result yet
    (State.RESULT_REPORTED, State.CANCELLED),
    (State.ON_SCENE, State.REASSIGNED),
    (State.CLOSED, State.CANCELLED),
    (State.CANCELLED, State.CLOSED),
])
def test_life002_illegal_moves_are_refused_with_a_reason(current: State, target: State) -> None:
    with pytest.raises(IllegalTransition) as exc:
        next_state(current, target)
    assert exc.value.reason


def test_life003_late_and_repeated_field_feedback_changes_nothing() -> None:
    assert next_state(State.ON_SCENE, State.RECEIVED) is None
    assert next_state(State.ON_SCENE, State.ON_SCENE) is None
    assert next_state(State.CLOSED, State.RESULT_REPORTED) is None
    assert next_state(State.RECEIVED, State.ON_SCENE) is State.ON_SCENE  # skipping en route is fine


@settings(max_examples=500, deadline=None)
@given(st.lists(st.sampled_from(list(State)), max_size=30))
def test_life004_any_sequence_stays_legal(requests: list[State]) -> None:
    """Random requests, with repeats, reordering and replays, never reach an illegal state."""
    state = State.ISSUED
    history = [state]
    for target in requests:
        try:
            new = next_state(state, target)
        except IllegalTransition:
            continue  # refused: nothing changes
        if new is None:
            continue
        if state in TERMINAL:
            pytest.fail(f"left terminal state {state} for {new}")
        if new in PATH:
            assert PATH.index(new) > PATH.index(state), f"went back from {state} to {new}"
        if new is State.CLOSED:
            assert state is State.RESULT_REPORTED
        state = new
        history.append(state)
    assert len(history) == len(set(history)), "a state was entered twice"
    assert state in OPEN or state in TERMINAL
