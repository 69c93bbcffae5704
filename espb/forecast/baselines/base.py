"""What every baseline forecast shares: the days it is asked for, its output array, the
segment calendar of its time-forward updates, and the protocol it follows.

A baseline gives, for each requested day ``d`` and each eligible cell (the model's cells,
:class:`espb.forecast.targets.Eligible`), the probability of at least one target event
(``Mw >= target_mag``) in the cell on that UTC day, computed from events *before* day ``d`` only
(strictly earlier than 00:00 UTC of day ``d``). The result is an ``xarray.DataArray``
``(time, lat, lon)`` over the whole grid, NaN outside the eligible cells.
"""

from __future__ import annotations

from typing import Any, Protocol

import numpy as np
import pandas as pd
import xarray as xr

from espb.errors import ConfigError, EspbError
from espb.forecast.targets import Eligible
from espb.samples.labels import Grid


class Baseline(Protocol):
    """``f(events, grid, eligible, days, target_mag, cfg) -> DataArray``."""

    def __call__(
        self,
        events: pd.DataFrame,
        grid: Grid,
        eligible: Eligible,
        days: np.ndarray | None,
        target_mag: float,
        cfg: Any = None,
    ) -> xr.DataArray: ...


def forecast_days(eligible: Eligible, days: np.ndarray | None) -> np.ndarray:
    """The requested grid day indices, sorted and unique (all eligible days when None).

    Raises :class:`EspbError` for a day outside the eligible days."""
    if eligible.shape[1] == 0 or eligible.shape[2] == 0:
        raise EspbError("no eligible cells: the grid is smaller than one patch; use a larger grid")
    if days is None:
        d = np.arange(eligible.day_lo, eligible.n_days, dtype=np.int64)
    else:
        d = np.unique(np.asarray(days, dtype=np.int64))
    if d.size == 0:
        raise EspbError(
            f"no forecast days: the eligible days are [{eligible.day_lo}, {eligible.n_days}) "
            "(a full lookback is needed before a day); pass days inside that range"
        )
    bad = d[(d < eligible.day_lo) | (d >= eligible.n_days)]
    if bad.size:
        raise EspbError(
            f"forecast days {bad[:5].tolist()} are outside the eligible days "
            f"[{eligible.day_lo}, {eligible.n_days}) (a full lookback is needed before a day); "
            "pass days inside that range"
        )
    return d


def segment_start(day: np.ndarray, eligible: Eligible, every: int) -> np.ndarray:
    """First day of the update segment of each day: segments of ``every`` days anchored at the
    first eligible day (the progressive training's timeline, paper Section 3.1)."""
    if int(every) < 1:
        raise ConfigError(f"update interval must be >= 1 day, not {every}")
    d = np.asarray(day, dtype=np.int64)
    return eligible.day_lo + ((d - eligible.day_lo) // int(every)) * int(every)


def event_days(events: pd.DataFrame, grid: Grid) -> np.ndarray:
    """Grid day index of every event (negative before the grid start)."""
    return grid.day(events["time"]) if len(events) else np.zeros(0, dtype=np.int64)


def eligible_edges(grid: Grid, eligible: Eligible) -> tuple[np.ndarray, np.ndarray]:
    """Latitude and longitude cell edges (degrees) of the eligible box."""
    lat = grid.lat0 + np.arange(eligible.row_lo, eligible.row_hi + 2) * grid.res
    lon = grid.lon0 + np.arange(eligible.col_lo, eligible.col_hi + 2) * grid.res
    return lat, lon


def to_dataarray(
    values: np.ndarray,
    grid: Grid,
    eligible: Eligible,
    days: np.ndarray,
    name: str,
    target_mag: float,
    attrs: dict[str, Any],
) -> xr.DataArray:
    """Wrap ``(len(days), rows, cols)`` values of the eligible box as a full-grid DataArray."""
    out = np.full((len(days), grid.nlat, grid.nlon), np.nan)
    out[:, eligible.row_lo : eligible.row_hi + 1, eligible.col_lo : eligible.col_hi + 1] = values
    clean = {k: (v if isinstance(v, int | float | str) else str(v)) for k, v in attrs.items()}
    return xr.DataArray(
        out,
        dims=("time", "lat", "lon"),
        coords={
            "time": ("time", grid.date(days), {"long_name": "forecast day (UTC)"}),
            "lat": ("lat", grid.lat_centres(), {"units": "degrees_north"}),
            "lon": ("lon", grid.lon_centres(), {"units": "degrees_east"}),
        },
        name=f"p_{name}",
        attrs={
            "long_name": f"probability of at least one Mw >= {target_mag:g} event in the cell "
            f"on the day ({name} baseline)",
            "units": "1",
            "baseline": name,
            "target_mag": float(target_mag),
            "time_forward": "uses only events before 00:00 UTC of the forecast day",
            **clean,
        },
    )
