"""EQ samples per meta-epoch segment (paper Figure 3) and the cumulative EQ samples of the
training set per meta-epoch (Appendix B, Figure B.4)."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from espb.evaluation.diagnostics.plotting import Annotations, mark_dates, new_figure, no_data
from espb.samples.table import segment_bounds
from espb.training.schedule import meta_epochs, training_mask


def eq_counts_per_segment(
    eq_targets: np.ndarray,
    first_day: int,
    n_days: int,
    l_me: int,
    warmup: int,
    dates: Callable[[np.ndarray], pd.DatetimeIndex],
    dev_end: int | None = None,
) -> pd.DataFrame:
    """EQ samples in every segment of ``l_me`` days (paper Section 3.3, Figure 3): one row per
    segment with ``l_me, segment, lo, hi, date`` (first day), ``n_eq`` and ``meta_epoch`` (its
    index, -1 for a segment that is no validation window: inside the warm-up, without EQ, or
    with no EQ before it; :func:`espb.training.schedule.meta_epochs` decides) and ``phase``.
    ``dev_end`` (last development day) ends a segment, as in
    :meth:`espb.samples.table.Samples.table`, so no segment straddles the two periods.

    ``eq_targets``: forecast day of each EQ sample (``Samples.eq["target"]``)."""
    cut = None if dev_end is None else dev_end + 1  # as the sample table cuts them
    bounds = segment_bounds(first_day, n_days, l_me, cut)
    seg = np.searchsorted(bounds[:, 1], np.asarray(eq_targets, np.int64), side="right")
    seg = seg[seg < len(bounds)]
    n_eq = np.bincount(seg, minlength=len(bounds))
    mes = meta_epochs(pd.DataFrame({"segment": seg, "label": 1}), bounds, warmup, dev_end)
    me_of = np.full(len(bounds), -1, np.int64)
    phase = np.full(len(bounds), "", dtype=object)
    for me in mes:
        me_of[me.segment] = me.index
        phase[me.segment] = me.phase
    return pd.DataFrame(
        {
            "l_me": l_me,
            "segment": np.arange(len(bounds)),
            "lo": bounds[:, 0],
            "hi": bounds[:, 1],
            "date": dates(bounds[:, 0]),
            "n_eq": n_eq,
            "meta_epoch": me_of,
            "phase": phase,
        }
    )


def count_bins(top: int, most: int = 40) -> np.ndarray:
    """Histogram edges for integer counts 1..``top`` in at most about ``most`` bins of equal
    width, the last edge above ``top`` (so the largest count is drawn)."""
    step = max(1, -(-top // most))
    return np.arange(0.5, top + step + 0.5, step)


def eq_count_figure(counts: pd.DataFrame, annotations: Annotations = (), title: str = "") -> Figure:
    """Figure 3: per meta-epoch length (one row each), left the histogram of the EQ count of
    the meta-epochs (how many meta-epochs hold n EQ), right the EQ count of every meta-epoch
    over time."""
    l_mes = sorted(counts["l_me"].unique()) if len(counts) else []
    fig = new_figure(11, 2.4 * max(len(l_mes), 1) + 0.5)
    if not l_mes:
        return no_data(fig, "no segments")
    axs = fig.subplots(len(l_mes), 2, squeeze=False, width_ratios=[1, 2.4])
    for i, lm in enumerate(l_mes):
        d = counts[(counts["l_me"] == lm) & (counts["meta_epoch"] >= 0)]
        ax, bx = axs[i]
        if len(d):
            ax.hist(d["n_eq"], bins=count_bins(int(d["n_eq"].max())), color="C0")

            ax.set_yscale("log")
            bx.bar(d["date"], d["n_eq"], width=lm, color="C0", align="edge")
            mark_dates(bx, annotations)
        ax.set_ylabel(f"l_ME {lm} d\nmeta-epochs")
        bx.set_ylabel("EQ samples")
        n = len(d)
        bx.set_title(
            f"l_ME = {lm} d: {n} meta-epochs, {int(d['n_eq'].sum())} EQ samples", fontsize=9
        )
    axs[-1][0].set_xlabel("EQ samples in the meta-epoch")
    axs[-1][1].set_xlabel("meta-epoch start")
    fig.suptitle(title or "EQ samples per meta-epoch (Figure 3)")
    return fig


def training_eq_cumulative(
    table: pd.DataFrame,
    mes: Sequence,
    dates: Callable[[np.ndarray], pd.DatetimeIndex],
) -> pd.DataFrame:
    """Figure B.4: the samples in the training set of every meta-epoch
    (:func:`espb.training.schedule.training_mask`): ``meta_epoch, phase, date`` (first day of
    its validation segment), ``n_eq_train``, ``n_neq_train``, ``n_train``."""
    label = table["label"].to_numpy()
    rows = []
    for me in mes:
        m = training_mask(table, me)
        n_eq = int(np.count_nonzero(m & (label == 1)))
        rows.append((me.index, me.phase, me.lo, n_eq, int(np.count_nonzero(m)) - n_eq))
    df = pd.DataFrame(rows, columns=["meta_epoch", "phase", "lo", "n_eq_train", "n_neq_train"])
    df.insert(3, "date", dates(df["lo"].to_numpy()) if len(df) else pd.DatetimeIndex([]))
    df["n_train"] = df["n_eq_train"] + df["n_neq_train"]
    return df


def training_eq_figure(
    data: pd.DataFrame,
    annotations: Annotations = (),
    dev_end: pd.Timestamp | None = None,
    title: str = "",
) -> Figure:
    """Figure B.4: cumulative number of EQ samples in the training set per meta-epoch, with the
    configured dates (e.g. a large earthquake) and the end of the development period marked."""
    fig = new_figure(9, 3.6)
    if not len(data):
        return no_data(fig, "no meta-epoch")
    ax = fig.add_subplot()
    ax.step(data["date"], data["n_eq_train"], where="post", color="C0", label="EQ samples")
    ax.step(data["date"], data["n_train"], where="post", color="0.6", lw=0.8, label="all samples")
    mark_dates(ax, annotations, dev_end)
    ax.set_ylabel("samples in the training set")
    ax.set_xlabel("meta-epoch (first day of its validation segment)")
    ax.legend(loc="upper left", fontsize=8)
    ax.set_title(title or "cumulative EQ samples in the training set (Figure B.4)")
    return fig
