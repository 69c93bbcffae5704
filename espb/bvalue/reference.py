"""The straightforward b-value computation, one cylinder at a time (the test oracle).

For each (cell, day): select the events within the radius whose day lies in the ``dt`` days
ending with that day, put them in time order, and apply :func:`espb.bvalue.estimators.estimate_b`.
No prefix sums, no pointers: slow, obviously right, and independent of :mod:`espb.bvalue.kernels`.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import pandas as pd

from espb.bvalue.config import CubeConfig
from espb.bvalue.estimators import estimate_b
from espb.bvalue.grid import cell_centres, day_index, within_radius


def reference_values(
    events: pd.DataFrame, cfg: CubeConfig, cells: Iterable[tuple[int, int]], days: Iterable[int]
) -> dict[str, np.ndarray]:
    """b, n_events, n_used for the given (lat index, lon index) cells and day indices.

    Returns arrays of shape (len(days), len(cells)).
    """
    cells = list(cells)
    days = list(days)
    la0, la1, lo0, lo1 = cfg.region
    lat_c = cell_centres(la0, la1, cfg.resolution)
    lon_c = cell_centres(lo0, lo1, cfg.resolution)
    t_ns = pd.DatetimeIndex(events["time"]).as_unit("ns").asi8
    ev_day = day_index(events["time"], cfg.start_ts)
    ev_lat = events["latitude"].to_numpy(dtype="float64")
    ev_lon = events["longitude"].to_numpy(dtype="float64")
    mag = events["mw"].to_numpy(dtype="float64")
    if cfg.round_magnitudes:
        mag = np.round(np.round(mag / cfg.delta_m) * cfg.delta_m, 10)
    r = cfg.effective_dr_km if cfg.metric == "greatcircle" else cfg.dr
    out = {
        k: np.zeros((len(days), len(cells)), dt)
        for k, dt in (("b", "float64"), ("n_events", "int64"), ("n_used", "int64"))
    }
    for ci, (i, j) in enumerate(cells):
        for di, d in enumerate(days):
            sel = within_radius(ev_lat, ev_lon, lat_c[i], lon_c[j], cfg.metric, r)
            sel &= (ev_day <= d) & (ev_day >= d - cfg.dt + 1)
            idx = np.flatnonzero(sel)
            idx = idx[np.argsort(t_ns[idx], kind="stable")]
            b, n_used = estimate_b(
                mag[idx], cfg.mode, cfg.effective_threshold, cfg.effective_delta_m, cfg.b_max
            )
            out["b"][di, ci] = b
            out["n_events"][di, ci] = len(idx)
            out["n_used"][di, ci] = n_used
    return out


def reference_cube(events: pd.DataFrame, cfg: CubeConfig) -> dict[str, np.ndarray]:
    """The whole cube by brute force, arrays shaped (time, lat, lon). Tiny grids only."""
    la0, la1, lo0, lo1 = cfg.region
    nlat = cell_centres(la0, la1, cfg.resolution).size
    nlon = cell_centres(lo0, lo1, cfg.resolution).size
    cells = [(i, j) for i in range(nlat) for j in range(nlon)]
    vals = reference_values(events, cfg, cells, range(cfg.n_days))
    return {k: v.reshape(cfg.n_days, nlat, nlon) for k, v in vals.items()}
