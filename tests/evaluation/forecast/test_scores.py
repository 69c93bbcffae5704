"""Likelihood, information gain, Brier and reliability against brute force and scikit-learn."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats
from sklearn.metrics import brier_score_loss

from espb.errors import EspbError
from espb.evaluation.forecast.scores import (
    bernoulli_log_likelihood,
    brier_score,
    brier_skill_score,
    ig_over_time,
    information_gain,
    reliability,
)


def test_log_likelihood_equals_brute_force_sum(cube, small_chunks):
    p, y, _, _, mask = cube
    brute = 0.0
    for pi, yi in zip(p[mask].tolist(), y[mask].tolist(), strict=True):
        brute += math.log(pi) if yi else math.log(1.0 - pi)
    assert bernoulli_log_likelihood(p, y, mask=mask) == pytest.approx(brute, rel=1e-12)
    oracle = stats.bernoulli.logpmf(y[mask].astype(int), p[mask]).sum()
    assert bernoulli_log_likelihood(p, y, mask=mask) == pytest.approx(oracle, rel=1e-12)


def test_information_gain_definition_and_self(cube):
    p, y, r, _, mask = cube
    ig = information_gain(p, r, y, mask=mask)
    n1 = int(y[mask].sum())
    ll_p = bernoulli_log_likelihood(p, y, mask=mask)
    ll_r = bernoulli_log_likelihood(r, y, mask=mask)
    assert ig.n_targets == n1
    assert ig.nats == pytest.approx((ll_p - ll_r) / n1, rel=1e-12)
    assert ig.bits == pytest.approx(ig.nats / math.log(2), rel=1e-12)
    assert ig.probability_gain == pytest.approx(math.exp(ig.nats), rel=1e-12)
    assert ig.nats > 0  # the generating forecast beats the spatial reference
    self_ig = information_gain(p, p, y, mask=mask)
    assert self_ig.nats == 0.0 and self_ig.probability_gain == 1.0


def test_brier_against_scikit_learn(cube, small_chunks):
    p, y, r, _, mask = cube
    assert brier_score(p, y, mask=mask) == pytest.approx(
        brier_score_loss(y[mask], p[mask]), rel=1e-12
    )
    bss = brier_skill_score(p, r, y, mask=mask)
    ref = brier_score_loss(y[mask], r[mask])
    assert bss.bs_ref == pytest.approx(ref, rel=1e-12)
    assert bss.bss == pytest.approx(1 - brier_score_loss(y[mask], p[mask]) / ref, rel=1e-12)
    assert brier_skill_score(p, p, y).bss == 0.0


def test_float32_and_mask_give_the_same_scores(cube):
    p, y, r, _, mask = cube
    a = information_gain(p[mask], r[mask], y[mask])
    b = information_gain(p, r, y, mask=mask)
    assert a == b
    p32 = p.astype(np.float32)
    assert brier_score(p32, y) == pytest.approx(brier_score(p32.astype(float), y), rel=1e-12)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"p": np.array([0.1, 1.0]), "y": np.array([0, 1])}, "'p' has 1 value"),
        ({"p": np.array([0.1, np.nan]), "y": np.array([0, 1])}, "'p' has 1 value"),
        ({"p": np.array([0.1, 0.2]), "y": np.array([0, 2])}, "'y' has 1 value"),
        ({"p": np.array([0.1, 0.2]), "y": np.array([0, 1, 0])}, "'y' has shape"),
    ],
)
def test_bad_input_names_the_argument(kwargs, match):
    with pytest.raises(EspbError, match=match):
        bernoulli_log_likelihood(**kwargs)


def test_no_target_is_an_error_not_a_number():
    with pytest.raises(EspbError, match="no target"):
        information_gain(np.full(5, 0.1), np.full(5, 0.2), np.zeros(5, bool))


def test_reliability_bins_and_counts(cube):
    p, y, _, _, mask = cube
    t = reliability(p, y, n_bins=5, strategy="uniform", mask=mask)
    assert list(t["lo"]) == pytest.approx(np.linspace(0, 0.8, 5))
    assert t["count"].sum() == mask.sum() and t["n_targets"].sum() == y[mask].sum()
    pm, ym = p[mask], y[mask]
    first = pm < 0.2
    assert t["count"][0] == first.sum()
    assert t["freq"][0] == pytest.approx(ym[first].mean())
    assert t["mean_p"][0] == pytest.approx(pm[first].mean())
    # Wilson interval against statsmodels' formula written out independently
    z = stats.norm.ppf(0.975)
    n, k = t["count"][0], t["n_targets"][0]
    ph = k / n
    centre = (ph + z**2 / (2 * n)) / (1 + z**2 / n)
    half = z / (1 + z**2 / n) * math.sqrt(ph * (1 - ph) / n + z**2 / (4 * n**2))
    assert t["freq_lo"][0] == pytest.approx(centre - half)
    assert t["freq_hi"][0] == pytest.approx(centre + half)
    q = reliability(p, y, n_bins=4, strategy="quantile", mask=mask)
    assert q["count"].sum() == mask.sum()
    assert q["count"].max() < 0.5 * mask.sum()  # roughly equal-count bins despite ties
    lg = reliability(p, y, n_bins=6, strategy="log", mask=mask)
    assert lg["count"].sum() == mask.sum()
    with pytest.raises(EspbError, match="strategy"):
        reliability(p, y, strategy="bogus")


def test_reliability_of_a_calibrated_forecast():
    rng = np.random.default_rng(5)
    p = rng.uniform(0.01, 0.6, 200_000)
    y = rng.random(p.size) < p
    t = reliability(p, y, n_bins=10, strategy="quantile")
    inside = (t["freq_lo"] <= t["mean_p"]) & (t["mean_p"] <= t["freq_hi"])
    assert inside.sum() >= 8


def test_ig_over_time_accumulates_to_the_total(cube):
    p, y, r, day, mask = cube
    s = ig_over_time(p, r, y, day, mask=mask)
    assert list(s["day"]) == list(range(p.shape[0]))
    total = information_gain(p, r, y, mask=mask)
    assert s["cum_ig"].iloc[-1] == pytest.approx(total.nats, rel=1e-10)
    assert s["cum_targets"].iloc[-1] == total.n_targets
    d = 7
    sel = mask & (day <= d)
    assert s["cum_ig"].iloc[d] == pytest.approx(information_gain(p, r, y, mask=sel).nats)


def _perturb_after(p, y, d, seed=9):
    rng = np.random.default_rng(seed)
    p2, y2 = p.copy(), y.copy()
    p2[d + 1 :] = rng.uniform(0.001, 0.5, p2[d + 1 :].shape)
    y2[d + 1 :] = rng.random(y2[d + 1 :].shape) < 0.3  # many more targets after day d
    return p2, y2


def _days_up_to_d_unchanged(fn, cube, d: int = 15) -> bool:
    """Perturbation check: change forecasts and targets after day d; are rows <= d identical?"""
    p, y, r, day, mask = cube
    a = fn(p, r, y, day, mask=mask)
    p2, y2 = _perturb_after(p, y, d)
    b = fn(p2, r, y2, day, mask=mask)
    return a[a["day"] <= d].equals(b[b["day"] <= d])


def test_ig_over_time_uses_no_future(cube):
    assert _days_up_to_d_unchanged(ig_over_time, cube)


def test_the_future_check_catches_a_leaky_variant(cube):
    """A running IG normalised by the whole period's target count leaks the future: the same
    check must flag it."""

    def leaky(p, r, y, day, *, mask=None):
        s = ig_over_time(p, r, y, day, mask=mask)
        return s.assign(cum_ig=s["cum_ll_diff"] / s["n_targets"].sum())

    assert not _days_up_to_d_unchanged(leaky, cube)
