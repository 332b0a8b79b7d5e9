"""Supervision: late items escalated by the configured rules (to the station chief, later the district), once per
item and level, recorded, audited, pushed live and written to ``{cc}:out:supervision``; an escalation closes only
with a response; the figures per station; the scan loop's lease."""

from __future__ import annotations

import json
import threading
from datetime import UTC, datetime, timedelta

import pytest
import redis
from sqlalchemy import Engine, insert, select
from time_machine import TimeMachineFixture

import clock
from bus import keys
from bus.outbox import OutboxRelay
from clock import Period
from dispatch.service import DispatchService
from geo.index import GridIndex
from gridwork.tasks import TaskKind, TaskService
from indicators.compute import DISTRICT, compute, load
from reports.build import Kind, ReportBuilder
from revisits.service import RevisitService
from risk.leads import LeadService
from risk.rules import Finding
from settings import Settings
from simulation.station_chiefs import Chiefs
from store.db import audit_log, escalations, incidents, sensor_events
from supervision.late import ItemKind
from supervision.service import Level, Rule, SupervisionRefused, SupervisionService, describe, rules_from
from testkit.entries import SEAT

T0 = datetime(2026, 12, 7, 1, 0, tzinfo=UTC)  # a Monday, 09:00 in Beijing
pytestmark = pytest.mark.time_machine(T0, tick=False)
PS01_GRID, PS02_GRID = "SC-001", "SC-088"  # a grid of station PS-01, one of PS-02


@pytest.fixture
def service(engine: Engine, grids: GridIndex, relay: OutboxRelay) -> SupervisionService:
    return SupervisionService(engine, grids, rules_from(Settings.supervision_rules), relay=relay.relay)


def high_lead(lead_service: LeadService, grid: str, key: str) -> str:
    [lead] = lead_service.create([Finding("dispute_cluster", grid, "high", key, (), {"days": 7, "count": 4})])
    return str(lead["lead_id"])


def out_supervision(r: redis.Redis) -> list[dict[str, str]]:
    return [fields for _, fields in r.xrange(keys.OUT_SUPERVISION)]


def live_escalations(r: redis.Redis) -> list[dict[str, object]]:
    return [json.loads(fields["data"]) for _, fields in r.xrange(keys.LIVE) if fields["type"] == "escalation"]


def rows_of(engine: Engine) -> list[dict[str, object]]:
    with engine.connect() as conn:
        return [dict(row) for row in conn.execute(select(escalations).order_by(escalations.c.raised_at,
                                                                              escalations.c.level)).mappings()]


def test_sv001_the_rules_are_configuration_and_a_bad_rule_is_an_error(monkeypatch: pytest.MonkeyPatch) -> None:
    rules = rules_from(Settings.supervision_rules)
    assert rules[ItemKind.LEAD] == Rule(timedelta(hours=1), timedelta(hours=4))
    assert rules[ItemKind.REVISIT] == Rule(None, timedelta(days=1))  # the centre's own work: the district only
    assert rules[ItemKind.LEAD].levels(timedelta(minutes=59)) == []
    assert rules[ItemKind.LEAD].levels(timedelta(hours=1)) == [Level.STATION]
    assert rules[ItemKind.LEAD].levels(timedelta(hours=5)) == [Level.STATION, Level.DISTRICT]

    monkeypatch.setenv("SUPERVISION_RULES", "lead=30m/2h, alert=90s/-")
    changed = rules_from(Settings.from_env().supervision_rules)
    assert changed[ItemKind.LEAD] == Rule(timedelta(minutes=30), timedelta(hours=2))
    assert changed[ItemKind.ALERT] == Rule(timedelta(seconds=90), None)
    assert changed[ItemKind.INSTRUCTION] == rules_from(Settings.supervision_rules)[ItemKind.INSTRUCTION]
    for bad, says in (("lead=30m", "station/district"), ("lead=2h/1h", "after the station"),
                      ("lead=10x/1h", "not a duration"), ("lead=-/-", "escalates nowhere"),
                      ("parcel=1h/2h", "exactly")):
        monkeypatch.setenv("SUPERVISION_RULES", bad)
        with pytest.raises(ValueError, match=says):
            Settings.from_env()


