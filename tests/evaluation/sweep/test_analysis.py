"""The analysis of a sweep (paper Appendix C.1, Figures C.7-C.9, Figure 8) on constructed data:
periods, pooled accuracy, levels, parameter effects, best configurations, the C.9 grid."""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
import pytest

from espb.evaluation.sweep.analysis import (
    best_configs,
    parameter_effects,
    period_accuracy,
    trajectories,
)
from espb.evaluation.sweep.factors import FACTORS, PAPER_LEVELS, describe_config, infer_levels
from espb.evaluation.sweep.grid import grid_matrix, grid_position, grid_shape
from espb.evaluation.sweep.periods import PERIODS, acc_col, period_of


def _cfg(run_id: str, **kw) -> dict:
    base = {"dr": 0.15, "dt": 150, "M_lim": 4.0, "loss": "mae", "l_ME": 14, "AE": True}
    return {"run_id": run_id, **base, **kw}


def _samples(
    run_id: str, me: int, date: str, n: int, n_correct: int, phase: str = "dev"
) -> pd.DataFrame:
    """``n`` samples of one meta-epoch on one day, the first ``n_correct`` classified right."""
    label = np.arange(n) % 2
    right = np.arange(n) < n_correct
    score = np.where(right, np.where(label == 1, 0.9, 0.1), np.where(label == 1, 0.2, 0.7))
    return pd.DataFrame(
        {
            "run_id": run_id,
            "meta_epoch": me,
            "phase": phase,
            "date": pd.Timestamp(date),
            "label": label,
            "score": score,
        }
    )


# ------------------------------------------------------------------------------------ periods


def test_period_boundaries_are_inclusive_forecast_days() -> None:
    days = [
        "2001-05-01",
        "2006-12-31",
        "2007-01-01",
        "2011-03-10",
        "2011-03-11",
        "2015-12-31",
        "2016-01-01",
        "2022-06-30",
    ]
    assert list(period_of(days)) == ["T1", "T1", "T2", "T2", "T3", "T3", "T4", "T4"]
    # a time of day or a UTC time zone does not move a sample to the next day's period
    assert list(period_of([pd.Timestamp("2011-03-10 23:59")])) == ["T2"]
    assert list(period_of(pd.DatetimeIndex(["2006-12-31 22:00"], tz="UTC"))) == ["T1"]
    assert list(PERIODS) == ["T_all", "T1", "T2", "T3", "T4"]


def test_accuracy_is_pooled_over_samples_not_averaged_over_meta_epochs() -> None:
    configs = pd.DataFrame([_cfg("a")])
    preds = pd.concat(
        [
            _samples("a", 0, "2006-12-31", n=1, n_correct=1),  # T1: 1/1
            _samples("a", 1, "2011-03-10", n=9, n_correct=0),  # T2: 0/9
            _samples("a", 2, "2011-03-11", n=10, n_correct=4),  # T3: 4/10
        ]
    )
    row = period_accuracy(preds, configs).iloc[0]
    per_me_mean = np.mean([1.0, 0.0, 0.4])
    assert row["acc_all"] == pytest.approx(5 / 20)
    assert row["acc_all"] != pytest.approx(per_me_mean)
    assert (row["acc_T1"], row["acc_T2"], row["acc_T3"]) == pytest.approx((1.0, 0.0, 0.4))
    assert (row["n_all"], row["n_T1"], row["n_T2"], row["n_T3"], row["n_T4"]) == (20, 1, 9, 10, 0)
    assert np.isnan(row["acc_T4"])  # empty period


def test_threshold_phase_filter_and_runs_without_predictions() -> None:
    configs = pd.DataFrame([_cfg("a"), _cfg("b", M_lim=4.9), _cfg("c", AE="False", dr="0.25")])
    preds = pd.concat(
        [
            # score exactly 0.5 is class 1 (paper Appendix D: threshold 0.5)
            pd.DataFrame(
                {
                    "run_id": "a",
                    "meta_epoch": 0,
                    "phase": "dev",
                    "date": pd.Timestamp("2008-01-01"),
                    "label": [1, 0],
                    "score": [0.5, 0.5],
                }
            ),
            _samples("a", 1, "2020-02-01", n=4, n_correct=4, phase="test"),
            _samples("b", 0, "2016-01-01", n=4, n_correct=3),
            _samples("zzz", 0, "2016-01-01", n=4, n_correct=0),  # not a configuration: ignored
        ]
    )
    dev = period_accuracy(preds, configs).set_index("run_id")
    assert dev.loc["a", "acc_all"] == pytest.approx(0.5) and dev.loc["a", "n_all"] == 2
    assert dev.loc["b", "acc_T4"] == pytest.approx(0.75)
    assert np.isnan(dev.loc["c", "acc_all"]) and dev.loc["c", "n_all"] == 0
    assert all(dev.loc["c", f"n_{p}"] == 0 for p in ("T1", "T2", "T3", "T4"))
    assert dev["AE"].dtype == bool and not dev.loc["c", "AE"] and dev.loc["a", "AE"]  # from "False"
    assert dev.loc["c", "dr"] == pytest.approx(0.25)
    everything = period_accuracy(preds, configs, phase=None).set_index("run_id")
    assert everything.loc["a", "n_all"] == 6 and everything.loc["a", "acc_all"] == pytest.approx(
        5 / 6
    )
    assert everything.loc["a", "n_T4"] == 4
    test = period_accuracy(preds, configs, phase="test").set_index("run_id")
    assert test.loc["a", "acc_all"] == 1.0 and test.loc["b", "n_all"] == 0
    assert list(dev.index) == ["a", "b", "c"]


