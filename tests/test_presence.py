"""Time in community (positions/presence.py): constructed tracks against a real grid, figures worked out by hand;
the working time from the settings; positions kept through the real consumer ({cc}:in:positions).

Every date is under the frozen clock: Friday 11 December 2026, 20:00 Beijing time. Wednesday the 9th is the
working day most tracks walk; Saturday the 12th has no working time.
"""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta

import pytest
import redis
import shapely
from shapely.ops import nearest_points
from sqlalchemy import Engine, insert, select

import clock
from bus import keys
from clock import BEIJING, Period
from geo.datum import wgs84_to_gcj02
from geo.devices import DeviceRegistry
from geo.index import GridIndex
from geo.roster import Post, Roster
from ingest.consumer import Consumer
from positions.areas import Area, Areas, metres_per_degree
from positions.presence import Presence, Rules, presence, presence_from_flags, time_in_community, working_windows
from store.db import positions

NOW = datetime(2026, 12, 11, 20, 0, tzinfo=BEIJING)
pytestmark = pytest.mark.time_machine(NOW, tick=False)

WEDNESDAY, SATURDAY = date(2026, 12, 9), date(2026, 12, 12)
OFFICER = "CO-SC-001"  # works grid SC-001 alone
STALE = timedelta(minutes=10)
HOUR = 3600.0


def at(hour: int, minute: int = 0, day: date = WEDNESDAY) -> datetime:
    """``hour:minute`` Beijing time on ``day``, in UTC."""
    return clock.at(day, hour, minute)


def every(first: datetime, last: datetime, minutes: int = 5) -> list[datetime]:
    """``first`` to ``last`` inclusive, every ``minutes``."""
    return [first + timedelta(minutes=minutes * n) for n in range(int((last - first) / timedelta(minutes=minutes)) + 1)]


@pytest.fixture(scope="module")
def roster(grids: GridIndex) -> Roster:
    return Roster(grids)


@pytest.fixture(scope="module")
def area(roster: Roster, grids: GridIndex) -> Area:
    """The officer's grid with the default margin (50 m)."""
    found = Areas(roster, grids, 50.0).of(OFFICER)
    assert found is not None
    return found


@pytest.fixture(scope="module")
def places(roster: Roster, grids: GridIndex) -> dict[str, tuple[float, float]]:
    """WGS-84 points by hand: in the grid, 1 km out of it, and 30 m and 80 m outside its edge."""
    bare = Areas(roster, grids, 0.0).of(OFFICER)
    assert bare is not None
    per_lon, per_lat = metres_per_degree(bare.lat0)

    def wgs(x: float, y: float) -> tuple[float, float]:
        return bare.lon0 + x / per_lon, bare.lat0 + y / per_lat

    far = shapely.Point(bare.shape.bounds[2] + 1000.0, (bare.shape.bounds[1] + bare.shape.bounds[3]) / 2)
    edge, _ = nearest_points(bare.shape, far)  # every point between the edge and ``far`` is nearest to this edge
    direction = ((far.x - edge.x) / far.distance(edge), (far.y - edge.y) / far.distance(edge))
    inside = bare.shape.representative_point()
    return {"in": wgs(inside.x, inside.y), "far": wgs(far.x, far.y),
            "out30": wgs(edge.x + 30 * direction[0], edge.y + 30 * direction[1]),
            "out80": wgs(edge.x + 80 * direction[0], edge.y + 80 * direction[1])}


def track(times: list[datetime], place: tuple[float, float]) -> list[tuple[datetime, float, float]]:
    return [(moment, *place) for moment in times]


def test_pres001_wholly_inside_is_all_the_working_time(area: Area, places: dict[str, tuple[float, float]]) -> None:
    windows = working_windows(at(0), at(0, day=WEDNESDAY + clock.DAY), Rules().hours, Rules().days)
    result = presence(track(every(at(8), at(18, 30)), places["in"]), area, windows, STALE)
    # 08:30-12:00 and 14:30-18:00: 7 h, all of it inside.
    assert result == Presence(7 * HOUR, 7 * HOUR, 0.0, 0.0, fixes=84)  # 42 fixes in each window
    assert result.share == 1.0 and result.meets(0.8)


def test_pres002_wholly_outside_is_none_of_it(area: Area, places: dict[str, tuple[float, float]]) -> None:
    windows = working_windows(at(0), at(0, day=WEDNESDAY + clock.DAY), Rules().hours, Rules().days)
    result = presence(track(every(at(8), at(18, 30)), places["far"]), area, windows, STALE)
    assert result == Presence(7 * HOUR, 0.0, 7 * HOUR, 0.0, fixes=84)
    assert result.share == 0.0 and result.meets(0.8) is False


