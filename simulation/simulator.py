"""A realistic producer for demos and load: writes only the public ingest contract.

``python -m simulation`` runs it alone against ``REDIS_URL``; ``make run``
starts it beside the dashboard. Events are stamped by the product's clock
(:mod:`clock`): with ``SIM_SPEED`` above 1 that clock runs a time-lapse (an
hour in a minute at 60), and the simulator keeps pace with it, never ahead.

- About 300 incidents a day with a daily rhythm (disputes by day, noise at
  night, theft, fraud, traffic at rush hours), a few addresses that call again
  and again, 110 / 12345 / grid-worker sources.
- A dozen troubled households: a fifth of the family disputes come from one of
  them, from either of its two phones, its flat written as people write it
  ("康乐小区3号楼2单元501室", "开发路康乐小区3栋2单元501", "康乐小区 3-2-501"):
  the warning rules and the mediation centre must see one household.
- Heartbeats from every registered device at its interval, a few devices that
  go silent, about 6 fault reports a day, and about 43 alert reports a day, each kind
  at its hours (smoke at kitchen hours, fights and crowds at school gates at
  opening and closing time, wedding hotels at noon, throwing in the evening,
  forced doors at night); half the smoke alerts are cooking fumes just over
  the threshold, the false alarms an officer dismisses. Some reports are under
  their scenario's bar (light fumes, throws from floors 1–2) and are kept as
  readings. An alert from a camera carries its snapshot (a still of the
  simulated camera's picture), as the ingest contract allows.
- About 40 patrol units driving between points of their station's area at
  plausible speeds, reporting position, heading and status.
- The police terminals of some community officers (``SIM_OFFICERS``, two per
  station by id) on working days, 08:15–18:15: a fix about every minute, walking
  their grids most of the time (each officer their own share, 70–93%) and now and
  then out of them for half an hour (a meeting at the station, a case elsewhere),
  the terminal sometimes off: their time in community varies around the 80% target.
"""

from __future__ import annotations

import base64
import logging
import math
import threading
import time
from dataclasses import dataclass
from datetime import datetime
from typing import cast

import numpy as np
import redis
import shapely

import clock
from bus import keys
from bus.connection import OutFields
from geo.devices import VIDEO_TYPES, Device, DeviceRegistry
from geo.index import GridIndex
from geo.roster import Post, Roster
from geo.scenarios import scenarios
from positions.areas import Area, Areas, metres_per_degree
from settings import Settings
from video.feeds import still

log = logging.getLogger(__name__)

INCIDENTS_PER_DAY = 300
UNIT_COUNT = 40
UNIT_REPORT_EVERY_S = 5.0  # real seconds between a unit's fixes
DEVICE_SILENT_SHARE = 0.03
# Alerts per day by kind, and the Beijing hours when they come PEAK_FACTOR times as often.
ALERT_PATTERNS: dict[str, tuple[float, set[int]]] = {
    "smoke": (12, {11, 12, 17, 18}),  # kitchen hours
    "school": (8, {7, 16, 17}),  # school gates at opening and closing time
    "hospital": (4, {9, 10, 20, 21}),
    "shopping": (6, {19, 20, 21, 22}),
    "wedding_hotel": (4, {11, 12, 13}),  # wedding banquets at noon
    "throwing": (5, {8, 9, 18, 19, 20}),
    "door": (4, {0, 1, 2, 3, 4}),
}
PEAK_FACTOR = 4.0
FAULTS_PER_DAY = 6
SITE_SCENARIOS = {
    "school": ["minors_weapon_shoving", "fight", "crowd_gathering", "intrusion"],
    "hospital": ["fight", "person_fall", "crowd_gathering"],
    "shopping": ["vagrant_loitering", "fight", "abandoned_object", "vehicle_wrong_way"],
    "wedding_hotel": ["crowd_gathering", "vehicle_wrong_way", "fight"],
}
KM_PER_DEG_LAT = 110.574
# Community officers' terminals: a fix every minute of the world, but at most one a machine second per officer
# (SIM_SPEED=60: at most 24 entries a second, on working days' ten hours only) and never further apart than half
# the default POSITION_STALE_MIN (a fast time-lapse must not leave gaps that count as a terminal switched off).
OFFICER_FIX_EVERY_S = 60.0
OFFICER_FIX_MIN_REAL_S = 1.0
OFFICER_FIX_MAX_S = 300.0
OFFICER_ON_DUTY = (8 * 60 + 15, 18 * 60 + 15)  # minutes of the Beijing day, Monday to Friday: around working hours
OFFICER_BLOCK_S = 1800.0  # every half hour an officer may go out of their community, or come back
OFFICER_INSIDE = (0.7, 0.93)  # each officer's share of half hours in their community
OFFICER_TERMINAL_OFF = 0.03  # of half hours the terminal sends nothing (switched off, no signal)
OFFICER_AWAY_M = 300.0  # where an officer goes out to is this far from their grids at least
WALK_KMH, DRIVE_KMH = 4.5, 30.0

