"""Return visits: the monthly 10% sample per station and kind, reproducible from its seed and never drawing a
matter twice; the calls (three unanswered at most), the answers that reopen a matter as a linked lead, the call
centre's stream, the figures, and the monthly run at its boundaries."""

from __future__ import annotations

import json
import threading
from collections import Counter
from datetime import UTC, date, datetime, timedelta
from itertools import pairwise

import pytest
import redis
from sqlalchemy import Engine, insert, select
from time_machine import TimeMachineFixture

import clock
from bus import keys
from bus.outbox import OutboxRelay
from clock import Period
from dispatch.lifecycle import State
from dispatch.service import DispatchService
from geo.index import GridIndex
from gridwork.tasks import TaskKind, TaskService
from i18n import text
from indicators.compute import DISTRICT
from ingest.consumer import Consumer
from reports.build import Kind, ReportBuilder
from revisits.results import VisitResult
from revisits.sample import Matter, MatterKind, draw, share
from revisits.service import RevisitRefused, RevisitService
from risk.leads import LeadService
from risk.rules import Finding
from simulation.revisit_clerk import RevisitClerk
from store.db import as_utc, audit_log, incidents, leads, revisit_attempts, revisits
from testkit.entries import SEAT

T0 = datetime(2026, 12, 1, 1, 0, tzinfo=UTC)  # 09:00 on 1 December in Beijing: November is the last whole month
pytestmark = pytest.mark.time_machine(T0, tick=False)
NOVEMBER = Period.month(2026, 11)
MID_NOVEMBER = clock.at(NOVEMBER.start.date() + timedelta(days=14), 10)
PS01, PS02 = "SC-001", "SC-088"  # a grid of station PS-01, one of PS-02


@pytest.fixture
def service(engine: Engine, grids: GridIndex, relay: OutboxRelay, lead_service: LeadService) -> RevisitService:
    return RevisitService(engine, grids, lead_service, relay=relay.relay)


def closed_incidents(engine: Engine, grid: str, count: int, at: datetime, prefix: str) -> list[str]:
    """``count`` incidents of the district's history in ``grid``, reported (and closed) at ``at``."""
    ids = [f"{prefix}-{i:03d}" for i in range(count)]
    with engine.begin() as conn:
        conn.execute(insert(incidents), [{
            "event_id": event_id, "stream_id": "1-0", "reported_at": at, "ingested_at": at, "lon": SEAT[0],
            "lat": SEAT[1], "grid": grid, "category": "noise", "priority": 3, "address": "朔城区开发路12号",
            "description": "楼上噪音", "caller": f"1381234{i:04d}", "source": "110", "status": "closed",
            "history": True} for i, event_id in enumerate(ids)])
    return ids


def reported_tasks(tasks: TaskService, grid: str, count: int, prefix: str) -> list[str]:
    """``count`` hazards on ``grid`` reported by its worker now."""
    ids = []
    for i in range(count):
        with tasks.engine.begin() as conn:
            row = tasks.create(conn, TaskKind.HAZARD, f"{prefix}-{i}", grid, "楼道堆放杂物", "chief", clock.now())
        tasks.report(row["task_id"], "worker", "resolved", "已清理")
        ids.append(str(row["task_id"]))
    return ids


def handled_leads(lead_service: LeadService, grid: str, count: int, prefix: str) -> list[str]:
    made = lead_service.create([Finding("dispute_cluster", grid, "high", f"{prefix}-{i}", (),
                                        {"days": 7, "count": 4 + i}) for i in range(count)])
    for lead in made:
        lead_service.handle(lead["lead_id"], "station-officer", "已走访调解", useful=True)
    return [str(lead["lead_id"]) for lead in made]


def visits_of(engine: Engine) -> list[dict[str, object]]:
    with engine.connect() as conn:
        rows = conn.execute(select(revisits).order_by(revisits.c.visit_id)).mappings().all()
    return [{k: as_utc(v) if isinstance(v, datetime) else v for k, v in row.items()} for row in rows]


def test_rv001_share_is_ten_percent_rounded_up_in_integers() -> None:
    assert [share(n, 10) for n in (0, 1, 9, 10, 11, 20, 23, 100)] == [0, 1, 1, 1, 2, 2, 3, 10]
    assert share(7, 100) == 7


