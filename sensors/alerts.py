"""Sensor alerts from the duty officer's side: the queue, verification, notification.

An alert (a ``sensor_events`` row of kind ``alert``) reaches every duty officer's
screen as it is ingested and must be verified within ``verify_within_s`` (60 s,
data/scenarios.json). The officer's verdict is one of:

- ``dispatched``: the alert becomes an incident (source ``sensor``) that the
  dispatch panel opens at once; the grid worker (and the compound's property
  manager) are told;
- ``to_grid_worker``: not a police matter yet; the grid worker is asked to look,
  and gets a task with its clocks (:mod:`gridwork.tasks`);
- ``false_alarm``: dismissed, with a reason (kept for the device's false-alarm rate);
  a task the alert made is called off.

A compound device's alert of a scenario marked ``notify_at_once`` (smoke, a throw
from height, a forced door: data/scenarios.json) is sent to the grid worker and
the property manager as it reaches the queue (:meth:`AlertService.notify_at_once`,
in the consumer's transaction), with place, device type and risk, and the grid
worker gets the task to go and look at once; the verdict
then follows up with the same people, a false alarm included. Other alerts tell
the grid only with a verdict that needs someone there.

One verdict per alert: the verdict row's primary key is the lock, so two
officers clicking at once get one verdict and one "already verified". The
verdict, the incident, the notifications, the audit record and the screens'
update commit in one transaction (screens and the SMS gateway are fed through
the outbox).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from sqlalchemy import Connection, Engine, Select, and_, exists, insert, select
from sqlalchemy.dialects import postgresql, sqlite

import clock
from bus.events import Live, alert_payload, incident_payload
from bus.outbox import queue_event
from geo.devices import Device, DeviceRegistry
from geo.index import GridIndex
from geo.scenarios import notifies_at_once, scenarios, verify_within_s
from gridwork.tasks import TaskKind, TaskService
from i18n import text
from sensors.notify import Notification, Notifier, OutboxNotifier
from store import audit
from store.db import alert_verifications, as_utc, incidents, notifications, sensor_events

OPEN_WINDOW = timedelta(hours=24)  # older unverified alerts leave the screen (they stay in the record)
MAX_REASON = 200


class Verdict(StrEnum):
    DISPATCHED = "dispatched"
    TO_GRID_WORKER = "to_grid_worker"
    FALSE_ALARM = "false_alarm"


class AlertRefused(ValueError):
    """A verdict that cannot be given (the message says why, in the user's language)."""


@dataclass(frozen=True)
class VerdictResult:
    verdict: Verdict
    incident_id: str | None
    seconds: float  # from the alert reaching the screen to the verdict
    late: bool



def unverified_alerts(asof: datetime, query: Select[Any]) -> Select[Any]:
    """``query`` narrowed to the alert queue at ``asof``: alerts of the day before it without a verdict by then.

    The one definition of "unverified alerts": the queue on the screens, every count of it, and
    what a report says was still waiting at its period's end.
    """
    verdict = and_(alert_verifications.c.event_id == sensor_events.c.event_id,
                   alert_verifications.c.verified_at <= asof)
    return (query.select_from(sensor_events.outerjoin(alert_verifications, verdict))
            .where(and_(sensor_events.c.kind == "alert", sensor_events.c.ingested_at >= asof - OPEN_WINDOW,
                        sensor_events.c.ingested_at <= asof, alert_verifications.c.event_id.is_(None))))


@dataclass
class AlertService:
    """Verify sensor alerts and tell the people in the grid.

    Parameters
    ----------
    engine : sqlalchemy.Engine
        The system of record.
    devices, grids : DeviceRegistry, GridIndex
        Where each device is, who works each grid.
    relay : callable
        Publishes the outbox after a commit (the dispatch service's relay).
    notifier : Notifier
        How grid workers and property managers are told (default: ``{cc}:out:notify``).
    tasks : TaskService, optional
        Makes the grid worker's task when an alert goes to the grid (none: no tasks are made).
    """

    engine: Engine
    devices: DeviceRegistry
    grids: GridIndex
    relay: Callable[[], int] = lambda: 0
    notifier: Notifier = field(default_factory=OutboxNotifier)
    tasks: TaskService | None = None
    language: str = "zh-CN"
    clock: Callable[[], datetime] = field(default=clock.now)

    def __post_init__(self) -> None:
        self._insert = postgresql.insert if self.engine.dialect.name == "postgresql" else sqlite.insert

    def open_alerts(self, limit: int = 500) -> list[dict[str, Any]]:
        """The alert queue as screens show it: unverified alerts of the last day, oldest first."""
        query = unverified_alerts(self.clock(), select(sensor_events))
        query = query.order_by(sensor_events.c.ingested_at).limit(limit)
        with self.engine.connect() as conn:
            rows = conn.execute(query).mappings().all()
        return [alert_payload(dict(row), self.devices.get(row["device_id"])) for row in rows]

    def verify(self, event_id: str, verdict: Verdict | str, actor: str, reason: str = "") -> VerdictResult:
        """Record the officer's verdict on one alert (see the module docstring)."""
        verdict = Verdict(verdict)
        reason = reason.strip()[:MAX_REASON]
        if verdict is Verdict.FALSE_ALARM and not reason:
            raise AlertRefused(text("alert.refused.reason", self.language))
        now = self.clock()
        with self.engine.begin() as conn:
            row = conn.execute(select(sensor_events).where(and_(
                sensor_events.c.event_id == event_id, sensor_events.c.kind == "alert"))).mappings().first()
            if row is None:
                raise AlertRefused(text("alert.refused.unknown", self.language))
            alert = dict(row)
            device = self.devices.get(alert["device_id"])
            received = as_utc(alert["ingested_at"])
            seconds = max(0.0, (now - received).total_seconds())
            incident_id = f"ALR-{event_id}"[:64] if verdict is Verdict.DISPATCHED else None
            won = conn.execute(self._insert(alert_verifications).on_conflict_do_nothing(index_elements=["event_id"])
                               .returning(alert_verifications.c.event_id), [{
                                   "event_id": event_id, "verdict": verdict.value, "verified_at": now,
                                   "verified_by": actor, "seconds_to_verify": seconds, "reason": reason,
                                   "incident_id": incident_id}]).scalars().all()
            if not won:
                conn.rollback()
                raise AlertRefused(self._already(event_id))
            if verdict is Verdict.DISPATCHED and device is not None:
                self._raise_incident(conn, incident_id or "", alert, device, now)
            # Whoever heard of the alert at once hears how it ended; otherwise only a verdict that needs them.
            told = conn.execute(select(exists().where(notifications.c.ref == event_id))).scalar_one()
            if device is not None and (told or verdict is not Verdict.FALSE_ALARM):
                self._notify(conn, alert, device, verdict.value, now)
            if device is not None and verdict is Verdict.TO_GRID_WORKER:
                self._task(conn, alert, device, actor, now)
            elif self.tasks is not None and verdict is Verdict.FALSE_ALARM:
                self.tasks.withdraw(conn, TaskKind.ALERT, event_id, actor, reason, now)
            # The snapshot is the verdict's evidence: its hash names the kept picture for good.
            evidence = f" snapshot={alert['snapshot']}" if alert.get("snapshot") else ""
            audit.append(conn, actor, f"alert.{verdict.value}", target=event_id,
                         detail=f"device={alert['device_id']} seconds={seconds:.0f}{evidence} {reason}", at=now)
            queue_event(conn, Live.ALERT_VERIFIED, {
                "event_id": event_id, "verdict": verdict.value, "verified_by": actor, "seconds": round(seconds, 1),
                "incident_id": incident_id})
        self.relay()
        return VerdictResult(verdict, incident_id, seconds, late=seconds > verify_within_s())

    def notify_at_once(self, conn: Connection, alerts: list[dict[str, Any]], now: datetime) -> int:
        """Tell the grid worker and property manager of each compound alert that notifies at once, in ``conn``'s
        transaction (the consumer's, which keeps the alerts). Returns how many messages were queued."""
        queued = 0
        for alert in alerts:
            device = self.devices.get(alert["device_id"])
            if device is None or not notifies_at_once(alert["scenario"], device.compound):
                continue
            queued += self._notify(conn, alert, device, "alert", now)
            self._task(conn, alert, device, "system", now)
        return queued

    def snapshot_visible(self, sha256: str, may_see_grid: Callable[[str], bool]) -> bool:
        """Whether a picture is an alert's snapshot from a grid ``may_see_grid`` allows (the media route asks)."""
        with self.engine.connect() as conn:
            grids = conn.execute(select(sensor_events.c.grid).where(sensor_events.c.snapshot == sha256)
                                 .distinct()).scalars().all()
        return any(grid is not None and may_see_grid(grid) for grid in grids)

    def snapshot_of(self, incident_id: str) -> str | None:
        """The snapshot of the alert an incident was raised from (the incident's evidence), if it had one."""
        with self.engine.connect() as conn:
            return conn.execute(select(sensor_events.c.snapshot).join(
                alert_verifications, alert_verifications.c.event_id == sensor_events.c.event_id).where(
                alert_verifications.c.incident_id == incident_id)).scalar()

    # -- internals -------------------------------------------------------------

    def _already(self, event_id: str) -> str:
        with self.engine.connect() as conn:
            done = conn.execute(select(alert_verifications).where(alert_verifications.c.event_id == event_id)
                                ).mappings().one()
        return text("alert.refused.already", self.language, officer=done["verified_by"],
                    verdict=text(f"alert.verdict.{done['verdict']}", self.language))

    def _raise_incident(self, conn: Connection, incident_id: str, alert: dict[str, Any], device: Device,
                        now: datetime) -> None:
        scenario = scenarios()[alert["scenario"]]
        row = {
            "event_id": incident_id, "stream_id": alert["stream_id"], "reported_at": as_utc(alert["observed_at"]),
            "ingested_at": now, "lon": device.lon, "lat": device.lat, "grid": device.grid,
            "category": scenario["category"], "priority": int(scenario["risk"]),
            "address": self.place(device), "description": self.summary(alert, device), "caller": None,
            "source": "sensor", "status": "new",
        }
        conn.execute(insert(incidents).values(row))
        queue_event(conn, Live.INCIDENT, incident_payload(row))

    def _notify(self, conn: Connection, alert: dict[str, Any], device: Device, message: str,
                now: datetime) -> int:
        """Send the ``notify.<message>`` text about ``alert`` to its grid worker (and compound's property manager)."""
        grid = self.grids.get(device.grid)
        place, what = self.place(device), self.summary(alert, device)
        recipients = [("grid_worker", grid.localized("worker", self.language) if grid else device.grid)]
        if device.compound:
            recipients.append(("property_manager", text("notify.property_manager", self.language,
                                                        compound=device.compound)))
        risk = text(f"alert.risk.{scenarios()[alert['scenario']]['risk']}", self.language)
        body = text(f"notify.{message}", self.language, place=place, what=what, risk=risk,
                    time=_beijing(as_utc(alert["observed_at"])), ref=alert["event_id"])
        for role, recipient in recipients:
            self.notifier.send(conn, Notification(role, recipient, device.grid, alert["event_id"], body), now)
        return len(recipients)

    def _task(self, conn: Connection, alert: dict[str, Any], device: Device, actor: str, now: datetime) -> None:
        """The grid worker's task to go and look (the same one if the alert already made it)."""
        if self.tasks is not None:
            self.tasks.create(conn, TaskKind.ALERT, alert["event_id"], device.grid,
                              f"{self.place(device)} {self.summary(alert, device)}", actor, now,
                              site=(device.lon, device.lat))

    def place(self, device: Device) -> str:
        """Where the device is, as a person would say it."""
        grid = self.grids.get(device.grid)
        area = grid.localized("name", self.language) if grid else device.grid
        if device.compound:
            spot = text("alert.place.compound", self.language, compound=device.compound, building=device.building)
            if device.floor:
                spot += text("alert.place.floor", self.language, floor=device.floor)
            return f"{area} {spot}"
        return f"{area} {text(f'site.{device.site_kind}', self.language)}"

    def summary(self, alert: dict[str, Any], device: Device) -> str:
        what = text(f"scenario.{alert['scenario']}", self.language)
        device_type = text(f"device.{device.type}", self.language)
        value = f" {alert['value']:g}" if alert.get("value") is not None else ""
        return f"{what}{value} ({device_type} {device.device_id})"


def _beijing(value: datetime) -> str:
    return clock.local(value).strftime("%H:%M")

