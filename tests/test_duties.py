"""The core task list: its configuration checked, each automatic measure on a hand-built day, the states at their
deadlines, ticking by hand (one's own only), the page per role, and the daily report's completion table."""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy import Engine, func, select
from time_machine import TimeMachineFixture

import clock
from app import PinganApp, create_app
from auth.roles import ROLE_PERMISSIONS, Permission, Role
from clock import BEIJING
from duties.config import DUTIES_FILE, ConfigError, Every, Kind, Measure, load, parse
from duties.measure import Holder, measured
from duties.service import DutyRefused, DutyService, State
from geo.index import GridIndex
from geo.roster import Post, Roster
from mediation import people
from reports.build import Kind as ReportKind
from reports.build import ReportBuilder
from reports.render import csv_bytes
from settings import DATA_DIR, Settings
from store.db import (
    alert_verifications,
    audit_log,
    duty_ticks,
    grid_tasks,
    incidents,
    leads,
    mediation_assignments,
    mediation_cases,
    sensor_events,
)
from testkit.accounts import make_user, sign_in_client
from urls import URL

DAY = date(2026, 12, 9)  # a Wednesday
NOW = datetime(2026, 12, 9, 16, 0, tzinfo=BEIJING)  # before the day's 17:00
pytestmark = pytest.mark.time_machine(NOW, tick=False)
WORKER, WORKER_GRIDS = "GW-SC-053", ("SC-053", "SC-080")  # a grid worker of two grids (station PS-01)
OFFICER = "CO-SC-005"  # a community officer of SC-005 and SC-061


def bj(day: date, hour: int, minute: int = 0, second: int = 0) -> datetime:
    return datetime(day.year, day.month, day.day, hour, minute, second, tzinfo=BEIJING).astimezone(UTC)


@pytest.fixture(scope="module")
def roster(grids: GridIndex) -> Roster:
    return Roster(grids)


@pytest.fixture
def service(engine: Engine, roster: Roster) -> DutyService:
    people.seed(engine, DATA_DIR)
    return DutyService(engine, roster, load())


def holders(roster: Roster, post: Post, *ids: str) -> list[Holder]:
    found = [roster.get(person_id) for person_id in ids]
    return [Holder(p.person_id, p.name_zh, p.station, p.grids) for p in found if p is not None and p.post == post]


# -- the configuration --------------------------------------------------------------------------------------------


def test_duty001_the_shipped_list_has_the_seeds_examples() -> None:
    config = load()
    duties = {d.duty_id: d for post in config.posts() for d in post.duties}
    records, visits = duties["grid.records"], duties["grid.households"]
    assert (records.standard.kind, records.standard.target, records.deadline.every) == (Kind.COUNT, 10, Every.DAILY)
    assert (visits.standard.target, visits.deadline.every, visits.deadline.weekday) == (2, Every.WEEKLY, 4)
    assert (duties["data.completeness"].standard.target, duties["data.completeness"].measure) == (
        0.95, Measure.DATA_COMPLETENESS)
    assert duties["data.model"].manual and duties["data.model"].deadline.every is Every.WEEKLY
    assert (duties["command.high_leads"].standard.target, duties["command.high_leads"].measure) == (
        1.0, Measure.HIGH_LEADS_DISPOSED)
    assert (duties["mediation.cases"].standard.target, duties["mediation.success"].standard.target) == (20, 0.9)
    assert duties["mediation.cases"].deadline.every is Every.MONTHLY
    # Every centre reports its completion table to the inspectors by 17:00, ticked by hand.
    reports = [d for d in duties.values() if d.duty_id.endswith(".report")]
    assert {d.centre_id for d in reports} == {c.centre_id for c in config.centres}
    assert all(d.manual and (d.deadline.hour, d.deadline.minute) == (17, 0) for d in reports)
    assert config.centres[0].title["zh-CN"] == "指挥中心"


