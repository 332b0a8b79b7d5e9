"""Dispatch against a real Redis and database: ranking, durable sends, races, lifecycle, restarts."""

from __future__ import annotations

import json
import threading
import time
from datetime import UTC, datetime, timedelta

import pytest
import redis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine, func, select, update

from bus import keys
from bus.outbox import OutboxRelay
from dispatch.lifecycle import PATH, TERMINAL, State
from dispatch.service import DispatchService, Refused, clock_state
from geo.index import GridIndex
from store.db import incidents, instruction_events, instructions, outbox, unit_reservations
from testkit.entries import SEAT

NOW = datetime(2026, 11, 27, 2, 0, tzinfo=UTC)
pytestmark = pytest.mark.time_machine(NOW, tick=False)  # rules and clocks are read at this moment


def put_units(r: redis.Redis, units: dict[str, tuple[float, float, str]]) -> None:
    r.hset(keys.UNIT_STATE, mapping={
        uid: json.dumps({"unit_id": uid, "lon": lon, "lat": lat, "status": status, "observed_at": 0})
        for uid, (lon, lat, status) in units.items()})


def put_incident(engine: Engine, grids: GridIndex, event_id: str = "E-1") -> None:
    grid = grids.locate_codes([SEAT[0]], [SEAT[1]])[0]
    with engine.begin() as conn:
        conn.execute(incidents.insert().values(
            event_id=event_id, stream_id="1-0", reported_at=NOW, ingested_at=NOW, lon=SEAT[0], lat=SEAT[1],
            grid=grid, category="fight", priority=1, address="朔城区鄯阳街8号", description="多人斗殴", source="110"))


@pytest.fixture
def service(r: redis.Redis, engine: Engine, grids: GridIndex) -> DispatchService:
    put_units(r, {
        "PU-NEAR": (SEAT[0] + 0.005, SEAT[1], "available"),
        "PU-FAR": (SEAT[0] + 0.08, SEAT[1], "available"),
        "PU-BUSY": (SEAT[0] + 0.001, SEAT[1], "busy"),
        "PU-OFF": (SEAT[0] + 0.002, SEAT[1], "off"),
    })
    put_incident(engine, grids)
    return DispatchService(engine, r, grids, OutboxRelay(engine, r), clock=lambda: NOW)


def out_instructions(r: redis.Redis) -> list[dict[str, str]]:
    return [fields for _, fields in r.xrange(keys.OUT_INSTRUCTIONS)]


def count(engine: Engine, table) -> int:  # type: ignore[no-untyped-def]
    with engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(table)).scalar_one())


def test_disp001_units_ranked_by_eta_busy_shown_not_offered(service: DispatchService) -> None:
    rec = service.recommend("E-1")
    assert rec is not None
    assert [c.unit_id for c in rec.ranked] == ["PU-NEAR", "PU-FAR", "PU-BUSY", "PU-OFF"]
    assert [c.offered for c in rec.ranked] == [True, True, False, False]
    assert rec.ranked[0].eta_min < rec.ranked[1].eta_min
    assert {c.unit_id for c in rec.nearby} == {"PU-NEAR", "PU-BUSY"}  # within 2 km, not off duty
    assert "朔城区鄯阳街8号" in rec.suggested_text and "PU-NEAR" in rec.suggested_text


def test_disp002_send_is_durable_announced_and_reserves_the_unit(service: DispatchService, r: redis.Redis,
                                                                 engine: Engine) -> None:
    result = service.send("E-1", ["PU-NEAR"], "请立即前往", "officer-1", "key-1")
    [instruction_id] = result.instruction_ids
    [message] = out_instructions(r)
    assert (message["instruction_id"], message["unit_id"], message["state"]) == (instruction_id, "PU-NEAR", "issued")
    assert message["text"] == "请立即前往"
    with engine.connect() as conn:
        row = conn.execute(select(instructions)).mappings().one()
        status = conn.execute(select(incidents.c.status)).scalar_one()
    assert row["arrival_due"].replace(tzinfo=UTC) == NOW + timedelta(minutes=5)  # urban target
    assert status == "dispatched"
    assert count(engine, outbox) == count(engine, outbox.select().where(outbox.c.sent_at.is_not(None)).subquery())
    rec = service.recommend("E-1")
    assert rec is not None
    assert next(c for c in rec.ranked if c.unit_id == "PU-NEAR").status == "reserved"


