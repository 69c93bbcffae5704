"""pyCSEP's gridded tests that fit binary daily forecasts, run on exported windows
(:mod:`.csep_bridge`) and collected into one table instead of plots.

Tests (pyCSEP 0.8, ``csep.core.poisson_evaluations`` / ``binomial_evaluations`` /
``brier_evaluations``; Zechar, Gerstenberger & Rhoades 2010, BSSA 100, for N-, L-, S-tests;
Rhoades et al. 2011 for the T-test; Bayona et al. 2022, GJI 229, doi:10.1093/gji/ggac018, cited by
pyCSEP for the binary tests; the Brier test is pyCSEP's ``brier_evaluations``, new in 0.7):

- ``Poisson N-Test``: ``quantile`` = delta1 = P(N >= observed), ``quantile_2`` = delta2 =
  P(N <= observed) under Poisson(expected); consistent when both >= alpha / 2.
- ``Poisson S-Test``, ``Poisson CL-Test``, ``Poisson L-Test``, ``Binary S-Test``,
  ``Brier score-Test``: ``quantile`` = gamma = share of simulated catalogs whose statistic is
  <= the observed one (log-likelihoods; pyCSEP's Brier statistic is ``-2 BS``, higher better);
  consistent when gamma >= alpha (one-sided).
- ``Paired T-Test`` (against ``reference``): ``statistic`` = information gain per event (nats),
  ``quantile`` = t, ``quantile_2`` = t critical, ``lower`` / ``upper`` its interval; the forecast
  is better than the reference when ``lower > 0``.

One pyCSEP 0.8 defect is worked around (checked in the tests): ``binary_paired_t_test`` raises
``NameError`` (``np`` is not imported in ``binomial_evaluations``), so espb's Bernoulli T-test
(:func:`.paired.paired_t_test`, ``kind="bernoulli"``) takes its place in :func:`.table.score_table`.
The binary CL-test equals the binary S-test for one magnitude bin and is run only with several.
"""

from __future__ import annotations

import math
from contextlib import contextmanager

import numpy as np
import pandas as pd

COLUMNS = [
    "test",
    "forecast",
    "reference",
    "statistic",
    "quantile",
    "quantile_2",
    "lower",
    "upper",
    "expected",
    "n_observed",
    "consistent",
]


@contextmanager
def _numpy_seed_kept():
    """pyCSEP seeds NumPy's global generator; restore it afterwards (no side effect)."""
    state = np.random.get_state()  # noqa: NPY002 (pyCSEP uses the legacy global generator)
    try:
        yield
    finally:
        np.random.set_state(state)  # noqa: NPY002


def _row(test: str, fc, ref=None, **kw) -> dict:
    row = dict.fromkeys(COLUMNS, math.nan)
    row |= {"test": test, "forecast": fc.name, "reference": ref.name if ref is not None else ""}
    row |= kw
    return row


def _sim_row(test: str, fc, stat: float, qs: float, sims, n_obs: int, alpha: float) -> dict:
    return _row(
        test,
        fc,
        statistic=float(stat),
        quantile=float(qs),
        expected=float(np.mean(sims)),
        n_observed=n_obs,
        consistent=bool(qs >= alpha),
    )


def _n_test_row(n, fc, n_obs: int, alpha: float) -> dict:
    """The Poisson N-test row: two one-sided quantiles, consistent when both >= alpha / 2."""
    d1, d2 = (float(q) for q in n.quantile)
    return _row(
        "Poisson N-Test",
        fc,
        statistic=float(n.observed_statistic),
        quantile=d1,
        quantile_2=d2,
        expected=float(fc.event_count),
        n_observed=n_obs,
        consistent=bool(min(d1, d2) >= alpha / 2),
    )


def _t_test_row(t, fc, ref, n_obs: int) -> dict:
    """The paired T-test row (information gain of ``fc`` over ``ref`` and its interval)."""
    lo, hi = (float(v) for v in t.test_distribution)
    return _row(
        "Paired T-Test",
        fc,
        ref,
        statistic=float(t.observed_statistic),
        quantile=float(t.quantile[0]),
        quantile_2=float(t.quantile[1]),
        lower=lo,
        upper=hi,
        n_observed=n_obs,
        consistent=math.nan,
    )


def gridded_tests(
    forecast,
    catalog,
    *,
    reference=None,
    num_simulations: int = 1000,
    seed: int = 0,
    alpha: float = 0.05,
) -> pd.DataFrame:
    """Run pyCSEP's Poisson N-, S-, CL- and L-tests, the binary S-test and the Brier test on
    ``forecast`` (a ``GriddedForecast``) against ``catalog`` (a ``CSEPCatalog`` on the same
    region), and the paired T-test against ``reference`` when given; one row per test with
    the columns :data:`COLUMNS` (meaning in the module doc). Seeded; NumPy's global generator
    is left as it was."""
    from csep.core import binomial_evaluations as be
    from csep.core import brier_evaluations as bre
    from csep.core import poisson_evaluations as pe

    n_obs = int(catalog.event_count)
    rows = [_n_test_row(pe.number_test(forecast, catalog), forecast, n_obs, alpha)]
    simulated = [
        pe.spatial_test,
        pe.conditional_likelihood_test,
        pe.likelihood_test,
        be.binary_spatial_test,
    ]
    if np.size(forecast.magnitudes) > 1:
        simulated.append(be.binary_conditional_likelihood_test)
    simulated.append(bre.brier_score_test)
    for fn in simulated:
        with _numpy_seed_kept():
            res = fn(forecast, catalog, num_simulations=num_simulations, seed=seed)
        rows.append(
            _sim_row(
                res.name,
                forecast,
                res.observed_statistic,
                res.quantile,
                res.test_distribution,
                n_obs,
                alpha,
            )
        )
    if reference is not None:
        t = pe.paired_t_test(forecast, reference, catalog, alpha=alpha)
        rows.append(_t_test_row(t, forecast, reference, n_obs))
    return pd.DataFrame(rows, columns=COLUMNS)
