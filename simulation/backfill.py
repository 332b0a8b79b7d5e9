"""A year of plausible incident history, written through the same path as live data.

``python -m simulation.backfill`` writes the history to ``{cc}:in:incidents`` like any
producer; the consumer validates, locates and keeps it, and because every entry
carries ``history=1`` it never pushes one to a screen or an instant warning
rule. Risk baselines ("what is normal for this grid in this season at this
hour") then have a year behind them from the first start.

What the history models (about 300 incidents a day for the district):

- **Rhythm.** Each category has its own daily curve (noise mostly 21:00-02:00,
  traffic at the rush hours, disputes by day and in the evening, fights late),
  a weekly pattern (weekends: noise, fights, family disputes up; weekdays:
  fraud, theft, wage claims, commuter traffic) and a season (summer evenings:
  noise and fights; the seven weeks before the Spring Festival: wage arrears
  and family disputes; the wedding season October-January: bride-price
  disputes; the heating season: fires).
- **Space.** Town grids are much busier than village grids (6 : 2 : 1 by zone,
  shaded per category: bride price in the villages, wage arrears in the
  suburbs, noise in town), 20 fixed hot-spot grids run at 2-4 times their
  zone's rate, and 6 busy grids rise over the last fortnight (+30 %, then
  +90 %: about +60 % on the fortnight before, enough for the growth rule).
- **Repeats.** 30 places (a KTV, a construction site, a market, a building...)
  flare up every few weeks with 2-5 reports in a few days under the same
  address text and coordinates; 40 households call again and again from one
  number, mostly about family and neighbour disputes.
- **Sources.** About 10 % of dispute, wage-arrears and bride-price reports come
  from grid workers (no caller number); the rest are 110 calls, some 12345.

Everything is drawn from one seed: the same arguments give the same entries.
Event ids are ``H-<Beijing date>-<serial>``, so a second run over the same days
(the command line ends the history at today's midnight by default) repeats ids
the consumer already knows and ignores, instead of doubling the history.

With ``REDIS_URL`` unset the command writes to the embedded Redis under
``var/``: the running dashboard's, if ``make run`` is up (same socket), else one
it starts and stops again; the append-only file keeps the entries until the
dashboard's consumer reads them on its next start.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import cast

import numpy as np
import redis
import shapely
from numpy.typing import NDArray

import clock
from bus import keys
from bus.connection import OutFields
from geo.index import GridIndex
from ingest.contract import Category

DEFAULT_SEED = 20261127
INCIDENTS_PER_DAY = 300
PIPELINE_SIZE = 2000  # XADDs per round trip: big enough to be fast, small enough to keep Redis responsive

CATEGORIES: tuple[str, ...] = tuple(c.value for c in Category)
_C = {name: i for i, name in enumerate(CATEGORIES)}
ZONES = ("urban", "suburban", "rural")
ZONE_WEIGHT = np.array([6.0, 2.0, 1.0])  # per grid, as in the live simulator

HOT_SPOTS = 20
HOT_SPOT_FACTOR = (2.0, 4.0)
RISING_GRIDS = 6
RISING_BASE = 3.0  # rising grids are busy town grids to begin with, so the rise is plain in counts
RISING_STEPS = (1.3, 1.9)  # factor 7-14 days before the end, and in the last 7 days
REPEAT_SITES = 30
HOUSEHOLDS = 40
GRID_WORKER_SHARE = 0.10
GRID_WORKER_CATEGORIES = ("neighbour_dispute", "family_dispute", "wage_arrears", "bride_price")

# Each grid has a fixed set of doorways: reports at one doorway share coordinates and address text.
POINTS_PER_GRID = 512
STREET_POINTS = 128  # doorways 0-127 are street numbers, the rest flats in a residential compound

# -- categories -------------------------------------------------------------------------

SHARE = np.array([12, 9, 4, 2, 9, 10, 8, 13, 6, 2, 6, 6], dtype=float)  # in CATEGORIES order
SHARE /= SHARE.sum()

# Relative rate by Beijing hour, per category (rows in CATEGORIES order).
DAILY = np.array([
    # hours 0 to 23
    [.8, .4, .2, .1, .1, .2, .6, 1.5, 3, 5, 6, 6, 5, 5, 5.5, 5.5, 5, 5, 6, 7, 6, 4, 2.5, 1.5],  # neighbour_dispute
    [1.5, 1, .5, .3, .2, .2, .5, 1, 2, 3, 3.5, 4, 4.5, 3.5, 3.5, 3.5, 3.5, 4.5, 6, 7.5, 8, 7, 5, 3],  # family_dispute
    [.05, .05, .05, .05, .05, .05, .2, 1, 4, 8, 9, 8, 5, 6, 8, 8, 7, 4, 2, 1, .5, .2, .1, .05],  # wage_arrears
    [.1, .1, .05, .05, .05, .1, .2, .5, 2, 4, 5, 5, 4, 4, 4.5, 5, 5, 4, 4, 4, 3, 2, .8, .3],  # bride_price
    [8, 5, 2.5, 1, .5, .5, .5, .8, 1, 1, 1, 1, 1.2, 1.2, 1, 1, 1, 1, 1.5, 2, 3, 6, 9, 10],  # noise
    [2, 1.5, 1.2, 1, 1, 1, 1.5, 3, 4, 4.5, 5, 5, 5, 5, 5, 5, 5, 5, 5.5, 6, 6, 5, 4, 3],  # theft
    [.3, .2, .1, .1, .1, .2, .5, 1.5, 4, 6, 7, 7, 5, 5, 6.5, 7, 6.5, 5.5, 4, 3.5, 3, 2, 1, .5],  # fraud
    [1, .6, .4, .4, .5, 1, 3, 9, 10, 6, 4, 4, 4.5, 4, 4, 4.5, 6, 9, 10, 7, 4, 3, 2, 1.5],  # traffic
    [6, 5, 3, 1.5, .7, .4, .3, .3, .5, .8, 1, 1.5, 2, 1.5, 1.5, 1.5, 2, 2.5, 3.5, 5, 6, 7, 8, 8],  # fight
    [3, 2.5, 2, 1.5, 1.2, 1.2, 1.5, 2.5, 2.5, 2.5, 3, 5, 5.5, 3, 2.5, 2.5, 3, 5, 6, 5, 4, 3.5, 3.5, 3.5],  # fire
    [2, 1.5, 1.3, 1.3, 1.5, 2, 4, 6, 6.5, 6, 5.5, 5, 4.5, 4, 4, 4, 4.5, 5, 5.5, 5, 4.5, 4, 3, 2.5],  # medical
    [4, 3, 2, 1.5, 1.5, 2, 3, 5, 7, 8, 9, 9, 8, 8, 8, 8, 8, 9, 10, 10, 9, 8, 7, 5],  # other
])
EVENING = np.isin(np.arange(24), [18, 19, 20, 21, 22, 23, 0, 1, 2]).astype(float)

# Zone affinity (urban, suburban, rural) on top of the zone weights.
AFFINITY = np.array([
    [1.0, 1.0, 0.9], [1.0, 1.0, 1.2], [0.8, 1.6, 1.0], [0.7, 1.2, 2.0], [1.3, 0.9, 0.4], [1.2, 1.0, 0.7],
    [1.2, 1.0, 0.7], [0.9, 1.2, 1.4], [1.2, 1.0, 0.7], [0.9, 1.0, 1.5], [1.0, 1.0, 1.0], [1.0, 1.0, 1.0],
])

# Priority 1/2/3 probabilities: fights, fires and medical calls are mostly urgent.
PRIORITY = np.array([
    [.05, .60, .35], [.20, .65, .15], [.10, .65, .25], [.10, .70, .20], [.00, .35, .65], [.05, .70, .25],
    [.10, .70, .20], [.20, .65, .15], [.75, .25, .00], [.85, .15, .00], [.80, .20, .00], [.00, .50, .50],
])
# Share of 12345 (hotline) among the calls that are not grid-worker reports.
HOTLINE = np.array([.25, .05, .40, .20, .35, .05, .15, .02, .0, .0, .0, .40])
# Reports at a flat (compound, building, unit) rather than a street number.
AT_HOME = np.isin(np.arange(len(CATEGORIES)),
                  [_C[c] for c in ("neighbour_dispute", "family_dispute", "bride_price", "noise", "fire", "fraud")])

DESCRIPTIONS: dict[str, tuple[str, ...]] = {
    "neighbour_dispute": ("邻居因楼道堆物发生争吵", "楼上漏水与邻居发生纠纷", "因停车位与邻居发生口角",
                          "邻里因宠物扰民发生争执"),
    "family_dispute": ("夫妻争吵，情绪激动", "家庭成员发生争执，需要调解", "子女与老人因赡养问题争吵",
                       "家中争吵并摔砸物品"),
    "wage_arrears": ("多名工人聚集讨要工资", "农民工反映工资被拖欠", "工地工人讨薪，情绪激动",
                     "务工人员反映包工头失联"),
    "bride_price": ("双方家庭因彩礼返还发生纠纷", "退婚后彩礼返还谈不拢", "婚礼前因彩礼数额发生争执"),
    "noise": ("楼上深夜噪音扰民", "广场舞音响声音过大", "夜间装修噪音扰民", "烧烤店深夜喧哗"),
    "theft": ("电动车被盗", "电瓶被盗", "手机被扒窃", "商铺夜间被盗"),
    "fraud": ("接到冒充客服电话被骗转账", "网购退款被骗", "冒充公检法诈骗", "刷单返利被骗"),
    "traffic": ("两车追尾，无人员受伤", "电动车与轿车剐蹭", "路口车辆发生碰撞", "车辆违停堵塞道路"),
    "fight": ("多人在街头斗殴", "酒后发生打架", "因琐事发生肢体冲突"),
    "fire": ("居民楼道冒烟", "电动车充电起火", "煤炉取暖冒烟", "荒草着火"),
    "medical": ("老人晕倒需要救助", "有人突发疾病", "醉酒人员倒地"),
    "other": ("群众求助", "走失老人求助", "钥匙反锁求助", "发现可疑人员"),
}

# -- places ---------------------------------------------------------------------------------

_STREET_STEMS = ("开发", "民福", "鄯阳", "张辽", "马邑", "文远", "招远", "建设", "北关", "南关", "神电", "恢河",
                 "七里河", "振华", "新华", "育才", "富强", "和平", "胜利", "解放", "中心", "迎宾", "府前", "朔风",
                 "古城", "新城", "西环", "东环", "南环", "北环", "桑干", "金沙", "广场", "站前", "长宁", "永安")
_STREET_KINDS = ("路", "街", "东路", "西路", "南路", "北路", "东街", "西街", "巷")
_COMPOUNDS = ("幸福", "阳光", "锦绣", "翠湖", "和谐", "金地", "富丽", "康馨", "馨悦", "华府", "御景", "滨河",
              "朔风", "新华", "瑞祥", "丽景", "安泰", "嘉禾", "泰和", "名都", "怡和", "书香", "桃李", "学府")
_COMPOUND_KINDS = ("小区", "家园", "花园", "苑")
_TOWNS = ("神头镇", "利民镇", "南榆林乡", "贾庄乡", "下团堡乡", "滋润乡", "窑子头乡", "沙塄河乡", "张蔡庄乡",
          "小平易乡", "福善庄乡", "北旺庄街道")
_VILLAGE_STEMS = ("王", "李", "张", "刘", "马", "高", "郭", "贾", "薛", "阎", "田", "任", "乔", "白", "霍", "温",
                  "崔", "侯", "梁", "韩", "赵", "杨", "吴", "孙")
_VILLAGE_KINDS = ("家庄", "家营", "家堡", "家窑", "家沟", "庄", "营", "堡", "寨", "窑头", "河", "峪")
_VILLAGE_PREFIX = ("", "东", "西", "南", "北", "上", "下")


@dataclass(frozen=True)
class _SiteKind:
    """A kind of place that keeps drawing reports: its names and what is reported there."""

    names: tuple[str, ...]
    mix: dict[str, float]
    zones: tuple[float, float, float]  # how likely in an urban, suburban, rural grid
    share: float  # of the repeat sites


SITE_KINDS = (
    _SiteKind(("金色年华KTV", "麦乐迪KTV", "星光夜市烧烤城", "老街烧烤", "蓝调酒吧"),
              {"noise": .5, "fight": .4, "other": .1}, (1.0, 0.4, 0.0), .25),
    _SiteKind(("", ), {"neighbour_dispute": .6, "noise": .3, "family_dispute": .1}, (1.0, 1.0, 0.0), .25),
    _SiteKind(("项目工地", "棚改工地", "道路改造工地"),
              {"wage_arrears": .85, "fight": .1, "other": .05}, (0.4, 1.0, 0.3), .15),
    _SiteKind(("农贸市场", "菜市场", "批发市场"),
              {"theft": .5, "neighbour_dispute": .2, "fight": .2, "other": .1}, (1.0, 0.6, 0.0), .15),
    _SiteKind(("鸿运大酒店", "喜福楼婚宴酒店", "金海湾宴会厅"),
              {"bride_price": .5, "fight": .3, "traffic": .2}, (1.0, 0.6, 0.2), .1),
    _SiteKind(("网鱼网咖", "极速网吧"), {"fight": .4, "theft": .3, "other": .3}, (1.0, 0.5, 0.0), .1),
)
SITE_GAP_DAYS = (14.0, 35.0)  # a flare-up every two to five weeks
SITE_SIZES = (2, 3, 3, 4, 4, 5)
SITE_SPREAD_DAYS = 6
HOUSEHOLD_MIX = {"family_dispute": .7, "neighbour_dispute": .2, "noise": .05, "other": .05}
HOUSEHOLD_GAP_DAYS = (10.0, 40.0)
HOUSEHOLD_SIZES = (1, 1, 2, 2, 3)
HOUSEHOLD_SPREAD_DAYS = 5


def _expected_repeats_per_day() -> float:
    """Reports a day from repeat sites and households (the baseline makes up the rest of the 300)."""
    site = REPEAT_SITES * float(np.mean(SITE_SIZES)) / float(np.mean(SITE_GAP_DAYS))
    home = HOUSEHOLDS * float(np.mean(HOUSEHOLD_SIZES)) / float(np.mean(HOUSEHOLD_GAP_DAYS))
    return site + home


@dataclass(frozen=True)
class Place:
    """A place that reports again and again: a repeat site or a household."""

    grid: int
    point: int  # index into the grid's doorways
    address: str
    mix: NDArray[np.float64]  # probability per category
    caller: str | None  # households call from one number
    gaps: tuple[float, float]
    sizes: tuple[int, ...]
    spread_days: int


class Layout:
    """The district's fixed geography of trouble for one seed: doorways, hot spots, repeat places.

    Parameters
    ----------
    grids : GridIndex
        The district's grids.
    seed : int
        Same seed, same layout (independent of the time window generated).

    Attributes
    ----------
    hot_spots : dict[str, float]
        Grid code -> rate factor (2-4).
    rising : tuple[str, ...]
        Codes of the grids whose incidents rise over the last 14 days.
    sites, households : tuple[Place, ...]
        Repeat addresses and repeat-calling households.
    """

    def __init__(self, grids: GridIndex, seed: int = DEFAULT_SEED) -> None:
        rng = np.random.default_rng([seed, 1])
        frame = grids.frame
        self.codes: NDArray[np.str_] = frame["code"].to_numpy(dtype=str)
        n = len(self.codes)
        self.zone = frame["zone"].map({z: i for i, z in enumerate(ZONES)}).to_numpy(dtype=np.int64)
        self.lon, self.lat = _doorways(frame.geometry.to_numpy(), rng)

        # Place names: each town grid gets its own street stretch and compound, each village grid
        # two villages of a township, so an address text belongs to exactly one doorway.
        streets = [s + k for k in _STREET_KINDS for s in _STREET_STEMS]
        compounds = [c + k for k in _COMPOUND_KINDS for c in _COMPOUNDS]
        villages = [p + s + k for p in _VILLAGE_PREFIX for k in _VILLAGE_KINDS for s in _VILLAGE_STEMS]
        rng.shuffle(streets)
        rng.shuffle(compounds)
        rng.shuffle(villages)
        rank = (np.cumsum(self.zone != 2) - 1).tolist()  # among town grids (village grids have no streets)
        if rank[-1] // 2 >= len(streets):
            raise ValueError("more town grids than street names: addresses would repeat")
        self.street = [streets[i // 2] for i in rank]  # two grids share a street ...
        self.block = [(i % 2) * STREET_POINTS for i in rank]  # ... at different house numbers
        self.compound = [compounds[i % len(compounds)] for i in rank]
        station = frame["station"].to_numpy(dtype=str)
        stations = sorted(set(station.tolist()))
        self.town = [_TOWNS[stations.index(s) % len(_TOWNS)] for s in station]
        self.villages = [(villages[(2 * i) % len(villages)], villages[(2 * i + 1) % len(villages)]) for i in range(n)]

        base = ZONE_WEIGHT[self.zone].copy()
        hot = rng.choice(n, size=HOT_SPOTS, replace=False, p=base / base.sum())
        factors = rng.uniform(*HOT_SPOT_FACTOR, size=HOT_SPOTS)
        self.hot_spots = {str(self.codes[g]): round(float(f), 2) for g, f in zip(hot, factors, strict=True)}
        # Rising grids: busy town grids that are not hot spots already (a new compound filling up).
        urban = np.flatnonzero((self.zone == 0) & ~np.isin(np.arange(n), hot))
        rising = np.sort(rng.choice(urban, size=RISING_GRIDS, replace=False))
        self.rising = tuple(str(self.codes[g]) for g in rising)
        self.base = base
        self.base[hot] *= factors
        self.base[rising] *= RISING_BASE
        self.rising_index = rising

        self.sites = tuple(self._site(rng) for _ in range(REPEAT_SITES))
        self.households = tuple(self._household(rng) for _ in range(HOUSEHOLDS))

    # -- addresses ----------------------------------------------------------------------

    def address(self, grid: int, point: int) -> str:
        """The address text of doorway ``point`` in grid ``grid`` (one text, one doorway)."""
        if self.zone[grid] == 2:
            village = self.villages[grid][point // (POINTS_PER_GRID // 2)]
            return f"朔城区{self.town[grid]}{village}村{point % (POINTS_PER_GRID // 2) + 1}号"
        if point < STREET_POINTS:
            return f"朔城区{self.street[grid]}{self.block[grid] + point + 1}号"
        flat = point - STREET_POINTS  # 16 buildings x 3 units x 8 flats = 384 flats
        building, rest = divmod(flat, 24)
        unit, door = divmod(rest, 8)
        floor, side = divmod(door, 2)
        return (f"朔城区{self.street[grid]}{self.compound[grid]}{building + 1}号楼{unit + 1}单元"
                f"{floor + 1}0{side + 1}室")

    # -- repeat places -------------------------------------------------------------------

    def _grid_for(self, rng: np.random.Generator, zones: tuple[float, float, float]) -> int:
        weights = self.base * np.asarray(zones)[self.zone]
        weights[self.rising_index] = 0.0  # keep the rise clean: no flare-ups of their own in rising grids
        return int(rng.choice(len(weights), p=weights / weights.sum()))

    def _site(self, rng: np.random.Generator) -> Place:
        shares = np.array([kind.share for kind in SITE_KINDS])
        kind = SITE_KINDS[int(rng.choice(len(SITE_KINDS), p=shares / shares.sum()))]
        grid = self._grid_for(rng, kind.zones)
        name = kind.names[int(rng.integers(len(kind.names)))]
        if name:  # a business at a street number
            point = int(rng.integers(STREET_POINTS)) if self.zone[grid] != 2 else int(rng.integers(POINTS_PER_GRID))
            address = self.address(grid, point) + name
        else:  # one building's stairwell: the building, not a flat
            point = STREET_POINTS + 24 * int(rng.integers(16))
            address = self.address(grid, point).split("号楼")[0] + "号楼"
        return Place(grid, point, address, _mix(kind.mix), None, SITE_GAP_DAYS, SITE_SIZES, SITE_SPREAD_DAYS)

    def _household(self, rng: np.random.Generator) -> Place:
        grid = self._grid_for(rng, (1.0, 1.0, 1.0))
        point = int(rng.integers(STREET_POINTS, POINTS_PER_GRID))
        return Place(grid, point, self.address(grid, point), _mix(HOUSEHOLD_MIX), _mobile(rng),
                     HOUSEHOLD_GAP_DAYS, HOUSEHOLD_SIZES, HOUSEHOLD_SPREAD_DAYS)


def _mix(mix: dict[str, float]) -> NDArray[np.float64]:
    p = np.zeros(len(CATEGORIES))
    for name, share in mix.items():
        p[_C[name]] = share
    shares: NDArray[np.float64] = p / p.sum()
    return shares


def _mobile(rng: np.random.Generator) -> str:
    return _mobiles(rng, 1)[0]


def _mobiles(rng: np.random.Generator, n: int) -> list[str]:
    """``n`` random Chinese mobile numbers (11 digits, 13x-19x), drawn in one go."""
    second = rng.choice(np.array([3, 5, 7, 8, 9]), size=n)
    rest = rng.integers(0, 10**9, size=n)
    return [f"1{a}{b:09d}" for a, b in zip(second.tolist(), rest.tolist(), strict=True)]


def _doorways(geoms: NDArray[np.object_],
              rng: np.random.Generator) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """``POINTS_PER_GRID`` random points inside each grid, rounded as they are sent.

    One vectorised ``contains_xy`` over every grid's bounding box at once (about two thirds of
    a box is inside its grid); the rare grid short of points draws again. Points are rounded to
    the 6 decimals the entries carry *before* the test, so a sent point is still in its grid.
    """
    n = len(geoms)
    shapely.prepare(geoms)
    bounds = shapely.bounds(geoms)
    lon = np.zeros((n, POINTS_PER_GRID))
    lat = np.zeros((n, POINTS_PER_GRID))
    todo = np.arange(n)
    draws = 3 * POINTS_PER_GRID
    while len(todo):
        b = bounds[todo]
        x = np.round(rng.uniform(b[:, [0]], b[:, [2]], (len(todo), draws)), 6)
        y = np.round(rng.uniform(b[:, [1]], b[:, [3]], (len(todo), draws)), 6)
        inside = shapely.contains_xy(geoms[todo][:, None], x, y)
        enough = inside.sum(axis=1) >= POINTS_PER_GRID
        first = np.argsort(~inside, axis=1, kind="stable")[:, :POINTS_PER_GRID]  # inside points, in draw order
        rows = np.arange(len(todo))[:, None]
        lon[todo[enough]] = x[rows, first][enough]
        lat[todo[enough]] = y[rows, first][enough]
        todo = todo[~enough]
        draws *= 2
    return lon, lat


# -- time -----------------------------------------------------------------------------------------

# Spring Festival (Chinese New Year's day) dates: wage claims and family quarrels build up before it.
# Outside 2020-2035 the festival effects simply fade out.
SPRING_FESTIVAL = np.array([
    "2020-01-25", "2021-02-12", "2022-02-01", "2023-01-22", "2024-02-10", "2025-01-29", "2026-02-17",
    "2027-02-06", "2028-01-26", "2029-02-13", "2030-02-03", "2031-01-23", "2032-02-11", "2033-01-31",
    "2034-02-19", "2035-02-08",
], dtype="datetime64[D]")
WEDDING_MONTH = np.array([0, 2.0, 1.2, .9, .9, 1.3, .6, .6, .6, .9, 2.0, 2.0, 2.0])  # index = month
FIRE_MONTH = np.array([0, 1.8, 1.8, 1.4, 1.0, .7, .7, .7, .7, .7, 1.0, 1.4, 1.8])  # heating season Nov 15-Mar 15
SUMMER_EVENING = np.zeros(len(CATEGORIES))
SUMMER_EVENING[[_C["noise"], _C["fight"]]] = [0.8, 0.6]  # windows open, people out late


def _season(day: NDArray[np.int64]) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Seasonal factors for Beijing days (days since 1970-01-01).

    Returns
    -------
    factor : ndarray, shape (categories, days)
        Whole-day seasonal factor.
    evening : ndarray, shape (categories, days)
        Extra factor for evening hours (summer evenings: noise and fights).
    """
    dates = day.astype("datetime64[D]")
    month = dates.astype("datetime64[M]").astype(np.int64) % 12 + 1
    doy = (dates - dates.astype("datetime64[Y]")).astype(np.int64) + 1
    until = (SPRING_FESTIVAL[None, :] - dates[:, None]).astype(np.int64)
    until = until[np.arange(len(day)), np.abs(until).argmin(axis=1)]  # days to the nearest festival
    before = np.where(until > 0, np.clip((50 - until) / 45, 0, 1), 0.0)  # ramps up over seven weeks
    holiday = ((until <= 0) & (until >= -12)).astype(float)  # the festival fortnight: families together
    summer = np.exp(-0.5 * ((doy - 200) / 30) ** 2)  # peaks mid-July
    winter = np.isin(month, [12, 1, 2]).astype(float)
    f = np.ones((len(CATEGORIES), len(day)))
    f[_C["neighbour_dispute"]] = 1 + 0.1 * summer
    f[_C["family_dispute"]] = 1 + 0.6 * before + 0.8 * holiday
    f[_C["wage_arrears"]] = (1 + 2.5 * before) * (1 - 0.6 * holiday)  # migrant workers gone home
    f[_C["bride_price"]] = WEDDING_MONTH[month] * (1 + 0.3 * before)
    f[_C["noise"]] = (1 + 0.2 * summer) * (1 - 0.15 * winter)
    f[_C["theft"]] = 1 + 0.15 * summer + 0.2 * before  # festival shopping
    f[_C["fraud"]] = 1 + 0.2 * before
    f[_C["traffic"]] = (1 + 0.15 * winter) * (1 + 0.2 * holiday)  # icy roads, festival travel
    f[_C["fight"]] = 1 + 0.15 * summer
    f[_C["fire"]] = FIRE_MONTH[month] * (1 + 0.5 * holiday)  # coal stoves, fireworks
    f[_C["medical"]] = 1 + 0.2 * winter
    return f, SUMMER_EVENING[:, None] * summer[None, :]


