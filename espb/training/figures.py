"""Figures of a run: accuracy over meta-epochs (the paper's Figure 5)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from espb.safeio import atomic_write


def accuracy_figure(records: list[dict], path: str | Path, title: str = "") -> Path:
    """Per-meta-epoch validation accuracy (markers coloured by validation size, capped at 50), the
    sample-weighted running means over 5 and 20 meta-epochs and the cumulative accuracy; test
    period after a dotted line with its own cumulative line (paper Figure 5)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    df = pd.DataFrame(records)
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
    tohoku = pd.Timestamp("2011-03-11")
    if len(df) and pd.to_datetime(df["date"]).min() < tohoku < pd.to_datetime(df["date"]).max():
        ax.axvline(tohoku, color="grey", ls=":", lw=1)
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
