"""The report of a parameter search: accuracy per period, parameter effects and the figures of
paper Appendix C.1 (Figures C.7, C.8, C.9) and Section 4.2 (Figure 8).

Inputs are two tables (see :mod:`espb.evaluation.sweep_data` for reading them from MLflow):

* ``configs``: one row per configuration (child run): ``run_id`` and the six factors of paper
  Table 1 as columns ``dr`` (degrees), ``dt`` (days), ``M_lim``, ``loss`` ("mae"/"bce"),
  ``l_ME`` (days) and ``AE`` (bool); other columns (``config_hash``, ``status``) are kept.
* ``preds``: the per-sample validation predictions of all runs: ``run_id``, ``meta_epoch``,
  ``phase`` ("dev"/"test"), ``date`` (the sample's forecast day), ``label`` (0/1) and ``score``
  (in [0, 1]; the predicted class is ``score >= 0.5``, paper Appendix D).

Accuracy (paper Eq. 7) is pooled over samples: correct samples / samples, over all meta-epochs
of a period, so that a meta-epoch weighs by its number of validation samples.

Levels and baselines. Each factor's levels are ordered as in paper Table 1 (:data:`PAPER_LEVELS`);
the first level is the baseline of Figure C.7 ("the first entry of the table on the right is taken
as the baseline"): dr 0.15 deg, dt 150 d, M_lim 4.0, loss MAE, l_ME 14 d and AE *on* (Table 1
lists "Yes, No", and Figure C.9 puts the runs with the autoencoder in the upper row blocks). The
same order lays out the grid of Figure C.9. A sweep may cover a subset or other values: levels are
then derived from the data (:func:`infer_levels`), paper values in paper order first, others
sorted after them; every function also takes ``levels`` explicitly.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from espb.errors import EspbError

#: the six factors of paper Table 1, in the order of the paper's figures
FACTORS: tuple[str, ...] = ("dr", "dt", "M_lim", "loss", "l_ME", "AE")

#: paper Table 1 values in the paper's order; the first of each is the baseline of Figure C.7
PAPER_LEVELS: dict[str, tuple[Any, ...]] = {
    "dr": (0.15, 0.25, 0.35, 0.65),
    "dt": (150, 365, 730),
    "M_lim": (4.0, 4.5, 4.9),
    "loss": ("mae", "bce"),
    "l_ME": (14, 30, 50),
    "AE": (True, False),
}

#: the periods of paper Appendix C.1 by the sample's forecast day, inclusive day boundaries
#: (None: open end); T_all is the whole range
PERIODS: dict[str, tuple[pd.Timestamp | None, pd.Timestamp | None]] = {
    "T_all": (None, None),
    "T1": (None, pd.Timestamp("2006-12-31")),
    "T2": (pd.Timestamp("2007-01-01"), pd.Timestamp("2011-03-10")),
    "T3": (pd.Timestamp("2011-03-11"), pd.Timestamp("2015-12-31")),
    "T4": (pd.Timestamp("2016-01-01"), None),
}

#: column suffix of each period: ``acc_all``/``n_all`` for T_all, ``acc_T1``/``n_T1`` ...
PERIOD_SUFFIX: dict[str, str] = {"T_all": "all", "T1": "T1", "T2": "T2", "T3": "T3", "T4": "T4"}

#: how the report writes a factor value (paper notation: [730d, 0.15°, 4.0, MAE, 14d, OFF])
_UNITS: dict[str, Callable[[Any], str]] = {
    "dr": lambda v: f"{v:g}°",
    "dt": lambda v: f"{v:g}d",
    "M_lim": lambda v: f"{v:.1f}",
    "loss": lambda v: str(v).upper(),
    "l_ME": lambda v: f"{v:g}d",
    "AE": lambda v: "ON" if v else "OFF",
}
#: the paper's order of the factors in a configuration: [dt, dr, M_lim, loss, l_ME, AE]
_PAPER_NOTATION = ("dt", "dr", "M_lim", "loss", "l_ME", "AE")
_TRUE = {"true", "yes", "on", "1", "1.0"}
_FALSE = {"false", "no", "off", "0", "0.0"}

Levels = Mapping[str, Sequence[Any]]


# --------------------------------------------------------------------------------------------
# factor values and levels


def acc_col(period: str) -> str:
    """The accuracy column of a period (``T_all`` -> ``acc_all``, ``T1`` -> ``acc_T1``)."""
    return f"acc_{PERIOD_SUFFIX[period]}"


def n_col(period: str) -> str:
    """The sample-count column of a period (``T_all`` -> ``n_all``, ``T1`` -> ``n_T1``)."""
    return f"n_{PERIOD_SUFFIX[period]}"


def _as_bool(v: Any) -> Any:
    if v is None or (isinstance(v, float) and math.isnan(v)) or v is pd.NA:
        return pd.NA
    if isinstance(v, bool | np.bool_):
        return bool(v)
    s = str(v).strip().lower()
    return True if s in _TRUE else False if s in _FALSE else pd.NA


def _as_int(s: pd.Series) -> pd.Series:
    n = pd.to_numeric(s, errors="coerce").round()
    return n.astype("int64") if n.notna().all() else n.astype("Int64")


def coerce_factors(df: pd.DataFrame) -> pd.DataFrame:
    """A copy with the factor columns present in ``df`` as typed values (Table 1): ``dr`` and
    ``M_lim`` floats (rounded to 6 decimals), ``dt`` and ``l_ME`` ints, ``loss`` lower-case str,
    ``AE`` bool. MLflow params arrive as strings ("0.15", "True"); unreadable values become NA."""
    out = df.copy()
    for f in ("dr", "M_lim"):
        if f in out:
            out[f] = pd.to_numeric(out[f], errors="coerce").astype(float).round(6)
    for f in ("dt", "l_ME"):
        if f in out:
            out[f] = _as_int(out[f])
    if "loss" in out:
        out["loss"] = [v.strip().lower() if isinstance(v, str) else pd.NA for v in out["loss"]]
        out["loss"] = out["loss"].astype(object)
    if "AE" in out:
        vals = [_as_bool(v) for v in out["AE"]]
        has_na = any(v is pd.NA for v in vals)
        out["AE"] = pd.Series(vals, index=out.index, dtype=object if has_na else bool)
    return out


def _py(v: Any) -> Any:
    """A plain Python value (numpy scalars unwrapped)."""
    return v.item() if isinstance(v, np.generic) else v


def _missing(v: Any) -> bool:
    return v is None or v is pd.NA or (isinstance(v, float) and math.isnan(v))


def _same(a: Any, b: Any) -> bool:
    """Level equality: numbers within 1e-6 (0.15 == 0.1500000001), else ==."""
    num = (int, float, np.integer, np.floating)
    if (
        isinstance(a, num)
        and isinstance(b, num)
        and not isinstance(a, bool | np.bool_)
        and not isinstance(b, bool | np.bool_)
    ):
        return math.isclose(float(a), float(b), rel_tol=0.0, abs_tol=1e-6)
    if isinstance(a, bool | np.bool_) != isinstance(b, bool | np.bool_):
        return False
    return bool(a == b)


def level_index(levels: Sequence[Any], value: Any) -> int | None:
    """Position of ``value`` in ``levels`` (numbers compared within 1e-6), None if absent."""
    if _missing(value):
        return None
    for i, lv in enumerate(levels):
        if _same(lv, value):
            return i
    return None


def order_levels(factor: str, values: Sequence[Any]) -> tuple[Any, ...]:
    """``values`` without duplicates, in paper Table 1 order where they match a paper level,
    the others sorted after them (:data:`PAPER_LEVELS`)."""
    uniq: list[Any] = []
    for v in values:
        v = _py(v)
        if not _missing(v) and level_index(uniq, v) is None:
            uniq.append(v)
    paper = PAPER_LEVELS.get(factor, ())

    def key(v: Any) -> tuple[int, float, str]:
        i = level_index(paper, v)
        if i is not None:
            return (0, float(i), "")
        if isinstance(v, int | float) and not isinstance(v, bool):
            return (1, float(v), "")
        return (2, 0.0, str(v))

    return tuple(sorted(uniq, key=key))


def infer_levels(df: pd.DataFrame, factors: Sequence[str] = FACTORS) -> dict[str, tuple[Any, ...]]:
    """The levels of each factor present in ``df`` (paper order, see :func:`order_levels`)."""
    typed = coerce_factors(df)
    return {f: order_levels(f, list(typed[f])) for f in factors if f in typed}


def resolve_levels(df: pd.DataFrame, levels: Levels | None = None) -> dict[str, tuple[Any, ...]]:
    """``levels`` where given (per factor), else the levels found in ``df``."""
    found = infer_levels(df)
    given = {f: tuple(_py(v) for v in vs) for f, vs in (levels or {}).items()}
    return {f: given.get(f, found.get(f, ())) for f in FACTORS}


def describe_config(row: Mapping[str, Any]) -> str:
    """A configuration in the paper's notation, e.g. ``[730d, 0.15°, 4.0, MAE, 14d, OFF]``
    (Appendix C.1: lookback, radius, magnitude limit, loss, meta-epoch length, autoencoder)."""
    parts = []
    for f in _PAPER_NOTATION:
        v = row.get(f)
        parts.append("?" if _missing(v) else _UNITS[f](v))
    return "[" + ", ".join(parts) + "]"


def _level_label(factor: str, v: Any) -> str:
    return _UNITS[factor](v) if not _missing(v) else "?"


# --------------------------------------------------------------------------------------------
# accuracy per period


def period_span(period: str) -> str:
    """A period's days as text, e.g. ``2007-01-01 – 2011-03-10`` or ``start – 2006-12-31``."""
    lo, hi = PERIODS[period]
    return f"{lo.date() if lo is not None else 'start'} – {hi.date() if hi is not None else 'end'}"


