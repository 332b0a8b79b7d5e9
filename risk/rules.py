"""The early-warning rules: thirteen, each configurable (threshold, window, level, on/off) in data/risk.json.

Each rule reads the run's :class:`~risk.model.History` and returns
:class:`Finding` s. A finding's ``key`` names the rule, the place, person or device and the
(Beijing) day: a run that finds the same thing again the same day (a second
run, the daily run after an instant check, a household calling a third time)
makes no second lead; the next day's finding is a new lead.

=================  ================================================================
growth             a grid's incidents up more than ``threshold`` (30%) on the previous
                   window of the same length (at least ``min_count`` now); high above 100%
repeat_location    the same place (normalised address, or the same kind of incident within
                   ``radius_m``) reported ``threshold`` (3) or more times in ``window_days``
family_repeat      the same household (same number or same normalised address) calling again about a
                   family dispute (instant)
repeat_caller      one number calling ``threshold`` times about anything in a week (instant)
dispute_cluster    disputes (neighbour, family, wage, bride price) piling up in one grid
night_noise        noise complaints between 22:00 and 06:00 in one grid
wage_arrears       wage-arrears disputes repeating in one grid (collective unrest)
bride_price        bride-price disputes repeating in one grid
fight_escalation   fights repeating in one grid
fraud_wave         fraud reports clustering in one grid
sensor_repeat      one device alerting again and again (false alarms excluded)
compound_offline   several devices down in one old compound
wedding_crowding   crowd alerts repeating at wedding venues
=================  ================================================================
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, NamedTuple

import numpy as np
import pandas as pd
from scipy.spatial import cKDTree

from geo.address import household_key, names_one_household
from geo.address import normalise_address as normalise_address  # where indicators and older callers import it
from geo.devices import DeviceRegistry
from risk.model import BEIJING_OFFSET, History
from sensors.health import DOWN

DISPUTES = ("neighbour_dispute", "family_dispute", "wage_arrears", "bride_price")


@dataclass(frozen=True)
class Finding:
    """One finding of one rule."""

    rule: str
    grid: str
    level: str  # high / medium
    key: str  # what makes it the same warning on another run
    evidence: tuple[str, ...]  # event ids, oldest first
    facts: dict[str, Any] = field(default_factory=dict)  # for the lead's summary text


@dataclass(frozen=True)
class Context:
    history: History
    now: datetime
    devices: DeviceRegistry | None = None
    device_health: dict[str, str] = field(default_factory=dict)  # device_id -> awaiting / offline / faulty


Rule = Callable[[Context, dict[str, Any]], list[Finding]]


def run_rules(context: Context, config: dict[str, Any]) -> list[Finding]:
    """Every enabled rule over ``context``."""
    found: list[Finding] = []
    for name, settings in config["rules"].items():
        if settings.get("enabled", True):
            found += RULES[name](context, {**settings, "name": name})
    return found


# -- helpers ------------------------------------------------------------------------

def _recent(context: Context, days: float, categories: tuple[str, ...] | None = None) -> pd.DataFrame:
    inc = context.history.incidents
    now = pd.Timestamp(context.now).tz_convert("UTC")
    mask = (inc["reported_at"] > now - pd.Timedelta(days=days)) & (inc["reported_at"] <= now)
    if categories:
        mask &= inc["category"].isin(categories)
    return inc[mask]


def _per_grid(context: Context, cfg: dict[str, Any], categories: tuple[str, ...],
              extra: Callable[[pd.DataFrame], pd.Series] | None = None) -> list[Finding]:
    """``threshold`` or more incidents of ``categories`` in one grid within the window."""
    recent = _recent(context, cfg["window_days"], categories)
    if extra is not None and len(recent):
        recent = recent[extra(recent)]
    warnings = []
    for grid, group in recent.groupby("grid"):
        if len(group) >= cfg["threshold"]:
            warnings.append(_warning(context, cfg, str(grid), group, count=len(group), days=cfg["window_days"]))
    return warnings


def _warning(context: Context, cfg: dict[str, Any], grid: str, group: pd.DataFrame, subject: str = "",
             level: str | None = None, **facts: Any) -> Finding:
    ordered = group.sort_values("reported_at")
    evidence = tuple(str(e) for e in ordered["event_id"])
    return Finding(cfg["name"], grid, level or cfg["level"], _key(context, cfg, grid, subject), evidence, facts)


def _key(context: Context, cfg: dict[str, Any], grid: str, subject: str) -> str:
    return finding_key(context.now, cfg, grid, subject)


def finding_key(now: datetime, cfg: dict[str, Any], grid: str, subject: str) -> str:
    day = (now.astimezone(UTC) + BEIJING_OFFSET.to_pytimedelta()).date().isoformat()
    return f"{cfg['name']}:{grid}:{subject}:{day}"


def _caller_key(caller: str) -> str:
    return hashlib.sha256(caller.encode()).hexdigest()[:12]  # keys and logs never carry the number


# -- the rules ----------------------------------------------------------------------

def growth(context: Context, cfg: dict[str, Any]) -> list[Finding]:
    days = cfg["window_days"]
    inc = context.history.incidents
    now = pd.Timestamp(context.now).tz_convert("UTC")
    current = inc[(inc["reported_at"] > now - pd.Timedelta(days=days)) & (inc["reported_at"] <= now)]
    previous = inc[(inc["reported_at"] > now - pd.Timedelta(days=2 * days))
                   & (inc["reported_at"] <= now - pd.Timedelta(days=days))]
    before = previous.groupby("grid").size()
    warnings = []
    for grid, group in current.groupby("grid"):
        n, m = len(group), int(before.get(grid, 0))
        if n < cfg["min_count"] or m == 0:
            continue
        change = (n - m) / m
        if change > cfg["threshold"]:
            level = "high" if change > cfg["high_above"] else cfg["level"]
            warnings.append(_warning(context, cfg, str(grid), group, level=level, count=n, previous=m,
                                     percent=round(change * 100, 1), days=days))
    return warnings


def repeat_location(context: Context, cfg: dict[str, Any]) -> list[Finding]:
    recent = _recent(context, cfg["window_days"])
    if recent.empty:
        return []
    recent = recent.assign(place=recent["address"].map(normalise_address))
    warnings: list[Finding] = []
    seen: set[str] = set()
    for place, group in recent.groupby("place"):
        if len(group) >= cfg["threshold"]:
            warnings.append(_repeat_place(context, cfg, group, str(place)))
            seen.update(group["event_id"])
    # Within radius_m although typed differently: by position, per category (in a dense urban grid,
    # unrelated reports fall within 50 m of each other every week; the same kind of trouble does not).
    rest = recent[~recent["event_id"].isin(seen)]
    lat0 = math.radians(float(recent["lat"].mean()))
    for _, kind in rest.groupby("category"):
        if len(kind) < cfg["threshold"]:
            continue
        xy = np.column_stack([kind["lon"].to_numpy() * 111_320 * math.cos(lat0), kind["lat"].to_numpy() * 110_540])
        neighbours = cKDTree(xy).query_ball_point(xy, cfg["radius_m"])
        used: set[int] = set()
        # Densest places first; each report belongs to one warning at most.
        for i in sorted(range(len(xy)), key=lambda k: -len(neighbours[k])):
            members = [k for k in neighbours[i] if k not in used]
            if len(members) < cfg["threshold"]:
                continue
            used.update(members)
            near = kind.iloc[members]
            warnings.append(_repeat_place(context, cfg, near, normalise_address(str(near["address"].iloc[-1]))))
    return warnings


def _repeat_place(context: Context, cfg: dict[str, Any], group: pd.DataFrame, place: str) -> Finding:
    grid = str(group.sort_values("reported_at")["grid"].iloc[-1])
    level = "high" if len(group) >= cfg["high_at"] else cfg["level"]
    subject = hashlib.sha256(place.encode()).hexdigest()[:10]
    return _warning(context, cfg, grid, group, subject=subject, level=level, count=len(group),
                    days=cfg["window_days"], address=str(group["address"].iloc[-1]))


class Call(NamedTuple):
    event_id: str
    at: datetime
    grid: str
    category: str
    caller: str = ""  # both only for the household link (family_repeat)
    address: str = ""


CALLER_CATEGORIES: dict[str, tuple[str, ...] | None] = {"family_repeat": ("family_dispute",), "repeat_caller": None}


def family_repeat(context: Context, cfg: dict[str, Any]) -> list[Finding]:
    recent = _recent(context, cfg["window_days"], CALLER_CATEGORIES["family_repeat"])
    calls = [Call(str(e), at, str(grid), str(category), _text(caller), _text(address))
             for e, at, grid, category, caller, address in zip(
                 recent["event_id"], recent["reported_at"].dt.to_pydatetime(), recent["grid"], recent["category"],
                 recent["caller"], recent["address"], strict=True)]
    return household_findings(context.now, cfg, calls)


def repeat_caller(context: Context, cfg: dict[str, Any]) -> list[Finding]:
    return _callers(context, cfg, CALLER_CATEGORIES["repeat_caller"])


def _text(value: Any) -> str:
    return value if isinstance(value, str) else ""  # a missing caller or address (None, NaN) links nothing


def household_groups(calls: Iterable[Call]) -> list[list[Call]]:
    """Calls grouped by household: two calls are one household when they share a caller number or, in the same
    grid, the same :func:`~geo.address.household_key`, and transitively (union-find), so phone A at address X, phone B
    at Y and phone A again at Y are one household. Each group oldest first."""
    parent: dict[str, str] = {}

    def find(node: str) -> str:
        root = node
        while parent[root] != root:
            root = parent[root]
        while parent[node] != root:  # path compression: households are small, but grids are not
            parent[node], node = root, parent[node]
        return root

    def union(a: str, b: str) -> None:
        ra, rb = find(a), find(b)
        if ra != rb:
            parent[max(ra, rb)] = min(ra, rb)

    nodes: list[tuple[Call, str]] = []
    for call in calls:
        # A call's own node, so a call with neither number nor address is a household of its own.
        links = [f"e:{call.event_id}"]
        if call.caller:
            links.append(f"c:{call.caller}")
        # An address links calls within one grid only: compounds of the same name stand on different roads (the
        # road is dropped from the key), while one flat's calls are placed in its own grid.
        if (key := household_key(call.address)) and names_one_household(key):
            links.append(f"h:{call.grid}:{key}")
        for link in links:
            parent.setdefault(link, link)
        for link in links[1:]:
            union(links[0], link)
        nodes.append((call, links[0]))
    groups: dict[str, list[Call]] = {}
    for call, node in nodes:
        groups.setdefault(find(node), []).append(call)
    return [sorted(group, key=lambda c: (c.at, c.event_id)) for group in groups.values()]


def household_subject(group: list[Call]) -> str:
    """The finding's subject for a household, the same whichever of its calls a run saw first: a hash of its
    smallest address key (else of its smallest number). Keys and logs never carry the number."""
    addresses = sorted(key for key in (household_key(c.address) for c in group) if key)
    if addresses:
        return hashlib.sha256(f"h:{addresses[0]}".encode()).hexdigest()[:12]
    callers = sorted(c.caller for c in group if c.caller)
    return _caller_key(callers[0]) if callers else hashlib.sha256(group[0].event_id.encode()).hexdigest()[:12]


def household_findings(now: datetime, cfg: dict[str, Any], calls: Iterable[Call],
                       involving: set[str] | None = None) -> list[Finding]:
    """family_repeat's one test (the daily run and the instant check share it): households with ``threshold``
    family-dispute calls in the window. Only the window's family-dispute calls link households, whatever else
    a run has loaded, so both runs group alike. ``involving``: only households with one of these event ids
    (the instant check's batch)."""
    since = now - timedelta(days=cfg["window_days"])
    categories = CALLER_CATEGORIES["family_repeat"] or ()
    counted = {c.event_id: c for c in calls if since < c.at <= now and c.category in categories}
    findings = []
    for group in household_groups(counted.values()):
        if len(group) < cfg["threshold"] or (involving is not None and not involving & {c.event_id for c in group}):
            continue
        grid = group[-1].grid
        findings.append(Finding(cfg["name"], grid, cfg["level"], finding_key(now, cfg, grid, household_subject(group)),
                                tuple(c.event_id for c in group), {"count": len(group), "days": cfg["window_days"]}))
    return sorted(findings, key=lambda f: f.key)


def _callers(context: Context, cfg: dict[str, Any], categories: tuple[str, ...] | None) -> list[Finding]:
    recent = _recent(context, cfg["window_days"], categories)
    recent = recent[recent["caller"].notna() & (recent["caller"] != "")]
    # Most numbers call once: test only those that called often enough.
    counts = recent["caller"].value_counts()
    recent = recent[recent["caller"].isin(counts.index[counts >= cfg["threshold"]])]
    findings = []
    for caller, group in recent.groupby("caller"):
        calls = [Call(*values) for values in zip(group["event_id"], group["reported_at"].dt.to_pydatetime(),
                                                 group["grid"], group["category"], strict=True)]
        finding = caller_finding(context.now, cfg, str(caller), calls, categories)
        if finding is not None:
            findings.append(finding)
    return findings


def caller_finding(now: datetime, cfg: dict[str, Any], caller: str, calls: list[Call],
                   categories: tuple[str, ...] | None) -> Finding | None:
    """The caller rules' one test (the daily run and the instant check share it)."""
    since = now - timedelta(days=cfg["window_days"])
    counted = sorted((c for c in calls if since < c.at <= now and (categories is None or c.category in categories)),
                     key=lambda c: c.at)
    if len(counted) < cfg["threshold"]:
        return None
    grid = counted[-1].grid
    return Finding(cfg["name"], grid, cfg["level"], finding_key(now, cfg, grid, _caller_key(caller)),
                   tuple(c.event_id for c in counted), {"count": len(counted), "days": cfg["window_days"]})


def dispute_cluster(context: Context, cfg: dict[str, Any]) -> list[Finding]:
    return _per_grid(context, cfg, DISPUTES)


def night_noise(context: Context, cfg: dict[str, Any]) -> list[Finding]:
    start, end = cfg["from_hour"], cfg["to_hour"]

    def at_night(frame: pd.DataFrame) -> pd.Series:
        hour = (frame["reported_at"] + BEIJING_OFFSET).dt.hour
        return (hour >= start) | (hour < end)

    return _per_grid(context, cfg, ("noise",), extra=at_night)


def wage_arrears(context: Context, cfg: dict[str, Any]) -> list[Finding]:
    return _per_grid(context, cfg, ("wage_arrears",))


def bride_price(context: Context, cfg: dict[str, Any]) -> list[Finding]:
    return _per_grid(context, cfg, ("bride_price",))


def fight_escalation(context: Context, cfg: dict[str, Any]) -> list[Finding]:
    return _per_grid(context, cfg, ("fight",))


def fraud_wave(context: Context, cfg: dict[str, Any]) -> list[Finding]:
    return _per_grid(context, cfg, ("fraud",))


def _alerts(context: Context, hours: float) -> pd.DataFrame:
    alerts = context.history.alerts
    now = pd.Timestamp(context.now).tz_convert("UTC")
    mask = (alerts["at"] > now - pd.Timedelta(hours=hours)) & (alerts["at"] <= now)
    return alerts[mask & (alerts["verdict"] != "false_alarm")].rename(columns={"at": "reported_at"})


def sensor_repeat(context: Context, cfg: dict[str, Any]) -> list[Finding]:
    warnings = []
    for device_id, group in _alerts(context, cfg["window_hours"]).groupby("device_id"):
        if len(group) >= cfg["threshold"]:
            warnings.append(_warning(context, cfg, str(group["grid"].iloc[-1]), group, subject=str(device_id),
                                     count=len(group), device=str(device_id), hours=cfg["window_hours"]))
    return warnings


def wedding_crowding(context: Context, cfg: dict[str, Any]) -> list[Finding]:
    if context.devices is None:
        return []
    alerts = _alerts(context, cfg["window_days"] * 24)
    wedding = {d.device_id for d in context.devices.devices.values() if d.site_kind == "wedding_hotel"}
    crowd = alerts[(alerts["scenario"] == "crowd_gathering") & alerts["device_id"].isin(wedding)]
    warnings = []
    for grid, group in crowd.groupby("grid"):
        if len(group) >= cfg["threshold"]:
            warnings.append(_warning(context, cfg, str(grid), group, count=len(group), days=cfg["window_days"]))
    return warnings


def compound_offline(context: Context, cfg: dict[str, Any]) -> list[Finding]:
    if context.devices is None:
        return []
    down: dict[str, list[str]] = {}
    for device_id, health in context.device_health.items():
        if health not in DOWN:
            continue  # awaiting its first report: not known to be down
        device = context.devices.get(device_id)
        if device is not None and device.compound:
            down.setdefault(device.compound, []).append(device_id)
    warnings = []
    for compound, device_ids in sorted(down.items()):
        if len(device_ids) >= cfg["threshold"]:
            device_ids.sort()
            grid = context.devices.devices[device_ids[0]].grid
            subject = hashlib.sha256(",".join(device_ids).encode()).hexdigest()[:10]
            warnings.append(Finding(cfg["name"], grid, cfg["level"], _key(context, cfg, grid, f"{compound}:{subject}"),
                                    tuple(device_ids), {"count": len(device_ids), "compound": compound}))
    return warnings


RULES: dict[str, Rule] = {
    "growth": growth, "repeat_location": repeat_location, "family_repeat": family_repeat,
    "repeat_caller": repeat_caller, "dispute_cluster": dispute_cluster, "night_noise": night_noise,
    "wage_arrears": wage_arrears, "bride_price": bride_price, "fight_escalation": fight_escalation,
    "fraud_wave": fraud_wave, "sensor_repeat": sensor_repeat, "compound_offline": compound_offline,
    "wedding_crowding": wedding_crowding,
}
INSTANT_RULES = ("family_repeat", "repeat_caller")
