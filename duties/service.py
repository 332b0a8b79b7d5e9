"""The completion table: for a day, every centre's posts, their holders and duties, each duty's round, the value
measured (or the tick) against its standard, and its state.

States, judged at ``asof`` (now, or the daily report's 17:00):

- *met*: the standard is met by what was done so far in the round (a manual duty: ticked before its deadline);
- *missed*: the deadline has passed and it is not;
- *in progress*: not yet, and the deadline is on the table's day;
- *due later*: not yet, and the deadline is after the table's day (a weekly or monthly duty mid-round, or a
  round that has not begun).

The table "as of 17:00" is what each centre reports to the inspectors every day; before 17:00 it shows the
progress so far. Ticks are kept in ``duty_ticks`` once per duty, person and round, each audited.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable
from dataclasses import dataclass, field
from datetime import date, datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import Connection, Engine, and_, select
from sqlalchemy.dialects import postgresql, sqlite

import clock
import deadlines
from duties.config import Config, Duty, DutyPeriod, HolderKind, Post
from duties.measure import Holder, measured
from geo.roster import Post as RosterPost
from geo.roster import Roster
from store import audit
from store.db import as_utc, duty_ticks, mediators, users

NOTE_MAX = 500
MISSED_NAMES = 10  # the report names this many people who missed, then says how many more


class State(StrEnum):
    MET = "met"
    IN_PROGRESS = "in_progress"
    MISSED = "missed"
    DUE_LATER = "due_later"


class DutyRefused(Exception):
    """A tick the service will not record: ``reason`` is a catalogue suffix (``duties.refused.<reason>``)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class Row:
    post: Post
    duty: Duty
    person: Holder
    period: DutyPeriod
    value: float | None  # measured; a manual duty: 1 ticked in time, 0 not
    state: State
    clock: str  # done, or the round's clock colour (deadlines.Colour)
    tick: dict[str, Any] | None = None  # a manual duty's tick, if any (even a late one)


def state_of(duty: Duty, value: float | None, period: DutyPeriod, day: date, asof: datetime) -> State:
    """The state of one round at ``asof``, on the table of ``day``."""
    if asof < period.start:
        return State.DUE_LATER
    if duty.standard.met(value):
        return State.MET
    if asof >= period.due:
        return State.MISSED
    return State.IN_PROGRESS if clock.today(period.due) <= day else State.DUE_LATER


def clock_of(state: State, period: DutyPeriod, asof: datetime) -> str:
    if state is State.MET:
        return "done"
    if state is State.MISSED:
        return deadlines.Colour.RED.value
    return deadlines.colour(period.start, period.due, max(asof, period.start)).value


