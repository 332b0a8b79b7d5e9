"""Grid workers' tasks: what the hall passes to a grid, the clocks they run against, and the breaches.

A task is made in the transaction of the act that causes it, one per cause (``kind``, ``ref``):

- the duty officer's verdict "to the grid worker" on a sensor alert (kind ``alert``);
- a compound alert of a scenario that notifies at once, as it reaches the queue (kind ``alert``:
  the verdict on it later finds the same task);
- a medium lead or a hazard passed to the grid (kinds ``lead``, ``hazard``).

It goes to the grid's worker (the grid data names one per grid), who may hand it once to one of the
grid's volunteers (the "N" of its 1+1+N team): the volunteer then takes its steps too, while its clocks
still count against the grid worker, who stays answerable for it::

    assigned → accepted → on_scene → reported
    assigned / accepted / on_scene → returned     ("cannot handle": back to the station, with a reason)
    assigned / accepted / on_scene → withdrawn    (the hall called it off: the alert was a false alarm)

Steps may be skipped (arriving without accepting first) but never taken back; a repeat, or a step the
task has moved past, changes nothing; a finished task refuses anything else. Who may take a step (the
grid's own worker) is the caller's check.

Evidence: up to :data:`MAX_PHOTOS` photos per open task, each checked and cleaned (:mod:`media.photos`)
and kept by content hash in the media store; an alert's result needs at least one ("photo + note").

Clocks, each amber from 80% of its budget and red when breached (:mod:`deadlines`):

- *on scene*, for alerts: 5 minutes from the task, 15 in the zones the setting ``GRID_TASK_SLOW_ZONES``
  names (the outer suburbs, ``rural``, by default);
- *result* (photo and note): 1 hour from arrival for alerts, 4 hours from the task for medium leads,
  24 hours for hazards.

A breach counts once per missed step, against the grid worker, the grid and its station; a task
handed back or called off before a deadline did not miss it.
"""

from __future__ import annotations

import math
import secrets
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from sqlalchemy import Connection, Engine, and_, insert, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite

import clock
import deadlines
from bus.events import Live, iso
from bus.outbox import queue_event
from clock import Period
from geo.index import GridIndex
from media.photos import CONTENT_TYPE, clean
from media.store import MediaStore, Variant, key_of
from store import audit
from store.db import as_utc, grid_task_events, grid_task_photos, grid_tasks


class TaskKind(StrEnum):
    ALERT = "alert"  # a sensor alert: go and look (smoke: find the source; a throw: find who, keep evidence)
    LEAD = "lead"  # a medium early-warning lead
    HAZARD = "hazard"  # a medium or low hazard, solved on site


class TaskState(StrEnum):
    ASSIGNED = "assigned"
    ACCEPTED = "accepted"
    ON_SCENE = "on_scene"
    REPORTED = "reported"
    RETURNED = "returned"
    WITHDRAWN = "withdrawn"


PATH = (TaskState.ASSIGNED, TaskState.ACCEPTED, TaskState.ON_SCENE, TaskState.REPORTED)
OPEN = frozenset(PATH[:-1])
TERMINAL = frozenset({TaskState.REPORTED, TaskState.RETURNED, TaskState.WITHDRAWN})

ON_SCENE_MINUTES = 5
ON_SCENE_MINUTES_SLOW = 15  # in the zones named by GRID_TASK_SLOW_ZONES
# The result's budget: from arrival for alerts (photo + note within the hour), from the task otherwise.
RESULT_BUDGET = {TaskKind.ALERT: timedelta(hours=1), TaskKind.LEAD: timedelta(hours=4),
                 TaskKind.HAZARD: timedelta(hours=24)}
STEPS = (("on_scene_at", "on_scene_due"), ("reported_at", "result_due"))  # (done, due) pairs
MAX_TEXT = 500
MAX_PHOTOS = 3
FINISHED_SHOWN = timedelta(hours=1)  # the hall's list keeps a finished task this long (FINISHED_SHOWN_MS in the page)
BOARD_LIMIT = 500


