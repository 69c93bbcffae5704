"""Seed noise of a parameter search with seed replicates (``training.seeds=[0,1,2]``): how much
the development-period accuracy of one configuration moves when only its initial weights are
re-seeded, and whether each factor's effect is larger than that.

A *configuration* is a tuple of the six factor values (:data:`FACTORS`); its *replicates* are the
runs (MLflow child runs, each its own ``config_hash``) that share it and differ in the param
``seed`` only. The accuracy is the one model selection ranks by: ``acc_all`` of
``period_accuracy(phase="dev")`` (:func:`espb.evaluation.sweep.analysis.best_configs`).

The verdict (:func:`factor_tests`): a factor whose effect is not larger than what re-seeding the
same configuration produces is not a finding. Replicate ``s`` starts every configuration of one
architecture from the *same* initial weights, so seed is crossed with the factors and the
replicate errors of one seed are shared across configurations (a seed can favour a whole level,
e.g. every AE-ON run). The verdict therefore comes from the **seed-blocked** test
(:func:`blocked_test`): the factor's level means within each seed, ``M[l, s]``, as a two-way
table without replication; ``F = MS_level / MS_level×seed`` on ``(L − 1, (L − 1)(S − 1))``
degrees of freedom - for two levels the paired t-test over seeds of the factor's per-seed
effect (``t² = F``): "does every seed's sweep show the same effect?". With three seeds it has
2 denominator df and confirms only large, consistent effects. Beside it, for independent
replicates, the pooled test: one-way main-effect F against pure (replicate) error. For factor f with levels l, over all N replicate observations y with grand mean ȳ,
``SS_f = Σ_l N_l (ȳ_l − ȳ)²``, ``MS_f = SS_f / (L − 1)``; the pure-error mean square is the
pooled within-configuration variance ``MS_pure = Σ_i Σ_j (y_ij − ȳ_i)² / Σ_i (n_i − 1)``;
``F = MS_f / MS_pure`` on (L − 1, Σ(n_i − 1)) degrees of freedom, ``p = scipy.stats.f.sf``.
In a balanced design SS_f is the main-effect SS of the additive model ``acc ~ C(f1) + ...``.
The pooled test decides only where fewer than two seeds cover every level. Assumptions: replicates differ by their initial weights only (the data seed is shared), normal
errors with equal variance in every configuration, main effects only (no interactions); p < 0.05
is per factor, not corrected for testing several factors.

Compute only: :func:`seed_noise` -> :class:`SeedNoise`; drawn by
:func:`espb.evaluation.sweep.figures.fig_seed_noise`, written by
:func:`espb.evaluation.sweep.writer.write_report`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from espb.evaluation.sweep.factors import FACTORS, describe_config, missing, py
from espb.evaluation.sweep.periods import PERIODS, acc_col

#: the accuracy the seed noise is measured on: what model selection ranks by
METRIC = "acc_all"
#: the significance level of the per-factor test (not corrected for several factors)
ALPHA = 0.05
EXCEEDS, WITHIN, UNTESTABLE = "exceeds seed spread", "within seed spread", "not testable"


@dataclass
class SeedNoise:
    """The seed noise of a sweep (module docstring).

    ``configs``: one row per configuration, best seed mean first: the factors,
    ``configuration`` (paper notation), ``n_seeds``, ``mean``, ``sd`` (ddof=1; NaN for one
    seed), ``min``, ``max``, ``seeds`` and ``run_ids`` (lists, in seed order). ``factors``: one
    row per factor with two or more levels: ``factor, levels, effect`` (max − min of the level
    means), ``pooled_sd, ss, ms, ms_pure, F, df1, df2, p, verdict``. ``pooled_sd``: the pure-error
    SD on ``df_pure`` degrees of freedom. ``within_sd``: the configurations (notation) whose mean
    is within one pooled SD of the best mean, the best included. ``first_seed``: the lowest seed;
    ``best_by_first``: the best configuration by that seed's accuracy alone."""

    metric: str
    configs: pd.DataFrame
    factors: pd.DataFrame
    pooled_sd: float
    df_pure: int
    n_obs: int
    within_sd: list[str] = field(default_factory=list)
    first_seed: int | None = None
    best_by_first: str | None = None

    @property
    def best(self) -> str | None:
        """The best configuration by seed mean (notation), None without accuracies."""
        return str(self.configs["configuration"].iloc[0]) if len(self.configs) else None

    @property
    def same_best(self) -> bool | None:
        """Whether the best by seed mean is the best by the lowest seed alone."""
        if self.best is None or self.best_by_first is None:
            return None
        return self.best == self.best_by_first


