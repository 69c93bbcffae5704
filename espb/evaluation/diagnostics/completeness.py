"""Magnitude of completeness by year and in 9 equal boxes of the region, for the development
and the test period (paper Appendix B, Figure B.3).

The paper uses Godano & Petrillo (2023, Earth Space Sci. 10, e2022EA002540): above mc the
magnitudes are exponential, so the mean magnitude above a threshold rises linearly (slope 1)
with the threshold; mc is where that linearity starts. No installable library implements it.
Its criterion is the same property the b-value stability method tests (Cao & Gao 2002;
Woessner & Wiemer 2005): with the Aki-Utsu estimate b(m_th) = log10(e) / (mean(m >= m_th) -
m_th + delta_m / 2), a constant b above mc is exactly a mean magnitude rising with slope 1.
The default here is therefore seismostats' ``estimate_mc_b_stability`` (``mbs``), the library
method closest to the paper's; ``maxc`` (maximum curvature + 0.2, Wiemer & Wyss 2000) and
``ks`` (K-S distance, Clauset et al. 2009; Mizrahi et al. 2021) are the alternatives.
"""

from __future__ import annotations

import contextlib
import io
import warnings
from collections.abc import Sequence

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from espb.errors import EspbError
from espb.evaluation.diagnostics.plotting import new_figure, no_data

METHODS = ("mbs", "maxc", "ks")
METHOD_NAMES = {
    "mbs": "b-value stability (Cao & Gao 2002; seismostats estimate_mc_b_stability)",
    "maxc": "maximum curvature + 0.2 (Wiemer & Wyss 2000; seismostats estimate_mc_maxc)",
    "ks": "K-S distance (Clauset et al. 2009; seismostats estimate_mc_ks)",
}


def estimate_mc(mags: np.ndarray, method: str = "mbs", delta_m: float = 0.1) -> float:
    """The completeness magnitude of ``mags`` (rounded to ``delta_m`` first) by a seismostats
    estimator; NaN when the method finds none (b-value stability or K-S never passing)."""
    if method not in METHODS:
        raise EspbError(f"Mc method {method!r}: use one of {list(METHODS)}")
    try:
        from seismostats.analysis import (
            estimate_mc_b_stability,
            estimate_mc_ks,
            estimate_mc_maxc,
        )
    except ImportError as exc:  # pragma: no cover - seismostats is a dependency
        raise EspbError(
            f"the Mc estimate needs seismostats ({exc}); pip install seismostats"
        ) from None
    m = np.round(np.asarray(mags, float) / delta_m) * delta_m
    m = np.round(m[np.isfinite(m)], 6)
    if not len(m):
        return float("nan")
    # seismostats warns on small samples and prints its return values: neither is for the user
    with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
        warnings.simplefilter("ignore")
        if method == "maxc":
            mc, _ = estimate_mc_maxc(m, fmd_bin=delta_m)
        elif method == "mbs":
            mc, _ = estimate_mc_b_stability(m, delta_m=delta_m)
        else:
            mc, _ = estimate_mc_ks(m, delta_m=delta_m, n=1000)
    return float("nan") if mc is None else float(np.round(mc, 6))


def boxes(region: Sequence[float], n: int = 3) -> pd.DataFrame:
    """``n`` x ``n`` equal boxes of ``region`` = [lat_min, lat_max, lon_min, lon_max]: ``box``
    (0 = south-west, row-major from the south), ``lat_lo, lat_hi, lon_lo, lon_hi, row, col``."""
    la = np.linspace(region[0], region[1], n + 1)
    lo = np.linspace(region[2], region[3], n + 1)
    rows = [
        (i * n + j, la[i], la[i + 1], lo[j], lo[j + 1], i, j) for i in range(n) for j in range(n)
    ]
    return pd.DataFrame(rows, columns=["box", "lat_lo", "lat_hi", "lon_lo", "lon_hi", "row", "col"])