def test_disp003_a_retried_request_never_makes_two_instructions(service: DispatchService, r: redis.Redis,
                                                                engine: Engine) -> None:
    first = service.send("E-1", ["PU-NEAR"], "go", "officer-1", "same-key")
    again = service.send("E-1", ["PU-NEAR"], "go", "officer-1", "same-key")
    assert again.duplicate and again.instruction_ids == first.instruction_ids
    assert count(engine, instructions) == 1
    assert len(out_instructions(r)) == 1


def test_disp003b_a_repeat_after_the_first_was_served_is_the_same_send(service: DispatchService, r: redis.Redis,
                                                                      engine: Engine, grids: GridIndex) -> None:
    """A double click's second request may come with the panel's next key: the unit is on this incident
    already, so the answer is that send, not a refusal (and not a second instruction)."""
    first = service.send("E-1", ["PU-NEAR"], "go", "officer-1", "key-1")
    again = service.send("E-1", ["PU-NEAR"], "go", "officer-1", "key-2")
    assert again.duplicate and again.instruction_ids == first.instruction_ids
    assert count(engine, instructions) == 1
    assert len(out_instructions(r)) == 1
    # The same unit for another incident is still refused, naming the instruction it is on.
    put_incident(engine, grids, "E-2")
    with pytest.raises(Refused, match=first.instruction_ids[0]):
        service.send("E-2", ["PU-NEAR"], "go", "officer-1", "key-3")


def test_disp003c_another_send_under_the_same_key_is_its_own_send(service: DispatchService, r: redis.Redis,
                                                                 engine: Engine) -> None:
    """The page rotates its key only when a send's answer lands: adding a unit or reassigning from the live list
    before that reuses the key, and must not be swallowed as a repeat of the first send."""
    first = service.send("E-1", ["PU-NEAR"], "go", "officer-1", "page-key")
    added = service.send("E-1", ["PU-FAR"], "go too", "officer-1", "page-key")
    assert not added.duplicate and added.instruction_ids != first.instruction_ids
    moved = service.send("E-1", ["PU-BUSY"], "instead", "officer-1", "page-key", replaces=added.instruction_ids[0])
    assert not moved.duplicate
    # Each of them repeated (a double click) is still the same send.
    assert service.send("E-1", ["PU-FAR"], "go too", "officer-1", "page-key").instruction_ids == added.instruction_ids
    again = service.send("E-1", ["PU-BUSY"], "instead", "officer-1", "page-key", replaces=added.instruction_ids[0])
    assert again.duplicate and again.instruction_ids == moved.instruction_ids
    with engine.connect() as conn:
        states = dict(conn.execute(select(instructions.c.unit_id, instructions.c.state)).all())
    assert states == {"PU-NEAR": "issued", "PU-FAR": "reassigned", "PU-BUSY": "issued"}
    assert len(out_instructions(r)) == 4  # three issued, one reassigned


