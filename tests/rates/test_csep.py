"""pyCSEP glue: the CartesianGrid2D from the rate cells, the Poisson and negative-binomial
N-tests against scipy, the S-test, and the observed counts as pyCSEP bins them."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats

pytest.importorskip("csep")

from espb.rates.counts import count_events, counted_events
from espb.rates.csep_eval import csep_region, period_tests, summarise_tests


@pytest.fixture(scope="module")
def setup(smoke_events):
    from espb.rates.config import DataConfig

    data = DataConfig(
        region=[37.5, 40.5, 140.5, 143.5],
        cell_deg=1.0,
        start="2010-01-01",
        end="2011-12-31",
        m_min=3.0,
    )
    g = count_events(smoke_events, data)
    obs = counted_events(smoke_events, data)
    periods = np.arange(55, 75)
    t, c = np.meshgrid(periods, np.arange(g.n_cells), indexing="ij")
    pred = pd.DataFrame(
        {"period": t.ravel(), "cell": c.ravel(), "y": g.counts[t.ravel(), c.ravel()]}
    )
    pred["mu"] = 1.5 + 0.1 * pred["cell"]
    pred["alpha"] = 0.8
    return g, obs, pred


def test_region_matches_the_cells(setup):
    g, _, _ = setup
    region = csep_region(g)
    assert region.num_nodes == g.n_cells
    np.testing.assert_allclose(np.array(region.origins()), np.column_stack([g.lon0, g.lat0]))


def test_number_tests_against_scipy(setup):
    g, obs, pred = setup
    tab = period_tests(pred, obs, g, "toy", 50, 0)
    assert len(tab) == 20
    mu_tot = pred.groupby("period")["mu"].sum().to_numpy()
    var_tot = (
        pred.assign(v=pred["mu"] + 0.8 * pred["mu"] ** 2).groupby("period")["v"].sum().to_numpy()
    )
    n = tab["n_obs"].to_numpy()
    np.testing.assert_array_equal(n, pred.groupby("period")["y"].sum().to_numpy())
    np.testing.assert_allclose(
        tab["n_delta1"], stats.poisson.sf(n - 1, mu_tot), rtol=1e-6, atol=1e-12
    )  # pyCSEP: 1 - cdf
    np.testing.assert_allclose(
        tab["n_delta2"], stats.poisson.cdf(n, mu_tot), rtol=1e-6, atol=1e-12
    )  # pyCSEP: 1 - cdf
    # pyCSEP's NB N-test from the mean and variance of the total: nbinom(r, p) with
    # r = mu^2 / (var - mu), p = mu / var
    r, p = mu_tot**2 / (var_tot - mu_tot), mu_tot / var_tot
    np.testing.assert_allclose(
        tab["nb_delta2"], stats.nbinom.cdf(n, r, p), rtol=1e-6, atol=1e-12
    )  # pyCSEP: 1 - cdf
    np.testing.assert_allclose(
        tab["nb_delta1"], stats.nbinom.sf(n - 1, r, p), rtol=1e-6, atol=1e-12
    )  # pyCSEP: 1 - cdf
    assert tab["s_quantile"].between(0, 1).all()
    s = summarise_tests(tab)
    # the aftershock weeks of the M9 are far beyond a flat 1.5-2.3 per cell
    assert s["n_test_underpredict"] > 0.3 and s["n_test_reject"] >= s["nb_n_test_reject"]
    again = period_tests(pred, obs, g, "toy", 50, 0)
    pd.testing.assert_frame_equal(tab, again)  # seeded, no global random state


def test_poisson_forecast_has_no_nb_test(setup):
    g, obs, pred = setup
    tab = period_tests(pred.assign(alpha=0.0).query("period < 58"), obs, g, "pois", 20, 0)
    assert tab["nb_delta1"].isna().all() and np.isnan(summarise_tests(tab)["nb_n_test_reject"])
