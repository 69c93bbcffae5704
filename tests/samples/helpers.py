"""Tiny hand-made grids, catalogs and cubes for the sample-labelling tests."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd
import xarray as xr

from espb.samples.config import SampleConfig
from espb.samples.labels import Grid

START = pd.Timestamp("2020-01-01", tz="UTC")
LAT0, LON0, RES = 38.0, 140.0, 0.1
N = 24  # cells per axis
N_DAYS = 60

#: patch 8 (half 4), lookback 4: usable centres are rows/cols 4..20, forecast days 4..59
CFG = SampleConfig(patch=8, lookback=4)


def cfg(**kw) -> SampleConfig:
    return replace(CFG, **kw)


def grid(nlat: int = N, nlon: int = N, n_days: int = N_DAYS) -> Grid:
    return Grid(LAT0, LON0, RES, nlat, nlon, START, n_days)


def centre(row: int, col: int) -> tuple[float, float]:
    """Latitude, longitude of the centre of cell (row, col)."""
    return LAT0 + (row + 0.5) * RES, LON0 + (col + 0.5) * RES


def at(day: int, seconds: float = 0.0) -> pd.Timestamp:
    """``seconds`` after midnight UTC of day ``day`` (day 0 = START)."""
    return START + pd.Timedelta(days=day) + pd.Timedelta(seconds=seconds)


def ev(
    day: int,
    row: float,
    col: float,
    mw: float,
    *,
    dlat: float = 0.0,
    dlon: float = 0.0,
    seconds: float = 0.0,
    eid: str | None = None,
) -> dict:
    """One event at the centre of cell (row, col) shifted by (dlat, dlon) degrees."""
    lat, lon = centre(row, col)
    return {
        "event_id": eid,
        "time": at(day, seconds),
        "latitude": lat + dlat,
        "longitude": lon + dlon,
        "mw": mw,
    }


def events(*rows: dict) -> pd.DataFrame:
    """An event table (espb columns) from ``ev`` dicts, kept in the given order."""
    n = len(rows)
    ids = [r["event_id"] if r["event_id"] is not None else f"e{i:04d}" for i, r in enumerate(rows)]
    return pd.DataFrame(
        {
            "event_id": pd.Series(ids, dtype=object),
            "time": pd.to_datetime(
                pd.Series([r["time"] for r in rows], dtype="datetime64[ns, UTC]")
            ),
            "latitude": np.array([r["latitude"] for r in rows], dtype="float64"),
            "longitude": np.array([r["longitude"] for r in rows], dtype="float64"),
            "depth": np.full(n, 10.0),
            "mw": np.array([r["mw"] for r in rows], dtype="float64"),
        }
    )


def cube(n_events: np.ndarray) -> xr.Dataset:
    """An xarray cube with ``n_events`` (time, lat, lon) on the test grid."""
    T, H, W = n_events.shape
    return xr.Dataset(
        {"n_events": (("time", "lat", "lon"), n_events)},
        coords={
            "time": pd.date_range(START.tz_localize(None), periods=T, freq="D"),
            "lat": LAT0 + (np.arange(H) + 0.5) * RES,
            "lon": LON0 + (np.arange(W) + 0.5) * RES,
        },
        attrs={"resolution": RES},
    )
