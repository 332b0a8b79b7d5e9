"""The Monday summary: last week's lead disposal by level and station against the 100% high-risk target, the
change in calls per station and grid, the units below target; made once on Monday morning by one process,
kept and pushed (a station sees only its own line); the same figures as a report (page, PDF, CSV)."""

from __future__ import annotations

import json
import threading
from datetime import UTC, date, datetime, timedelta

import pytest
import redis
from sqlalchemy import Engine, insert, select
from time_machine import TimeMachineFixture

import clock
from auth.lens import lens_for
from auth.roles import Role, Viewer
from bus import keys
from bus.events import Live
from bus.outbox import OutboxRelay
from clock import Period
from geo.index import GridIndex
from reports.build import Kind, ReportBuilder, keys_between, latest_key, period_for
from risk.leads import LeadService
from risk.rules import Finding
from settings import Settings
from simulation.station_chiefs import Chiefs
from store.db import audit_log, incidents, summaries
from supervision.notices import NoticeService
from supervision.service import SupervisionService, rules_from
from supervision.weekly import SummaryService, reason_text
from testkit.entries import SEAT

MONDAY = date(2026, 12, 7)
T0 = datetime(2026, 12, 7, 0, 0, tzinfo=UTC)  # Monday 08:00 in Beijing: the summary is due
pytestmark = pytest.mark.time_machine(T0, tick=False)
WEDNESDAY = clock.at(date(2026, 12, 2), 10)  # in the week summarised (Monday 30 November to Sunday 6 December)
PS01, PS02 = "SC-001", "SC-088"


@pytest.fixture
def service(engine: Engine, grids: GridIndex, r: redis.Redis) -> SummaryService:
    def station_of(grid: str | None) -> str | None:
        found = grids.get(grid) if grid else None
        return found.station if found else None

    return SummaryService(engine, station_of, [code for code, _ in grids.stations("en")],
                          relay=OutboxRelay(engine, r).relay)


def calls(engine: Engine, grid: str, count: int, at: datetime, prefix: str) -> None:
    with engine.begin() as conn:
        conn.execute(insert(incidents), [{
            "event_id": f"{prefix}-{i}", "stream_id": "1-0", "reported_at": at + timedelta(minutes=i),
            "ingested_at": at + timedelta(minutes=i), "lon": SEAT[0], "lat": SEAT[1], "grid": grid,
            "category": "noise", "priority": 3, "address": "开发路12号", "description": "噪音", "source": "110",
            "status": "closed", "history": True} for i in range(count)])


def a_week(engine: Engine, lead_service: LeadService, time_machine: TimeMachineFixture) -> None:
    """PS-01: four high leads (three handled, two in time), one medium handled; calls 12 against 5.
    PS-02: two high leads handled in time; calls 6 against 5."""
    time_machine.move_to(WEDNESDAY)
    ps01 = lead_service.create([Finding("dispute_cluster", PS01, "high", f"h1-{i}", (), {"days": 7, "count": 4})
                                for i in range(4)])
    medium = lead_service.create([Finding("dispute_cluster", PS01, "medium", "m1", (), {"days": 7, "count": 3})])
    ps02 = lead_service.create([Finding("dispute_cluster", PS02, "high", f"h2-{i}", (), {"days": 7, "count": 4})
                                for i in range(2)])
    time_machine.move_to(WEDNESDAY + timedelta(minutes=30))
    for lead in [*ps01[:2], *ps02, *medium]:
        lead_service.handle(lead["lead_id"], "officer", "已处置", useful=True)
    time_machine.move_to(WEDNESDAY + timedelta(hours=3))
    lead_service.handle(ps01[2]["lead_id"], "officer", "已处置", useful=True)  # late
    calls(engine, PS01, 12, WEDNESDAY, "this-1")
    calls(engine, PS01, 5, WEDNESDAY - timedelta(days=7), "last-1")
    calls(engine, PS02, 6, WEDNESDAY, "this-2")
    calls(engine, PS02, 5, WEDNESDAY - timedelta(days=7), "last-2")
    time_machine.move_to(T0)