def _days(dates: Any) -> pd.DatetimeIndex:
    """Dates as tz-naive days (tz-aware ones converted to UTC first)."""
    idx = pd.DatetimeIndex(pd.to_datetime(dates))
    if idx.tz is not None:
        idx = idx.tz_convert("UTC").tz_localize(None)
    return idx.normalize()


def period_of(dates: Any) -> np.ndarray:
    """The period (``"T1"`` .. ``"T4"``, Appendix C.1) of each forecast day; ``""`` for NaT.

    T1 start-2006-12-31, T2 2007-01-01-2011-03-10, T3 2011-03-11-2015-12-31, T4 2016-01-01 on;
    boundaries are inclusive days (a sample on 2011-03-10 is T2, on 2011-03-11 T3)."""
    d = _days(dates)
    out = np.full(len(d), "", dtype=object)
    valid = ~d.isna()
    for name, (lo, hi) in PERIODS.items():
        if name == "T_all":
            continue
        m = valid.copy()
        if lo is not None:
            m &= d >= lo
        if hi is not None:
            m &= d <= hi
        out[m] = name
    return out


def _check_columns(df: pd.DataFrame, need: Sequence[str], what: str) -> None:
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
    _check_columns(configs, ["run_id"], "configs")
    _check_columns(
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
    then the earlier row of ``acc``."""
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
        return {k: _py(v) for k, v in d.iloc[0].drop("_order").items()}

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


# --------------------------------------------------------------------------------------------
# parameter effects (Figure C.7)


def parameter_effects(acc: pd.DataFrame, levels: Levels | None = None) -> pd.DataFrame:
    """The average change of accuracy when only one factor varies (paper Figure C.7).

    For each factor p, each non-baseline level v (baseline: the first level) and each period:
    the mean over all matched pairs (configurations agreeing on the other five factors) of
    acc(p = v) - acc(p = baseline); pairs with NaN on either side are skipped. Several runs of the
    same configuration are averaged first. Columns: ``factor, level, baseline, period, effect,
    n_pairs`` (effect NaN when no pair exists)."""
    lv = resolve_levels(acc, levels)
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
    icols = [f"_i_{f}" for f in FACTORS]
    data = data.groupby(icols, as_index=False)[cols].mean()
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


# --------------------------------------------------------------------------------------------
# trajectories (Figure 8)


def trajectories(preds: pd.DataFrame) -> pd.DataFrame:
    """Per run and meta-epoch: ``date`` (its first forecast day), ``phase``, ``accuracy`` and
    ``n`` (validation samples), for Figure 8."""
    _check_columns(preds, ["run_id", "meta_epoch", "date", "label", "score"], "preds")
    p = preds[preds["label"].notna() & preds["score"].notna()]
    frame = pd.DataFrame(
        {
            "run_id": p["run_id"].to_numpy(),
            "meta_epoch": p["meta_epoch"].to_numpy(),
            "phase": p["phase"].to_numpy() if "phase" in p else "",
            "date": _days(p["date"]),
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


# --------------------------------------------------------------------------------------------
# figures


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


#: colours of the levels: the baseline blue, then the others (Figure C.7)
_LEVEL_COLOURS = (
    "tab:blue",
    "tab:orange",
    "tab:green",
    "tab:red",
    "tab:purple",
    "tab:brown",
    "tab:pink",
    "tab:olive",
    "tab:cyan",
    "tab:gray",
)


def _colour(i: int) -> str:
    return _LEVEL_COLOURS[i % len(_LEVEL_COLOURS)]


def _save(fig: Any, path: str | Path, plt: Any, dpi: int = 110) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=dpi)
    plt.close(fig)
    return path


def fig_parameter_effects(
    effects: pd.DataFrame, path: str | Path, levels: Levels | None = None, title: str = ""
) -> Path:
    """Figure C.7: one block per factor, one horizontal line per period (T_all, T1 .. T4 from top
    to bottom); the baseline at 0 in blue, the mean deviation of each other level as a circle in
    its own colour; the levels listed on the right in their colours."""
    plt = _pyplot()
    from matplotlib.transforms import blended_transform_factory

    factors = [f for f in FACTORS if (effects["factor"] == f).any()] if len(effects) else []
    lv = {f: tuple(levels[f]) for f in levels} if levels else {}
    periods = list(PERIODS)
    step = len(periods) + 1
    height = max(2.5, 0.28 * step * max(len(factors), 1) + 1.0)
    fig, ax = plt.subplots(figsize=(10, height))
    fig.subplots_adjust(
        left=0.13, right=0.62 if factors else 0.95, top=1 - 0.45 / height, bottom=0.55 / height
    )
    tr = blended_transform_factory(ax.transAxes, ax.transData)
    yt, yl = [], []
    for b, f in enumerate(factors):
        e = effects[effects["factor"] == f]
        base = e["baseline"].iloc[0]
        lvls = lv.get(f) or (base, *order_levels(f, list(e["level"])))
        lvls = tuple(lvls) if level_index(lvls, base) == 0 else (base, *lvls)
        for k, period in enumerate(periods):
            y = -(b * step + k)
            yt.append(y)
            yl.append(period)
            ax.axhline(y, color="0.85", lw=0.8, zorder=1)
            ax.plot([0], [y], "o", color=_colour(0), ms=6, zorder=3)
            for _, r in e[e["period"] == period].iterrows():
                if math.isnan(r["effect"]):
                    continue
                i = level_index(lvls, r["level"]) or 1
                ax.plot(
                    [r["effect"]], [y], "o", mfc="none", mec=_colour(i), mew=1.6, ms=7, zorder=4
                )
        yb = -(b * step) - (len(periods) - 1) / 2
        ax.text(-0.09, yb, f, transform=tr, ha="right", va="center", fontsize=10, weight="bold")
        for i, v in enumerate(lvls):
            ax.text(
                1.02 + 0.085 * i,
                yb,
                _level_label(f, v),
                transform=tr,
                ha="left",
                va="center",
                fontsize=9,
                color=_colour(i),
                weight="bold" if i == 0 else None,
            )
        if b:
            ax.axhline(-(b * step) + 1, color="0.5", lw=0.8)
    ax.axvline(0, color=_colour(0), lw=1, zorder=2)
    ax.set_yticks(yt, yl, fontsize=7)
    ax.set_xlabel("mean change in accuracy against the baseline (matched pairs)")
    ax.set_title(title or "Parameter effects (Figure C.7); baseline: first level (blue)")
    ax.text(1.02, 1.0, "levels (first = baseline)", transform=ax.transAxes, fontsize=8, va="bottom")
    if not factors:
        ax.text(
            0.5,
            0.5,
            "no parameter effects (fewer than two levels or no pairs)",
            transform=ax.transAxes,
            ha="center",
        )
    return _save(fig, path, plt)


def fig_histograms(
    acc: pd.DataFrame,
    path: str | Path,
    levels: Levels | None = None,
    title: str = "",
    bins: int = 20,
) -> Path:
    """Figure C.8: rows = factors, columns = periods (T_all, T1 .. T4); in each panel the
    accuracy histograms of the configurations grouped by that factor's level (one colour per
    level) and a vertical line at each level's mean."""
    plt = _pyplot()
    lv = resolve_levels(acc, levels)
    typed = coerce_factors(acc)
    factors = [f for f in FACTORS if f in typed and lv[f]]
    periods = list(PERIODS)
    fig, axes = plt.subplots(
        max(len(factors), 1),
        len(periods),
        squeeze=False,
        figsize=(3.2 * len(periods) + 1, 2.1 * max(len(factors), 1) + 0.8),
        constrained_layout=True,
    )
    for j, period in enumerate(periods):
        vals = typed[acc_col(period)].astype(float)
        finite = vals[np.isfinite(vals)]
        lo, hi = (float(finite.min()), float(finite.max())) if len(finite) else (0.0, 1.0)
        if hi - lo < 1e-9:
            lo, hi = lo - 0.01, hi + 0.01
        edges = np.linspace(lo, hi, bins + 1)
        for i, f in enumerate(factors):
            ax = axes[i][j]
            for k, v in enumerate(lv[f]):
                sel = np.array([level_index([v], x) == 0 for x in typed[f]], dtype=bool)
                x = vals[sel]
                x = x[np.isfinite(x)]
                if not len(x):
                    continue
                ax.hist(
                    x,
                    bins=edges,
                    histtype="stepfilled",
                    alpha=0.35,
                    color=_colour(k),
                    label=_level_label(f, v),
                )
                ax.hist(x, bins=edges, histtype="step", color=_colour(k), lw=1)
                ax.axvline(float(x.mean()), color=_colour(k), lw=1.6)
            if i == 0:
                ax.set_title(period)
            if j == len(periods) - 1:
                ax.yaxis.set_label_position("right")
                ax.set_ylabel(f, rotation=270, labelpad=14, fontsize=11)
            if j == 0 and ax.get_legend_handles_labels()[0]:
                ax.legend(fontsize=7, loc="upper left", frameon=False)
            if i == len(factors) - 1:
                ax.set_xlabel("accuracy")
            ax.tick_params(labelsize=7)
    fig.suptitle(
        title or "Accuracy distribution by parameter and period (Figure C.8); lines: level means"
    )
    return _save(fig, path, plt)


