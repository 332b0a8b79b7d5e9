"""Time in community: how much of a community officer's working time they spent inside their grids.

The Fengqiao standard asks each community police officer to spend at least 80% of their working time in
their community. It is measured from their terminal's positions (``{cc}:in:positions``), each kept with whether
it fell within the officer's grids or the margin around them (``COMMUNITY_MARGIN_M``, for GPS error), judged
as it arrived (ingest/consumer.py, positions/areas.py).

**Sample and hold.** A fix's state, inside or outside, holds from its time until the next fix or until it is
``stale`` old (``POSITION_STALE_MIN``), whichever comes first. An officer who walks out of their grids between
two fixes is counted inside until the fix that finds them outside: the state changes at the fix, never at a
boundary crossing guessed between two points. Time with no standing fix is **unknown** (the terminal was off or
out of signal): it is not inside, so it counts against the share, and it is reported on its own so a judge can
tell a silent terminal from time spent elsewhere.

**Working time** is the working hours (``COMMUNITY_WORKING_HOURS``, Beijing time) of the working days
(``COMMUNITY_WORKING_DAYS``, ISO weekdays) within the period, up to now. Public holidays and adjusted working
days are not known here; only weekdays are.

:func:`presence` is the pure computation; :func:`time_in_community` reads the record once for many people.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

import numpy as np
from numpy.typing import NDArray
from sqlalchemy import Engine, func, select

import clock
from geo.roster import Post, Roster
from positions.areas import Area
from settings import Settings
from store.db import as_utc, positions

Window = tuple[datetime, datetime]
FloatArray = NDArray[np.float64]
BoolArray = NDArray[np.bool_]


@dataclass(frozen=True)
class Presence:
    """One person's working time over a period, in seconds: inside their community, outside it, and unknown (no
    standing fix); ``inside_s + outside_s + unknown_s == working_s``. ``fixes``: the fixes observed within the
    working time."""

    working_s: float
    inside_s: float
    outside_s: float
    unknown_s: float
    fixes: int

    @property
    def share(self) -> float | None:
        """The share of working time spent inside (unknown time counts as not inside); None without working time."""
        return self.inside_s / self.working_s if self.working_s > 0 else None

    def meets(self, target: float) -> bool | None:
        """Whether the share reaches ``target`` (the index's, data/evaluation.json); None without working time."""
        share = self.share
        return None if share is None else share >= target


@dataclass(frozen=True)
class Rules:
    """When community officers work and how long a fix stands (from the settings)."""

    hours: tuple[tuple[time, time], ...] = Settings.community_working_hours
    days: tuple[int, ...] = Settings.community_working_days
    stale: timedelta = timedelta(minutes=Settings.position_stale_min)

    @classmethod
    def from_settings(cls, settings: Settings) -> Rules:
        return cls(settings.community_working_hours, settings.community_working_days,
                   timedelta(minutes=settings.position_stale_min))


def working_windows(start: datetime, end: datetime, hours: Sequence[tuple[time, time]],
                    days: Iterable[int]) -> list[Window]:
    """The working time within ``[start, end)``: ``hours`` (Beijing time) of each Beijing day whose ISO weekday is in
    ``days``, in order, as UTC ``(start, end)`` pairs."""
    working_days = set(days)
    windows: list[Window] = []
    if end <= start:
        return windows
    day, last = clock.today(start), clock.today(end)
    while day <= last:
        if day.isoweekday() in working_days:
            for first, until in hours:
                window = (max(start, _at(day, first)), min(end, _at(day, until)))
                if window[0] < window[1]:
                    windows.append(window)
        day += clock.DAY
    return windows


def presence(fixes: Sequence[tuple[datetime, float, float]], area: Area, windows: Sequence[Window],
             stale: timedelta) -> Presence:
    """A person's presence from their fixes ``(observed_at, lon, lat)`` (WGS-84) in ``area`` (their grids and the
    margin: :meth:`positions.areas.Area.of`), over the working ``windows``; each fix stands until the next one or
    ``stale``, whichever is first."""
    inside = area.contains([lon for _, lon, _ in fixes], [lat for _, _, lat in fixes])
    return presence_from_flags([(at, bool(flag)) for (at, _, _), flag in zip(fixes, inside, strict=True)],
                               windows, stale)


def presence_from_flags(fixes: Sequence[tuple[datetime, bool]], windows: Sequence[Window],
                        stale: timedelta) -> Presence:
    """:func:`presence` from fixes already judged: ``(observed_at, inside)`` (as kept in ``positions``)."""
    at = np.array([moment.timestamp() for moment, _ in fixes], dtype=float)
    inside = np.array([flag for _, flag in fixes], dtype=bool)
    return _Measure(windows).of(at, inside, stale.total_seconds())


class _Measure:
    """Working time as a function: ``covered(x)`` is the working seconds before ``x``, so a span ``[s, e)`` holds
    ``covered(e) - covered(s)`` of them (one vectorised interpolation for every fix at once)."""

    def __init__(self, windows: Sequence[Window]) -> None:
        merged: list[list[float]] = []
        for first, until in sorted((a.timestamp(), b.timestamp()) for a, b in windows if a < b):
            if merged and first <= merged[-1][1]:  # touching or overlapping: one window
                merged[-1][1] = max(merged[-1][1], until)
            else:
                merged.append([first, until])
        values: list[float] = []
        total = 0.0
        for first, until in merged:
            values += [total, total + until - first]
            total += until - first
        self.bounds = np.array([x for window in merged for x in window], dtype=float)
        self.cumulative = np.array(values, dtype=float)
        self.working_s = total

    def covered(self, x: FloatArray) -> FloatArray:
        return np.asarray(np.interp(x, self.bounds, self.cumulative, left=0.0, right=self.working_s), dtype=np.float64)

    def of(self, at: FloatArray, inside: BoolArray, stale_s: float) -> Presence:
        """Presence from fixes at epoch seconds ``at`` with their flags (sorted here when they are not)."""
        working = round(self.working_s, 3)
        if len(at) == 0 or self.working_s == 0:
            return Presence(working, 0.0, 0.0, working, 0)
        if np.any(np.diff(at) < 0):
            order = np.argsort(at, kind="stable")
            at, inside = at[order], inside[order]
        until = np.minimum(np.append(at[1:], np.inf), at + stale_s)  # the next fix, or stale
        held = self.covered(until) - self.covered(at)
        inside_s = round(float(held[inside].sum()), 3)
        outside_s = round(float(held[~inside].sum()), 3)
        within = np.searchsorted(self.bounds, at, side="right") % 2 == 1  # in [start, end) of a window
        return Presence(working, inside_s, outside_s, round(max(0.0, working - inside_s - outside_s), 3),
                        int(within.sum()))


def time_in_community(engine: Engine, roster: Roster, period: clock.Period, now: datetime, rules: Rules,
                      person_ids: Iterable[str] | None = None) -> dict[str, Presence]:
    """Each community officer's (or each of ``person_ids``') presence over ``period`` up to ``now``.

    Returns ``{person_id: Presence}`` for every person asked about, in id order, and whatever the period holds (a
    weekend: ``working_s == 0``, ``share`` None). The working time runs to ``min(now, period.end)``, and for each
    person from their terminal's first position ever kept: the days before it was in service are not judged (a
    person with none has no working time here), while a terminal switched off later leaves its time unknown. The
    fixes are read in one query: those of the working time and the ``rules.stale`` before its start (a fix at
    08:25 stands at 08:30), each with its kept flag.
    """
    people = sorted(set(person_ids) if person_ids is not None else
                    (person.person_id for person in roster.people(Post.COMMUNITY_OFFICER)))
    windows = working_windows(period.start, min(now, period.end), rules.hours, rules.days)
    measure = _Measure(windows)
    if not people:
        return {}
    if not windows:
        return {person_id: measure.of(np.empty(0), np.empty(0, dtype=bool), 0.0) for person_id in people}
    since, until = min(a for a, _ in windows) - rules.stale, max(b for _, b in windows)
    found: dict[str, tuple[list[float], list[bool]]] = {person_id: ([], []) for person_id in people}
    with engine.connect() as conn:
        rows = conn.execute(
            select(positions.c.person_id, positions.c.observed_at, positions.c.inside)
            .where(positions.c.person_id.in_(people), positions.c.observed_at >= since,
                   positions.c.observed_at < until)
            .order_by(positions.c.person_id, positions.c.observed_at))
        for person_id, observed_at, inside in rows:
            times, flags = found[person_id]
            times.append(as_utc(observed_at).timestamp())
            flags.append(bool(inside))
        first = {person_id: as_utc(at) for person_id, at in conn.execute(
            select(positions.c.person_id, func.min(positions.c.observed_at))
            .where(positions.c.person_id.in_(people)).group_by(positions.c.person_id))}
    stale_s = rules.stale.total_seconds()
    result = {}
    for person_id, (times, flags) in found.items():
        in_service = first.get(person_id)
        judged = measure if in_service is not None and in_service <= period.start else _Measure(
            [(max(a, in_service), b) for a, b in windows if in_service is not None and b > in_service])
        result[person_id] = judged.of(np.array(times, dtype=float), np.array(flags, dtype=bool), stale_s)
    return result


def _at(day: date, moment: time) -> datetime:
    return clock.at(day, moment.hour, moment.minute)