class TaskRefused(ValueError):
    """A step that cannot be taken on a task: the message says why, ``reason`` names it for the phone
    (``phone.refused.<reason>``)."""

    def __init__(self, message: str, reason: str = "finished") -> None:
        super().__init__(message)
        self.reason = reason


@dataclass(frozen=True)
class Step:
    """What a step did: ``changed`` is false for a repeat or a step the task has moved past."""

    task: dict[str, Any]
    changed: bool


def on_scene_budget(zone: str, slow_zones: Iterable[str]) -> timedelta:
    return timedelta(minutes=ON_SCENE_MINUTES_SLOW if zone in set(slow_zones) else ON_SCENE_MINUTES)


def metres_between(lon1: float, lat1: float, lon2: float, lat2: float) -> float:
    """Great-circle distance in metres."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * 6_371_000 * math.asin(math.sqrt(a))


def task_payload(row: Mapping[str, Any], far_m: float) -> dict[str, Any]:
    """A task as screens and phones receive it (``grid`` lets the lens keep it to its station)."""
    distance = row.get("on_scene_distance_m")
    return {
        "task_id": row["task_id"], "kind": row["kind"], "ref": row["ref"], "grid": row["grid"],
        "station": row["station"], "worker": row["worker"], "zone": row["zone"], "lon": row["lon"],
        "lat": row["lat"], "summary": row["summary"], "state": row["state"],
        "created_at": iso(row["created_at"]), "on_scene_due": iso(row["on_scene_due"]),
        "result_due": iso(row["result_due"]), "accepted_at": iso(row["accepted_at"]),
        "on_scene_at": iso(row["on_scene_at"]), "reported_at": iso(row["reported_at"]),
        "ended_at": iso(row["ended_at"]), "outcome": row["outcome"],
        "far": distance is not None and distance > far_m,
        "distance_m": round(distance) if distance is not None else None,
        "photos": photos_of(row), "volunteer": row.get("volunteer"),
    }


def photos_of(row: Mapping[str, Any]) -> list[str]:
    """The content hashes of a task's photos, in the order they came."""
    return [sha for sha in str(row.get("photos") or "").split(",") if sha]


def is_open(row: Mapping[str, Any], asof: datetime) -> bool:
    """Whether a task was made and not yet reported or handed back at ``asof``."""
    ended = deadlines.at(row, "reported_at") or deadlines.at(row, "ended_at")
    return as_utc(row["created_at"]) <= asof and (ended is None or ended > asof)


def breached(row: Mapping[str, Any], since: datetime, asof: datetime) -> bool:
    """Whether a task missed a step whose deadline fell in ``[since, asof)`` (:func:`deadlines.missed`)."""
    return deadlines.missed(row, STEPS, "ended_at", since, asof)


def missed_steps(row: Mapping[str, Any], since: datetime, asof: datetime) -> int:
    """How many of a task's steps missed a deadline in ``[since, asof)``: what a breach count adds up."""
    return sum(deadlines.missed(row, [step], "ended_at", since, asof) for step in STEPS)


def running_clock(row: Mapping[str, Any], asof: datetime) -> tuple[str, datetime, deadlines.Colour] | None:
    """The clock an open task runs against at ``asof``: (step, due, colour), or ``None`` if it has none."""
    if not is_open(row, asof):
        return None
    on_scene_due, result_due = deadlines.at(row, "on_scene_due"), deadlines.at(row, "result_due")
    arrived = deadlines.at(row, "on_scene_at")
    if on_scene_due is not None and (arrived is None or arrived > asof):
        return "on_scene", on_scene_due, deadlines.colour(as_utc(row["created_at"]), on_scene_due, asof)
    if result_due is not None:
        started = arrived if row["kind"] == TaskKind.ALERT and arrived is not None else as_utc(row["created_at"])
        return "result", result_due, deadlines.colour(started, result_due, asof)
    return None


