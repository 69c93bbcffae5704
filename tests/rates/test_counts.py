"""Counts per cell and period against a pandas group-by oracle; the drop report; edges and partial
cells; the lag features against a direct per-row computation."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from espb.catalog.schema import normalize
from espb.rates.config import DataConfig, FeatureConfig
from espb.rates.counts import count_events, counted_events, energy_joules
from espb.rates.features import LAG_FEATURES, feature_table, lag_feature_arrays


def test_counts_match_a_groupby(smoke_events, smoke_data):
    g = count_events(smoke_events, smoke_data)
    ev = smoke_events
    day = (ev["time"] - pd.Timestamp("2010-01-01", tz="UTC")).dt.days
    sel = ev[(ev["mw"] >= 3.0) & (day >= 0) & (day // 7 < g.n_periods)].copy()
    sel["per"] = ((sel["time"] - pd.Timestamp("2010-01-01", tz="UTC")).dt.days // 7).to_numpy()
    sel["cell"] = (
        np.floor(sel["latitude"] - 37.5) * 3 + np.floor(sel["longitude"] - 140.5)
    ).astype(int)
    ref = sel.groupby(["per", "cell"]).agg(n=("mw", "size"), mx=("mw", "max"), mn=("mw", "min"))
    ref["e"] = sel.assign(e=energy_joules(sel["mw"])).groupby(["per", "cell"])["e"].sum()
    got = np.zeros_like(g.counts)
    got[ref.index.get_level_values(0), ref.index.get_level_values(1)] = ref["n"]
    np.testing.assert_array_equal(g.counts, got)
    t, c = ref.index.get_level_values(0), ref.index.get_level_values(1)
    np.testing.assert_array_equal(g.mmax[t, c], ref["mx"])
    np.testing.assert_array_equal(g.mmin[t, c], ref["mn"])
    np.testing.assert_allclose(g.energy[t, c], ref["e"], rtol=1e-12)
    assert np.isnan(g.mmax[g.counts == 0]).all()
    r = g.report
    assert r["n_counted"] == g.counts.sum() == len(sel)
    assert sum(
        r[k]
        for k in (
            "n_outside_time",
            "n_outside_region",
            "n_missing_magnitude",
            "n_below_m_min",
            "n_counted",
        )
    ) == len(ev)
    assert len(counted_events(ev, smoke_data)) == r["n_counted"]
    ds = g.to_dataset()
    assert ds["count"].dims == ("time", "lat", "lon") and int(ds["count"].sum()) == r["n_counted"]


def _events(rows):
    df = pd.DataFrame(rows, columns=["time", "latitude", "longitude", "mw"])
    df["event_id"] = [f"e{i}" for i in range(len(df))]
    df["depth"] = 10.0
    df["mag"] = df["mw"]
    df["mag_type"] = "Mw"
    df["mag_author"] = ""
    df["source"] = "test"
    return normalize(df)


def test_edges_partial_cells_and_the_seed_grid():
    """38-45 N x 65-85 E in 3 deg cells: 3 x 7 cells, the last row and column partial; a point on
    an inner edge belongs to the upper cell; the region's north and east edges are outside."""
    cfg = DataConfig(
        region=[38.0, 45.0, 65.0, 85.0],
        cell_deg=3.0,
        period_days=7,
        start="2010-01-01",
        end="2010-01-28",
        m_min=3.0,
    )
    ev = _events(
        [
            ("2010-01-01T00:00:00", 41.0, 68.0, 3.0),  # on an inner corner -> row 1, col 1
            ("2010-01-07T23:59:59", 44.99, 84.99, 4.0),  # partial north-east cell, first week
            ("2010-01-08T00:00:00", 38.0, 65.0, 3.5),  # south-west corner, second week
            ("2010-01-08T00:00:00", 45.0, 70.0, 3.5),  # north edge: outside
            ("2010-01-09T00:00:00", 40.0, 70.0, 2.9),  # below m_min
            ("2010-01-29T00:00:00", 40.0, 70.0, 5.0),  # after the last whole week
            ("2009-12-31T23:59:59", 40.0, 70.0, 5.0),  # before the start
        ]
    )
    g = count_events(ev, cfg)
    assert (g.n_lat, g.n_lon, g.n_cells, g.n_periods) == (3, 7, 21, 4)
    assert g.counts[0, 1 * 7 + 1] == 1 and g.counts[0, 2 * 7 + 6] == 1 and g.counts[1, 0] == 1
    assert g.counts.sum() == 3
    assert (
        g.report["n_outside_region"] == 1
        and g.report["n_below_m_min"] == 1
        and g.report["n_outside_time"] == 2
    )
    assert g.lat_centre[20] == pytest.approx(44.5) and g.lon_centre[20] == pytest.approx(
        84.0
    )  # clipped
    assert g.cell_of(44.99, 84.99) == 20


def test_lag_features_match_a_direct_computation(smoke_events, smoke_data):
    g = count_events(smoke_events, smoke_data)
    fc = FeatureConfig(big_mag=4.5, since_cap=30)
    a = lag_feature_arrays(g, fc)
    m0 = g.m_min
    rng = np.random.default_rng(0)
    for t, c in zip(rng.integers(0, g.n_periods, 60), rng.integers(0, g.n_cells, 60), strict=True):
        n = g.counts[:, c]
        mx = np.where(np.isnan(g.mmax[:, c]), m0, g.mmax[:, c])
        mn = np.where(np.isnan(g.mmin[:, c]), m0, g.mmin[:, c])

        def prev(arr, w, fill, t=t):
            return np.array([arr[s] if s >= 0 else fill for s in range(t - w, t)])

        assert a["log_n_lag1"][t, c] == np.log1p(prev(n, 1, 0)[0])
        assert a["mmax_lag1"][t, c] == prev(mx, 1, m0)[0]
        assert a["mmin_lag1"][t, c] == prev(mn, 1, m0)[0]
        assert a["mmax_roll4"][t, c] == prev(mx, 4, m0).max()
        assert a["log_n_roll12"][t, c] == np.log1p(prev(n, 12, 0).sum())
        assert a["log_energy_roll8"][t, c] == pytest.approx(
            np.log10(1 + prev(g.energy[:, c], 8, 0.0).sum()), rel=1e-12
        )
        bigs = [s for s in range(max(0, t - 30), t) if n[s] > 0 and g.mmax[s, c] >= 4.5]
        assert a["since_big"][t, c] == (t - max(bigs) if bigs else 30)
    tab = feature_table(g, a)
    assert list(tab.features) == list(LAG_FEATURES)
    assert tab.rows["period"].min() == 12 and len(tab.rows) == (g.n_periods - 12) * g.n_cells
