"""Figure 5 of the paper (Section 4.1; Figure E.12 for Model14.0): accuracy per meta-epoch with
its running means, the cumulative accuracy and the training-set accuracy. One drawing for the
run's own ``accuracy.png`` (:func:`write_accuracy_figure`, at the end of a run) and the run
report's ``fig05_accuracy.png`` (:mod:`espb.evaluation.diagnostics`, which calls
:func:`accuracy_data` and :func:`accuracy_figure` here): compute -> table -> figure.

The training-set accuracy per meta-epoch is the last epoch's share of training samples on the
right side of 0.5 (``train/accuracy``); its level is the mean over the development meta-epochs
weighted by the training-set size (the paper's dotted horizontal line). The region's large
events (``region.annotations`` of the run's config, e.g. Tohoku for the paper's Japan:
:func:`espb.training.regions.annotations_of`) are drawn as labelled dotted lines by
:func:`espb.training.plotting.mark_dates`, those inside the figure's dates only; nothing
region-specific is drawn otherwise.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from espb.bvalue.plot import Annotation
from espb.safeio import atomic_write
from espb.training.plotting import Annotations, mark_dates, new_figure, no_data

COLUMNS = ["accuracy", "acc_running5", "acc_running20", "acc_cumulative", "n_eq", "n_neq"]

#: resolution of the run's own accuracy.png
RUN_DPI = 120


def accuracy_data(metrics: pd.DataFrame) -> pd.DataFrame:
    """One row per meta-epoch from ``metrics.csv`` (or the run's records, the same rows):
    ``meta_epoch, phase, date, n`` (validation samples), ``accuracy, acc_running5,
    acc_running20, acc_cumulative`` (the ``val/`` or ``test/`` columns of its phase),
    ``train_accuracy`` and ``train_n`` (NaN for runs written before the training accuracy was
    recorded)."""
    rows = []
    for phase, p in (("dev", "val"), ("test", "test")):
        d = metrics[metrics["phase"] == phase]
        if not len(d):
            continue
        out = pd.DataFrame(
            {
                "meta_epoch": d["meta_epoch"].to_numpy(),
                "phase": phase,
                "date": pd.to_datetime(d["date"]).to_numpy(),
            }
        )
        for c in COLUMNS:
            out[c] = d[f"{p}/{c}"].to_numpy(dtype=float)
        out["n"] = out.pop("n_eq") + out.pop("n_neq")
        out["train_accuracy"] = d.get("train/accuracy", pd.Series(np.nan, d.index)).to_numpy(float)
        out["train_n"] = d.get("train/n_samples", pd.Series(np.nan, d.index)).to_numpy(float)
        rows.append(out)
    if not rows:
        return pd.DataFrame(columns=["meta_epoch", "phase", "date", *COLUMNS[:4], "n"])
    return pd.concat(rows, ignore_index=True).sort_values("meta_epoch", ignore_index=True)


def train_level(data: pd.DataFrame) -> float:
    """The training-set accuracy level: mean of ``train_accuracy`` over the development
    meta-epochs weighted by the training-set size; NaN when none was recorded."""
    d = data[(data["phase"] == "dev") & np.isfinite(data["train_accuracy"])]
    w = d["train_n"].to_numpy(float)
    if not len(d) or not np.isfinite(w).all() or w.sum() <= 0:
        return float("nan")
    return float(np.average(d["train_accuracy"], weights=w))


def accuracy_figure(
    data: pd.DataFrame,
    annotations: Annotations = (),
    title: str = "",
) -> Figure:
    """Figure 5 from :func:`accuracy_data`: markers per meta-epoch coloured by validation size
    (capped at 50), the sample-weighted means over 5 and 20 meta-epochs, the cumulative accuracy
    (a new one from the test period on, after a dotted line), the training-set accuracy per
    meta-epoch and its level (dotted horizontal), ``annotations`` as dotted lines."""
    fig = new_figure(11, 4.2)
    if not len(data):
        return no_data(fig, "no meta-epoch")
    ax = fig.add_subplot()
    sc = None
    for phase in ("dev", "test"):
        d = data[data["phase"] == phase]
        if not len(d):
            continue
        first = phase == "dev"
        x = d["date"]
        sc = ax.scatter(
            x,
            d["accuracy"],
            c=np.minimum(d["n"], 50),
            cmap="viridis",
            vmin=0,
            vmax=50,
            s=14,
            zorder=3,
            label="meta-epoch accuracy" if first else None,
        )
        for col, colour, lw, lab in (
            ("acc_running5", "#3fa9f5", 1.2, "5 meta-epoch mean"),
            ("acc_running20", "#d63af9", 1.4, "20 meta-epoch mean"),
        ):
            ax.plot(x, d[col], color=colour, lw=lw, label=lab if first else None)
        ax.plot(
            x,
            d["acc_cumulative"],
            color="k",
            lw=1.4 if first else 1.8,
            label="cumulative" if first else "cumulative (test period)",
        )
        if np.isfinite(d["train_accuracy"]).any():
            ax.plot(
                x,
                d["train_accuracy"],
                color="#f28e2b",
                lw=0.9,
                alpha=0.8,
                label="training-set accuracy" if first else None,
            )
        if phase == "test":
            ax.axvline(x.iloc[0], color="k", ls=":", lw=1)
    level = train_level(data)
    if np.isfinite(level):
        ax.axhline(level, color="#f28e2b", ls=":", lw=1.2, label=f"training level {level:.3f}")
    mark_dates(ax, annotations)
    ax.axhline(0.5, color="grey", lw=0.6)
    ax.set_ylim(-0.03, 1.03)
    ax.set_ylabel("accuracy")
    ax.set_xlabel("meta-epoch (first day of its validation segment)")
    ax.set_title(title or "accuracy per meta-epoch (Figure 5)")
    if sc is not None:
        fig.colorbar(sc, ax=ax, label="validation samples (capped at 50)")
    ax.legend(loc="lower right", fontsize=7, ncol=2)
    return fig


def date_marks(annotations: Sequence[Annotation]) -> list[tuple[pd.Timestamp, str]]:
    """:class:`espb.bvalue.plot.Annotation` markers as the ``(date, label)`` pairs
    :func:`espb.training.plotting.mark_dates` draws (time zone dropped)."""
    return [(pd.Timestamp(a.time).tz_localize(None), a.label) for a in annotations]


def write_accuracy_figure(
    records: list[dict],
    path: str | Path,
    title: str = "",
    annotations: Sequence[Annotation] = (),
) -> Path:
    """The run's ``accuracy.png``: :func:`accuracy_figure` of the run's per-meta-epoch
    ``records`` (the rows of its ``metrics.csv``) with the region's ``annotations``."""
    data = accuracy_data(pd.DataFrame(records))
    fig = accuracy_figure(data, date_marks(annotations), title=title)
    path = Path(path)
    with atomic_write(path) as tmp:
        fig.savefig(tmp, dpi=RUN_DPI)
    return path
