"""The cube's grid: cell centres on a regular lat/lon grid and day indices (paper Section 2.1)."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from espb.geo import EARTH_RADIUS_KM, haversine_km

DAY_NS = 86_400 * 1_000_000_000


def cell_centres(lo: float, hi: float, res: float) -> np.ndarray:
    """Centres of the cells of width ``res`` tiling [lo, hi] (rounded to 1e-10 deg)."""
    n = int(round((hi - lo) / res))
    return np.round(lo + (np.arange(n) + 0.5) * res, 10)


def day_index(times: pd.Series | pd.DatetimeIndex, start: pd.Timestamp) -> np.ndarray:
    """Day number of each time counted from ``start`` (UTC midnight): day d covers
    [start + d days, start + d + 1 days). Negative for times before ``start``."""
    t = pd.DatetimeIndex(times)
    t = t.tz_localize("UTC") if t.tz is None else t.tz_convert("UTC")
    ns = t.as_unit("ns").asi8
    start_ns = pd.Timestamp(start).tz_convert("UTC").as_unit("ns").value
    return (ns - start_ns) // DAY_NS


#: Relative slack of the "distance <= radius" test, so events exactly on the radius count.
RADIUS_RTOL = 1e-9


def within_radius(ev_lat, ev_lon, c_lat: float, c_lon: float, metric: str, r: float) -> np.ndarray:
    """Which events lie in the cylinder's disc around a cell centre (boundary included).

    ``planar``: sqrt(dlat^2 + dlon^2) <= r in degrees (the paper gives dr in degrees);
    ``greatcircle``: haversine distance <= r in km.
    """
    ev_lat = np.asarray(ev_lat, dtype="float64")
    ev_lon = np.asarray(ev_lon, dtype="float64")
    if metric == "planar":
        dlat = ev_lat - c_lat
        dlon = ev_lon - c_lon
        return dlat * dlat + dlon * dlon <= r * r * (1.0 + RADIUS_RTOL)
    if metric == "greatcircle":
        return haversine_km(c_lat, c_lon, ev_lat, ev_lon, EARTH_RADIUS_KM) <= r * (
            1.0 + RADIUS_RTOL
        )
    raise ValueError(f"unknown metric {metric!r}; use planar or greatcircle")


def search_box_deg(metric: str, r: float, max_abs_lat: float) -> tuple[float, float]:
    """Half-widths (dlat, dlon) in degrees of a box containing every point within ``r``."""
    if metric == "planar":
        return r, r
    dlat = math.degrees(r / EARTH_RADIUS_KM) * (1 + 1e-6)
    lat = min(max_abs_lat + dlat, 89.9)
    return dlat, min(dlat / math.cos(math.radians(lat)), 360.0)