def test_rv002_the_draw_is_the_share_of_each_stratum_reproducible_and_never_a_taken_matter() -> None:
    moment = datetime(2026, 11, 2, tzinfo=UTC)
    population = [Matter(MatterKind.INCIDENT, f"E-{i}", "PS-01" if i < 23 else "PS-02", "SC-001", "x", moment)
                  for i in range(33)]
    population += [Matter(MatterKind.TASK, f"T-{i}", "PS-01", "SC-001", "x", moment) for i in range(5)]
    taken = {("incident", "E-0"), ("incident", "E-1")}
    drawn, counts = draw(population, 10, seed=7, taken=taken)
    assert counts == {"PS-01/incident": (23, 3), "PS-02/incident": (10, 1), "PS-01/task": (5, 1)}
    assert not {m.key for m in drawn} & taken
    again, _ = draw(list(reversed(population)), 10, seed=7, taken=taken)  # the order it came in does not matter
    assert again == drawn
    others = {tuple(m.key for m in draw(population, 10, seed=seed, taken=taken)[0]) for seed in range(20)}
    assert len(others) > 1  # the seed decides
    # A stratum with fewer free members than its share gives what it has.
    assert draw(population[:2], 50, seed=1, taken=taken)[1] == {"PS-01/incident": (2, 0)}


def test_rv003_last_months_closed_matters_are_sampled_per_station_and_kind_and_can_be_reproduced(
    service: RevisitService, engine: Engine, r: redis.Redis, tasks: TaskService, lead_service: LeadService,
    grids: GridIndex, time_machine: TimeMachineFixture
) -> None:
    # The month's edges: the last second of October and the first of December are not November's.
    closed_incidents(engine, PS01, 1, NOVEMBER.start - timedelta(seconds=1), "OCT")
    closed_incidents(engine, PS01, 1, NOVEMBER.end, "DEC")
    first = closed_incidents(engine, PS01, 1, NOVEMBER.start, "NOV-FIRST")
    closed_incidents(engine, PS01, 1, NOVEMBER.end - timedelta(seconds=1), "NOV-LAST")
    closed_incidents(engine, PS01, 21, MID_NOVEMBER, "NOV-A")  # with the two edges: 23 -> 3
    closed_incidents(engine, PS02, 10, MID_NOVEMBER, "NOV-B")  # 10 -> 1
    time_machine.move_to(MID_NOVEMBER)
    reported_tasks(tasks, PS01, 5, "HZ")  # 5 -> 1
    handled_leads(lead_service, PS02, 12, "LD")  # 12 -> 2
    # A live incident closed by the hall in November: a matter with its outcome.
    r.hset(keys.UNIT_STATE, "PU-1", json.dumps({"unit_id": "PU-1", "lon": SEAT[0], "lat": SEAT[1],
                                                "status": "available", "observed_at": 0}))
    closed_incidents(engine, PS02, 1, MID_NOVEMBER, "LIVE")
    with engine.begin() as conn:
        conn.execute(incidents.update().where(incidents.c.event_id == "LIVE-000").values(history=False,
                                                                                          status="new"))
    dispatch = DispatchService(engine, r, grids, OutboxRelay(engine, r))
    [iid] = dispatch.send("LIVE-000", ["PU-1"], "前往处置", "duty", "k-live").instruction_ids
    dispatch.feedback(iid, "PU-1", "result_reported", clock.now(), "mediated", "已调解")
    dispatch.transition(iid, State.CLOSED, "duty")
    time_machine.move_to(T0)
    # A complaint about one of them came first: it is visited, and no draw takes it again.
    complained = service.add("incident", first[0], "complaint", "chief-li")
    assert complained["reason"] == "complaint"

    sample = service.draw(NOVEMBER, "system", seed=20261201)
    assert json.loads(sample["strata"]) == {"PS-01/incident": [23, 3], "PS-02/incident": [11, 2],
                                            "PS-01/task": [5, 1], "PS-02/lead": [12, 2]}
    assert (sample["population"], sample["drawn"]) == (51, 8)
    drawn = [v for v in visits_of(engine) if v["sample_id"] == sample["sample_id"]]
    assert len(drawn) == 8
    assert Counter((v["station"], v["matter_kind"]) for v in drawn) == {
        ("PS-01", "incident"): 3, ("PS-02", "incident"): 2, ("PS-01", "task"): 1, ("PS-02", "lead"): 2}
    assert first[0] not in {v["matter_id"] for v in drawn}
    assert not {v["matter_id"] for v in drawn} & {"OCT-000", "DEC-000"}
    assert {v["due_at"] for v in drawn} == {T0 + timedelta(days=3)}
    live = [v for v in drawn if v["matter_id"] == "LIVE-000"]
    assert not live or live[0]["matter_outcome"] == "mediated"

    # Reproducible: the same seed over the same matters, and those visited before, gives the same visits.
    assert service.reproduce(sample["sample_id"])
    # Drawing the month again is the same draw: nothing is visited twice.
    assert service.draw(NOVEMBER, "system")["seed"] == 20261201
    assert len(visits_of(engine)) == 9
    # Each visit is written once for the outside call centre, with the number to call in full.
    relayed = [f for _, f in r.xrange(keys.OUT_REVISITS)]
    assert sorted(f["visit_id"] for f in relayed) == sorted(str(v["visit_id"]) for v in visits_of(engine))
    caller = next(f for f in relayed if f["matter_id"] == first[0])
    assert caller["contact_phone"] == "13812340000" and caller["reason"] == "complaint"
    with engine.connect() as conn:
        actions = list(conn.execute(select(audit_log.c.action)).scalars())
    assert actions.count("revisit.draw") == 1 and actions.count("revisit.add") == 1
    # The desk reads each matter's own record, every step named in both languages.
    live_steps = service.history({"matter_kind": "incident", "matter_id": "LIVE-000"})
    assert [step["what"] for step in live_steps] == ["revisits.step.reported", "state.issued",
                                                     "state.result_reported", "state.closed"]
    for visit in visits_of(engine):
        steps = service.history(visit)
        assert steps and all(text(step["what"], language) for step in steps for language in ("zh-CN", "en"))


