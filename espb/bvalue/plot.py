"""The picture a seismologist checks first: a day's b-value map and one cell's time series."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import xarray as xr

from espb.errors import EspbError


def pick_day(ds: xr.Dataset, day: str | None) -> int:
    """Index of ``day`` (YYYY-MM-DD) in the cube; the last day if None."""
    if day is None:
        return ds.sizes["time"] - 1
    t = pd.Timestamp(day)
    times = pd.DatetimeIndex(ds["time"].values)
    if not times[0] <= t <= times[-1]:
        raise EspbError(
            f"--day {day} is outside the cube ({times[0].date()} to {times[-1].date()})"
        )
    return int(times.get_indexer([t.normalize()])[0])


def pick_cell(ds: xr.Dataset, cell: tuple[float, float] | None, d: int) -> tuple[int, int]:
    """Indices of the cell containing (lat, lon); the cell with the most events on day d if None."""
    if cell is None:
        n = ds["n_events"].isel(time=d).values
        i, j = np.unravel_index(int(np.argmax(n)), n.shape)
        return int(i), int(j)
    lat, lon = cell
    la, lo = ds["lat"].values, ds["lon"].values
    res_la = float(la[1] - la[0]) if la.size > 1 else 1.0
    res_lo = float(lo[1] - lo[0]) if lo.size > 1 else 1.0
    i = int(np.floor((lat - (la[0] - res_la / 2)) / res_la))
    j = int(np.floor((lon - (lo[0] - res_lo / 2)) / res_lo))
    if not (0 <= i < la.size and 0 <= j < lo.size):
        raise EspbError(
            f"--cell {lat},{lon} is outside the cube's grid "
            f"({la[0] - res_la / 2:g}-{la[-1] + res_la / 2:g} N, {lo[0] - res_lo / 2:g}-{lo[-1] + res_lo / 2:g} E)"
        )
    return i, j


def plot_cube(
    ds: xr.Dataset,
    out: str | Path,
    day: str | None = None,
    cell: tuple[float, float] | None = None,
    min_events: int = 10,
    events: pd.DataFrame | None = None,
    mag_min: float = 5.0,
) -> dict:
    """Draw the b map of one day (cells with fewer than ``min_events`` events greyed) and the
    chosen cell's b and event count over time to a PNG; returns what was drawn."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    d = pick_day(ds, day)
    i, j = pick_cell(ds, cell, d)
    times = pd.DatetimeIndex(ds["time"].values)
    la, lo = ds["lat"].values, ds["lon"].values
    res = float(la[1] - la[0]) if la.size > 1 else 0.1
    b_map = ds["b"].isel(time=d).values.astype("float64")
    n_map = ds["n_events"].isel(time=d).values
    b_max = float(ds.attrs.get("b_max", 2.0))

    fig = plt.figure(figsize=(13, 5.6), constrained_layout=True)
    gs = fig.add_gridspec(2, 2, width_ratios=[1, 1.5])
    ax = fig.add_subplot(gs[:, 0])
    extent = [lo[0] - res / 2, lo[-1] + res / 2, la[0] - res / 2, la[-1] + res / 2]
    im = ax.imshow(
        np.ma.masked_where(n_map < min_events, b_map),
        origin="lower",
        extent=extent,
        cmap="viridis",
        vmin=0,
        vmax=b_max,
        interpolation="nearest",
    )
    ax.imshow(
        np.ma.masked_where(n_map >= min_events, np.ones_like(b_map)),
        origin="lower",
        extent=extent,
        cmap="Greys",
        vmin=0,
        vmax=3,
        interpolation="nearest",
    )
    fig.colorbar(im, ax=ax, shrink=0.8, label="b")
    ax.plot(lo[j], la[i], "r+", ms=14, mew=2)
    title = f"{times[d].date()}  (grey: < {min_events} events)"
    if events is not None and len(events):
        t = pd.DatetimeIndex(events["time"]).tz_convert("UTC").tz_localize(None)
        sel = (
            (t > times[d])
            & (t <= times[d] + pd.Timedelta(days=1))
            & (events["mw"].to_numpy() >= mag_min)
        )
        if sel.any():
            ax.scatter(
                events["longitude"][sel],
                events["latitude"][sel],
                s=60,
                facecolor="none",
                edgecolor="red",
                label=f"Mw >= {mag_min:g} next day",
            )
            ax.legend(loc="lower right", fontsize=8)
    ax.set(xlabel="longitude (deg E)", ylabel="latitude (deg N)", title=title)

    ts_b = ds["b"].isel(lat=i, lon=j).values
    ts_n = ds["n_events"].isel(lat=i, lon=j).values
    ax1 = fig.add_subplot(gs[0, 1])
    ax1.plot(times, ts_b, lw=0.8, color="C0")
    ax1.axvline(times[d], color="r", lw=0.8)
    ax1.set(ylabel="b", ylim=(0, b_max * 1.02), title=f"cell {la[i]:.2f} N, {lo[j]:.2f} E (red +)")
    ax2 = fig.add_subplot(gs[1, 1], sharex=ax1)
    ax2.plot(times, ts_n, lw=0.8, color="C1", label="events in cylinder")
    ax2.plot(times, ds["n_used"].isel(lat=i, lon=j).values, lw=0.8, color="C2", label="values used")
    ax2.axhline(min_events, color="grey", lw=0.6, ls="--")
    ax2.axvline(times[d], color="r", lw=0.8)
    ax2.set(ylabel="count", yscale="symlog")
    ax2.set_ylim(bottom=0)
    ax2.legend(loc="upper left", fontsize=8)
    a = ds.attrs
    fig.suptitle(
        f"b-value cube: mode {a.get('mode')}, dr {a.get('dr')} deg, dt {a.get('dt')} d, "
        f"metric {a.get('metric')}, catalog {a.get('catalog_hash')}",
        fontsize=10,
    )
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=110)
    plt.close(fig)
    return {
        "day": str(times[d].date()),
        "lat": float(la[i]),
        "lon": float(lo[j]),
        "b": float(b_map[i, j]),
        "n_events": int(n_map[i, j]),
        "path": str(out),
    }