def grid_shape(levels: Levels) -> tuple[int, int]:
    """Rows and columns of the Figure C.9 grid: (AE x loss x dr, l_ME x M_lim x dt); 16 x 27
    for paper Table 1."""
    n = {f: max(len(levels[f]), 1) for f in FACTORS}
    return n["AE"] * n["loss"] * n["dr"], n["l_ME"] * n["M_lim"] * n["dt"]


def grid_position(row: Mapping[str, Any], levels: Levels) -> tuple[int, int]:
    """The (row, column) cell of a configuration in the grid of Figure C.9.

    Rows: blocks of AE (first level, paper: on, upper) x loss (MAE upper, BCE lower), each of
    ``len(dr)`` rows of dr; columns: blocks of l_ME (14, 30, 50) x M_lim (4.0, 4.5, 4.9), each of
    ``len(dt)`` columns of dt. The paper's best model [730d, 0.15°, 4.0, MAE, 14d, OFF] sits in
    the lower AE block, its upper (MAE) half, first dr row; first l_ME block, first M_lim
    sub-block, third dt column: (8, 2). Raises ValueError for a value outside ``levels``."""
    i: dict[str, int] = {}
    for f in FACTORS:
        k = level_index(tuple(levels[f]), row.get(f)) if levels[f] else 0
        if k is None:
            raise ValueError(f"{f}={row.get(f)!r} is not one of the levels {tuple(levels[f])}")
        i[f] = k
    n = {f: max(len(levels[f]), 1) for f in FACTORS}
    r = (i["AE"] * n["loss"] + i["loss"]) * n["dr"] + i["dr"]
    c = (i["l_ME"] * n["M_lim"] + i["M_lim"]) * n["dt"] + i["dt"]
    return r, c


