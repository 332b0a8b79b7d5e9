"""GCJ-02 <-> WGS-84 conversion.

The project's one datum is **WGS-84** (EPSG:4326): patrol GPS, sensors and any
standard tile layer speak it. Only the district boundary (from AMap) and
producers that set ``datum=gcj02`` arrive in GCJ-02, the obfuscated datum of
Chinese web maps; they are converted here, at the edge, and nowhere else.

GCJ-02 is defined by a published forward transform (WGS-84 -> GCJ-02). Its
inverse has no closed form, so :func:`gcj02_to_wgs84` inverts it by fixed-point
iteration, which converges to well under a millimetre within a few steps.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray

# Krasovsky 1940 ellipsoid, as used by the GCJ-02 algorithm.
_SEMI_MAJOR_AXIS = 6378245.0
_ECCENTRICITY_SQ = 0.00669342162296594323

_INVERSE_ITERATIONS = 8

FloatArray = NDArray[np.float64]


def _offsets(lon: FloatArray, lat: FloatArray) -> tuple[FloatArray, FloatArray]:
    """Return the GCJ-02 offset (degrees) to add to a WGS-84 position."""
    x = lon - 105.0
    y = lat - 35.0
    common = (
        20.0 * np.sin(6.0 * x * np.pi) + 20.0 * np.sin(2.0 * x * np.pi)
    ) * 2.0 / 3.0
    d_lat = -100.0 + 2.0 * x + 3.0 * y + 0.2 * y * y + 0.1 * x * y + 0.2 * np.sqrt(np.abs(x))
    d_lat += common
    d_lat += (20.0 * np.sin(y * np.pi) + 40.0 * np.sin(y / 3.0 * np.pi)) * 2.0 / 3.0
    d_lat += (160.0 * np.sin(y / 12.0 * np.pi) + 320.0 * np.sin(y * np.pi / 30.0)) * 2.0 / 3.0
    d_lon = 300.0 + x + 2.0 * y + 0.1 * x * x + 0.1 * x * y + 0.1 * np.sqrt(np.abs(x))
    d_lon += common
    d_lon += (20.0 * np.sin(x * np.pi) + 40.0 * np.sin(x / 3.0 * np.pi)) * 2.0 / 3.0
    d_lon += (150.0 * np.sin(x / 12.0 * np.pi) + 300.0 * np.sin(x / 30.0 * np.pi)) * 2.0 / 3.0

    rad_lat = lat / 180.0 * np.pi
    magic = 1.0 - _ECCENTRICITY_SQ * np.sin(rad_lat) ** 2
    sqrt_magic = np.sqrt(magic)
    d_lat = (d_lat * 180.0) / ((_SEMI_MAJOR_AXIS * (1.0 - _ECCENTRICITY_SQ)) / (magic * sqrt_magic) * np.pi)
    d_lon = (d_lon * 180.0) / (_SEMI_MAJOR_AXIS / sqrt_magic * np.cos(rad_lat) * np.pi)
    return d_lon, d_lat


def wgs84_to_gcj02(lon: ArrayLike, lat: ArrayLike) -> tuple[FloatArray, FloatArray]:
    """Convert WGS-84 longitude/latitude (degrees) to GCJ-02.

    Parameters
    ----------
    lon, lat : array_like
        WGS-84 coordinates in decimal degrees; scalars or arrays of one shape.

    Returns
    -------
    tuple of ndarray
        GCJ-02 ``(lon, lat)``.
    """
    lon_arr = np.asarray(lon, dtype=np.float64)
    lat_arr = np.asarray(lat, dtype=np.float64)
    d_lon, d_lat = _offsets(lon_arr, lat_arr)
    return lon_arr + d_lon, lat_arr + d_lat


def gcj02_to_wgs84(lon: ArrayLike, lat: ArrayLike) -> tuple[FloatArray, FloatArray]:
    """Convert GCJ-02 longitude/latitude (degrees) to WGS-84.

    Parameters
    ----------
    lon, lat : array_like
        GCJ-02 coordinates in decimal degrees.

    Returns
    -------
    tuple of ndarray
        WGS-84 ``(lon, lat)`` whose forward transform reproduces the input to
        better than 1e-9 degrees (about 0.1 mm).
    """
    gcj_lon = np.asarray(lon, dtype=np.float64)
    gcj_lat = np.asarray(lat, dtype=np.float64)
    wgs_lon, wgs_lat = gcj_lon.copy(), gcj_lat.copy()
    for _ in range(_INVERSE_ITERATIONS):
        fwd_lon, fwd_lat = wgs84_to_gcj02(wgs_lon, wgs_lat)
        wgs_lon = wgs_lon - (fwd_lon - gcj_lon)
        wgs_lat = wgs_lat - (fwd_lat - gcj_lat)
    return wgs_lon, wgs_lat
