"""The history backfill: deterministic, contract-valid, rhythmic, and kept (not pushed) by the real consumer."""

from __future__ import annotations

import re
from datetime import datetime, timedelta

import numpy as np
import pandas as pd
import pytest
import redis
from sqlalchemy import Engine, func, select

from bus import keys
from clock import BEIJING
from geo.devices import DeviceRegistry
from geo.index import GridIndex
from ingest.consumer import Consumer
from ingest.contract import IncidentIn, parse
from simulation import backfill
from simulation.backfill import Layout, generate, write
from store.db import incidents

END = datetime(2026, 11, 27, tzinfo=BEIJING)
# History is drawn by season and weekday: the module runs at the moment its history ends.
pytestmark = pytest.mark.time_machine(END, tick=False)
EVENT_ID = re.compile(r"^H-\d{8}-\d{5}$")


@pytest.fixture(scope="module")
def layout(grids: GridIndex) -> Layout:
    return Layout(grids)


@pytest.fixture(scope="module")
def entries(grids: GridIndex) -> list[dict[str, str]]:
    """120 days ending 2026-11-27 (Beijing midnight)."""
    return list(generate(grids, END, days=120))


@pytest.fixture(scope="module")
def frame(entries: list[dict[str, str]], grids: GridIndex) -> pd.DataFrame:
    df = pd.DataFrame(entries)
    df["t"] = pd.to_datetime(df["reported_at"]).dt.tz_convert("Asia/Shanghai")
    df["grid"] = grids.locate_codes(df["lon"].astype(float).to_numpy(), df["lat"].astype(float).to_numpy())
    return df


def test_backfill001_same_seed_same_entries_other_seed_differs(grids: GridIndex) -> None:
    first = list(generate(grids, END, days=7))
    assert first == list(generate(grids, END, days=7))
    other = list(generate(grids, END, days=7, seed=backfill.DEFAULT_SEED + 1))
    assert other != first
    assert {e["address"] for e in other} != {e["address"] for e in first}  # another layout, not just other times


def test_backfill002_every_entry_keeps_the_contract(entries: list[dict[str, str]], grids: GridIndex) -> None:
    parsed = [parse(IncidentIn, fields) for fields in entries]
    assert all(i.history for i in parsed)
    assert all(EVENT_ID.match(i.event_id) for i in parsed)
    assert len({i.event_id for i in parsed}) == len(parsed)
    times = [i.reported_at for i in parsed]
    assert times == sorted(times), "oldest first"
    assert END - timedelta(days=120) <= times[0] and times[-1] < END
    # The event id's date is the Beijing date of the report.
    assert all(i.event_id[2:10] == i.reported_at.astimezone(BEIJING).strftime("%Y%m%d") for i in parsed[:500])
    # Every point is inside the district (the consumer would dead-letter it otherwise).
    assert None not in grids.locate_codes([i.lon for i in parsed], [i.lat for i in parsed])
    assert {i.source.value for i in parsed} == {"110", "12345", "grid"}


def test_backfill003_volume_and_rhythms(frame: pd.DataFrame) -> None:
    per_day = len(frame) / 120
    assert 250 <= per_day <= 350
    noise = frame[frame["category"] == "noise"]
    assert noise["t"].dt.hour.isin([21, 22, 23, 0, 1]).mean() > 0.5  # noise mostly 21:00-02:00
    days = pd.Series(pd.date_range(END - timedelta(days=120), END - timedelta(days=1), freq="D"))
    weekend_days = int(days.dt.day_of_week.isin([5, 6]).sum())
    weekend = noise["t"].dt.day_of_week.isin([5, 6])
    assert weekend.sum() / weekend_days > 1.2 * (~weekend).sum() / (len(days) - weekend_days)
    traffic = frame[(frame["category"] == "traffic") & (frame["t"].dt.day_of_week < 5)]
    by_hour = traffic["t"].dt.hour.value_counts()
    assert by_hour[[7, 8, 17, 18]].min() > 1.5 * by_hour[[10, 11, 14, 15]].mean()  # rush hours
    # Seasons: bride-price disputes in the wedding season (Oct-Nov) well above August.
    bride = frame[frame["category"] == "bride_price"]["t"].dt.month.value_counts()
    assert bride[[10, 11]].sum() / 61 > 2 * bride[8] / 31