def grid_matrix(acc: pd.DataFrame, period: str, levels: Levels) -> np.ndarray:
    """The accuracies of a period on the Figure C.9 grid (NaN where no configuration ran; the
    mean where one configuration has several runs)."""
    nr, nc = grid_shape(levels)
    tot, cnt = np.zeros((nr, nc)), np.zeros((nr, nc))
    typed = coerce_factors(acc)
    col = acc_col(period)
    for rec in typed.to_dict("records"):
        v = rec.get(col)
        if _missing(v) or not np.isfinite(v):
            continue
        try:
            r, c = grid_position(rec, levels)
        except ValueError:
            continue
        tot[r, c] += v
        cnt[r, c] += 1
    with np.errstate(invalid="ignore"):
        return np.where(cnt > 0, tot / np.maximum(cnt, 1), np.nan)


def fig_grid(
    acc: pd.DataFrame,
    path: str | Path,
    levels: Levels | None = None,
    title: str = "",
    top: int = 10,
) -> Path:
    """Figure C.9: one panel per period (T_all, T1 .. T4, top to bottom), each the grid of all
    configurations (:func:`grid_position`; 16 x 27 for the paper's levels) coloured by accuracy,
    missing configurations grey; the ``top`` best of the period framed by squares, the best one
    in red."""
    plt = _pyplot()
    from matplotlib.patches import Rectangle

    lv = resolve_levels(acc, levels)
    nr, nc = grid_shape(lv)
    n = {f: max(len(lv[f]), 1) for f in FACTORS}
    periods = list(PERIODS)
    w = min(max(6.0, 0.42 * nc + 3), 16)
    fig, axes = plt.subplots(
        len(periods),
        1,
        figsize=(w, len(periods) * (0.3 * nr + 1.3) + 0.6),
        constrained_layout=True,
        squeeze=False,
    )
    cmap = plt.get_cmap("viridis").with_extremes(bad="0.85")
    typed = coerce_factors(acc)
    for ax, period in zip(axes[:, 0], periods, strict=True):
        mat = grid_matrix(typed, period, lv)
        finite = mat[np.isfinite(mat)]
        vmin, vmax = (float(finite.min()), float(finite.max())) if len(finite) else (0.0, 1.0)
        im = ax.imshow(
            np.ma.masked_invalid(mat),
            cmap=cmap,
            vmin=vmin,
            vmax=max(vmax, vmin + 1e-6),
            aspect="auto",
            interpolation="nearest",
        )
        fig.colorbar(im, ax=ax, pad=0.01, fraction=0.03, label="accuracy")
        best = top_configs(typed, period, top)
        for k, rec in enumerate(best.to_dict("records")):
            try:
                r, c = grid_position(rec, lv)
            except ValueError:
                continue
            ax.add_patch(
                Rectangle(
                    (c - 0.5, r - 0.5),
                    1,
                    1,
                    fill=False,
                    lw=2.2 if k == 0 else 1.4,
                    ec="red" if k == 0 else "white",
                    zorder=5,
                )
            )
        for b in range(1, n["AE"] * n["loss"]):
            ax.axhline(b * n["dr"] - 0.5, color="k", lw=2.0 if b % n["loss"] == 0 else 0.8)
        for b in range(1, n["l_ME"] * n["M_lim"]):
            ax.axvline(b * n["dt"] - 0.5, color="k", lw=2.0 if b % n["M_lim"] == 0 else 0.8)
        yt = [(b + 0.5) * n["dr"] - 0.5 for b in range(n["AE"] * n["loss"])]
        yl = [
            f"AE {_level_label('AE', a)}, {_level_label('loss', lo)}"
            for a in (lv["AE"] or ("?",))
            for lo in (lv["loss"] or ("?",))
        ]
        ax.set_yticks(yt, yl, fontsize=7)
        xt = [(b + 0.5) * n["dt"] - 0.5 for b in range(n["l_ME"] * n["M_lim"])]
        xl = [
            f"{_level_label('l_ME', le)}\nM{_level_label('M_lim', m)}"
            for le in (lv["l_ME"] or ("?",))
            for m in (lv["M_lim"] or ("?",))
        ]
        ax.set_xticks(xt, xl, fontsize=6)
        span = period_span(period)
        nconf = int(np.isfinite(mat).sum())
        ax.set_title(f"{period} ({span}): {nconf} configurations", fontsize=9, loc="left")
    dr = ", ".join(_level_label("dr", v) for v in lv["dr"])
    dt = ", ".join(_level_label("dt", v) for v in lv["dt"])
    fig.suptitle(
        (title or "Accuracy of all configurations (Figure C.9)")
        + f"\nwithin each block: rows dr ({dr}), columns dt ({dt}); "
        f"squares: top {top}, red: best",
        fontsize=9,
    )
    return _save(fig, path, plt)