def test_su001_disposal_calls_and_who_is_below_target_and_the_report_says_the_same(
    service: SummaryService, lead_service: LeadService, engine: Engine, grids: GridIndex,
    time_machine: TimeMachineFixture,
) -> None:
    a_week(engine, lead_service, time_machine)
    made = service.summary(MONDAY)
    assert made["disposal"]["PS-01"]["high"] == {"created": 4, "handled": 3, "on_time": 2, "rate": 0.75, "target": 1.0}
    assert made["disposal"]["PS-01"]["medium"] == {"created": 1, "handled": 1, "on_time": 1, "rate": 1.0,
                                                   "target": None}
    assert made["disposal"]["district"]["high"]["created"] == 6
    assert made["calls"]["PS-01"] == {"this": 12, "last": 5, "change": 7 / 5}
    assert made["calls"]["PS-02"] == {"this": 6, "last": 5, "change": 1 / 5}  # up, but by one call: no trend
    assert made["grids"][0] == {"grid": PS01, "station": "PS-01", "this": 12, "last": 5, "delta": 7}
    [below] = made["below"]
    assert below["station"] == "PS-01"
    assert [reason_text(reason, "zh-CN") for reason in below["reasons"]] == [
        "高风险线索处置率 75%（3/4，目标 100%）", "警情 12 起，上周 5 起（+140%）"]

    report = ReportBuilder(engine, grids).build(Kind.SUMMARY, MONDAY.isoformat())
    assert report.period == Period.week(date(2026, 12, 6))
    assert report.tables["below_target"].rows == [
        ["PS-01", "高风险线索处置率 75%（3/4，目标 100%）；警情 12 起，上周 5 起（+140%）"]]
    disposal = {row[0]: row[1:] for row in report.tables["lead_disposal"].rows}
    assert disposal["PS-01"] == [4, 3, 0.75, 2, 1, 1, 1.0] and disposal["PS-02"] == [2, 2, 1.0, 2, 0, 0, None]
    changes = {row[0]: row[1:] for row in report.tables["calls"].rows}
    assert changes["district"] == [18, 10, 0.8]
    assert report.tables["calls_grids"].rows[0] == [PS01, "PS-01", 12, 5, 7]


def test_su002_made_once_kept_and_pushed_and_a_station_sees_only_its_own_line(
    service: SummaryService, lead_service: LeadService, engine: Engine, grids: GridIndex, r: redis.Redis,
    time_machine: TimeMachineFixture,
) -> None:
    a_week(engine, lead_service, time_machine)
    first = service.announce(MONDAY)
    calls(engine, PS02, 30, WEDNESDAY, "after")  # a late hand-over: the kept summary does not change
    again = service.announce(MONDAY)
    assert again == first and [b["station"] for b in first["below"]] == ["PS-01"]
    assert service.latest() == first
    with engine.connect() as conn:
        assert len(conn.execute(select(summaries)).all()) == 1
        assert conn.execute(select(audit_log.c.detail).where(audit_log.c.action == "supervision.summary"))\
            .scalars().all() == ["below target: PS-01"]
    [pushed] = [json.loads(f["data"]) for _, f in r.xrange(keys.LIVE) if f["type"] == Live.SUMMARY]
    assert pushed == first

    def station_of(code: str) -> str | None:
        found = grids.get(code)
        return found.station if found else None

    for station, lines in (("PS-01", ["PS-01"]), ("PS-02", [])):
        viewer = Viewer("chief", Role.STATION_CHIEF, "s", station=station)
        lens = lens_for(viewer, station_of)
        assert lens is not None
        seen = lens(Live.SUMMARY, pushed)
        assert seen is not None and [b["station"] for b in seen["below"]] == lines
    time_machine.move_to(T0 + timedelta(days=8))
    assert service.latest() is None  # a week on, the page no longer shows it