def test_pres003_crossing_the_boundary_changes_the_state_at_the_next_fix(
    area: Area, places: dict[str, tuple[float, float]]
) -> None:
    """In every 5 min to 10:00, out of the grid about 10:02: the fix at 10:05 is the first out, so until 10:05 the
    officer counts inside (sample and hold, never a crossing guessed between two fixes)."""
    fixes = track(every(at(8, 30), at(10)), places["in"]) + track(every(at(10, 5), at(11, 55)), places["far"])
    result = presence(fixes, area, [(at(8, 30), at(12))], STALE)
    assert result == Presence(3.5 * HOUR, 95 * 60.0, 115 * 60.0, 0.0, fixes=42)  # 08:30-10:05 in, 10:05-12:00 out
    assert result.share == pytest.approx(95 / 210)


def test_pres004_a_gap_longer_than_stale_is_unknown(area: Area, places: dict[str, tuple[float, float]]) -> None:
    """Fixes at 08:30 and 08:35, the terminal off until 09:30, then every 5 min: the 08:35 fix stands 10 min, then
    45 min are unknown, and count against the share."""
    fixes = track([at(8, 30), at(8, 35), *every(at(9, 30), at(11, 55))], places["in"])
    result = presence(fixes, area, [(at(8, 30), at(12))], STALE)
    assert result == Presence(210 * 60.0, 165 * 60.0, 0.0, 45 * 60.0, fixes=32)  # 5 + 10 + 150 min in
    assert result.share == pytest.approx(165 / 210)


def test_pres005_a_fix_before_the_window_stands_into_it() -> None:
    """08:10 is older than stale at 08:30 and counts for nothing; 08:25 (in) stands to 08:35; 08:40 (out) to 08:50."""
    fixes = [(at(8, 10), False), (at(8, 25), True), (at(8, 40), False)]
    result = presence_from_flags(fixes, [(at(8, 30), at(9))], STALE)
    assert result == Presence(30 * 60.0, 5 * 60.0, 10 * 60.0, 15 * 60.0, fixes=1)  # unknown 08:35-40, 08:50-09:00


def test_pres006_time_outside_working_hours_is_not_counted(area: Area, places: dict[str, tuple[float, float]]) -> None:
    """Out of the grid at lunch (12:00-14:30) and all evening: nothing of it is working time."""
    day = every(at(0), at(23, 55))
    fixes = [(moment, *(places["in"] if at(8) <= moment < at(12) or at(14, 30) <= moment < at(18) else places["far"]))
             for moment in day]
    windows = working_windows(Period.day(WEDNESDAY).start, Period.day(WEDNESDAY).end, Rules().hours, Rules().days)
    assert windows == [(at(8, 30), at(12)), (at(14, 30), at(18))]
    assert windows[0][0] == datetime(2026, 12, 9, 0, 30, tzinfo=UTC)  # 08:30 Beijing
    assert presence(fixes, area, windows, STALE) == Presence(7 * HOUR, 7 * HOUR, 0.0, 0.0, fixes=84)


def test_pres007_the_margin_counts_a_fix_just_outside_the_edge_in(
    roster: Roster, grids: GridIndex, area: Area, places: dict[str, tuple[float, float]]
) -> None:
    bare = Areas(roster, grids, 0.0).of(OFFICER)
    assert bare is not None
    (lon30, lat30), (lon80, lat80) = places["out30"], places["out80"]
    assert area.contains([lon30, lon80], [lat30, lat80]).tolist() == [True, False]  # margin 50 m
    assert bare.contains([lon30, places["in"][0]], [lat30, places["in"][1]]).tolist() == [False, True]  # no margin
    # 30 m out for an hour, then 80 m out for an hour: the first counts in, the second out.
    fixes = track(every(at(8, 30), at(9, 25)), places["out30"]) + track(every(at(9, 30), at(10, 25)), places["out80"])
    assert presence(fixes, area, [(at(8, 30), at(10, 30))], STALE) == Presence(2 * HOUR, HOUR, HOUR, 0.0, 24)