def test_sv002_a_late_lead_reaches_its_station_chief_after_an_hour_and_the_district_after_four_once_each(
    service: SupervisionService, lead_service: LeadService, engine: Engine, r: redis.Redis,
    time_machine: TimeMachineFixture,
) -> None:
    lead_id = high_lead(lead_service, PS01_GRID, "sv002")  # due in an hour (a high lead's deadline)
    deadline = T0 + timedelta(hours=1)
    time_machine.move_to(deadline + timedelta(minutes=59, seconds=59))
    assert service.scan() == []  # late, but not an hour late yet
    time_machine.move_to(deadline + timedelta(hours=1))
    [raised] = service.scan()
    assert (raised["item_kind"], raised["item_id"], raised["level"], raised["station"]) == \
        ("lead", lead_id, "station", "PS-01")
    assert clock.local(raised["due_at"]) == clock.local(deadline)
    assert service.scan() == []  # once per item and level, however often the scan runs
    time_machine.move_to(deadline + timedelta(hours=4))
    [district] = service.scan()
    assert district["level"] == "district"
    assert service.counts() == {"station": 1, "district": 1}
    assert service.counts("PS-02") == {"station": 0, "district": 0}

    # Recorded, audited, pushed live and written for other systems (relayed after the commit).
    assert [row["level"] for row in rows_of(engine)] == ["station", "district"]
    with engine.connect() as conn:
        actions = [(row.action, row.target) for row in conn.execute(
            select(audit_log.c.action, audit_log.c.target).where(audit_log.c.action == "supervision.escalate"))]
    assert actions == [("supervision.escalate", raised["escalation_id"]),
                       ("supervision.escalate", district["escalation_id"])]
    out = out_supervision(r)
    assert [(m["action"], m["level"], m["item_id"]) for m in out] == [("escalated", "station", lead_id),
                                                                      ("escalated", "district", lead_id)]
    assert json.loads(out[0]["facts"]) == {"level": "high", "rule": "dispute_cluster", "target": "station"}
    pushed = live_escalations(r)
    assert [p["escalation_id"] for p in pushed] == [raised["escalation_id"], district["escalation_id"]]
    assert describe(pushed[0], "zh-CN") == "高风险线索超期未处置（矛盾纠纷聚集）"
    assert describe(pushed[0], "en") == "High risk lead not handled in time (Dispute cluster)"


def test_sv003_an_escalation_closes_only_with_a_response_and_says_when_its_item_was_done(
    service: SupervisionService, lead_service: LeadService, engine: Engine, r: redis.Redis,
    time_machine: TimeMachineFixture,
) -> None:
    lead_id = high_lead(lead_service, PS01_GRID, "sv003")
    time_machine.move_to(T0 + timedelta(hours=2, minutes=1))
    [raised] = service.scan()
    lead_service.handle(lead_id, "station-officer", "已走访", useful=True)
    time_machine.move_to(T0 + timedelta(hours=2, minutes=2))
    assert service.scan() == []
    [row] = rows_of(engine)
    assert row["responded_at"] is None and row["cleared_at"] is not None  # done, but not answered: still open
    assert service.counts()["station"] == 1

    with pytest.raises(SupervisionRefused, match="请填写答复内容"):
        service.respond(raised["escalation_id"], "chief-wang", "   ")
    answered = service.respond(raised["escalation_id"], "chief-wang", "民警当日已走访，超时系夜间警力不足，已调整排班")
    assert answered["responded_by"] == "chief-wang"
    with pytest.raises(SupervisionRefused, match="已答复"):
        service.respond(raised["escalation_id"], "chief-zhao", "再答一次")
    with pytest.raises(SupervisionRefused, match="未找到"):
        service.respond("SV-none", "chief-wang", "x")
    assert service.counts() == {"station": 0, "district": 0}
    assert service.listed(answered=True)[0]["response"].startswith("民警当日已走访")
    assert [m["action"] for m in out_supervision(r)] == ["escalated", "cleared", "responded"]
    # The handled lead is not late any more: no district escalation follows.
    time_machine.move_to(T0 + timedelta(hours=6))
    assert service.scan() == []


