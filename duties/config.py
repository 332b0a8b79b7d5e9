"""The core task list's configuration (``data/duties.json``), read and checked once.

Centres hold posts; a post names who holds it (:class:`Holders`) and its duties. A duty has a standard (a count
or a rate to reach, or stay under), a recurrence (daily, weekly, monthly) with its deadline, and how it is
measured: one of the automatic :class:`Measure` s, or ``manual`` (ticked by hand). ``docs/duties.md`` explains
the file for the bureau; :func:`parse` refuses a file that does not say what it means, naming the place.

A duty's period runs from its previous deadline to its deadline (the 24 hours to 17:00, the seven days to
Friday 17:00, the month to its last day's 17:00), so what is done just after a deadline counts for the next.
"""

from __future__ import annotations

import json
import re
from calendar import monthrange
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from enum import StrEnum
from pathlib import Path
from typing import Any

import clock
from settings import DATA_DIR, SUPPORTED_LANGUAGES

DUTIES_FILE = "duties.json"
LAST_DAY = 0  # a monthly deadline on the month's last day, whatever its length
WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
_TIME = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)$")
_ID = re.compile(r"^[a-z][a-z0-9_.-]{0,39}$")


class ConfigError(ValueError):
    """The duties file is not what it must be; the message names the place and what is wrong."""


class Every(StrEnum):
    DAILY = "daily"
    WEEKLY = "weekly"
    MONTHLY = "monthly"


class Kind(StrEnum):
    COUNT = "count"  # how many: at least (or at most) the target
    RATE = "rate"  # a share from 0 to 1
    DONE = "done"  # ticked by hand


class Direction(StrEnum):
    AT_LEAST = "at_least"
    AT_MOST = "at_most"


class Measure(StrEnum):
    """What the product measures by itself (duties/measure.py says what each counts)."""

    GRID_RECORDS = "grid_records"  # a grid worker's records: grid reports and task results in their grids
    HOUSEHOLDS_VISITED = "households_visited"  # lead and hazard tasks reported in their grids
    GRID_LEADS_DISPOSED = "grid_leads_disposed"  # leads in their grids due in the period, handled
    HIGH_LEADS_DISPOSED = "high_leads_disposed"  # the district's high-risk leads due in the period, handled
    ALERTS_VERIFIED = "alerts_verified"  # the district's sensor alerts verified within their minute
    DATA_COMPLETENESS = "data_completeness"  # incident records with every required field
    DATA_TIMELINESS = "data_timeliness"  # entries kept within their source's budget
    CASES_MEDIATED = "cases_mediated"  # a mediator's cases closed after mediation
    MEDIATION_SUCCESS = "mediation_success"  # of those, the share that succeeded
    MANUAL = "manual"  # ticked by the person


class Scope(StrEnum):
    """Whose figure a measure is: a grid team member's grids, a mediator's cases, or the district's."""

    GRIDS = "grids"
    MEDIATOR = "mediator"
    DISTRICT = "district"
    PERSON = "person"  # a tick of their own


MEASURES: dict[Measure, tuple[Kind, Scope]] = {
    Measure.GRID_RECORDS: (Kind.COUNT, Scope.GRIDS),
    Measure.HOUSEHOLDS_VISITED: (Kind.COUNT, Scope.GRIDS),
    Measure.GRID_LEADS_DISPOSED: (Kind.RATE, Scope.GRIDS),
    Measure.HIGH_LEADS_DISPOSED: (Kind.RATE, Scope.DISTRICT),
    Measure.ALERTS_VERIFIED: (Kind.RATE, Scope.DISTRICT),
    Measure.DATA_COMPLETENESS: (Kind.RATE, Scope.DISTRICT),
    Measure.DATA_TIMELINESS: (Kind.RATE, Scope.DISTRICT),
    Measure.CASES_MEDIATED: (Kind.COUNT, Scope.MEDIATOR),
    Measure.MEDIATION_SUCCESS: (Kind.RATE, Scope.MEDIATOR),
    Measure.MANUAL: (Kind.DONE, Scope.PERSON),
}


