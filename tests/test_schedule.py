"""Reports that arrive on time: made at 17:00, on Fridays and by the 5th, kept once, announced live and on
``{cc}:out:reports``, listed with their delivery time; after downtime, caught up on start and marked late. All under a
controlled clock: the 17:00 cut, a Friday, a month's 5th, a restart across each."""

from __future__ import annotations

import json
from datetime import date, datetime, timedelta

import pytest
import redis
from sqlalchemy import Engine, select
from time_machine import TimeMachineFixture

import clock
from app import PinganApp, create_app
from bus import keys
from bus.outbox import OutboxRelay
from geo.index import GridIndex
from reports.build import Kind, ReportBuilder
from reports.schedule import ReportSchedule, due_by, due_keys, scheduled_at
from services import printed_or_none
from settings import Settings
from store.db import as_utc, audit_log, report_deliveries
from testkit.accounts import make_user, sign_in_client


def bj(day: date, hour: int, minute: int = 0, second: int = 0) -> datetime:
    return clock.at(day, hour, minute) + timedelta(seconds=second)


TUESDAY = date(2026, 11, 24)
FRIDAY = date(2026, 11, 27)
# Every date here is a constructed one: each test runs at a moment it sets (a Tuesday afternoon unless it moves).
pytestmark = pytest.mark.time_machine("2026-11-24T16:00:00+08:00", tick=False)


@pytest.mark.unit
def test_sched001_what_is_due_at_the_boundaries() -> None:
    assert due_keys(Kind.DAILY, bj(TUESDAY, 16, 59, 59), None) == ["2026-11-23"]  # today's is not due before 17:00
    assert due_keys(Kind.DAILY, bj(TUESDAY, 17), None) == ["2026-11-24"]
    assert due_keys(Kind.WEEKLY, bj(FRIDAY, 8, 59), None) == ["2026-11-20"]
    assert due_keys(Kind.WEEKLY, bj(FRIDAY, 9), None) == ["2026-11-27"]
    assert due_keys(Kind.MONTHLY, bj(date(2026, 12, 1), 8, 59), None) == ["2026-10"]
    assert due_keys(Kind.MONTHLY, bj(date(2026, 12, 1), 9), None) == ["2026-11"]
    # From the last delivery: everything after it, oldest first, nothing twice.
    since = scheduled_at(Kind.DAILY, "2026-11-21")
    assert due_keys(Kind.DAILY, bj(TUESDAY, 17, 5), since) == ["2026-11-22", "2026-11-23", "2026-11-24"]
    assert due_keys(Kind.DAILY, bj(TUESDAY, 17, 5), scheduled_at(Kind.DAILY, "2026-11-24")) == []
    # Across a year end, the monthly report of December is made on 1 January and due before the 5th.
    assert scheduled_at(Kind.MONTHLY, "2026-12") == bj(date(2027, 1, 1), 9)
    assert due_by(Kind.MONTHLY, "2026-12") == bj(date(2027, 1, 5), 0)
    assert due_by(Kind.DAILY, "2026-11-24") == bj(TUESDAY, 17, 30)
    assert due_by(Kind.WEEKLY, "2026-11-27") == bj(date(2026, 11, 28), 0)


@pytest.fixture
def schedule(engine: Engine, r: redis.Redis, grids: GridIndex) -> ReportSchedule:
    return ReportSchedule(engine, ReportBuilder(engine, grids), relay=OutboxRelay(engine, r).relay)


def delivered(engine: Engine) -> list[tuple[str, str, bool]]:
    with engine.connect() as conn:
        rows = conn.execute(select(report_deliveries.c.kind, report_deliveries.c.key, report_deliveries.c.made_at,
                                   report_deliveries.c.due_by).order_by(report_deliveries.c.made_at,
                                                                         report_deliveries.c.key)).all()
    return [(kind, key, as_utc(made) > as_utc(due)) for kind, key, made, due in rows]


