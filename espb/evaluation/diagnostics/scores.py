"""Model output against event magnitude and against the mean event count of the block (paper
Sections 5.3-5.4, Figure 9; Figure E.14 for Model14.0), on the test period (the development
period, labelled so, when a run has no test period)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from espb.evaluation.diagnostics.plotting import new_figure, no_data


@dataclass
class ScoreBins:
    """Scores grouped by bin: ``samples`` (one row per sample: ``label, score, value, bin``,
    bin -1 outside every bin) and ``stats`` (one row per bin and class: ``bin, lo, hi, label,
    n, mean, median``)."""

    samples: pd.DataFrame
    stats: pd.DataFrame
    what: str
    period: str


def period_predictions(pred: pd.DataFrame) -> tuple[pd.DataFrame, str]:
    """The test-period predictions and ``"test period"``; the development ones and
    ``"development period (the run has no test period)"`` when there are none."""
    if len(pred) and (pred["phase"] == "test").any():
        return pred[pred["phase"] == "test"], "test period"
    return pred[pred["phase"] == "dev"], "development period (the run has no test period)"


def _binned(
    label: np.ndarray,
    score: np.ndarray,
    value: np.ndarray,
    edges: np.ndarray,
    what: str,
    period: str,
) -> ScoreBins:
    b = np.searchsorted(edges, value, side="right") - 1
    last = value == edges[-1]  # the top edge belongs to the last bin
    b[last] = len(edges) - 2
    b[(b < 0) | (b > len(edges) - 2) | ~np.isfinite(value)] = -1
    samples = pd.DataFrame({"label": label, "score": score, "value": value, "bin": b})
    rows = []
    for i in range(len(edges) - 1):
        for lab in (0, 1):
            s = score[(b == i) & (label == lab)]
            rows.append(
                (
                    i,
                    edges[i],
                    edges[i + 1],
                    lab,
                    len(s),
                    float(s.mean()) if len(s) else np.nan,
                    float(np.median(s)) if len(s) else np.nan,
                )
            )
    stats = pd.DataFrame(rows, columns=["bin", "lo", "hi", "label", "n", "mean", "median"])
    return ScoreBins(samples, stats, what, period)


def score_by_magnitude(pred: pd.DataFrame, width: float = 0.25, period: str = "") -> ScoreBins:
    """Figure 9 (top): EQ scores in magnitude bins of ``width`` from the smallest magnitude
    (rounded down to the width) to the largest."""
    eq = pred[pred["label"] == 1]
    mw = eq["mw"].to_numpy(float)
    if not len(eq):
        edges = np.array([0.0, width])
    else:
        lo = np.floor(np.nanmin(mw) / width) * width
        hi = max(np.ceil(np.nanmax(mw) / width) * width, lo + width)
        edges = np.round(np.arange(lo, hi + width / 2, width), 6)
    return _binned(
        eq["label"].to_numpy(), eq["score"].to_numpy(float), mw, edges, "magnitude Mw", period
    )


def score_by_mean_count(pred: pd.DataFrame, n_bins: int = 8, period: str = "") -> ScoreBins:
    """Figure 9 (bottom): EQ and nEQ scores in bins of the block's mean event count per
    cylinder (``mean_count``), edges at quantiles of both classes pooled."""
    v = pred["mean_count"].to_numpy(float)
    fin = v[np.isfinite(v)]
    if not len(fin):
        edges = np.array([0.0, 1.0])
    else:
        edges = np.unique(np.round(np.quantile(fin, np.linspace(0, 1, n_bins + 1)), 1))
        if len(edges) < 2:
            edges = np.array([fin.min(), fin.min() + 1.0])
        edges[0], edges[-1] = min(edges[0], fin.min()), max(edges[-1], fin.max())
    return _binned(
        pred["label"].to_numpy(),
        pred["score"].to_numpy(float),
        v,
        edges,
        "mean events per cylinder in the block",
        period,
    )


def _violins(ax, samples, stats, label, offset, width, colour, hatch):
    pos, data = [], []
    for i in sorted(stats["bin"].unique()):
        s = samples["score"][(samples["bin"] == i) & (samples["label"] == label)].to_numpy()
        if len(s) > 1:
            pos.append(i + offset)
            data.append(s)
    if data:
        parts = ax.violinplot(data, positions=pos, widths=width, showextrema=False)
        for b in parts["bodies"]:
            b.set_facecolor(colour)
            b.set_alpha(0.35)
            if hatch:
                b.set_hatch(hatch)
                b.set_edgecolor("k")
    for _, r in stats[stats["label"] == label].iterrows():
        if r["n"] == 0:
            continue
        x = r["bin"] + offset
        ax.hlines(r["mean"], x - width / 2, x + width / 2, color=colour, lw=2)
        ax.hlines(r["median"], x - width / 2, x + width / 2, color="k", lw=1)
        ax.annotate(
            str(int(r["n"])),
            (x, 1.0),
            xytext=(0, 2),
            textcoords="offset points",
            ha="center",
            fontsize=6,
        )


def score_figure(mag: ScoreBins, cnt: ScoreBins, title: str = "") -> Figure:
    """Figure 9: top, EQ scores per magnitude bin (violins, each score an x on the centre line,
    mean coloured, median black, counts above); bottom, scores per mean-count bin, nEQ (plain)
    and EQ (hatched) side by side with their counts."""
    fig = new_figure(10, 7.5)
    if not len(mag.samples) and not len(cnt.samples):
        return no_data(fig, f"no predictions in the {mag.period}")
    ax, bx = fig.subplots(2, 1)
    _violins(ax, mag.samples, mag.stats, 1, 0.0, 0.8, "C3", None)
    inb = mag.samples[mag.samples["bin"] >= 0]
    ax.plot(inb["bin"], inb["score"], "x", color="k", ms=3, alpha=0.6)
    bins = mag.stats.drop_duplicates("bin")
    ax.set_xticks(
        bins["bin"],
        [f"{lo:.2f}–{hi:.2f}" for lo, hi in zip(bins["lo"], bins["hi"], strict=True)],
        fontsize=7,
        rotation=30,
    )
    ax.set_xlabel(mag.what)
    ax.set_ylabel("model output (EQ)")
    ax.set_ylim(-0.02, 1.08)
    _violins(bx, cnt.samples, cnt.stats, 0, -0.2, 0.38, "C0", None)
    _violins(bx, cnt.samples, cnt.stats, 1, 0.2, 0.38, "C3", "///")
    bins = cnt.stats.drop_duplicates("bin")
    bx.set_xticks(
        bins["bin"],
        [f"{lo:.1f}–{hi:.1f}" for lo, hi in zip(bins["lo"], bins["hi"], strict=True)],
        fontsize=7,
        rotation=30,
    )
    bx.set_xlabel(cnt.what + "  (left nEQ, right EQ hatched; counts above)")
    bx.set_ylabel("model output")
    bx.set_ylim(-0.02, 1.08)
    for a in (ax, bx):
        a.axhline(0.5, color="grey", lw=0.6)
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    ax.legend(
        handles=[
            Line2D([], [], color="C3", lw=2, label="mean"),
            Line2D([], [], color="k", lw=1, label="median"),
            Line2D([], [], color="k", marker="x", ls="", label="sample"),
        ],
        fontsize=7,
        loc="lower right",
    )
    bx.legend(
        handles=[
            Patch(facecolor="C0", alpha=0.35, label="nEQ (mean: blue bar)"),
            Patch(facecolor="C3", alpha=0.35, hatch="///", label="EQ (mean: red bar)"),
            Line2D([], [], color="k", lw=1, label="median"),
        ],
        fontsize=7,
        loc="lower right",
    )
    fig.suptitle(
        title or f"model output against magnitude and data density (Figure 9), {mag.period}"
    )
    return fig