def test_backfill004_seasons_over_a_year(grids: GridIndex) -> None:
    year = pd.DataFrame(list(generate(grids, END, days=365)))
    t = pd.to_datetime(year["reported_at"]).dt.tz_convert("Asia/Shanghai")
    month = t.dt.month

    def per_day(category: str, months: list[int]) -> float:
        selected = (year["category"] == category) & month.isin(months)
        return float(selected.sum()) / float(t[month.isin(months)].dt.date.nunique())

    assert per_day("wage_arrears", [1]) > 1.6 * per_day("wage_arrears", [4, 5, 6, 7, 8, 9])  # before the festival
    assert per_day("family_dispute", [2]) > 1.3 * per_day("family_dispute", [4, 5, 6, 7, 8, 9])
    assert per_day("fire", [12, 1, 2]) > 2 * per_day("fire", [6, 7, 8])
    assert per_day("noise", [7]) > 1.4 * per_day("noise", [11])
    assert 280 <= len(year) / 365 <= 320


def test_backfill005_hot_spots_repeats_and_rising_grids(frame: pd.DataFrame, layout: Layout) -> None:
    per_grid = frame["grid"].value_counts().reindex(layout.codes, fill_value=0)
    assert len(layout.hot_spots) == 20
    assert per_grid[list(layout.hot_spots)].median() > 3 * per_grid.median()

    # Some address has 3+ reports within 7 days, under one text and one position.
    counts = frame["address"].value_counts()
    repeated = 0
    for _, group in frame[frame["address"].isin(counts.index[counts >= 3])].groupby("address"):
        ts = np.sort(group["t"].to_numpy())
        if (ts[2:] - ts[:-2] <= np.timedelta64(7, "D")).any():
            repeated += 1
            assert group[["lon", "lat"]].drop_duplicates().shape[0] == 1
    assert repeated >= 10

    family = frame[frame["category"] == "family_dispute"]["caller"].value_counts()
    assert (family >= 2).sum() >= 10  # households calling again and again

    rising = frame[frame["grid"].isin(layout.rising)]
    end = pd.Timestamp(END)
    last = int((rising["t"] >= end - pd.Timedelta(days=14)).sum())
    previous = int(((rising["t"] >= end - pd.Timedelta(days=28)) & (rising["t"] < end - pd.Timedelta(days=14))).sum())
    assert last > 1.3 * previous

    workers = frame[frame["source"] == "grid"]
    assert set(workers["category"]) <= {"neighbour_dispute", "family_dispute", "wage_arrears", "bride_price"}
    assert workers["caller"].isna().all()
    disputes = frame["category"].isin(["neighbour_dispute", "family_dispute", "wage_arrears", "bride_price"])
    assert 0.06 < len(workers) / disputes.sum() < 0.14


def test_backfill006_through_the_consumer_kept_never_pushed(
    r: redis.Redis, engine: Engine, grids: GridIndex
) -> None:
    shown: list[int] = []
    written = write(r, grids, END, days=30, progress=shown.append)
    assert written == r.xlen(keys.INCIDENTS) > 8000
    assert shown[-1] == 100 and shown == sorted(shown)

    consumer = Consumer(r, engine, grids, DeviceRegistry(), name="test")
    consumer.ensure_groups()
    while response := r.xreadgroup(keys.CONSUMER_GROUP, consumer.name, dict.fromkeys(consumer.streams, ">"), count=500):
        consumer.process({stream: batch for stream, batch in response})

    with engine.connect() as conn:
        kept = int(conn.execute(select(func.count()).select_from(incidents)).scalar_one())
    assert kept == written
    assert r.xlen(keys.DEAD) == 0
    assert not [f for _, f in r.xrange(keys.LIVE) if f.get("type") == "incident"]
    assert r.xpending(keys.INCIDENTS, keys.CONSUMER_GROUP)["pending"] == 0


def test_backfill007_command_line(r: redis.Redis, redis_url: str, monkeypatch: pytest.MonkeyPatch,
                                  capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("REDIS_URL", redis_url)
    assert backfill.main(["--days", "2", "--end", "2026-11-27T00:00:00+08:00"]) == 0
    out = capsys.readouterr().out
    assert "100%" in out
    assert f"wrote {r.xlen(keys.INCIDENTS):,} incidents" in out
    first = r.xrange(keys.INCIDENTS, count=1)[0][1]
    assert first["event_id"].startswith("H-20261125-") and first["history"] == "1"