def test_pres008_working_days_and_beijing_midnight() -> None:
    rules = Rules()
    assert working_windows(Period.day(SATURDAY).start, Period.day(SATURDAY).end, rules.hours, rules.days) == []
    weekend = presence_from_flags([(at(10, day=SATURDAY), True)], [], STALE)
    assert weekend == Presence(0.0, 0.0, 0.0, 0.0, 0) and weekend.share is None and weekend.meets(0.8) is None
    # Friday 17:00 to Monday 09:00, Beijing: Friday's last hour and Monday's first half hour, nothing between.
    monday = SATURDAY + 2 * clock.DAY
    windows = working_windows(at(17, day=SATURDAY - clock.DAY), at(9, day=monday), rules.hours, rules.days)
    assert windows == [(at(17, day=SATURDAY - clock.DAY), at(18, day=SATURDAY - clock.DAY)),
                       (at(8, 30, day=monday), at(9, day=monday))]
    # Monday 08:30 Beijing is Monday 00:30 UTC: the day is Beijing's, not UTC's (which would still be Sunday).
    assert windows[1][0] == datetime(2026, 12, 14, 0, 30, tzinfo=UTC)
    # A fix at 23:58 Friday night stands past midnight but never into working time.
    night = presence_from_flags([(at(23, 58, day=SATURDAY - clock.DAY), True)], windows[1:], STALE)
    assert night == Presence(30 * 60.0, 0.0, 0.0, 30 * 60.0, 0)


def test_pres009_time_in_community_reads_the_record_once_for_every_officer(engine: Engine, roster: Roster) -> None:
    """Wednesday: CO-SC-001 in all morning and out all afternoon; CO-SC-002 in all day but silent after 16:00; a grid
    worker's fixes are not an officer's. Asked at 17:00 the day is judged to 17:00."""
    second = roster.people(Post.COMMUNITY_OFFICER)[1].person_id
    rows = [{"person_id": OFFICER, "observed_at": moment, "lon": 112.4, "lat": 39.3, "inside": moment < at(12),
             "accuracy": 8.0, "source": "terminal"} for moment in every(at(8, 20), at(17, 55))]
    rows += [{"person_id": second, "observed_at": moment, "lon": 112.4, "lat": 39.3, "inside": True,
              "accuracy": None, "source": "terminal"} for moment in every(at(8, 25), at(16))]
    rows += [{"person_id": "GW-SC-001", "observed_at": moment, "lon": 112.4, "lat": 39.3, "inside": True,
              "accuracy": None, "source": "phone"} for moment in every(at(8), at(18))]
    issued = roster.people(Post.COMMUNITY_OFFICER)[3].person_id  # their terminal came into service at 10:00
    rows += [{"person_id": issued, "observed_at": moment, "lon": 112.4, "lat": 39.3, "inside": True,
              "accuracy": None, "source": "terminal"} for moment in every(at(10), at(17))]
    with engine.begin() as conn:
        conn.execute(insert(positions), rows)
    rules = Rules()
    figures = time_in_community(engine, roster, Period.day(WEDNESDAY), at(17), rules)
    assert len(figures) == len(roster.people(Post.COMMUNITY_OFFICER))  # every officer, fixes or not
    assert "GW-SC-001" not in figures
    working = 6 * HOUR  # 08:30-12:00 and 14:30-17:00
    assert figures[OFFICER] == Presence(working, 3.5 * HOUR, 2.5 * HOUR, 0.0, fixes=72)
    # The 08:25 fix stands at 08:30; 16:00 stands to 16:10; then 50 min unknown.
    assert figures[second] == Presence(working, working - 50 * 60, 0.0, 50 * 60.0, fixes=61)
    # No terminal in service: no working time judged (the index leaves them unscored), not a day "unknown".
    assert figures["CO-SC-003"] == Presence(0.0, 0.0, 0.0, 0.0, 0)
    # In service from 10:00: judged from then, 10:00-12:00 and 14:30-17:00, all of it in.
    assert (figures[issued].working_s, figures[issued].inside_s, figures[issued].unknown_s) == (
        4.5 * HOUR, 4.5 * HOUR, 0.0)
    assert figures[second].share == pytest.approx(310 / 360)
    # Asked for some people, over a week: Monday and Tuesday came before the first position (not judged);
    # Wednesday's figures, and Thursday and Friday silent: 7 h each unknown.
    week = time_in_community(engine, roster, Period.calendar_week(WEDNESDAY), NOW, rules, [OFFICER, "GW-SC-001"])
    assert list(week) == [OFFICER, "GW-SC-001"]
    assert week[OFFICER] == Presence(21 * HOUR, 3.5 * HOUR, 3.5 * HOUR, 14 * HOUR, fixes=84)
    assert week["GW-SC-001"].inside_s == 7 * HOUR  # 08:00-18:00 on Wednesday, stale by 18:10


# -- ingest: {cc}:in:positions through the real consumer and a real Redis ----------------------------------


