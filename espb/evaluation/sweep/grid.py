"""The layout of paper Figure C.9: every configuration of the search as one cell of a grid,
per period, with the period's best configurations marked (computed here, drawn by
:func:`espb.evaluation.sweep.figures.fig_grid`)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from espb.evaluation.sweep.analysis import top_configs
from espb.evaluation.sweep.factors import (
    FACTORS,
    Levels,
    coerce_factors,
    level_index,
    missing,
    resolve_levels,
)
from espb.evaluation.sweep.periods import PERIODS, acc_col


def grid_shape(levels: Levels) -> tuple[int, int]:
    """Rows and columns of the Figure C.9 grid: (AE x loss x dr, l_ME x M_lim x dt); 16 x 27
    for paper Table 1."""
    n = {f: max(len(levels[f]), 1) for f in FACTORS}
    return n["AE"] * n["loss"] * n["dr"], n["l_ME"] * n["M_lim"] * n["dt"]


def grid_position(row: Mapping[str, Any], levels: Levels) -> tuple[int, int]:
    """The (row, column) cell of a configuration in the grid of Figure C.9.

    Rows: blocks of AE (first level, paper: on, upper) x loss (MAE upper, BCE lower), each of
    ``len(dr)`` rows of dr; columns: blocks of l_ME (14, 30, 50) x M_lim (4.0, 4.5, 4.9), each of
    ``len(dt)`` columns of dt. The paper's best model [730d, 0.15°, 4.0, MAE, 14d, OFF] sits in
    the lower AE block, its upper (MAE) half, first dr row; first l_ME block, first M_lim
    sub-block, third dt column: (8, 2). Raises ValueError for a value outside ``levels``."""
    i: dict[str, int] = {}
    for f in FACTORS:
        k = level_index(tuple(levels[f]), row.get(f)) if levels[f] else 0
        if k is None:
            raise ValueError(f"{f}={row.get(f)!r} is not one of the levels {tuple(levels[f])}")
        i[f] = k
    n = {f: max(len(levels[f]), 1) for f in FACTORS}
    r = (i["AE"] * n["loss"] + i["loss"]) * n["dr"] + i["dr"]
    c = (i["l_ME"] * n["M_lim"] + i["M_lim"]) * n["dt"] + i["dt"]
    return r, c


def grid_matrix(acc: pd.DataFrame, period: str, levels: Levels) -> np.ndarray:
    """The accuracies of a period on the Figure C.9 grid (NaN where no configuration ran; the
    mean where one configuration has several runs)."""
    nr, nc = grid_shape(levels)
    tot, cnt = np.zeros((nr, nc)), np.zeros((nr, nc))
    typed = coerce_factors(acc)
    col = acc_col(period)
    for rec in typed.to_dict("records"):
        v = rec.get(col)
        if missing(v) or not np.isfinite(v):
            continue
        try:
            r, c = grid_position(rec, levels)
        except ValueError:
            continue
        tot[r, c] += v
        cnt[r, c] += 1
    with np.errstate(invalid="ignore"):
        return np.where(cnt > 0, tot / np.maximum(cnt, 1), np.nan)


@dataclass
class GridPanel:
    """One period of Figure C.9: the accuracy of every cell, and where the period's best
    configurations sit as (rank, row, column), rank 0 the best (configurations outside the
    grid's levels are left out, keeping the others' ranks)."""

    period: str
    matrix: np.ndarray
    top: list[tuple[int, int, int]]


@dataclass
class GridData:
    """Figure C.9: the levels that lay out the grid, one panel per period, ``top`` marked."""

    levels: dict[str, tuple[Any, ...]]
    panels: list[GridPanel]
    top: int


def grid_data(acc: pd.DataFrame, levels: Levels | None = None, top: int = 10) -> GridData:
    """The panels of Figure C.9 for the periods T_all, T1 .. T4 (:func:`grid_matrix`,
    :func:`grid_position`); the ``top`` best of each period by :func:`top_configs`."""
    lv = resolve_levels(acc, levels)
    typed = coerce_factors(acc)
    panels = []
    for period in PERIODS:
        cells = []
        for k, rec in enumerate(top_configs(typed, period, top).to_dict("records")):
            try:
                cells.append((k, *grid_position(rec, lv)))
            except ValueError:
                continue
        panels.append(GridPanel(period, grid_matrix(typed, period, lv), cells))
    return GridData(lv, panels, top)