def _shipped() -> dict[str, Any]:
    raw: dict[str, Any] = json.loads((DATA_DIR / DUTIES_FILE).read_text(encoding="utf-8"))
    return raw


def _records(raw: dict[str, Any]) -> dict[str, Any]:
    duty: dict[str, Any] = raw["centres"][1]["posts"][0]["duties"][0]
    assert duty["id"] == "grid.records"
    return duty


def _set(path: str, value: Any) -> Callable[[dict[str, Any]], None]:
    def change(raw: dict[str, Any]) -> None:
        target = _records(raw)
        *parents, last = path.split(".")
        for part in parents:
            target = target[part]
        target[last] = value
    return change


@pytest.mark.parametrize("change, message", [
    (_set("measure", "records_typed"), r"centres\[1\] \(grid\)\.posts\[0\] \(grid_worker\)\.duties\[0\] "
                                       r"\(grid\.records\): unknown measure 'records_typed'"),
    (_set("deadline.at", "17:60"), r"grid\.records\)\.deadline: at must be a time HH:MM"),
    (_set("deadline", {"weekday": "friday", "at": "17:00"}), r"a daily deadline gives at \(got at, weekday\)"),
    (_set("every", "hourly"), r"every must be daily, weekly or monthly"),
    (_set("standard.kind", "rate"), r"its measure gives a count, so kind must be 'count'"),
    (_set("standard.target", -1), r"target must be a number of at least 0"),
    (_set("standard.direction", "about"), r"direction must be at_least or at_most"),
    (_set("title", {"zh-CN": "采集"}), r"title must give zh-CN and en"),
    (_set("id", "grid.households"), r"id 'grid.households' is used twice"),
    (lambda raw: raw["centres"][1]["posts"][0].update(holders="users:grid_boss"), r"holders must be roster:"),
    (lambda raw: raw["centres"][0]["posts"][0]["duties"][0].update(measure="grid_records", standard={
        "kind": "count", "target": 1}), r"counts a grid team's grids: its post's holders must be roster"),
    (lambda raw: raw["centres"][2]["posts"][0]["duties"][0]["deadline"].update(day=31), r"day must be 1 to 28"),
    (lambda raw: raw["centres"][1]["posts"][0]["duties"][1]["deadline"].update(weekday="fri"),
     r"weekday must be one of monday"),
    (lambda raw: raw["centres"][1]["posts"][1]["duties"][0].update(measure="manual", standard=None),
     r"roster:community_officer do not sign in"),
])
def test_duty002_a_wrong_file_is_refused_naming_the_place(change: Callable[[dict[str, Any]], None],
                                                          message: str) -> None:
    raw = copy.deepcopy(_shipped())
    parse(raw)  # the shipped file itself is fine
    change(raw)
    with pytest.raises(ConfigError, match=message):
        parse(raw)


def test_duty003_an_unreadable_file_is_refused(tmp_path: Any) -> None:
    broken = tmp_path / "duties.json"
    broken.write_text("{not json", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"duties\.json: cannot be read"):
        load(broken)
    with pytest.raises(ConfigError, match="centres: must be a non-empty list"):
        parse({"centres": []})


# -- the measures, on a hand-built day ----------------------------------------------------------------------------


def _incident(n: int, grid: str, at: datetime, source: str = "grid", *, lag_min: float = 1, history: bool = False,
              caller: str | None = None) -> dict[str, Any]:
    return {"event_id": f"D-{n}", "stream_id": "1-0", "reported_at": at, "ingested_at": at + timedelta(minutes=lag_min),
            "lon": 112.4, "lat": 39.3, "grid": grid, "category": "noise", "priority": 2, "address": "A街1号",
            "description": "情况", "caller": caller, "source": source, "status": "closed", "history": history}


