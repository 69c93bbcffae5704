"""b-value features of each (period, cell) from espb's daily b-value cube (Koehler et al.,
Section 2.1; new here: neither the Koehler paper nor EarthquakeNet uses b as a rate feature).

The cube's value on day d uses the events up to the end of day d. Its daily maps are reduced to
one value per (period, rate cell) - the mean b over the cube cells with a b-value (b > 0; the
cube holds 0 where it has none) and the mean cylinder count ``n_events`` - and the features of
period t read the K periods before t through :func:`espb.rates.past.windows`:

- ``b_mean``: mean b over periods t-K .. t-1 (1.0, the Gutenberg-Richter norm, if none);
- ``b_change``: that minus the mean b over t-2K .. t-K-1 (0 if either is missing);
- ``log_nb_mean``: log(1 + mean cylinder count) over t-K .. t-1; ``log_nb_change`` likewise.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import xarray as xr

from espb.bvalue.cache import get_cube
from espb.bvalue.config import CubeConfig
from espb.errors import ConfigError
from espb.rates import past
from espb.rates.config import DataConfig, FeatureConfig
from espb.rates.counts import RateGrid

B_FEATURES = ("b_mean", "b_change", "log_nb_mean", "log_nb_change")
#: b where the cube has none over a window (the Gutenberg-Richter norm)
B_FILL = 1.0


def cube_config(data: DataConfig, grid: RateGrid, feat: FeatureConfig) -> CubeConfig:
    """The cube over the rate grid's region and whole periods, with ``features.cube``'s settings."""
    c = feat.cube
    end = grid.period_start[-1] + pd.Timedelta(days=grid.period_days - 1)
    cfg = CubeConfig(
        name="rates",
        dr=c.dr,
        dt=c.dt,
        start=grid.period_start[0].strftime("%Y-%m-%d"),
        end=end.strftime("%Y-%m-%d"),
        region=[float(x) for x in data.region],
        resolution=c.resolution,
        mode=c.mode,
        threshold=c.threshold,
        delta_m=c.delta_m,
        metric=c.metric,
        b_max=c.b_max,
        round_magnitudes=c.round_magnitudes,
    )
    try:
        cfg.validate()
    except ConfigError as exc:
        raise ConfigError(f"features.cube: {exc}") from exc
    return cfg


def cube_for(
    events: pd.DataFrame, data: DataConfig, grid: RateGrid, feat: FeatureConfig, cache_dir=None
) -> tuple[xr.Dataset, dict]:
    """The cached cube (built once) of the events, with the count's magnitude column as Mw."""
    cfg = cube_config(data, grid, feat)
    ev = events if data.magnitude == "mw" else events.assign(mw=events[data.magnitude])
    res = get_cube(ev, cfg, Path(cache_dir) if cache_dir else None)
    return res.open(), {"cube_key": res.key, "cube_built": res.built, "cube_path": str(res.path)}


def _fine_to_cell(ds: xr.Dataset, grid: RateGrid) -> np.ndarray:
    """(F, C) 0/1 matrix: cube cell f (row-major lat, lon) lies in rate cell c (by its centre)."""
    la0, _la1, lo0, _lo1 = grid.region
    lat = ds["lat"].to_numpy()
    lon = ds["lon"].to_numpy()
    r = np.minimum(np.floor((lat - la0) / grid.cell_deg).astype(int), grid.n_lat - 1)
    c = np.minimum(np.floor((lon - lo0) / grid.cell_deg).astype(int), grid.n_lon - 1)
    cell = (r[:, None] * grid.n_lon + c[None, :]).ravel()
    m = np.zeros((cell.size, grid.n_cells))
    m[np.arange(cell.size), cell] = 1.0
    return m


def period_cell_means(ds: xr.Dataset, grid: RateGrid) -> dict[str, np.ndarray]:
    """Per (period, cell): summed valid b, number of valid b, summed and counted ``n_events``
    over the cube cells and days of the period (arrays (T, C))."""
    n_t = grid.n_periods * grid.period_days
    if ds.sizes["time"] < n_t:
        raise ConfigError(f"the cube has {ds.sizes['time']} days; the rate grid needs {n_t}")
    m = _fine_to_cell(ds, grid)
    b_all, n_all = ds["b"].to_numpy(), ds["n_events"].to_numpy()
    p, c = grid.period_days, grid.n_cells
    out = {k: np.zeros((grid.n_periods, c)) for k in ("b_sum", "b_cnt", "n_sum")}
    step = max(1, (1 << 22) // (p * m.shape[0]))  # periods per chunk (~32 MB per array)
    for t0 in range(0, grid.n_periods, step):
        t1 = min(grid.n_periods, t0 + step)
        b = b_all[t0 * p : t1 * p].reshape((t1 - t0) * p, -1).astype("float64")
        n = n_all[t0 * p : t1 * p].reshape((t1 - t0) * p, -1).astype("float64")
        valid = (b > 0).astype("float64")
        shape = (t1 - t0, p, c)
        out["b_sum"][t0:t1] = ((b * valid) @ m).reshape(shape).sum(axis=1)
        out["b_cnt"][t0:t1] = (valid @ m).reshape(shape).sum(axis=1)
        out["n_sum"][t0:t1] = (n @ m).reshape(shape).sum(axis=1)
    out["n_cnt"] = np.broadcast_to(m.sum(axis=0) * p, (grid.n_periods, c)).copy()
    return out


def _window_mean(s: np.ndarray, c: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Means over the last k periods and over the k before them (NaN where nothing counted)."""
    ws, wc = past.windows(s, 2 * k, 0.0), past.windows(c, 2 * k, 0.0)
    with np.errstate(invalid="ignore", divide="ignore"):
        recent = ws[..., k:].sum(-1) / wc[..., k:].sum(-1)
        before = ws[..., :k].sum(-1) / wc[..., :k].sum(-1)
    return recent, before


def b_feature_arrays(agg: dict[str, np.ndarray], k: int) -> dict[str, np.ndarray]:
    """The b features (module docstring) as (T, C) arrays from :func:`period_cell_means`."""
    b_now, b_before = _window_mean(agg["b_sum"], agg["b_cnt"], k)
    n_now, n_before = _window_mean(agg["n_sum"], agg["n_cnt"], k)
    b_change = np.where(np.isfinite(b_now) & np.isfinite(b_before), b_now - b_before, 0.0)
    ln_now, ln_before = np.log1p(n_now), np.log1p(n_before)
    return {
        "b_mean": np.where(np.isfinite(b_now), b_now, B_FILL),
        "b_change": b_change,
        "log_nb_mean": np.nan_to_num(ln_now, nan=0.0),
        "log_nb_change": np.where(
            np.isfinite(ln_now) & np.isfinite(ln_before), ln_now - ln_before, 0.0
        ),
    }
