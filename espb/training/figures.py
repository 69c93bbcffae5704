"""Figures of a run: accuracy over meta-epochs (the paper's Figure 5).

The region's large events (``region.annotations`` of the run's config, e.g. Tohoku for the
paper's Japan: :func:`espb.training.regions.annotations_of`) are drawn as labelled dotted
lines; nothing region-specific is drawn otherwise.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from espb.bvalue.plot import Annotation
from espb.safeio import atomic_write


@dataclass
class AccuracyFigureData:
    """What :func:`accuracy_figure` draws: the per-meta-epoch records and the annotations
    that fall inside their dates."""

    records: pd.DataFrame
    marks: list[Annotation]


def accuracy_figure_data(
    records: list[dict], annotations: Sequence[Annotation] = ()
) -> AccuracyFigureData:
    """The records as a table and the ``annotations`` strictly inside their date range."""
    df = pd.DataFrame(records)
    marks: list[Annotation] = []
    if len(df):
        d = pd.to_datetime(df["date"])
        lo, hi = d.min(), d.max()
        marks = [a for a in annotations if lo < pd.Timestamp(a.time).tz_localize(None) < hi]
    return AccuracyFigureData(df, marks)


def accuracy_figure(
    records: list[dict],
    path: str | Path,
    title: str = "",
    annotations: Sequence[Annotation] = (),
) -> Path:
    """Per-meta-epoch validation accuracy (markers coloured by validation size, capped at 50), the
    sample-weighted running means over 5 and 20 meta-epochs and the cumulative accuracy; test
    period after a dotted line with its own cumulative line (paper Figure 5); the region's
    ``annotations`` inside the dates as labelled dotted lines."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    data = accuracy_figure_data(records, annotations)
    df = data.records
    fig, ax = plt.subplots(figsize=(11, 4.2), constrained_layout=True)
    sc = None
    for phase, p in (("dev", "val"), ("test", "test")):
        d = df[df["phase"] == phase]
        if not len(d):
            continue
        x = pd.to_datetime(d["date"])
        n = d[f"{p}/n_eq"] + d[f"{p}/n_neq"]
        sc = ax.scatter(
            x,
            d[f"{p}/accuracy"],
            c=np.minimum(n, 50),
            cmap="viridis",
            vmin=0,
            vmax=50,
            s=14,
            zorder=3,
            label="meta-epoch accuracy" if phase == "dev" else None,
        )
        ax.plot(
            x,
            d[f"{p}/acc_running5"],
            color="#3fa9f5",
            lw=1.2,
            label="5 meta-epoch mean" if phase == "dev" else None,
        )
        ax.plot(
            x,
            d[f"{p}/acc_running20"],
            color="#d63af9",
            lw=1.4,
            label="20 meta-epoch mean" if phase == "dev" else None,
        )
        ax.plot(
            x,
            d[f"{p}/acc_cumulative"],
            color="k",
            lw=1.8 if phase == "test" else 1.4,
            label="cumulative" if phase == "dev" else "cumulative (test period)",
        )
        if phase == "test":
            ax.axvline(x.iloc[0], color="k", ls=":", lw=1)
    for a in data.marks:
        t = pd.Timestamp(a.time).tz_localize(None)
        ax.axvline(t, color="grey", ls=":", lw=1)
        ax.annotate(
            a.label, (t, 1.0), xytext=(3, -3), textcoords="offset points", fontsize=7,
            color="dimgrey", rotation=90, va="top",
        )  # fmt: skip
    ax.axhline(0.5, color="grey", lw=0.6)
    ax.set_ylim(-0.03, 1.03)
    ax.set_ylabel("validation accuracy")
    ax.set_title(title or "accuracy per meta-epoch (Figure 5)")
    if sc is not None:
        fig.colorbar(sc, ax=ax, label="validation samples (capped at 50)")
    ax.legend(loc="lower right", fontsize=8)
    path = Path(path)
    with atomic_write(path) as tmp:
        fig.savefig(tmp, dpi=120)
    plt.close(fig)
    return path