def _task(n: int, kind: str, grid: str, reported: datetime | None) -> dict[str, Any]:
    return {"task_id": f"T-{n}", "kind": kind, "ref": f"R-{n}", "grid": grid, "station": "PS-01", "worker": "w",
            "zone": "urban", "summary": "", "state": "reported" if reported else "assigned",
            "created_at": bj(DAY, 0) - timedelta(days=6), "created_by": "t", "reported_at": reported, "note": "",
            "photos": ""}


def _lead(name: str, grid: str, level: str, deadline: datetime, handled: datetime | None) -> dict[str, Any]:
    return {"lead_id": name, "dedupe_key": name, "rule": "repeat_location", "grid": grid, "station": "PS-01",
            "level": level, "target": "station", "recipient": "x", "created_at": deadline - timedelta(hours=1),
            "deadline": deadline, "state": "handled" if handled else "pushed", "summary": "", "suggestion": "",
            "evidence": "[]", "handled_at": handled}


def _case(case_id: str, closed: datetime | None, outcome: str | None) -> dict[str, Any]:
    return {"case_id": case_id, "source": "manual", "case_type": "neighbour", "station": "PS-01", "address": "",
            "household": "", "summary": "", "stage": "closed" if closed else "contacting", "outcome": outcome,
            "round": 1, "opened_at": bj(DAY, 9) - timedelta(days=40), "opened_by": "t",
            "handover_due": bj(DAY, 10) - timedelta(days=40), "handed_over_at": bj(DAY, 9) - timedelta(days=40),
            "triage": "{}", "reclassified": False, "remote": False, "meeting_link": "", "agreement": "",
            "signatures": "[]", "closed_at": closed}


def build_day(engine: Engine) -> None:
    """The day: what each measure counts, and what it must not."""
    yesterday = DAY - timedelta(days=1)
    with engine.begin() as conn:
        conn.execute(incidents.insert(), [
            _incident(1, "SC-053", bj(DAY, 10)),  # the worker's grid report
            _incident(2, "SC-080", bj(yesterday, 18), lag_min=10),  # their other grid, after yesterday's 17:00; late
            _incident(3, "SC-053", bj(yesterday, 16)),  # before the round began
            _incident(4, "SC-053", bj(DAY, 9), history=True),  # backfilled history: not collected today
            _incident(5, "SC-053", bj(DAY, 11), source="110"),  # a 110 call without the caller's number: incomplete
            _incident(6, "SC-021", bj(DAY, 12)),  # another worker's grid
        ])
        conn.execute(grid_tasks.insert(), [
            _task(1, "alert", "SC-053", bj(DAY, 11)),  # a result: a record, not a household
            _task(2, "lead", "SC-053", bj(DAY, 12)),  # a record and a household
            _task(3, "hazard", "SC-080", bj(DAY, 13)),  # a record and a household
            _task(4, "lead", "SC-053", bj(DAY - timedelta(days=4), 10)),  # Saturday: this week's household only
            _task(5, "lead", "SC-080", None),  # still open
            _task(6, "lead", "SC-053", bj(DAY, 16, 30)),  # after now
        ])
        conn.execute(leads.insert(), [
            _lead("L1", "SC-005", "medium", bj(yesterday, 12), bj(yesterday, 11)),  # the officer's, this week, done
            _lead("L2", "SC-061", "high", bj(DAY, 10), None),  # the officer's, due today, not done
            _lead("L3", "SC-005", "medium", bj(DAY, 18), None),  # not due yet
            _lead("L4", "SC-021", "high", bj(DAY, 9), bj(DAY, 8, 30)),  # today's, done
            _lead("L5", "SC-021", "high", bj(yesterday, 10), None),  # before today's round
        ])
        conn.execute(sensor_events.insert(), [
            {"event_id": name, "stream_id": "1-0", "device_id": "D-1", "observed_at": at, "ingested_at": at,
             "kind": "alert", "scenario": "smoke", "grid": "SC-021"}
            for name, at in (("A1", bj(DAY, 10)), ("A2", bj(DAY, 11)), ("A3", bj(DAY, 15, 59, 30)))])
        conn.execute(alert_verifications.insert(), [
            {"event_id": name, "verdict": "dispatched", "verified_at": bj(DAY, 12), "verified_by": "t",
             "seconds_to_verify": seconds, "reason": ""} for name, seconds in (("A1", 30.0), ("A2", 90.0))])
        conn.execute(mediation_cases.insert(), [
            _case("C1", bj(DAY - timedelta(days=6), 10), "success"),
            _case("C2", bj(DAY - timedelta(days=4), 10), "no_agreement"),
            _case("C3", bj(DAY - timedelta(days=19), 10), "success"),  # last month
            _case("C4", None, None),  # open
            _case("C5", bj(DAY - timedelta(days=5), 10), "withdrawn"),  # not mediated to an end
        ])
        conn.execute(mediation_assignments.insert(), [
            {"case_id": case_id, "mediator_id": mediator, "assigned_at": bj(DAY, 9) - timedelta(days=40),
             "assigned_by": "t", "matched": True}
            for case_id, mediator in (("C1", "MED-P01"), ("C2", "MED-P01"), ("C3", "MED-P01"), ("C4", "MED-P01"),
                                      ("C5", "MED-P02"))])