def test_disp004_two_officers_racing_for_one_unit_exactly_one_wins(service: DispatchService, engine: Engine,
                                                                   grids: GridIndex, r: redis.Redis) -> None:
    put_incident(engine, grids, "E-2")
    barrier = threading.Barrier(2)
    outcomes: list[str] = []

    def officer(incident: str, key: str) -> None:
        barrier.wait()
        try:
            service.send(incident, ["PU-NEAR"], "go", key, key)
            outcomes.append("sent")
        except Refused as exc:
            outcomes.append(exc.reason)

    threads = [threading.Thread(target=officer, args=(inc, f"k-{inc}")) for inc in ("E-1", "E-2")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(outcomes) == 2 and outcomes.count("sent") == 1
    assert "PU-NEAR" in next(o for o in outcomes if o != "sent")  # the refusal says why
    assert count(engine, instructions) == 1 and count(engine, unit_reservations) == 1
    assert len(out_instructions(r)) == 1


def test_disp005_refusals_change_nothing(service: DispatchService, engine: Engine) -> None:
    for units, body in ((["PU-GHOST"], "go"), ([], "go"), (["PU-NEAR"], "   ")):
        with pytest.raises(Refused):
            service.send("E-1", units, body, "officer-1", f"k-{len(units)}-{body.strip()}")
    with pytest.raises(Refused):
        service.send("E-404", ["PU-NEAR"], "go", "officer-1", "k-404")
    assert count(engine, instructions) == count(engine, outbox) == count(engine, unit_reservations) == 0


def test_disp006_full_loop_with_clocks_and_log(service: DispatchService, engine: Engine) -> None:
    [iid] = service.send("E-1", ["PU-NEAR"], "go", "officer-1", "loop").instruction_ids
    t = NOW
    for step, minutes in ((State.RECEIVED, 0.5), (State.EN_ROUTE, 1), (State.ON_SCENE, 4.5)):
        assert service.feedback(iid, "PU-NEAR", step.value, t + timedelta(minutes=minutes), None, "")
    assert not service.feedback(iid, "PU-NEAR", "received", t + timedelta(minutes=5), None, "")  # late: no change
    with engine.connect() as conn:
        row = dict(conn.execute(select(instructions)).mappings().one())
    assert clock_state(row, t + timedelta(minutes=10))[0] == "ok"  # result due 15 min after arrival
    assert clock_state(row, t + timedelta(minutes=17.5))[0] == "amber"
    assert clock_state(row, t + timedelta(minutes=20))[0] == "red"
    assert service.feedback(iid, "PU-NEAR", "result_reported", t + timedelta(minutes=12), "mediated", "已调解")
    assert service.transition(iid, State.CLOSED, "officer-1", t + timedelta(minutes=13))
    actions = [e["action"] for e in service.log_for("E-1")]
    assert actions == ["issued", "received", "en_route", "on_scene", "result_reported", "closed"]
    assert count(engine, unit_reservations) == 0  # the unit is free again
    with engine.connect() as conn:
        assert conn.execute(select(incidents.c.status)).scalar_one() == "closed"


def test_disp007_feedback_for_another_units_instruction_is_refused(service: DispatchService) -> None:
    [iid] = service.send("E-1", ["PU-NEAR"], "go", "officer-1", "own").instruction_ids
    with pytest.raises(Refused, match="belongs to PU-NEAR"):
        service.feedback(iid, "PU-FAR", "on_scene", NOW, None, "")


def test_disp008_divert_to_12345(service: DispatchService, r: redis.Redis, engine: Engine) -> None:
    service.divert("E-1", "officer-1", "物业纠纷，非警务事项")
    [(_, fields)] = r.xrange(keys.OUT_HOTLINE)
    assert json.loads(fields["data"])["event_id"] == "E-1"
    with engine.connect() as conn:
        assert conn.execute(select(incidents.c.status)).scalar_one() == "diverted_12345"
    with pytest.raises(Refused):
        service.send("E-1", ["PU-NEAR"], "go", "officer-1", "after-divert")


def test_disp009_outbox_rows_left_by_a_crash_are_relayed_exactly_once(service: DispatchService, r: redis.Redis,
                                                                      engine: Engine) -> None:
    service.send("E-1", ["PU-NEAR"], "go", "officer-1", "crash")
    # Simulate a process that committed but died before marking its rows relayed.
    with engine.begin() as conn:
        conn.execute(update(outbox).values(sent_at=None))
    assert service.outbox.relay() > 0
    assert service.outbox.relay() == 0
    assert len(out_instructions(r)) == 1


def test_disp010_restart_mid_loop_keeps_every_instruction_where_it_was(
    service: DispatchService, r: redis.Redis, engine: Engine, grids: GridIndex
) -> None:
    [iid] = service.send("E-1", ["PU-NEAR"], "go", "officer-1", "restart").instruction_ids
    service.feedback(iid, "PU-NEAR", "on_scene", NOW + timedelta(minutes=3), None, "")
    restarted = DispatchService(engine, r, grids, OutboxRelay(engine, r), clock=lambda: NOW + timedelta(minutes=4))
    [open_one] = restarted.open_instructions()
    assert (open_one["instruction_id"], open_one["state"]) == (iid, "on_scene")
    assert restarted.feedback(iid, "PU-NEAR", "result_reported", NOW + timedelta(minutes=9), "dispersed", "")
    # Still reserved until closed: another incident cannot have the unit, this one already has it.
    put_incident(engine, grids, "E-2")
    with pytest.raises(Refused):
        restarted.send("E-2", ["PU-NEAR"], "go", "officer-2", "restart-2")
    assert restarted.send("E-1", ["PU-NEAR"], "go", "officer-2", "restart-3").instruction_ids == [iid]
    assert count(engine, instructions) == 1


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.sampled_from(["received", "en_route", "on_scene", "result_reported"]), min_size=1, max_size=12))
def test_disp011_replayed_and_reordered_feedback_never_breaks_the_record(
    service: DispatchService, engine: Engine, steps: list[str]
) -> None:
    with engine.begin() as conn:  # a fresh instruction for every example
        for table in (instructions, instruction_events, unit_reservations, outbox):
            conn.execute(table.delete())
    [iid] = service.send("E-1", ["PU-NEAR"], "go", "officer-1", f"p-{time.monotonic_ns()}").instruction_ids
    for n, step in enumerate(steps):
        service.feedback(iid, "PU-NEAR", step, NOW + timedelta(seconds=n), "mediated", "")
    with engine.connect() as conn:
        row = conn.execute(select(instructions)).mappings().one()
    reached = max((PATH.index(State(s)) for s in steps), default=0)
    assert row["state"] == PATH[reached].value
    assert State(row["state"]) not in TERMINAL
    times = [row[c] for c in ("received_at", "en_route_at", "on_scene_at", "result_at") if row[c] is not None]
    assert times == sorted(times)