def test_sv004_instructions_grid_tasks_alerts_and_visits_escalate_by_their_own_clocks(
    service: SupervisionService, engine: Engine, r: redis.Redis, grids: GridIndex, tasks: TaskService,
    lead_service: LeadService, time_machine: TimeMachineFixture,
) -> None:
    with engine.begin() as conn:
        conn.execute(insert(incidents).values(
            event_id="E-SV4", stream_id="1-0", reported_at=T0, ingested_at=T0, lon=SEAT[0], lat=SEAT[1],
            grid=PS01_GRID, category="fight", priority=1, address="朔城区鄯阳街8号", description="斗殴", source="110"))
        task = tasks.create(conn, TaskKind.ALERT, "A-SV4", PS02_GRID, "烟雾告警", "officer", T0)
        conn.execute(insert(sensor_events).values(
            event_id="A-SV4", stream_id="1-0", device_id="DEV-1", kind="alert", scenario="smoke", value=0.3,
            observed_at=T0, ingested_at=T0, grid=PS02_GRID))
    r.hset(keys.UNIT_STATE, "PU-1", json.dumps({"unit_id": "PU-1", "lon": SEAT[0] + 0.005, "lat": SEAT[1],
                                                 "status": "available", "observed_at": 0}))
    dispatch = DispatchService(engine, r, grids, OutboxRelay(engine, r))
    [instruction_id] = dispatch.send("E-SV4", ["PU-1"], "请立即前往", "officer-1", "k-sv4").instruction_ids
    revisits = RevisitService(engine, grids, lead_service, relay=lambda: 0)
    with engine.begin() as conn:
        conn.execute(insert(incidents).values(
            event_id="E-OLD", stream_id="1-0", reported_at=T0 - timedelta(days=5), ingested_at=T0 - timedelta(days=5),
            lon=SEAT[0], lat=SEAT[1], grid=PS01_GRID, category="noise", priority=3, address="开发路12号",
            description="噪音", caller="13812345678", source="110", status="closed", history=True))
    visit = revisits.add("incident", "E-OLD", "complaint", "chief-li")  # due in three days

    time_machine.move_to(T0 + timedelta(minutes=20))
    raised = {(e["item_kind"], e["level"]): e for e in service.scan()}
    # The unit's 5 minutes passed 15 minutes ago (station: 10); the task's on-scene 5 (urban) 15 ago (station: 30,
    # not yet); the alert's minute 19 ago (station: 5, district: 15).
    assert set(raised) == {("instruction", "station"), ("alert", "station"), ("alert", "district")}
    assert raised["instruction", "station"]["item_id"] == instruction_id
    assert json.loads(raised["instruction", "station"]["facts"])["step"] == "arrival"
    assert raised["alert", "district"]["station"] == "PS-02"
    time_machine.move_to(T0 + timedelta(minutes=40))
    raised = {(e["item_kind"], e["level"]): e for e in service.scan()}
    assert set(raised) == {("grid_task", "station"), ("instruction", "district")}
    assert raised["grid_task", "station"]["item_id"] == task["task_id"]
    # A return visit is the centre's: to the district only, a day after its due date.
    time_machine.move_to(clock.local(visit["due_at"]) + timedelta(days=1))
    levels = {(e["item_kind"], e["level"]) for e in service.scan()}
    assert ("revisit", "district") in levels and ("revisit", "station") not in levels


