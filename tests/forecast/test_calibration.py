"""Calibration formulas against direct computations and scikit-learn."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.isotonic import IsotonicRegression
from sklearn.linear_model import LogisticRegression

from espb.errors import ConfigError
from espb.forecast.calibration import (
    CalibrationConfig,
    calibrate,
    expit,
    fit_map,
    logit,
    past_base_rate,
    prior_shift,
)


def test_prior_shift_is_bayes_rule():
    """Saerens et al. 2002: p / (1 - p) = s / (1 - s) * (pi / (1 - pi)) / (pi_t / (1 - pi_t))."""
    s = np.array([0.01, 0.3, 0.5, 0.9])
    pi, pi_t = 0.002, 0.5
    p = expit(prior_shift(logit(s), pi, pi_t))
    odds = s / (1 - s) * (pi / (1 - pi)) / (pi_t / (1 - pi_t))
    np.testing.assert_allclose(p, odds / (1 + odds), rtol=1e-12)
    # the balanced prior and the real one equal: no change
    np.testing.assert_allclose(expit(prior_shift(logit(s), 0.5, 0.5)), s, rtol=1e-12)


def test_past_base_rate_counts_only_the_past():
    t = np.zeros((30, 2, 2), bool)
    t[5, 0, 0] = t[12, 1, 1] = t[20, 0, 1] = True
    assert past_base_rate(t, 13, None) == pytest.approx((2 + 0.5) / (13 * 4 + 1))
    assert past_base_rate(t, 13, 5) == pytest.approx((1 + 0.5) / (5 * 4 + 1))
    assert past_base_rate(t, 0, None) == pytest.approx(0.5)


def test_maps_equal_scikit_learn():
    rng = np.random.default_rng(0)
    z = rng.normal(size=3000)
    y = (rng.random(3000) < expit(0.7 * z - 2)).astype(float)
    x = np.linspace(-3, 3, 11)
    iso = IsotonicRegression(y_min=0, y_max=1, out_of_bounds="clip").fit(z, y)
    np.testing.assert_allclose(fit_map("isotonic", z, y)(x), iso.predict(x))
    lr = LogisticRegression(C=np.inf, tol=1e-10, max_iter=1000).fit(z[:, None], y)
    np.testing.assert_allclose(fit_map("logistic", z, y)(x), lr.predict_proba(x[:, None])[:, 1])
    assert abs(lr.coef_[0, 0] - 0.7) < 0.15  # recovers the generating slope


def _case(n_days=60, seed=0):
    rng = np.random.default_rng(seed)
    logits = rng.normal(-1, 1, (n_days, 3, 4))
    targets = rng.random((n_days + 20, 3, 4)) < expit(logits.mean() - 2.5)
    bounds = np.array([[20 + 10 * s, 30 + 10 * s] for s in range(6)])
    return logits, targets, bounds


def test_calibrate_per_segment_from_the_past():
    logits, targets, bounds = _case()
    cfg = CalibrationConfig(method="isotonic", fit_window_days=15, min_events=3)
    c = calibrate(logits, 20, targets, bounds, cfg)
    # segment 2 (days 40..49, logits rows 20..29): prior from days < 40, map from days 25..39
    pi = (targets[:40].sum() + 0.5) / (targets[:40].size + 1)
    assert (c.prior[20:30] == pi).all()
    iso = IsotonicRegression(y_min=0, y_max=1, out_of_bounds="clip").fit(
        logits[5:20].ravel(), targets[25:40].ravel()
    )
    want = np.clip(iso.predict(logits[20:30].ravel()), 1e-7, 1 - 1e-7).reshape(10, 3, 4)
    np.testing.assert_allclose(c.prob[20:30], want, rtol=1e-6)
    assert (c.code[20:30] == 3).all()
    # segment 0 has no past scores: the prior shift
    assert (c.code[:10] == 2).all()
    np.testing.assert_allclose(
        c.prob[:10], expit(prior_shift(logits[:10], c.prior[0], 0.5)), rtol=1e-6
    )


def test_validation_source_uses_labels_known_before_the_segment():
    logits, targets, bounds = _case()
    rng = np.random.default_rng(1)
    n = 400
    lab = rng.integers(0, 2, n)
    val = pd.DataFrame(
        {"available": rng.integers(20, 80, n), "label": lab, "logit": rng.normal(lab, 1.0)}
    )
    cfg = CalibrationConfig(method="logistic", source="validation", min_events=5)
    c = calibrate(logits, 20, targets, bounds, cfg, val)
    past = val[val["available"] < 50]  # segment 3 starts on day 50
    p = fit_map("logistic", past["logit"].to_numpy(), past["label"].to_numpy())(logits[30:40])
    want = expit(prior_shift(logit(p), c.prior[30], past["label"].mean()))
    np.testing.assert_allclose(c.prob[30:40], want, rtol=1e-5)
    assert (c.code[30:40] == 4).all()


def test_unscored_days_stay_nan_and_bad_settings_are_named():
    logits, targets, bounds = _case()
    logits[:7] = np.nan
    c = calibrate(logits, 20, targets, bounds, CalibrationConfig())
    assert np.isnan(c.prob[:7]).all() and (c.code[:7] == 0).all() and np.isnan(c.prior[:7]).all()
    with pytest.raises(ConfigError, match="calibration.method"):
        CalibrationConfig(method="platt").validate()
