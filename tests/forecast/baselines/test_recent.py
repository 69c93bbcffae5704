"""Recent-activity baseline: the counts, the fit (scikit-learn on merged rows = on all rows), the
uniform fallback, that it ranks busy cells higher, and the no-future property with a leak."""

from __future__ import annotations

import importlib
from dataclasses import replace

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from espb.forecast.baselines import RecentConfig, recent, uniform
from espb.forecast.targets import target_cube
from tests.forecast.baselines.helpers import (
    clustered_catalog,
    eligible_of,
    events_frame,
    perturb_from,
    small_grid,
    time_forward,
)

rc = importlib.import_module("espb.forecast.baselines.recent")
CFG = RecentConfig(
    windows_days=[1, 7, 30], radii_deg=[0.15], min_mag=None, refit_days=15, max_train_rows=3000
)


@pytest.fixture(scope="module")
def case():
    grid = small_grid(n=12, n_days=150)
    return grid, eligible_of(grid, lookback=30), clustered_catalog(grid, seed=7, n_bursts=40)


def test_disk_counts_by_hand() -> None:
    grid = small_grid(n=10, n_days=20)
    el = eligible_of(grid, lookback=5, patch=4)
    lat = lambda i: grid.lat0 + (i + 0.5) * grid.res  # noqa: E731
    lon = lambda j: grid.lon0 + (j + 0.5) * grid.res  # noqa: E731
    # cells (4,4) on days -1, 2, 6; (6,4) on day 2; (4,5) on day 10
    rows, cols, days = [4, 4, 4, 6, 4], [4, 4, 4, 4, 5], [-1.0, 2.5, 6.0, 2.7, 10.2]
    ev = events_frame(days, [lat(r) for r in rows], [lon(c) for c in cols], [2.0] * 5)
    cum = rc.disk_counts(ev, grid, el, 0.1, back=3)  # element t: days < t - 3

    def at(day: int, r: int, c: int) -> int:
        return int(cum[day + 3, r - el.row_lo, c - el.col_lo])

    assert [at(t, 4, 4) for t in (-3, 0, 2, 3, 7, 11)] == [0, 1, 1, 2, 3, 4]
    assert at(3, 5, 4) == 3  # (4,4) x2 and (6,4) are within 0.1 deg of (5,4)
    assert at(3, 6, 4) == 1 and at(11, 6, 4) == 1  # only its own event
    assert at(11, 4, 6) == 1  # (4,5) is a neighbour, (4,4) is 0.2 deg away
    n7 = rc._window_counts(cum, np.array([7]), 5, 3)[0]  # days 2..6 of every cell
    assert n7[4 - el.row_lo, 4 - el.col_lo] == 2


def test_merged_rows_fit_equals_the_full_fit() -> None:
    rng = np.random.default_rng(0)
    x = np.log1p(rng.poisson(3, (4000, 3))).astype(float)
    y = rng.random(4000) < 1 / (1 + np.exp(-(-3 + 0.8 * x[:, 0])))
    w = np.where(y, 1.0, 2.0)
    merged = rc._fit(x, y, w, replace(CFG, monotone=False))
    full = make_pipeline(
        StandardScaler(), LogisticRegression(C=CFG.C, solver="newton-cholesky", tol=1e-10)
    )
    full.fit(x, y.astype(np.int8), logisticregression__sample_weight=w)
    np.testing.assert_allclose(merged.predict(x), full.predict_proba(x)[:, 1], rtol=2e-3)


def test_monotone_fit_drops_negative_coefficients() -> None:
    rng = np.random.default_rng(1)
    x = np.log1p(rng.poisson(3, (4000, 3))).astype(float)
    y = rng.random(4000) < 1 / (1 + np.exp(-(-2 + 0.8 * x[:, 0] - 0.9 * x[:, 1])))
    m = rc._fit(x, y, np.ones(4000), CFG)
    assert 1 not in m.keep and 0 in m.keep
    assert np.all(m.model[-1].coef_ >= 0)
    free = rc._fit(x, y, np.ones(4000), replace(CFG, monotone=False))
    assert free.model[-1].coef_[0][1] < 0


def test_recent_activity_ranks_busy_cells_higher(case) -> None:
    grid, el, ev = case
    da = recent(ev, grid, el, None, 3.5, CFG)
    assert da.attrs["n_fits"] > 0
    y = target_cube(ev, grid, 3.5)[el.day_lo :, 2:11, 2:11]
    p = da.values[:, 2:11, 2:11]
    assert p[y].mean() > 3 * p[~y].mean()
    assert np.all((p > 0) & (p < 1))


def test_uniform_stands_in_without_targets(case) -> None:
    grid, el, ev = case
    quiet = ev[ev["mw"] < 3.5]
    p = recent(quiet, grid, el, None, 3.5, CFG)
    np.testing.assert_array_equal(p.values, uniform(quiet, grid, el, None, 3.5).values)
    assert p.attrs["n_fits"] == 0


def test_no_future_and_the_test_catches_a_leak(case, monkeypatch) -> None:
    grid, el, ev = case
    d = 90
    bad = perturb_from(ev, grid, d)

    def run(e):
        return recent(e, grid, el, None, 3.5, CFG)

    same, changed = time_forward(run, ev, bad, d)
    assert same and changed
    orig = rc._window_counts

    def leaky(cum, day, n, off, cell=None):  # the window reaches into the forecast day
        return orig(cum, day + 1, n + 1, off, cell)

    monkeypatch.setattr(rc, "_window_counts", leaky)
    same, _ = time_forward(run, ev, bad, d)
    assert not same