def _key(row: pd.Series) -> tuple[Any, ...]:
    return tuple(None if missing(row.get(f)) else py(row.get(f)) for f in FACTORS)


def config_ids(df: pd.DataFrame) -> np.ndarray:
    """Per row of ``df``, the index of its configuration (factor tuple) in order of first
    appearance; a missing factor value counts as one value."""
    ids: dict[tuple[Any, ...], int] = {}
    return np.array([ids.setdefault(_key(r), len(ids)) for _, r in df.iterrows()], dtype=np.int64)


def _seed(v: Any) -> int | None:
    return None if missing(v) else int(v)


def has_replicates(df: pd.DataFrame) -> bool:
    """Whether some configuration of ``df`` (runs with the factors and ``seed``) has runs with
    two or more different seeds."""
    if "seed" not in df or not len(df):
        return False
    seeds = pd.to_numeric(df["seed"], errors="coerce")
    d = pd.DataFrame({"cfg": config_ids(df), "seed": seeds.to_numpy()}).dropna()
    return bool(len(d)) and bool((d.groupby("cfg")["seed"].nunique() > 1).any())


def _by_seed(df: pd.DataFrame) -> pd.DataFrame:
    """``df`` with ``_cfg`` and ``_seed`` columns, each configuration's rows with an accuracy
    first, then by seed (missing last), then in the given order."""
    d = df.reset_index(drop=True)
    d = d.assign(
        _cfg=config_ids(d),
        _seed=pd.to_numeric(d["seed"], errors="coerce") if "seed" in d else np.nan,
        _has=d[METRIC].notna().astype(int) if METRIC in d else 0,
        _order=np.arange(len(d)),
    )
    return d.sort_values(
        ["_cfg", "_has", "_seed", "_order"],
        ascending=[True, False, True, True],
        kind="mergesort",
        na_position="last",
    )


def seed_means(acc: pd.DataFrame) -> pd.DataFrame:
    """One row per configuration of the per-run accuracies ``acc`` (from
    :func:`~espb.evaluation.sweep.analysis.period_accuracy`), in order of first appearance: the
    accuracy of every period averaged over the replicates that have one, ``n_seeds`` (the
    replicates with ``acc_all``), the other columns (``run_id``, the ``n_*`` counts) from the
    representative run: the lowest seed with an accuracy. The ``seed`` column is dropped."""
    d = _by_seed(acc)
    cols = [acc_col(p) for p in PERIODS if acc_col(p) in d]
    means = d.groupby("_cfg")[cols].mean()
    counts = d.groupby("_cfg")[METRIC].count() if METRIC in d else 0
    rep = d.drop_duplicates("_cfg", keep="first").set_index("_cfg")
    rep[cols] = means
    rep["n_seeds"] = counts
    rep = rep.sort_index().reset_index(drop=True)
    return rep.drop(columns=["_seed", "_has", "_order", "seed"], errors="ignore")