@dataclass
class DutyService:
    """The task list of ``config`` over the system of record."""

    engine: Engine
    roster: Roster
    config: Config
    clock: Callable[[], datetime] = field(default=clock.now)

    def __post_init__(self) -> None:
        self._insert = postgresql.insert if self.engine.dialect.name == "postgresql" else sqlite.insert

    # -- who holds what ------------------------------------------------------------------------------------

    def holders(self, post: Post, language: str = "zh-CN") -> list[Holder]:
        """The people holding ``post`` now, by id."""
        kind, names = post.holders.kind, post.holders.names
        if kind is HolderKind.ROSTER:
            return [Holder(p.person_id, p.name(language), p.station, p.grids)
                    for p in self.roster.people(RosterPost(names[0]))]
        with self.engine.connect() as conn:
            if kind is HolderKind.MEDIATORS:
                return [Holder(r.mediator_id, r.name, None, username=r.username) for r in conn.execute(
                    select(mediators.c.mediator_id, mediators.c.name, mediators.c.username)
                    .where(mediators.c.active.is_(True)).order_by(mediators.c.mediator_id))]
            accounts = select(users.c.username, users.c.display_name, users.c.station)
            if kind is HolderKind.USERS:
                found = conn.execute(accounts.where(and_(users.c.role == names[0], users.c.active.is_(True)))
                                     .order_by(users.c.username)).all()
                return [Holder(r.username, r.display_name or r.username, r.station, username=r.username)
                        for r in found]
            known = {r.username: r for r in conn.execute(accounts.where(users.c.username.in_(names)))}
        return [Holder(name, (known[name].display_name or name) if name in known else name,
                       known[name].station if name in known else None, username=name) for name in names]

    def own(self, username: str, grids: Iterable[str] = (), post: RosterPost = RosterPost.GRID_WORKER) -> set[str]:
        """The person ids that are the signed-in ``username`` (``grids``: the grids bound to their account, which
        make them the roster's ``post`` there: a grid worker, or a community officer)."""
        mine = {username} | {p.person_id for p in self.roster.of_grids(grids, post)}
        with self.engine.connect() as conn:
            mine |= set(conn.execute(select(mediators.c.mediator_id).where(and_(
                mediators.c.username == username, mediators.c.active.is_(True)))).scalars())
        return mine

    # -- the table -------------------------------------------------------------------------------------------

    def table(self, day: date, asof: datetime | None = None, *, language: str = "zh-CN", centre: str = "",
              station: str = "", people: Collection[str] | None = None) -> list[Row]:
        """Every round on ``day``'s table at ``asof`` (default: now), by centre, post, person and duty; narrowed to
        a ``centre``, a ``station``'s people, or the person ids in ``people``."""
        asof = asof or self.clock()
        rows: list[Row] = []
        with self.engine.connect() as conn:
            for post in self.config.posts():
                if centre and post.centre_id != centre:
                    continue
                holders = [h for h in self.holders(post, language)
                           if (not station or h.station == station) and (people is None or h.person_id in people)]
                if not holders:
                    continue
                by_duty: dict[str, tuple[DutyPeriod, dict[str, float | None], dict[str, dict[str, Any]]]] = {}
                for duty in post.duties:
                    period = duty.deadline.period(day)
                    until = min(asof, period.due)
                    if duty.manual:
                        ticks = self._ticks(conn, duty.duty_id, period.key, [h.person_id for h in holders])
                        values: dict[str, float | None] = {
                            h.person_id: float(h.person_id in ticks and as_utc(ticks[h.person_id]["ticked_at"])
                                               <= min(until, period.due)) for h in holders}
                    else:
                        ticks = {}
                        values = measured(conn, duty.measure, period.start, until, holders)
                    by_duty[duty.duty_id] = (period, values, ticks)
                for holder in holders:
                    for duty in post.duties:
                        period, values, ticks = by_duty[duty.duty_id]
                        value = values.get(holder.person_id)
                        state = state_of(duty, value, period, day, asof)
                        rows.append(Row(post, duty, holder, period, value, state, clock_of(state, period, asof),
                                        ticks.get(holder.person_id)))
        return rows

    def summary(self, rows: Iterable[Row]) -> list[dict[str, Any]]:
        """One line per centre and post: its people, the rounds met, missed and open, and who missed."""
        lines: dict[tuple[str, str], dict[str, Any]] = {}
        for row in rows:
            line = lines.setdefault((row.post.centre_id, row.post.post_id), {
                "post": row.post, "persons": set(), "met": 0, "missed": 0, "open": 0, "missed_by": {}})
            line["persons"].add(row.person.person_id)
            if row.state is State.MET:
                line["met"] += 1
            elif row.state is State.MISSED:
                line["missed"] += 1
                line["missed_by"][row.person.person_id] = row.person.name
            else:
                line["open"] += 1
        return [{**line, "persons": len(line["persons"]), "missed_by": list(line["missed_by"].values())}
                for line in lines.values()]

    # -- ticking ---------------------------------------------------------------------------------------------

    def tick(self, duty_id: str, person_id: str, day: date, actor: str, note: str = "", *, role: str = "",
             ip: str = "") -> dict[str, Any]:
        """Tick ``person_id``'s manual duty done for the round ``day`` falls in; a repeat keeps the first tick.
        Who may (the person themselves) is the caller's check. Returns the tick, with ``new``.

        Raises
        ------
        DutyRefused
            An unknown or measured duty, someone not holding its post, or a round not begun.
        """
        duty = self.config.duty(duty_id)
        if duty is None:
            raise DutyRefused("unknown")
        if not duty.manual:
            raise DutyRefused("measured")
        if person_id not in {h.person_id for h in self.holders(self.config.post_of(duty))}:
            raise DutyRefused("not_holder")
        now = self.clock()
        period = duty.deadline.period(day)
        if period.start > now:
            raise DutyRefused("not_begun")
        note = note.strip()[:NOTE_MAX]
        with self.engine.begin() as conn:
            # RETURNING, not rowcount: a driver may report -1 for an insert that did nothing (psycopg does).
            made = conn.execute(self._insert(duty_ticks).values(
                duty_id=duty_id, person_id=person_id, period_key=period.key, ticked_by=actor, ticked_at=now,
                note=note).on_conflict_do_nothing().returning(duty_ticks.c.duty_id)).first() is not None
            tick = self._ticks(conn, duty_id, period.key, [person_id])[person_id]
            audit.append(conn, actor, "duty.tick", role=role, ip=ip, target=f"{duty_id}/{person_id}/{period.key}",
                         detail=note if made else "repeat: already ticked", at=now)
        return tick | {"new": bool(made)}

    def _ticks(self, conn: Connection, duty_id: str, key: str, people: list[str]) -> dict[str, dict[str, Any]]:
        found = conn.execute(select(duty_ticks).where(and_(
            duty_ticks.c.duty_id == duty_id, duty_ticks.c.period_key == key))).mappings()
        wanted = set(people)
        return {r["person_id"]: dict(r) | {"ticked_at": as_utc(r["ticked_at"])} for r in found
                if r["person_id"] in wanted}