def _weekly() -> NDArray[np.float64]:
    """Relative rate by category, weekday (Monday 0) and Beijing hour, mean 1 per category."""
    w = np.ones((len(CATEGORIES), 7, 24))
    weekend = [5, 6]
    for name, factor in (("noise", 1.5), ("fight", 1.4), ("family_dispute", 1.35), ("neighbour_dispute", 1.2),
                         ("bride_price", 1.2), ("fraud", 0.6), ("theft", 0.85), ("wage_arrears", 0.5)):
        w[_C[name], weekend] *= factor
    # Friday night out, and Sunday night's tail on Monday morning.
    w[_C["noise"], 4, 18:] *= 1.4
    w[_C["fight"], 4, 18:] *= 1.3
    w[_C["noise"], 0, :3] *= 1.3
    w[_C["traffic"], weekend, 6:10] *= 0.55  # no commute at the weekend
    w[_C["traffic"], weekend, 16:20] *= 0.55
    profile = w * DAILY[:, None, :]
    relative: NDArray[np.float64] = profile / profile.mean(axis=(1, 2), keepdims=True)
    return relative


# -- the history ----------------------------------------------------------------------------------


@dataclass
class History:
    """Generated incidents as columns, oldest first (``len`` is known before the first entry is made)."""

    layout: Layout
    ts: NDArray[np.int64]  # epoch seconds
    category: NDArray[np.int64]
    grid: NDArray[np.int64]
    point: NDArray[np.int64]
    priority: NDArray[np.int64]
    source: NDArray[np.int64]  # 0: 110, 1: 12345, 2: grid worker
    caller: list[str | None]
    address: list[str | None]  # None: the doorway's own address
    description: NDArray[np.int64]

    def __len__(self) -> int:
        return len(self.ts)

    def __iter__(self) -> Iterator[dict[str, str]]:
        utc: NDArray[np.datetime64] = self.ts.astype("datetime64[s]")  # a dtype given as a string: numpy types it Any
        stamps = np.datetime_as_string(utc + np.timedelta64(8, "h"), unit="s")
        day = (self.ts + 8 * 3600) // 86400
        first = np.searchsorted(day, day, side="left")  # sorted by time, so days are runs
        serial = np.arange(len(day)) - first + 1
        sources = ("110", "12345", "grid")
        layout = self.layout
        lon, lat = layout.lon, layout.lat
        for i in range(len(self.ts)):
            stamp = str(stamps[i])
            g, k, c = int(self.grid[i]), int(self.point[i]), int(self.category[i])
            name = CATEGORIES[c]
            fields = {
                "event_id": f"H-{stamp[:4]}{stamp[5:7]}{stamp[8:10]}-{int(serial[i]):05d}",
                "reported_at": f"{stamp}+08:00",
                "lon": f"{lon[g, k]:.6f}",
                "lat": f"{lat[g, k]:.6f}",
                "category": name,
                "priority": str(int(self.priority[i])),
                "address": self.address[i] or layout.address(g, k),
                "description": DESCRIPTIONS[name][int(self.description[i]) % len(DESCRIPTIONS[name])],
                "source": sources[int(self.source[i])],
                "history": "1",
            }
            caller = self.caller[i]
            if caller:
                fields["caller"] = caller
            yield fields