def test_trajectories_one_row_per_meta_epoch() -> None:
    preds = pd.concat(
        [
            _samples("a", 3, "2010-01-05", 4, 1),
            _samples("a", 3, "2010-01-02", 4, 3),
            _samples("a", 4, "2010-01-20", 2, 2),
        ]
    )
    t = trajectories(preds)
    assert list(t["meta_epoch"]) == [3, 4]
    assert t.loc[0, "date"] == pd.Timestamp("2010-01-02")  # first forecast day
    assert t.loc[0, "accuracy"] == pytest.approx(0.5) and t.loc[0, "n"] == 8
    assert t.loc[1, "accuracy"] == 1.0


# ------------------------------------------------------------------------------------ levels


def test_levels_follow_the_paper_order_and_baselines() -> None:
    assert PAPER_LEVELS["AE"][0] is True and PAPER_LEVELS["loss"][0] == "mae"
    df = pd.DataFrame(
        {
            "dr": ["0.6", "0.35", "0.15"],
            "dt": [730, 150, 730],
            "M_lim": [4.9, 4.0, 4.9],
            "loss": ["BCE", "mae", "bce"],
            "l_ME": ["50", "14", "14"],
            "AE": ["False", "True", "False"],
        }
    )
    lv = infer_levels(df)
    assert lv == {
        "dr": (0.15, 0.35, 0.6),
        "dt": (150, 730),
        "M_lim": (4.0, 4.9),
        "loss": ("mae", "bce"),
        "l_ME": (14, 50),
        "AE": (True, False),
    }


# ------------------------------------------------------------------------------------ effects

SMALL = {
    "dr": (0.15, 0.25, 0.35),
    "dt": (150, 730),
    "M_lim": (4.0, 4.5, 4.9),
    "loss": ("mae", "bce"),
    "l_ME": (14, 30),
    "AE": (True, False),
}


def _additive(levels: dict, seed: int = 0) -> tuple[pd.DataFrame, dict]:
    """acc = base + sum of per-factor level effects, a different effect table per period."""
    rng = np.random.default_rng(seed)
    eff = {
        p: {
            f: dict(zip(levels[f], rng.normal(0, 0.05, len(levels[f])), strict=True))
            for f in FACTORS
        }
        for p in PERIODS
    }
    rows = []
    for i, combo in enumerate(itertools.product(*(levels[f] for f in FACTORS))):
        row = {"run_id": f"r{i}", **dict(zip(FACTORS, combo, strict=True))}
        for p in PERIODS:
            row[acc_col(p)] = 0.6 + sum(eff[p][f][row[f]] for f in FACTORS)
            row["n_" + acc_col(p)[4:]] = 100
        rows.append(row)
    return pd.DataFrame(rows), eff


def _brute_pairs(acc: pd.DataFrame, f: str, v, base, col: str) -> list[float]:
    others = [g for g in FACTORS if g != f]
    out = []
    for _, a in acc[acc[f] == v].iterrows():
        for _, b in acc[acc[f] == base].iterrows():
            if all(a[g] == b[g] for g in others) and np.isfinite(a[col]) and np.isfinite(b[col]):
                out.append(a[col] - b[col])
    return out


def test_parameter_effects_recover_an_additive_model_exactly() -> None:
    acc, eff = _additive(SMALL)
    res = parameter_effects(acc)
    n_conf = len(acc)
    assert len(res) == sum(len(SMALL[f]) - 1 for f in FACTORS) * len(PERIODS)
    for r in res.itertuples():
        base = SMALL[r.factor][0]
        assert r.baseline == base
        assert r.effect == pytest.approx(
            eff[r.period][r.factor][r.level] - eff[r.period][r.factor][base], abs=1e-12
        )
        assert r.n_pairs == n_conf // len(SMALL[r.factor])