def test_duty004_each_measure_counts_what_it_says_on_a_hand_built_day(engine: Engine, roster: Roster) -> None:
    people.seed(engine, DATA_DIR)
    build_day(engine)
    now, today, week = clock.now(), clock.at(DAY - timedelta(days=1), 17), clock.at(DAY - timedelta(days=5), 17)
    workers = holders(roster, Post.GRID_WORKER, WORKER, "GW-SC-021", "GW-SC-088")
    mediators = [Holder(m, m, None) for m in ("MED-P01", "MED-P02", "MED-P03")]
    with engine.connect() as conn:
        def m(measure: Measure, start: datetime, who: list[Holder]) -> dict[str, float | None]:
            return measured(conn, measure, start, now, who)

        # 1 + 1 grid reports in their grids since yesterday's 17:00, and 3 task results (alert, lead, hazard).
        assert m(Measure.GRID_RECORDS, today, workers) == {WORKER: 5.0, "GW-SC-021": 1.0, "GW-SC-088": 0.0}
        # This week's (from last Friday's 17:00) lead and hazard results: Saturday's too.
        assert m(Measure.HOUSEHOLDS_VISITED, week, workers)[WORKER] == 3.0
        assert m(Measure.HOUSEHOLDS_VISITED, today, workers)[WORKER] == 2.0
        officer = holders(roster, Post.COMMUNITY_OFFICER, OFFICER)
        assert m(Measure.GRID_LEADS_DISPOSED, week, officer) == {OFFICER: 0.5}  # L1 of L1 and L2
        everyone = workers[:1]
        assert m(Measure.HIGH_LEADS_DISPOSED, today, everyone) == {WORKER: 0.5}  # L4 of L2 and L4
        assert m(Measure.ALERTS_VERIFIED, today, everyone) == {WORKER: 0.5}  # A1 of A1 and A2 (A3's minute runs)
        assert m(Measure.DATA_COMPLETENESS, today, everyone) == {WORKER: 0.8}  # 4 of 5: the 110 call has no number
        # 5 live incidents and 3 alerts kept since 17:00 yesterday: the grid report kept 10 minutes late is over.
        assert m(Measure.DATA_TIMELINESS, today, everyone)[WORKER] == pytest.approx(6 / 7)
        month = clock.at(date(2026, 11, 30), 17)
        assert m(Measure.CASES_MEDIATED, month, mediators) == {"MED-P01": 2.0, "MED-P02": 0.0, "MED-P03": 0.0}
        assert m(Measure.MEDIATION_SUCCESS, month, mediators) == {"MED-P01": 0.5, "MED-P02": None, "MED-P03": None}