def test_su003_made_on_monday_at_eight_by_one_process_or_at_start_when_missed(
    service: SummaryService, r: redis.Redis, time_machine: TimeMachineFixture
) -> None:
    stop = threading.Event()
    stop.set()  # one pass each
    time_machine.move_to(T0 - timedelta(seconds=1))  # Monday 07:59:59
    service.run(stop, r, "this-process")
    assert service.latest() is None
    time_machine.move_to(T0 + timedelta(days=1))  # the machine was off on Monday: made at start on Tuesday
    r.set(keys.SUMMARY_LEASE, "another-process", ex=60)
    service.run(stop, r, "this-process")
    assert service.latest() is None  # the other process holds the lease
    r.delete(keys.SUMMARY_LEASE)
    service.run(stop, r, "this-process")
    latest = service.latest()
    assert latest is not None and latest["key"] == "2026-12-07"


@pytest.mark.parametrize("monday, first_day, last_day", [
    (date(2026, 12, 7), date(2026, 11, 30), date(2026, 12, 6)),
    (date(2027, 1, 4), date(2026, 12, 28), date(2027, 1, 3)),  # across the year end
    (date(2028, 3, 6), date(2028, 2, 28), date(2028, 3, 5)),  # a leap February
])
def test_su004_a_summary_covers_monday_to_sunday_before_its_monday(monday: date, first_day: date,
                                                                   last_day: date) -> None:
    period = period_for(Kind.SUMMARY, monday.isoformat())
    assert (clock.today(period.start), clock.today(period.end - timedelta(seconds=1))) == (first_day, last_day)
    assert period.days == 7
    with pytest.raises(ValueError, match="Monday"):
        period_for(Kind.SUMMARY, (monday + timedelta(days=1)).isoformat())
    assert keys_between(Kind.SUMMARY, monday - timedelta(days=10), monday) == [
        (monday - timedelta(days=7)).isoformat(), monday.isoformat()]
    # On the Monday itself the newest summary is that day's; on the Sunday before, the previous one.
    assert latest_key(Kind.SUMMARY, clock.at(monday, 9)) == monday.isoformat()
    assert latest_key(Kind.SUMMARY, clock.at(monday - timedelta(days=1), 9)) == \
        (monday - timedelta(days=7)).isoformat()


def test_su005_the_simulated_chiefs_issue_notices_to_those_below_target_and_the_stations_close_them(
    service: SummaryService, lead_service: LeadService, engine: Engine, grids: GridIndex,
    time_machine: TimeMachineFixture,
) -> None:
    a_week(engine, lead_service, time_machine)
    service.announce(MONDAY)
    notices = NoticeService(engine, dict(grids.stations("zh-CN")))
    chiefs = Chiefs(SupervisionService(engine, grids, rules_from(Settings.supervision_rules)), notices, service)
    [notice] = chiefs.issue_from_summary()
    assert (notice["station"], notice["source"]) == ("PS-01", "summary:2026-12-07")
    assert notice["standard"] == "高风险线索处置率 75%（3/4，目标 100%）；警情 12 起，上周 5 起（+140%）"
    assert chiefs.issue_from_summary() == []  # once per station and summary
    first = chiefs.report_on_a_notice()
    assert first is not None and first["closed_at"] is None  # progress first
    assert chiefs.report_on_a_notice() is None  # nothing more to say until the deadline nears
    time_machine.move_to(T0 + timedelta(days=Chiefs.NOTICE_DAYS + 1, seconds=1))
    closed = chiefs.report_on_a_notice()  # a day past its deadline it is closed, late
    assert closed is not None and closed["closed_at"] is not None
    assert [p["closes"] for p in notices.progress_of(str(notice["notice_id"]))] == [False, True]
