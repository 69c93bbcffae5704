"""The NB2 log-likelihood (espb.rates.nb) against scipy.stats.nbinom (n = 1/alpha,
p = 1/(1 + alpha mu)) and scipy.stats.poisson; its torch path and gradients; the deviance
against scikit-learn."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy import stats
from sklearn.metrics import mean_poisson_deviance

from espb.rates.nb import (
    ALPHA_POISSON,
    nb2_cdf,
    nb2_logpmf,
    nb2_ppf,
    nb2_variance,
    poisson_deviance,
)


@pytest.fixture(scope="module")
def grid():
    rng = np.random.default_rng(0)
    n = 2000
    mu = np.exp(rng.uniform(-4, 7, n))
    alpha = np.exp(rng.uniform(-8, 3, n))
    y = rng.integers(0, 3000, n).astype(float)
    y[:500] = rng.poisson(mu[:500])
    return y, mu, alpha


def test_nb2_logpmf_matches_scipy_nbinom(grid):
    y, mu, alpha = grid
    ref = stats.nbinom.logpmf(y, 1.0 / alpha, 1.0 / (1.0 + alpha * mu))
    ours = nb2_logpmf(y, mu, alpha)
    finite = np.isfinite(ref)
    assert finite.mean() > 0.9
    np.testing.assert_allclose(ours[finite], ref[finite], rtol=1e-9, atol=1e-7)


def test_nb2_moments_match_scipy():
    mu, alpha = np.array([0.3, 4.0, 250.0]), np.array([2.0, 0.5, 0.01])
    n, p = 1.0 / alpha, 1.0 / (1.0 + alpha * mu)
    np.testing.assert_allclose(stats.nbinom.mean(n, p), mu)
    np.testing.assert_allclose(stats.nbinom.var(n, p), nb2_variance(mu, alpha))
    k = np.arange(0, 600)
    np.testing.assert_allclose(np.exp(nb2_logpmf(k[:, None], mu, alpha)).sum(0), 1.0, atol=1e-10)
    np.testing.assert_allclose(nb2_cdf(k[:, None], mu, alpha), stats.nbinom.cdf(k[:, None], n, p))
    np.testing.assert_array_equal(nb2_ppf(0.9, mu, alpha), stats.nbinom.ppf(0.9, n, p))


def test_alpha_zero_is_poisson_and_the_limit_is_continuous():
    y = np.array([0, 1, 5, 40, 400])
    mu = np.array([0.2, 1.5, 4.0, 35.0, 380.0])
    pois = stats.poisson.logpmf(y, mu)
    np.testing.assert_allclose(nb2_logpmf(y, mu, 0.0), pois, rtol=1e-12)
    # just above the cut-over the NB2 formula agrees with Poisson to ~1e-4 nats
    np.testing.assert_allclose(nb2_logpmf(y, mu, 2 * ALPHA_POISSON), pois, atol=1e-4)
    np.testing.assert_allclose(
        nb2_logpmf(y, mu, 1e-6), stats.nbinom.logpmf(y, 1e6, 1 / (1 + 1e-6 * mu)), rtol=1e-7
    )


def test_torch_path_equals_numpy_and_has_the_analytic_gradient():
    y = np.array([0.0, 3.0, 12.0, 150.0])
    mu = np.array([0.5, 2.0, 10.0, 90.0])
    alpha = np.array([1.2, 0.3, 0.05, 0.8])
    tm = torch.tensor(mu, requires_grad=True)
    ta = torch.tensor(alpha, requires_grad=True)
    out = nb2_logpmf(torch.tensor(y), tm, ta)
    assert out.dtype == torch.float64
    np.testing.assert_allclose(out.detach().numpy(), nb2_logpmf(y, mu, alpha), rtol=1e-12)
    out.sum().backward()
    # d/dmu log p = (y - mu) / (mu (1 + alpha mu))   (Cameron & Trivedi 2013, Eq. 3.27)
    np.testing.assert_allclose(tm.grad.numpy(), (y - mu) / (mu * (1 + alpha * mu)), rtol=1e-9)
    eps = 1e-6
    num = (nb2_logpmf(y, mu, alpha + eps) - nb2_logpmf(y, mu, alpha - eps)) / (2 * eps)
    np.testing.assert_allclose(ta.grad.numpy(), num, rtol=1e-5)
    # float32 network outputs are promoted: same values
    out32 = nb2_logpmf(
        torch.tensor(y),
        torch.tensor(mu, dtype=torch.float32),
        torch.tensor(alpha, dtype=torch.float32),
    )
    np.testing.assert_allclose(
        out32.numpy(), nb2_logpmf(y, mu.astype("float32"), alpha.astype("float32")), rtol=1e-12
    )


def test_poisson_deviance_matches_sklearn():
    rng = np.random.default_rng(1)
    mu = rng.gamma(1.0, 3.0, 500) + 1e-3
    y = rng.poisson(mu).astype(float)
    assert poisson_deviance(y, mu).mean() == pytest.approx(mean_poisson_deviance(y, mu), rel=1e-12)
    assert poisson_deviance(np.array([0.0]), np.array([2.0]))[0] == pytest.approx(4.0)
