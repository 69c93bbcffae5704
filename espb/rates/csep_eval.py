"""pyCSEP consistency tests of the weekly forecasts (pyCSEP 0.8: Savran et al. 2022, SRL 93;
Zechar, Gerstenberger & Rhoades 2010, BSSA 100, for the N- and S-tests; Werner et al. 2011 for
the negative-binomial N-test).

Every test period becomes a :class:`csep.core.forecasts.GriddedForecast` on a
:class:`~csep.core.regions.CartesianGrid2D` built with ``from_origins`` from the rate cells (one
magnitude bin at ``m_min``) and is tested against the period's observed events as a
:class:`~csep.core.catalogs.CSEPCatalog`:

- Poisson N-test (``poisson_evaluations.number_test``) on the forecast total;
- negative-binomial N-test (``binomial_evaluations.negative_binomial_number_test``) with the
  model's variance of the total, sum(mu + alpha mu^2) (cells taken as independent; not defined
  for a Poisson forecast, whose variance equals its mean);
- S-test (``poisson_evaluations.spatial_test``), periods with at least one event.

Observed events are placed at their cell's centre, so pyCSEP bins them exactly as espb counted
them (checked for every period). Simulations draw from a generator seeded by (seed, period), passed
to pyCSEP as ``random_numbers``: no global random state.

Local glue for espb.rates; the forecast layer's shared pyCSEP export will replace it.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from espb.errors import EspbError
from espb.rates.counts import RateGrid
from espb.rates.nb import nb2_variance

#: two-sided N-test and one-sided S-test rejection levels (Zechar et al. 2010)
N_TEST_LEVEL = 0.025
S_TEST_LEVEL = 0.05


def _csep():
    try:
        from csep.core import binomial_evaluations, poisson_evaluations
        from csep.core.catalogs import CSEPCatalog
        from csep.core.forecasts import GriddedForecast
        from csep.core.regions import CartesianGrid2D
    except ImportError as exc:  # pragma: no cover - pycsep is a dev dependency
        raise EspbError(
            "evaluation.pycsep=true needs pyCSEP (pip install pycsep); or set evaluation.pycsep=false"
        ) from exc
    return CartesianGrid2D, GriddedForecast, CSEPCatalog, poisson_evaluations, binomial_evaluations


def csep_region(grid: RateGrid):
    """The rate cells as a pyCSEP CartesianGrid2D (cell index = polygon index)."""
    CartesianGrid2D = _csep()[0]
    origins = np.column_stack([grid.lon0, grid.lat0])
    region = CartesianGrid2D.from_origins(origins, dh=grid.cell_deg, magnitudes=[grid.m_min])
    idx = region.get_index_of(grid.lon_centre, grid.lat_centre)
    if not np.array_equal(idx, np.arange(grid.n_cells)):
        raise EspbError("pyCSEP region: cell order differs from espb's (a bug; please report)")
    return region


def _catalog(events: pd.DataFrame, grid: RateGrid, region, name: str):
    CSEPCatalog = _csep()[2]
    data = np.zeros(len(events), dtype=CSEPCatalog.dtype)
    data["id"] = np.arange(len(events)).astype("S")
    data["origin_time"] = events["time_ms"].to_numpy()
    cell = events["cell"].to_numpy()
    data["latitude"] = grid.lat_centre[cell]
    data["longitude"] = grid.lon_centre[cell]
    data["depth"] = events["depth"].to_numpy()
    data["magnitude"] = events["magnitude"].to_numpy()
    return CSEPCatalog(data=data, region=region, name=name)


def period_tests(
    pred: pd.DataFrame,
    observed: pd.DataFrame,
    grid: RateGrid,
    name: str,
    n_sims: int,
    seed: int,
) -> pd.DataFrame:
    """One row per test period: observed and forecast totals, the N-test quantiles
    (delta1 = P(N >= n_obs), delta2 = P(N <= n_obs)), the NB N-test quantiles and the S-test
    quantile (NaN where undefined)."""
    _, GriddedForecast, _, pois_ev, binom_ev = _csep()
    region = csep_region(grid)
    by_period = dict(tuple(observed.groupby("period")))
    empty = observed.iloc[:0]
    rows = []
    for period, g in pred.groupby("period", sort=True):
        g = g.sort_values("cell")
        mu = np.zeros(grid.n_cells)
        alpha = np.zeros(grid.n_cells)
        mu[g["cell"].to_numpy()] = g["mu"].to_numpy()
        alpha[g["cell"].to_numpy()] = g["alpha"].to_numpy()
        start = grid.period_start[period]
        fc = GriddedForecast(
            start_time=start.to_pydatetime(),
            end_time=(start + pd.Timedelta(days=grid.period_days)).to_pydatetime(),
            data=mu[:, None],
            region=region,
            magnitudes=np.array([grid.m_min]),
            name=name,
        )
        obs = _catalog(by_period.get(period, empty), grid, region, f"period {period}")
        counted = np.zeros(grid.n_cells)
        counted[g["cell"].to_numpy()] = g["y"].to_numpy()
        if not np.array_equal(obs.spatial_counts(), counted):
            raise EspbError(f"pyCSEP counts of period {period} differ from espb's (a bug)")
        n_obs = int(counted.sum())
        n_res = pois_ev.number_test(fc, obs)
        var = float(nb2_variance(mu, alpha).sum())
        nb_q = (np.nan, np.nan)
        if var > mu.sum() * (1 + 1e-9):
            nb_q = binom_ev.negative_binomial_number_test(fc, obs, var).quantile
        s_q = np.nan
        if n_obs > 0:
            rn = np.random.default_rng([seed, int(period)]).random((n_sims, n_obs))
            s_q = pois_ev.spatial_test(fc, obs, num_simulations=n_sims, random_numbers=rn).quantile
        rows.append(
            {
                "period": int(period),
                "n_obs": n_obs,
                "n_forecast": float(mu.sum()),
                "var_forecast": var,
                "n_delta1": float(n_res.quantile[0]),
                "n_delta2": float(n_res.quantile[1]),
                "nb_delta1": float(nb_q[0]),
                "nb_delta2": float(nb_q[1]),
                "s_quantile": float(s_q),
            }
        )
    return pd.DataFrame(rows)


def summarise_tests(tab: pd.DataFrame) -> dict[str, float]:
    """Rejection rates over the test periods: N-test (either quantile < 0.025; delta1 small:
    more events than forecast, "underpredict"; delta2 small: "overpredict"), NB N-test,
    S-test (quantile < 0.05, periods with events)."""
    n_rej = (tab["n_delta1"] < N_TEST_LEVEL) | (tab["n_delta2"] < N_TEST_LEVEL)
    nb_ok = tab["nb_delta1"].notna()
    nb_rej = (tab["nb_delta1"] < N_TEST_LEVEL) | (tab["nb_delta2"] < N_TEST_LEVEL)
    s_ok = tab["s_quantile"].notna()
    return {
        "n_periods": float(len(tab)),
        "n_test_reject": float(n_rej.mean()),
        "n_test_underpredict": float((tab["n_delta1"] < N_TEST_LEVEL).mean()),
        "n_test_overpredict": float((tab["n_delta2"] < N_TEST_LEVEL).mean()),
        "nb_n_test_reject": float(nb_rej[nb_ok].mean()) if nb_ok.any() else float("nan"),
        "s_test_reject": float((tab["s_quantile"][s_ok] < S_TEST_LEVEL).mean())
        if s_ok.any()
        else float("nan"),
        "s_test_periods": float(s_ok.sum()),
    }
