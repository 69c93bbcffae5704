"""Spatial base rate: what it conserves, its floor, its update calendar, the time-forward
adaptive bandwidths, and the no-future property (with a leaky variant that the check catches)."""

from __future__ import annotations

import importlib

import numpy as np
import pytest

from espb.forecast.baselines import SpatialConfig, spatial, uniform
from espb.geo import haversine_km  # the baselines measure on the Earth (espb.geo)
from tests.forecast.baselines.helpers import (
    clustered_catalog,
    eligible_of,
    events_frame,
    perturb_from,
    small_grid,
    time_forward,
)

sp = importlib.import_module("espb.forecast.baselines.spatial")


@pytest.fixture(scope="module")
def case():
    grid = small_grid(n=14, n_days=120)
    return grid, eligible_of(grid), clustered_catalog(grid, seed=4)


@pytest.mark.parametrize("kernel", ["gaussian", "adaptive"])
def test_total_rate_is_the_uniform_rate_and_the_floor_holds(case, kernel: str) -> None:
    grid, el, ev = case
    cfg = SpatialConfig(kernel=kernel, bandwidth_km=8.0, smooth_min_mag=3.0)
    p = spatial(ev, grid, el, None, 4.0, cfg).values[:, 2:13, 2:13]
    u = uniform(ev, grid, el, None, 4.0).values[:, 2:13, 2:13]
    lam, lam_u = -np.log1p(-p), -np.log1p(-u)
    np.testing.assert_allclose(lam.sum(axis=(1, 2)), lam_u.sum(axis=(1, 2)), rtol=1e-10)
    n = lam[0].size
    assert np.all(lam >= cfg.floor * lam_u.sum(axis=(1, 2), keepdims=True) / n * (1 - 1e-12))
    assert lam[-1].max() > 10 * lam[-1].min()  # the kernel does redistribute


def test_smoothed_counts_follow_the_events(case) -> None:
    grid, el, _ = case
    lat, lon = grid.lat0 + 0.65, grid.lon0 + 0.75  # cell (6, 7)
    ev = events_frame([30.2, 50.9], [lat, lat], [lon, lon], [5.0, 5.0])
    s = sp.smoothed_counts(ev, grid, el, np.array([25, 31, 50, 51]), 5.0, SpatialConfig())
    tot = s.reshape(4, -1).sum(axis=1)
    assert tot[0] == 0 and tot[1] == tot[2]  # an event enters the day after it, not before
    assert tot[3] == pytest.approx(2 * tot[1])
    assert np.unravel_index(s[1].argmax(), s[1].shape) == (6 - el.row_lo, 7 - el.col_lo)
    assert tot[1] == pytest.approx(1.0, abs=0.05)  # nearly all of a 15 km Gaussian is in the box


def test_update_calendar(case) -> None:
    grid, el, ev = case
    p = spatial(ev, grid, el, None, 4.0, SpatialConfig(update_days=10, smooth_min_mag=3.0)).values
    seg = (np.arange(el.day_lo, el.n_days) - el.day_lo) // 10
    for s in np.unique(seg):
        blk = p[seg == s]
        assert np.array_equal(blk, np.broadcast_to(blk[:1], blk.shape), equal_nan=True)
    assert not np.array_equal(p[0], p[-1], equal_nan=True)


def test_adaptive_bandwidths_use_only_earlier_events() -> None:
    rng = np.random.default_rng(2)
    n = 300
    lat, lon = 38 + rng.random(n), 141 + rng.random(n)
    bw = sp.adaptive_bandwidths(lat, lon, 3, 0.5, 500.0, block=64)
    ref = np.full(n, 500.0)
    for i in range(3, n):
        d = np.sort(haversine_km(lat[i], lon[i], lat[:i], lon[:i]))
        ref[i] = np.clip(d[2], 0.5, 500.0)
    np.testing.assert_allclose(bw, ref, rtol=1e-9)


@pytest.mark.parametrize("kernel", ["gaussian", "adaptive"])
def test_no_future_and_the_test_catches_a_leak(case, kernel, monkeypatch) -> None:
    grid, el, ev = case
    d = 70
    bad = perturb_from(ev, grid, d)
    cfg = SpatialConfig(kernel=kernel, smooth_min_mag=3.0)

    def run(e):
        return spatial(e, grid, el, None, 4.0, cfg)

    same, changed = time_forward(run, ev, bad, d)
    assert same and changed
    # leaky: an event counts for its own day (off by one)
    monkeypatch.setattr(sp, "_contributes_to", lambda u, day: np.searchsorted(u, day, side="left"))
    same, _ = time_forward(run, ev, bad, d)
    assert not same
