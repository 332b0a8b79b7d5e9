"""The chiefs' indicators against a day constructed by hand (tests/indicator_data.py)."""

from __future__ import annotations

import json
import time
from datetime import date, timedelta
from typing import Any

import pytest
import redis
from sqlalchemy import Engine

from app import PinganApp, create_app
from auth.lens import lens_for
from auth.roles import Role, Viewer
from bus import keys
from bus.events import Live
from clock import Period
from geo.index import GridIndex
from indicators.compute import DISTRICT, Rows, by_grid, compute, histogram, load, percentile
from push.hub import PushHub
from settings import Settings
from tests.indicator_data import (
    AT,
    DAY,
    EXPECTED,
    alert_rows,
    bj,
    incident_rows,
    insert_day,
    instruction_rows,
    lead_rows,
    pending_rows,
    queue_rows,
)

pytestmark = pytest.mark.time_machine(AT, tick=False)  # the morning after the constructed day

STATION_OF = {"G1": "S1", "G2": "S2"}


def constructed_rows(devices: dict[str, str | None] | None = None, health: dict[str, str] | None = None) -> Rows:
    grid_of = {int(r["event_id"].split("-")[1]): r["grid"] for r in incident_rows("G1", "G2")}
    instructions = [{**r, "grid": grid_of[r["incident"]]} for r in instruction_rows()]
    return Rows(incident_rows("G1", "G2"), instructions, lead_rows("G1", "G2"), alert_rows("G1", "G2"),
                queue_rows("G1", "G2"), pending_rows("G1", "G2"), devices, health or {})


def day_figures(rows: Rows) -> dict[str, Any]:
    now = bj(DAY + timedelta(days=2), 0)  # read two days later: the day is complete
    return compute(rows, Period.day(DAY), now, STATION_OF.get, ["S1", "S2"])


def assert_expected(f: dict[str, Any]) -> None:
    """The district's figures equal the ones worked out by hand."""
    e = EXPECTED
    assert (f["incidents"]["count"], f["incidents"]["comparison"]) == (e["incidents"], e["comparison"])
    assert f["incidents"]["change"] == pytest.approx(e["change"])
    assert f["incidents"]["by_category"] == e["by_category"]
    assert (f["repeat"]["incidents"], f["repeat"]["places"]) == (e["repeat_incidents"], e["repeat_places"])
    assert f["repeat"]["top"] == [{"place": "朔城区A街1号", "count": 3}]
    ins = f["instructions"]
    assert (ins["issued"], ins["open"], ins["overdue"]) == (e["issued"], e["open"], e["overdue"])
    assert sorted(ins["overdue_ids"]) == e["overdue_ids"]
    assert ins["breaches"] == e["breaches"]
    assert (f["queue"]["unverified"], f["queue"]["overdue"]) == (e["unverified"], e["unverified_overdue"])
    assert (f["leads"]["pending"], f["leads"]["late"]) == (e["pending"], e["pending_late"])
    arrival, result = f["arrival"], f["result"]
    assert (arrival["count"], arrival["median_min"]) == (e["arrival_count"], pytest.approx(e["arrival_median"]))
    assert arrival["p90_min"] == pytest.approx(e["arrival_p90"])
    assert arrival["on_time"] == pytest.approx(e["arrival_on_time"])
    assert (result["count"], result["median_min"]) == (e["result_count"], pytest.approx(e["result_median"]))
    assert result["p90_min"] == pytest.approx(e["result_p90"])
    assert result["on_time"] == pytest.approx(e["result_on_time"])
    leads = f["leads"]
    assert (leads["high"], leads["handled"], leads["on_time"], leads["medium"]) == (
        e["leads_high"], e["leads_handled"], e["leads_on_time"], e["leads_medium"])
    assert leads["disposal_rate"] == pytest.approx(e["lead_disposal"])
    verification = f["verification"]
    assert (verification["alerts"], verification["due"], verification["within"]) == (
        e["alerts"], e["alerts_due"], e["alerts_within"])
    assert verification["rate"] == pytest.approx(e["verification"])
    assert f["completeness"]["complete"] == e["complete"]
    assert f["completeness"]["rate"] == pytest.approx(e["completeness"])