def test_parameter_effects_partial_sweep_skips_missing_pairs() -> None:
    acc, eff = _additive(SMALL, seed=1)
    rng = np.random.default_rng(2)
    acc = acc.drop(index=rng.choice(len(acc), size=len(acc) * 2 // 5, replace=False)).reset_index(
        drop=True
    )
    acc.loc[rng.choice(len(acc), size=20, replace=False), "acc_T3"] = (
        np.nan
    )  # e.g. no samples in T3
    res = parameter_effects(acc)
    for r in res.itertuples():
        base = SMALL[r.factor][0]
        pairs = _brute_pairs(acc, r.factor, r.level, base, acc_col(r.period))
        assert r.n_pairs == len(pairs)
        assert r.effect == pytest.approx(
            eff[r.period][r.factor][r.level] - eff[r.period][r.factor][base], abs=1e-12
        )
    assert res[res["period"] == "T3"]["n_pairs"].sum() < res[res["period"] == "T2"]["n_pairs"].sum()


def test_parameter_effects_match_brute_force_without_structure() -> None:
    acc, _ = _additive({**SMALL, "dr": (0.15, 0.65), "M_lim": (4.0, 4.9)}, seed=3)
    rng = np.random.default_rng(4)
    acc["acc_all"] = rng.random(len(acc))  # no additive structure: only the pairing is tested
    acc = acc.drop(index=rng.choice(len(acc), size=15, replace=False))
    res = parameter_effects(acc)
    for r in res[res["period"] == "T_all"].itertuples():
        pairs = _brute_pairs(acc, r.factor, r.level, r.baseline, "acc_all")
        assert r.n_pairs == len(pairs) and r.effect == pytest.approx(np.mean(pairs), abs=1e-12)


def test_parameter_effects_baseline_from_levels() -> None:
    acc, eff = _additive(SMALL, seed=5)
    res = parameter_effects(acc, levels={"AE": (False, True)})
    r = res[(res["factor"] == "AE") & (res["period"] == "T_all")].iloc[0]
    assert r["baseline"] is False
    assert r["effect"] == pytest.approx(
        eff["T_all"]["AE"][True] - eff["T_all"]["AE"][False], abs=1e-12
    )
    # a factor with a single level has no effect rows
    one = parameter_effects(acc[acc["loss"] == "mae"])
    assert "loss" not in set(one["factor"])


# ------------------------------------------------------------------------------------ best


def test_best_configs_overall_and_at_m_lim_4_9_with_ties() -> None:
    acc = pd.DataFrame(
        [
            {**_cfg("a", M_lim=4.0), "acc_all": 0.70, "n_all": 50},
            {**_cfg("b", M_lim=4.5), "acc_all": 0.71, "n_all": 40},
            {
                **_cfg("c", M_lim=4.0, dr=0.65),
                "acc_all": 0.71,
                "n_all": 60,
            },  # tie on acc: more samples
            {**_cfg("d", M_lim=4.9), "acc_all": 0.64, "n_all": 50},
            {**_cfg("e", M_lim=4.9, AE=False), "acc_all": 0.66, "n_all": 50},
            {
                **_cfg("f", M_lim=4.9, loss="bce"),
                "acc_all": 0.66,
                "n_all": 50,
            },  # full tie: earlier row
            {**_cfg("g", M_lim=4.9, dt=730), "acc_all": np.nan, "n_all": 0},
        ]
    )
    best = best_configs(acc)
    assert best["overall"]["run_id"] == "c" and best["overall"]["dr"] == 0.65
    assert best["m_lim"]["run_id"] == "e" and best["m_lim"]["AE"] is False
    assert best_configs(acc[acc["M_lim"] != 4.9])["m_lim"] is None
    assert best_configs(acc.assign(acc_all=np.nan)) == {"overall": None, "m_lim": None}


# ------------------------------------------------------------------------------------ grid


def test_grid_position_reads_like_the_paper_figure_c9() -> None:
    assert grid_shape(PAPER_LEVELS) == (16, 27)
    # the paper's best model [730d, 0.15°, 4.0, MAE, 14d, OFF]: lower two row blocks (no AE),
    # the upper of them (MAE), first dr row; first l_ME block, first M_lim column, third dt column
    best = {"dt": 730, "dr": 0.15, "M_lim": 4.0, "loss": "mae", "l_ME": 14, "AE": False}
    assert grid_position(best, PAPER_LEVELS) == (8, 2)
    assert describe_config(best) == "[730d, 0.15°, 4.0, MAE, 14d, OFF]"
    assert grid_position({**best, "AE": True, "loss": "bce", "dr": 0.65}, PAPER_LEVELS)[0] == 7
    assert grid_position({**best, "l_ME": 50, "M_lim": 4.9, "dt": 150}, PAPER_LEVELS)[1] == 24
    assert grid_position({**best, "l_ME": 30, "M_lim": 4.5, "dt": 365}, PAPER_LEVELS)[1] == 13
    cells = {
        grid_position(dict(zip(FACTORS, c, strict=True)), PAPER_LEVELS)
        for c in itertools.product(*PAPER_LEVELS.values())
    }
    assert len(cells) == 432 and cells == set(itertools.product(range(16), range(27)))
    with pytest.raises(ValueError, match="dr"):
        grid_position({**best, "dr": 0.5}, PAPER_LEVELS)


def test_grid_of_a_smaller_sweep() -> None:
    acc, _ = _additive(SMALL)
    assert grid_shape(SMALL) == (2 * 2 * 3, 2 * 3 * 2)
    mat = grid_matrix(acc.drop(index=[0]), "T_all", SMALL)
    assert mat.shape == (12, 12) and np.isnan(mat).sum() == 1
    r0, c0 = grid_position(acc.iloc[0].to_dict(), SMALL)
    assert np.isnan(mat[r0, c0])
    r1, c1 = grid_position(acc.iloc[5].to_dict(), SMALL)
    assert mat[r1, c1] == pytest.approx(acc.iloc[5]["acc_all"])
