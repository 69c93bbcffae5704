"""Uniform baseline: the past overall rate of target cell-days, the same in every cell.

    p(d) = (K(d) + a) / (N(d) + a + b),   a = prior_rate * prior_cell_days,
                                           b = (1 - prior_rate) * prior_cell_days,

with ``K(d)`` the eligible cells' target cell-days (at least one ``Mw >= target_mag`` event,
:func:`espb.forecast.targets.target_cube`) on the grid days ``0 .. d-1`` and ``N(d)`` the
eligible cell-days of those days: the posterior mean of a Beta(a, b) prior updated with the past
(daily, time-forward). The prior is worth ``prior_cell_days`` cell-days; it matters only for the
first days (the first eligible day already has ``lookback`` days of history). The reference
forecast of Zechar & Jordan (2008, GJI 172) for the Molchan diagram's diagonal.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd
import xarray as xr

from espb.errors import ConfigError
from espb.forecast.baselines.base import forecast_days, to_dataarray
from espb.forecast.targets import Eligible, target_cube
from espb.samples.labels import Grid


@dataclass
class UniformConfig:
    #: target cell-days per cell-day assumed before any data
    prior_rate: float = 1e-3
    #: cell-days the prior is worth
    prior_cell_days: float = 1000.0

    def validate(self) -> None:
        if not 0 < self.prior_rate < 1:
            raise ConfigError(f"uniform.prior_rate must be in (0, 1), not {self.prior_rate}")
        if not self.prior_cell_days > 0:
            raise ConfigError(f"uniform.prior_cell_days must be > 0, not {self.prior_cell_days}")


def _before(per_day: np.ndarray) -> np.ndarray:
    """Exclusive running sum: element d is the sum over days 0 .. d-1."""
    out = np.zeros(per_day.size + 1, dtype=np.int64)
    np.cumsum(per_day, out=out[1:])
    return out[:-1]


def uniform_rate(
    events: pd.DataFrame,
    grid: Grid,
    eligible: Eligible,
    target_mag: float,
    cfg: UniformConfig | None = None,
) -> np.ndarray:
    """``(n_days,)`` the uniform probability of every grid day (see the module docstring)."""
    cfg = cfg or UniformConfig()
    cfg.validate()
    y = target_cube(events, grid, target_mag)[
        :, eligible.row_lo : eligible.row_hi + 1, eligible.col_lo : eligible.col_hi + 1
    ]
    n_cells = y.shape[1] * y.shape[2]
    k = _before(y.reshape(y.shape[0], -1).sum(axis=1))
    n = np.arange(grid.n_days, dtype=np.float64) * n_cells
    a = cfg.prior_rate * cfg.prior_cell_days
    b = (1.0 - cfg.prior_rate) * cfg.prior_cell_days
    return (k + a) / (n + a + b)


def uniform(
    events: pd.DataFrame,
    grid: Grid,
    eligible: Eligible,
    days: np.ndarray | None,
    target_mag: float,
    cfg: UniformConfig | None = None,
) -> xr.DataArray:
    """The uniform baseline on ``days`` (grid day indices; None: every eligible day)."""
    cfg = cfg or UniformConfig()
    d = forecast_days(eligible, days)
    p = uniform_rate(events, grid, eligible, target_mag, cfg)[d]
    _, h, w = eligible.shape
    vals = np.broadcast_to(p[:, None, None], (d.size, h, w))
    return to_dataarray(vals, grid, eligible, d, "uniform", target_mag, asdict(cfg))