def test_duty005_the_table_reads_the_day_with_a_few_queries_for_everyone(
    engine: Engine, service: DutyService
) -> None:
    build_day(engine)
    rows = service.table(DAY)
    grid_workers = {r.person.person_id for r in rows if r.post.post_id == "grid_worker"}
    assert len(grid_workers) == 853  # every grid worker of the roster
    mine = {r.duty.duty_id: r for r in rows if r.person.person_id == WORKER}
    assert (mine["grid.records"].value, mine["grid.records"].state) == (5.0, State.IN_PROGRESS)
    assert (mine["grid.households"].value, mine["grid.households"].state) == (3.0, State.MET)
    assert (mine["grid.patrol"].value, mine["grid.patrol"].state) == (0.0, State.IN_PROGRESS)
    assert mine["grid.records"].period.key == "2026-12-09" and mine["grid.households"].period.key == "2026-W50"
    mediator = {r.duty.duty_id: r for r in rows if r.person.person_id == "MED-P01"}
    assert (mediator["mediation.cases"].value, mediator["mediation.cases"].state) == (2.0, State.DUE_LATER)
    assert mediator["mediation.success"].state is State.DUE_LATER  # 50% so far, the month's end is ahead
    # The data officer is named in the file and has no account yet: their rows are there all the same.
    data = {r.duty.duty_id: r for r in rows if r.post.post_id == "data_officer"}
    assert data["data.completeness"].person.person_id == "data-officer"
    assert data["data.completeness"].state is State.IN_PROGRESS  # 80% < 95%


# -- deadlines ------------------------------------------------------------------------------------------------------


def _state(service: DutyService, day: date, duty_id: str, person: str = WORKER) -> State:
    [row] = [r for r in service.table(day, people={person}) if r.duty.duty_id == duty_id]
    return row.state


def test_duty006_a_daily_duty_is_in_progress_at_1659_and_missed_at_1700(
    service: DutyService, time_machine: TimeMachineFixture
) -> None:
    time_machine.move_to(clock.at(DAY, 16, 59) + timedelta(seconds=59))
    assert _state(service, DAY, "grid.records") is State.IN_PROGRESS
    [row] = [r for r in service.table(DAY, people={WORKER}) if r.duty.duty_id == "grid.records"]
    assert row.clock == "amber"  # the last fifth of its 24 hours
    time_machine.move_to(clock.at(DAY, 17))
    assert _state(service, DAY, "grid.records") is State.MISSED
    assert _state(service, DAY, "grid.patrol") is State.MISSED
    # Tomorrow's round began at 17:00 and runs; the day after's has not begun.
    assert _state(service, DAY + timedelta(days=1), "grid.records") is State.IN_PROGRESS
    assert _state(service, DAY + timedelta(days=2), "grid.records") is State.DUE_LATER
    # Ten records before 17:00 meet it, at once.
    time_machine.move_to(clock.at(DAY, 12))
    with service.engine.begin() as conn:
        conn.execute(incidents.insert(), [_incident(100 + n, "SC-080", bj(DAY, 9, n)) for n in range(10)])
    assert _state(service, DAY, "grid.records") is State.MET
    time_machine.move_to(clock.at(DAY, 17))
    assert _state(service, DAY, "grid.records") is State.MET


def test_duty007_a_weekly_duty_is_due_on_friday_at_1700(service: DutyService, time_machine: TimeMachineFixture) -> None:
    friday = DAY + timedelta(days=2)
    assert _state(service, DAY, "grid.households") is State.DUE_LATER  # Wednesday: Friday is ahead
    time_machine.move_to(clock.at(friday, 16, 59))
    assert _state(service, friday, "grid.households") is State.IN_PROGRESS
    time_machine.move_to(clock.at(friday, 17))
    assert _state(service, friday, "grid.households") is State.MISSED
    assert _state(service, friday + timedelta(days=1), "grid.households") is State.MISSED  # Saturday: this week's