def test_ind001_district_figures_of_a_constructed_day() -> None:
    figures = day_figures(constructed_rows())
    assert_expected(figures["scopes"][DISTRICT])
    assert figures["scopes"][DISTRICT]["devices"] is None  # no live health for a past day
    assert figures["period"]["label"] == "2026-11-24"


def test_ind002_hourly_trend_against_the_same_weekday_last_week() -> None:
    incidents = day_figures(constructed_rows())["scopes"][DISTRICT]["incidents"]
    expected_today = [0] * 24
    for hour, n in ((8, 1), (9, 2), (14, 2), (22, 1)):
        expected_today[hour] = n
    expected_before = [0] * 24
    for hour in (8, 9, 10, 11):
        expected_before[hour] = 1
    assert incidents["trend"] == expected_today
    assert incidents["trend_comparison"] == expected_before


def test_ind003_each_station_counts_only_its_grids() -> None:
    scopes = day_figures(constructed_rows())["scopes"]
    s1, s2 = scopes["S1"], scopes["S2"]
    assert (s1["incidents"]["count"], s2["incidents"]["count"]) == (3, 3)
    assert (s1["repeat"]["incidents"], s2["repeat"]["incidents"]) == (3, 0)
    assert s1["arrival"]["median_min"] == pytest.approx(12.0)  # 4 and 20 minutes
    assert s2["arrival"]["median_min"] == pytest.approx(8.0)
    assert (s1["instructions"]["open"], s2["instructions"]["open"]) == (0, 2)
    assert (s1["leads"]["high"], s2["leads"]["high"]) == (1, 2)
    assert s2["completeness"]["rate"] == pytest.approx(1 / 3)
    # The parts add up to the district.
    district = scopes[DISTRICT]
    assert s1["incidents"]["count"] + s2["incidents"]["count"] == district["incidents"]["count"]
    assert s1["instructions"]["issued"] + s2["instructions"]["issued"] == district["instructions"]["issued"]


def test_ind004_device_online_rate_only_while_the_period_runs() -> None:
    rows = constructed_rows({"D1": "G1", "D2": "G1", "D3": "G2", "D4": "G2", "D5": "G2"},
                            {"D3": "offline", "D5": "awaiting"})
    scopes = day_figures(rows)["scopes"]
    # Online among the devices whose state is known: D5 has not reported since the watch began.
    assert scopes[DISTRICT]["devices"] == {"total": 5, "online": 3, "awaiting": 1, "offline": 1, "faulty": 0,
                                           "rate": 0.75}
    assert scopes["S2"]["devices"] == {"total": 3, "online": 1, "awaiting": 1, "offline": 1, "faulty": 0, "rate": 0.5}


def test_ind005_figures_as_of_a_moment_inside_the_day() -> None:
    """At 12:30 the day is still running: what is open and overdue is judged then, not at midnight."""
    figures = compute(constructed_rows(), Period.day(DAY), bj(DAY, 12, 30), STATION_OF.get, [])
    ins = figures["scopes"][DISTRICT]["instructions"]
    assert (ins["issued"], ins["open"], ins["overdue"]) == (3, 1, 1)  # I3 arrived late at 12:08, result due 12:23
    leads = figures["scopes"][DISTRICT]["leads"]
    assert (leads["high"], leads["handled"]) == (1, 1)  # only L1 exists by 12:30
    verification = figures["scopes"][DISTRICT]["verification"]
    assert (verification["alerts"], verification["due"], verification["within"]) == (3, 3, 1)  # A3 comes later
    # Today so far against the same weekday last week so far (08:00, 09:00, 10:00, 11:00 before 12:30),
    # not against the whole of it: a morning is not a day.
    incidents = figures["scopes"][DISTRICT]["incidents"]
    assert (incidents["count"], incidents["comparison"], incidents["comparison_whole"]) == (6, 4, 4)
    early = compute(constructed_rows(), Period.day(DAY), bj(DAY, 9, 30), STATION_OF.get, [])
    assert early["scopes"][DISTRICT]["incidents"]["comparison"] == 2  # last week's 08:00 and 09:00


