"""``espb catalog info``: what is in an event table, as text and as a figure."""

from __future__ import annotations

from itertools import groupby
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from espb.catalog.magnitudes import families
from espb.catalog.report import DropReport
from espb.catalog.stats import aki_b, magnitude_histogram, mc_maxc


def summarize(df: pd.DataFrame, meta: dict[str, Any] | None = None) -> dict[str, Any]:
    """Counts, time range, magnitude-type mix, FMD, Mc (maximum curvature), drop report."""
    meta = meta if meta is not None else df.attrs.get("espb", {})
    mw = df["mw"].to_numpy(dtype=float)
    hist = magnitude_histogram(mw, 0.1)
    mc = mc_maxc(mw, 0.1)
    out: dict[str, Any] = {
        "n_events": int(len(df)),
        "time_range": [str(df["time"].iloc[0]), str(df["time"].iloc[-1])] if len(df) else None,
        "latitude_range": [float(df["latitude"].min()), float(df["latitude"].max())]
        if len(df)
        else None,
        "longitude_range": [float(df["longitude"].min()), float(df["longitude"].max())]
        if len(df)
        else None,
        "depth_range_km": [float(df["depth"].min()), float(df["depth"].max())] if len(df) else None,
        "mw_range": [float(np.nanmin(mw)), float(np.nanmax(mw))] if len(df) else None,
        "mag_types": df["mag_type"].astype(str).value_counts().to_dict(),
        "mag_families": pd.Series(families(df["mag_type"].astype(str).to_numpy()))
        .value_counts()
        .to_dict()
        if len(df)
        else {},
        "mc_maxc": mc,
        "b_aki_above_mc": aki_b(mw, mc) if np.isfinite(mc) else float("nan"),
        "n_mw_ge_5": int((mw >= 5 - 1e-9).sum()),
        "mw_histogram": {f"{k:.1f}": int(v) for k, v in hist.items()},
        "catalog_hash": meta.get("catalog_hash"),
        "source": meta.get("source"),
        "drop_report": meta.get("drop_report"),
    }
    return out


def text_lines(s: dict[str, Any], hist_width: int = 50) -> list[str]:
    """A readable report of :func:`summarize`'s result."""
    L = [f"events          {s['n_events']:,}"]
    if s["n_events"]:
        L += [
            f"time            {s['time_range'][0]}  ..  {s['time_range'][1]}",
            f"latitude        {s['latitude_range'][0]:.3f} .. {s['latitude_range'][1]:.3f}",
            f"longitude       {s['longitude_range'][0]:.3f} .. {s['longitude_range'][1]:.3f}",
            f"depth (km)      {s['depth_range_km'][0]:.1f} .. {s['depth_range_km'][1]:.1f}",
            f"Mw              {s['mw_range'][0]:.2f} .. {s['mw_range'][1]:.2f}   (Mw >= 5: {s['n_mw_ge_5']:,})",
            f"Mc (max. curv.) {s['mc_maxc']:.1f}   Aki b above Mc: {s['b_aki_above_mc']:.2f}",
            f"catalog hash    {s['catalog_hash']}",
            "",
            "magnitude types (as reported -> family used for Mw):",
        ]
        for k, v in s["mag_types"].items():
            fam = families([k])[0] or "-"
            L.append(f"  {k:<10} {fam:<6} {v:>12,}")
        L += ["", "Mw histogram (0.1 bins, log-scaled bars):"]
        hist = s["mw_histogram"]
        vmax = max(hist.values()) if hist else 1
        for empty, run in groupby(hist.items(), key=lambda kv: kv[1] == 0):
            run = list(run)
            if empty and len(run) >= 3:  # a run of empty bins: one line
                L.append(f"  {run[0][0]:>5} .. {run[-1][0]}: 0")
                continue
            for k, v in run:
                bar = "#" * (
                    int(round(hist_width * np.log10(1 + v) / np.log10(1 + vmax))) if v else 0
                )
                L.append(f"  {k:>5} {v:>10,} {bar}")
    if s.get("drop_report"):
        L += ["", "drop report (from ingest):"] + [
            f"  {x}" for x in DropReport.from_dict(s["drop_report"]).lines()
        ]
    return L


def plot_overview(df: pd.DataFrame, path: str | Path, title: str = "") -> Path:
    """Map, frequency-magnitude distribution and monthly counts of an event table, as PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig, ax = plt.subplots(1, 3, figsize=(16, 5), constrained_layout=True)
    mw = df["mw"].to_numpy(dtype=float)
    hb = ax[0].hexbin(
        df["longitude"], df["latitude"], gridsize=110, bins="log", cmap="viridis", mincnt=1
    )
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
    ax[0].set_aspect(1 / np.cos(np.radians(df["latitude"].mean())) if len(df) else 1)
    ax[0].legend(loc="lower right", fontsize=8)
    fig.colorbar(hb, ax=ax[0], shrink=0.8)
    h = magnitude_histogram(mw, 0.1)
    if not h.empty:
        ax[1].semilogy(h.index, h.to_numpy(), "o", ms=3, label="per bin")
        ax[1].semilogy(h.index, h.to_numpy()[::-1].cumsum()[::-1], "-", label="cumulative")
        mc = mc_maxc(mw)
        ax[1].axvline(mc, color="k", ls=":", label=f"Mc (max. curv.) = {mc:.1f}")
    ax[1].set(xlabel="Mw", ylabel="events", title="frequency-magnitude distribution")
    ax[1].legend(fontsize=8)
    monthly = df.set_index("time")["mw"].resample("MS").size()
    ax[2].semilogy(monthly.index, monthly.to_numpy(), lw=0.8)
    ax[2].set(xlabel="time", ylabel="events per month", title="rate")
    fig.suptitle(title or f"{len(df):,} events")
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