def _config_table(d: pd.DataFrame) -> pd.DataFrame:
    """Per configuration of the replicate observations ``d`` (``_cfg``, ``_seed``, ``run_id``,
    factors, :data:`METRIC`): mean, SD, min, max, seeds; best mean first."""
    rows = []
    for _, g in d.groupby("_cfg", sort=True):
        y = g[METRIC].to_numpy(float)
        first = g.iloc[0]
        rows.append(
            {
                **{f: py(first.get(f)) for f in FACTORS},
                "configuration": describe_config(first),
                "n_seeds": len(y),
                "mean": float(y.mean()),
                "sd": float(y.std(ddof=1)) if len(y) > 1 else math.nan,
                "min": float(y.min()),
                "max": float(y.max()),
                "seeds": [_seed(s) for s in g["_seed"]],
                "run_ids": [str(r) for r in g["run_id"]] if "run_id" in g else [],
                "_cfg": int(first["_cfg"]),
            }
        )
    cols = [*FACTORS, "configuration", "n_seeds", "mean", "sd", "min", "max", "seeds", "run_ids"]
    t = pd.DataFrame(rows, columns=[*cols, "_cfg"])
    t = t.sort_values(["mean", "_cfg"], ascending=[False, True], kind="mergesort")
    return t.drop(columns="_cfg").reset_index(drop=True)


def pure_error(d: pd.DataFrame) -> tuple[float, int]:
    """The pure-error (within-configuration) sum of squares and its degrees of freedom
    Σ(n_i − 1) of the replicate observations ``d`` (``_cfg``, :data:`METRIC`)."""
    g = d.groupby("_cfg")[METRIC]
    ss = float(((d[METRIC] - g.transform("mean")) ** 2).sum())
    return ss, int((g.count() - 1).sum())


def blocked_test(d: pd.DataFrame, factor: str) -> dict[str, Any]:
    """The seed-blocked test of ``factor`` (module docstring) on the replicate observations
    ``d`` (``_seed``, the factor, :data:`METRIC`): the level x seed table of mean accuracies
    over the seeds that have every level, ``seed_effects`` (per seed: level 2 − level 1 for two
    levels, else max − min), ``F_seed``, ``df_seed`` = (L − 1, (L − 1)(S − 1)), ``p_seed``
    (NaN with fewer than two such seeds)."""
    lv = d[factor].map(lambda v: None if missing(v) else py(v))
    m = d.groupby([lv, d["_seed"]], dropna=False)[METRIC].mean().unstack("_seed")
    m = m.loc[:, m.notna().all(axis=0) & m.columns.notna()]  # seeds with every level
    L, S = m.shape
    out: dict[str, Any] = {"seed_effects": [], "F_seed": math.nan, "p_seed": math.nan}
    out["df_seed"] = (L - 1, (L - 1) * (S - 1))
    if L < 2 or S < 1:
        return out
    v = m.to_numpy(float)
    out["seed_effects"] = [float(e) for e in (v[1] - v[0] if L == 2 else v.max(0) - v.min(0))]
    if S < 2:
        return out
    grand = v.mean()
    ss = S * float(((v.mean(1) - grand) ** 2).sum())
    resid = v - v.mean(1, keepdims=True) - v.mean(0, keepdims=True) + grand
    ss_int = float((resid**2).sum())
    df1, df2 = out["df_seed"]
    if ss_int <= 1e-30 * max(ss, 1e-300):
        out["F_seed"], out["p_seed"] = (math.inf, 0.0) if ss > 0 else (math.nan, math.nan)
        return out
    out["F_seed"] = (ss / df1) / (ss_int / df2)
    out["p_seed"] = float(stats.f.sf(out["F_seed"], df1, df2))
    return out


def _verdict(p_seed: float, p: float) -> tuple[str, str]:
    """The verdict and the test it comes from: seed-blocked where it can be computed."""
    if not math.isnan(p_seed):
        return (EXCEEDS if p_seed < ALPHA else WITHIN), "seed-blocked"
    if not math.isnan(p):
        return (EXCEEDS if p < ALPHA else WITHIN), "pooled"
    return UNTESTABLE, "–"