def test_rv004_a_matter_is_added_by_hand_once_and_only_when_closed(
    service: RevisitService, engine: Engine, tasks: TaskService
) -> None:
    [done] = reported_tasks(tasks, PS01, 1, "DONE")
    with tasks.engine.begin() as conn:
        still_open = tasks.create(conn, TaskKind.HAZARD, "OPEN", PS01, "井盖缺失", "chief", clock.now())
    assert service.add("task", done, "chief", "chief-li")["matter_id"] == done
    with pytest.raises(RevisitRefused, match="已在回访中"):
        service.add("task", done, "complaint", "chief-li")
    with pytest.raises(RevisitRefused, match="未找到已办结的事项"):
        service.add("task", str(still_open["task_id"]), "chief", "chief-li")
    with pytest.raises(RevisitRefused, match="未知"):
        service.add("task", done, "sample", "chief-li")  # a sample is drawn, never made by hand
    assert len(visits_of(engine)) == 1


def test_rv005_three_unanswered_calls_end_a_visit_as_unreachable_and_reopen_nothing(
    service: RevisitService, engine: Engine, time_machine: TimeMachineFixture
) -> None:
    [matter] = closed_incidents(engine, PS01, 1, MID_NOVEMBER, "E")
    visit = service.add("incident", matter, "complaint", "chief-li")
    for attempt in (1, 2):
        row = service.record(visit["visit_id"], "clerk-zhao", "unreachable")
        assert (row["attempts"], row["visited_at"], row["result"]) == (attempt, None, None)
        time_machine.shift(timedelta(hours=4))
    row = service.record(visit["visit_id"], "clerk-zhao", "unreachable", "三次无人接听")
    assert (row["attempts"], row["result"], row["reopened_lead"]) == (3, "unreachable", None)
    assert row["visited_at"] == T0 + timedelta(hours=8)
    with pytest.raises(RevisitRefused, match="已结束"):
        service.record(visit["visit_id"], "clerk-zhao", "satisfied")
    assert [a["result"] for a in service.attempts_of(visit["visit_id"])] == ["unreachable"] * 3