#: colours of M_lim in Figure 8 (paper Figure 4: Model14.0 red, Model14.9 blue)
_MLIM_COLOURS = ("tab:red", "tab:orange", "tab:blue")
_OTHER_COLOURS = ("tab:green", "tab:purple", "tab:brown", "tab:pink", "tab:olive", "tab:cyan")


def _mlim_colour(value: Any, levels: Sequence[Any]) -> str:
    """The colour of an M_lim level: the paper's three fixed (4.0 red, 4.5 orange, 4.9 blue),
    other values by their place in ``levels``; grey when unknown."""
    i = level_index(PAPER_LEVELS["M_lim"], value)
    if i is not None:
        return _MLIM_COLOURS[i]
    k = level_index(levels, value)
    return _OTHER_COLOURS[k % len(_OTHER_COLOURS)] if k is not None else "0.5"


def fig_trajectories(
    traj: pd.DataFrame,
    configs: pd.DataFrame,
    path: str | Path,
    levels: Levels | None = None,
    title: str = "",
) -> Path:
    """Figure 8: per-meta-epoch validation accuracy against date for all runs, thin lines
    coloured by M_lim, dashed vertical lines at the period boundaries (Appendix C.1)."""
    plt = _pyplot()
    from matplotlib.lines import Line2D

    typed = coerce_factors(configs)
    lv = resolve_levels(typed, levels)
    mlim = dict(zip(typed["run_id"], typed["M_lim"], strict=True)) if "M_lim" in typed else {}
    fig, ax = plt.subplots(figsize=(12, 4.8), constrained_layout=True)
    alpha = float(np.clip(25.0 / max(traj["run_id"].nunique(), 1), 0.1, 0.7))
    for run_id, g in traj.sort_values(["run_id", "meta_epoch"]).groupby("run_id", sort=True):
        colour = _mlim_colour(mlim.get(run_id), lv["M_lim"])
        ax.plot(pd.to_datetime(g["date"]), g["accuracy"], color=colour, lw=0.6, alpha=alpha)
    if len(traj):
        d = pd.to_datetime(traj["date"])
        for name, (lo, _) in PERIODS.items():
            if name not in ("T_all", "T1") and lo is not None and d.min() < lo <= d.max():
                ax.axvline(lo, color="k", ls="--", lw=0.9)
                ax.text(lo, 1.04, f" {name}", fontsize=8, va="bottom")
    handles = [
        Line2D(
            [],
            [],
            color=_mlim_colour(v, lv["M_lim"]),
            lw=2,
            label=f"M_lim {_level_label('M_lim', v)}",
        )
        for v in lv["M_lim"]
    ]
    if handles:
        ax.legend(handles=handles, loc="lower right", fontsize=8)
    ax.set_ylim(-0.03, 1.1)
    ax.set_ylabel("validation accuracy per meta-epoch")
    ax.set_title(
        title or f"Validation accuracy over time, {traj['run_id'].nunique()} runs (Figure 8)"
    )
    return _save(fig, path, plt)