def position(person_id: str, moment: datetime, place: tuple[float, float], **overrides: str) -> dict[str, str]:
    fields = {"person_id": person_id, "observed_at": clock.local(moment).isoformat(timespec="seconds"),
              "lon": f"{place[0]:.7f}", "lat": f"{place[1]:.7f}", "source": "terminal"}
    return fields | overrides


def drain(worker: Consumer) -> int:
    total = 0
    while response := worker.r.xreadgroup(keys.CONSUMER_GROUP, worker.name, {keys.POSITIONS: ">"}, count=500):
        total += worker.process({stream: entries for stream, entries in response}).processed
    return total


def test_pres010_positions_are_kept_once_with_whether_they_are_in_the_community(
    r: redis.Redis, engine: Engine, grids: GridIndex, devices: DeviceRegistry, roster: Roster,
    places: dict[str, tuple[float, float]]
) -> None:
    consumer = Consumer(r, engine, grids, devices, name="test", areas=Areas(roster, grids, 50.0))
    consumer.ensure_groups()
    gcj = wgs84_to_gcj02(*places["out30"])
    r.xadd(keys.POSITIONS, position(OFFICER, at(9), places["in"], accuracy="8"))
    r.xadd(keys.POSITIONS, position(OFFICER, at(9, 1), places["far"]))
    r.xadd(keys.POSITIONS, position(OFFICER, at(9, 2), (float(gcj[0]), float(gcj[1])), datum="gcj02"))
    r.xadd(keys.POSITIONS, position(OFFICER, at(9, 3), places["out80"]))
    r.xadd(keys.POSITIONS, position(OFFICER, at(9), places["in"], accuracy="8"))  # repeated in the same batch
    r.xadd(keys.POSITIONS, position("CO-XX-999", at(9), places["in"]))  # no such person
    r.xadd(keys.POSITIONS, position(OFFICER, at(9, 4), places["in"], source="radio"))
    r.xadd(keys.POSITIONS, position(OFFICER, at(9, 5), places["in"], observed_at="2026-12-09T09:05:00"))
    assert drain(consumer) == 8
    r.xadd(keys.POSITIONS, position(OFFICER, at(9, 1), places["far"]))  # repeated in a later batch
    r.xadd(keys.POSITIONS, position("GW-SC-001", at(9, 1), places["in"], source="phone"))
    assert drain(consumer) == 2
    with engine.connect() as conn:
        kept = conn.execute(select(positions).order_by(positions.c.person_id, positions.c.observed_at)).mappings().all()
    assert [(row["person_id"], clock.local(row["observed_at"].replace(tzinfo=UTC)).strftime("%H:%M"),
             row["inside"], row["source"]) for row in kept] == [
        (OFFICER, "09:00", True, "terminal"), (OFFICER, "09:01", False, "terminal"),
        (OFFICER, "09:02", True, "terminal"),  # GCJ-02, converted: 30 m out, within the margin
        (OFFICER, "09:03", False, "terminal"), ("GW-SC-001", "09:01", True, "phone")]
    assert kept[0]["accuracy"] == 8.0 and kept[1]["accuracy"] is None
    assert kept[2]["lon"] == pytest.approx(places["out30"][0], abs=2e-6)
    dead = {json.loads(f["fields"])["person_id"] + "@" + json.loads(f["fields"])["observed_at"][11:16]: f["reason"]
            for _, f in r.xrange(keys.DEAD)}
    assert dead["CO-XX-999@09:00"] == "unknown person 'CO-XX-999'"
    assert dead[f"{OFFICER}@09:04"].startswith("source:")
    assert "offset" in dead[f"{OFFICER}@09:05"]
    assert len(dead) == 3 and all(f["stream"] == keys.POSITIONS for _, f in r.xrange(keys.DEAD))
    assert r.xpending(keys.POSITIONS, keys.CONSUMER_GROUP)["pending"] == 0  # acknowledged after the commit
    assert r.xlen(keys.LIVE) == 1  # only the dead-letter counter: positions are shown on no screen


def test_pres011_a_consumer_without_areas_refuses_positions_with_a_reason(
    r: redis.Redis, engine: Engine, grids: GridIndex, devices: DeviceRegistry, places: dict[str, tuple[float, float]]
) -> None:
    consumer = Consumer(r, engine, grids, devices, name="test")
    consumer.ensure_groups()
    r.xadd(keys.POSITIONS, position(OFFICER, at(9), places["in"]))
    drain(consumer)
    [(_, letter)] = r.xrange(keys.DEAD)
    assert letter["reason"] == "no positions handler in this consumer"
