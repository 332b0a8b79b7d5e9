"""The product's one clock: what time it is, in Beijing, and where its days, weeks and months begin.

Every time the product stores, shows or judges a deadline by comes from :func:`now`. Its source is
injectable (:func:`use`): the system clock by default, a :class:`ScaledClock` when the simulator
runs a time-lapse (``SIM_SPEED`` > 1: the world's clock runs that many times faster, so a demo
shows a day in 24 minutes and no event is ever stamped ahead of the clock the pages show), and
in tests whatever ``time-machine`` makes of the system clock.

Machine time is a different thing and stays real: Redis stream ids, key expiries, latency
stamps and ``time.monotonic()`` intervals measure the machine, not the world.

The bounds every view and report shares are here too (:class:`Period`): the Beijing day
(midnight to midnight), the daily task report's 24 hours to 17:00, the week to Friday's
report, the calendar month. China has one time zone and no daylight saving since 1991, so
Beijing time is a fixed UTC+8.
"""

from __future__ import annotations

import threading
import time as _time
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, timezone
from typing import Protocol

BEIJING = timezone(timedelta(hours=8), "CST")
DAILY_CUT_HOUR = 17  # the daily task report closes at 17:00 Beijing time
REPORT_WEEKDAY = 4  # the weekly risk report is filed on Fridays (Monday is 0)
SUMMARY_WEEKDAY = 0  # the supervision summary is filed on Mondays, for the week (Monday to Sunday) before
SUMMARY_AT = (8, 0)  # Beijing time on Monday: the summary is made and pushed to the chiefs
DAY = timedelta(days=1)


class Source(Protocol):
    """Where the time comes from."""

    @property
    def speed(self) -> float:
        """World seconds per machine second."""
        ...

    def now(self) -> datetime:
        """The current time, aware, in UTC."""
        ...


class SystemClock:
    """The machine's clock (what production runs on)."""

    speed = 1.0

    def now(self) -> datetime:
        return datetime.now(UTC)


@dataclass(frozen=True)
class ScaledClock:
    """A world clock that runs ``speed`` times faster than the machine's, from an anchor.

    ``anchor_real`` (machine epoch seconds) is when the world was at ``anchor_world``; several
    processes given the same anchor agree on the time.
    """

    anchor_real: float
    anchor_world: float
    speed: float

    def now(self) -> datetime:
        return datetime.fromtimestamp(self.world_at(_time.time()), UTC)

    def world_at(self, real: float) -> float:
        return self.anchor_world + (real - self.anchor_real) * self.speed


_source: Source = SystemClock()
_lock = threading.Lock()


def use(source: Source) -> Source:
    """Make ``source`` the product's clock; returns the one it replaces."""
    global _source
    with _lock:
        previous, _source = _source, source
    return previous


def source() -> Source:
    return _source


def now() -> datetime:
    """The current time, aware, in UTC."""
    return _source.now()


def timestamp() -> float:
    """The current time as epoch seconds."""
    return _source.now().timestamp()


def speed() -> float:
    """World seconds per machine second (1 unless a time-lapse runs)."""
    return _source.speed


def wait(stop: threading.Event, world_seconds: float) -> bool:
    """Wait ``world_seconds`` of world time, or until ``stop`` is set; returns whether it was."""
    return stop.wait(max(0.0, world_seconds) / _source.speed)


# -- Beijing time ---------------------------------------------------------------------------------


def local(moment: datetime | None = None) -> datetime:
    """``moment`` (default: now) in Beijing time."""
    return (moment or now()).astimezone(BEIJING)


def today(moment: datetime | None = None) -> date:
    """The Beijing date at ``moment`` (default: now)."""
    return local(moment).date()


def at(day: date, hour: int = 0, minute: int = 0) -> datetime:
    """``hour:minute`` Beijing time on ``day``, as an aware UTC datetime."""
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=BEIJING).astimezone(UTC)


def parse_local(value: str) -> datetime:
    """An ISO-8601 time; one without an offset is taken as Beijing time (how people write it here)."""
    moment = datetime.fromisoformat(value)
    return moment.replace(tzinfo=BEIJING) if moment.tzinfo is None else moment


# -- the shared bounds -----------------------------------------------------------------------------