def test_disp012_reassign_moves_the_job_in_one_step(service: DispatchService, r: redis.Redis, engine: Engine) -> None:
    [old] = service.send("E-1", ["PU-NEAR"], "go", "officer-1", "first").instruction_ids
    [new] = service.send("E-1", ["PU-FAR"], "go instead", "officer-1", "second", replaces=old).instruction_ids
    with engine.connect() as conn:
        states = dict(conn.execute(select(instructions.c.instruction_id, instructions.c.state)).all())
        reserved = dict(conn.execute(select(unit_reservations.c.unit_id, unit_reservations.c.instruction_id)).all())
    assert states == {old: "reassigned", new: "issued"}
    assert reserved == {"PU-FAR": new}  # the first unit is free again
    assert [(f["unit_id"], f["state"]) for f in out_instructions(r)] == [
        ("PU-NEAR", "issued"), ("PU-NEAR", "reassigned"), ("PU-FAR", "issued")]


def test_disp013_reassigning_a_unit_on_scene_is_refused_and_changes_nothing(
    service: DispatchService, engine: Engine
) -> None:
    [old] = service.send("E-1", ["PU-NEAR"], "go", "officer-1", "first").instruction_ids
    service.feedback(old, "PU-NEAR", "on_scene", NOW + timedelta(minutes=3), None, "")
    with pytest.raises(Refused):
        service.send("E-1", ["PU-FAR"], "go instead", "officer-1", "second", replaces=old)
    with engine.connect() as conn:
        assert conn.execute(select(instructions.c.state)).scalars().all() == ["on_scene"]
        assert conn.execute(select(unit_reservations.c.unit_id)).scalars().all() == ["PU-NEAR"]