# --------------------------------------------------------------------------------------------
# the report


def _fmt(v: Any, digits: int = 3, sign: bool = False) -> str:
    if _missing(v):
        return "–"
    if isinstance(v, float | np.floating):
        return f"{v:+.{digits}f}" if sign else f"{v:.{digits}f}"
    return str(v)


def _md_table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> list[str]:
    out = ["| " + " | ".join(headers) + " |", "|" + "|".join("---" for _ in headers) + "|"]
    out += ["| " + " | ".join(str(c) for c in r) + " |" for r in rows]
    return out


def _period_notes(acc: pd.DataFrame) -> list[str]:
    notes = []
    total = len(acc)
    for period in PERIODS:
        span = period_span(period)
        have = int((acc[n_col(period)] > 0).sum()) if total else 0
        if have == 0:
            notes.append(f"- {period} ({span}): **empty**, no run has samples in it")
        elif have < total:
            notes.append(f"- {period} ({span}): samples in {have} of {total} runs")
        else:
            notes.append(f"- {period} ({span}): samples in all {total} runs")
    return notes


def _best_lines(label: str, row: dict[str, Any] | None) -> list[str]:
    if row is None:
        return [f"- **{label}**: none (no run with an accuracy)"]
    factors = ", ".join(f"{f}={_py(row.get(f))}" for f in FACTORS)
    accs = ", ".join(f"{p} {_fmt(row.get(acc_col(p)))} (n {row.get(n_col(p), 0)})" for p in PERIODS)
    return [
        f"- **{label}**: {describe_config(row)} — run `{row.get('run_id')}`",
        f"  - factors: {factors}",
        f"  - accuracy: {accs}",
    ]