class HolderKind(StrEnum):
    ROSTER = "roster"  # roster:grid_worker / roster:community_officer (geo/roster.py)
    USERS = "users"  # users:<role>: the accounts of that role
    MEDIATORS = "mediators"  # the mediation centre's registry
    NAMED = "named"  # a list of usernames (a post with no role of its own)


ROSTER_POSTS = ("grid_worker", "community_officer")
USER_ROLES = ("duty_officer", "station_officer", "chief", "station_chief", "grid_worker", "revisit_clerk",
              "mediation_desk", "mediator")  # people who sign in (not screens, administrators or volunteers)


@dataclass(frozen=True)
class Holders:
    kind: HolderKind
    names: tuple[str, ...] = ()  # the roster post or the role (one), or the usernames

    def label(self) -> str:
        return self.kind.value if self.kind is HolderKind.MEDIATORS else \
            ",".join(self.names) if self.kind is HolderKind.NAMED else f"{self.kind.value}:{self.names[0]}"


@dataclass(frozen=True)
class Standard:
    kind: Kind
    target: float = 1.0
    direction: Direction = Direction.AT_LEAST

    def met(self, value: float | None) -> bool:
        """Whether ``value`` meets the standard. A rate with nothing to measure (no leads due, no records) fell
        short of nothing: met."""
        if value is None:
            return self.kind is Kind.RATE
        return value >= self.target if self.direction is Direction.AT_LEAST else value <= self.target


@dataclass(frozen=True)
class DutyPeriod:
    """One round of a duty: ``[start, due)``, filed under ``key`` (the due date, ISO week or month)."""

    key: str
    start: datetime
    due: datetime


@dataclass(frozen=True)
class Deadline:
    every: Every
    hour: int
    minute: int
    weekday: int = 0  # weekly: Monday is 0
    day: int = LAST_DAY  # monthly: the day of the month (1 to 28), or the last

    def due_for(self, day: date) -> datetime:
        """The deadline of the round ``day`` falls in: that day's, that (Monday to Sunday) week's, that month's."""
        if self.every is Every.DAILY:
            due_day = day
        elif self.every is Every.WEEKLY:
            due_day = day + timedelta(days=self.weekday - day.weekday())
        else:
            due_day = day.replace(day=self.day or monthrange(day.year, day.month)[1])
        return clock.at(due_day, self.hour, self.minute)

    def period(self, day: date) -> DutyPeriod:
        """The round ``day`` falls in, from the deadline before."""
        due = self.due_for(day)
        due_day = clock.local(due).date()
        if self.every is Every.DAILY:
            return DutyPeriod(due_day.isoformat(), due - timedelta(days=1), due)
        if self.every is Every.WEEKLY:
            year, week, _ = due_day.isocalendar()
            return DutyPeriod(f"{year}-W{week:02d}", due - timedelta(days=7), due)
        before = due_day.replace(day=1) - timedelta(days=1)
        return DutyPeriod(f"{due_day:%Y-%m}", self.due_for(before), due)

    def label(self) -> str:
        """How the deadline is written in the file (and shown beside the duty)."""
        at = f"{self.hour:02d}:{self.minute:02d}"
        if self.every is Every.WEEKLY:
            return f"{WEEKDAYS[self.weekday]} {at}"
        if self.every is Every.MONTHLY:
            return f"{'last' if self.day == LAST_DAY else self.day} {at}"
        return at


@dataclass(frozen=True)
class Duty:
    duty_id: str
    title: Mapping[str, str]  # language -> title
    centre_id: str
    post_id: str
    standard: Standard
    deadline: Deadline
    measure: Measure

    @property
    def manual(self) -> bool:
        return self.measure is Measure.MANUAL

    def title_in(self, language: str) -> str:
        return self.title.get(language) or self.title["zh-CN"]


@dataclass(frozen=True)
class Post:
    post_id: str
    centre_id: str
    title: Mapping[str, str]
    holders: Holders
    duties: tuple[Duty, ...]


@dataclass(frozen=True)
class Centre:
    centre_id: str
    title: Mapping[str, str]
    posts: tuple[Post, ...]


