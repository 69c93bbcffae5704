"""Residual diagnostics: Pearson residuals, Moran's I with grid-neighbour weights, the per-cell
dispersion map (EarthquakeNet, arXiv 2605.21437, Section 4.3; Moran 1950, Biometrika 37;
Cliff & Ord 1981, Spatial Processes, Section 2.3).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import xarray as xr

from espb.rates.counts import RateGrid
from espb.rates.nb import nb2_variance


def pearson_residuals(y: np.ndarray, mu: np.ndarray, alpha: np.ndarray) -> np.ndarray:
    """(y - mu) / sqrt(mu + alpha mu^2)."""
    return (np.asarray(y, "float64") - mu) / np.sqrt(nb2_variance(mu, alpha))


def grid_weights(n_lat: int, n_lon: int, neighbours: str = "rook") -> np.ndarray:
    """Binary spatial weights (C, C) between grid cells (row-major): ``rook`` (shared edge) or
    ``queen`` (shared edge or corner)."""
    r, c = np.divmod(np.arange(n_lat * n_lon), n_lon)
    dr = np.abs(r[:, None] - r[None, :])
    dc = np.abs(c[:, None] - c[None, :])
    if neighbours == "rook":
        w = (dr + dc) == 1
    else:
        w = np.maximum(dr, dc) == 1
    return w.astype("float64")


def morans_i(z: np.ndarray, w: np.ndarray) -> np.ndarray:
    """Moran's I of each row of ``z`` (..., C): I = (C / S0) (z' W z) / (z' z), z centred;
    NaN for a constant row."""
    z = np.asarray(z, "float64")
    zc = z - z.mean(axis=-1, keepdims=True)
    num = np.einsum("...i,ij,...j->...", zc, w, zc)
    den = np.einsum("...i,...i->...", zc, zc)
    with np.errstate(invalid="ignore", divide="ignore"):
        return (z.shape[-1] / w.sum()) * num / np.where(den > 0, den, np.nan)


@dataclass
class MoranResult:
    """``i_mean_weekly``: mean of the per-period I over the test periods (``n_periods`` with a
    non-constant residual map); ``i_cell_mean``: I of the per-cell mean residual, with its
    permutation p-value (one-sided, positive autocorrelation); ``expected`` = -1 / (C - 1)."""

    i_mean_weekly: float
    n_periods: int
    i_cell_mean: float
    p_cell_mean: float
    expected: float


def moran_test(
    residuals: pd.DataFrame, grid: RateGrid, neighbours: str, n_perm: int, seed: int
) -> MoranResult:
    """Moran's I of Pearson residuals (``residuals``: columns period, cell, r)."""
    w = grid_weights(grid.n_lat, grid.n_lon, neighbours)
    wide = residuals.pivot_table(index="period", columns="cell", values="r", aggfunc="first")
    wide = wide.reindex(columns=range(grid.n_cells)).to_numpy()
    per = morans_i(np.nan_to_num(wide), w)
    cell_mean = np.nan_to_num(np.nanmean(wide, axis=0))
    i_obs = float(morans_i(cell_mean, w))
    rng = np.random.default_rng(seed)
    perms = np.argsort(rng.random((n_perm, grid.n_cells)), axis=1)
    i_perm = morans_i(cell_mean[perms], w)
    p = float((1 + np.sum(i_perm >= i_obs)) / (n_perm + 1)) if np.isfinite(i_obs) else np.nan
    return MoranResult(
        float(np.nanmean(per)) if np.isfinite(per).any() else float("nan"),
        int(np.isfinite(per).sum()),
        i_obs,
        p,
        -1.0 / (grid.n_cells - 1),
    )


def alpha_map(pred: pd.DataFrame, grid: RateGrid) -> xr.DataArray:
    """Mean forecast dispersion alpha per cell over the test periods, as a (lat, lon) map."""
    mean = pred.groupby("cell")["alpha"].mean().reindex(range(grid.n_cells))
    lat = grid.region[0] + (np.arange(grid.n_lat) + 0.5) * grid.cell_deg
    lon = grid.region[2] + (np.arange(grid.n_lon) + 0.5) * grid.cell_deg
    return xr.DataArray(
        mean.to_numpy().reshape(grid.n_lat, grid.n_lon),
        coords={"lat": lat, "lon": lon},
        dims=("lat", "lon"),
        name="alpha",
        attrs={"long_name": "mean NB2 dispersion alpha over the test periods", "units": "1"},
    )
