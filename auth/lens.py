"""What a viewer may see of pushed events: their station's grids, callers masked or withheld."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from auth.roles import Permission, Viewer
from bus.events import Live, mask_caller
from push.hub import Lens


def lens_for(viewer: Viewer, station_of: Callable[[str], str | None]) -> Lens | None:
    """The viewer's lens over live events (``None``: sees them as published).

    Published events already carry callers masked; a role without
    ``VIEW_CALLERS_MASKED`` (the big screen) gets no caller field at all, and a
    role without ``VIEW_ALL_STATIONS`` gets only events in its station's grids. A
    role without the map gets only its own tasks: a grid worker its grids', a volunteer those handed to them.
    """
    if not viewer.can(Permission.VIEW_MAP):
        # A phone follows its own tasks, and nothing else of the hall's picture.
        def phone_lens(kind: str, data: dict[str, Any]) -> dict[str, Any] | None:
            return data if kind == Live.GRID_TASK and viewer.takes_steps_of(data) else None

        return phone_lens
    all_stations = viewer.can(Permission.VIEW_ALL_STATIONS)
    callers = viewer.can(Permission.VIEW_CALLERS_MASKED)
    if all_stations and callers:
        return None

    def lens(kind: str, data: dict[str, Any]) -> dict[str, Any] | None:
        if kind == "indicators" and not all_stations:
            # A station's officers see their station's figures, not the district's or other stations'.
            scopes = data.get("scopes", {})
            return {**data, "scopes": {viewer.station: scopes[viewer.station]} if viewer.station in scopes else {}}
        if kind == Live.SUMMARY and not all_stations:
            # The Monday summary: whether their own station is below target, not who else is.
            return {**data, "below": [b for b in data.get("below", []) if b.get("station") == viewer.station]}
        grid = data.get("grid")
        if not all_stations and grid is not None and not viewer.sees_station(station_of(str(grid))):
            return None
        if not all_stations and grid is None and data.get("station") and data["station"] != viewer.station:
            return None  # a station's own item without a grid (an escalated rectification notice)
        if not callers and "caller" in data:
            return {k: v for k, v in data.items() if k != "caller"}
        return data

    return lens


def shown_caller(viewer: Viewer, caller: str | None) -> str | None:
    """A caller's number in full, masked, or not at all, by the viewer's role."""
    if viewer.can(Permission.VIEW_PERSONAL_DATA):
        return caller
    return mask_caller(caller) if viewer.can(Permission.VIEW_CALLERS_MASKED) else None
