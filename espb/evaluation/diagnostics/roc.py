"""ROC analysis of Appendix D (Figures D.10, D.11; E.15, E.16 for Model14.0): the ROC curve,
its AUC, the optimal threshold (Youden's J = TPR - FPR, maximal), the metrics of Eqs. 7 and
D.1-D.4 at 0.5 and at the optimum, the confusion matrix at 0.5, and ROC curves for six
equal-length intervals of the development period.

The curve is computed as scikit-learn's ``roc_curve(drop_intermediate=False)`` does (one
point per distinct score, thresholds descending, the first at +inf; a sample is positive when
``score >= threshold``); the tests check it against scikit-learn.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from espb.evaluation.diagnostics.plotting import new_figure, no_data
from espb.training.metrics import classification_metrics


@dataclass
class Roc:
    """One ROC analysis: the curve (``fpr``, ``tpr``, ``thresholds``), ``auc`` (trapezoid
    under the curve), the Youden-optimal ``threshold`` and its ``j``, the metrics at 0.5 and at
    the optimum (``metrics``: one row each) and the confusion matrix at 0.5
    (``[[tn, fp], [fn, tp]]``, rows true nEQ/EQ, columns predicted)."""

    fpr: np.ndarray
    tpr: np.ndarray
    thresholds: np.ndarray
    auc: float
    threshold: float
    j: float
    metrics: pd.DataFrame
    confusion: np.ndarray
    n_eq: int
    n_neq: int

    def curve(self) -> pd.DataFrame:
        return pd.DataFrame({"fpr": self.fpr, "tpr": self.tpr, "threshold": self.thresholds})


def roc_curve(labels: np.ndarray, scores: np.ndarray) -> tuple[np.ndarray, ...]:
    """``fpr, tpr, thresholds`` as ``sklearn.metrics.roc_curve(..., drop_intermediate=False)``."""
    y = np.asarray(labels).astype(bool)
    s = np.asarray(scores, np.float64)
    if not len(s):
        return np.array([np.nan]), np.array([np.nan]), np.array([np.inf])
    order = np.argsort(-s, kind="mergesort")
    s, y = s[order], y[order]
    last = np.r_[np.flatnonzero(np.diff(s)), len(s) - 1]  # last index of each distinct score
    tps = np.cumsum(y)[last]
    fps = (last + 1) - tps
    tps, fps = np.r_[0, tps], np.r_[0, fps]
    thr = np.r_[np.inf, s[last]]
    n1, n0 = tps[-1], fps[-1]
    with np.errstate(invalid="ignore", divide="ignore"):
        return fps / n0, tps / n1, thr


def _metrics_at(y: np.ndarray, s: np.ndarray, thr: float, name: str) -> dict:
    m = classification_metrics(y, s, thr)
    fpr = m["fp"] / (m["fp"] + m["tn"]) if m["fp"] + m["tn"] else float("nan")
    keep = ("accuracy", "precision", "recall", "f1", "tp", "fp", "tn", "fn")
    return {"at": name, "threshold": thr, **{k: m[k] for k in keep}, "fpr": fpr}


def roc_analysis(labels: np.ndarray, scores: np.ndarray) -> Roc:
    """Figure D.10 data for one set of samples (both classes needed for a curve)."""
    y = np.asarray(labels).astype(bool)
    s = np.asarray(scores, np.float64)
    fpr, tpr, thr = roc_curve(y, s)
    both = y.any() and (~y).any()
    auc = float(np.trapezoid(tpr, fpr)) if both else float("nan")
    if both:
        k = int(np.argmax(tpr - fpr))
        opt, j = float(thr[k]), float(tpr[k] - fpr[k])
    else:
        opt, j = float("nan"), float("nan")
    rows = [_metrics_at(y, s, 0.5, "0.5")]
    if np.isfinite(opt):
        rows.append(_metrics_at(y, s, opt, "optimal (Youden)"))
    m = rows[0]
    conf = np.array([[m["tn"], m["fp"]], [m["fn"], m["tp"]]], dtype=np.int64)
    return Roc(fpr, tpr, thr, auc, opt, j, pd.DataFrame(rows), conf, int(y.sum()), int((~y).sum()))


def _roc_axes(ax, r: Roc, title: str) -> None:
    ax.plot([0, 1], [0, 1], color="0.6", ls="--", lw=0.8)
    if r.n_eq and r.n_neq:
        ax.plot(r.fpr, r.tpr, color="C0", lw=1.5)
        half = r.metrics.iloc[0]
        ax.plot(half["fpr"], half["recall"], "o", color="k", ms=5, label="threshold 0.5")
        if np.isfinite(r.threshold):
            o = r.metrics.iloc[1]
            ax.plot(
                o["fpr"],
                o["recall"],
                "s",
                color="C3",
                ms=5,
                label=f"optimal {r.threshold:.3g} (J {r.j:.2f})",
            )
        ax.legend(loc="lower right", fontsize=7)
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1.01)
    ax.set_aspect("equal")
    ax.set_title(f"{title}\nAUC {r.auc:.3f}, {r.n_eq} EQ / {r.n_neq} nEQ", fontsize=8)


def roc_figure(r: Roc, title: str = "") -> Figure:
    """Figure D.10: ROC curve with the 0.5 and optimal thresholds marked, bars of accuracy,
    precision, recall and F1 at both thresholds, and the confusion matrix at 0.5."""
    fig = new_figure(12, 4.2)
    if not (r.n_eq and r.n_neq):
        return no_data(fig, f"ROC needs both classes ({r.n_eq} EQ, {r.n_neq} nEQ)")
    ax, bx, cx = fig.subplots(1, 3, width_ratios=[1.1, 1.2, 0.9])
    _roc_axes(ax, r, "ROC")
    ax.set_xlabel("false-positive rate")
    ax.set_ylabel("true-positive rate (recall)")
    names = ["accuracy", "precision", "recall", "f1"]
    x = np.arange(len(names))
    for i, row in r.metrics.reset_index(drop=True).iterrows():
        vals = [row[n] for n in names]
        bars = bx.bar(
            x + (i - 0.5) * 0.38, vals, 0.38, label=f"{row['at']} ({row['threshold']:.3g})"
        )
        bx.bar_label(bars, fmt="%.2f", fontsize=7)
    bx.set_xticks(x, names)
    bx.set_ylim(0, 1.1)
    bx.legend(fontsize=7, loc="lower right")
    bx.set_title("metrics at 0.5 and at the optimum", fontsize=8)
    cx.imshow(r.confusion, cmap="Blues")
    for (i, j), v in np.ndenumerate(r.confusion):
        cx.text(j, i, str(v), ha="center", va="center", fontsize=11)
    cx.set_xticks([0, 1], ["nEQ", "EQ"])
    cx.set_yticks([0, 1], ["nEQ", "EQ"])
    cx.set_xlabel("predicted (threshold 0.5)")
    cx.set_ylabel("true")
    cx.set_title("confusion matrix at 0.5", fontsize=8)
    fig.suptitle(title or "ROC (Figure D.10)")
    return fig


def roc_intervals(
    pred: pd.DataFrame,
    n: int = 6,
    start: pd.Timestamp | None = None,
    end: pd.Timestamp | None = None,
) -> tuple[pd.DataFrame, list[Roc]]:
    """Figure D.11 data (paper Appendix D, six equal intervals of the development period):
    ``pred`` cut into ``n`` intervals of equal length in time over ``[start, end)`` and the
    ROC of each: a table ``interval, start, end, n_eq, n_neq, auc, threshold, j, accuracy_0.5,
    accuracy_opt`` and the :class:`Roc` list.

    Give the period (the report gives the first validation day and the day after
    ``dev_end``): then each interval depends on its own predictions only. Without it the
    period runs from the first to the last forecast day in ``pred``, so a later prediction
    moves every edge."""
    if not len(pred):
        return pd.DataFrame(), []
    d = pd.to_datetime(pred["date"])
    lo = pd.Timestamp(start) if start is not None else d.min()
    hi = pd.Timestamp(end) if end is not None else d.max() + pd.Timedelta(days=1)
    if d.dt.tz is not None:
        lo = lo.tz_localize(d.dt.tz) if lo.tzinfo is None else lo
        hi = hi.tz_localize(d.dt.tz) if hi.tzinfo is None else hi
    edges = pd.DatetimeIndex([lo + (hi - lo) * i / n for i in range(n + 1)])
    rows, rocs = [], []
    for i in range(n):
        m = ((d >= edges[i]) & (d < edges[i + 1])).to_numpy()
        r = roc_analysis(pred["label"].to_numpy()[m], pred["score"].to_numpy()[m])
        acc = r.metrics["accuracy"].tolist() + [float("nan")]
        rows.append(
            (
                i + 1,
                edges[i],
                edges[i + 1],
                r.n_eq,
                r.n_neq,
                r.auc,
                r.threshold,
                r.j,
                acc[0],
                acc[1] if len(r.metrics) > 1 else float("nan"),
            )
        )
        rocs.append(r)
    cols = [
        "interval",
        "start",
        "end",
        "n_eq",
        "n_neq",
        "auc",
        "threshold",
        "j",
        "accuracy_0.5",
        "accuracy_opt",
    ]
    return pd.DataFrame(rows, columns=cols), rocs


def roc_intervals_figure(table: pd.DataFrame, rocs: list[Roc], title: str = "") -> Figure:
    """Figure D.11: the ROC curve of each interval with its optimal threshold."""
    fig = new_figure(3.0 * max(len(rocs), 1), 3.6)
    if not rocs:
        return no_data(fig, "no development-period predictions")
    axs = fig.subplots(1, len(rocs), squeeze=False)[0]
    for ax, r, (_, row) in zip(axs, rocs, table.iterrows(), strict=True):
        _roc_axes(ax, r, f"{row['start']:%Y-%m-%d} – {row['end']:%Y-%m-%d}")
        ax.set_xlabel("FPR")
    axs[0].set_ylabel("TPR")
    fig.suptitle(title or "ROC for six equal intervals of the development period (Figure D.11)")
    return fig