def test_duty008_a_monthly_duty_is_due_on_the_last_day_at_1700(
    service: DutyService, time_machine: TimeMachineFixture
) -> None:
    last = date(2026, 12, 31)
    time_machine.move_to(clock.at(last - timedelta(days=1), 12))
    assert _state(service, last - timedelta(days=1), "mediation.cases", "MED-P01") is State.DUE_LATER
    time_machine.move_to(clock.at(last, 16, 59))
    assert _state(service, last, "mediation.cases", "MED-P01") is State.IN_PROGRESS
    # A success rate with nothing mediated fell short of nothing.
    assert _state(service, last, "mediation.success", "MED-P01") is State.MET
    time_machine.move_to(clock.at(last, 17))
    assert _state(service, last, "mediation.cases", "MED-P01") is State.MISSED
    # February's last day is the 28th in 2027.
    [row] = [r for r in service.table(date(2027, 2, 10), people={"MED-P01"}) if r.duty.duty_id == "mediation.cases"]
    assert (row.period.key, clock.local(row.period.due).date()) == ("2027-02", date(2027, 2, 28))
    assert clock.local(row.period.start).date() == date(2027, 1, 31)


# -- ticking by hand --------------------------------------------------------------------------------------------------


def test_duty009_a_manual_duty_is_ticked_once_audited_and_late_ticks_stay_missed(
    engine: Engine, service: DutyService, time_machine: TimeMachineFixture
) -> None:
    first = service.tick("grid.patrol", WORKER, DAY, "chen", " 走完了 ")
    again = service.tick("grid.patrol", WORKER, DAY, "chen", "再报一次")
    assert (first["new"], again["new"], again["note"], again["ticked_by"]) == (True, False, "走完了", "chen")
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(duty_ticks)).scalar_one() == 1
        trail = conn.execute(select(audit_log.c.action, audit_log.c.target, audit_log.c.detail)
                             .where(audit_log.c.actor == "chen").order_by(audit_log.c.seq)).all()
    assert [tuple(t) for t in trail] == [("duty.tick", f"grid.patrol/{WORKER}/2026-12-09", "走完了"),
                                         ("duty.tick", f"grid.patrol/{WORKER}/2026-12-09", "repeat: already ticked")]
    assert _state(service, DAY, "grid.patrol") is State.MET
    for duty, person, day, reason in (("grid.records", WORKER, DAY, "measured"), ("no.such", WORKER, DAY, "unknown"),
                                      ("grid.patrol", "GW-NOPE", DAY, "not_holder"),
                                      ("grid.patrol", WORKER, DAY + timedelta(days=2), "not_begun")):
        with pytest.raises(DutyRefused) as refused:
            service.tick(duty, person, day, "chen")
        assert refused.value.reason == reason
    # Tomorrow's round, ticked after its deadline: kept and shown, still missed.
    time_machine.move_to(clock.at(DAY + timedelta(days=1), 17, 5))
    service.tick("grid.patrol", WORKER, DAY + timedelta(days=1), "chen")
    [row] = [r for r in service.table(DAY + timedelta(days=1), people={WORKER}) if r.duty.duty_id == "grid.patrol"]
    assert (row.state, row.value, row.tick is not None) == (State.MISSED, 0.0, True)


# -- the page --------------------------------------------------------------------------------------------------------


@pytest.fixture
def app(settings: Settings) -> PinganApp:
    return create_app(settings)


def signed_in(app: PinganApp, role: Role, **account: Any) -> tuple[FlaskClient, dict[str, str], str]:
    client = app.server.test_client()
    username = make_user(app, role, **account)
    return client, sign_in_client(client, username), username


def refusals(app: PinganApp, actor: str) -> list[tuple[str, str]]:
    with app.engine.connect() as conn:
        return [(r.action, r.detail) for r in conn.execute(
            select(audit_log.c.action, audit_log.c.detail).where(
                audit_log.c.actor == actor, audit_log.c.outcome == "refused").order_by(audit_log.c.seq))]


