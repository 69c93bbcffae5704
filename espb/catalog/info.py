"""``espb catalog info``: what is in an event table, as text (figures: :mod:`espb.catalog.figures`)."""

from __future__ import annotations

from itertools import groupby
from typing import Any

import numpy as np
import pandas as pd

from espb.catalog.figures import plot_overview  # noqa: F401 (re-exported)
from espb.catalog.magnitudes import families
from espb.catalog.quality import estimate_mc, find_placeholders
from espb.catalog.report import DropReport
from espb.catalog.stats import aki_b, magnitude_histogram, mc_maxc


def summarize(df: pd.DataFrame, meta: dict[str, Any] | None = None) -> dict[str, Any]:
    """Counts, time range, magnitude-type mix, FMD, Mc (maximum curvature, and b-value stability
    by seismostats), suspected placeholder magnitudes, exact zeros, drop report."""
    meta = meta if meta is not None else df.attrs.get("espb", {})
    mw = df["mw"].to_numpy(dtype=float)
    hist = magnitude_histogram(mw, 0.1)
    mc = mc_maxc(mw, 0.1)
    mag = df["mag"].to_numpy(dtype=float)
    spikes = find_placeholders(mag, df["mag_type"].astype(str).to_numpy())
    mcs = estimate_mc(mw)
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
        "mc_b_stability": mcs.mc,
        "b_at_mc_b_stability": mcs.b,
        "mc_method": mcs.method,
        "mc_problem": mcs.problem,
        "placeholders": [
            {
                "mag_type": x.mag_type,
                "value": x.value,
                "count": x.count,
                "share": x.share,
                "ratio": x.ratio,
            }
            for x in spikes
        ],
        "n_mag_exactly_zero": int((mag == 0).sum()),
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
            _mc_line(s),
            *_placeholder_lines(s),
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


def _mc_line(s: dict[str, Any]) -> str:
    if s.get("mc_b_stability") is None:
        return f"Mc (b-stab.)    none: {s.get('mc_problem', '')}   [{s.get('mc_method', '')}]"
    b = s.get("b_at_mc_b_stability")
    bb = f"   b at Mc: {b:.2f}" if b is not None else ""
    return f"Mc (b-stab.)    {s['mc_b_stability']:.1f}{bb}   [{s['mc_method']}]"


def _placeholder_lines(s: dict[str, Any]) -> list[str]:
    out = []
    for p in s.get("placeholders", []):
        out.append(
            f"placeholder?    {p['mag_type'] or '(no type)'} = {p['value']:g}: {p['count']:,} events "
            f"({100 * p['share']:.1f} % of that type), {p['ratio']:.0f}x the neighbouring bins; "
            "re-ingest with --drop-placeholders (or --drop-mag VALUE) to drop them"
        )
    z = s.get("n_mag_exactly_zero", 0)
    if z:
        share = z / max(s["n_events"], 1)
        out.append(f"exact zeros     {z:,} events have magnitude exactly 0 ({100 * share:.1f} %)")
    return out
