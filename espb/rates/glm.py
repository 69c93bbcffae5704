"""Poisson and negative-binomial (NB2, one global alpha) GLMs with a log link, fitted by
statsmodels (EarthquakeNet, arXiv 2605.21437, Section 3.2: the NB GLM baseline; Cameron &
Trivedi 2013, Sections 3.2-3.3), and the Poisson-vs-NB likelihood-ratio test with the Self &
Liang (1987, JASA 82) boundary correction.

Features are standardised with the training rows' mean and standard deviation (nothing of the
test rows enters a fit); ``cell_effects`` adds one indicator per cell but the first.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy import special, stats

from espb.errors import EspbError
from espb.rates.nb import nb2_logpmf

#: largest linear predictor passed to exp (mu <= e^50); beyond it a forecast is an overflow
ETA_MAX = 50.0


@dataclass
class Standardiser:
    """Centre and scale of each feature column, from training rows only."""

    mean: np.ndarray
    scale: np.ndarray

    @classmethod
    def fit(cls, x: np.ndarray) -> Standardiser:
        sd = x.std(axis=0)
        return cls(x.mean(axis=0), np.where(sd > 0, sd, 1.0))

    def __call__(self, x: np.ndarray) -> np.ndarray:
        return (x - self.mean) / self.scale


def design(
    rows: pd.DataFrame, features: list[str], std: Standardiser, n_cells: int, cell_effects: bool
) -> np.ndarray:
    """[1, standardised features (, cell indicators 1..C-1)]."""
    x = std(rows[features].to_numpy("float64"))
    parts = [np.ones((len(rows), 1)), x]
    if cell_effects:
        onehot = np.zeros((len(rows), n_cells))
        onehot[np.arange(len(rows)), rows["cell"].to_numpy()] = 1.0
        parts.append(onehot[:, 1:])
    return np.hstack(parts)


@dataclass
class GlmFit:
    """A fitted GLM: coefficients, alpha (0 for Poisson), log-likelihood and convergence."""

    kind: str
    params: np.ndarray
    alpha: float
    llf: float
    converged: bool
    std: Standardiser
    info: dict = field(default_factory=dict)


def fit_poisson(y: np.ndarray, x: np.ndarray, maxiter: int = 100) -> tuple[np.ndarray, bool]:
    """Poisson GLM by IRLS (statsmodels ``GLM(family=Poisson())``)."""
    import statsmodels.api as sm

    res = sm.GLM(y, x, family=sm.families.Poisson()).fit(maxiter=maxiter)
    return np.asarray(res.params), bool(res.converged)


def fit_nb2(
    y: np.ndarray, x: np.ndarray, start: np.ndarray | None = None, maxiter: int = 500
) -> tuple[np.ndarray, float, bool, list[str]]:
    """NB2 regression with one alpha by maximum likelihood (statsmodels
    ``NegativeBinomial(loglike_method='nb2')``, Newton's method from the Poisson fit, BFGS when
    Newton does not converge); returns (coefficients, alpha, converged, notes: the optimiser's
    warnings and fallbacks, which the run logs)."""
    from statsmodels.discrete.discrete_model import NegativeBinomial

    if start is None:
        start, _ = fit_poisson(y, x)
    model = NegativeBinomial(y, x, loglike_method="nb2")
    res, notes = None, []
    for method in ("newton", "bfgs"):
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            res = model.fit(
                start_params=np.append(start, 0.1), method=method, maxiter=maxiter, disp=0
            )
        notes += [f"{method}: {w.message}" for w in caught]
        if res.mle_retvals.get("converged", False) and np.all(np.isfinite(res.params)):
            break
        notes.append(f"{method} did not converge")
    params = np.asarray(res.params)
    ok = bool(res.mle_retvals.get("converged", False))
    return params[:-1], float(params[-1]), ok, notes


def predict_mu(x: np.ndarray, params: np.ndarray) -> np.ndarray:
    eta = x @ params
    if np.any(eta > ETA_MAX):
        raise EspbError(
            f"GLM forecast overflows (linear predictor {eta.max():.1f} > {ETA_MAX}); the test "
            "features lie far outside the training range - check the data or use cell_effects=false"
        )
    return np.exp(eta)


def fit_glm(
    kind: str,
    rows: pd.DataFrame,
    features: list[str],
    n_cells: int,
    cell_effects: bool = False,
    maxiter: int = 500,
) -> GlmFit:
    """Fit ``poisson_glm`` or ``nb_glm`` on ``rows`` (``y`` and the feature columns)."""
    std = Standardiser.fit(rows[features].to_numpy("float64"))
    x = design(rows, features, std, n_cells, cell_effects)
    y = rows["y"].to_numpy("float64")
    beta, ok = fit_poisson(y, x, maxiter=min(maxiter, 300))
    alpha, notes = 0.0, []
    if kind == "nb_glm":
        beta, alpha, ok, notes = fit_nb2(y, x, start=beta, maxiter=maxiter)
    elif kind != "poisson_glm":
        raise EspbError(f"fit_glm: kind {kind!r} is not a GLM")
    llf = float(np.sum(nb2_logpmf(y, predict_mu(x, beta), alpha)))
    return GlmFit(kind, beta, alpha, llf, ok, std, {"n_train": len(rows), "notes": notes})


def glm_predict(
    fit: GlmFit, rows: pd.DataFrame, features: list[str], n_cells: int, cell_effects: bool
) -> tuple[np.ndarray, np.ndarray]:
    """(mu, alpha) of every row."""
    mu = predict_mu(design(rows, features, fit.std, n_cells, cell_effects), fit.params)
    return mu, np.full(len(rows), fit.alpha)


@dataclass
class LrtResult:
    """Poisson (H0: alpha = 0) against NB2: LR = 2 (llf_NB - llf_Poisson); under H0 LR follows
    the chi-bar-squared mixture 0.5 chi2_0 + 0.5 chi2_1 (alpha = 0 is on the boundary), so
    p = 0.5 P(chi2_1 > LR) for LR > 0 (Self & Liang 1987, Case 5)."""

    lr: float
    p: float
    log10_p: float
    p_naive: float  #: without the boundary correction, P(chi2_1 > LR)
    alpha: float
    llf_poisson: float
    llf_nb: float
    n: int


def lrt_from_llf(llf_poisson: float, llf_nb: float, alpha: float, n: int) -> LrtResult:
    lr = max(0.0, 2.0 * (llf_nb - llf_poisson))
    if lr <= 0:
        return LrtResult(0.0, 1.0, 0.0, 1.0, alpha, llf_poisson, llf_nb, n)
    # P(chi2_1 > LR) = 2 Phi(-sqrt(LR)), so p = Phi(-sqrt(LR)); log_ndtr keeps log p finite
    # far beyond the double-precision range (the seed paper reports p < 1e-179)
    log_p = float(special.log_ndtr(-math.sqrt(lr)))
    return LrtResult(
        lr,
        math.exp(log_p),
        log_p / math.log(10.0),
        float(stats.chi2.sf(lr, 1)),
        alpha,
        llf_poisson,
        llf_nb,
        n,
    )


def poisson_vs_nb_lrt(
    rows: pd.DataFrame,
    features: list[str],
    n_cells: int,
    cell_effects: bool = False,
    maxiter: int = 500,
) -> LrtResult:
    """Fit both GLMs on ``rows`` and test Poisson against NB2."""
    pois = fit_glm("poisson_glm", rows, features, n_cells, cell_effects, maxiter)
    nb = fit_glm("nb_glm", rows, features, n_cells, cell_effects, maxiter)
    return lrt_from_llf(pois.llf, nb.llf, nb.alpha, len(rows))
