"""Figures of a rate-forecast run, pycsep style: a function computes the data (a DataFrame or an
xarray object), another draws it (matplotlib, Agg), :func:`save` writes it
(EarthquakeNet, arXiv 2605.21437, Figures 3-6: observed vs predicted counts with NB intervals,
the dispersion map, PIT histograms, deviance per model and year).
"""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import xarray as xr

from espb.rates.counts import RateGrid
from espb.rates.nb import nb2_ppf
from espb.rates.scores import PitHistogram


def pick_cells(
    grid: RateGrid, first_test: int, points: list[list[float]] | None, n: int
) -> list[int]:
    """Cells holding ``points`` [[lat, lon], ...], else the ``n`` with the most events before
    the first test period (so the choice does not look at the test data)."""
    if points:
        return [grid.cell_of(float(p[0]), float(p[1])) for p in points]
    totals = grid.counts[:first_test].sum(axis=0)
    return [int(c) for c in np.argsort(-totals, kind="stable")[:n]]


def series_data(
    pred: pd.DataFrame, grid: RateGrid, cells: list[int], interval: float
) -> pd.DataFrame:
    """Observed count, forecast mean and the central ``interval`` of the forecast distribution
    per test period for ``cells``."""
    g = pred[pred["cell"].isin(cells)].sort_values(["cell", "period"])
    q = (1.0 - interval) / 2.0
    return pd.DataFrame(
        {
            "time": grid.period_start[g["period"].to_numpy()].tz_localize(None),
            "cell": g["cell"].to_numpy(),
            "label": [
                f"{grid.lat_centre[c]:.2f}N {grid.lon_centre[c]:.2f}E" for c in g["cell"].to_numpy()
            ],
            "observed": g["y"].to_numpy(),
            "mu": g["mu"].to_numpy(),
            "lo": nb2_ppf(q, g["mu"].to_numpy(), g["alpha"].to_numpy()),
            "hi": nb2_ppf(1.0 - q, g["mu"].to_numpy(), g["alpha"].to_numpy()),
        }
    )


def plot_series(df: pd.DataFrame, title: str, interval: float) -> plt.Figure:
    cells = list(dict.fromkeys(df["cell"]))
    fig, axes = plt.subplots(
        len(cells), 1, figsize=(10, 2.6 * len(cells)), squeeze=False, sharex=True
    )
    for ax, c in zip(axes[:, 0], cells, strict=True):
        d = df[df["cell"] == c]
        ax.fill_between(
            d["time"],
            d["lo"],
            d["hi"],
            step="mid",
            alpha=0.3,
            color="C0",
            label=f"{interval:.0%} interval",
        )
        ax.plot(d["time"], d["mu"], color="C0", lw=1, label="forecast mean")
        ax.plot(d["time"], d["observed"], "k.", ms=3, label="observed")
        ax.set_yscale("symlog", linthresh=5)
        ax.set_ylabel("events / period")
        ax.set_title(d["label"].iloc[0], fontsize=9)
    axes[0, 0].legend(fontsize=8, loc="upper left")
    fig.suptitle(title)
    fig.tight_layout()
    return fig


def plot_alpha_map(da: xr.DataArray, title: str) -> plt.Figure:
    fig, ax = plt.subplots(figsize=(6, 5))
    step_lat = float(np.diff(da["lat"]).mean()) if da.sizes["lat"] > 1 else 1.0
    step_lon = float(np.diff(da["lon"]).mean()) if da.sizes["lon"] > 1 else 1.0
    lat_e = np.append(da["lat"].to_numpy() - step_lat / 2, da["lat"].to_numpy()[-1] + step_lat / 2)
    lon_e = np.append(da["lon"].to_numpy() - step_lon / 2, da["lon"].to_numpy()[-1] + step_lon / 2)
    m = ax.pcolormesh(lon_e, lat_e, da.to_numpy(), cmap="viridis", shading="flat")
    fig.colorbar(m, ax=ax, label="mean alpha (NB2 dispersion)")
    ax.set_xlabel("longitude")
    ax.set_ylabel("latitude")
    ax.set_aspect("equal")
    ax.set_title(title)
    fig.tight_layout()
    return fig


def plot_pit(hist: PitHistogram, title: str) -> plt.Figure:
    fig, ax = plt.subplots(figsize=(5, 3.5))
    nb = len(hist.density)
    ax.bar(
        hist.edges[:-1],
        hist.density * nb,
        width=np.diff(hist.edges),
        align="edge",
        color="C0",
        edgecolor="white",
    )
    ax.axhline(1.0, color="k", lw=1, ls="--")
    ax.set_xlabel("randomised PIT")
    ax.set_ylabel("relative frequency (1 = uniform)")
    ax.set_title(f"{title} (n = {hist.n:,})")
    fig.tight_layout()
    return fig


def plot_deviance_by_year(df: pd.DataFrame, title: str, metric: str = "deviance") -> plt.Figure:
    """Grouped bars: ``df`` columns model, year, and ``metric``."""
    wide = df.pivot_table(index="year", columns="model", values=metric, aggfunc="first")
    fig, ax = plt.subplots(figsize=(max(5, 1.2 * len(wide)), 3.8))
    w = 0.8 / max(1, wide.shape[1])
    x = np.arange(len(wide))
    for i, col in enumerate(wide.columns):
        ax.bar(x + i * w - 0.4 + w / 2, wide[col].to_numpy(), width=w, label=str(col))
    ax.set_xticks(x, [str(v) for v in wide.index])
    ax.set_yscale("log")
    ax.set_ylabel(f"mean {metric}")
    ax.set_title(title)
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def save(fig: plt.Figure, path: str | Path) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
