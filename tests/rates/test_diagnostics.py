"""Moran's I against a double-loop definition and known patterns; grid weights; the alpha map."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from espb.rates.config import DataConfig
from espb.rates.counts import count_events
from espb.rates.diagnostics import alpha_map, grid_weights, moran_test, morans_i, pearson_residuals


def moran_loop(z, w):
    n = len(z)
    zc = z - z.mean()
    num = sum(w[i, j] * zc[i] * zc[j] for i in range(n) for j in range(n))
    return n / w.sum() * num / sum(zc**2)


def test_weights():
    w = grid_weights(3, 4, "rook")
    assert w.shape == (12, 12) and np.array_equal(w, w.T) and w.trace() == 0
    assert w[0].sum() == 2 and w[5].sum() == 4  # corner, interior
    q = grid_weights(3, 4, "queen")
    assert q[0].sum() == 3 and q[5].sum() == 8


def test_morans_i_matches_the_definition_and_known_patterns():
    rng = np.random.default_rng(0)
    w = grid_weights(4, 5, "rook")
    for _ in range(5):
        z = rng.normal(size=20)
        assert morans_i(z, w) == pytest.approx(moran_loop(z, w), rel=1e-12)
    r, c = np.divmod(np.arange(20), 5)
    assert morans_i(((r + c) % 2).astype(float), w) == pytest.approx(-1.0)  # checkerboard
    assert morans_i(c.astype(float), w) > 0.5  # a smooth gradient
    batch = rng.normal(size=(3, 20))
    np.testing.assert_allclose(morans_i(batch, w), [moran_loop(b, w) for b in batch])


def _grid():
    cfg = DataConfig(
        region=[0.0, 4.0, 0.0, 5.0], cell_deg=1.0, start="2000-01-01", end="2000-03-31"
    )
    ev = pd.DataFrame(
        {
            "time": pd.to_datetime(["2000-01-02"], utc=True),
            "latitude": [0.5],
            "longitude": [0.5],
            "mw": [4.0],
        }
    )
    return count_events(ev, cfg)


def test_moran_test_detects_clustered_residuals_and_not_noise():
    g = _grid()
    rng = np.random.default_rng(1)
    r, c = np.divmod(np.arange(g.n_cells), g.n_lon)
    rows = []
    for t in range(12):
        rows.append(
            pd.DataFrame(
                {
                    "period": t,
                    "cell": np.arange(g.n_cells),
                    "r": c + 0.3 * rng.normal(size=g.n_cells),
                }
            )
        )
    clustered = moran_test(pd.concat(rows), g, "rook", 199, 0)
    assert (
        clustered.i_cell_mean > 0.5
        and clustered.p_cell_mean < 0.02
        and clustered.i_mean_weekly > 0.4
    )
    noise = pd.concat(
        [
            pd.DataFrame(
                {"period": t, "cell": np.arange(g.n_cells), "r": rng.normal(size=g.n_cells)}
            )
            for t in range(12)
        ]
    )
    res = moran_test(noise, g, "rook", 199, 0)
    assert res.p_cell_mean > 0.02 and abs(res.i_mean_weekly - res.expected) < 0.15
    assert res.expected == pytest.approx(-1 / 19)


def test_pearson_residuals_and_alpha_map():
    assert pearson_residuals(np.array([5.0]), np.array([2.0]), np.array([0.5]))[0] == pytest.approx(
        3 / np.sqrt(4.0)
    )
    g = _grid()
    pred = pd.DataFrame(
        {"period": 0, "cell": np.arange(g.n_cells), "alpha": np.arange(g.n_cells) / 10}
    )
    da = alpha_map(pred, g)
    assert da.dims == ("lat", "lon") and da.shape == (4, 5)
    assert float(da.sel(lat=1.5, lon=2.5)) == pytest.approx(0.7)
