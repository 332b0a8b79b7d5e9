"""Scores per community officer, grid worker and station, for any period, from the system of record.

One pass per period: :func:`indicators.compute.load` reads what the chiefs' figures read, the rows are split by
grid once, and each subject's figures are :func:`indicators.compute.figures` over its grids' rows, so a person's
figures are the district's restricted to their grids. Each leaf of the index (:mod:`evaluation.index`) reads its
measure (:mod:`evaluation.measures`) from them, and the tree is scored.

A month that has ended is *kept*: its readings per subject are stored (``evaluation_scores``) the first time
they are computed (the monthly report's run on the 1st makes them), and read back from then on, so a score
shown in January for November is the one the November report gave. The stored readings are what the scores
are made from; the scores themselves are rescored with the current index (a bureau that reweights sees last
month reweighted too). ``recompute`` makes a kept month again from the record, to check it.

Who sees what is the caller's :class:`Scope`: a person their own scores, a station chief their station's
people, a chief everyone, the big screen the stations only.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, and_, func, select
from sqlalchemy.dialects import postgresql, sqlite

import clock
from clock import Period
from duties.measure import grid_records
from evaluation.index import DATA_FILE, Index, Reading, Scored, SubjectKind, load, score
from evaluation.measures import MEASURES, Basis, Presence
from geo.index import GridIndex
from geo.roster import Post, Roster
from indicators import compute
from indicators.compute import Rows
from positions.presence import Rules, time_in_community
from store.db import as_utc, evaluation_scores, incidents

PresenceSource = Callable[[Period, datetime], Mapping[str, Presence]]  # community officer id -> their presence
TREND_MONTHS = 6
_POST_KIND = {Post.COMMUNITY_OFFICER: SubjectKind.COMMUNITY_OFFICER, Post.GRID_WORKER: SubjectKind.GRID_WORKER}


@dataclass(frozen=True)
class Subject:
    subject_id: str  # a person's roster id, or a station's code
    kind: SubjectKind
    station: str
    name_zh: str
    name_en: str
    grids: tuple[str, ...]

    def name(self, language: str) -> str:
        return self.name_zh if language == "zh-CN" else self.name_en


@dataclass
class Result:
    subject: Subject
    readings: dict[str, Reading]
    scored: Scored

    @property
    def score(self) -> float | None:
        return self.scored.score


@dataclass
class Evaluation:
    period: Period
    asof: datetime
    results: dict[str, Result]
    kept_at: datetime | None = None  # when a kept month was stored (None: computed now)

    def league(self, kind: SubjectKind, scope: Scope, station: str = "") -> list[tuple[int | None, Result]]:
        """The subjects of ``kind`` the scope may see (of one station, if given), best first with their rank;
        the unscored last, without one. Ranks are within the list: a station chief's league is their station's."""
        found = [r for r in self.results.values() if r.subject.kind is kind and scope.sees(r.subject)
                 and (not station or r.subject.station == station)]
        found.sort(key=lambda r: (r.score is None, -(r.score or 0.0), r.subject.subject_id))
        ranked: list[tuple[int | None, Result]] = []
        for place, result in enumerate(found, start=1):
            tied = ranked and ranked[-1][1].score == result.score
            # Equal scores share a place ("1, 1, 3"); the unscored have none.
            ranked.append((None if result.score is None else ranked[-1][0] if tied else place, result))
        return ranked

    def rank_of(self, subject_id: str, kind: SubjectKind, scope: Scope, station: str = "") -> tuple[int | None, int]:
        """A subject's rank in a league, and how many are in it."""
        league = self.league(kind, scope, station)
        return next((rank for rank, r in league if r.subject.subject_id == subject_id), None), len(league)


@dataclass(frozen=True)
class Scope:
    """What a viewer may see of the scores (built from the viewer by the route)."""

    everyone: bool = False  # a chief
    station: str | None = None  # a station chief: their station's people and the station itself
    own: frozenset[str] = frozenset()  # a person: their own subject ids
    stations: bool = False  # station-level figures of every station (chiefs, station chiefs, the big screen)

    def sees(self, subject: Subject) -> bool:
        if self.everyone or subject.subject_id in self.own:
            return True
        if subject.kind is SubjectKind.STATION:
            return self.stations or subject.subject_id == self.station
        return self.station is not None and subject.station == self.station

    @property
    def sees_people(self) -> bool:
        return self.everyone or self.station is not None or bool(self.own)