def test_ind014_a_report_made_later_counts_leads_handled_after_the_period() -> None:
    """Open and overdue are judged at the period's end; a lead handled the next morning counts as
    disposed (late) when the figures are computed then, and not before."""
    rows = constructed_rows()
    created = bj(DAY, 23, 30)
    rows.leads.append({"lead_id": "L5", "grid": "G1", "level": "high", "created_at": created,
                       "deadline": created + timedelta(hours=1), "handled_at": created + timedelta(hours=9)})
    at_midnight = compute(rows, Period.day(DAY), bj(DAY + timedelta(days=1), 0), STATION_OF.get, [])
    next_noon = compute(rows, Period.day(DAY), bj(DAY + timedelta(days=1), 12), STATION_OF.get, [])
    assert at_midnight["scopes"][DISTRICT]["leads"]["handled"] == 2
    assert next_noon["scopes"][DISTRICT]["leads"]["handled"] == 3
    assert next_noon["scopes"][DISTRICT]["leads"]["on_time"] == 1
    assert next_noon["scopes"][DISTRICT]["instructions"]["open"] == 2  # still judged at midnight


def test_ind006_percentiles_and_histogram() -> None:
    assert percentile([], 90) is None
    assert percentile([7.0], 90) == 7.0
    assert percentile([1, 2, 3, 4, 5, 6, 7, 8, 9, 10], 90) == pytest.approx(9.1)
    assert percentile([1, 2, 3, 4], 50) == pytest.approx(2.5)
    bars = histogram([0.2, 4.99, 5.0, 29.9, 30.0, 95.0, -1.0])
    assert len(bars) == 31 and sum(bars) == 7
    assert (bars[0], bars[4], bars[5], bars[29], bars[30]) == (2, 1, 1, 1, 2)


def test_ind007_periods_in_beijing_time() -> None:
    week = Period.week(date(2026, 11, 26))
    assert (week.start, week.end) == (bj(date(2026, 11, 20), 0), bj(date(2026, 11, 27), 0))
    assert week.comparison().start == bj(date(2026, 11, 13), 0)
    month = Period.month(2026, 3)
    assert month.comparison() == Period.month(2026, 2)
    assert Period.month(2026, 1).comparison() == Period.month(2025, 12)
    assert Period.month(2026, 12).end == bj(date(2027, 1, 1), 0)
    assert month.local_label() == "2026-03-01 – 2026-03-31"


def test_ind008_loaded_from_the_system_of_record_equals_the_constructed_rows(engine: Engine) -> None:
    grids = GridIndex()
    g1 = next(str(c) for c in grids.codes if grids.get(str(c)).station == "PS-01")
    g2 = next(str(c) for c in grids.codes if grids.get(str(c)).station == "PS-02")
    insert_day(engine, g1, g2)
    period = Period.day(DAY)
    now = bj(DAY + timedelta(days=2), 0)
    rows = load(engine, period, now)
    figures = compute(rows, period, now, lambda g: grids.get(g).station if g and grids.get(g) else None,
                      ["PS-01", "PS-02"])
    assert_expected(figures["scopes"][DISTRICT])
    assert figures["scopes"]["PS-01"]["incidents"]["count"] == 3
    drill = {row["grid"]: row for row in by_grid(rows, period, now, [g1, g2])}
    assert (drill[g1]["incidents"], drill[g1]["repeat"], drill[g2]["open"], drill[g2]["overdue"]) == (3, 3, 2, 2)