def ticks(app: PinganApp) -> list[tuple[str, str, str]]:
    with app.engine.connect() as conn:
        return [tuple(r) for r in conn.execute(select(duty_ticks.c.duty_id, duty_ticks.c.person_id,
                                                      duty_ticks.c.ticked_by))]


def test_duty010_the_chief_reads_every_centre_and_a_stations_rows(app: PinganApp) -> None:
    client, _, _ = signed_in(app, Role.CHIEF)
    page = client.get(URL.DUTIES).get_data(as_text=True)
    assert "核心任务清单" in page and 'id="duties-summary"' in page and 'id="duties-choose"' in page
    assert re.search(r'data-post="grid/grid_worker">.*?data-figure="persons">853<', page, re.S)
    assert 'data-post="command/duty_officer"' not in page  # no duty officer has an account yet
    rows = client.get(URL.DUTIES + "?station=PS-02&centre=grid").get_data(as_text=True)
    assert 'data-person="GW-SC-088"' in rows and f'data-person="{WORKER}"' not in rows
    assert "每日采集信息10条" in rows and "≥ 10" in rows and "每周五 17:00" in rows
    assert 'class="clock-amber state-in_progress"' in rows  # 16:00: the daily round's last fifth
    assert 'name="person_id"' not in rows  # a chief ticks nobody's duty
    assert client.get(URL.DUTIES + "?day=2026-13-01").status_code == 200  # a wrong date: today's table


def test_duty011_a_grid_worker_sees_and_ticks_only_their_own_rows(app: PinganApp) -> None:
    client, headers, username = signed_in(app, Role.GRID_WORKER, grids=WORKER_GRIDS)
    page = client.get(URL.DUTIES).get_data(as_text=True)
    assert set(re.findall(r'data-person="([^"]+)"', page)) == {WORKER}
    assert f'<input type="hidden" name="person_id" value="{WORKER}">' in page  # their manual duty's form
    done = client.post(URL.DUTY_TICK, data={"duty_id": "grid.patrol", "person_id": WORKER, "day": DAY.isoformat(),
                                            "note": "已巡查"}, headers=headers)
    assert done.status_code == 303 and done.headers["Location"].endswith(f"#grid.patrol-{WORKER}")
    assert ticks(app) == [("grid.patrol", WORKER, username)]
    again = client.post(URL.DUTY_TICK, data={"duty_id": "grid.patrol", "person_id": WORKER, "day": DAY.isoformat()},
                        headers=headers)
    assert again.status_code == 303 and len(ticks(app)) == 1
    shown = client.get(URL.DUTIES).get_data(as_text=True)
    assert re.search(rf'id="grid\.patrol-{WORKER}"[^>]*data-state="met"', shown)
    # Another worker's duty is not theirs: refused and audited, nothing kept.
    other = client.post(URL.DUTY_TICK, data={"duty_id": "grid.patrol", "person_id": "GW-SC-088",
                                             "day": DAY.isoformat()}, headers=headers)
    assert other.status_code == 403 and len(ticks(app)) == 1
    assert refusals(app, username)[-1] == ("duty.tick", "not their own")
    measured_duty = client.post(URL.DUTY_TICK, data={"duty_id": "grid.records", "person_id": WORKER,
                                                     "day": DAY.isoformat()}, headers=headers)
    assert measured_duty.status_code == 400 and "由系统自动统计" in measured_duty.get_data(as_text=True)


