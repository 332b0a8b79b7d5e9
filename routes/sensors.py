"""The sensor pages: what is down (the maintenance list), false-alarm rates, weekly statistics."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone

from flask import Flask, render_template, request

from auth.guard import guard
from auth.roles import Permission, Viewer
from auth.web import template_values
from geo.devices import DeviceRegistry
from sensors.health import DeviceHealth
from sensors.stats import weekly

SENSORS = "/sensors"
BEIJING = timezone(timedelta(hours=8))


def week_bounds(monday: date) -> tuple[datetime, datetime]:
    """The Beijing-time week starting on ``monday``, as UTC instants."""
    start = datetime(monday.year, monday.month, monday.day, tzinfo=BEIJING)
    return start.astimezone(UTC), (start + timedelta(days=7)).astimezone(UTC)


def register(server: Flask, health: DeviceHealth, devices: DeviceRegistry, language: str) -> None:
    @server.get(SENSORS)
    @guard(Permission.VIEW_DEVICES, "sensors.view")
    def _sensors(viewer: Viewer) -> str:
        today = datetime.now(BEIJING).date()
        try:
            monday = date.fromisoformat(request.args.get("week", ""))
        except ValueError:
            monday = today
        monday -= timedelta(days=monday.weekday())
        down = health.maintenance_list()
        start, end = week_bounds(monday)
        stats = weekly(health.engine, devices, start, end, down_now={d["device_id"] for d in down})
        return render_template("sensors.html", **template_values(language, viewer), down=down,
                               rates=health.false_alarm_rates(since=start)[:30], stats=stats,
                               week=monday.isoformat(), previous=(monday - timedelta(days=7)).isoformat(),
                               following=(monday + timedelta(days=7)).isoformat())