# -- published live ----------------------------------------------------------------------------

@pytest.fixture
def app(settings: Settings) -> PinganApp:
    built = create_app(settings)
    yield built
    built.stop()


def test_ind009_published_on_the_live_stream_and_kept_for_snapshots(app: PinganApp, r: redis.Redis) -> None:
    payload = app.indicators.publish()
    kept = json.loads(r.get(keys.INDICATORS))
    assert kept == payload == app.indicators.today()
    (_, fields), = r.xrevrange(keys.LIVE, count=1)  # the stream carries only the news, not the figures
    assert fields["type"] == Live.INDICATORS and json.loads(fields["data"]) == {"asof": payload["asof"]}
    assert set(payload["scopes"]) == {DISTRICT, *(code for code, _ in app.grids.stations("en"))}
    assert payload["scopes"][DISTRICT]["devices"]["total"] == len(app.devices.devices)


def test_ind010_a_station_officer_sees_only_the_station(app: PinganApp) -> None:
    payload = app.indicators.publish()
    officer = Viewer("s-officer", Role.STATION_OFFICER, station="PS-03", session_id="x")
    seen = lens_for(officer, lambda grid: None)("indicators", payload)
    assert seen is not None and set(seen["scopes"]) == {"PS-03"}
    chief = Viewer("chief", Role.CHIEF, session_id="y")
    assert lens_for(chief, lambda grid: None) is None  # the chief sees every station, unfiltered


def test_ind011_recomputed_after_activity_not_on_its_own_events(app: PinganApp, r: redis.Redis) -> None:
    """The publisher wakes on other events (debounced) and ignores its own."""
    import threading

    stop = threading.Event()
    worker = threading.Thread(target=app.indicators.run, args=(stop,), daemon=True)
    worker.start()
    try:
        first = _next_indicators(r, "0-0")
        r.xadd(keys.LIVE, {"type": "incident", "data": "{}"})
        second = _next_indicators(r, first)
        assert second > first
    finally:
        stop.set()
        worker.join(timeout=10)
    assert not worker.is_alive()


def _next_indicators(r: redis.Redis, after: str, timeout_s: float = 20.0) -> str:
    """Block until the next ``indicators`` event after ``after``; return its id."""
    cursor, deadline = after, time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        for _, entries in r.xread({keys.LIVE: cursor}, block=2_000):  # under the client's socket timeout
            for entry_id, fields in entries:
                cursor = entry_id
                if fields["type"] == Live.INDICATORS:
                    return str(entry_id)
    raise AssertionError(f"no indicators published within {timeout_s} s")


def test_ind013_pages_are_sent_the_kept_figures_once_per_batch(app: PinganApp, r: redis.Redis) -> None:
    sent: list[dict[str, Any]] = []
    hub = PushHub(r, app.engine, emit=lambda sid, batch: sent.append(batch),
                  states={Live.INDICATORS: app.indicators.today})
    hub.subscribe("page-1", None)
    assert hub.ack("page-1", sent[-1]["seq"])  # the snapshot
    app.indicators.publish()
    r.xadd(keys.LIVE, {"type": "incident", "data": json.dumps({"event_id": "E-1"})})
    latest = app.indicators.publish()
    hub.poll_once(block_ms=1)
    events = sent[-1]["events"]
    assert [e["type"] for e in events] == ["incident", Live.INDICATORS]  # the older figures are not sent at all
    assert events[-1]["data"] == latest == json.loads(r.get(keys.INDICATORS))


def test_ind012_period_in_progress_has_live_devices(app: PinganApp) -> None:
    today = Period.today(app.indicators.clock())
    assert app.indicators.for_period(today)["scopes"][DISTRICT]["devices"] is not None
    yesterday = today.shifted(-1)
    assert app.indicators.for_period(yesterday)["scopes"][DISTRICT]["devices"] is None
