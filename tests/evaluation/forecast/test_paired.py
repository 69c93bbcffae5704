"""Paired T-test against pyCSEP's ``paired_t_test`` on one window; the Bernoulli form and the
bootstrap test against the information gain of :mod:`scores`."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest

from espb.errors import EspbError
from espb.evaluation.forecast.csep_bridge import export_window
from espb.evaluation.forecast.paired import bootstrap_ig_test, paired_t_test
from espb.evaluation.forecast.scores import information_gain

START, END = dt.datetime(2022, 5, 3), dt.datetime(2022, 5, 4)


def _window(seed=3, h=12, w=13):
    rng = np.random.default_rng(seed)
    p = np.clip(rng.gamma(0.6, 0.08, (1, h, w)), 1e-4, 0.9)
    y = rng.random(p.shape) < p
    r = np.full(p.shape, p.mean())
    lat, lon = -10 + 0.25 * (np.arange(h) + 0.5), 20 + 0.25 * (np.arange(w) + 0.5)
    times = pd.date_range("2022-05-03", periods=1, freq="D")
    cells = np.ones((h, w), bool)
    cells[0], cells[:, -1] = False, False
    return p, y, r, lat, lon, times, cells


def test_poisson_t_test_equals_pycsep_on_one_window():
    from csep.core.poisson_evaluations import paired_t_test as csep_t

    p, y, r, lat, lon, times, cells = _window()
    kw = {"start": START, "end": END, "target_mag": 5.0, "cells": cells}
    fc, cat = export_window(p, y, times, lat, lon, name="model", **kw)
    ref, _ = export_window(r, y, times, lat, lon, name="base", **kw)
    res = csep_t(fc, ref, cat, alpha=0.05)
    t = paired_t_test(p[0], r[0], y[0], mask=cells, kind="poisson")
    assert t.n_targets == cat.event_count >= 5
    assert t.information_gain == pytest.approx(res.observed_statistic, rel=1e-10)
    assert t.t_statistic == pytest.approx(res.quantile[0], rel=1e-10)
    assert t.t_critical == pytest.approx(res.quantile[1], rel=1e-12)
    assert (t.ig_lower, t.ig_upper) == pytest.approx(res.test_distribution, rel=1e-10)


def test_pycsep_binary_t_test_is_still_broken():
    """pyCSEP 0.8's binary_paired_t_test raises NameError; espb's Bernoulli T-test replaces it.
    If this test fails, pyCSEP has fixed it: compare it with kind='bernoulli' instead."""
    from csep.core.binomial_evaluations import binary_paired_t_test

    p, y, r, lat, lon, times, cells = _window()
    kw = {"start": START, "end": END, "target_mag": 5.0, "cells": cells}
    fc, cat = export_window(p, y, times, lat, lon, **kw)
    ref, _ = export_window(r, y, times, lat, lon, **kw)
    with pytest.raises(NameError):
        binary_paired_t_test(fc, ref, cat)


def test_bernoulli_t_test_gain_is_the_information_gain(cube):
    p, y, r, _, mask = cube
    t = paired_t_test(p, r, y, mask=mask, kind="bernoulli")
    assert t.information_gain == pytest.approx(information_gain(p, r, y, mask=mask).nats)
    assert t.ig_lower < t.information_gain < t.ig_upper
    assert t.p_value < 0.05 and t.t_statistic > t.t_critical  # the generator beats the base
    same = paired_t_test(p, p, y, mask=mask, kind="bernoulli")
    assert same.information_gain == 0.0 and np.isnan(same.t_statistic)


def test_t_test_input_errors(cube):
    p, y, r, _, _ = cube
    with pytest.raises(EspbError, match="kind"):
        paired_t_test(p, r, y, kind="gauss")
    one = np.zeros(p.shape, bool)
    one.flat[0] = True
    with pytest.raises(EspbError, match="at least 2"):
        paired_t_test(p, r, one)


def test_bootstrap_ig_test(cube):
    p, y, r, day, mask = cube
    bt = bootstrap_ig_test(p, r, y, day, mask=mask, n_boot=400, seed=1)
    assert bt.ig.value == pytest.approx(information_gain(p, r, y, mask=mask).nats, rel=1e-10)
    assert bt.ig.lo > 0 and 2 / 401 <= bt.p_value < 0.05
    same = bootstrap_ig_test(p, p, y, day, mask=mask, n_boot=100)
    assert same.ig.value == 0.0 and same.p_value == 1.0
    # a forecast no better than the reference in expectation: p-value not small
    rng = np.random.default_rng(8)
    q = np.clip(r * rng.lognormal(0, 0.05, r.shape), 1e-5, 0.95)
    noisy = bootstrap_ig_test(q, r, y, day, mask=mask, n_boot=400)
    assert noisy.ig.lo < 0 < noisy.ig.hi and noisy.p_value > 0.05
