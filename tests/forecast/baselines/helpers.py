"""Tiny grids, hand-made catalogs and the time-forward (no-future) check shared by the tests."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd
import xarray as xr

from espb.forecast.targets import Eligible
from espb.samples.labels import Grid

START = pd.Timestamp("2010-01-01", tz="UTC")


def small_grid(n: int = 12, n_days: int = 150, lat0: float = 38.0, lon0: float = 141.0) -> Grid:
    return Grid(lat0, lon0, 0.1, n, n, START, n_days)


def events_frame(day: np.ndarray, lat: np.ndarray, lon: np.ndarray, mw: np.ndarray) -> pd.DataFrame:
    """An event table (the columns the baselines read) from fractional grid days."""
    t = START + pd.to_timedelta(np.asarray(day, float) * 86_400_000, unit="ms").round("ms")
    df = pd.DataFrame(
        {
            "event_id": [str(i) for i in range(len(t))],
            "time": t,
            "latitude": np.asarray(lat, float),
            "longitude": np.asarray(lon, float),
            "depth": 10.0,
            "mw": np.asarray(mw, float),
        }
    )
    return df.sort_values("time", kind="stable").reset_index(drop=True)


def clustered_catalog(grid: Grid, seed: int = 0, n_bursts: int = 25) -> pd.DataFrame:
    """Bursts of small events, each often followed by target events nearby (a catalog on which
    recent activity is informative), plus a uniform scatter."""
    rng = np.random.default_rng(seed)
    days, lats, lons, mags = [], [], [], []
    span_lat, span_lon = grid.nlat * grid.res, grid.nlon * grid.res
    for _ in range(n_bursts):
        d0 = rng.uniform(0, grid.n_days - 5)
        la = grid.lat0 + rng.uniform(0.2, span_lat - 0.2)
        lo = grid.lon0 + rng.uniform(0.2, span_lon - 0.2)
        n = rng.integers(20, 60)
        days.append(d0 + rng.exponential(2.0, n))
        lats.append(la + rng.normal(0, 0.05, n))
        lons.append(lo + rng.normal(0, 0.05, n))
        mags.append(np.round(2.0 + rng.exponential(0.5, n), 1))
    n = 300
    days.append(rng.uniform(0, grid.n_days, n))
    lats.append(grid.lat0 + rng.uniform(0, span_lat, n))
    lons.append(grid.lon0 + rng.uniform(0, span_lon, n))
    mags.append(np.round(2.0 + rng.exponential(0.45, n), 1))
    return events_frame(*(np.concatenate(v) for v in (days, lats, lons, mags)))


def perturb_from(events: pd.DataFrame, grid: Grid, d: int, seed: int = 1) -> pd.DataFrame:
    """Events from 00:00 UTC of grid day ``d`` on changed (magnitudes, places) and new ones
    added there, targets included; everything earlier is untouched. A forecast for day ``d``
    may use only what happened before its start, so no value for a day <= d may change."""
    rng = np.random.default_rng(seed)
    ev = events.copy()
    after = grid.day(ev["time"]) >= d
    ev.loc[after, "mw"] = np.round(
        ev.loc[after, "mw"].to_numpy() + rng.uniform(0, 2, after.sum()), 1
    )
    ev.loc[after, "latitude"] += rng.normal(0, 0.05, after.sum())
    n = 80
    new = events_frame(
        d + rng.uniform(0, max(grid.n_days - d, 1), n),
        grid.lat0 + rng.uniform(0, grid.nlat * grid.res, n),
        grid.lon0 + rng.uniform(0, grid.nlon * grid.res, n),
        np.round(rng.uniform(2.0, 6.5, n), 1),
    )
    new["event_id"] = [f"new{i}" for i in range(n)]
    out = pd.concat([ev, new], ignore_index=True)
    return out.sort_values("time", kind="stable").reset_index(drop=True)


def time_forward(
    compute: Callable[[object], xr.DataArray], base: object, perturbed: object, d: int
) -> tuple[bool, bool]:
    """(values for days <= d bit-identical, some value for a day > d changed) between the
    forecasts computed on ``base`` and on ``perturbed``."""
    a, b = compute(base), compute(perturbed)
    days = (a["time"].values - np.datetime64(START.tz_localize(None))) // np.timedelta64(1, "D")
    before = days <= d
    va, vb = a.values, b.values
    same = np.array_equal(va[before], vb[before], equal_nan=True)
    changed = not np.array_equal(va[~before], vb[~before], equal_nan=True)
    return same, changed


def eligible_of(grid: Grid, lookback: int = 20, patch: int = 4) -> Eligible:
    return Eligible.of(grid, lookback, patch)