@dataclass(frozen=True)
class Config:
    centres: tuple[Centre, ...]

    def posts(self) -> list[Post]:
        return [post for centre in self.centres for post in centre.posts]

    def duty(self, duty_id: str) -> Duty | None:
        return next((d for post in self.posts() for d in post.duties if d.duty_id == duty_id), None)

    def post_of(self, duty: Duty) -> Post:
        return next(post for post in self.posts() if post.post_id == duty.post_id and post.centre_id == duty.centre_id)


def load(path: Path | None = None) -> Config:
    """The task list in ``path`` (default ``data/duties.json``), checked.

    Raises
    ------
    ConfigError
        If the file is not JSON or does not say what it must (see :func:`parse`).
    """
    path = path or DATA_DIR / DUTIES_FILE
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise ConfigError(f"{path.name}: cannot be read: {exc}") from exc
    return parse(raw, path.name)


def parse(raw: Any, source: str = DUTIES_FILE) -> Config:
    """The task list in ``raw`` (the file's JSON), checked: ids unique, titles in every language, holders of a
    known kind, standards fitting their measure, deadlines that exist.

    Raises
    ------
    ConfigError
        Naming the place (``centres[1].posts[0].duties[2] (grid.records)``) and what is wrong.
    """
    centres = _list(_dict(raw, source).get("centres"), f"{source}: centres")
    seen_duties: set[str] = set()
    seen_centres: set[str] = set()
    out = []
    for c, centre_raw in enumerate(centres):
        where = f"{source}: centres[{c}]"
        centre = _dict(centre_raw, where)
        centre_id = _id(centre, where, seen_centres)
        where += f" ({centre_id})"
        seen_posts: set[str] = set()
        posts = []
        for p, post_raw in enumerate(_list(centre.get("posts"), f"{where}.posts")):
            at = f"{where}.posts[{p}]"
            post = _dict(post_raw, at)
            post_id = _id(post, at, seen_posts)
            at += f" ({post_id})"
            holders = _holders(post.get("holders"), at)
            duties = tuple(_duty(duty_raw, f"{at}.duties[{d}]", centre_id, post_id, holders, seen_duties)
                           for d, duty_raw in enumerate(_list(post.get("duties"), f"{at}.duties")))
            posts.append(Post(post_id, centre_id, _title(post, at), holders, duties))
        out.append(Centre(centre_id, _title(centre, where), tuple(posts)))
    return Config(tuple(out))