def plan(grids: GridIndex, end: datetime, days: int = 365, seed: int = DEFAULT_SEED,
         layout: Layout | None = None) -> History:
    """Draw ``days`` of history before ``end`` (see :func:`generate`), as columns."""
    if days < 1:
        raise ValueError("days must be at least 1")
    if end.tzinfo is None:
        end = end.replace(tzinfo=clock.BEIJING)  # a bare time means Beijing time
    layout = layout or Layout(grids, seed)
    rng = np.random.default_rng([seed, 2, days, int(end.timestamp())])
    stop = int(end.timestamp())
    start = stop - days * 86400

    ts, cat, grid, point = _baseline(layout, rng, start, stop)
    place_parts = [_repeats(layout, rng, place, start, stop) for place in (*layout.sites, *layout.households)]
    places = (*layout.sites, *layout.households)
    p_ts = np.concatenate([p[0] for p in place_parts])
    p_cat = np.concatenate([p[1] for p in place_parts])
    p_owner = np.concatenate([np.full(len(p[0]), j) for j, p in enumerate(place_parts)])
    base_n = len(ts)
    ts = np.concatenate([ts, p_ts])
    cat = np.concatenate([cat, p_cat])
    grid = np.concatenate([grid, np.array([places[j].grid for j in p_owner], dtype=np.int64)])
    point = np.concatenate([point, np.array([places[j].point for j in p_owner], dtype=np.int64)])
    n = len(ts)

    # Priority by category (inverse CDF on each category's row).
    cdf = np.cumsum(PRIORITY, axis=1)
    priority = (rng.random(n)[:, None] > cdf[cat]).sum(axis=1) + 1
    priority = np.minimum(priority, 3)
    # Source: grid workers report some disputes; the rest are 110 calls, some through 12345.
    worker = np.isin(cat, [_C[c] for c in GRID_WORKER_CATEGORIES]) & (rng.random(n) < GRID_WORKER_SHARE)
    source = np.where(rng.random(n) < HOTLINE[cat], 1, 0)
    source[worker] = 2
    callers: list[str | None] = [None if w else c for w, c in zip(worker.tolist(), _mobiles(rng, n), strict=True)]
    addresses: list[str | None] = [None] * n
    household_hotline = rng.random(n) < 0.15
    for owner, i in zip(p_owner.tolist(), range(base_n, n), strict=True):
        place = places[owner]
        addresses[i] = place.address
        if place.caller is not None:  # a household calls from its own number, never via a grid worker
            callers[i] = place.caller
            source[i] = 1 if household_hotline[i] else 0
    description = rng.integers(0, 12, size=n)

    order = np.argsort(ts, kind="stable")
    return History(
        layout=layout, ts=ts[order], category=cat[order], grid=grid[order], point=point[order],
        priority=priority[order], source=source[order], caller=[callers[i] for i in order.tolist()],
        address=[addresses[i] for i in order.tolist()], description=description[order],
    )