def write_report(
    acc: pd.DataFrame,
    preds: pd.DataFrame,
    configs: pd.DataFrame,
    out_dir: str | Path,
    title: str,
    meta: Mapping[str, Any] | None = None,
) -> dict[str, Path]:
    """Write the sweep report (paper Appendix C.1 and Figure 8) to ``out_dir``:
    ``sweep_report.md``, ``accuracy_by_period.csv`` (all runs), ``parameter_effects.csv`` and
    the figures ``fig_c7_parameter_effects.png``, ``fig_c8_histograms.png``, ``fig_c9_grid.png``
    and ``fig_8_trajectories.png``. ``acc`` comes from :func:`period_accuracy`; ``preds`` are the
    predictions the trajectories are drawn from; ``meta`` adds lines (experiment, tracking URI,
    runs finished / expected). Returns file name -> path."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    lv = resolve_levels(acc)
    effects = parameter_effects(acc, lv)
    traj = trajectories(preds)
    best = best_configs(acc)
    paths: dict[str, Path] = {}
    p = out / "accuracy_by_period.csv"
    acc.to_csv(p, index=False)
    paths[p.name] = p
    p = out / "parameter_effects.csv"
    effects.to_csv(p, index=False)
    paths[p.name] = p
    for name, draw in (
        ("fig_c7_parameter_effects.png", lambda q: fig_parameter_effects(effects, q, lv)),
        ("fig_c8_histograms.png", lambda q: fig_histograms(acc, q, lv)),
        ("fig_c9_grid.png", lambda q: fig_grid(acc, q, lv)),
        ("fig_8_trajectories.png", lambda q: fig_trajectories(traj, configs, q, lv)),
    ):
        paths[name] = draw(out / name)

    n_with = int((acc["n_all"] > 0).sum()) if len(acc) else 0
    lines = [f"# {title}", ""]
    for k, v in (meta or {}).items():
        lines.append(f"- {k}: {v}")
    lines += [
        f"- configurations with predictions: {n_with} of {len(acc)}",
        "- accuracy: correct / samples, pooled over all meta-epochs of a period "
        "(threshold 0.5); periods by the forecast day (Appendix C.1)",
        "- levels (first = baseline of the parameter effects): "
        + "; ".join(f"{f} " + ", ".join(_level_label(f, v) for v in lv[f]) for f in FACTORS),
        "",
        "## Periods",
        "",
        *_period_notes(acc),
        "",
        "## Best configurations",
        "",
        *_best_lines("best overall (Model14.0 analogue)", best["overall"]),
        *_best_lines("best with M_lim 4.9 (Model14.9 analogue)", best["m_lim"]),
        "",
        "## Top 20 by accuracy over all periods",
        "",
    ]
    top = top_configs(acc, "T_all", 20)
    heads = ["#", "configuration", *FACTORS, *(acc_col(q) for q in PERIODS), "n_all", "run"]
    rows = [
        [
            i + 1,
            describe_config(r),
            *(str(_py(r.get(f))) for f in FACTORS),
            *(_fmt(r.get(acc_col(q))) for q in PERIODS),
            r.get("n_all"),
            f"`{r.get('run_id')}`",
        ]
        for i, r in enumerate(top.to_dict("records"))
    ]
    lines += _md_table(heads, rows) if rows else ["(no run has predictions yet)"]
    lines += [
        "",
        "## Parameter effects (Figure C.7)",
        "",
        "Mean accuracy change against the baseline level over matched pairs "
        "(configurations equal in the other five factors); n = pairs (T_all).",
        "",
    ]
    if len(effects):
        erows = []
        for f in FACTORS:
            e = effects[effects["factor"] == f]
            for j in range(0, len(e), len(PERIODS)):
                chunk = e.iloc[j : j + len(PERIODS)]
                r0 = chunk.iloc[0]
                by_period = dict(zip(chunk["period"], chunk["effect"], strict=True))
                pairs = dict(zip(chunk["period"], chunk["n_pairs"], strict=True))
                erows.append(
                    [
                        f,
                        f"{_level_label(f, r0['level'])} vs {_level_label(f, r0['baseline'])}",
                        *(_fmt(by_period.get(q), 4, sign=True) for q in PERIODS),
                        int(pairs.get("T_all", 0)),
                    ]
                )
        lines += _md_table(["factor", "level", *PERIODS, "n"], erows)
    else:
        lines.append("(no factor has two levels)")
    lines += [
        "",
        "## Figures",
        "",
        "![Figure C.7: parameter effects](fig_c7_parameter_effects.png)",
        "",
        "![Figure C.8: histograms](fig_c8_histograms.png)",
        "",
        "![Figure C.9: all configurations](fig_c9_grid.png)",
        "",
        "![Figure 8: validation accuracy over time](fig_8_trajectories.png)",
        "",
    ]
    p = out / "sweep_report.md"
    p.write_text("\n".join(lines), encoding="utf-8")
    paths[p.name] = p
    return paths