# Relative incident rate by hour of day (Beijing time).
HOURLY = np.array([4, 3, 2, 1.5, 1.5, 2, 3, 5, 7, 8, 9, 9, 8, 8, 8, 8, 8, 9, 10, 10, 9, 8, 7, 5], dtype=float)
CATEGORY_WEIGHTS_DAY = {
    "neighbour_dispute": 12, "family_dispute": 8, "wage_arrears": 5, "bride_price": 2, "noise": 3, "theft": 10,
    "fraud": 8, "traffic": 14, "fight": 5, "fire": 2, "medical": 6, "other": 6,
}
CATEGORY_WEIGHTS_NIGHT = {**CATEGORY_WEIGHTS_DAY, "noise": 20, "fight": 9, "family_dispute": 12, "traffic": 6}
COMPOUNDS = ("康乐小区", "富康小区", "民福家园", "北城花园", "鄯阳新村", "恢河苑")
# How a family writes its flat, call by call (the same flat each time).
FLAT_FORMS = ("朔城区{road}{compound}{b}号楼{u}单元{r}室", "{road}{compound}{b}栋{u}单元{r}", "{compound} {b}-{u}-{r}",
              "山西省朔州市{compound}{b}号楼{u}单元{r}号")
HOUSEHOLDS = 12
HOUSEHOLD_SHARE = 0.2  # of family disputes
STREETS = ("开发路", "民福街", "鄯阳街", "张辽路", "马邑路", "文远路", "招远路", "建设路",
           "北关街", "南关街", "神电路", "恢河路", "七里河路", "朔州大道", "振华街")
DESCRIPTIONS = {
    "neighbour_dispute": "邻居因楼道堆物发生争吵",
    "family_dispute": "家庭成员发生争执，情绪激动",
    "wage_arrears": "多名工人聚集讨要工资",
    "bride_price": "双方家庭因彩礼返还发生纠纷",
    "noise": "楼上深夜噪音扰民",
    "theft": "电动车被盗",
    "fraud": "接到冒充客服电话被骗转账",
    "traffic": "两车追尾，无人员受伤",
    "fight": "多人在街头斗殴",
    "fire": "居民楼道冒烟",
    "medical": "老人晕倒需要救助",
    "other": "群众求助",
}


@dataclass
class _Unit:
    unit_id: str
    lon: float
    lat: float
    target: tuple[float, float]
    speed_kmh: float
    status: str
    next_report: float


@dataclass
class _Officer:
    """A community officer with their terminal: where they are, where they go, and until when."""

    person_id: str
    grids: list[int]  # rows of the grid frame
    area: Area  # their grids (no margin): walking in them or not
    away: tuple[float, float]  # out of their community: their station, a case elsewhere
    inside_share: float
    lon: float
    lat: float
    target: tuple[float, float]
    out: bool = False
    off: bool = False
    block_until: float = 0.0  # world epoch seconds
    next_fix: float = 0.0


