"""The GCJ-02 <-> WGS-84 conversion against published reference points."""

from __future__ import annotations

import numpy as np
import pytest

from geo.datum import gcj02_to_wgs84, wgs84_to_gcj02
from geo.district import DISTRICT_SEAT

# (WGS-84 lat, lon, GCJ-02 lat, lon): the reference points used by the eviltransform
# libraries' own test suites (Shanghai, Shenzhen, Beijing).
REFERENCE = [
    (31.1774276, 121.5272106, 31.17530398364597, 121.531541859215),
    (22.543847, 113.912316, 22.540796131694766, 113.9171764808363),
    (39.911954, 116.377817, 39.91334545536069, 116.38404722455657),
]
METRES_PER_DEGREE = 111_320.0


@pytest.mark.parametrize(("wgs_lat", "wgs_lon", "gcj_lat", "gcj_lon"), REFERENCE)
def test_datum001_forward_matches_reference(wgs_lat: float, wgs_lon: float, gcj_lat: float, gcj_lon: float) -> None:
    lon, lat = wgs84_to_gcj02(wgs_lon, wgs_lat)
    assert lon == pytest.approx(gcj_lon, abs=1e-9)
    assert lat == pytest.approx(gcj_lat, abs=1e-9)


@pytest.mark.parametrize(("wgs_lat", "wgs_lon", "gcj_lat", "gcj_lon"), REFERENCE)
def test_datum002_inverse_matches_reference(wgs_lat: float, wgs_lon: float, gcj_lat: float, gcj_lon: float) -> None:
    lon, lat = gcj02_to_wgs84(gcj_lon, gcj_lat)
    # 1e-8 degrees is about a millimetre.
    assert lon == pytest.approx(wgs_lon, abs=1e-8)
    assert lat == pytest.approx(wgs_lat, abs=1e-8)


def test_datum003_round_trip_over_the_district() -> None:
    lon, lat = np.meshgrid(np.linspace(112.0, 112.8, 41), np.linspace(39.05, 39.5, 31))
    back_lon, back_lat = gcj02_to_wgs84(*wgs84_to_gcj02(lon, lat))
    error_m = np.hypot(back_lon - lon, back_lat - lat) * METRES_PER_DEGREE
    assert error_m.max() < 1e-3


def test_datum004_offset_in_shuocheng_is_a_few_hundred_metres() -> None:
    gcj_lon, gcj_lat = wgs84_to_gcj02(*DISTRICT_SEAT)
    shift_m = np.hypot(gcj_lon - DISTRICT_SEAT[0], gcj_lat - DISTRICT_SEAT[1]) * METRES_PER_DEGREE
    assert 100 < shift_m < 1000