@dataclass
class EvaluationService:
    engine: Engine
    grids: GridIndex
    roster: Roster
    index: Index
    presence: PresenceSource | None = None
    now: Callable[[], datetime] = clock.now
    _subjects: dict[str, Subject] = field(default_factory=dict, init=False, repr=False)
    # The running periods' evaluations of the current minute: a page opened by several chiefs at once, or reloaded,
    # costs one computation a minute (about a second for a month at the district's scale: make bench).
    _recent: dict[tuple[str, datetime, datetime], Evaluation] = field(default_factory=dict, init=False, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, init=False, repr=False)

    def __post_init__(self) -> None:
        for person in self.roster.people():
            self._subjects[person.person_id] = Subject(person.person_id, _POST_KIND[person.post], person.station,
                                                       person.name_zh, person.name_en, person.grids)
        station_grids: dict[str, list[str]] = {}
        for code in sorted(self.grids.codes.tolist()):
            grid = self.grids.get(code)
            assert grid is not None
            station_grids.setdefault(grid.station, []).append(code)
        for station, name_zh in self.grids.stations("zh-CN"):
            name_en = dict(self.grids.stations("en"))[station]
            self._subjects[station] = Subject(station, SubjectKind.STATION, station, name_zh, name_en,
                                              tuple(station_grids.get(station, ())))

    def subject(self, subject_id: str) -> Subject | None:
        return self._subjects.get(subject_id)

    def own(self, grids: Iterable[str], post: Post) -> frozenset[str]:
        """The subject ids of the person who works ``grids`` in ``post`` (a signed-in user's own)."""
        return frozenset(person.person_id for person in self.roster.of_grids(grids, post))

    # -- computing -------------------------------------------------------------------------------------------

    def evaluate(self, period: Period) -> Evaluation:
        """Every subject's scores for ``period``: a kept month as kept (kept now if it has ended), anything
        else computed from the record as it stands."""
        now = self.now()
        if period.kind == "month" and period.end <= now:
            kept = self._kept(period)
            if kept is not None:
                return kept
            evaluation = self.compute(period, now)
            self._keep(evaluation, now)
            return evaluation
        key = (period.kind, period.start, now.replace(second=0, microsecond=0))
        with self._lock:
            cached = self._recent.get(key)
        if cached is not None:
            return cached
        evaluation = self.compute(period, now)
        with self._lock:
            self._recent = {k: v for k, v in self._recent.items() if k[2] == key[2]} | {key: evaluation}
        return evaluation

    def recompute(self, period: Period) -> Evaluation:
        """``period`` made again from the record, ignoring what was kept (to check a kept month)."""
        return self.compute(period, self.now())

    def compute(self, period: Period, now: datetime, only: Iterable[str] | None = None) -> Evaluation:
        rows, collected, presence = self._read(period, now)
        per_grid = rows.split(lambda grid: grid)
        chosen = [self._subjects[s] for s in only] if only is not None else list(self._subjects.values())
        results = {}
        for subject in chosen:
            basis = self._basis(subject, per_grid, collected, period, now, presence)
            readings = {name: measure.read(basis) for name, measure in MEASURES.items()}
            results[subject.subject_id] = Result(subject, readings, score(self.index, subject.kind, readings))
        return Evaluation(period, min(now, period.end), results)

    def basis(self, subject: Subject, period: Period) -> Basis:
        """What ``subject``'s measures read for ``period`` (the drill-down's records come from it)."""
        now = self.now()
        rows, collected, presence = self._read(period, now)
        return self._basis(subject, rows.split(lambda grid: grid), collected, period, now, presence)

    def _read(self, period: Period, now: datetime) -> tuple[Rows, dict[str, list[dict[str, Any]]],
                                                            dict[str, Presence]]:
        """The period's rows (the chiefs' figures'), the records collected per grid, and the officers' presence."""
        rows = compute.load(self.engine, period, now)
        with self.engine.connect() as conn:
            collected: dict[str, list[dict[str, Any]]] = {}
            for record in grid_records(conn, period.start, min(now, period.end)):
                collected.setdefault(str(record["grid"]), []).append(record)
        presence = dict(self.presence(period, now)) if self.presence is not None else {}
        return rows, collected, presence

    def _basis(self, subject: Subject, per_grid: Mapping[str | None, Rows],
               collected: Mapping[str, list[dict[str, Any]]], period: Period, now: datetime,
               presence: Mapping[str, Presence]) -> Basis:
        parts = [per_grid[g] for g in subject.grids if g in per_grid]
        if subject.kind is SubjectKind.STATION and subject.station in per_grid:
            parts.append(per_grid[subject.station])  # a station's rows without a grid (its notices)
        merged = _merged(parts)
        officers = {p.person_id for g in subject.grids
                    if (p := self.roster.of_grid(g, Post.COMMUNITY_OFFICER)) is not None}
        workers = {p.person_id for g in subject.grids if (p := self.roster.of_grid(g, Post.GRID_WORKER)) is not None}
        if subject.kind is SubjectKind.GRID_WORKER:
            workers = {subject.subject_id}
        return Basis(merged, compute.figures(merged, period, now), period, now, len(workers),
                     {person: presence[person] for person in sorted(officers) if person in presence},
                     sorted((r for g in subject.grids for r in collected.get(g, ())), key=lambda r: r["at"]))

    def trend(self, subject_id: str, months: int = TREND_MONTHS) -> list[tuple[Period, float | None]]:
        """The subject's overall score month by month, the running month last."""
        today = clock.local(self.now())
        year, month = today.year, today.month
        periods = []
        for _ in range(months):
            periods.append(Period.month(year, month))
            year, month = (year, month - 1) if month > 1 else (year - 1, 12)
        found: list[tuple[Period, float | None]] = []
        begins = self._record_begins()
        for period in reversed(periods):
            result = None
            # Before the record began there is nothing to judge: shown as such, not as a zero.
            if begins is not None and period.end > begins:
                result = self.evaluate(period).results.get(subject_id)  # kept, or this minute's
            found.append((period, result.score if result else None))
        return found

    def _record_begins(self) -> datetime | None:
        """When the system of record's first incident happened (backfilled history counts: it is the record)."""
        with self.engine.connect() as conn:
            first = conn.execute(select(func.min(incidents.c.reported_at))).scalar_one_or_none()
        return as_utc(first) if first is not None else None

    # -- keeping ended months --------------------------------------------------------------------------------

    def _keep(self, evaluation: Evaluation, now: datetime) -> None:
        key = _key(evaluation.period)
        rows = [{"period_key": key, "subject_id": r.subject.subject_id, "kind": r.subject.kind.value,
                 "station": r.subject.station, "score": r.score,
                 "readings": json.dumps({name: [x.value, x.numerator, x.denominator]
                                         for name, x in r.readings.items()}, separators=(",", ":")),
                 "index_digest": self.index.digest, "kept_at": now}
                for r in evaluation.results.values()]
        dialect_insert = postgresql.insert if self.engine.dialect.name == "postgresql" else sqlite.insert
        with self.engine.begin() as conn:
            # Two processes keeping the same month at once: the first one's rows stand, the other adds nothing.
            conn.execute(dialect_insert(evaluation_scores).on_conflict_do_nothing(
                index_elements=["period_key", "subject_id"]), rows)
        evaluation.kept_at = now

    def _kept(self, period: Period) -> Evaluation | None:
        with self.engine.connect() as conn:
            rows = conn.execute(select(evaluation_scores).where(and_(
                evaluation_scores.c.period_key == _key(period)))).mappings().all()
        if not rows:
            return None
        results = {}
        for row in rows:
            subject = self._subjects.get(row["subject_id"])
            if subject is None:
                continue  # a person no longer on the roster: their month stays stored, not listed
            readings = {name: Reading(*values) for name, values in json.loads(row["readings"]).items()}
            results[subject.subject_id] = Result(subject, readings, score(self.index, subject.kind, readings))
        return Evaluation(period, period.end, results, kept_at=as_utc(rows[0]["kept_at"]))


def open_evaluation(engine: Engine, grids: GridIndex, roster: Roster, rules: Rules | None = None,
                    index_path: Path = DATA_FILE) -> EvaluationService:
    """The index over the record, with each community officer's time in community from their kept positions."""
    presence_rules = rules or Rules()
    return EvaluationService(
        engine, grids, roster, load(index_path, known_measures=MEASURES),
        presence=lambda period, now: time_in_community(engine, roster, period, now, presence_rules))


def _key(period: Period) -> str:
    local = clock.local(period.start)
    return f"month:{local.year:04d}-{local.month:02d}"


def _merged(parts: list[Rows]) -> Rows:
    """The rows of several grids as one scope's (no live device health: scores are of the record)."""
    merged = Rows([], [], [], [])
    for part in parts:
        for name in ("incidents", "instructions", "leads", "alerts", "queue", "pending", "tasks", "visits",
                     "escalations", "notices", "mediation", "kept"):
            getattr(merged, name).extend(getattr(part, name))
    return merged


def readings_of(result: Result) -> dict[str, Any]:
    """A result's readings as plain values (tests and the page compare them)."""
    return {name: (r.value, r.numerator, r.denominator) for name, r in result.readings.items()}