class Simulator:
    """Write plausible traffic to the inbound streams until stopped.

    Parameters
    ----------
    r : redis.Redis
        Client (``decode_responses=True``).
    grids, devices
        Where things happen and which devices exist.
    seed : int
        Random seed (runs are reproducible in what they choose, not in timing).
    """

    def __init__(self, r: redis.Redis, grids: GridIndex, devices: DeviceRegistry, seed: int = 20261127,
                 officers: int = Settings.sim_officers) -> None:
        self.r = r
        self.grids = grids
        self.devices = devices
        self.rng = np.random.default_rng(seed)
        self.frame = grids.frame
        zone_weight = self.frame["zone"].map({"urban": 6.0, "suburban": 2.0, "rural": 1.0}).to_numpy()
        self.grid_p = zone_weight / zone_weight.sum()
        self.hot_spots = [self._random_address() for _ in range(6)]
        self.households = [self._household() for _ in range(HOUSEHOLDS)]
        self.serial = 0
        device_ids = sorted(devices.devices)
        self.device_ids = device_ids
        self.by_kind: dict[str, list[Device]] = {kind: [] for kind in ALERT_PATTERNS}
        for device_id in device_ids:
            device = devices.devices[device_id]
            kind = {"smoke": "smoke", "throwing_camera": "throwing", "door": "door"}.get(device.type, device.site_kind)
            if kind in self.by_kind:
                self.by_kind[kind].append(device)
        silent = self.rng.choice(len(device_ids), size=int(len(device_ids) * DEVICE_SILENT_SHARE), replace=False)
        self.silent = {device_ids[i] for i in silent.tolist()}
        self.next_beat = {d: float(self.rng.uniform(0, devices.devices[d].heartbeat_s)) for d in device_ids}
        self.sim_clock = 0.0  # simulated seconds since start
        self.units = [self._new_unit(n) for n in range(1, UNIT_COUNT + 1)]
        self.officers = self._new_officers(Roster(grids), officers)

    # -- places ---------------------------------------------------------------

    def _point_in_grid(self, index: int) -> tuple[float, float]:
        geom = self.frame.geometry.iloc[index]
        min_x, min_y, max_x, max_y = geom.bounds
        while True:
            x, y = self.rng.uniform(min_x, max_x), self.rng.uniform(min_y, max_y)
            if shapely.contains_xy(geom, x, y):
                return round(float(x), 6), round(float(y), 6)

    def _random_address(self) -> tuple[float, float, str]:
        index = int(self.rng.choice(len(self.frame), p=self.grid_p))
        lon, lat = self._point_in_grid(index)
        street = STREETS[int(self.rng.integers(len(STREETS)))]
        return lon, lat, f"朔城区{street}{int(self.rng.integers(1, 300))}号"

    def _household(self) -> tuple[float, float, dict[str, str], tuple[str, str]]:
        """A troubled household: its flat's position and parts, and the two phones it calls from."""
        lon, lat, _ = self._random_address()
        flat = {"road": STREETS[int(self.rng.integers(len(STREETS)))],
                "compound": COMPOUNDS[int(self.rng.integers(len(COMPOUNDS)))], "b": str(int(self.rng.integers(1, 30))),
                "u": str(int(self.rng.integers(1, 6))),
                "r": f"{int(self.rng.integers(1, 7))}0{int(self.rng.integers(1, 4))}"}
        return lon, lat, flat, (self._phone(), self._phone())

    def _phone(self) -> str:
        return f"1{int(self.rng.integers(30, 99))}{int(self.rng.integers(10**7, 10**8))}"

    def _new_unit(self, n: int) -> _Unit:
        lon, lat, _ = self._random_address()
        status = "busy" if self.rng.random() < 0.25 else "available"
        return _Unit(f"PU-{n:03d}", lon, lat, self._random_address()[:2], float(self.rng.uniform(20, 45)), status,
                     next_report=float(self.rng.uniform(0, UNIT_REPORT_EVERY_S)))

    def _new_officers(self, roster: Roster, count: int) -> list[_Officer]:
        """``count`` community officers, taken by id in turn from each station (two per station for 24)."""
        by_station: dict[str, list[str]] = {}
        for officer in roster.people(Post.COMMUNITY_OFFICER):
            by_station.setdefault(officer.station, []).append(officer.person_id)
        chosen: list[str] = []
        for rank in range(max(map(len, by_station.values()), default=0)):
            chosen += [ids[rank] for _, ids in sorted(by_station.items()) if rank < len(ids)]
        areas, far = Areas(roster, self.grids, 0.0), Areas(roster, self.grids, OFFICER_AWAY_M)
        rows = {code: n for n, code in enumerate(self.frame["code"])}
        officers = []
        for person_id in chosen[:count]:
            person = roster.get(person_id)
            area, around = areas.of(person_id), far.of(person_id)
            assert person is not None and area is not None and around is not None
            grids = [rows[code] for code in person.grids]
            lon, lat = self._point_in_grid(grids[0])
            officers.append(_Officer(person_id, grids, area, self._away(person.station, around), float(
                self.rng.uniform(*OFFICER_INSIDE)), lon, lat, (lon, lat)))
        return officers

    def _away(self, station: str, around: Area) -> tuple[float, float]:
        """A place of the officer's station well out of their grids (their station's seat, a case elsewhere)."""
        candidates = np.flatnonzero((self.frame["station"] == station).to_numpy())
        for _ in range(50):
            lon, lat = self._point_in_grid(int(self.rng.choice(candidates)))
            if not around.contains([lon], [lat])[0]:
                return lon, lat
        per_lat = metres_per_degree(around.lat0)[1]  # a station of one grid: two kilometres north of it
        return around.lon0, around.lat0 + (around.shape.bounds[3] + 2000.0) / per_lat

    # -- one step ---------------------------------------------------------------

    def step(self, now: datetime, sim_dt: float, real_elapsed: float) -> int:
        """Advance the world by ``sim_dt`` simulated seconds; return entries written."""
        pipe = self.r.pipeline(transaction=False)
        written = self._incidents(pipe, now, sim_dt)
        written += self._sensors(pipe, now, sim_dt)
        written += self._units(pipe, now, sim_dt, real_elapsed)
        written += self._officer_fixes(pipe, now, sim_dt)
        pipe.execute()
        return written

    def _incidents(self, pipe: redis.client.Pipeline, now: datetime, sim_dt: float) -> int:
        hour = clock.local(now).hour
        rate_per_s = INCIDENTS_PER_DAY / 86400 * HOURLY[hour] / HOURLY.mean()
        count = int(self.rng.poisson(rate_per_s * sim_dt))
        weights = CATEGORY_WEIGHTS_NIGHT if hour >= 22 or hour < 6 else CATEGORY_WEIGHTS_DAY
        categories = list(weights)
        p = np.array([weights[c] for c in categories], dtype=float)
        for _ in range(count):
            self.serial += 1
            category = categories[int(self.rng.choice(len(categories), p=p / p.sum()))]
            caller = self._phone()
            if category == "family_dispute" and self.rng.random() < HOUSEHOLD_SHARE:
                lon, lat, flat, phones = self.households[int(self.rng.integers(len(self.households)))]
                address = FLAT_FORMS[int(self.rng.integers(len(FLAT_FORMS)))].format(**flat)
                caller = phones[int(self.rng.integers(2))]
            elif self.rng.random() < 0.15:  # the same few addresses call again and again
                lon, lat, address = self.hot_spots[int(self.rng.integers(len(self.hot_spots)))]
            else:
                lon, lat, address = self._random_address()
            source = "grid" if category in {"wage_arrears", "bride_price"} and self.rng.random() < 0.5 else (
                "12345" if self.rng.random() < 0.15 else "110")
            pipe.xadd(keys.INCIDENTS, {
                "event_id": f"SIM-{int(time.time())}-{self.serial}",
                "reported_at": clock.local(now).isoformat(timespec="seconds"),
                "lon": f"{lon:.6f}", "lat": f"{lat:.6f}", "category": category,
                "priority": self._priority(category),
                "address": address, "description": DESCRIPTIONS[category],
                "caller": caller, "source": source, "sent_at": f"{time.time() * 1000:.1f}",
            })
        return count

    def _priority(self, category: str) -> str:
        if category in {"fight", "fire", "medical"}:
            return "1"
        return "2" if self.rng.random() < 0.7 else "3"

    def _sensors(self, pipe: redis.client.Pipeline, now: datetime, sim_dt: float) -> int:
        written = 0
        self.sim_clock += sim_dt
        stamp = clock.local(now).isoformat(timespec="seconds")
        for device_id, due in self.next_beat.items():
            if due > self.sim_clock or device_id in self.silent:
                continue
            self.next_beat[device_id] = self.sim_clock + self.devices.devices[device_id].heartbeat_s
            self.serial += 1
            pipe.xadd(keys.HEARTBEATS, {"event_id": f"HB-{self.serial}", "device_id": device_id,
                                        "observed_at": stamp, "kind": "heartbeat"})
            written += 1
        hour = clock.local(now).hour
        for kind, (per_day, hours) in ALERT_PATTERNS.items():
            # Each kind of alert has its hours: cooking smoke at meal times, school gates at closing time.
            rate = per_day / 86400 * (PEAK_FACTOR if hour in hours else 1.0) * sim_dt
            for _ in range(int(self.rng.poisson(rate))):
                written += self._alert(pipe, stamp, kind)
        for _ in range(int(self.rng.poisson(FAULTS_PER_DAY / 86400 * sim_dt))):
            written += self._fault(pipe, stamp)
        return written

    def _pick(self, kind: str) -> Device:
        pool = self.by_kind[kind]
        return pool[int(self.rng.integers(len(pool)))]

    def _alert(self, pipe: redis.client.Pipeline, stamp: str, kind: str) -> int:
        """One alert of ``kind``; about one in four is a false alarm the officer will dismiss."""
        device = self._pick(kind)
        value: float | None = None
        floor = device.floor
        if kind == "smoke":
            scenario = "smoke"
            # A fifth are light fumes under the 0.1 mg/m3 threshold (the platform forwards them: kept as
            # readings); of the rest, cooking fumes just over it are the usual false alarm.
            draw = self.rng.random()
            low, high = (0.03, 0.099) if draw < 0.2 else (0.1, 0.14) if draw < 0.6 else (0.15, 0.6)
            value = round(float(self.rng.uniform(low, high)), 3)
        elif kind == "throwing":
            # Floors 1 and 2 are under the 3rd floor that counts: readings, not alerts.
            scenario, floor = "high_altitude_throwing", int(self.rng.integers(1, 8))
        elif kind == "door":
            scenario = str(self.rng.choice(["door_forced", "door_tailgating"]))
        else:
            # Only what this type of device can see (a behaviour terminal reports no wrong-way vehicle).
            fitting = [name for name in SITE_SCENARIOS[kind] if device.type in scenarios()[name]["device_types"]]
            scenario = str(self.rng.choice(fitting))
        self.serial += 1
        fields = {"event_id": f"AL-{int(time.time())}-{self.serial}", "device_id": device.device_id,
                  "observed_at": stamp, "kind": "alert", "scenario": scenario, "sent_at": f"{time.time() * 1000:.1f}"}
        if value is not None:
            fields["value"] = str(value)
        if floor is not None:
            fields["floor"] = str(floor)
        if device.type in VIDEO_TYPES:  # what the camera saw, as the sensor platform sends it (docs/ingest.md)
            fields["snapshot"] = base64.b64encode(still(device.device_id, int(time.time() * 1000))).decode()
        pipe.xadd(keys.SENSORS, cast(OutFields, fields))
        return 1

    def _fault(self, pipe: redis.client.Pipeline, stamp: str) -> int:
        device = self.devices.devices[self.device_ids[int(self.rng.integers(len(self.device_ids)))]]
        self.serial += 1
        pipe.xadd(keys.SENSORS, {"event_id": f"FT-{int(time.time())}-{self.serial}", "device_id": device.device_id,
                                 "observed_at": stamp, "kind": "fault"})
        return 1

    def _units(self, pipe: redis.client.Pipeline, now: datetime, sim_dt: float, real_elapsed: float) -> int:
        written = 0
        for unit in self.units:
            step_km = unit.speed_kmh * sim_dt / 3600
            dx = (unit.target[0] - unit.lon) * KM_PER_DEG_LAT * math.cos(math.radians(unit.lat))
            dy = (unit.target[1] - unit.lat) * KM_PER_DEG_LAT
            dist = math.hypot(dx, dy)
            heading = (math.degrees(math.atan2(dx, dy)) + 360) % 360
            if dist <= step_km:
                unit.lon, unit.lat = unit.target
                unit.target = self._random_address()[:2]
                if self.rng.random() < 0.2:
                    unit.status = "busy" if unit.status == "available" else "available"
            else:
                unit.lon += (unit.target[0] - unit.lon) * step_km / dist
                unit.lat += (unit.target[1] - unit.lat) * step_km / dist
            if real_elapsed >= unit.next_report:
                unit.next_report = real_elapsed + UNIT_REPORT_EVERY_S
                pipe.xadd(keys.UNITS, {
                    "unit_id": unit.unit_id, "observed_at": clock.local(now).isoformat(timespec="milliseconds"),
                    "lon": f"{unit.lon:.6f}", "lat": f"{unit.lat:.6f}", "status": unit.status,
                    "heading": f"{heading:.0f}", "speed": f"{unit.speed_kmh:.0f}",
                })
                written += 1
        return written

    def _officer_fixes(self, pipe: redis.client.Pipeline, now: datetime, sim_dt: float) -> int:
        """Community officers walk their grids (or are out of them) and their terminals report, on duty only."""
        here = clock.local(now)
        if here.isoweekday() > 5 or not OFFICER_ON_DUTY[0] <= here.hour * 60 + here.minute < OFFICER_ON_DUTY[1]:
            return 0
        world = now.timestamp()
        every = min(max(OFFICER_FIX_EVERY_S, OFFICER_FIX_MIN_REAL_S * clock.speed()), OFFICER_FIX_MAX_S)
        written = 0
        for officer in self.officers:
            if world >= officer.block_until:
                officer.block_until = world + OFFICER_BLOCK_S
                officer.out = bool(self.rng.random() >= officer.inside_share)
                officer.off = bool(self.rng.random() < OFFICER_TERMINAL_OFF)
                officer.target = officer.away if officer.out else self._officer_target(officer)
            self._walk(officer, sim_dt)
            if world < officer.next_fix:
                continue
            # From when it was due, not from this step: a fix a minute on average whatever the steps' length.
            officer.next_fix = max(officer.next_fix, world - every) + every * float(self.rng.uniform(0.9, 1.1))
            if officer.off:
                continue
            per_lon, per_lat = metres_per_degree(officer.lat)
            noise = self.rng.normal(0.0, 6.0, 2)  # metres of GPS error
            pipe.xadd(keys.POSITIONS, {
                "person_id": officer.person_id, "observed_at": here.isoformat(timespec="seconds"),
                "lon": f"{officer.lon + noise[0] / per_lon:.6f}", "lat": f"{officer.lat + noise[1] / per_lat:.6f}",
                "accuracy": f"{float(self.rng.uniform(5, 15)):.0f}", "source": "terminal",
            })
            written += 1
        return written

    def _officer_target(self, officer: _Officer) -> tuple[float, float]:
        return self._point_in_grid(officer.grids[int(self.rng.integers(len(officer.grids)))])

    def _walk(self, officer: _Officer, sim_dt: float) -> None:
        """On foot in their grids; by car out of them and back."""
        per_lon, per_lat = metres_per_degree(officer.lat)
        dx = (officer.target[0] - officer.lon) * per_lon
        dy = (officer.target[1] - officer.lat) * per_lat
        dist = math.hypot(dx, dy)
        driving = officer.out or not officer.area.contains([officer.lon], [officer.lat])[0]
        step_m = (DRIVE_KMH if driving else WALK_KMH) / 3.6 * sim_dt
        if dist <= step_m:
            officer.lon, officer.lat = officer.target
            if not officer.out:  # on to the next street of their grids; out of them, they stay where they went
                officer.target = self._officer_target(officer)
        else:
            officer.lon += dx * step_m / dist / per_lon
            officer.lat += dy * step_m / dist / per_lat

    def run(self, stop: threading.Event, tick_s: float = 1.0) -> None:
        """Step once per ``tick_s`` machine seconds until ``stop`` is set, over the world time that passed."""
        started = time.monotonic()
        last = clock.now()
        log.info("simulator running at %gx", clock.speed())
        while not stop.wait(tick_s):
            now = clock.now()
            try:
                self.step(now, (now - last).total_seconds(), time.monotonic() - started)
                last = now
            except (redis.ConnectionError, redis.TimeoutError) as exc:
                log.warning("simulator: Redis unavailable (%s)", exc)
