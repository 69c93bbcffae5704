"""The analysis of a parameter search (paper Appendix C.1, Section 4.2): accuracy per period,
the best configurations, parameter effects and the per-meta-epoch trajectories. Tables in,
tables out; the figures are drawn from these results by :mod:`espb.evaluation.sweep.figures`.

Inputs are two tables (see :mod:`espb.evaluation.sweep.data` for reading them from MLflow):

* ``configs``: one row per configuration (child run): ``run_id`` and the six factors of paper
  Table 1 as columns ``dr`` (degrees), ``dt`` (days), ``M_lim``, ``loss`` ("mae"/"bce"),
  ``l_ME`` (days) and ``AE`` (bool); other columns (``config_hash``, ``status``) are kept.
* ``preds``: the per-sample validation predictions of all runs: ``run_id``, ``meta_epoch``,
  ``phase`` ("dev"/"test"), ``date`` (the sample's forecast day), ``label`` (0/1) and ``score``
  (in [0, 1]; the predicted class is ``score >= 0.5``, paper Appendix D).

Accuracy (paper Eq. 7) is pooled over samples: correct samples / samples, over all meta-epochs
of a period, so that a meta-epoch weighs by its number of validation samples.

Model selection (the best configurations, the analogues of paper Table 2) uses the development
period only: :func:`best_configs` takes the accuracies of ``period_accuracy(phase="dev")``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from espb.errors import EspbError
from espb.evaluation.sweep.factors import (
    FACTORS,
    Levels,
    coerce_factors,
    level_index,
    py,
    resolve_levels,
)
from espb.evaluation.sweep.periods import PERIODS, acc_col, days, n_col, period_of

#: the phase model selection uses (the paper searches on 2001-2019 only)
SELECTION_PHASE = "dev"


def check_columns(df: pd.DataFrame, need: Sequence[str], what: str) -> None:
    """EspbError naming the columns of ``need`` that ``df`` lacks."""
    missing = [c for c in need if c not in df.columns]
    if missing:
        raise EspbError(f"{what}: missing column(s) {missing}; have {list(df.columns)}")


def _correct(preds: pd.DataFrame) -> np.ndarray:
    return (preds["score"].to_numpy(float) >= 0.5) == (preds["label"].to_numpy(float) == 1)


def period_accuracy(
    preds: pd.DataFrame, configs: pd.DataFrame, phase: str | None = "dev"
) -> pd.DataFrame:
    """Accuracy of every configuration in each period of Appendix C.1 (Figures C.7-C.9).

    One row per run of ``configs`` (its columns, factors typed by :func:`coerce_factors`), then
    ``acc_all, acc_T1 .. acc_T4`` and ``n_all, n_T1 .. n_T4``. Accuracy (Eq. 7) pools all samples
    of the period over all meta-epochs (correct / samples; not the mean of per-meta-epoch
    accuracies). ``phase`` keeps the predictions of that phase ("dev": the development period the
    paper's search used); ``None`` keeps all. A period without samples has NaN accuracy; runs
    without predictions (unfinished) have NaN everywhere and n 0. Samples with a missing label or
    score are not counted."""
    check_columns(configs, ["run_id"], "configs")
    check_columns(
        preds, ["run_id", "date", "label", "score"] + (["phase"] if phase else []), "preds"
    )
    cfg = coerce_factors(configs).reset_index(drop=True)
    p = preds if phase is None else preds[preds["phase"] == phase]
    p = p[p["run_id"].isin(set(cfg["run_id"])) & p["label"].notna() & p["score"].notna()]
    frame = pd.DataFrame(
        {
            "run_id": p["run_id"].to_numpy(),
            "period": period_of(p["date"]),
            "correct": _correct(p).astype(np.int64),
        }
    )
    out = cfg.copy()
    groups = {"T_all": frame}
    for name in PERIODS:
        if name != "T_all":
            groups[name] = frame[frame["period"] == name]
    accs, ns = {}, {}
    for name, g in groups.items():
        agg = g.groupby("run_id")["correct"].agg(["sum", "size"])
        n = out["run_id"].map(agg["size"]).fillna(0).astype(np.int64)
        k = out["run_id"].map(agg["sum"]).fillna(0).astype(float)
        accs[acc_col(name)] = np.where(n > 0, k / n.where(n > 0, 1), np.nan)
        ns[n_col(name)] = n.to_numpy()
    for c, v in accs.items():
        out[c] = v
    for c, v in ns.items():
        out[c] = v
    return out


def best_configs(
    acc: pd.DataFrame, by: str = "acc_all", m_lim: float = 4.9
) -> dict[str, dict[str, Any] | None]:
    """The best configuration overall (the paper's Model14.0) and the best with ``M_lim ==
    m_lim`` (Model14.9), Section 4 and Table 2: ``{"overall": row, "m_lim": row}`` (rows as
    dicts, None when no run has an accuracy there). Ties: the larger sample count of that period,
    then the earlier row of ``acc``. For model selection ``acc`` holds the development period
    only (``period_accuracy(phase="dev")``)."""
    ncol = "n_" + by[4:] if by.startswith("acc_") else None

    def pick(df: pd.DataFrame) -> dict[str, Any] | None:
        d = df.assign(_order=np.arange(len(df)))
        d = d[d[by].notna()]
        if not len(d):
            return None
        keys, asc = [by], [False]
        if ncol is not None and ncol in d:
            keys.append(ncol)
            asc.append(False)
        d = d.sort_values(keys + ["_order"], ascending=asc + [True], kind="mergesort")
        return {k: py(v) for k, v in d.iloc[0].drop("_order").items()}

    typed = coerce_factors(acc).reset_index(drop=True)
    at = (
        typed[[level_index([m_lim], v) == 0 for v in typed["M_lim"]]]
        if "M_lim" in typed
        else typed[:0]
    )
    return {"overall": pick(typed), "m_lim": pick(at)}


def top_configs(acc: pd.DataFrame, period: str = "T_all", k: int = 10) -> pd.DataFrame:
    """The ``k`` best rows of ``acc`` in a period (ties as in :func:`best_configs`)."""
    a, n = acc_col(period), n_col(period)
    d = acc.assign(_order=np.arange(len(acc)))
    d = d[d[a].notna()].sort_values(
        [a, n, "_order"], ascending=[False, False, True], kind="mergesort"
    )
    return d.drop(columns="_order").head(k)


def _level_indices(acc: pd.DataFrame, lv: dict[str, tuple[Any, ...]]) -> pd.DataFrame:
    """Per configuration, the level index of each factor (``_i_<factor>``), the mean accuracy
    per period of the configurations with the same indices (several runs averaged)."""
    typed = coerce_factors(acc)
    cols = [acc_col(p) for p in PERIODS]
    idx = pd.DataFrame(
        {
            f"_i_{f}": [
                level_index(lv[f], v) if f in typed else None
                for v in (typed[f] if f in typed else [None] * len(typed))
            ]
            for f in FACTORS
        },
        index=typed.index,
    )
    keep = idx.notna().all(axis=1)
    data = pd.concat([idx[keep].astype(np.int64), typed.loc[keep, cols].astype(float)], axis=1)
    return data.groupby([f"_i_{f}" for f in FACTORS], as_index=False)[cols].mean()


def parameter_effects(acc: pd.DataFrame, levels: Levels | None = None) -> pd.DataFrame:
    """The average change of accuracy when only one factor varies (paper Figure C.7).

    For each factor p, each non-baseline level v (baseline: the first level) and each period:
    the mean over all matched pairs (configurations agreeing on the other five factors) of
    acc(p = v) - acc(p = baseline); pairs with NaN on either side are skipped. Several runs of the
    same configuration are averaged first. Columns: ``factor, level, baseline, period, effect,
    n_pairs`` (effect NaN when no pair exists)."""
    lv = resolve_levels(acc, levels)
    data = _level_indices(acc, lv)
    cols = [acc_col(p) for p in PERIODS]
    icols = [f"_i_{f}" for f in FACTORS]
    rows = []
    for f in FACTORS:
        if len(lv[f]) < 2:
            continue
        others = [c for c in icols if c != f"_i_{f}"]
        base = data[data[f"_i_{f}"] == 0][others + cols]
        for j, v in enumerate(lv[f][1:], start=1):
            sub = data[data[f"_i_{f}"] == j][others + cols]
            m = sub.merge(base, on=others, suffixes=("_v", "_b"))
            for period in PERIODS:
                c = acc_col(period)
                d = (m[f"{c}_v"] - m[f"{c}_b"]).dropna()
                rows.append(
                    {
                        "factor": f,
                        "level": v,
                        "baseline": lv[f][0],
                        "period": period,
                        "effect": float(d.mean()) if len(d) else float("nan"),
                        "n_pairs": len(d),
                    }
                )
    return pd.DataFrame(
        rows, columns=["factor", "level", "baseline", "period", "effect", "n_pairs"]
    )


def trajectories(preds: pd.DataFrame) -> pd.DataFrame:
    """Per run and meta-epoch: ``date`` (its first forecast day), ``phase``, ``accuracy`` and
    ``n`` (validation samples), for Figure 8."""
    check_columns(preds, ["run_id", "meta_epoch", "date", "label", "score"], "preds")
    p = preds[preds["label"].notna() & preds["score"].notna()]
    frame = pd.DataFrame(
        {
            "run_id": p["run_id"].to_numpy(),
            "meta_epoch": p["meta_epoch"].to_numpy(),
            "phase": p["phase"].to_numpy() if "phase" in p else "",
            "date": days(p["date"]),
            "correct": _correct(p).astype(float),
        }
    )
    g = frame.groupby(["run_id", "meta_epoch"], sort=True)
    out = g.agg(
        date=("date", "min"),
        phase=("phase", "first"),
        accuracy=("correct", "mean"),
        n=("correct", "size"),
    ).reset_index()
    out["n"] = out["n"].astype(np.int64)
    return out


@dataclass
class HistogramData:
    """Figure C.8: the factors with levels, the bin edges of each period (over all
    configurations' accuracies) and, per (period, factor), each level's finite accuracies in
    level order (empty where a level has none)."""

    levels: dict[str, tuple[Any, ...]]
    factors: list[str]
    edges: dict[str, np.ndarray]
    values: dict[tuple[str, str], list[pd.Series]]


def histogram_data(
    acc: pd.DataFrame, levels: Levels | None = None, bins: int = 20
) -> HistogramData:
    """The accuracy distributions of Figure C.8: per period ``bins`` equal bins between the
    lowest and highest accuracy (+-0.01 when all are equal), the configurations grouped by each
    factor's level."""
    lv = resolve_levels(acc, levels)
    typed = coerce_factors(acc)
    factors = [f for f in FACTORS if f in typed and lv[f]]
    edges: dict[str, np.ndarray] = {}
    values: dict[tuple[str, str], list[pd.Series]] = {}
    for period in PERIODS:
        vals = typed[acc_col(period)].astype(float)
        finite = vals[np.isfinite(vals)]
        lo, hi = (float(finite.min()), float(finite.max())) if len(finite) else (0.0, 1.0)
        if hi - lo < 1e-9:
            lo, hi = lo - 0.01, hi + 0.01
        edges[period] = np.linspace(lo, hi, bins + 1)
        for f in factors:
            per_level = []
            for v in lv[f]:
                sel = np.array([level_index([v], x) == 0 for x in typed[f]], dtype=bool)
                x = vals[sel]
                per_level.append(x[np.isfinite(x)])
            values[(period, f)] = per_level
    return HistogramData(lv, factors, edges, values)
