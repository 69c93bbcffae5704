"""Figures of the forecast scores: Molchan diagram, reliability diagram, information gain over
time and the forecast map of one day. Each takes computed data (from :mod:`.alarms`,
:mod:`.scores`) and returns a ``matplotlib.figure.Figure`` (no pyplot state, Agg-safe); the
caller saves or logs it."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.colors import Normalize
from matplotlib.figure import Figure

from espb.evaluation.forecast.alarms import Molchan, random_band


def _molchan_axes(
    ax: Axes, curves: Mapping[str, Molchan], *, log_tau: bool, level: float, compact: bool
) -> None:
    """Draw one Molchan diagram on ``ax``: the random-alarm ``level`` band for the first curve's
    number of targets (:func:`.alarms.random_band`), the diagonal, one trajectory per forecast
    with its ASS, and the axis limits (log alarm axis when ``log_tau``). ``compact`` (the panels
    of :func:`molchan_panels`): shorter legend labels (no level, no standard error), thinner
    lines."""
    grid = np.geomspace(1e-5, 1, 400) if log_tau else np.linspace(0, 1, 401)
    if curves:
        n = next(iter(curves.values())).n_targets
        lo, hi = random_band(n, grid, level)
        band = f"random (N={n})" if compact else f"random, {level:.0%} band (N={n})"
        ax.fill_between(grid, lo, hi, color="0.85", step="mid", label=band)
    ax.plot(grid, 1 - grid, color="0.4", ls="--", lw=1)
    for name, m in curves.items():
        se = "" if compact else f" ± {m.ass_se:.3f}"
        ax.plot(m.tau, m.nu, lw=1.5 if compact else 1.6, label=f"{name}: ASS {m.ass:.3f}{se}")
    if log_tau:
        ax.set_xscale("log")
        ax.set_xlim(1e-5, 1)
    else:
        ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)


def molchan_figure(
    curves: Mapping[str, Molchan],
    *,
    log_tau: bool = False,
    level: float = 0.95,
    title: str = "",
) -> Figure:
    """Molchan diagram (Zechar & Jordan 2008, Fig. 1): one trajectory per forecast (legend with
    its ASS +- standard error), the random-alarm diagonal and its ``level`` band for the first
    curve's number of targets (:func:`.alarms.random_band`). ``log_tau``: log alarm axis, to
    read the small alarm fractions (1 %, 5 %) that matter for daily forecasts."""
    fig = Figure(figsize=(5.6, 5.2), layout="constrained")
    ax = fig.add_subplot()
    _molchan_axes(ax, curves, log_tau=log_tau, level=level, compact=False)
    weighted = any(m.weighted for m in curves.values())
    ax.set_xlabel(
        "alarm fraction τ" + (" (reference-rate weighted)" if weighted else " (share of cell-days)")
    )
    ax.set_ylabel("miss rate ν")
    ax.legend(fontsize=8, loc="upper right" if log_tau else "lower left")
    ax.set_title(title or "Molchan diagram")
    return fig


def reliability_figure(tables: Mapping[str, pd.DataFrame], *, title: str = "") -> Figure:
    """Reliability diagram (Wilks 2011, Section 8.4.4): observed frequency against mean forecast
    per bin with its Wilson interval, log-log axes (daily probabilities are small), the
    diagonal of perfect calibration, and below it the count of cell-days per bin."""
    fig = Figure(figsize=(5.6, 6.4), layout="constrained")
    ax, axc = fig.subplots(2, 1, sharex=True, height_ratios=[3, 1])
    lo_all, hi_all = [], []
    for name, t in tables.items():
        t = t[t["count"] > 0]
        x, f = t["mean_p"].to_numpy(), t["freq"].to_numpy()
        err = np.vstack([f - t["freq_lo"].to_numpy(), t["freq_hi"].to_numpy() - f])
        shown = f > 0
        ax.errorbar(
            x[shown], f[shown], yerr=err[:, shown], marker="o", ms=4, lw=1.2, capsize=2, label=name
        )
        axc.step(x, t["count"].to_numpy(), where="mid", label=name)
        lo_all.append(x.min())
        hi_all.append(max(x.max(), np.nanmax(t["freq_hi"].to_numpy())))
    if lo_all:
        lo, hi = max(min(lo_all) / 2, 1e-9), min(max(hi_all) * 2, 1)
        ax.plot([lo, hi], [lo, hi], color="0.4", ls="--", lw=1, label="calibrated")
        ax.set_xscale("log")
        ax.set_yscale("log")
    ax.set_ylabel("observed frequency")
    ax.legend(fontsize=8)
    ax.set_title(title or "Reliability diagram")
    axc.set_yscale("log")
    axc.set_xlabel("mean forecast probability")
    axc.set_ylabel("cell-days")
    return fig


def ig_time_figure(
    series: Mapping[str, pd.DataFrame],
    *,
    dates: pd.DatetimeIndex | None = None,
    title: str = "",
) -> Figure:
    """Information gain per target earthquake accumulated over days
    (:func:`.scores.ig_over_time`), one line per comparison (e.g. "model vs spatial"), with
    the zero line. ``dates``: the calendar date of day index 0.. (x-axis in days otherwise)."""
    fig = Figure(figsize=(8, 3.8), layout="constrained")
    ax = fig.add_subplot()
    for name, s in series.items():
        x = dates[s["day"].to_numpy()] if dates is not None else s["day"].to_numpy()
        ax.plot(x, s["cum_ig"].to_numpy(), lw=1.4, label=name)
    ax.axhline(0.0, color="0.4", lw=1, ls="--")
    ax.set_xlabel("date" if dates is not None else "day")
    ax.set_ylabel("cumulative IG per target (nats)")
    ax.legend(fontsize=8)
    ax.set_title(title or "Information gain over time")
    return fig


def forecast_map_figure(
    prob: np.ndarray,
    lat: np.ndarray,
    lon: np.ndarray,
    *,
    event_lat: np.ndarray | None = None,
    event_lon: np.ndarray | None = None,
    vmin: float | None = None,
    title: str = "",
) -> Figure:
    """Forecast map of one day: ``prob(lat, lon)`` (NaN outside the scored cells) on a
    log10-probability colour scale, cell centres ``lat`` / ``lon`` (any regular grid), and the
    observed target events of the day as open circles."""
    prob = np.asarray(prob, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        lp = np.where(prob > 0, np.log10(prob), np.nan)
    finite = lp[np.isfinite(lp)]
    lo = vmin if vmin is not None else (float(finite.min()) if finite.size else -6.0)
    hi = float(finite.max()) if finite.size else 0.0
    fig = Figure(figsize=(6.4, 5.6), layout="constrained")
    ax = fig.add_subplot()
    dlat = float(lat[1] - lat[0]) if len(lat) > 1 else 1.0
    dlon = float(lon[1] - lon[0]) if len(lon) > 1 else 1.0
    extent = (lon[0] - dlon / 2, lon[-1] + dlon / 2, lat[0] - dlat / 2, lat[-1] + dlat / 2)
    im = ax.imshow(
        lp,
        origin="lower",
        extent=extent,
        cmap="magma",
        aspect="auto",
        norm=Normalize(vmin=lo, vmax=max(hi, lo + 1e-9)),
        interpolation="nearest",
    )
    fig.colorbar(im, ax=ax, label="log10 probability")
    if event_lat is not None and len(event_lat):
        ax.scatter(
            event_lon,
            event_lat,
            s=40,
            facecolors="none",
            edgecolors="cyan",
            lw=1.5,
            label=f"targets ({len(event_lat)})",
        )
        ax.legend(fontsize=8, loc="upper right")
    ax.set_xlabel("longitude")
    ax.set_ylabel("latitude")
    ax.set_title(title or "Forecast")
    return fig


def molchan_panels(
    panels: Mapping[str, Mapping[str, Molchan]],
    *,
    log_tau: bool = False,
    level: float = 0.95,
    title: str = "",
) -> Figure:
    """Several Molchan diagrams side by side with shared axes (e.g. one per catalog: planted,
    null, shuffled labels), each as :func:`molchan_figure` draws one: the trajectories with
    their ASS, the diagonal and the random-alarm band of that panel's number of targets."""
    n = max(len(panels), 1)
    fig = Figure(figsize=(4.6 * n, 4.8), layout="constrained")
    axes = np.atleast_1d(fig.subplots(1, n, sharex=True, sharey=True))
    for ax, (name, curves) in zip(axes, panels.items(), strict=False):
        _molchan_axes(ax, curves, log_tau=log_tau, level=level, compact=True)
        ax.set_title(name, fontsize=10)
        ax.set_xlabel("alarm fraction τ (share of cell-days)")
        ax.legend(fontsize=7, loc="upper right" if log_tau else "lower left")
    axes[0].set_ylabel("miss rate ν")
    if title:
        fig.suptitle(title)
    return fig
