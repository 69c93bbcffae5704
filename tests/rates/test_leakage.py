"""No information from the future: changing the events of period k and later changes no feature,
no b-value feature and no walk-forward forecast of periods <= k (bit-identical), and the check
catches a deliberately leaky feature (a test-local variant of espb.rates.past.windows that lets
period t see itself)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import espb.rates.past as past
from espb.bvalue.cube import build_cube
from espb.catalog.schema import normalize
from espb.rates.bfeatures import b_feature_arrays, cube_config, period_cell_means
from espb.rates.config import EvalConfig, FeatureConfig, ModelConfig
from espb.rates.counts import count_events
from espb.rates.features import feature_table, lag_feature_arrays
from espb.rates.walkforward import make_folds, walk_forward

CUTS = [20, 61, 75]  # period indices; 61 holds the smoke catalog's M9 (2011-03-11)


def perturb(events: pd.DataFrame, cut: pd.Timestamp, seed: int) -> pd.DataFrame:
    """From ``cut`` on: drop a third of the events, raise the magnitude of another third, add
    large events; everything before ``cut`` untouched."""
    rng = np.random.default_rng(seed)
    late = (events["time"] >= cut).to_numpy()
    keep = ~late | (rng.random(len(events)) > 0.33)
    out = events[keep].copy()
    bump = (out["time"] >= cut).to_numpy() & (rng.random(len(out)) < 0.5)
    out.loc[bump, "mw"] = out.loc[bump, "mw"] + 0.7
    n = 25
    new = pd.DataFrame(
        {
            "event_id": [f"new{i}" for i in range(n)],
            "time": cut + pd.to_timedelta(rng.uniform(0, 200, n), unit="D"),
            "latitude": rng.uniform(37.6, 40.4, n),
            "longitude": rng.uniform(140.6, 143.4, n),
            "depth": 10.0,
            "mw": rng.uniform(5.0, 7.0, n).round(1),
            "mag": 6.0,
            "mag_type": "Mw",
            "mag_author": "",
            "source": "test",
        }
    )
    return normalize(pd.concat([out, new], ignore_index=True))


def changed_up_to(a: dict, b: dict, k: int) -> list[str]:
    """Names of the (T, C) arrays that differ anywhere in periods 0..k (bit-level)."""
    return [n for n in a if not np.array_equal(a[n][: k + 1], b[n][: k + 1], equal_nan=True)]


def changed_after(a: dict, b: dict, k: int) -> list[str]:
    return [n for n in a if not np.array_equal(a[n][k + 1 :], b[n][k + 1 :], equal_nan=True)]


def lag(events, data):
    return lag_feature_arrays(count_events(events, data), FeatureConfig())


@pytest.mark.parametrize("k", CUTS)
def test_lag_features_ignore_later_periods(smoke_events, smoke_data, k):
    g = count_events(smoke_events, smoke_data)
    alt = perturb(smoke_events, g.period_start[k], seed=k)
    a, b = lag(smoke_events, smoke_data), lag(alt, smoke_data)
    assert changed_up_to(a, b, k) == []
    assert len(changed_after(a, b, k)) >= 5  # the perturbation does reach later features
    assert not np.array_equal(count_events(alt, smoke_data).counts[k:], g.counts[k:])


def _leaky_windows(a, w, fill):
    """The bug to catch: the window of period t ends at t (it includes the period forecast)."""
    a = np.asarray(a)
    shifted = np.concatenate(
        [a[1:], np.full((1, *a.shape[1:]), fill, dtype=np.result_type(a, fill))]
    )
    return _ORIG(shifted, w, fill)


_ORIG = past.windows


def test_the_check_catches_a_leaky_feature(smoke_events, smoke_data, monkeypatch):
    k = 61
    g = count_events(smoke_events, smoke_data)
    alt = perturb(smoke_events, g.period_start[k], seed=k)
    monkeypatch.setattr(past, "windows", _leaky_windows)
    leaked = changed_up_to(lag(smoke_events, smoke_data), lag(alt, smoke_data), k)
    assert set(leaked) >= {"log_n_lag1", "mmax_lag1", "log_n_roll12", "log_energy_roll8"}


def _bfeat(events, data, grid, feat):
    ds, _ = build_cube(events, cube_config(data, grid, feat))
    return b_feature_arrays(period_cell_means(ds, grid), feat.b_periods)


@pytest.fixture(scope="module")
def bfeat_cfg():
    return FeatureConfig(bvalue=True, b_periods=3)


@pytest.mark.parametrize("k", [30, 61])
def test_b_value_features_ignore_later_periods(smoke_events, smoke_data, bfeat_cfg, k):
    g = count_events(smoke_events, smoke_data)
    alt = perturb(smoke_events, g.period_start[k], seed=100 + k)
    a = _bfeat(smoke_events, smoke_data, g, bfeat_cfg)
    b = _bfeat(alt, smoke_data, count_events(alt, smoke_data), bfeat_cfg)
    assert changed_up_to(a, b, k) == []
    assert set(changed_after(a, b, k)) == {"b_mean", "b_change", "log_nb_mean", "log_nb_change"}
    assert np.ptp(a["b_mean"][10:]) > 0.1  # real b-values, not the fill


def test_b_value_check_catches_a_leaky_window(smoke_events, smoke_data, bfeat_cfg, monkeypatch):
    k = 61
    g = count_events(smoke_events, smoke_data)
    alt = perturb(smoke_events, g.period_start[k], seed=161)
    ds_a, _ = build_cube(smoke_events, cube_config(smoke_data, g, bfeat_cfg))
    ds_b, _ = build_cube(alt, cube_config(smoke_data, g, bfeat_cfg))
    monkeypatch.setattr(past, "windows", _leaky_windows)
    a = b_feature_arrays(period_cell_means(ds_a, g), 3)
    b = b_feature_arrays(period_cell_means(ds_b, g), 3)
    assert "log_nb_mean" in changed_up_to(a, b, k)


def _walk(events, data, kind):
    ev_cfg = EvalConfig(test_start="2011-01-01", test_end="2011-12-31", step="13")
    model = ModelConfig(kind=kind, max_epochs=2, patience=1, threads=1)
    g = count_events(events, data)
    tab = feature_table(g, lag_feature_arrays(g, FeatureConfig()))
    folds = make_folds(g, ev_cfg, tab.warmup)
    pred, _ = walk_forward(tab, folds, model, g.n_cells)
    return pred.sort_values(["period", "cell"]).reset_index(drop=True), folds


def _early_and_late_changes(events, data, kind):
    """(columns changed for periods <= k, whether mu changed after k) when the events from
    period k + 1 on change; k lies inside the second fold."""
    base, folds = _walk(events, data, kind)
    k = folds[1].start + 3
    g = count_events(events, data)
    alt, _ = _walk(perturb(events, g.period_start[k + 1], seed=7), data, kind)
    early = base["period"] <= k
    changed = [
        c
        for c in ("mu", "alpha", "y")
        if not np.array_equal(base.loc[early, c].to_numpy(), alt.loc[early, c].to_numpy())
    ]
    late = not np.array_equal(base.loc[~early, "mu"].to_numpy(), alt.loc[~early, "mu"].to_numpy())
    return changed, late


@pytest.mark.parametrize("kind", ["nb_glm", "earthquakenet"])
def test_walk_forward_forecasts_ignore_later_periods(smoke_events, smoke_data, kind):
    """End to end: the forecasts of every period <= k (fits on earlier periods, features from
    earlier periods) are bit-identical when the events from period k + 1 on change."""
    changed, late = _early_and_late_changes(smoke_events, smoke_data, kind)
    assert changed == [] and late


def test_walk_forward_check_catches_a_leaky_fit(smoke_events, smoke_data, monkeypatch):
    """A deliberately leaky walk-forward (each fold also trains on its own test periods) is
    caught by the same check: forecasts of periods <= k change."""
    import espb.rates.walkforward as wf

    honest = wf.fit_predict

    def leaky(model, train, test, features, n_cells, seed):
        return honest(model, pd.concat([train, test]), test, features, n_cells, seed)

    monkeypatch.setattr(wf, "fit_predict", leaky)
    changed, _ = _early_and_late_changes(smoke_events, smoke_data, "nb_glm")
    assert "mu" in changed
