"""The figures of the run report, one step each: compute the data (the data functions of this
package), draw the figure, and return both with a short factual summary for the page. The
writer (:mod:`.report`) saves them; nothing here writes files."""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from espb.evaluation.diagnostics import neq_pool, roc, scores, segments, weights
from espb.evaluation.diagnostics.plotting import Annotations
from espb.evaluation.diagnostics.run_data import RunFolder
from espb.training import figures as acc_mod  # Figure 5: one drawing with the run's accuracy.png
from espb.training.inputs import RunInputs


@dataclass
class ReportOptions:
    """What the run report computes besides the defaults.

    - ``snapshots``: Figure 6, every snapshot on all later validation data (costs about
      snapshots x samples / 2 block evaluations; off by default, see docs/diagnostics.md);
    - ``l_mes``: further meta-epoch lengths for Figure 3 beside the run's (e.g. 14, 30, 50);
    - ``completeness`` / ``mc_method``: Figure B.3 and its Mc estimator (``mbs``, ``maxc``,
      ``ks``: :mod:`.completeness`);
    - ``pool_grid``: settings to vary for Figure B.5 (``{"samples.m_lim": [4.0, 4.9]}``);
    - ``build_cube``: build a cube missing from the cache (else that is an error);
    - ``annotations``: dated markers; None reads ``region.annotations`` of the run's config;
    - ``html``: an HTML page beside the Markdown one."""

    snapshots: bool = False
    l_mes: tuple[int, ...] = ()
    completeness: bool = True
    mc_method: str = "mbs"
    pool_grid: dict[str, list] = field(default_factory=dict)
    build_cube: bool = False
    annotations: Annotations | None = None
    html: bool = True


@dataclass
class Step:
    """One figure of the report: ``key`` names its files (``<key>.png``, ``<key>_<name>.csv``
    or ``.parquet`` per table), ``paper`` the paper figure it reproduces."""

    key: str
    paper: str
    title: str
    figure: Figure
    tables: dict[str, pd.DataFrame]
    summary: str
    seconds: float = 0.0


#: what a figure's function computes: the figure, its tables and its summary
Figured = tuple[Figure, dict[str, pd.DataFrame], str]


def figure(
    key: str, paper: str, title: str
) -> Callable[[Callable[..., Figured]], Callable[..., Step]]:
    """A report step: the decorated function computes (figure, tables, summary); called, it
    returns them as the :class:`Step` ``key`` (its files), ``paper`` (the figure it reproduces),
    ``title``."""

    def deco(fn: Callable[..., Figured]) -> Callable[..., Step]:
        @functools.wraps(fn)
        def step(*args: Any, **kwargs: Any) -> Step:
            fig, tables, summary = fn(*args, **kwargs)
            return Step(key, paper, title, fig, tables, summary)

        return step

    return deco


@dataclass
class Context:
    run: RunFolder
    inputs: RunInputs
    opts: ReportOptions
    annotations: Annotations
    dev_end: pd.Timestamp
    me_dates: dict[int, pd.Timestamp]
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def cache_dir(self) -> Path:
        return self.inputs.cache_root


@figure("fig03_eq_per_segment", "Figure 3", "EQ samples per meta-epoch")
def fig03(ctx: Context) -> Figured:
    s, t = ctx.inputs.samples, ctx.run.plan.settings.training
    l_mes = sorted({int(t.l_me), *map(int, ctx.opts.l_mes)})
    data = pd.concat(
        [
            segments.eq_counts_per_segment(
                s.eq["target"].to_numpy(),
                s.cfg.lookback,
                s.grid.n_days,
                lm,
                t.warmup,
                s.grid.date,
                ctx.inputs.dev_end,
            )
            for lm in l_mes
        ],
        ignore_index=True,
    )
    parts = []
    for lm in l_mes:
        d = data[(data["l_me"] == lm) & (data["meta_epoch"] >= 0)]
        if len(d):
            top = d.loc[d["n_eq"].idxmax()]
            parts.append(
                f"l_ME {lm} d: {len(d)} meta-epochs, {int(d['n_eq'].sum())} EQ samples, median "
                f"{d['n_eq'].median():g} and at most {int(top['n_eq'])} per meta-epoch "
                f"(from {top['date']:%Y-%m-%d})"
            )
    fig = segments.eq_count_figure(data, ctx.annotations)
    return fig, {"counts": data}, "; ".join(parts) or "no meta-epoch"