def completeness_table(
    events: pd.DataFrame,
    region: Sequence[float],
    start: pd.Timestamp,
    dev_end: pd.Timestamp,
    end: pd.Timestamp,
    method: str = "mbs",
    delta_m: float = 0.1,
    min_events: int = 50,
) -> pd.DataFrame:
    """Figure B.3 data: Mc of the events in ``region`` per year and per box of
    :func:`boxes`, for the development period (``start`` .. ``dev_end``) and the test period
    (after ``dev_end`` .. ``end``): ``period, kind`` (year | box), ``key`` (the year or box),
    ``n`` (events), ``mc`` (NaN when fewer than ``min_events``), ``method``."""
    t = pd.to_datetime(events["time"], utc=True).dt.tz_localize(None)
    lat, lon = events["latitude"].to_numpy(float), events["longitude"].to_numpy(float)
    mw = events["mw"].to_numpy(float)
    inside = (lat >= region[0]) & (lat <= region[1]) & (lon >= region[2]) & (lon <= region[3])
    bx = boxes(region)
    r = np.clip(np.searchsorted(np.linspace(region[0], region[1], 4), lat, "right") - 1, 0, 2)
    c = np.clip(np.searchsorted(np.linspace(region[2], region[3], 4), lon, "right") - 1, 0, 2)
    box = r * 3 + c
    rows = []
    last_dev = pd.Timestamp(dev_end) + pd.Timedelta(days=1)
    periods = (
        ("dev", pd.Timestamp(start), last_dev),
        ("test", last_dev, pd.Timestamp(end) + pd.Timedelta(days=1)),
    )
    for name, a, b in periods:
        sel = inside & (t >= a).to_numpy() & (t < b).to_numpy()
        if not sel.any():
            continue
        years = t.dt.year.to_numpy()
        for y in np.unique(years[sel]):
            m = mw[sel & (years == y)]
            rows.append((name, "year", int(y), len(m), _mc(m, method, delta_m, min_events)))
        for k in bx["box"]:
            m = mw[sel & (box == k)]
            rows.append((name, "box", int(k), len(m), _mc(m, method, delta_m, min_events)))
    df = pd.DataFrame(rows, columns=["period", "kind", "key", "n", "mc"])
    df["method"] = method
    return df


def _mc(m: np.ndarray, method: str, delta_m: float, min_events: int) -> float:
    return estimate_mc(m, method, delta_m) if len(m) >= min_events else float("nan")


def completeness_figure(table: pd.DataFrame, region: Sequence[float], title: str = "") -> Figure:
    """Figure B.3: one row per period; left Mc by year (bar height, event count above), right
    Mc per box of the region as a 3 x 3 colour grid with its value and event count."""
    periods = [p for p in ("dev", "test") if (table["period"] == p).any()] if len(table) else []
    fig = new_figure(11, 3.6 * max(len(periods), 1))
    if not periods:
        return no_data(fig, "no events in the region")
    axs = fig.subplots(len(periods), 2, squeeze=False, width_ratios=[2, 1])
    vals = table["mc"].to_numpy(float)
    vmin, vmax = (np.nanmin(vals), np.nanmax(vals)) if np.isfinite(vals).any() else (0, 1)
    for (ax, mx), p in zip(axs, periods, strict=True):
        y = table[(table["period"] == p) & (table["kind"] == "year")]
        ax.bar(y["key"], y["mc"], color="C0")
        for _, r in y.iterrows():
            top = r["mc"] if np.isfinite(r["mc"]) else 0
            ax.annotate(
                f"{int(r['n'])}",
                (r["key"], top),
                xytext=(0, 2),
                textcoords="offset points",
                ha="center",
                fontsize=6,
            )
        ax.set_xticks(y["key"].astype(int).tolist())  # whole years, not 2010.25
        ax.set_ylim(max(vmin - 0.5, 0) if np.isfinite(vmin) else 0, vmax + 0.3)
        ax.set_ylabel(f"Mc ({'development' if p == 'dev' else 'test'} period)")
        ax.set_xlabel("year (events above each bar)")
        b = table[(table["period"] == p) & (table["kind"] == "box")].set_index("key")
        grid = np.full((3, 3), np.nan)
        for k, r in b.iterrows():
            grid[int(k) // 3, int(k) % 3] = r["mc"]
        im = mx.imshow(
            grid,
            origin="lower",
            cmap="magma_r",
            vmin=vmin,
            vmax=vmax,
            extent=(region[2], region[3], region[0], region[1]),
        )
        dl, dn = (region[1] - region[0]) / 3, (region[3] - region[2]) / 3
        for k, r in b.iterrows():
            i, j = int(k) // 3, int(k) % 3
            mx.text(
                region[2] + (j + 0.5) * dn,
                region[0] + (i + 0.5) * dl,
                f"{r['mc']:.1f}\n(n {int(r['n'])})",
                ha="center",
                va="center",
                fontsize=7,
            )
        mx.set_xlabel("lon")
        mx.set_ylabel("lat")
        fig.colorbar(im, ax=mx, shrink=0.8, label="Mc")
    method = table["method"].iloc[0]
    fig.suptitle(title or f"magnitude of completeness (Figure B.3): {METHOD_NAMES[method]}")
    return fig
