"""The one clock and its bounds, at the moments where they turn: Beijing midnight, the 17:00 daily cut,
Friday's weekly report, a month's end, a leap day, and more than a year after these tests were written.

Each test runs at a frozen moment (time-machine moves every clock of the process, the product's
included), so the figures and reports that rely on these bounds are checked at their edges on purpose.
"""

from __future__ import annotations

import threading
from datetime import UTC, date, datetime, timedelta

import pytest
import time_machine

import clock
from clock import BEIJING, Period, ScaledClock
from reports.build import Kind, latest_key, period_for


def beijing(*args: int) -> datetime:
    return datetime(*args, tzinfo=BEIJING)  # type: ignore[misc]


@pytest.mark.time_machine("2026-11-24T23:59:59+08:00", tick=False)
def test_clock001_beijing_midnight_is_the_day_boundary_not_utc_midnight() -> None:
    assert clock.today() == date(2026, 11, 24)
    assert clock.now() == beijing(2026, 11, 24, 23, 59, 59).astimezone(UTC)
    assert Period.today() == Period.day(date(2026, 11, 24))
    with time_machine.travel(beijing(2026, 11, 25, 0, 0, 0), tick=False):
        assert clock.today() == date(2026, 11, 25)
        assert Period.today().start == beijing(2026, 11, 25).astimezone(UTC)
        # 00:00 in Beijing is 16:00 UTC the day before: the UTC date would be wrong.
        assert clock.now().date() == date(2026, 11, 24)
    assert clock.local(beijing(2026, 11, 25, 7, 59)).date() == date(2026, 11, 25)


@pytest.mark.time_machine("2026-11-24T16:59:59+08:00", tick=False)
def test_clock002_the_daily_report_closes_at_17_00() -> None:
    assert clock.last_daily_cut() == date(2026, 11, 23)
    assert latest_key(Kind.DAILY, clock.now()) == "2026-11-23"
    with time_machine.travel(beijing(2026, 11, 24, 17, 0), tick=False):
        assert clock.last_daily_cut() == date(2026, 11, 24)
        report = period_for(Kind.DAILY, latest_key(Kind.DAILY, clock.now()))
        assert (report.start, report.end) == (beijing(2026, 11, 23, 17).astimezone(UTC),
                                              beijing(2026, 11, 24, 17).astimezone(UTC))
        assert report.contains(clock.now() - timedelta(seconds=1)) and not report.contains(clock.now())


@pytest.mark.time_machine("2026-11-27T00:00:00+08:00", tick=False)  # a Friday, just begun
def test_clock003_friday_files_the_weekly_report_for_the_seven_days_before() -> None:
    assert clock.today().weekday() == clock.REPORT_WEEKDAY
    assert clock.last_report_friday() == date(2026, 11, 27)
    week = period_for(Kind.WEEKLY, latest_key(Kind.WEEKLY, clock.now()))
    assert (week.start, week.end) == (beijing(2026, 11, 20).astimezone(UTC), beijing(2026, 11, 27).astimezone(UTC))
    with time_machine.travel(beijing(2026, 11, 26, 23, 59, 59), tick=False):  # Thursday night: last week's
        assert clock.last_report_friday() == date(2026, 11, 20)


@pytest.mark.time_machine("2026-12-31T23:59:59+08:00", tick=False)
def test_clock004_month_and_year_end() -> None:
    assert clock.previous_month() == (2026, 11)
    december = Period.month(2026, 12)
    assert december.contains(clock.now())
    assert december.end == beijing(2027, 1, 1).astimezone(UTC)
    assert december.comparison() == Period.month(2026, 11)
    with time_machine.travel(beijing(2027, 1, 1, 0, 0, 1), tick=False):
        assert clock.previous_month() == (2026, 12)
        assert latest_key(Kind.MONTHLY, clock.now()) == "2026-12"
        assert Period.month(2027, 1).comparison() == Period.month(2026, 12)


@pytest.mark.time_machine("2028-02-29T12:00:00+08:00", tick=False)
def test_clock005_a_leap_day() -> None:
    assert clock.today() == date(2028, 2, 29)
    february = Period.month(2028, 2)
    assert february.days == 29
    assert Period.today().comparison() == Period.day(date(2028, 2, 22))  # the same weekday a week earlier
    assert clock.next_at(4, 30) == beijing(2028, 3, 1, 4, 30).astimezone(UTC)  # the next morning run
    assert Period.week_before_report(date(2028, 3, 3)).start == beijing(2028, 2, 25).astimezone(UTC)


@pytest.mark.time_machine("2028-01-15T09:00:00+08:00", tick=False)  # more than a year after these were written
def test_clock006_a_year_ahead_is_just_another_day() -> None:
    assert clock.today() == date(2028, 1, 15)
    assert Period.today().comparison().start == beijing(2028, 1, 8).astimezone(UTC)
    assert latest_key(Kind.WEEKLY, clock.now()) == "2028-01-14"
    assert latest_key(Kind.DAILY, clock.now()) == "2028-01-14"


@pytest.mark.time_machine("2026-11-24T08:00:00+08:00", tick=False)
def test_clock007_a_time_lapse_runs_faster_and_never_backwards() -> None:
    now = clock.timestamp()
    lapse = ScaledClock(anchor_real=now, anchor_world=now, speed=60)
    previous = clock.use(lapse)
    try:
        with time_machine.travel(beijing(2026, 11, 24, 8, 1), tick=False):  # one machine minute later
            assert clock.now() == beijing(2026, 11, 24, 9, 0).astimezone(UTC)  # an hour of world time
            assert clock.speed() == 60
            stop = threading.Event()
            stop.set()
            assert clock.wait(stop, 3600)  # world seconds become machine seconds / speed
    finally:
        clock.use(previous)
    assert clock.source() is previous


def test_clock008_parse_local_reads_a_bare_time_as_beijing() -> None:
    moment = clock.now().replace(microsecond=0)
    written = clock.local(moment).replace(tzinfo=None).isoformat()
    assert clock.parse_local(written) == moment
    assert clock.parse_local(moment.isoformat()) == moment
