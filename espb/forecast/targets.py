"""What a daily forecast is scored against: the target events per cell-day, and which cell-days
can be forecast at all.

A cell-day ``(t, i, j)`` of a cube's grid is *eligible* when a block fits around it, exactly as
for an EQ sample (paper Section 2.2): the centre cell keeps ``patch // 2`` cells from every
border (``h <= i <= nlat - h``) and the day has a full ``lookback`` before it
(``lookback <= t <= n_days - 1``). Its *target* is 1 when an event with ``Mw >= target_mag``
has its epicentre in the cell on that UTC day (the EQ rule of Section 2.2 without the
one-sample-per-cell-day reduction, which does not change a 0/1 target).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from espb.samples.labels import Grid


@dataclass(frozen=True)
class Eligible:
    """The eligible cell-days of a grid: days ``[day_lo, n_days)``, rows ``[row_lo, row_hi]``,
    columns ``[col_lo, col_hi]`` (inclusive)."""

    day_lo: int
    n_days: int
    row_lo: int
    row_hi: int
    col_lo: int
    col_hi: int

    @classmethod
    def of(cls, grid: Grid, lookback: int, patch: int) -> Eligible:
        h = patch // 2
        return cls(int(lookback), grid.n_days, h, grid.nlat - h, h, grid.nlon - h)

    @property
    def shape(self) -> tuple[int, int, int]:
        """(days, rows, cols) of the eligible box (a dimension is 0 when nothing fits)."""
        return (
            max(self.n_days - self.day_lo, 0),
            max(self.row_hi - self.row_lo + 1, 0),
            max(self.col_hi - self.col_lo + 1, 0),
        )

    def mask(self, shape: tuple[int, int, int]) -> np.ndarray:
        """``shape`` (the grid's (n_days, nlat, nlon)) bool, True on eligible cell-days."""
        m = np.zeros(shape, dtype=bool)
        m[
            self.day_lo : self.n_days, self.row_lo : self.row_hi + 1, self.col_lo : self.col_hi + 1
        ] = True
        return m


def target_cube(events: pd.DataFrame, grid: Grid, target_mag: float) -> np.ndarray:
    """``(n_days, nlat, nlon)`` bool: at least one event with ``Mw >= target_mag`` in the cell on
    the day (paper Section 2.2's EQ rule). Events outside the grid's days or cells are ignored."""
    ev = events[events["mw"].to_numpy() >= target_mag]
    out = np.zeros((grid.n_days, grid.nlat, grid.nlon), dtype=bool)
    if not len(ev):
        return out
    day = grid.day(ev["time"])
    r, c = grid.cells(ev["latitude"].to_numpy(), ev["longitude"].to_numpy())
    ok = (day >= 0) & (day < grid.n_days) & (r >= 0) & (r < grid.nlat) & (c >= 0) & (c < grid.nlon)
    out[day[ok], r[ok], c[ok]] = True
    return out