@pytest.mark.parametrize("result", [VisitResult.PERSISTS, VisitResult.NOT_SATISFIED])
def test_rv006_an_answer_that_the_problem_persists_reopens_the_matter_as_a_linked_lead_to_its_station(
    service: RevisitService, engine: Engine, r: redis.Redis, grids: GridIndex, result: VisitResult
) -> None:
    [matter] = closed_incidents(engine, PS02, 1, MID_NOVEMBER, "E")
    visit = service.add("incident", matter, "complaint", "chief-li")
    with pytest.raises(RevisitRefused, match="记录当事人意见"):
        service.record(visit["visit_id"], "clerk-zhao", result.value, "  ")  # why it reopens is kept
    row = service.record(visit["visit_id"], "clerk-zhao", result.value, "噪音仍然每晚出现")
    assert row["result"] == result.value and row["attempts"] == 1
    with engine.connect() as conn:
        lead = conn.execute(select(leads).where(leads.c.lead_id == row["reopened_lead"])).mappings().one()
    grid = grids.get(PS02)
    assert grid is not None
    assert (lead["rule"], lead["level"], lead["target"], lead["station"]) == (
        f"revisit_{result.value}", "high", "station", grid.station)
    assert as_utc(lead["deadline"]) == clock.now() + timedelta(hours=1)  # the station's hour
    assert json.loads(lead["evidence"]) == [matter]  # linked both ways
    assert json.loads(lead["facts"])["visit"] == visit["visit_id"]
    assert visit["visit_id"] in lead["summary"] and matter in lead["summary"]
    # The station hears of it as of any lead; the matter and the visit stay as they were.
    assert [json.loads(f["data"])["lead_id"] for _, f in r.xrange(keys.LIVE) if f["type"] == "lead"] == [
        row["reopened_lead"]]
    with engine.connect() as conn:
        assert conn.execute(select(incidents.c.status).where(incidents.c.event_id == matter)).scalar_one() == \
            "closed"


def test_rv007_the_call_centres_calls_come_in_on_their_stream_once_and_bad_ones_are_dead_lettered(
    service: RevisitService, engine: Engine, r: redis.Redis, grids: GridIndex, devices: object
) -> None:
    [matter] = closed_incidents(engine, PS01, 1, MID_NOVEMBER, "E")
    visit = service.add("incident", matter, "complaint", "chief-li")
    consumer = Consumer(r, engine, grids, devices, name="rv", revisit_calls=service.call_centre)  # type: ignore[arg-type]
    consumer.ensure_groups()
    at = (clock.now() - timedelta(minutes=5)).isoformat()
    call = {"event_id": "CC-1", "visit_id": visit["visit_id"], "agent": "agent-07", "at": at,
            "result": "unreachable"}
    r.xadd(keys.REVISIT_CALLS, call)
    r.xadd(keys.REVISIT_CALLS, call)  # the same call sent twice
    r.xadd(keys.REVISIT_CALLS, {**call, "event_id": "CC-2", "result": "satisfied", "note": "很满意"})
    r.xadd(keys.REVISIT_CALLS, {**call, "event_id": "CC-3", "visit_id": "RV-unknown"})
    r.xadd(keys.REVISIT_CALLS, {**call, "event_id": "CC-4", "result": "maybe"})
    r.xadd(keys.REVISIT_CALLS, {**call, "event_id": "CC-5", "result": "persists", "note": "又吵"})  # ended already
    while batch := r.xreadgroup(keys.CONSUMER_GROUP, consumer.name, {keys.REVISIT_CALLS: ">"}, count=100):
        consumer.process({stream: entries for stream, entries in batch})
    row = service.get(visit["visit_id"])
    assert row is not None and (row["attempts"], row["result"]) == (2, "satisfied")
    assert row["visited_by"] == "call_centre:agent-07"
    with engine.connect() as conn:
        attempts = conn.execute(select(revisit_attempts.c.event_id, revisit_attempts.c.channel,
                                       revisit_attempts.c.at).order_by(revisit_attempts.c.id)).all()
    assert [(a.event_id, a.channel) for a in attempts] == [("CC-1", "call_centre"), ("CC-2", "call_centre")]
    assert as_utc(attempts[0].at) == clock.now() - timedelta(minutes=5)  # when the call was made
    dead = [json.loads(f["fields"])["event_id"] + ": " + f["reason"] for _, f in r.xrange(keys.DEAD)]
    assert len(dead) == 3
    assert dead[0].startswith("CC-3: ") and "未找到该回访" in dead[0]
    assert dead[1].startswith("CC-4: ") and "result" in dead[1]
    assert dead[2].startswith("CC-5: ") and "已结束" in dead[2]


def test_rv008_the_figures_count_visits_due_in_the_period_on_time_satisfied_and_reopened(
    service: RevisitService, engine: Engine, time_machine: TimeMachineFixture
) -> None:
    matters = closed_incidents(engine, PS01, 5, MID_NOVEMBER, "E")
    visits = [service.add("incident", m, "chief", "chief-li")["visit_id"] for m in matters]
    december = Period.month(2026, 12)
    service.record(visits[0], "clerk", "satisfied")
    service.record(visits[1], "clerk", "persists", "仍有噪音")
    time_machine.shift(timedelta(days=3))  # the due moment, to the second: on time
    service.record(visits[2], "clerk", "satisfied")
    time_machine.shift(timedelta(seconds=1))  # a second late
    service.record(visits[3], "clerk", "not_satisfied", "态度不好")
    figures = service.figures(december)
    assert figures == {"due": 5, "made": 4, "on_time": 3, "overdue": 1, "coverage": 3 / 5,
                       "satisfaction": 2 / 4, "reopen_rate": 2 / 4}
    assert service.figures(NOVEMBER)["due"] == 0