def factor_tests(d: pd.DataFrame, ms_pure: float, df_pure: int) -> pd.DataFrame:
    """Per factor with two or more levels among the replicate observations ``d``: the effect
    (max − min of the level means), the pooled one-way main-effect F against pure (replicate)
    error, the seed-blocked F (:func:`blocked_test`) and the verdict (module docstring):
    :data:`EXCEEDS` when the seed-blocked p < :data:`ALPHA` (the pooled p where fewer than two
    seeds cover every level)."""
    y = d[METRIC].to_numpy(float)
    grand = float(y.mean()) if len(y) else math.nan
    rows = []
    for f in FACTORS:
        if f not in d:
            continue
        lv = d[METRIC].groupby(d[f].map(lambda v: None if missing(v) else py(v)), dropna=False)
        means, sizes = lv.mean(), lv.count()
        if len(means) < 2:
            continue
        ss = float((sizes * (means - grand) ** 2).sum())
        df1 = len(means) - 1
        ms = ss / df1
        if df_pure < 1 or not math.isfinite(ms_pure) or (ms_pure == 0 and ss == 0):
            F, p = math.nan, math.nan
        else:
            F = ms / ms_pure if ms_pure > 0 else math.inf
            p = float(stats.f.sf(F, df1, df_pure))
        blocked = blocked_test(d, f)
        verdict, test = _verdict(blocked["p_seed"], p)
        rows.append(
            {
                "factor": f,
                "levels": len(means),
                "effect": float(means.max() - means.min()),
                "pooled_sd": math.sqrt(ms_pure) if math.isfinite(ms_pure) else math.nan,
                "ss": ss,
                "ms": ms,
                "ms_pure": ms_pure,
                "F": F,
                "df1": df1,
                "df2": df_pure,
                "p": p,
                **blocked,
                "verdict": verdict,
                "test": test,
            }
        )
    cols = ["factor", "levels", "effect", "pooled_sd", "ss", "ms", "ms_pure", "F", "df1", "df2"]
    more = ["p", "seed_effects", "F_seed", "df_seed", "p_seed", "verdict", "test"]
    return pd.DataFrame(rows, columns=[*cols, *more])


def _best_by_first(d: pd.DataFrame) -> tuple[int | None, str | None]:
    """The lowest seed of ``d`` and the best configuration (notation) by its accuracy alone
    (ties: the configuration seen first)."""
    seeds = d["_seed"].dropna()
    if not len(seeds):
        return None, None
    s0 = seeds.min()
    one = d[d["_seed"] == s0].sort_values(
        [METRIC, "_cfg"], ascending=[False, True], kind="mergesort"
    )
    return int(s0), describe_config(one.iloc[0])


def seed_noise(acc: pd.DataFrame) -> SeedNoise:
    """The seed noise of the per-run development-period accuracies ``acc`` (one row per run
    with the factors, ``seed`` and :data:`METRIC`, from ``period_accuracy(phase="dev")``); runs
    without an accuracy are left out. See the module docstring for the test."""
    d = _by_seed(acc)
    d = d[d[METRIC].notna()] if METRIC in d else d.iloc[:0]
    table = _config_table(d)
    ss_pure, df_pure = pure_error(d) if len(d) else (0.0, 0)
    ms_pure = ss_pure / df_pure if df_pure > 0 else math.nan
    sd = math.sqrt(ms_pure) if df_pure > 0 else math.nan
    within: list[str] = []
    if len(table) and math.isfinite(sd):
        best = float(table["mean"].iloc[0])
        within = list(table.loc[best - table["mean"] <= sd + 1e-12, "configuration"])
    first, best_first = _best_by_first(d)
    return SeedNoise(
        METRIC,
        table,
        factor_tests(d, ms_pure, df_pure),
        sd,
        df_pure,
        len(d),
        within,
        first,
        best_first,
    )