def test_sv005_the_figures_per_station_are_the_indicators(
    service: SupervisionService, lead_service: LeadService, engine: Engine, grids: GridIndex,
    time_machine: TimeMachineFixture,
) -> None:
    first = high_lead(lead_service, PS01_GRID, "sv005-a")
    high_lead(lead_service, PS02_GRID, "sv005-b")
    time_machine.move_to(T0 + timedelta(hours=5))
    raised = service.scan()
    assert len(raised) == 4
    answered = next(e for e in raised if e["item_id"] == first and e["level"] == "station")
    service.respond(answered["escalation_id"], "chief-wang", "已处置")
    now = clock.now()
    today = Period.today(now)

    def station_of(grid: str | None) -> str | None:
        found = grids.get(grid) if grid else None
        return found.station if found else None

    figures = compute(load(engine, today, now), today, now, station_of, ["PS-01", "PS-02"])["scopes"]
    assert figures[DISTRICT]["supervision"] == {"raised": 4, "raised_district": 2, "open": 3, "open_district": 2,
                                                "responded": 1}
    assert figures["PS-01"]["supervision"] == {"raised": 2, "raised_district": 1, "open": 1, "open_district": 1,
                                               "responded": 1}
    assert figures["PS-01"]["supervision"] == service.figures(today, "PS-01")
    # Yesterday's figures knew none of it.
    yesterday = Period.day(clock.today(now) - timedelta(days=1))
    assert service.figures(yesterday)["raised"] == 0


def test_sv006_one_process_scans_at_a_time_and_a_stop_ends_the_loop(
    service: SupervisionService, lead_service: LeadService, r: redis.Redis, time_machine: TimeMachineFixture,
) -> None:
    high_lead(lead_service, PS01_GRID, "sv006")
    time_machine.move_to(T0 + timedelta(hours=2))
    stop = threading.Event()
    stop.set()  # one pass, then the wait returns at once
    r.set(keys.SUPERVISION_LEASE, "another-process", ex=60)
    service.run(stop, r, "this-process")
    assert service.counts()["station"] == 0  # the other process holds the lease
    r.delete(keys.SUPERVISION_LEASE)
    service.run(stop, r, "this-process")
    assert service.counts()["station"] == 1
    assert r.get(keys.SUPERVISION_LEASE) == "this-process"


def test_sv007_the_reports_show_the_escalations_per_station(
    service: SupervisionService, lead_service: LeadService, engine: Engine, grids: GridIndex,
    time_machine: TimeMachineFixture,
) -> None:
    high_lead(lead_service, PS01_GRID, "sv007")
    time_machine.move_to(T0 + timedelta(hours=5))
    [station_level, _] = sorted(service.scan(), key=lambda e: str(e["level"]), reverse=True)
    service.respond(station_level["escalation_id"], "chief-wang", "已整改")
    time_machine.move_to(T0 + timedelta(days=1))
    report = ReportBuilder(engine, grids).build(Kind.DAILY, clock.local(T0 + timedelta(hours=5)).date().isoformat())
    rows = {row[0]: row[1:] for row in report.tables["supervision"].rows}
    # Raised (to the district), open at 17:00, answered: the day's own figures, as the indicators give them.
    assert rows[DISTRICT][:5] == [2, 1, 1, 1, 1] and rows["PS-01"] == rows[DISTRICT] and rows["PS-02"] == [0] * 10
    assert rows[DISTRICT][:5] == list(service.figures(report.period).values())


def test_sv008_the_simulated_station_chiefs_answer_what_has_waited_oldest_first(
    service: SupervisionService, lead_service: LeadService, time_machine: TimeMachineFixture,
) -> None:
    high_lead(lead_service, PS01_GRID, "sv008-a")
    time_machine.move_to(T0 + timedelta(hours=2))
    [first] = service.scan()
    high_lead(lead_service, PS02_GRID, "sv008-b")
    time_machine.move_to(T0 + timedelta(hours=4))
    [second] = service.scan()
    chiefs = Chiefs(service)
    time_machine.shift(Chiefs.READ_AFTER - timedelta(seconds=1))
    answered = chiefs.answer_next()  # the first has waited long enough, the second not yet
    assert answered is not None and answered["escalation_id"] == first["escalation_id"]
    assert answered["responded_by"] == "sim-chief-PS-01" and answered["response"] in Chiefs.RESPONSES
    assert chiefs.answer_next() is None
    time_machine.shift(timedelta(seconds=1))
    assert chiefs.answer_next()["escalation_id"] == second["escalation_id"]  # type: ignore[index]
    assert service.counts() == {"station": 0, "district": 0}
