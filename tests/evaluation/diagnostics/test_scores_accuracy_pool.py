"""Figure 9 (scores by magnitude and by mean count), Figure 5 (accuracy data and the
training-set level) and Figure 4 / B.5 (nEQ pool per day, per cell, as a grid) on hand-made
data with known answers."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from espb.evaluation.diagnostics.accuracy import accuracy_data, train_level
from espb.evaluation.diagnostics.neq_pool import pool_map, pool_map_grid, pool_over_time
from espb.evaluation.diagnostics.scores import (
    period_predictions,
    score_by_magnitude,
    score_by_mean_count,
)
from espb.samples.config import SampleConfig
from espb.samples.labels import Grid, neq_pool


def _pred(phases=("dev", "test")):
    return pd.DataFrame(
        {
            "phase": list(phases) * 4,
            "label": [1, 1, 1, 1, 0, 0, 0, 0],
            "score": [0.9, 0.8, 0.6, 0.2, 0.1, 0.3, 0.7, 0.4],
            "mw": [5.0, 5.1, 5.6, 6.4, np.nan, np.nan, np.nan, np.nan],
            "mean_count": [10.0, 20.0, 30.0, 40.0, 12.0, 22.0, 32.0, 42.0],
        }
    )


def test_period_predictions_prefers_the_test_period():
    p, what = period_predictions(_pred())
    assert (p["phase"] == "test").all() and len(p) == 4 and what == "test period"
    p, what = period_predictions(_pred(("dev", "dev")))
    assert len(p) == 8 and "no test period" in what


def test_score_by_magnitude_known_bins():
    r = score_by_magnitude(_pred(), width=0.5)
    st = r.stats[r.stats["label"] == 1].set_index("lo")
    # edges 5.0, 5.5, 6.0, 6.5: [5.0, 5.1] [5.6] [6.4]
    assert st["n"].to_dict() == {5.0: 2, 5.5: 1, 6.0: 1}
    assert st.loc[5.0, "mean"] == pytest.approx(0.85)
    assert st.loc[5.0, "median"] == pytest.approx(0.85)
    assert st.loc[6.0, "mean"] == pytest.approx(0.2)
    assert (r.samples["label"] == 1).all() and len(r.samples) == 4


def test_score_by_mean_count_both_classes():
    r = score_by_mean_count(_pred(), n_bins=2)
    st = r.stats.set_index(["bin", "label"])
    # quantile edges of all eight values: 10, 26, 42
    assert r.stats["lo"].min() == 10.0 and r.stats["hi"].max() == 42.0
    assert st.loc[(0, 1), "n"] == 2 and st.loc[(0, 0), "n"] == 2
    assert st.loc[(1, 1), "mean"] == pytest.approx(0.4)  # EQ at 30, 40: 0.6, 0.2
    assert st.loc[(1, 0), "mean"] == pytest.approx(0.55)  # nEQ at 32, 42: 0.7, 0.4
    assert (r.samples["bin"] >= 0).all()  # the top edge belongs to the last bin


def _records():
    return pd.DataFrame(
        {
            "phase": ["dev", "dev", "test"],
            "meta_epoch": [0, 1, 2],
            "date": ["2001-01-01", "2001-01-15", "2001-01-29"],
            "val/accuracy": [0.5, 1.0, np.nan],
            "val/acc_running5": [0.5, 0.75, np.nan],
            "val/acc_running20": [0.5, 0.75, np.nan],
            "val/acc_cumulative": [0.5, 0.75, np.nan],
            "val/n_eq": [1, 1, np.nan],
            "val/n_neq": [1, 1, np.nan],
            "test/accuracy": [np.nan, np.nan, 0.25],
            "test/acc_running5": [np.nan, np.nan, 0.25],
            "test/acc_running20": [np.nan, np.nan, 0.25],
            "test/acc_cumulative": [np.nan, np.nan, 0.25],
            "test/n_eq": [np.nan, np.nan, 2],
            "test/n_neq": [np.nan, np.nan, 2],
            "train/accuracy": [0.6, 0.9, 0.95],
            "train/n_samples": [10, 30, 40],
        }
    )


def test_accuracy_data_takes_each_phase_from_its_own_columns():
    d = accuracy_data(_records())
    assert d["phase"].tolist() == ["dev", "dev", "test"]
    assert d["accuracy"].tolist() == [0.5, 1.0, 0.25]
    assert d["n"].tolist() == [2, 2, 4]
    assert d["train_accuracy"].tolist() == [0.6, 0.9, 0.95]
    # the level: development meta-epochs weighted by training-set size, (6 + 27) / 40
    assert train_level(d) == pytest.approx(0.825)


def test_train_level_is_nan_for_runs_without_training_accuracy():
    r = _records().drop(columns=["train/accuracy"])
    assert np.isnan(train_level(accuracy_data(r)))


def _grid(n_days=6, n=4):
    return Grid(0.0, 10.0, 1.0, n, n, pd.Timestamp("2001-01-01", tz="UTC"), n_days)


def test_pool_per_day_and_per_cell_known_answer():
    cfg = SampleConfig(min_mean_events=1.0, lookback=2, patch=2)
    excluded = np.zeros((6, 4, 4), bool)
    excluded[3, 1, 1] = excluded[4] = True  # day 4: everything excluded
    mc = np.full((6, 4, 4), 5.0, np.float32)
    mc[:2] = np.nan  # no block before the lookback
    mc[:, 0, :] = 0.5  # row 0 too quiet
    pool = neq_pool(excluded, mc, cfg)
    g = _grid()
    ot = pool_over_time(pool, mc, 2, g.date)
    assert ot["day"].tolist() == [2, 3, 4, 5]
    assert ot["n_candidates"].tolist() == [12, 11, 0, 12]
    assert ot["n_centres"].tolist() == [16] * 4
    assert ot["share"].iloc[0] == pytest.approx(12 / 16)
    cells = pool_map(pool, g, day_lo=2)
    assert cells.sel(lat=1.5, lon=11.5).item() == 2  # days 2 and 5
    assert cells.sel(lat=2.5, lon=11.5).item() == 3  # days 2, 3, 5
    assert int(cells.isel(lat=0).sum()) == 0
    assert int(cells.sum()) == 35


def test_pool_map_grid_stacks_settings():
    g = _grid()
    cfg = SampleConfig(min_mean_events=1.0, lookback=2, patch=2)
    mc = np.full((6, 4, 4), 5.0, np.float32)
    maps = {}
    for m_lim, dr in ((4.0, 0.25), (4.9, 0.25), (4.9, 0.35)):
        ex = np.zeros((6, 4, 4), bool)
        ex[:, : int(m_lim == 4.0) + 1] = True
        maps[(m_lim, dr)] = pool_map(neq_pool(ex, mc, cfg), g)
    grid = pool_map_grid(maps, ["m_lim", "dr"])
    assert grid.sizes["setting"] == 3
    assert grid["m_lim"].values.tolist() == [4.0, 4.9, 4.9]
    assert int(grid.isel(setting=0).sum()) == 6 * 8 and int(grid.isel(setting=1).sum()) == 6 * 12
    with pytest.raises(ValueError, match="value for each"):
        pool_map_grid({(4.0,): maps[(4.0, 0.25)]}, ["m_lim", "dr"])