@dataclass
class TaskService:
    """Make grid tasks, move them, and count what was late.

    Parameters
    ----------
    engine : sqlalchemy.Engine
        The system of record.
    grids : GridIndex
        Each grid's worker, station and zone.
    relay : callable
        Publishes the outbox after a commit.
    slow_zones : tuple of str
        Zones with the 15-minute on-scene clock (``GRID_TASK_SLOW_ZONES``).
    far_m : float
        An "on scene" farther than this from the site is kept but flagged (``GRID_TASK_FAR_M``).
    """

    engine: Engine
    grids: GridIndex
    relay: Callable[[], int] = lambda: 0
    slow_zones: tuple[str, ...] = ("rural",)
    far_m: float = 300.0
    language: str = "zh-CN"
    clock: Callable[[], datetime] = field(default=clock.now)
    media: MediaStore | None = None  # where photos are kept (none: photos are refused)
    # Run in a report's transaction with the reported task and who reported it (a medium lead's task handles its
    # lead).
    on_reported: list[Callable[[Connection, dict[str, Any], str, datetime], None]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._insert = postgresql.insert if self.engine.dialect.name == "postgresql" else sqlite.insert

    # -- making ---------------------------------------------------------------

    def create(self, conn: Connection, kind: TaskKind, ref: str, grid_code: str, summary: str, actor: str,
               now: datetime, site: tuple[float, float] | None = None,
               result_due: datetime | None = None) -> dict[str, Any]:
        """The task for (``kind``, ``ref``) in ``conn``'s transaction: made now, or the one a cause made before.

        ``result_due`` overrides the kind's result budget (a lead's task runs on the lead's own deadline)."""
        grid = self.grids.get(grid_code)
        zone = grid.zone if grid else "rural"
        task_id, worker = f"GT-{secrets.token_hex(6)}", grid.localized("worker", self.language) if grid else ""
        row: dict[str, Any] = {
            "task_id": task_id, "kind": kind.value, "ref": ref, "grid": grid_code,
            "station": grid.station if grid else "", "worker": worker,
            "zone": zone, "lon": site[0] if site else None, "lat": site[1] if site else None,
            "summary": summary[:MAX_TEXT], "state": TaskState.ASSIGNED.value, "created_at": now,
            "created_by": actor, "note": "", "photos": "", "volunteer": None,
            "on_scene_due": now + on_scene_budget(zone, self.slow_zones) if kind is TaskKind.ALERT else None,
            # An alert's result clock starts on arrival; the others' now.
            "result_due": result_due or (None if kind is TaskKind.ALERT else now + RESULT_BUDGET[kind]),
            **dict.fromkeys(("accepted_at", "on_scene_at", "on_scene_distance_m", "reported_at", "ended_at",
                             "outcome")),
        }
        made = conn.execute(self._insert(grid_tasks).on_conflict_do_nothing(index_elements=["kind", "ref"])
                            .returning(grid_tasks.c.task_id), [row]).scalars().all()
        if not made:
            existing = conn.execute(select(grid_tasks).where(and_(grid_tasks.c.kind == kind.value,
                                                                 grid_tasks.c.ref == ref))).mappings().one()
            return dict(existing)
        self._log(conn, task_id, now, actor, TaskState.ASSIGNED.value, worker)
        audit.append(conn, actor, "task.assigned", target=task_id,
                     detail=f"{kind.value} {ref} grid={grid_code}", at=now)
        queue_event(conn, Live.GRID_TASK, task_payload(row, self.far_m))
        return row

    # -- the grid worker's steps ----------------------------------------------

    def accept(self, task_id: str, actor: str) -> Step:
        return self._step(task_id, TaskState.ACCEPTED, actor)

    def arrive(self, task_id: str, actor: str, position: tuple[float, float] | None) -> Step:
        """On scene, with the phone's position if it gave one: far from the site is kept, and flagged."""
        return self._step(task_id, TaskState.ON_SCENE, actor, position=position)

    def report(self, task_id: str, actor: str, outcome: str, note: str) -> Step:
        note = note.strip()
        if not note:
            raise TaskRefused("a result needs a note", reason="note")
        return self._step(task_id, TaskState.REPORTED, actor, outcome=outcome.strip()[:20], note=note[:MAX_TEXT])

    def give_back(self, task_id: str, actor: str, reason: str) -> Step:
        """"Cannot handle": the task goes back to its station with the reason; its clocks stop."""
        reason = reason.strip()
        if not reason:
            raise TaskRefused("handing a task back needs a reason", reason="reason")
        return self._step(task_id, TaskState.RETURNED, actor, note=reason[:MAX_TEXT])

    def hand_to(self, task_id: str, actor: str, volunteer: str) -> Step:
        """Hand an open task to a volunteer of its grid (the caller checks they are one): once, for good."""
        now = self.clock()
        with self.engine.begin() as conn:
            row = self._row(conn, task_id)
            if row["volunteer"] == volunteer:
                return Step(row, changed=False)  # a double tap
            if TaskState(row["state"]) in TERMINAL:
                raise TaskRefused(f"task {task_id} is already {row['state']}")
            if row["volunteer"]:
                raise TaskRefused(f"task {task_id} is already with {row['volunteer']}", reason="handed")
            if not conn.execute(update(grid_tasks).where(and_(grid_tasks.c.task_id == task_id,
                                                              grid_tasks.c.volunteer.is_(None)))
                                .values(volunteer=volunteer)).rowcount:
                raise TaskRefused(f"task {task_id} was handed meanwhile", reason="handed")
            row = {**row, "volunteer": volunteer}
            self._log(conn, task_id, now, actor, "handed", volunteer)
            audit.append(conn, actor, "task.handed", target=task_id, detail=volunteer, at=now)
            queue_event(conn, Live.GRID_TASK, task_payload(row, self.far_m))
        self.relay()
        return Step(row, changed=True)

    def add_photo(self, task_id: str, actor: str, sent: bytes) -> dict[str, Any]:
        """Keep a photo for an open task: cleaned (:func:`media.photos.clean` raises
        :class:`~media.photos.PhotoRefused` for what is not a photo we keep), stored by its hash, linked to the
        task, its sender and the time. The same photo again changes nothing. Returns the task."""
        if self.media is None:
            raise TaskRefused("no media store is configured", reason="no_store")
        photo = clean(sent)
        # Stored first: a picture whose record did not commit is an unlisted file, never a listed one missing.
        self.media.put(key_of(Variant.PHOTO, photo.sha256), photo.data, CONTENT_TYPE)
        self.media.put(key_of(Variant.THUMB, photo.sha256), photo.thumb, CONTENT_TYPE)
        now = self.clock()
        with self.engine.begin() as conn:
            row = self._row(conn, task_id)
            hashes = photos_of(row)
            if photo.sha256 in hashes:
                return row
            if TaskState(row["state"]) in TERMINAL:
                raise TaskRefused(f"task {task_id} is already {row['state']}")
            if len(hashes) >= MAX_PHOTOS:
                raise TaskRefused(f"a task keeps at most {MAX_PHOTOS} photos", reason="photos_full")
            listed = ",".join([*hashes, photo.sha256])
            if not conn.execute(update(grid_tasks).where(and_(grid_tasks.c.task_id == task_id,
                                                              grid_tasks.c.photos == row["photos"]))
                                .values(photos=listed)).rowcount:
                raise TaskRefused(f"task {task_id} changed meanwhile: send the photo again", reason="retry")
            conn.execute(insert(grid_task_photos).values(
                task_id=task_id, sha256=photo.sha256, uploaded_by=actor, uploaded_at=now, bytes=len(photo.data),
                width=photo.width, height=photo.height, source_format=photo.source_format,
                location_removed=photo.location_removed))
            row = {**row, "photos": listed}
            detail = f"{photo.sha256} {photo.width}x{photo.height}" + (" location removed" if photo.location_removed
                                                                      else "")
            self._log(conn, task_id, now, actor, "photo", detail)
            audit.append(conn, actor, "task.photo", target=task_id, detail=detail, at=now)
            queue_event(conn, Live.GRID_TASK, task_payload(row, self.far_m))
        self.relay()
        return row

    def photo_visible(self, sha256: str, may_see: Callable[[Mapping[str, Any]], bool]) -> bool:
        """Whether a photo belongs to a task ``may_see`` accepts (a picture is shown only with its task)."""
        with self.engine.connect() as conn:
            rows = conn.execute(select(grid_tasks.c.grid, grid_tasks.c.station, grid_tasks.c.volunteer)
                                .join(grid_task_photos, grid_task_photos.c.task_id == grid_tasks.c.task_id)
                                .where(grid_task_photos.c.sha256 == sha256)).mappings().all()
        return any(may_see(dict(row)) for row in rows)

    def withdraw(self, conn: Connection, kind: TaskKind, ref: str, actor: str, reason: str,
                 now: datetime) -> dict[str, Any] | None:
        """Call off the open task for (``kind``, ``ref``) in ``conn``'s transaction (the hall found it a false
        alarm): its clocks stop and nothing counts as missed after now. Returns the task, if one was open."""
        found = conn.execute(select(grid_tasks).where(and_(
            grid_tasks.c.kind == kind.value, grid_tasks.c.ref == ref,
            grid_tasks.c.state.in_([s.value for s in OPEN])))).mappings().first()
        if found is None:
            return None
        return self._move(conn, dict(found), TaskState.WITHDRAWN, actor, now, note=reason[:MAX_TEXT])

    # -- reading --------------------------------------------------------------

    def get(self, task_id: str) -> dict[str, Any] | None:
        with self.engine.connect() as conn:
            row = conn.execute(select(grid_tasks).where(grid_tasks.c.task_id == task_id)).mappings().first()
        return dict(row) if row else None

    def open_tasks(self, grid: str | None = None) -> list[dict[str, Any]]:
        """Open tasks, oldest first (``grid``: one grid's)."""
        query = select(grid_tasks).where(grid_tasks.c.state.in_([s.value for s in OPEN]))
        if grid is not None:
            query = query.where(grid_tasks.c.grid == grid)
        with self.engine.connect() as conn:
            rows = conn.execute(query.order_by(grid_tasks.c.created_at)).mappings().all()
        return [dict(r) for r in rows]

    def board(self) -> list[dict[str, Any]]:
        """What the hall's task list starts from: every open task and those finished in the last hour, as
        payloads, oldest first (pushed events keep it current after that)."""
        since = self.clock() - FINISHED_SHOWN
        with self.engine.connect() as conn:
            rows = conn.execute(select(grid_tasks).where(or_(
                grid_tasks.c.state.in_([s.value for s in OPEN]), grid_tasks.c.reported_at >= since,
                grid_tasks.c.ended_at >= since)).order_by(grid_tasks.c.created_at).limit(BOARD_LIMIT)).mappings().all()
        return [task_payload(dict(row), self.far_m) for row in rows]

    def log_for(self, task_id: str) -> list[dict[str, Any]]:
        with self.engine.connect() as conn:
            rows = conn.execute(select(grid_task_events).where(grid_task_events.c.task_id == task_id)
                                .order_by(grid_task_events.c.at, grid_task_events.c.id)).mappings().all()
        return [dict(r) for r in rows]

    def breaches(self, period: Period, asof: datetime | None = None) -> dict[str, Counter[str]]:
        """Missed steps with a deadline in ``period`` (up to ``asof``), counted per ``worker``, ``grid`` and
        ``station``."""
        end = min(period.end, asof or self.clock())
        with self.engine.connect() as conn:
            rows = conn.execute(select(grid_tasks).where(or_(
                and_(grid_tasks.c.on_scene_due >= period.start, grid_tasks.c.on_scene_due < end),
                and_(grid_tasks.c.result_due >= period.start, grid_tasks.c.result_due < end)))).mappings().all()
        counts: dict[str, Counter[str]] = {"worker": Counter(), "grid": Counter(), "station": Counter()}
        for row in rows:
            missed = missed_steps(dict(row), period.start, end)
            for scope in counts:
                if missed:
                    counts[scope][str(row[scope])] += missed
        return counts

    # -- internals ------------------------------------------------------------

    def _step(self, task_id: str, target: TaskState, actor: str, *, position: tuple[float, float] | None = None,
              outcome: str | None = None, note: str = "") -> Step:
        now = self.clock()
        with self.engine.begin() as conn:
            row = self._row(conn, task_id)
            current = TaskState(row["state"])
            if target == current or (target in PATH and current in PATH and PATH.index(target) < PATH.index(current)):
                return Step(row, changed=False)  # a repeat, or a step the task has moved past
            if current in TERMINAL:
                raise TaskRefused(f"task {task_id} is already {current.value}")
            moved = self._move(conn, row, target, actor, now, position=position, outcome=outcome, note=note)
            if moved is None:  # another step won the race: this one changes nothing
                conn.rollback()
                return Step(row, changed=False)
        self.relay()
        return Step(moved, changed=True)

    def _row(self, conn: Connection, task_id: str) -> dict[str, Any]:
        found = conn.execute(select(grid_tasks).where(grid_tasks.c.task_id == task_id)).mappings().first()
        if found is None:
            raise TaskRefused(f"no task {task_id}", reason="unknown")
        return dict(found)

    def _move(self, conn: Connection, row: dict[str, Any], target: TaskState, actor: str, now: datetime, *,
              position: tuple[float, float] | None = None, outcome: str | None = None,
              note: str = "") -> dict[str, Any] | None:
        """Move an open task to ``target`` in ``conn``'s transaction; ``None`` if it moved meanwhile."""
        changes: dict[str, Any] = {"state": target.value}
        detail = note
        if target is TaskState.ACCEPTED:
            changes["accepted_at"] = now
        elif target is TaskState.ON_SCENE:
            changes["on_scene_at"] = now
            if row["kind"] == TaskKind.ALERT:
                changes["result_due"] = now + RESULT_BUDGET[TaskKind.ALERT]
            if position is not None and row["lon"] is not None and row["lat"] is not None:
                changes["on_scene_distance_m"] = metres_between(position[0], position[1], row["lon"], row["lat"])
                detail = f"{changes['on_scene_distance_m']:.0f} m"
        elif target is TaskState.REPORTED:
            if row["kind"] == TaskKind.ALERT and not photos_of(row):
                raise TaskRefused("an alert's result needs a photo and a note", reason="photo_needed")
            changes.update(reported_at=now, outcome=outcome, note=note)
        else:  # handed back or called off: the clocks stop
            changes.update(ended_at=now, note=note)
        moved = conn.execute(update(grid_tasks).where(and_(grid_tasks.c.task_id == row["task_id"],
                                                            grid_tasks.c.state == row["state"]))
                             .values(**changes)).rowcount
        if not moved:
            return None
        row = {**row, **changes}
        self._log(conn, row["task_id"], now, actor, target.value, detail)
        audit.append(conn, actor, f"task.{target.value}", target=row["task_id"], detail=detail, at=now)
        queue_event(conn, Live.GRID_TASK, task_payload(row, self.far_m))
        if target is TaskState.REPORTED:
            for hook in self.on_reported:
                hook(conn, row, actor, now)
        return row

    def _log(self, conn: Connection, task_id: str, at: datetime, actor: str, action: str, detail: str) -> None:
        conn.execute(insert(grid_task_events).values(task_id=task_id, at=at, actor=actor, action=action,
                                                     detail=detail[:MAX_TEXT]))