def test_sched002_the_daily_report_at_17_00_kept_once_and_announced(
    schedule: ReportSchedule, engine: Engine, r: redis.Redis, time_machine: TimeMachineFixture
) -> None:
    time_machine.move_to(bj(TUESDAY, 16, 59), tick=False)
    schedule.catch_up()  # a new installation: the latest report due (yesterday's daily), nothing older
    assert {(k, key) for k, key, _ in delivered(engine)} == {("daily", "2026-11-23"), ("weekly", "2026-11-20"),
                                                             ("monthly", "2026-10")}
    assert schedule.next_time() == bj(TUESDAY, 17)
    time_machine.move_to(bj(TUESDAY, 17, 0, 20), tick=False)
    [made] = schedule.catch_up()
    assert (made["kind"], made["key"], made["late"]) == ("daily", "2026-11-24", False)
    assert schedule.catch_up() == []  # kept once
    assert schedule.deliver(Kind.DAILY, "2026-11-24")["made_at"] == made["made_at"]
    # Announced: to the pages live, and to other systems on {cc}:out:reports.
    live = [json.loads(f["data"]) for _, f in r.xrange(keys.LIVE) if f["type"] == "report"]
    assert [(d["kind"], d["key"]) for d in live][-1] == ("daily", "2026-11-24")
    outbound = [f for _, f in r.xrange(keys.OUT_REPORTS)]
    assert outbound[-1]["key"] == "2026-11-24" and outbound[-1]["late"] == "false"
    assert json.loads(outbound[-1]["figures"])["incidents"] == 0
    assert schedule.next_time() == bj(date(2026, 11, 25), 17)
    with engine.connect() as conn:
        assert conn.execute(select(audit_log.c.detail).where(audit_log.c.target == "daily/2026-11-24")).scalar_one() \
            == "late=False pdf=False"


def test_sched003_a_restart_across_17_00_and_friday_catches_up_marked_late(
    schedule: ReportSchedule, engine: Engine, time_machine: TimeMachineFixture
) -> None:
    time_machine.move_to(bj(TUESDAY, 17, 1), tick=False)
    schedule.catch_up()
    before = len(delivered(engine))
    # Down from Tuesday evening until Friday 17:45: Wednesday's and Thursday's dailies, Friday's weekly and daily.
    time_machine.move_to(bj(FRIDAY, 17, 45), tick=False)
    made = schedule.catch_up()
    assert [(d["kind"], d["key"], d["late"]) for d in made] == [
        ("daily", "2026-11-25", True), ("daily", "2026-11-26", True), ("daily", "2026-11-27", True),
        ("weekly", "2026-11-27", False)]  # Friday's weekly is due by the day's end: not late yet
    assert len(delivered(engine)) == before + 4
    listed = schedule.deliveries()
    assert listed[0]["made_at"] == bj(FRIDAY, 17, 45).isoformat() and listed[0]["pdf"] is False


def test_sched004_a_restart_across_the_month_s_5th(
    schedule: ReportSchedule, engine: Engine, time_machine: TimeMachineFixture
) -> None:
    time_machine.move_to(bj(date(2026, 11, 30), 17, 5), tick=False)
    schedule.catch_up()
    assert ("monthly", "2026-10", True) in delivered(engine)  # a new installation on the 30th: October's was due
    time_machine.move_to(bj(date(2026, 12, 6), 10), tick=False)  # down from 30 November to the 6th
    made = {(d["kind"], d["key"]): d["late"] for d in schedule.catch_up()}
    assert made[("monthly", "2026-11")] is True  # due before the 5th: late
    assert made[("weekly", "2026-12-04")] is True
    assert [key for kind, key in made if kind == "daily"] == [f"2026-12-0{n}" for n in range(1, 6)]
    assert all(late for (kind, _), late in made.items() if kind == "daily")
    assert schedule.next_time() == bj(date(2026, 12, 6), 17)