def last_daily_cut(moment: datetime | None = None) -> date:
    """The date of the latest 17:00 at or before ``moment``: the newest complete daily report."""
    here = local(moment)
    return here.date() if here.hour >= DAILY_CUT_HOUR else here.date() - DAY


def last_report_friday(moment: datetime | None = None) -> date:
    """The latest Friday at or before ``moment``'s Beijing date: the newest weekly report."""
    day = today(moment)
    return day - timedelta(days=(day.weekday() - REPORT_WEEKDAY) % 7)


def last_summary_monday(moment: datetime | None = None) -> date:
    """The latest Monday at or before ``moment``'s Beijing date: the newest supervision summary."""
    day = today(moment)
    return day - timedelta(days=(day.weekday() - SUMMARY_WEEKDAY) % 7)


def previous_month(moment: datetime | None = None) -> tuple[int, int]:
    """``(year, month)`` of the last complete calendar month: the newest monthly report."""
    last = today(moment).replace(day=1) - DAY
    return last.year, last.month


def next_at(hour: int, minute: int, moment: datetime | None = None) -> datetime:
    """The next ``hour:minute`` Beijing time strictly after ``moment`` (default: now), in UTC."""
    moment = moment or now()
    candidate = at(today(moment), hour, minute)
    return candidate if candidate > moment else at(today(moment) + DAY, hour, minute)


@dataclass(frozen=True)
class Period:
    """A half-open span ``[start, end)`` held in UTC, with how reports name it."""

    start: datetime
    end: datetime
    kind: str = "custom"  # day / week / month / custom

    @classmethod
    def day(cls, day: date) -> Period:
        """The Beijing day: midnight to midnight."""
        return cls(at(day), at(day + DAY), "day")

    @classmethod
    def today(cls, moment: datetime | None = None) -> Period:
        return cls.day(today(moment))

    @classmethod
    def to_daily_cut(cls, day: date) -> Period:
        """The daily task report's 24 hours: 17:00 the day before to 17:00 on ``day``."""
        end = at(day, DAILY_CUT_HOUR)
        return cls(end - DAY, end, "day")

    @classmethod
    def week(cls, last_day: date) -> Period:
        """The seven Beijing days ending with ``last_day``."""
        end = at(last_day + DAY)
        return cls(end - 7 * DAY, end, "week")

    @classmethod
    def calendar_week(cls, day: date) -> Period:
        """The Monday-to-Sunday week holding ``day`` (the sensor statistics and the risk review)."""
        return cls.week(day + timedelta(days=6 - day.weekday()))

    @classmethod
    def week_before_report(cls, friday: date) -> Period:
        """What the weekly report filed on ``friday`` covers: the seven days before it (Friday to Thursday)."""
        return cls.week(friday - DAY)

    @classmethod
    def week_before_summary(cls, monday: date) -> Period:
        """What the supervision summary filed on ``monday`` covers: the week before it (Monday to Sunday)."""
        return cls.week(monday - DAY)

    @classmethod
    def month(cls, year: int, month: int) -> Period:
        return cls(at(date(year, month, 1)), at(date(year + month // 12, month % 12 + 1, 1)), "month")

    @property
    def days(self) -> float:
        return (self.end - self.start).total_seconds() / 86400

    def contains(self, moment: datetime) -> bool:
        return self.start <= moment < self.end

    def shifted(self, days: int) -> Period:
        delta = timedelta(days=days)
        return Period(self.start + delta, self.end + delta, self.kind)

    def comparison(self) -> Period:
        """The period it is compared with: one week earlier for a day or a week, the month before for a month."""
        if self.kind == "month":
            first = today(self.start)
            return Period.month(first.year - (first.month == 1), (first.month - 2) % 12 + 1)
        return self.shifted(-7 if self.days <= 7 else -round(self.days))

    def local_label(self) -> str:
        start, end = local(self.start), local(self.end)
        if start.time() != time(0) or end.time() != time(0):  # the daily report's 17:00 to 17:00
            return f"{start:%Y-%m-%d %H:%M} – {end:%Y-%m-%d %H:%M}"
        first, last = start.date(), (end - timedelta(seconds=1)).date()
        return first.isoformat() if first == last else f"{first.isoformat()} – {last.isoformat()}"
