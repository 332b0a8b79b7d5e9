"""The sensor pages: what is down (the maintenance list, by compound and site), false-alarm rates, weekly statistics.

The maintenance list and its summary come from one evaluation of :meth:`DeviceHealth.maintenance`,
the same definition the health monitor publishes for the wall, so the page's online rate and
the wall's agree. Filters are a plain GET form (the page's CSP allows no inline script).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

from flask import Blueprint, render_template, request

import clock
from auth.guard import guard
from auth.roles import Permission, Viewer
from auth.web import template_values
from geo.devices import HEARTBEAT_INTERVAL_S, DeviceRegistry
from geo.index import GridIndex
from i18n import rate_text, text
from sensors.health import SILENT_INTERVALS, DeviceHealth, Health
from sensors.stats import weekly
from urls import URL

HEALTH_FILTERS = ("down", "offline", "faulty", "awaiting", "all")  # "down": to repair, the default
SHOWN_BY_FILTER = {"down": {"offline", "faulty"}, "offline": {"offline"}, "faulty": {"faulty"},
                   "awaiting": {"awaiting"}, "all": {"offline", "faulty", "awaiting"}}
DEVICE_TYPES = tuple(HEARTBEAT_INTERVAL_S)
MAX_TEXT = 64  # a search longer than any compound, grid or site name is a mistake, not a query


def since_text(epoch: float | None, today: date) -> str:
    """Beijing time of ``epoch``: the time alone today, with its date on other days."""
    if epoch is None:
        return "—"
    local = clock.local(datetime.fromtimestamp(epoch, UTC))
    return local.strftime("%H:%M" if local.date() == today else "%Y-%m-%d %H:%M")


@dataclass(frozen=True)
class Filters:
    """What the officer narrowed the list to (query string; unknown values fall back to no filter)."""

    health: str = "down"
    type: str = ""
    station: str = ""
    grid: str = ""
    q: str = ""

    @classmethod
    def from_args(cls, args: Mapping[str, str], stations: set[str]) -> Filters:
        health = args.get("health", "")
        kind = args.get("type", "")
        station = args.get("station", "")
        return cls(health=health if health in HEALTH_FILTERS else "down",
                   type=kind if kind in DEVICE_TYPES else "",
                   station=station if station in stations else "",
                   grid=args.get("grid", "").strip().upper()[:MAX_TEXT],
                   q=args.get("q", "").strip()[:MAX_TEXT])

    @property
    def active(self) -> bool:
        return self != Filters()


@dataclass
class Group:
    """The devices of one compound, or of one site (site kind in a grid), not online."""

    key: str
    label: str
    grid: str
    station: str
    counts: dict[str, int] = field(default_factory=lambda: dict.fromkeys(("offline", "faulty", "awaiting"), 0))
    rows: list[dict[str, Any]] = field(default_factory=list)

    @property
    def down(self) -> int:
        return self.counts["offline"] + self.counts["faulty"]


def group_devices(rows: list[dict[str, Any]], filters: Filters, stations: Mapping[str, tuple[str, str]],
                  language: str, today: date) -> list[Group]:
    """``rows`` (devices not online) by compound and by site, as ``filters`` narrow them.

    A group's counts cover all its devices that pass the place and type filters, whatever
    their state (the context a repair crew wants); its rows are those the state filter shows.
    """
    shown = SHOWN_BY_FILTER[filters.health]
    needle = filters.q.casefold()
    groups: dict[str, Group] = {}
    for row in rows:
        station_code, station_name = stations.get(row["grid"], ("", ""))
        if ((filters.type and row["type"] != filters.type) or (filters.station and station_code != filters.station)
                or (filters.grid and row["grid"] != filters.grid)):
            continue
        if row["compound"]:
            key, label = f"compound:{row['compound']}", text("sensors.group.compound", language,
                                                            compound=row["compound"])
        else:
            site = text(f"site.{row['site_kind']}", language) if row["site_kind"] else ""
            key, label = f"site:{row['site_kind']}:{row['grid']}", text("sensors.group.site", language,
                                                                       site=site, grid=row["grid"])
        if needle and not any(needle in value.casefold() for value in
                              (label, row["compound"] or "", row["grid"], row["device_id"], station_name)):
            continue
        group = groups.setdefault(key, Group(key, label, row["grid"], station_name))
        group.counts[row["health"]] += 1
        if row["health"] in shown:
            group.rows.append(row | {"since_text": since_text(row["since"], today),
                                     "where": _where(row, language)})
    kept = [g for g in groups.values() if g.rows]
    # Most to repair first (faulty breaks ties: someone reported it), then by name.
    return sorted(kept, key=lambda g: (-g.down, -g.counts["faulty"], -len(g.rows), g.label))


def _where(row: dict[str, Any], language: str) -> str:
    """Where in its compound a device is (building, floor or entrance); sites have no finer place."""
    if not row["compound"]:
        return ""
    where = text("alert.place.building", language, building=row["building"])
    if row["floor"] is not None:
        where += text("alert.place.floor", language, floor=row["floor"])
    elif row["entrance"] is not None:
        where += text("sensors.place.entrance", language, entrance=row["entrance"])
    return where


def blueprint(health: DeviceHealth, devices: DeviceRegistry, language: str,
             grids: GridIndex | None = None) -> Blueprint:
    routes = Blueprint("sensors", __name__)
    grids = grids or GridIndex()  # the station of each grid, for the station filter and the group headings
    station_of = {code: (grid.station, grid.localized("station", language))
                  for code in {d.grid for d in devices.devices.values()} if (grid := grids.get(code)) is not None}
    stations = sorted(set(station_of.values()))

    @routes.get(URL.SENSORS)
    @guard(Permission.VIEW_DEVICES, "sensors.view")
    def _sensors(viewer: Viewer) -> str:
        today = clock.today()
        try:
            monday = date.fromisoformat(request.args.get("week", ""))
        except ValueError:
            monday = today
        monday -= timedelta(days=monday.weekday())
        filters = Filters.from_args(request.args, {code for code, _ in stations})
        state = health.maintenance()
        groups = group_devices(state.down + state.awaiting, filters, station_of, language, today)
        week = clock.Period.calendar_week(monday)
        start, end = week.start, week.end
        stats = weekly(health.engine, devices, start, end, down_now={d["device_id"] for d in state.down})
        return render_template(
            "sensors.html", **template_values(language, viewer), down=state.down, summary=state.summary,
            rate=rate_text(state.summary["rate"]), watch_since=since_text(state.watch_start, today),
            intervals=SILENT_INTERVALS, groups=groups, filters=filters, stations=stations, types=DEVICE_TYPES,
            health_filters=HEALTH_FILTERS, health_states=[h.value for h in Health if h is not Health.ONLINE],
            shown=sum(len(g.rows) for g in groups), rates=health.false_alarm_rates(since=start)[:30], stats=stats,
            readings=[row | {"last_text": since_text(row["last_at"], today)}
                      for row in health.readings_kept(start, end)[:30]],
            week=monday.isoformat(), previous=(monday - timedelta(days=7)).isoformat(),
            following=(monday + timedelta(days=7)).isoformat())

    return routes
