"""Walk-forward folds; EarthquakeNet's architecture, determinism, and per-cell dispersion."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

from espb.errors import ConfigError
from espb.rates.config import EvalConfig, ModelConfig
from espb.rates.counts import count_events
from espb.rates.net import EarthquakeNet, fit_net, net_predict, time_forward_split
from espb.rates.walkforward import make_folds


def test_year_folds_and_step_folds(smoke_events, smoke_data):
    g = count_events(smoke_events, smoke_data)
    folds = make_folds(g, EvalConfig(test_start="2010-07-01", test_end="2011-12-31"), 12)
    assert [f.label for f in folds] == ["2010", "2011"]
    assert g.period_start[folds[0].start] >= pd.Timestamp("2010-07-01", tz="UTC")
    assert (
        g.period_start[folds[1].start]
        >= pd.Timestamp("2011-01-01", tz="UTC")
        > g.period_start[folds[1].start - 1]
    )
    assert folds[0].stop == folds[1].start and folds[1].stop == g.n_periods
    step = make_folds(g, EvalConfig(test_start="2011-01-01", test_end="2011-12-31", step="13"), 12)
    assert [f.stop - f.start for f in step] == [13, 13, 13, 12]
    with pytest.raises(ConfigError, match="no training periods"):
        make_folds(g, EvalConfig(test_start="2010-01-01", test_end="2011-12-31"), 12)
    with pytest.raises(ConfigError, match="hold no period"):
        make_folds(g, EvalConfig(test_start="2013-01-01", test_end="2013-12-31"), 12)


def test_architecture_is_the_papers():
    net = EarthquakeNet(21, 7)
    assert net.embedding.embedding_dim == 8
    lin = [m for m in net.modules() if isinstance(m, torch.nn.Linear)]
    assert [(m.in_features, m.out_features) for m in lin] == [(15, 64), (64, 32), (32, 2)]
    drops = [m.p for m in net.modules() if isinstance(m, torch.nn.Dropout)]
    assert drops == [0.2, 0.2]
    mu, alpha = net(torch.zeros(5, dtype=torch.long), torch.randn(5, 7))
    assert (mu > 0).all() and (alpha > 0).all()


def simulated(seed: int, n_periods: int = 400) -> pd.DataFrame:
    """4 cells; mu from one feature; alpha 0.05 in cells 0-1, 2.0 in cells 2-3."""
    rng = np.random.default_rng(seed)
    t, c = np.meshgrid(np.arange(n_periods), np.arange(4), indexing="ij")
    x = rng.normal(size=t.shape)
    mu = np.exp(1.0 + 0.5 * x)
    alpha = np.where(c < 2, 0.05, 2.0)
    y = rng.negative_binomial(1 / alpha, 1 / (1 + alpha * mu))
    return pd.DataFrame({"period": t.ravel(), "cell": c.ravel(), "y": y.ravel(), "f": x.ravel()})


def test_time_forward_split_takes_the_last_periods():
    per = np.repeat(np.arange(10), 3)
    val = time_forward_split(per, 0.2)
    assert set(per[val]) == {8, 9} and val.sum() == 6


def test_network_is_deterministic_and_learns_per_cell_dispersion():
    rows = simulated(0)
    cfg = ModelConfig(kind="earthquakenet", max_epochs=25, patience=25, threads=1, lr=3e-3)
    a = fit_net(rows, ["f"], 4, cfg, seed=3)
    b = fit_net(rows, ["f"], 4, cfg, seed=3)
    pa, pb = net_predict(a, rows, ["f"]), net_predict(b, rows, ["f"])
    np.testing.assert_array_equal(pa[0], pb[0])
    np.testing.assert_array_equal(pa[1], pb[1])
    assert [h["val_nll"] for h in a.history] == [h["val_nll"] for h in b.history]
    other = net_predict(fit_net(rows, ["f"], 4, cfg, seed=4), rows, ["f"])
    assert not np.array_equal(pa[0], other[0])
    alpha_cell = pd.Series(pa[1]).groupby(rows["cell"]).mean()
    assert alpha_cell[[2, 3]].min() > 4 * alpha_cell[[0, 1]].max(), alpha_cell.to_dict()
    assert np.corrcoef(np.log(pa[0]), rows["f"])[0, 1] > 0.8
    assert a.best_epoch >= 0 and len(a.history) <= 25
