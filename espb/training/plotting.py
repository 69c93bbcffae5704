"""Shared drawing helpers of the run's figures and of the run report
(:mod:`espb.evaluation.diagnostics`, which re-exports them): every figure is a
``matplotlib.figure.Figure`` built without pyplot (Agg-safe, no global state)."""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure

Annotations = Sequence[tuple[pd.Timestamp, str]]


def new_figure(w: float, h: float) -> Figure:
    return Figure(figsize=(w, h), layout="constrained")


def mark_dates(ax: Axes, annotations: Annotations, dev_end: pd.Timestamp | None = None) -> None:
    """Dotted vertical lines: the configured annotations (grey, labelled at the top) and the end
    of the development period (black)."""
    date_axis(ax)
    lo, hi = ax.get_xlim()
    for d, label in annotations:
        x = _num(d)
        if lo <= x <= hi:
            ax.axvline(d, color="0.45", ls=":", lw=1)
            if label:
                ax.annotate(
                    label,
                    (x, 1),
                    xycoords=("data", "axes fraction"),
                    xytext=(2, -10),
                    textcoords="offset points",
                    fontsize=7,
                    color="0.3",
                )
    if dev_end is not None and lo <= _num(dev_end) <= hi:
        ax.axvline(dev_end, color="k", ls=":", lw=1)


def date_axis(ax: Axes) -> None:
    """Concise date ticks on the x axis (no overlapping labels)."""
    import matplotlib.dates as mdates

    loc = mdates.AutoDateLocator(minticks=4, maxticks=10)
    ax.xaxis.set_major_locator(loc)
    ax.xaxis.set_major_formatter(mdates.ConciseDateFormatter(loc))


def _num(d: pd.Timestamp) -> float:
    import matplotlib.dates as mdates

    return float(mdates.date2num(pd.Timestamp(d).to_pydatetime()))


def no_data(fig: Figure, text: str) -> Figure:
    """A figure that says what is missing (a report never drops a figure silently)."""
    ax = fig.add_subplot()
    ax.text(0.5, 0.5, text, ha="center", va="center", wrap=True)
    ax.set_axis_off()
    return fig
