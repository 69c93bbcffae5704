"""Discrete CRPS against a brute-force sum, randomised PIT, tail strata."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from espb.rates.nb import nb2_logpmf
from espb.rates.scores import crps_nb2, pit_histogram, randomised_pit, scores, summarise


def crps_brute(y: float, mu: float, alpha: float, k_max: int) -> float:
    """CRPS = E|X - y| - E|X - X'| / 2 (Gneiting & Raftery 2007, Eq. 21), summed over 0..k_max."""
    k = np.arange(k_max + 1)
    p = np.exp(nb2_logpmf(k, mu, alpha))
    assert 1 - p.sum() < 1e-12
    return float(np.sum(p * np.abs(k - y)) - 0.5 * p @ np.abs(k[:, None] - k[None, :]) @ p)


CASES = [
    (0, 0.05, 0.0),
    (3, 2.0, 0.0),
    (0, 2.0, 5.0),
    (7, 1.5, 0.8),
    (40, 12.0, 0.3),
    (2, 30.0, 2.5),
    (150, 120.0, 0.02),
    (0, 300.0, 0.0),
    (900, 300.0, 1e-11),
]


@pytest.mark.parametrize("y,mu,alpha", CASES)
def test_crps_matches_brute_force_sum(y, mu, alpha):
    k_max = 2500 if alpha < 1 else 6000
    assert crps_nb2(np.array([y]), np.array([mu]), np.array([alpha]))[0] == pytest.approx(
        crps_brute(y, mu, alpha, k_max), rel=1e-9, abs=1e-10
    )


def test_crps_vectorised_equals_per_row_and_survives_chunking(monkeypatch):
    ys, mus, als = (np.array(c, dtype=float) for c in zip(*CASES, strict=True))
    one = np.array(
        [crps_nb2(ys[i : i + 1], mus[i : i + 1], als[i : i + 1])[0] for i in range(len(ys))]
    )
    np.testing.assert_allclose(crps_nb2(ys, mus, als), one, rtol=1e-12)
    import espb.rates.scores as sc

    monkeypatch.setattr(sc, "CRPS_CHUNK", 1000)  # forces many small chunks
    np.testing.assert_allclose(sc.crps_nb2(ys, mus, als), one, rtol=1e-12)


def test_crps_prefers_the_true_distribution():
    rng = np.random.default_rng(4)
    mu, alpha = 6.0, 0.7
    y = rng.negative_binomial(1 / alpha, 1 / (1 + alpha * mu), 4000)
    true = crps_nb2(y, mu, alpha).mean()
    assert true < crps_nb2(y, mu, 0.0).mean()  # the Poisson with the right mean
    assert true < crps_nb2(y, 2 * mu, alpha).mean()


def test_randomised_pit_is_uniform_for_the_true_forecast_and_not_for_poisson():
    rng = np.random.default_rng(5)
    mu = rng.gamma(2.0, 2.0, 6000)
    alpha = np.full_like(mu, 0.9)
    y = rng.negative_binomial(1 / alpha, 1 / (1 + alpha * mu))
    u = randomised_pit(y, mu, alpha, np.random.default_rng(0))
    assert stats.kstest(u, "uniform").pvalue > 0.01
    h = pit_histogram(u, 10)
    assert h.max_deviation < 0.15 and h.density.sum() == pytest.approx(1.0)
    u_pois = randomised_pit(y, mu, np.zeros_like(mu), np.random.default_rng(0))
    assert stats.kstest(u_pois, "uniform").pvalue < 1e-6  # over-dispersed data: U-shaped PIT
    assert pit_histogram(u_pois, 10).max_deviation > 0.3


def test_tail_strata_select_rows_with_many_events():
    y = np.array([0, 1, 5, 9, 20])
    mu = np.array([0.5, 1.0, 4.0, 6.0, 10.0])
    per = scores(y, mu, np.full(5, 0.2))
    s = summarise(y, per, [5, 10])
    assert s["tail5/n"] == 3 and s["tail10/n"] == 1
    assert s["tail5/crps"] == pytest.approx(per["crps"].iloc[2:].mean())
    assert s["tail10/deviance"] == pytest.approx(per["deviance"].iloc[4])
    assert np.isnan(summarise(y, per, [50])["tail50/crps"])
    assert isinstance(per, pd.DataFrame)
