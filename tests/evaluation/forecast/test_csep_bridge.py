"""pyCSEP export (region, forecast, catalog) and the table of pyCSEP's gridded tests."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from espb.errors import EspbError
from espb.evaluation.forecast.csep_bridge import (
    catalog_from_counts,
    csep_region,
    expected_counts,
    export_window,
    gridded_forecast,
)
from espb.evaluation.forecast.csep_tests import COLUMNS, gridded_tests
from espb.evaluation.forecast.scores import bernoulli_log_likelihood, brier_score

T, H, W = 5, 6, 7
LAT = 41.0 + 0.2 * (np.arange(H) + 0.5)
LON = -120.0 + 0.2 * (np.arange(W) + 0.5)
TIMES = pd.date_range("2019-07-01", periods=T, freq="D")
CELLS = np.zeros((H, W), bool)
CELLS[1:5, 1:6] = True


def _data(seed=0):
    rng = np.random.default_rng(seed)
    p = rng.uniform(0.01, 0.4, (T, H, W))
    y = rng.random(p.shape) < p
    return p, y


def test_expected_counts_invert_the_binary_probability():
    p = np.array([0.0, 1e-9, 0.3, 0.999])
    assert -np.expm1(-expected_counts(p)) == pytest.approx(p, rel=1e-12, abs=1e-300)
    with pytest.raises(EspbError, match=r"\[0, 1\)"):
        expected_counts(np.array([1.0]))


def test_region_orders_cells_row_major():
    reg = csep_region(LAT, LON, magnitudes=[5.0], cells=CELLS)
    assert reg.num_nodes == CELLS.sum() and reg.dh == pytest.approx(0.2)
    la, lo = np.meshgrid(LAT, LON, indexing="ij")
    idx = reg.get_index_of(lo[CELLS], la[CELLS])
    assert list(idx) == list(range(CELLS.sum()))


def test_window_forecast_and_catalog():
    p, y = _data()
    start, end = dt.datetime(2019, 7, 2), dt.datetime(2019, 7, 5)  # days 1..3
    fc, cat = export_window(
        p, y, TIMES, LAT, LON, start=start, end=end, target_mag=5.5, cells=CELLS
    )
    lam = -np.log1p(-p[1:4]).sum(axis=0)
    assert fc.data[:, 0] == pytest.approx(lam[CELLS], rel=1e-12)
    assert fc.magnitudes.tolist() == [5.5]
    assert cat.event_count == y[1:4][:, CELLS].sum()
    assert np.array_equal(cat.spatial_counts(), y[1:4].sum(axis=0)[CELLS])
    ot = np.sort(cat.get_epoch_times())
    assert ot.min() == int(pd.Timestamp("2019-07-02 12:00", tz="UTC").value // 10**6)
    assert ot.max() <= int(pd.Timestamp("2019-07-04 12:00", tz="UTC").value // 10**6)


def test_multi_bin_counts_for_count_forecasts():
    rng = np.random.default_rng(1)
    counts = rng.poisson(0.3, (T, H, W, 3))
    mags = [4.5, 5.0, 5.5]
    reg = csep_region(LAT, LON, magnitudes=mags, cells=CELLS)
    start, end = dt.datetime(2019, 7, 1), dt.datetime(2019, 7, 6)
    cat = catalog_from_counts(counts, TIMES, LAT, LON, reg, start=start, end=end, cells=CELLS)
    assert np.array_equal(cat.spatial_magnitude_counts(), counts.sum(axis=0)[CELLS])
    fc = gridded_forecast(np.full((H, W, 3), 0.2), reg, cells=CELLS, start=start, end=end)
    assert fc.data.shape == (CELLS.sum(), 3)
    tab = gridded_tests(fc, cat, num_simulations=20).set_index("test")
    assert "Binary CL-Test" in tab.index  # several magnitude bins: the CL-test is not the S-test
    assert tab.loc["Poisson N-Test", "statistic"] == counts[:, CELLS].sum()
    with pytest.raises(EspbError, match="magnitude bins"):
        gridded_forecast(np.full((H, W, 2), 0.2), reg, cells=CELLS, start=start, end=end)


def test_gridded_tests_table_against_direct_scores():
    p, y = _data(2)
    start, end = dt.datetime(2019, 7, 3), dt.datetime(2019, 7, 4)
    kw = {"start": start, "end": end, "target_mag": 5.0, "cells": CELLS}
    fc, cat = export_window(p, y, TIMES, LAT, LON, name="model", **kw)
    ref, _ = export_window(np.full_like(p, 0.15), y, TIMES, LAT, LON, name="uniform", **kw)
    state = np.random.get_state()  # noqa: NPY002
    tab = gridded_tests(fc, cat, reference=ref, num_simulations=100, seed=7)
    assert np.array_equal(np.random.get_state()[1], state[1])  # noqa: NPY002
    assert list(tab.columns) == COLUMNS
    row = tab.set_index("test")
    d = y[2][CELLS]
    assert row.loc["Binary S-Test", "statistic"] == pytest.approx(
        bernoulli_log_likelihood(p[2], y[2], mask=CELLS), rel=1e-12
    )
    assert row.loc["Brier score-Test", "statistic"] == pytest.approx(
        -2 * brier_score(p[2], y[2], mask=CELLS), rel=1e-12
    )
    lam = -np.log1p(-p[2][CELLS]).sum()
    assert row.loc["Poisson N-Test", "quantile"] == pytest.approx(
        stats.poisson.sf(d.sum() - 1, lam)
    )
    assert row.loc["Poisson N-Test", "quantile_2"] == pytest.approx(stats.poisson.cdf(d.sum(), lam))
    assert row.loc["Paired T-Test", "reference"] == "uniform"
    assert set(tab["test"]) >= {"Poisson S-Test", "Poisson CL-Test", "Poisson L-Test"}
    again = gridded_tests(fc, cat, reference=ref, num_simulations=100, seed=7)
    pd.testing.assert_frame_equal(tab, again)
