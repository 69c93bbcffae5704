"""Availability of nEQ samples (paper Figure 4 and Appendix B, Figure B.5): the nEQ pool of
Section 2.2 (no event with Mw >= M_lim within the L1 radius and +-7 days, a block mean of at
least ``min_mean_events`` events) counted per forecast day and per cell."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Mapping, Sequence

import numpy as np
import pandas as pd
import xarray as xr
from matplotlib.figure import Figure

from espb.evaluation.diagnostics.plotting import Annotations, mark_dates, new_figure, no_data
from espb.samples.labels import Grid, NeqPool

#: the window of the trailing mean of the daily share in Figure 4
TRAILING_DAYS = 30


def pool_over_time(
    pool: NeqPool,
    mean_counts: np.ndarray,
    first_day: int,
    dates: Callable[[np.ndarray], pd.DatetimeIndex],
    bounds: np.ndarray | None = None,
) -> pd.DataFrame:
    """nEQ candidates per forecast day from ``first_day`` (Figure 4, top): ``day, date,
    n_candidates``, ``n_centres`` (centres whose block fits, the most there could be),
    ``share`` = n_candidates / n_centres, ``share_30d`` (its mean over the 30 days ending on
    the day: trailing, so a row never depends on a later day) and ``segment`` when ``bounds``
    is given.

    The pool itself is the paper's nEQ definition (Section 2.2): a candidate on day t has no
    event with Mw >= M_lim within +-7 days, so day t's row is known on day t + 7."""
    per_day = pool.per_day()
    days = np.arange(first_day, len(per_day))
    fits = np.isfinite(mean_counts[first_day:]).reshape(len(days), -1).sum(axis=1)
    n = per_day[first_day:]
    df = pd.DataFrame(
        {
            "day": days,
            "date": dates(days),
            "n_candidates": n,
            "n_centres": fits,
            "share": np.where(fits > 0, n / np.maximum(fits, 1), np.nan),
        }
    )
    df["share_30d"] = df["share"].rolling(TRAILING_DAYS, min_periods=1).mean()
    if bounds is not None and len(bounds):
        df["segment"] = np.searchsorted(bounds[:, 1], days, side="right")
    return df


def pool_map(pool: NeqPool, grid: Grid, day_lo: int = 0, day_hi: int | None = None) -> xr.DataArray:
    """Days on which each cell is an nEQ candidate, forecast days ``[day_lo, day_hi)``
    (Figure 4, maps): a ``(lat, lon)`` DataArray at the cell centres."""
    T, H, W = pool.shape
    hi = T if day_hi is None else min(day_hi, T)
    a, b = int(pool.day_ptr[max(day_lo, 0)]), int(pool.day_ptr[hi])
    cells = np.bincount(pool.flat[a:b] % (H * W), minlength=H * W).reshape(H, W)
    return xr.DataArray(
        cells,
        dims=("lat", "lon"),
        coords={"lat": grid.lat_centres(), "lon": grid.lon_centres()},
        name="n_candidate_days",
        attrs={"long_name": "days as nEQ candidate", "units": "days"},
    )


def pool_figure(
    over_time: pd.DataFrame,
    cells: xr.DataArray,
    annotations: Annotations = (),
    dev_end: pd.Timestamp | None = None,
    title: str = "",
) -> Figure:
    """Figure 4: the share of block centres available as nEQ per day (and its trailing 30-day
    mean) over time, and the map of candidate days per cell."""
    fig = new_figure(11, 4.2)
    if not len(over_time):
        return no_data(fig, "no forecast day")
    ax, mx = fig.subplots(1, 2, width_ratios=[2.3, 1])
    ax.plot(over_time["date"], over_time["share"], color="C0", lw=0.4, alpha=0.5, label="daily")
    ax.plot(
        over_time["date"], over_time["share_30d"], color="C0", lw=1.5, label="trailing 30-day mean"
    )
    mark_dates(ax, annotations, dev_end)
    ax.set_ylim(0, 1.02)
    ax.set_ylabel("share of block centres that are nEQ candidates")
    ax.set_xlabel("forecast day")
    ax.legend(loc="lower left", fontsize=8)
    _map(mx, cells, fig)
    mx.set_title("candidate days per cell", fontsize=9)
    fig.suptitle(title or "nEQ availability (Figure 4)")
    return fig


def _map(ax, cells: xr.DataArray, fig: Figure, vmax: float | None = None, bar: bool = True):
    im = ax.pcolormesh(
        cells["lon"], cells["lat"], cells.values, shading="nearest", cmap="viridis", vmax=vmax
    )
    ax.set_aspect("equal")
    ax.set_xlabel("lon")
    ax.set_ylabel("lat")
    if bar:
        fig.colorbar(im, ax=ax, shrink=0.8, label="days")
    return im


def pool_map_grid(maps: Mapping[tuple, xr.DataArray], names: Sequence[str]) -> xr.DataArray:
    """Figure B.5: the pool maps of several settings as one DataArray with dim ``setting`` and
    one coordinate per setting name (``names``, e.g. ``("m_lim", "dr", "dt")``); ``maps`` keys
    are the settings' values in the order of ``names``. Maps of different grids are refused."""
    if not maps:
        raise ValueError("no pool map")
    keys = list(maps)
    for k in keys:
        if len(k) != len(names):
            raise ValueError(f"setting {k} does not give a value for each of {list(names)}")
    first = maps[keys[0]]
    for k in keys[1:]:
        if maps[k].shape != first.shape:
            raise ValueError(f"pool map {k} has shape {maps[k].shape}, not {first.shape}")
    da = xr.concat([maps[k] for k in keys], dim="setting")
    coords = {n: ("setting", [k[i] for k in keys]) for i, n in enumerate(names)}
    return da.assign_coords(setting=np.arange(len(keys)), **coords)


def pool_grid_figure(grid: xr.DataArray, row: str | None = None, title: str = "") -> Figure:
    """Figure B.5: one map per setting on a common colour scale, rows by setting ``row``
    (default the first setting name), columns by the product of the others."""
    names = [c for c in grid.coords if c not in ("setting", "lat", "lon")]
    row = row or names[0]
    rows = list(dict.fromkeys(grid[row].values.tolist()))
    others = [n for n in names if n != row]
    cols = list(dict.fromkeys(zip(*(grid[n].values.tolist() for n in others), strict=True)))
    cols = cols or [()]
    fig = new_figure(2.3 * len(cols) + 1.2, 2.3 * len(rows) + 0.6)
    axs = fig.subplots(len(rows), len(cols), squeeze=False, sharex=True, sharey=True)
    vmax = float(grid.max())
    im = None
    for (i, rv), (j, cv) in itertools.product(enumerate(rows), enumerate(cols)):
        ax = axs[i][j]
        sel = grid[row].values == rv
        for n, v in zip(others, cv, strict=True):
            sel &= grid[n].values == v
        idx = np.flatnonzero(sel)
        label = " ".join(f"{n}={v}" for n, v in zip(others, cv, strict=True))
        if not len(idx):
            ax.set_axis_off()
            continue
        im = _map(ax, grid.isel(setting=int(idx[0])), fig, vmax=vmax, bar=False)
        ax.set_title(f"{row}={rv} {label}", fontsize=7)
        ax.set_xlabel("")
        ax.set_ylabel("")
    if im is not None:
        fig.colorbar(im, ax=axs, shrink=0.6, label="days as nEQ candidate")
    fig.suptitle(title or "nEQ availability for every nEQ-relevant setting (Figure B.5)")
    return fig
