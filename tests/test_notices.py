"""Rectification notices: issued with measures and a deadline of at most seven days, reported on and closed by the
station, escalated like any late item when overdue, reviewed by quarter by outcome; the figures per station."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
import redis
from sqlalchemy import Engine, select
from time_machine import TimeMachineFixture

import clock
from auth.lens import lens_for
from auth.roles import Role, Viewer
from bus.events import Live
from bus.outbox import OutboxRelay
from clock import Period
from geo.index import GridIndex
from indicators.compute import DISTRICT, compute, load
from reports.build import Kind, ReportBuilder
from settings import Settings
from store.db import audit_log
from supervision.notices import NoticeRefused, NoticeService, Outcome, quarter_period
from supervision.service import SupervisionService, escalation_payload, rules_from

T0 = datetime(2026, 12, 7, 1, 0, tzinfo=UTC)  # Monday 09:00 in Beijing
pytestmark = pytest.mark.time_machine(T0, tick=False)
STATIONS = {"PS-01": "城东派出所", "PS-02": "城西派出所"}


@pytest.fixture
def service(engine: Engine) -> NoticeService:
    return NoticeService(engine, STATIONS)


def issue(service: NoticeService, station: str = "PS-01", days: float = 7) -> dict[str, object]:
    return service.issue(station, "社区警务队", "高风险线索处置率 75%（目标 100%）", "逐条复核未处置线索，建立日清台账",
                         clock.now() + timedelta(days=days), "chief-li", "summary:2026-12-07")


def test_rn001_a_notice_needs_a_station_the_standard_measures_and_a_deadline_within_seven_days(
    service: NoticeService, engine: Engine
) -> None:
    now = clock.now()
    for station, standard, measures, deadline, says in (
        ("PS-99", "x", "y", now + timedelta(days=1), "请选择派出所"),
        ("PS-01", " ", "y", now + timedelta(days=1), "请填写未达标情况和整改措施"),
        ("PS-01", "x", "", now + timedelta(days=1), "请填写未达标情况和整改措施"),
        ("PS-01", "x", "y", now + timedelta(days=7, seconds=1), "7 天以内"),
        ("PS-01", "x", "y", now, "7 天以内"),
    ):
        with pytest.raises(NoticeRefused, match=says):
            service.issue(station, "", standard, measures, deadline, "chief-li")
    notice = issue(service)
    assert str(notice["notice_id"]).startswith("RN-")
    assert [n["notice_id"] for n in service.listed()] == [notice["notice_id"]]
    with engine.connect() as conn:
        [detail] = conn.execute(select(audit_log.c.detail).where(audit_log.c.action == "notice.issue")).scalars()
    assert "station=PS-01" in detail and "source=summary:2026-12-07" in detail


def test_rn002_the_station_reports_and_closes_and_an_overdue_notice_is_escalated_like_any_late_item(
    service: NoticeService, engine: Engine, grids: GridIndex, r: redis.Redis, time_machine: TimeMachineFixture
) -> None:
    on_time, late = issue(service, days=3), issue(service, "PS-02", days=2)
    with pytest.raises(NoticeRefused, match="请填写进展情况"):
        service.report(str(on_time["notice_id"]), "chief-wang", " ", closes=False)
    service.report(str(on_time["notice_id"]), "chief-wang", "已建立台账，逐条复核中", closes=False)
    time_machine.move_to(T0 + timedelta(days=2))
    service.report(str(on_time["notice_id"]), "chief-wang", "全部线索已处置", closes=True)
    with pytest.raises(NoticeRefused, match="已办结"):
        service.report(str(on_time["notice_id"]), "chief-wang", "再报一次", closes=True)
    assert [p["closes"] for p in service.progress_of(str(on_time["notice_id"]))] == [False, True]

    supervision = SupervisionService(engine, grids, rules_from(Settings.supervision_rules),
                                     relay=OutboxRelay(engine, r).relay)
    time_machine.move_to(T0 + timedelta(days=2, seconds=1))  # the second notice is a second late
    [station_level] = supervision.scan()  # on the station chief's list at once
    assert (station_level["item_kind"], station_level["item_id"], station_level["station"], station_level["grid"]) \
        == ("notice", late["notice_id"], "PS-02", None)
    time_machine.move_to(T0 + timedelta(days=3, seconds=1))
    assert [e["level"] for e in supervision.scan()] == ["district"]  # and the district's a day later
    shown = escalation_payload(station_level)

    def station_of(code: str) -> str | None:
        found = grids.get(code)
        return found.station if found else None

    for station, sees in (("PS-02", True), ("PS-01", False)):  # no grid: its station decides who sees it
        lens = lens_for(Viewer("chief", Role.STATION_CHIEF, "s", station=station), station_of)
        assert lens is not None and (lens(Live.ESCALATION, shown) is not None) is sees
    service.report(str(late["notice_id"]), "chief-zhao", "已整改", closes=True)
    assert supervision.scan() == [] and supervision.listed()[0]["cleared_at"] is not None


def test_rn003_the_quarterly_review_lists_the_quarters_notices_by_outcome(
    service: NoticeService, time_machine: TimeMachineFixture
) -> None:
    assert quarter_period("2026-Q4") == Period(clock.at(date(2026, 10, 1)), clock.at(date(2027, 1, 1)), "quarter")
    with pytest.raises(ValueError):
        quarter_period("2026-Q5")
    time_machine.move_to(clock.at(date(2026, 12, 20), 9))
    closed_on_time, closed_late, overdue = issue(service, days=2), issue(service, days=1), issue(service, "PS-02", 1)
    time_machine.move_to(clock.at(date(2026, 12, 21), 10))
    service.report(str(closed_on_time["notice_id"]), "chief-wang", "完成", closes=True)
    service.report(str(closed_late["notice_id"]), "chief-wang", "完成", closes=True)
    time_machine.move_to(clock.at(date(2026, 12, 31), 23, 59))
    still_open = issue(service, days=5)  # the last minute of the quarter: still the fourth quarter's
    time_machine.move_to(clock.at(date(2027, 1, 1)))
    issue(service)  # the first of the next
    review = service.review("2026-Q4")
    assert review["counts"] == {"PS-01": {"on_time": 1, "late": 1, "open": 1}, "PS-02": {"overdue": 1}}
    assert [n["notice_id"] for n in review["notices"][Outcome.OPEN]] == [still_open["notice_id"]]
    assert [n["notice_id"] for n in review["notices"][Outcome.OVERDUE]] == [overdue["notice_id"]]
    assert service.review("2027-Q1")["total"] == {"open": 1}
    assert service.review("2026-Q4", "PS-02")["counts"] == {"PS-02": {"overdue": 1}}


def test_rn004_open_and_overdue_notices_per_station_are_indicators_and_in_the_reports(
    service: NoticeService, engine: Engine, grids: GridIndex, time_machine: TimeMachineFixture
) -> None:
    issue(service, days=1)
    issue(service, "PS-02", days=5)
    closed = issue(service, "PS-02", days=3)
    service.report(str(closed["notice_id"]), "chief-zhao", "完成", closes=True)
    time_machine.move_to(T0 + timedelta(days=2))  # the first is overdue now
    now = clock.now()
    week = Period.week(clock.today(now))

    def station_of(grid: str | None) -> str | None:
        found = grids.get(grid) if grid else None
        return found.station if found else None

    scopes = compute(load(engine, week, now), week, now, station_of, list(STATIONS))["scopes"]
    assert scopes[DISTRICT]["notices"] == {"issued": 3, "open": 2, "overdue": 1, "closed": 1, "closed_late": 0}
    assert scopes["PS-01"]["notices"] == {"issued": 1, "open": 1, "overdue": 1, "closed": 0, "closed_late": 0}
    assert scopes["PS-02"]["notices"] == {"issued": 2, "open": 1, "overdue": 0, "closed": 1, "closed_late": 0}
    report = ReportBuilder(engine, grids).build(Kind.DAILY, clock.today(now).isoformat())
    rows = {row[0]: row[6:] for row in report.tables["supervision"].rows}
    assert rows["PS-01"] == [0, 1, 1, 0, 0]  # issued before the report's day; open and overdue at its 17:00
