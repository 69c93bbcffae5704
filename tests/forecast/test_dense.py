"""Dense scoring equals per-block scoring (the training layer's own block cutter and the
network in eval mode), autoencoder off and on, on several layouts."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from espb.forecast.dense import grid_logits
from espb.forecast.engine import dense_logits, runs
from espb.forecast.folded import fold, time_plan
from espb.forecast.perblock import perblock_logits
from espb.forecast.targets import Eligible
from espb.models.classifier import layout_for

from .helpers import grid, random_ae, random_cube, random_model

TOL = 1e-5  # on the sigmoid score

LAYOUTS = [
    (64, 16, None),  # the generic layout layout_for(64, 16): STTSTSTSTT
    (128, 32, None),  # STSTTSTSTTST
    (64, 16, "SSTTSTSTTT"),  # two leading spatial stages, as the paper's layout
    (64, 16, "TSTSTSTSTT"),  # a temporal stage first
]


def _case(lookback, patch, layout, ae, n_days=40, extra=5, seed=0):
    b = random_cube(lookback + n_days + 2, patch + extra, patch + extra + 1, seed)
    elig = Eligible.of(grid(*b.shape), lookback, patch)
    nets_m = {
        0: random_model(lookback, patch, layout, 1),
        1: random_model(lookback, patch, layout, 2),
    }
    day0 = lookback + 1
    assign = np.r_[np.full(7, -1), np.zeros(13, int), np.ones(n_days - 20, int)]
    dense, _ = dense_logits({k: fold(m) for k, m in nets_m.items()}, assign, day0, b, elig, ae)
    return b, elig, nets_m, day0, assign, dense


def _sigmoid(x):
    return 1 / (1 + np.exp(-x.astype(np.float64)))


@pytest.mark.parametrize("lookback,patch,layout", LAYOUTS)
@pytest.mark.parametrize("with_ae", [False, True])
def test_dense_equals_perblock(lookback, patch, layout, with_ae):
    assert layout is not None or layout_for(lookback, patch)  # the generic layouts exist
    ae = random_ae(3) if with_ae else None
    b, elig, models, day0, assign, dense = _case(lookback, patch, layout, ae)
    assert np.isnan(dense[assign < 0]).all() and np.isfinite(dense[assign >= 0]).all()
    rng = np.random.default_rng(0)
    n_rows, n_cols = dense.shape[1:]
    full = not with_ae and lookback <= 64  # every cell-day; else a sample (per-block is slow)
    for k, m in models.items():
        idx = np.flatnonzero(assign == k)
        if full:
            t, r, c = (
                a.ravel()
                for a in np.meshgrid(idx, np.arange(n_rows), np.arange(n_cols), indexing="ij")
            )
        else:
            n = 60 if with_ae else 300
            t, r, c = rng.choice(idx, n), rng.integers(0, n_rows, n), rng.integers(0, n_cols, n)
        ref = perblock_logits(m, b, day0 + t, r + elig.row_lo, c + elig.col_lo, ae)
        got = dense[t, r, c]
        assert np.abs(_sigmoid(got) - _sigmoid(ref)).max() < TOL
        assert np.abs(got - ref).max() < 1e-4  # the logits too


@pytest.mark.parametrize("with_ae", [False, True])
def test_memory_budget_pieces_change_nothing(with_ae):
    """A tiny budget forces row bands / window tiles and day chunks: same numbers."""
    ae = random_ae(4) if with_ae else None
    b, elig, models, day0, assign, dense = _case(64, 16, None, ae)
    nets = {k: fold(m) for k, m in models.items()}
    _, whole = dense_logits(nets, assign, day0, b, elig, ae)
    budget = 6_000_000 if with_ae else 1_000_000  # bytes; the whole call needs more
    small, timing = dense_logits(nets, assign, day0, b, elig, ae, budget=budget)
    assert whole["calls"] == len(runs(assign))
    assert timing["calls"] > 2 * len(runs(assign))
    np.testing.assert_allclose(small, dense, rtol=0, atol=2e-6)


def test_time_plan_is_the_receptive_field():
    """The first level of the plan is exactly the lookback before each output."""
    net = fold(random_model(128, 32))
    out = np.array([500, 501, 700])
    plan = time_plan(net, out)
    want = np.unique(np.concatenate([np.arange(o - 127, o + 1) for o in out]))
    assert np.array_equal(plan[0], want)
    assert np.array_equal(plan[-1], out)


def test_grid_logits_needs_the_lookback():
    net = fold(random_model(64, 16))
    b = torch.rand(70, 16, 16)
    with pytest.raises(ValueError, match="too few"):
        grid_logits(net, b, 10, np.array([70]))
