"""Uniform baseline: hand-computed values, the prior, and the no-future property."""

from __future__ import annotations

import importlib

import numpy as np
import pytest

from espb.errors import ConfigError, EspbError
from espb.forecast.baselines import UniformConfig, uniform
from tests.forecast.baselines.helpers import (
    clustered_catalog,
    eligible_of,
    events_frame,
    perturb_from,
    small_grid,
    time_forward,
)

#: the module (the package's attribute ``uniform`` is the function)
uni = importlib.import_module("espb.forecast.baselines.uniform")


def test_values_on_a_hand_made_catalog() -> None:
    grid = small_grid(n=10, n_days=30)
    el = eligible_of(grid, lookback=5, patch=4)  # rows/cols 2..8: 49 cells
    c = lambda i: grid.lat0 + (i + 0.5) * grid.res  # noqa: E731
    k = lambda j: grid.lon0 + (j + 0.5) * grid.res  # noqa: E731
    ev = events_frame(
        day=[-3.0, 3.5, 3.7, 4.0, 10.2, 12.0],
        lat=[c(3), c(3), c(3), c(4), c(5), c(0)],
        lon=[k(3), k(3), k(3), k(4), k(5), k(0)],
        mw=[5.5, 5.2, 6.0, 4.9, 5.0, 5.0],  # before the grid; one cell-day; too small; ...
    )
    da = uniform(ev, grid, el, None, 5.0)
    assert da.shape == (25, 10, 10) and da.dims == ("time", "lat", "lon")
    d = np.arange(5, 30)
    kk = np.where(d >= 11, 2, np.where(d >= 4, 1, 0))  # cell (0, 0) is not eligible
    expect = (kk + 1.0) / (49.0 * d + 1000.0)  # prior 1e-3 worth 1000 cell-days
    vals = da.values[:, 2:9, 2:9]
    np.testing.assert_allclose(vals, np.broadcast_to(expect[:, None, None], vals.shape), rtol=1e-15)
    assert np.isnan(da.values[:, :2]).all() and np.isnan(da.values[:, :, 9]).all()
    # the prior alone on day 0 of the rate series
    p0 = uni.uniform_rate(ev, grid, el, 5.0, UniformConfig(prior_rate=0.01, prior_cell_days=50))
    assert p0[0] == pytest.approx(0.01)


def test_days_subset_and_bad_input() -> None:
    grid = small_grid(n=10, n_days=30)
    el = eligible_of(grid, lookback=5, patch=4)
    ev = clustered_catalog(grid)
    full = uniform(ev, grid, el, None, 5.0)
    part = uniform(ev, grid, el, np.array([7, 20, 29]), 5.0)
    np.testing.assert_array_equal(part.values, full.values[[2, 15, 24]])
    with pytest.raises(EspbError, match="outside the eligible days"):
        uniform(ev, grid, el, np.array([3]), 5.0)
    with pytest.raises(ConfigError, match="prior_rate"):
        uniform(ev, grid, el, None, 5.0, UniformConfig(prior_rate=0.0))


def test_no_future_and_the_test_catches_a_leak(monkeypatch: pytest.MonkeyPatch) -> None:
    grid = small_grid(n=12, n_days=120)
    el = eligible_of(grid)
    ev = clustered_catalog(grid)
    d = 60
    bad = perturb_from(ev, grid, d)

    def run(e):
        return uniform(e, grid, el, None, 5.0)

    same, changed = time_forward(run, ev, bad, d)
    assert same and changed
    # a leaky variant: the running count includes the forecast day itself
    monkeypatch.setattr(uni, "_before", lambda per_day: np.cumsum(per_day))
    same, _ = time_forward(run, ev, bad, d)
    assert not same
