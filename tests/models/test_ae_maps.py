"""Which places train the autoencoder (Appendix A; ``autoencoder.maps``)."""

from __future__ import annotations

import numpy as np

from espb.models.ae_fit import AEConfig, sample_map_index
from espb.samples.labels import NeqPool


def _pool(T=50, H=10, W=10):
    ok = np.zeros((T, H, W), bool)
    ok[:, : H - 1] = np.random.default_rng(0).random((T, H - 1, W)) < 0.06  # never the last row
    flat = np.flatnonzero(ok)

    day_ptr = np.searchsorted(flat, np.arange(T + 1) * (H * W))
    return NeqPool(flat, day_ptr, (T, H, W))


def test_neq_only_draws_pool_places():
    pool = _pool()
    day, r, c = sample_map_index(pool, 4, 2000, 40, np.random.default_rng(1))
    t = day + 0  # map day = forecast day - 1..lookback
    places = {tuple(x) for x in zip(*pool.unravel(pool.flat), strict=True)}
    hit = [any((t[i] + k, r[i], c[i]) in places for k in range(1, 5)) for i in range(len(t))]
    assert all(hit)


def test_neq_and_eq_adds_the_windows_before_the_earthquakes():
    pool = _pool()
    eq = (np.array([30, 45]), np.array([9, 9]), np.array([0, 0]))  # cells the pool never uses
    pool_cells = set(zip(*pool.unravel(pool.flat)[1:], strict=True))
    assert (9, 0) not in pool_cells
    day, r, c = sample_map_index(pool, 4, 20000, 40, np.random.default_rng(1), extra=eq)
    at_eq = (r == 9) & (c == 0)
    assert at_eq.any()  # the EQ at day 30 (before day_hi 40) contributes maps ...
    assert ((day[at_eq] >= 30 - 4) & (day[at_eq] < 30)).all()  # ... from its own block only
    # ... in proportion to one place among the pool's candidates
    n_pool = pool.count(0, 40)
    assert abs(at_eq.mean() - 1 / (n_pool + 1)) < 3 * np.sqrt(1 / n_pool / 20000)


def test_maps_default_keeps_the_cache_key():
    a = AEConfig()
    assert "maps" not in a.key_fields()
    assert AEConfig(maps="neq_and_eq").key_fields()["maps"] == "neq_and_eq"
