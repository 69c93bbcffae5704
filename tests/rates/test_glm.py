"""GLMs (statsmodels) against the known simulation parameters and an independent fit (scipy's
optimiser on espb's NB2 log-likelihood); the Poisson-vs-NB LRT with the Self-Liang correction:
nominal size on Poisson data, rejection on NB data."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import optimize

from espb.rates.glm import (
    Standardiser,
    design,
    fit_glm,
    glm_predict,
    lrt_from_llf,
    poisson_vs_nb_lrt,
)
from espb.rates.nb import nb2_logpmf

BETA = np.array([0.8, 0.5, -0.3])  # intercept and two standardised features
ALPHA = 0.6


def toy(n: int, alpha: float, seed: int, cells: int = 5) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 2))
    mu = np.exp(BETA[0] + x @ BETA[1:])
    if alpha > 0:
        y = rng.negative_binomial(1 / alpha, 1 / (1 + alpha * mu))
    else:
        y = rng.poisson(mu)
    return pd.DataFrame(
        {
            "period": np.arange(n),
            "cell": rng.integers(0, cells, n),
            "y": y,
            "f1": x[:, 0],
            "f2": x[:, 1],
        }
    )


def _unstandardise(fit, rows):
    """The coefficients on the raw feature scale (the fit standardises with the training rows)."""
    b = fit.params
    slope = b[1:3] / fit.std.scale
    return np.r_[b[0] - slope @ fit.std.mean, slope]


def test_nb_glm_recovers_the_simulation_parameters():
    rows = toy(8000, ALPHA, 0)
    fit = fit_glm("nb_glm", rows, ["f1", "f2"], 5)
    assert fit.converged
    np.testing.assert_allclose(_unstandardise(fit, rows), BETA, atol=0.05)
    assert fit.alpha == pytest.approx(ALPHA, abs=0.06)


def test_poisson_glm_recovers_the_simulation_parameters():
    rows = toy(20000, 0.0, 1)
    fit = fit_glm("poisson_glm", rows, ["f1", "f2"], 5)
    assert fit.converged and fit.alpha == 0.0
    np.testing.assert_allclose(_unstandardise(fit, rows), BETA, atol=0.02)


def test_nb_glm_equals_an_independent_maximum_likelihood_fit():
    """statsmodels' NB2 MLE against Nelder-Mead/BFGS of scipy on espb's nb2_logpmf: the same
    optimum (coefficients, alpha, log-likelihood)."""
    rows = toy(3000, ALPHA, 2)
    fit = fit_glm("nb_glm", rows, ["f1", "f2"], 5)
    x = design(rows, ["f1", "f2"], fit.std, 5, False)
    y = rows["y"].to_numpy(float)

    def nll(theta):
        return -np.sum(nb2_logpmf(y, np.exp(x @ theta[:3]), np.exp(theta[3])))

    res = optimize.minimize(nll, np.zeros(4), method="BFGS", options={"gtol": 1e-8})
    np.testing.assert_allclose(fit.params, res.x[:3], atol=2e-4)
    assert fit.alpha == pytest.approx(np.exp(res.x[3]), rel=1e-3)
    assert fit.llf == pytest.approx(-res.fun, abs=1e-4)


def test_llf_equals_statsmodels_own_llf():
    import statsmodels.api as sm
    from statsmodels.discrete.discrete_model import NegativeBinomial

    rows = toy(2000, ALPHA, 3)
    fit = fit_glm("nb_glm", rows, ["f1", "f2"], 5)
    x = design(rows, ["f1", "f2"], fit.std, 5, False)
    y = rows["y"].to_numpy(float)
    # statsmodels' own fit from its own start values (BFGS, not our Newton-from-Poisson path)
    res = NegativeBinomial(y, x, loglike_method="nb2").fit(method="bfgs", maxiter=2000, disp=0)
    assert fit.llf == pytest.approx(res.llf, rel=1e-8)
    np.testing.assert_allclose(np.r_[fit.params, fit.alpha], res.params, atol=1e-4)
    pois = fit_glm("poisson_glm", rows, ["f1", "f2"], 5)
    assert pois.llf == pytest.approx(sm.GLM(y, x, family=sm.families.Poisson()).fit().llf, rel=1e-8)


def test_cell_effects_and_prediction_on_new_rows():
    rows = toy(4000, ALPHA, 4, cells=4)
    rows["y"] = rows["y"] * (1 + (rows["cell"] == 3) * 4)
    fit = fit_glm("nb_glm", rows, ["f1", "f2"], 4, cell_effects=True)
    assert len(fit.params) == 3 + 3
    mu, alpha = glm_predict(fit, rows.iloc[:10], ["f1", "f2"], 4, True)
    assert mu.shape == (10,) and np.all(alpha == fit.alpha)
    # standardiser from training rows only: predicting new rows does not refit it
    std = Standardiser.fit(rows[["f1", "f2"]].to_numpy())
    np.testing.assert_array_equal(std.mean, fit.std.mean)


def test_lrt_size_on_poisson_data_is_nominal_with_the_boundary_correction():
    """200 seeded Poisson replicates: the corrected test (p = 0.5 P(chi2_1 > LR)) rejects at
    about the nominal 5 %; the uncorrected chi2_1 test about half as often (Self & Liang 1987)."""
    ps, naive = [], []
    for seed in range(200):
        r = poisson_vs_nb_lrt(toy(300, 0.0, 100 + seed), ["f1", "f2"], 5)
        ps.append(r.p)
        naive.append(r.p_naive)
    ps, naive = np.array(ps), np.array(naive)
    rate = float(np.mean(ps < 0.05))
    assert 0.02 <= rate <= 0.09, rate
    assert np.mean(naive < 0.05) <= rate
    assert np.mean(ps == 1.0) > 0.3  # LR = 0 (alpha at the boundary) about half the time


def test_lrt_rejects_on_nb_data():
    r = poisson_vs_nb_lrt(toy(2000, ALPHA, 7), ["f1", "f2"], 5)
    assert r.p < 1e-20 and r.log10_p < -20
    assert r.alpha == pytest.approx(ALPHA, abs=0.15)


def test_lrt_log10_p_beyond_double_precision():
    mpmath = pytest.importorskip("mpmath")
    r = lrt_from_llf(-1e5, -1e5 + 5e4, 1.0, 10)  # LR = 1e5: p underflows to 0
    mpmath.mp.dps = 30
    exact = float(mpmath.log10(0.5 * mpmath.erfc(mpmath.sqrt(mpmath.mpf(1e5) / 2))))
    assert r.p == 0.0 and r.log10_p == pytest.approx(exact, rel=1e-12)
    small = lrt_from_llf(-10.0, -8.0, 0.1, 10)  # LR = 4: p = 0.5 P(chi2_1 > 4)
    assert small.p == pytest.approx(0.5 * float(mpmath.erfc(mpmath.sqrt(2))), rel=1e-12)
    assert lrt_from_llf(-10.0, -10.0, 0.0, 10).p == 1.0
