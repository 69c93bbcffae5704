"""Catalog figures: the paper's Figure 1 (events by depth and magnitude) and an overview.

Compute, then draw (as pycsep does): :func:`figure1_data` returns the plotted values as a
:class:`Figure1Data`, :func:`draw_figure1` draws it (matplotlib, Agg). Paper Section 2,
Figure 1: "all earthquakes between 1999-01-01 to 2019-12-31 colored by depth and scaled by
magnitude" over the study region. The paper's plate boundaries (Bird 2003) are not drawn:
espb ships no plate-boundary data.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from espb.catalog.explain import bounding_box
from espb.catalog.stats import magnitude_histogram, mc_maxc
from espb.safeio import atomic_write


@dataclass
class Figure1Data:
    """The values Figure 1 shows, sorted by magnitude (large events drawn last, on top)."""

    longitude: np.ndarray
    latitude: np.ndarray
    depth: np.ndarray
    mw: np.ndarray
    size: np.ndarray  # marker area (points^2)
    region: tuple[float, float, float, float]  # lat_min, lat_max, lon_min, lon_max
    depth_max: float  # top of the colour scale, km
    legend_mw: tuple[float, ...]  # magnitudes of the size legend
    title: str


def marker_area(mw: np.ndarray) -> np.ndarray:
    """Marker area growing by 3x per magnitude unit: M3 ~ 0.2, M5 ~ 1.8, M7 ~ 16, M9 ~ 146."""
    return np.clip(0.2 * 3.0 ** (np.asarray(mw, dtype=float) - 3.0), 0.02, 400.0)


def figure1_data(
    df: pd.DataFrame,
    region: list[float] | tuple[float, ...] | None = None,
    depth_max: float | None = None,
    start: str | None = None,
    end: str | None = None,
    title: str = "",
) -> Figure1Data:
    """The events of ``df`` (optionally within ``start``..``end``, inclusive dates) in the frame
    ``region`` (default: the ingest's region from the table's metadata, else the events'
    bounding box); colour scale 0..``depth_max`` (default: the ingest's depth limit, else the
    99th percentile of depth)."""
    meta = df.attrs.get("espb", {}).get("ingest_config", {}).get("filters", {})
    t = pd.DatetimeIndex(df["time"])
    sel = np.ones(len(df), dtype=bool)
    if start is not None:
        sel &= np.asarray(t >= pd.Timestamp(start, tz="UTC"))
    if end is not None:
        sel &= np.asarray(t < pd.Timestamp(end, tz="UTC") + pd.Timedelta(days=1))
    d = df[sel]
    mw = d["mw"].to_numpy(dtype=float)
    order = np.argsort(mw, kind="stable")
    lat = d["latitude"].to_numpy(dtype=float)[order]
    lon = d["longitude"].to_numpy(dtype=float)[order]
    dep = d["depth"].to_numpy(dtype=float)[order]
    mw = mw[order]
    if region is None:
        region = meta.get("region")
    if region is None:
        region = bounding_box(lat, lon) if len(d) else (-90.0, 90.0, -180.0, 180.0)
    if depth_max is None:
        depth_max = meta.get("max_depth_km")
    if depth_max is None:
        finite = dep[np.isfinite(dep)]
        depth_max = float(np.percentile(finite, 99)) if finite.size else 1.0
    lo_mw = np.ceil(np.nanmin(mw)) if len(mw) else 3.0
    hi_mw = np.floor(np.nanmax(mw)) if len(mw) else 7.0
    legend = tuple(float(m) for m in np.arange(max(lo_mw, 2.0), hi_mw + 0.01, 2.0))
    span = f"{t[sel].min().date()} to {t[sel].max().date()}" if len(d) else "no events"
    return Figure1Data(
        longitude=lon,
        latitude=lat,
        depth=dep,
        mw=mw,
        size=marker_area(mw),
        region=tuple(float(x) for x in region),  # type: ignore[arg-type]
        depth_max=float(max(depth_max, 1e-6)),
        legend_mw=legend,
        title=title or f"{len(d):,} events, {span}, coloured by depth, scaled by magnitude",
    )


def _degrees(ax, region: tuple[float, float, float, float]) -> None:
    """A map frame in degrees: limits, equal-distance aspect, N/S and E/W tick labels, grid."""
    from matplotlib.ticker import FuncFormatter

    la0, la1, lo0, lo1 = region
    ax.set_xlim(lo0, lo1)
    ax.set_ylim(la0, la1)
    ax.set_aspect(1 / max(np.cos(np.radians((la0 + la1) / 2)), 0.1))
    ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{abs(v):g}°{'E' if v >= 0 else 'W'}"))
    ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{abs(v):g}°{'N' if v >= 0 else 'S'}"))
    ax.grid(True, lw=0.4, color="0.6", alpha=0.5)
    ax.tick_params(direction="out", length=3, labelsize=8)
    for s in ax.spines.values():
        s.set_linewidth(0.8)


def draw_figure1(data: Figure1Data, path: str | Path, dpi: int = 150) -> Path:
    """Draw :class:`Figure1Data` as a PNG (written atomically)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    path = Path(path)
    fig, ax = plt.subplots(figsize=(7.5, 7.0), constrained_layout=True)
    sc = ax.scatter(
        data.longitude,
        data.latitude,
        s=data.size,
        c=data.depth,
        cmap="viridis_r",
        vmin=0.0,
        vmax=data.depth_max,
        linewidths=0,
        rasterized=True,
    )
    _degrees(ax, data.region)
    cb = fig.colorbar(sc, ax=ax, shrink=0.75, pad=0.02, extend="max")
    cb.set_label("depth (km)")
    handles = [
        ax.scatter([], [], s=float(marker_area(np.array([m]))[0]), c="0.3", label=f"M{m:g}")
        for m in data.legend_mw
    ]
    if handles:
        ax.legend(handles=handles, loc="lower right", fontsize=8, title="Mw", framealpha=0.8)
    ax.set_title(data.title, fontsize=9)
    with atomic_write(path) as tmp:
        fig.savefig(tmp, dpi=dpi)
    plt.close(fig)
    return path


