"""The seed noise of a sweep with seed replicates (espb.evaluation.sweep.seeds) on synthetic
accuracies with a known answer, and the F test against statsmodels."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from espb.evaluation.sweep.factors import FACTORS, describe_config
from espb.evaluation.sweep.seeds import (
    EXCEEDS,
    UNTESTABLE,
    WITHIN,
    has_replicates,
    seed_means,
    seed_noise,
)

BASE = {"dr": 0.15, "dt": 150, "M_lim": 4.0, "loss": "mae", "l_ME": 14, "AE": True}


def _runs(values: dict[tuple, list[float]], factor: str = "dr") -> pd.DataFrame:
    """One run per (level of ``factor``, seed): ``values[level] = [acc of seed 0, 1, ...]``."""
    rows = []
    for (level,), accs in values.items():
        for s, a in enumerate(accs):
            rows.append(
                {"run_id": f"{factor}{level}-s{s}", **BASE, factor: level, "seed": float(s)}
                | {"acc_all": a, "n_all": 10}
            )
    return pd.DataFrame(rows)


def _planted(rng: np.random.Generator, n_seeds: int = 3, sd: float = 0.01) -> pd.DataFrame:
    """A balanced 2 x 3 x 2 design (dr x dt x M_lim), ``n_seeds`` replicates each: dr has a
    planted effect of +0.05, dt and M_lim none; seed noise N(0, sd)."""
    rows = []
    for dr, dt, m in itertools.product((0.15, 0.35), (150, 365, 730), (4.0, 4.9)):
        for s in range(n_seeds):
            acc = 0.7 + (0.05 if dr == 0.35 else 0.0) + rng.normal(0, sd)
            cfg = {**BASE, "dr": dr, "dt": dt, "M_lim": m}
            rows.append({"run_id": f"{dr}-{dt}-{m}-{s}", **cfg, "seed": s, "acc_all": acc})
    return pd.DataFrame(rows)


def test_hand_computed_two_configurations() -> None:
    noise = seed_noise(_runs({(0.15,): [0.5, 0.6], (0.35,): [0.7, 0.8]}))
    # pure error: (0.05^2 * 2) * 2 = 0.01 on 2 df; dr: 4 * 0.1^2 = 0.04 on 1 df; F = 8
    assert noise.df_pure == 2 and noise.n_obs == 4
    assert noise.pooled_sd == pytest.approx(math.sqrt(0.005))
    (row,) = noise.factors.to_dict("records")
    assert row["factor"] == "dr" and row["levels"] == 2 and (row["df1"], row["df2"]) == (1, 2)
    assert row["ss"] == pytest.approx(0.04) and row["F"] == pytest.approx(8.0)
    assert row["p"] == pytest.approx(stats.f.sf(8.0, 1, 2))
    assert row["effect"] == pytest.approx(0.2)
    assert row["p"] > 0.05  # pooled: p = 0.106, two seeds each are not enough
    # seed-blocked: both seeds show the same +0.2, no level x seed interaction at all
    assert row["seed_effects"] == pytest.approx([0.2, 0.2]) and row["df_seed"] == (1, 1)
    assert row["F_seed"] == math.inf and row["p_seed"] == 0.0
    assert row["verdict"] == EXCEEDS and row["test"] == "seed-blocked"
    t = noise.configs
    assert list(t["dr"]) == [0.35, 0.15] and list(t["n_seeds"]) == [2, 2]
    assert t["mean"].tolist() == pytest.approx([0.75, 0.55])
    assert t["sd"].tolist() == pytest.approx([math.sqrt(0.005)] * 2)
    assert (t["min"].tolist(), t["max"].tolist()) == ([0.7, 0.5], [0.8, 0.6])
    assert t["seeds"].tolist() == [[0, 1], [0, 1]]
    assert t["run_ids"].iloc[0] == ["dr0.35-s0", "dr0.35-s1"]
    assert noise.within_sd == [t["configuration"].iloc[0]]  # 0.2 apart > 1 SD
    assert noise.first_seed == 0 and noise.same_best is True
    assert noise.best == describe_config({**BASE, "dr": 0.35})


def test_best_by_lowest_seed_can_differ_and_close_configs_are_listed() -> None:
    # a: seed 0 best (0.80) but mean 0.70; b: mean 0.74; c: mean 0.60
    acc = _runs({(0.15,): [0.80, 0.60], (0.25,): [0.72, 0.76], (0.35,): [0.61, 0.59]})
    noise = seed_noise(acc)
    label = {v: describe_config({**BASE, "dr": v}) for v in (0.15, 0.25, 0.35)}
    assert noise.best == label[0.25] and noise.best_by_first == label[0.15]
    assert noise.same_best is False
    # pooled SD: sqrt((0.02 + 0.0008 + 0.0002) / 3) = 0.0837; 0.74 - 0.70 within, 0.60 not
    assert noise.pooled_sd == pytest.approx(math.sqrt(0.021 / 3))
    assert noise.within_sd == [label[0.25], label[0.15]]


def test_planted_effect_exceeds_and_null_factors_are_within_seed_spread() -> None:
    noise = seed_noise(_planted(np.random.default_rng(7)))
    f = noise.factors.set_index("factor")
    assert list(f.index) == ["dr", "dt", "M_lim"]  # single-level factors are not tested
    assert f.loc["dr", "verdict"] == EXCEEDS and f.loc["dr", "p"] < 1e-10
    assert f.loc["dr", "effect"] == pytest.approx(0.05, abs=0.01)
    for name in ("dt", "M_lim"):
        assert f.loc[name, "verdict"] == WITHIN and f.loc[name, "p"] > 0.05, name
        assert f.loc[name, "effect"] < 2 * noise.pooled_sd
    assert (f.loc["dt", "df1"], f.loc["dt", "df2"]) == (2, 24)  # 12 configurations x (3 - 1)
    assert noise.pooled_sd == pytest.approx(0.01, rel=0.35)
    assert len(noise.configs) == 12 and (noise.configs["n_seeds"] == 3).all()
    assert all(c.startswith("[") for c in noise.within_sd)
    assert set(noise.configs["dr"].head(6)) == {0.35}  # the planted level ranks first


def test_f_equals_statsmodels_main_effects_over_pure_error() -> None:
    """Oracle: in a balanced design the main-effect SS of ``acc ~ C(dr) + C(dt) + C(M_lim)``
    (anova_lm typ=2) is SS_factor, and the pure-error MS is the residual MS of the cell-means
    model ``acc ~ C(config_id)``."""
    smf = pytest.importorskip("statsmodels.formula.api")
    sm = pytest.importorskip("statsmodels.api")
    df = _planted(np.random.default_rng(3), sd=0.02)
    noise = seed_noise(df)
    data = df.rename(columns={"acc_all": "acc"})
    data["config_id"] = data[["dr", "dt", "M_lim"]].astype(str).agg("|".join, axis=1)
    main = sm.stats.anova_lm(smf.ols("acc ~ C(dr) + C(dt) + C(M_lim)", data).fit(), typ=2)
    cells = smf.ols("acc ~ C(config_id)", data).fit()
    assert noise.df_pure == int(cells.df_resid) == 24
    assert noise.pooled_sd**2 == pytest.approx(cells.mse_resid, rel=1e-10)
    for _, r in noise.factors.iterrows():
        term = f"C({r['factor']})"
        assert r["ss"] == pytest.approx(main.loc[term, "sum_sq"], rel=1e-9)
        assert r["df1"] == main.loc[term, "df"]
        want = main.loc[term, "sum_sq"] / main.loc[term, "df"] / cells.mse_resid
        assert r["F"] == pytest.approx(want, rel=1e-9)
        assert r["p"] == pytest.approx(stats.f.sf(want, r["df1"], cells.df_resid), rel=1e-7)


def test_unbalanced_ss_is_the_one_way_ss_of_the_replicates() -> None:
    smf = pytest.importorskip("statsmodels.formula.api")
    sm = pytest.importorskip("statsmodels.api")
    df = _planted(np.random.default_rng(5))
    df = df.drop(index=[0, 1, 5, 20]).reset_index(drop=True)  # 1 to 3 seeds per configuration
    noise = seed_noise(df)
    assert sorted(set(noise.configs["n_seeds"])) == [1, 2, 3]
    assert noise.df_pure == len(df) - 12
    data = df.rename(columns={"acc_all": "acc"})
    for f in ("dr", "dt", "M_lim"):
        one_way = sm.stats.anova_lm(smf.ols(f"acc ~ C({f})", data).fit())
        got = noise.factors.set_index("factor").loc[f, "ss"]
        assert got == pytest.approx(one_way.loc[f"C({f})", "sum_sq"], rel=1e-9)
    assert math.isnan(noise.configs.loc[noise.configs["n_seeds"] == 1, "sd"].iloc[0])


def test_no_replicates_is_untestable() -> None:
    noise = seed_noise(_runs({(0.15,): [0.5], (0.35,): [0.7]}))
    assert noise.df_pure == 0 and math.isnan(noise.pooled_sd)
    assert noise.factors["verdict"].tolist() == [UNTESTABLE]
    assert noise.within_sd == []


def test_has_replicates() -> None:
    two = _runs({(0.15,): [0.5, 0.6]})
    assert has_replicates(two)
    assert not has_replicates(two.drop(columns="seed"))
    assert not has_replicates(two.assign(seed=0.0))  # one seed per configuration
    assert not has_replicates(two.assign(seed=np.nan))  # runs from before seeds were logged
    assert not has_replicates(_runs({(0.15,): [0.5], (0.35,): [0.7]}))


def test_seed_means_one_row_per_configuration() -> None:
    acc = _runs({(0.15,): [0.5, 0.6, np.nan], (0.35,): [0.7, 0.8, 0.9]})
    acc = acc.iloc[[2, 0, 3, 1, 4, 5]].assign(acc_T1=[np.nan, 0.2, 0.3, 0.4, 0.5, 0.6])
    m = seed_means(acc)
    assert list(m["dr"]) == [0.15, 0.35] and "seed" not in m
    assert m["acc_all"].tolist() == pytest.approx([0.55, 0.8])
    assert m["acc_T1"].tolist() == pytest.approx([0.3, 1.4 / 3])
    assert list(m["n_seeds"]) == [2, 3]
    assert list(m["run_id"]) == ["dr0.15-s0", "dr0.35-s0"]  # the lowest seed's run
    assert set(FACTORS) <= set(m.columns)


def _crossed(rng: np.random.Generator, seed_shift: dict[int, float], n_seeds: int = 3):
    """dr x dt x M_lim (2 x 3 x 2), ``n_seeds`` seeds; seed s adds ``seed_shift[s]`` to every
    dr = 0.35 run (a seed that favours a level everywhere) plus N(0, 0.005) per run."""
    rows = []
    for dr, dt, m in itertools.product((0.15, 0.35), (150, 365, 730), (4.0, 4.9)):
        for s in range(n_seeds):
            acc = 0.7 + (seed_shift.get(s, 0.0) if dr == 0.35 else 0.0) + rng.normal(0, 0.005)
            cfg = {**BASE, "dr": dr, "dt": dt, "M_lim": m}
            rows.append({"run_id": f"{dr}-{dt}-{m}-{s}", **cfg, "seed": s, "acc_all": acc})
    return pd.DataFrame(rows)


def test_a_seed_that_favours_a_level_everywhere_is_not_a_finding() -> None:
    """Seeds 0 and 1 put dr = 0.35 ahead by 0.2, seed 2 behind by 0.05 (as AE ON/OFF flipped
    with the seed in the 3-seed demo sweep): the pooled F, which takes the 36 runs as
    independent replicates, calls it significant; the seed-blocked test does not."""
    noise = seed_noise(_crossed(np.random.default_rng(5), {0: 0.2, 1: 0.2, 2: -0.05}))
    f = noise.factors.set_index("factor")
    assert f.loc["dr", "p"] < 0.01 and f.loc["dr", "test"] == "seed-blocked"  # pooled p
    assert f.loc["dr", "seed_effects"] == pytest.approx([0.2, 0.2, -0.05], abs=0.01)
    assert f.loc["dr", "p_seed"] > 0.05 and f.loc["dr", "verdict"] == WITHIN
    # the same effect in every seed is found
    same = seed_noise(_crossed(np.random.default_rng(5), {0: 0.1, 1: 0.1, 2: 0.1}))
    g = same.factors.set_index("factor")
    assert g.loc["dr", "p_seed"] < 1e-3 and g.loc["dr", "verdict"] == EXCEEDS


def test_seed_blocked_two_levels_is_the_paired_t_test_over_seeds() -> None:
    """Oracle: for two levels, F = t^2 and p of scipy's paired t-test of the level means per
    seed."""
    df = _crossed(np.random.default_rng(11), {0: 0.03, 1: 0.01, 2: 0.05, 3: -0.01}, n_seeds=4)
    row = seed_noise(df).factors.set_index("factor").loc["dr"]
    per = df.groupby(["seed", "dr"])["acc_all"].mean().unstack("dr")
    t = stats.ttest_rel(per[0.35], per[0.15])
    assert row["F_seed"] == pytest.approx(t.statistic**2, rel=1e-9)
    assert row["p_seed"] == pytest.approx(t.pvalue, rel=1e-9)
    assert row["df_seed"] == (1, 3)
    assert row["seed_effects"] == pytest.approx(list(per[0.35] - per[0.15]))


def test_seed_blocked_three_levels_equals_statsmodels_two_way_on_the_cell_means() -> None:
    """Oracle: for dt (three levels), the level x seed table of means analysed as
    ``acc ~ C(level) + C(seed)`` (anova_lm typ=2: the residual is the interaction)."""
    smf = pytest.importorskip("statsmodels.formula.api")
    sm = pytest.importorskip("statsmodels.api")
    df = _planted(np.random.default_rng(13), n_seeds=4, sd=0.03)
    row = seed_noise(df).factors.set_index("factor").loc["dt"]
    cells = df.groupby(["dt", "seed"])["acc_all"].mean().rename("acc").reset_index()
    table = sm.stats.anova_lm(smf.ols("acc ~ C(dt) + C(seed)", data=cells).fit(), typ=2)
    assert row["F_seed"] == pytest.approx(table.loc["C(dt)", "F"], rel=1e-9)
    assert row["p_seed"] == pytest.approx(table.loc["C(dt)", "PR(>F)"], rel=1e-9)
    assert row["df_seed"] == (2, 6)