@figure("fig04_neq_availability", "Figure 4", "nEQ availability")
def fig04(ctx: Context) -> Figured:
    s = ctx.inputs.samples
    ot = neq_pool.pool_over_time(
        s.pool, s.mean_counts, s.cfg.lookback, s.grid.date, ctx.inputs.bounds
    )
    cells = neq_pool.pool_map(s.pool, s.grid, day_lo=s.cfg.lookback)
    fig = neq_pool.pool_figure(
        ot,
        cells,
        ctx.annotations,
        ctx.dev_end,
        title=f"nEQ availability, M_lim {s.cfg.m_lim} (Figure 4)",
    )
    lo = ot.loc[ot["share"].idxmin()] if len(ot) else None
    summ = (
        f"M_lim {s.cfg.m_lim}: on average {ot['share'].mean():.1%} of the block centres are nEQ "
        f"candidates per day ({ot['n_candidates'].mean():,.0f} of {ot['n_centres'].mean():,.0f}); "
        f"lowest {lo['share']:.1%} on {lo['date']:%Y-%m-%d}; "
        f"{int((cells > 0).sum())} of {cells.size} cells are candidates on some day"
        if lo is not None
        else "no forecast day"
    )
    table = cells.to_dataframe().reset_index()
    return fig, {"per_day": ot, "map": table}, summ


@figure("fig05_accuracy", "Figure 5 / E.12", "accuracy per meta-epoch")
def fig05(ctx: Context) -> Figured:
    data = acc_mod.accuracy_data(ctx.run.metrics)
    fig = acc_mod.accuracy_figure(
        data, ctx.annotations, title=f"{ctx.run.name}: accuracy per meta-epoch (Figure 5)"
    )
    parts = []
    for ph, name in (("dev", "development"), ("test", "test period")):
        d = data[data["phase"] == ph]
        if len(d):
            parts.append(
                f"{name}: cumulative accuracy {d['acc_cumulative'].iloc[-1]:.3f} on "
                f"{int(d['n'].sum())} samples ({len(d)} meta-epochs)"
            )
    lvl = acc_mod.train_level(data)
    parts.append(
        f"training-set accuracy level {lvl:.3f}"
        if np.isfinite(lvl)
        else "no training-set accuracy recorded (run written before it was)"
    )
    return fig, {"accuracy": data}, "; ".join(parts)


@figure("fig07_weight_change", "Figure 7", "weight change per meta-epoch")
def fig07(ctx: Context) -> Figured:
    mes, states = weights.load_snapshots(ctx.run.weights)
    data = weights.weight_changes(states, mes)
    ctx.extra["states"] = dict(zip(mes, states, strict=True))
    fig = weights.weight_change_figure(data, ctx.me_dates)
    if len(data):
        a = data[data["block"] == "all"]
        top = a.loc[a["change"].idxmax()]
        per = data[data["block"] != "all"].groupby("block", sort=False)["change_per_param"].median()
        summ = (
            f"{len(mes)} snapshots; largest overall change {top['change']:.3g} into meta-epoch "
            f"{int(top['meta_epoch'])} ({ctx.me_dates.get(int(top['meta_epoch']), pd.NaT):%Y-%m-%d});"
            f" median change per parameter largest in {per.idxmax()} ({per.max():.3g}), "
            f"smallest in {per.idxmin()} ({per.min():.3g})"
        )
    else:
        summ = f"{len(mes)} snapshot(s): no change to show"
    return fig, {"changes": data}, summ