def plot_overview(df: pd.DataFrame, path: str | Path, title: str = "") -> Path:
    """Map, frequency-magnitude distribution and monthly counts of an event table, as PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    path = Path(path)
    fig, ax = plt.subplots(1, 3, figsize=(16, 5), constrained_layout=True)
    mw = df["mw"].to_numpy(dtype=float)
    if len(df):
        hb = ax[0].hexbin(
            df["longitude"], df["latitude"], gridsize=110, bins="log", cmap="viridis", mincnt=1
        )
        fig.colorbar(hb, ax=ax[0], shrink=0.8)
        ax[0].set_aspect(1 / np.cos(np.radians(df["latitude"].mean())))
    big = mw >= 6
    ax[0].scatter(
        df["longitude"][big],
        df["latitude"][big],
        s=4 * (mw[big] - 5) ** 3,
        facecolor="none",
        edgecolor="red",
        lw=0.8,
        label="Mw >= 6",
    )
    ax[0].set(xlabel="longitude", ylabel="latitude", title="events per cell (log)")
    ax[0].legend(loc="lower right", fontsize=8)
    h = magnitude_histogram(mw, 0.1)
    if not h.empty:
        ax[1].semilogy(h.index, h.to_numpy(), "o", ms=3, label="per bin")
        ax[1].semilogy(h.index, h.to_numpy()[::-1].cumsum()[::-1], "-", label="cumulative")
        mc = mc_maxc(mw)
        ax[1].axvline(mc, color="k", ls=":", label=f"Mc (max. curv.) = {mc:.1f}")
    ax[1].set(xlabel="Mw", ylabel="events", title="frequency-magnitude distribution")
    ax[1].legend(fontsize=8)
    if len(df):
        monthly = df.set_index("time")["mw"].resample("MS").size()
        ax[2].semilogy(monthly.index, monthly.to_numpy(), lw=0.8)
    ax[2].set(xlabel="time", ylabel="events per month", title="rate")
    fig.suptitle(title or f"{len(df):,} events")
    with atomic_write(path) as tmp:
        fig.savefig(tmp, dpi=110)
    plt.close(fig)
    return path


__all__ = ["Figure1Data", "draw_figure1", "figure1_data", "marker_area", "plot_overview"]