def test_sched005_the_delivered_pdf_and_the_list_for_chiefs_only(
    settings: Settings, time_machine: TimeMachineFixture
) -> None:
    time_machine.move_to(bj(TUESDAY, 17, 0, 30), tick=False)
    app: PinganApp = create_app(settings)
    try:
        schedule = ReportSchedule(app.engine, ReportBuilder(app.engine, app.grids), print_pdf=printed_or_none)
        made = schedule.deliver(Kind.DAILY, "2026-11-24")
        assert made["pdf"] is True and not made["late"]
        chief = app.server.test_client()
        sign_in_client(chief, make_user(app, "chief"))
        listing = chief.get("/reports").get_data(as_text=True)
        assert 'data-kind="daily" data-key="2026-11-24"' in listing and "按时" in listing
        document = chief.get("/reports/daily/2026-11-24/delivered.pdf")
        assert document.status_code == 200 and document.data.startswith(b"%PDF")
        assert document.data == schedule.pdf(Kind.DAILY, "2026-11-24")  # exactly as delivered
        assert chief.get("/reports/daily/2026-11-23/delivered.pdf").status_code == 404  # never delivered
        officer = app.server.test_client()
        sign_in_client(officer, make_user(app, "duty_officer"))
        assert officer.get("/reports/daily/2026-11-24/delivered.pdf").status_code == 403
    finally:
        app.stop()


def month_figures(arrival: float | None, verification: float, timeliness: float, success: float | None,
                  incidents: int, breaches: int) -> dict[str, object]:
    return {"arrival": {"on_time": arrival}, "result": {"on_time": 1.0}, "leads": {"disposal_rate": None},
            "verification": {"rate": verification}, "completeness": {"rate": 0.96},
            "timeliness": {"rate": timeliness}, "mediation": {"success_rate": success},
            "incidents": {"count": incidents}, "instructions": {"breaches": breaches}}


@pytest.mark.unit
def test_sched006_the_monthly_highlights_and_shortfalls_come_from_the_figures() -> None:
    from reports.findings import findings

    month = month_figures(0.92, 1.0, 0.97, 0.85, incidents=90, breaches=3)
    before = month_figures(0.80, 0.93, 0.99, 0.95, incidents=110, breaches=5)
    good, bad = findings(month, before, "zh-CN")
    assert [f.why for f in good] == [
        "按时到场率较上月提高 12.0 个百分点",
        "按时反馈率达到目标（100%）",
        "告警1分钟核实率达到目标（100%）",
        "告警1分钟核实率较上月提高 7.0 个百分点",
        "警情数据完整率达到目标（96%）",
        "警情 90 起，上月 110 起（-18%）",
    ]
    # No high-risk lead this month: nothing said of their disposal; timeliness 99% -> 97% is no move worth a line.
    assert [f.why for f in bad] == [
        "按时到场率未达目标：92%，目标 100%",
        "数据及时率未达目标：97%，目标 100%",
        "调解成功率未达目标：85%，目标 90%",
        "调解成功率较上月下降 10.0 个百分点",
        "3 条指令超出处置时限",
    ]
    assert (bad[0].value, bad[0].target, bad[0].last_month) == ("92%", "100%", "80%")


def test_sched007_the_monthly_report_carries_its_findings(engine: Engine, grids: GridIndex,
                                                          time_machine: TimeMachineFixture) -> None:
    from reports.render import standalone_html
    from tests.indicator_data import insert_day

    codes = [str(c) for c in grids.codes]
    insert_day(engine, codes[0], codes[400])  # 24 November: breaches, a late alert, an incomplete record
    time_machine.move_to(bj(date(2026, 12, 1), 9), tick=False)
    report = ReportBuilder(engine, grids).build(Kind.MONTHLY, "2026-11", "zh-CN")
    shortfalls = [row[0] for row in report.tables["shortfalls"].rows]
    breaches = report.district["instructions"]["breaches"]
    assert breaches and f"{breaches} 条指令超出处置时限" in shortfalls
    assert "警情数据完整率未达目标" in " ".join(shortfalls)
    printed = standalone_html(report)
    assert "亮点（对照目标与上月）" in printed and "不足（对照目标与上月）" in printed