def test_rv009_the_monthly_draw_runs_at_start_for_a_month_not_drawn_then_on_the_first_at_0130(
    service: RevisitService, engine: Engine, r: redis.Redis, time_machine: TimeMachineFixture
) -> None:
    closed_incidents(engine, PS01, 4, MID_NOVEMBER, "E")
    stop = threading.Event()
    stop.set()  # one turn: the draw a machine switched on owes, then it stops
    service.run_monthly(stop, r, "test")
    assert [s["sample_id"] for s in service.samples()] == ["RS-20261101-20261201"]
    assert len(visits_of(engine)) == 1
    # When the next one is due: the 1st at 01:30 Beijing time, across a year's end too.
    for moment, expected in (
        (clock.at(date(2026, 12, 1), 1, 29), clock.at(date(2026, 12, 1), 1, 30)),
        (clock.at(date(2026, 12, 1), 1, 30), clock.at(date(2027, 1, 1), 1, 30)),
        (clock.at(date(2026, 12, 31), 23, 59), clock.at(date(2027, 1, 1), 1, 30)),
        (clock.at(date(2028, 2, 29), 12), clock.at(date(2028, 3, 1), 1, 30)),
    ):
        time_machine.move_to(moment)
        assert service._next_draw() == expected, moment


def test_rv010_the_simulated_clerk_works_the_list_through_the_service_calling_back_who_did_not_answer(
    service: RevisitService, engine: Engine, time_machine: TimeMachineFixture
) -> None:
    matters = closed_incidents(engine, PS01, 40, MID_NOVEMBER, "E")
    for matter in matters:
        service.add("incident", matter, "chief", "chief-li")
    clerk = RevisitClerk(service)
    calls = 0
    while clerk.call_next() is not None:
        calls += 1
        time_machine.shift(timedelta(minutes=3))
    time_machine.shift(RevisitClerk.RETRY)  # those who did not answer are called again
    while clerk.call_next() is not None:
        calls += 1
    visits = visits_of(engine)
    assert sum(int(str(v["attempts"])) for v in visits) == calls
    results = Counter(v["result"] for v in visits)
    assert results["satisfied"] > results["not_satisfied"] + results["persists"] > 0  # most are satisfied
    reopened = [v for v in visits if v["reopened_lead"]]
    assert {v["result"] for v in reopened} <= {"not_satisfied", "persists"} and reopened
    retried = [v for v in visits if int(str(v["attempts"])) > 1]
    assert retried  # someone did not answer the first time and was called again, not at once
    for visit in retried:
        times = [a["at"] for a in service.attempts_of(str(visit["visit_id"]))]
        assert all(as_utc(b) - as_utc(a) >= RevisitClerk.RETRY for a, b in pairwise(times))


def test_rv011_the_reports_show_the_desks_figures_for_the_district_and_each_station(
    service: RevisitService, engine: Engine, grids: GridIndex, time_machine: TimeMachineFixture
) -> None:
    visits = [service.add("incident", m, "chief", "chief-li")["visit_id"]
              for m in closed_incidents(engine, PS01, 2, MID_NOVEMBER, "A") +
              closed_incidents(engine, PS02, 1, MID_NOVEMBER, "B")]
    service.record(visits[0], "clerk", "satisfied")
    service.record(visits[2], "clerk", "persists", "仍未解决")
    time_machine.shift(timedelta(days=4))  # the last one is now overdue
    report = ReportBuilder(engine, grids).build(Kind.MONTHLY, "2026-12")
    table = report.tables["revisits"]
    rows = {row[0]: row[1:] for row in table.rows}
    district = service.figures(Period.month(2026, 12))
    assert rows[DISTRICT] == [district["due"], district["made"], district["coverage"], district["overdue"],
                              district["satisfaction"], district["reopen_rate"]] == [3, 2, 2 / 3, 1, 1 / 2, 1 / 2]
    assert rows["PS-01"] == [2, 1, 1 / 2, 1, 1.0, 0.0] and rows["PS-02"] == [1, 1, 1.0, 0, 0.0, 1.0]