def _baseline(layout: Layout, rng: np.random.Generator, start: int,
              stop: int) -> tuple[NDArray[np.int64], NDArray[np.int64], NDArray[np.int64], NDArray[np.int64]]:
    """Poisson counts per Beijing clock hour and category, then a grid and a doorway for each."""
    per_day = INCIDENTS_PER_DAY - _expected_repeats_per_day()
    bins = np.arange(start // 3600 * 3600, stop, 3600, dtype=np.int64)
    lo = np.maximum(bins, start)
    hi = np.minimum(bins + 3600, stop)
    local = bins + 8 * 3600
    hour = (local // 3600) % 24
    day = local // 86400
    weekday = (day + 3) % 7  # 1970-01-01 was a Thursday
    # Seasons are scaled to average 1 over the year before `end`, whatever the window.
    ref_days = np.arange((stop + 8 * 3600) // 86400 - 365, (stop + 8 * 3600) // 86400 + 1)
    ref_f, ref_e = _season(ref_days)
    evening_share = (DAILY * EVENING).sum(axis=1) / DAILY.sum(axis=1)
    norm = (ref_f * (1 + ref_e * evening_share[:, None])).mean(axis=1)
    days_u, day_pos = np.unique(day, return_inverse=True)
    season_f, season_e = _season(days_u)

    # Grid weights per category and period (0: normal, 1: 7-14 days before the end, 2: last 7 days).
    weights = np.empty((3, len(CATEGORIES), len(layout.base)))
    for level, step in enumerate((1.0, *RISING_STEPS)):
        w = layout.base.copy()
        w[layout.rising_index] *= step
        weights[level] = w[None, :] * AFFINITY[:, layout.zone]
    boost = weights.sum(axis=2) / weights[0].sum(axis=1)  # the rise adds incidents, it takes none away
    mid = (lo + hi) // 2
    period = np.where(stop - mid < 7 * 86400, 2, np.where(stop - mid < 14 * 86400, 1, 0))

    rate = (per_day / 24 * SHARE[:, None] * _weekly()[:, weekday, hour]
            * season_f[:, day_pos] / norm[:, None] * (1 + season_e[:, day_pos] * EVENING[hour])
            * boost[period].T * ((hi - lo) / 3600)[None, :])
    counts = rng.poisson(rate.T)  # (bins, categories)
    flat = counts.ravel()
    which_bin = np.repeat(np.arange(len(bins)), counts.sum(axis=1))
    cat = np.repeat(np.tile(np.arange(len(CATEGORIES)), len(bins)), flat)
    ts = lo[which_bin] + (rng.random(len(cat)) * (hi - lo)[which_bin]).astype(np.int64)

    grid = np.empty(len(cat), dtype=np.int64)
    inc_period = period[which_bin]
    u = rng.random(len(cat))
    for p in range(3):
        for c in range(len(CATEGORIES)):
            sel = (inc_period == p) & (cat == c)
            if sel.any():
                cdf = np.cumsum(weights[p, c])
                grid[sel] = np.minimum(np.searchsorted(cdf / cdf[-1], u[sel], side="right"), len(cdf) - 1)
    home = AT_HOME[cat] & (layout.zone[grid] != 2)
    point = np.where(home, rng.integers(STREET_POINTS, POINTS_PER_GRID, len(cat)),
                     rng.integers(0, STREET_POINTS, len(cat)))
    rural = layout.zone[grid] == 2
    point[rural] = rng.integers(0, POINTS_PER_GRID, int(rural.sum()))
    return ts, cat, grid, point


def _repeats(layout: Layout, rng: np.random.Generator, place: Place, start: int,
             stop: int) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
    """Flare-ups at one place: every few weeks, a few reports within a few days, at each category's hours."""
    times: list[int] = []
    cats: list[int] = []
    daily = DAILY / DAILY.sum(axis=1, keepdims=True)
    at = start - int(rng.uniform(0, place.gaps[1]) * 86400)  # already under way when the window opens
    while at < stop:
        size = int(place.sizes[int(rng.integers(len(place.sizes)))])
        day0 = (at + 8 * 3600) // 86400
        for _ in range(size):
            c = int(rng.choice(len(CATEGORIES), p=place.mix))
            hour = int(rng.choice(24, p=daily[c]))
            t = (day0 + int(rng.integers(place.spread_days))) * 86400 - 8 * 3600 + hour * 3600
            t += int(rng.integers(3600))
            if start <= t < stop:
                times.append(t)
                cats.append(c)
        at += int(rng.uniform(*place.gaps) * 86400)
    return np.array(times, dtype=np.int64), np.array(cats, dtype=np.int64)


def generate(grids: GridIndex, end: datetime, days: int = 365, seed: int = DEFAULT_SEED) -> Iterator[dict[str, str]]:
    """Contract-valid ``{cc}:in:incidents`` entries for ``days`` days before ``end``, oldest first.

    Parameters
    ----------
    grids : GridIndex
        The district's grids.
    end : datetime
        End of the history (exclusive); a naive time is taken as Beijing time.
    days : int
        Length of the history.
    seed : int
        Same seed and arguments, same entries.

    Yields
    ------
    dict[str, str]
        Stream fields (all strings), each with ``history="1"``; event ids ``H-YYYYMMDD-NNNNN``
        (Beijing date, serial within the day).
    """
    yield from plan(grids, end, days, seed)


def write(r: redis.Redis, grids: GridIndex, end: datetime, days: int = 365, seed: int = DEFAULT_SEED,
          progress: Callable[[int], None] | None = None) -> int:
    """XADD the history to ``{cc}:in:incidents``, in non-transactional pipelines.

    Parameters
    ----------
    r : redis.Redis
        Client of the Redis the consumer reads.
    grids, end, days, seed
        As for :func:`generate`.
    progress : callable, optional
        Called with the percentage written (0-100) whenever it moves.

    Returns
    -------
    int
        Entries written.
    """
    history = plan(grids, end, days, seed)
    total = len(history)
    written = 0
    shown = -1
    pipe = r.pipeline(transaction=False)  # plain batching: the entries are independent
    for fields in history:
        pipe.xadd(keys.INCIDENTS, cast(OutFields, fields))
        written += 1
        if written % PIPELINE_SIZE == 0 or written == total:
            pipe.execute()
            percent = written * 100 // max(total, 1)
            if progress is not None and percent != shown:
                progress(percent)
                shown = percent
    if progress is not None and shown != 100:
        progress(100)
    return written


def main(argv: list[str] | None = None) -> int:
    """``python -m simulation.backfill [--days 365] [--end ISO] [--seed N]``."""
    from bus.connection import EmbeddedRedis, connect
    from settings import Settings

    parser = argparse.ArgumentParser(description="Write a year of plausible incident history to {cc}:in:incidents.")
    parser.add_argument("--days", type=int, default=365, help="days of history (default 365)")
    parser.add_argument("--end", default=None,
                        help="end of the history, ISO-8601 (default: today 00:00 Beijing time, so a second run "
                             "the same day repeats the same event ids and the consumer ignores them)")
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED)
    args = parser.parse_args(argv)
    if args.days < 1:
        parser.error("--days must be at least 1")
    if args.end:
        try:
            end = datetime.fromisoformat(args.end)
        except ValueError:
            parser.error(f"--end is not an ISO-8601 time: {args.end!r}")
    else:
        end = clock.at(clock.today())

    settings = Settings.from_env()
    embedded: EmbeddedRedis | None = None
    url = settings.redis_url
    if not url:
        # The same socket under var/ that `make run` uses: its server if it is up, else one we start
        # and stop again (the append-only file keeps the entries for the dashboard's next start).
        embedded = EmbeddedRedis(settings.var_dir)
        url = embedded.start()
        where = "the dashboard's embedded Redis" if embedded.process is None else "a newly started embedded Redis"
        print(f"writing to {where} at {url}")
    try:
        grids = GridIndex(settings.data_dir)

        def show(percent: int) -> None:
            print(f"\rbackfill: {percent:3d}%", end="", flush=True)

        total = write(connect(url), grids, end, args.days, args.seed, progress=show)
        print(f"\nwrote {total:,} incidents ({args.days} days before {end.isoformat()}) to {keys.INCIDENTS}")
        if embedded is not None and embedded.process is not None:
            print("the dashboard keeps them when it next starts (make run)")
    finally:
        if embedded is not None:
            embedded.stop()  # only a server we started ourselves
    return 0


if __name__ == "__main__":
    sys.exit(main())
