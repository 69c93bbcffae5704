"""The negative-binomial (NB2) count distribution, in one place.

NB2 (Cameron & Trivedi 2013, Regression Analysis of Count Data, Section 3.3; EarthquakeNet,
arXiv 2605.21437, Eq. 1): mean ``mu``, variance ``mu + alpha mu^2``; ``alpha = 0`` is the Poisson
limit. In scipy's parametrisation ``nbinom(n, p)``: ``n = 1 / alpha``, ``p = 1 / (1 + alpha mu)``.

:func:`nb2_logpmf` is the log-likelihood every model, loss and score of :mod:`espb.rates` uses;
it takes NumPy arrays or torch tensors (the network's loss), written once for both.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy import special, stats

#: below this alpha the Poisson log-pmf is used (the NB2 formula loses digits to cancellation in
#: lgamma(y + 1/alpha) - lgamma(1/alpha); at this cut-over both are accurate to ~1e-4 nats for
#: counts up to 10^4)
ALPHA_POISSON = 1e-10


def _ops(*arrays: Any):
    """(lgamma, xlogy, log1p, where, as_float64) of torch when any input is a tensor, else NumPy."""
    try:
        import torch

        if any(isinstance(a, torch.Tensor) for a in arrays):

            def f64(a):
                return (
                    a.double()
                    if isinstance(a, torch.Tensor)
                    else torch.tensor(a, dtype=torch.float64)
                )

            return torch.lgamma, torch.xlogy, torch.log1p, torch.where, f64, torch.clamp
    except ImportError:  # pragma: no cover - torch is a dependency
        pass

    def f64_np(a):
        return np.asarray(a, dtype="float64")

    return special.gammaln, special.xlogy, np.log1p, np.where, f64_np, np.clip


def nb2_logpmf(y: Any, mu: Any, alpha: Any) -> Any:
    """log P(Y = y) under NB2(mu, alpha); Poisson(mu) where alpha <= :data:`ALPHA_POISSON`.

    log p = lgamma(y + r) - lgamma(r) - lgamma(y + 1) - r log(1 + alpha mu)
            + y [log(alpha mu) - log(1 + alpha mu)],   r = 1 / alpha
    (Cameron & Trivedi 2013, Eq. 3.26). Inputs broadcast; torch inputs give a float64 tensor that
    carries gradients to ``mu`` and ``alpha``.
    """
    lgamma, xlogy, log1p, where, f64, clip = _ops(y, mu, alpha)
    y, mu, alpha = f64(y), f64(mu), f64(alpha)
    pois = xlogy(y, mu) - mu - lgamma(y + 1.0)
    a = clip(alpha, ALPHA_POISSON, None)
    r = 1.0 / a
    am = a * mu
    nb = lgamma(y + r) - lgamma(r) - lgamma(y + 1.0) - r * log1p(am) + xlogy(y, am) - y * log1p(am)
    return where(alpha <= ALPHA_POISSON, pois, nb)


def nb2_variance(mu: np.ndarray, alpha: np.ndarray) -> np.ndarray:
    """Var Y = mu + alpha mu^2."""
    mu = np.asarray(mu, dtype="float64")
    return mu + np.asarray(alpha, dtype="float64") * mu**2


def nb2_cdf(k: np.ndarray, mu: np.ndarray, alpha: np.ndarray) -> np.ndarray:
    """P(Y <= k) (scipy's nbinom with n = 1/alpha, p = 1/(1 + alpha mu); Poisson at alpha = 0);
    0 for k < 0."""
    k, mu, alpha = np.broadcast_arrays(*(np.asarray(v, dtype="float64") for v in (k, mu, alpha)))
    out = np.empty(k.shape)
    pois = alpha <= ALPHA_POISSON
    out[pois] = stats.poisson.cdf(k[pois], mu[pois])
    a = alpha[~pois]
    out[~pois] = stats.nbinom.cdf(k[~pois], 1.0 / a, 1.0 / (1.0 + a * mu[~pois]))
    return np.where(k < 0, 0.0, out)


def nb2_ppf(q: float, mu: np.ndarray, alpha: np.ndarray) -> np.ndarray:
    """The q-quantile (smallest k with P(Y <= k) >= q)."""
    mu, alpha = np.broadcast_arrays(np.asarray(mu, "float64"), np.asarray(alpha, "float64"))
    out = np.empty(mu.shape)
    pois = alpha <= ALPHA_POISSON
    out[pois] = stats.poisson.ppf(q, mu[pois])
    a = alpha[~pois]
    out[~pois] = stats.nbinom.ppf(q, 1.0 / a, 1.0 / (1.0 + a * mu[~pois]))
    return out


def poisson_deviance(y: np.ndarray, mu: np.ndarray) -> np.ndarray:
    """Unit Poisson deviance 2 [y log(y / mu) - (y - mu)] (McCullagh & Nelder 1989, Table 2.1)."""
    y = np.asarray(y, dtype="float64")
    mu = np.asarray(mu, dtype="float64")
    return 2.0 * (special.xlogy(y, y) - special.xlogy(y, mu) - (y - mu))