def test_duty012_a_station_chief_reads_their_station_and_a_mediator_their_own(app: PinganApp) -> None:
    client, headers, chief = signed_in(app, Role.STATION_CHIEF, station="PS-02")
    page = client.get(URL.DUTIES + "?centre=grid").get_data(as_text=True)
    persons = set(re.findall(r'data-person="([^"]+)"', page))
    assert "GW-SC-088" in persons and chief in persons and WORKER not in persons
    assert client.post(URL.DUTY_TICK, data={"duty_id": "grid.report", "person_id": chief, "day": DAY.isoformat()},
                       headers=headers).status_code == 303
    mediator, mediator_headers, _ = signed_in(app, Role.MEDIATOR, username="mediator1")  # MED-P01 in the registry
    mine = mediator.get(URL.DUTIES).get_data(as_text=True)
    assert set(re.findall(r'data-person="([^"]+)"', mine)) == {"MED-P01"}
    assert mediator.post(URL.DUTY_TICK, data={"duty_id": "grid.report", "person_id": chief, "day": DAY.isoformat()},
                         headers=mediator_headers).status_code == 403


def test_duty013_a_community_officer_reads_their_own_row(app: PinganApp) -> None:
    client, headers, _ = signed_in(app, Role.STATION_OFFICER, station="PS-01", grids=("SC-001",))
    page = client.get(URL.DUTIES).get_data(as_text=True)
    assert set(re.findall(r'data-person="([^"]+)"', page)) == {"CO-SC-001"}  # the community officer of SC-001
    assert 'data-duty="grid.leads"' in page and 'name="person_id"' not in page  # measured: nothing to tick
    assert client.post(URL.DUTY_TICK, data={"duty_id": "grid.patrol", "person_id": WORKER, "day": DAY.isoformat()},
                       headers=headers).status_code == 403  # their grid's worker's duty is not theirs


@pytest.mark.parametrize("role", [r for r in Role if Permission.TICK_DUTIES not in ROLE_PERMISSIONS[r]])
def test_duty014_forged_ticks_are_refused_and_audited_for_every_role_without_the_right(
    app: PinganApp, role: Role
) -> None:
    client, headers, username = signed_in(app, role)
    assert (client.get(URL.DUTIES).status_code == 200) is (Permission.VIEW_DUTIES in ROLE_PERMISSIONS[role])
    response = client.post(URL.DUTY_TICK, data={"duty_id": "grid.patrol", "person_id": "GW-SC-021",
                                                "day": DAY.isoformat()}, headers=headers)
    assert response.status_code == 403 and ticks(app) == []
    assert refusals(app, username)[-1] == ("duty.tick", "needs tick_duties")


def test_duty015_without_the_csrf_token_nothing_is_ticked(app: PinganApp) -> None:
    client, _, _ = signed_in(app, Role.GRID_WORKER)
    response = client.post(URL.DUTY_TICK, data={"duty_id": "grid.patrol", "person_id": "GW-SC-021",
                                                "day": DAY.isoformat()})
    assert response.status_code == 403 and ticks(app) == []


# -- the daily report ---------------------------------------------------------------------------------------------


def test_duty016_the_daily_report_carries_the_completion_table_as_of_1700(
    engine: Engine, grids: GridIndex, service: DutyService, time_machine: TimeMachineFixture
) -> None:
    build_day(engine)
    service.tick("data.report", "data-officer", DAY, "data-officer")  # at 16:00, in time
    time_machine.move_to(clock.at(DAY + timedelta(days=1), 9))
    report = ReportBuilder(engine, grids).build(ReportKind.DAILY, DAY.isoformat())
    table = report.tables["duties"]
    lines = {(row[0], row[1]): row for row in table.rows}
    # As of the 9th's 17:00: the worker's 5 records fell short, their household visits are met, the week runs on.
    workers = lines[("网格化服务管理中心", "专职网格员")]
    assert workers[2:6] == [853, 1, 853 * 2, 852]  # records and patrol missed by everyone; one week's visits met
    assert workers[6].endswith(" 等 843 人") and workers[6].count("、") == 9  # ten names, then how many more
    data = lines[("数据研判中心", "数据专员")]
    # Completeness 80% missed; timeliness 6/7 missed; the model is due Friday; the report ticked.
    assert data[2:6] == [1, 1, 2, 1]
    assert csv_bytes(table, report).decode("utf-8-sig").startswith("中心,岗位,人数,已完成,逾期未完成,进行中/未到期")