@figure("fig09_scores", "Figure 9 / E.14", "model output against magnitude and data density")
def fig09(ctx: Context) -> Figured:
    pred, period = scores.period_predictions(ctx.run.predictions)
    mag = scores.score_by_magnitude(pred, period=period)
    cnt = scores.score_by_mean_count(pred, period=period)
    fig = scores.score_figure(mag, cnt)
    st = mag.stats[(mag.stats["label"] == 1) & (mag.stats["n"] > 0)]
    summ = f"{period}: {int((pred['label'] == 1).sum())} EQ, {int((pred['label'] == 0).sum())} nEQ"
    if len(st):
        summ += "; mean EQ score per magnitude bin " + ", ".join(
            f"{r.lo:.2f}-{r.hi:.2f}: {r.mean:.2f} (n {r.n})" for r in st.itertuples()
        )
    c = cnt.stats[cnt.stats["n"] > 0].pivot(index="bin", columns="label", values="mean")
    if {0, 1} <= set(c.columns):
        both = c.dropna()
        summ += (
            f"; EQ mean above nEQ mean in {int((both[1] > both[0]).sum())} of {len(both)} "
            "mean-count bins with both classes"
        )
    tables = {
        "magnitude": mag.stats,
        "mean_count": cnt.stats,
        "samples": pred[["sid", "meta_epoch", "phase", "label", "score", "mw", "mean_count"]],
    }
    return fig, tables, summ


@figure("figB4_training_eq", "Figure B.4", "cumulative EQ samples in the training set")
def figB4(ctx: Context) -> Figured:
    data = segments.training_eq_cumulative(
        ctx.inputs.table, ctx.inputs.meta_epochs, ctx.inputs.samples.grid.date
    )
    fig = segments.training_eq_figure(data, ctx.annotations, ctx.dev_end)
    summ = "no meta-epoch"
    if len(data):
        last = data.iloc[-1]
        summ = f"{int(last['n_eq_train'])} EQ samples in the last training set ({last['date']:%Y-%m-%d})"
        for d, label in ctx.annotations:
            before = data[data["date"] <= d]
            if len(before) and last["n_eq_train"]:
                share = 1 - before["n_eq_train"].iloc[-1] / last["n_eq_train"]
                summ += f"; {share:.0%} of them after {label or f'{d:%Y-%m-%d}'}"
    return fig, {"training": data}, summ


@figure("figD10_roc", "Figure D.10 / E.15", "ROC with the optimal threshold")
def figD10(ctx: Context) -> Figured:
    pred, period = scores.period_predictions(ctx.run.predictions)
    r = roc.roc_analysis(pred["label"].to_numpy(), pred["score"].to_numpy())
    fig = roc.roc_figure(r, title=f"ROC, {period} (Figure D.10 / E.15)")
    m = r.metrics.set_index("at")
    summ = f"{period}: {r.n_eq} EQ / {r.n_neq} nEQ, AUC {r.auc:.3f}"
    if len(m) > 1:
        summ += (
            f"; optimal threshold {r.threshold:.3g} (J {r.j:.3f}): accuracy "
            f"{m['accuracy'].iloc[1]:.3f} against {m['accuracy'].iloc[0]:.3f} at 0.5"
        )
    conf = pd.DataFrame(r.confusion, index=["true nEQ", "true EQ"], columns=["pred nEQ", "pred EQ"])
    return (
        fig,
        {"curve": r.curve(), "metrics": r.metrics, "confusion": conf.reset_index(names="")},
        summ,
    )


@figure(
    "figD11_roc_intervals", "Figure D.11 / E.16", "ROC for six intervals of the development period"
)
def figD11(ctx: Context) -> Figured:
    pred = ctx.run.predictions
    dev = pred[pred["phase"] == "dev"] if len(pred) else pred
    # the development period by the schedule (first validation day .. dev_end), not by the
    # predictions, so that an interval depends on its own days only
    m = ctx.run.metrics
    first = pd.to_datetime(m.loc[m["phase"] == "dev", "date"]).min()
    end = ctx.dev_end + pd.Timedelta(days=1)
    table, rocs = roc.roc_intervals(dev, 6, first if pd.notna(first) else None, end)
    fig = roc.roc_intervals_figure(table, rocs)
    summ = "no development-period predictions"
    if len(table):
        summ = "optimal thresholds " + ", ".join(
            f"{r.start:%Y-%m}: {r.threshold:.3g} (AUC {r.auc:.2f})" for r in table.itertuples()
        )
    return fig, {"intervals": table}, summ
