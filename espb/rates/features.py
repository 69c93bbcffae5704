"""Lag features of each (period, cell), from the past only (EarthquakeNet, arXiv 2605.21437,
Section 3.1: last week's count, max and min magnitude; 4-week rolling max magnitude; 12-week
count; 8-week energy; weeks since the last M >= 4.5).

Every feature of period t is computed from :func:`espb.rates.past.windows` of the aggregates of
:class:`~espb.rates.counts.RateGrid`: periods before t only. Transforms (documented in
docs/rates.md): counts as log(1 + n), energy as log10(1 + E[J]); a magnitude of a period without
events is ``m_min`` (the catalog's floor, so "nothing" reads as "the smallest counted event").
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from espb.rates import past
from espb.rates.config import LAG_WARMUP, FeatureConfig
from espb.rates.counts import RateGrid

#: the seed paper's features, in its order
LAG_FEATURES = (
    "log_n_lag1",
    "mmax_lag1",
    "mmin_lag1",
    "mmax_roll4",
    "log_n_roll12",
    "log_energy_roll8",
    "since_big",
)


@dataclass
class FeatureTable:
    """One row per (period, cell) from ``warmup`` on: ``rows`` holds ``period``, ``cell``, ``y``
    (the count to forecast) and one column per name in ``features``."""

    rows: pd.DataFrame
    features: list[str]
    warmup: int

    def design(self, names: list[str] | None = None) -> np.ndarray:
        return self.rows[names or self.features].to_numpy("float64")


def lag_feature_arrays(grid: RateGrid, cfg: FeatureConfig) -> dict[str, np.ndarray]:
    """The seed's lag features as (T, C) arrays; row t uses periods t - w .. t - 1 only."""
    m0 = grid.m_min
    n = grid.counts.astype("float64")
    mmax = np.where(np.isnan(grid.mmax), m0, grid.mmax)
    mmin = np.where(np.isnan(grid.mmin), m0, grid.mmin)
    big = (grid.counts > 0) & (np.nan_to_num(grid.mmax, nan=-np.inf) >= cfg.big_mag - 1e-9)
    cap = int(cfg.since_cap)
    w_big = past.windows(big, cap, False)  # (T, C, cap), oldest first
    any_big = w_big.any(axis=-1)
    last = cap - 1 - np.argmax(w_big[..., ::-1], axis=-1)  # position of the latest big period
    return {
        "log_n_lag1": np.log1p(past.windows(n, 1, 0.0)[..., 0]),
        "mmax_lag1": past.windows(mmax, 1, m0)[..., 0],
        "mmin_lag1": past.windows(mmin, 1, m0)[..., 0],
        "mmax_roll4": past.windows(mmax, 4, m0).max(axis=-1),
        "log_n_roll12": np.log1p(past.windows(n, 12, 0.0).sum(axis=-1)),
        "log_energy_roll8": np.log10(1.0 + past.windows(grid.energy, 8, 0.0).sum(axis=-1)),
        "since_big": np.where(any_big, cap - last, cap).astype("float64"),
    }


def feature_table(
    grid: RateGrid, arrays: dict[str, np.ndarray], warmup: int = LAG_WARMUP
) -> FeatureTable:
    """Long table of the (T, C) feature ``arrays`` and the counts, periods >= ``warmup``."""
    t_idx, c_idx = np.meshgrid(np.arange(grid.n_periods), np.arange(grid.n_cells), indexing="ij")
    keep = t_idx.ravel() >= warmup
    cols = {
        "period": t_idx.ravel()[keep],
        "cell": c_idx.ravel()[keep],
        "y": grid.counts.ravel()[keep],
    }
    for name, a in arrays.items():
        cols[name] = np.asarray(a, dtype="float64").ravel()[keep]
    return FeatureTable(pd.DataFrame(cols), list(arrays), int(warmup))