def _dict(value: Any, where: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise ConfigError(f"{where}: must be an object")
    return value


def _list(value: Any, where: str) -> list[Any]:
    if not isinstance(value, list) or not value:
        raise ConfigError(f"{where}: must be a non-empty list")
    return value


def _id(raw: dict[str, Any], where: str, seen: set[str]) -> str:
    value = raw.get("id")
    if not isinstance(value, str) or not _ID.match(value):
        raise ConfigError(f"{where}: id must be lower-case letters, digits, '.', '_' or '-' (got {value!r})")
    if value in seen:
        raise ConfigError(f"{where}: id {value!r} is used twice")
    seen.add(value)
    return value


def _title(raw: dict[str, Any], where: str) -> dict[str, str]:
    title = raw.get("title")
    if not isinstance(title, dict) or any(not isinstance(title.get(lang), str) or not title[lang].strip()
                                          for lang in SUPPORTED_LANGUAGES):
        raise ConfigError(f"{where}: title must give {' and '.join(SUPPORTED_LANGUAGES)}")
    return {lang: title[lang] for lang in SUPPORTED_LANGUAGES}


def _holders(value: Any, where: str) -> Holders:
    if isinstance(value, list) and value and all(isinstance(name, str) and name.strip() for name in value):
        return Holders(HolderKind.NAMED, tuple(value))
    if value == HolderKind.MEDIATORS.value:
        return Holders(HolderKind.MEDIATORS)
    kind, _, name = str(value).partition(":")
    if kind == HolderKind.ROSTER and name in ROSTER_POSTS:
        return Holders(HolderKind.ROSTER, (name,))
    if kind == HolderKind.USERS and name in USER_ROLES:
        return Holders(HolderKind.USERS, (name,))
    raise ConfigError(f"{where}: holders must be roster:{{{','.join(ROSTER_POSTS)}}}, users:<role> "
                      f"({', '.join(USER_ROLES)}), mediators, or a list of usernames (got {value!r})")


def _duty(value: Any, where: str, centre_id: str, post_id: str, holders: Holders, seen: set[str]) -> Duty:
    raw = _dict(value, where)
    duty_id = _id(raw, where, seen)
    where += f" ({duty_id})"
    try:
        measure = Measure(str(raw.get("measure")))
    except ValueError:
        raise ConfigError(f"{where}: unknown measure {raw.get('measure')!r} (known: "
                          f"{', '.join(m.value for m in Measure)})") from None
    kind, scope = MEASURES[measure]
    if scope is Scope.GRIDS and holders.kind is not HolderKind.ROSTER:
        raise ConfigError(f"{where}: measure {measure} counts a grid team's grids: its post's holders must be "
                          "roster:grid_worker or roster:community_officer")
    if scope is Scope.MEDIATOR and holders.kind is not HolderKind.MEDIATORS:
        raise ConfigError(f"{where}: measure {measure} counts a mediator's cases: its post's holders must be mediators")
    if measure is Measure.MANUAL and holders.kind is HolderKind.ROSTER and holders.names[0] != "grid_worker":
        raise ConfigError(f"{where}: a manual duty is ticked by its holder, and {holders.label()} do not sign in")
    return Duty(duty_id, _title(raw, where), centre_id, post_id, _standard(raw.get("standard"), kind, where),
                _deadline(raw.get("every"), raw.get("deadline"), where), measure)


def _standard(value: Any, kind: Kind, where: str) -> Standard:
    if kind is Kind.DONE:
        if value not in (None, {"kind": "done"}):
            raise ConfigError(f"{where}: a manual duty's standard is being ticked: leave standard out")
        return Standard(Kind.DONE)
    raw = _dict(value, f"{where}.standard")
    if raw.get("kind") != kind.value:
        raise ConfigError(f"{where}.standard: its measure gives a {kind.value}, so kind must be {kind.value!r}")
    target = raw.get("target")
    if isinstance(target, bool) or not isinstance(target, int | float) or target < 0 or (
            kind is Kind.RATE and target > 1):
        raise ConfigError(f"{where}.standard: target must be a number"
                          f"{' from 0 to 1' if kind is Kind.RATE else ' of at least 0'} (got {target!r})")
    try:
        direction = Direction(raw.get("direction", Direction.AT_LEAST.value))
    except ValueError:
        raise ConfigError(f"{where}.standard: direction must be at_least or at_most") from None
    return Standard(kind, float(target), direction)


def _deadline(every_raw: Any, value: Any, where: str) -> Deadline:
    try:
        every = Every(every_raw)
    except ValueError:
        raise ConfigError(f"{where}: every must be daily, weekly or monthly (got {every_raw!r})") from None
    raw = _dict(value, f"{where}.deadline")
    expected = {Every.DAILY: {"at"}, Every.WEEKLY: {"weekday", "at"}, Every.MONTHLY: {"day", "at"}}[every]
    if set(raw) != expected:
        raise ConfigError(f"{where}.deadline: a {every.value} deadline gives {' and '.join(sorted(expected))} "
                          f"(got {', '.join(sorted(raw)) or 'nothing'})")
    at = _TIME.match(str(raw["at"]))
    if at is None:
        raise ConfigError(f"{where}.deadline: at must be a time HH:MM from 00:00 to 23:59 (got {raw['at']!r})")
    hour, minute = int(at.group(1)), int(at.group(2))
    if every is Every.WEEKLY:
        if raw["weekday"] not in WEEKDAYS:
            raise ConfigError(f"{where}.deadline: weekday must be one of {', '.join(WEEKDAYS)} "
                              f"(got {raw['weekday']!r})")
        return Deadline(every, hour, minute, weekday=WEEKDAYS.index(raw["weekday"]))
    if every is Every.MONTHLY:
        day = raw["day"]
        if day != "last" and (isinstance(day, bool) or not isinstance(day, int) or not 1 <= day <= 28):
            raise ConfigError(f"{where}.deadline: day must be 1 to 28 (every month has it) or \"last\" (got {day!r})")
        return Deadline(every, hour, minute, day=LAST_DAY if day == "last" else day)
    return Deadline(every, hour, minute)
