"""The picture a seismologist checks first: a day's b-value map and one cell's time series."""

from __future__ import annotations

import os
import uuid
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import xarray as xr

from espb.errors import EspbError


def pick_day(ds: xr.Dataset, day: str | None) -> int:
    """Index of ``day`` (YYYY-MM-DD) in the cube; the last day if None."""
    if day is None:
        return ds.sizes["time"] - 1
    times = pd.DatetimeIndex(ds["time"].values)
    try:
        t = pd.Timestamp(day)
        if t.tzinfo is not None:
            t = t.tz_convert("UTC").tz_localize(None)
    except (ValueError, TypeError, OverflowError) as exc:
        raise EspbError(
            f"--day {day!r} is not a date; use YYYY-MM-DD within the cube "
            f"({times[0].date()} to {times[-1].date()})"
        ) from exc
    if not times[0] <= t.normalize() <= times[-1]:
        raise EspbError(
            f"--day {day} is outside the cube ({times[0].date()} to {times[-1].date()})"
        )
    return int(times.get_indexer([t.normalize()])[0])


def next_day_events(events: pd.DataFrame, day: pd.Timestamp, mag_min: float) -> pd.DataFrame:
    """The events of Mw >= ``mag_min`` on the day after ``day`` (UTC [day+1, day+2)): the day a
    map of ``day`` forecasts. The map itself uses events up to the end of ``day`` (paper
    Section 2.1; its EQ samples are the Mw >= 5 events of the next day, Section 2.2)."""
    t = pd.DatetimeIndex(events["time"])
    t = t.tz_localize("UTC") if t.tz is None else t.tz_convert("UTC")
    d0 = pd.Timestamp(day)
    d0 = (d0.tz_localize("UTC") if d0.tzinfo is None else d0.tz_convert("UTC")).normalize()
    lo, hi = d0 + pd.Timedelta(days=1), d0 + pd.Timedelta(days=2)
    sel = (t >= lo) & (t < hi) & (events["mw"].to_numpy() >= mag_min)
    return events[np.asarray(sel)]


def _naive_utc(t) -> pd.Timestamp:
    """A time as a naive UTC timestamp (the cube's time axis)."""
    t = pd.Timestamp(t)
    return t.tz_convert("UTC").tz_localize(None) if t.tzinfo is not None else t


@dataclass
class Annotation:
    """A marker the caller supplies (e.g. a region's large events): a dotted line at ``time``
    in the time series and, if ``lat``/``lon`` are given and on the map, a star."""

    label: str
    time: pd.Timestamp
    lat: float | None = None
    lon: float | None = None


def pick_cell(ds: xr.Dataset, cell: tuple[float, float] | None, d: int) -> tuple[int, int]:
    """Indices of the cell containing (lat, lon); the cell with the most events on day d if None."""
    if cell is None:
        n = ds["n_events"].isel(time=d).values
        i, j = np.unravel_index(int(np.argmax(n)), n.shape)
        return int(i), int(j)
    lat, lon = cell
    if not (np.isfinite(lat) and np.isfinite(lon)):
        raise EspbError(f"--cell {lat},{lon}: LAT and LON must be finite numbers")
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


def _draw_map(fig, gs, ds, d, i, j, min_events, marked, mag_min, notes) -> None:
    la, lo = ds["lat"].values, ds["lon"].values
    times = pd.DatetimeIndex(ds["time"].values)
    res = float(la[1] - la[0]) if la.size > 1 else float(ds.attrs.get("resolution", 0.1))
    b_map = ds["b"].isel(time=d).values.astype("float64")
    n_map = ds["n_events"].isel(time=d).values
    b_max = float(ds.attrs.get("b_max", 2.0))
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
    nxt = (times[d] + pd.Timedelta(days=1)).date()
    if marked is not None and len(marked):
        ax.scatter(
            marked["longitude"],
            marked["latitude"],
            s=60,
            facecolor="none",
            edgecolor="red",
            label=f"Mw >= {mag_min:g} on {nxt} (next day)",
        )
    for a in notes:
        if a.lat is not None and a.lon is not None:
            ax.plot(a.lon, a.lat, "*", color="orange", ms=12, mec="k", label=a.label)
    if (marked is not None and len(marked)) or any(a.lat is not None for a in notes):
        ax.legend(loc="lower right", fontsize=8)
    ax.set(
        xlabel="longitude (deg E)",
        ylabel="latitude (deg N)",
        title=f"{times[d].date()}  (grey: < {min_events} events)",
        xlim=extent[:2],
        ylim=extent[2:],
    )


def _draw_series(fig, gs, ds, d, i, j, min_events, notes) -> None:
    la, lo = ds["lat"].values, ds["lon"].values
    times = pd.DatetimeIndex(ds["time"].values)
    b_max = float(ds.attrs.get("b_max", 2.0))
    ax1 = fig.add_subplot(gs[0, 1])
    ax1.plot(times, ds["b"].isel(lat=i, lon=j).values, lw=0.8, color="C0")
    ax1.set(ylabel="b", ylim=(0, b_max * 1.02), title=f"cell {la[i]:.2f} N, {lo[j]:.2f} E (red +)")
    ax2 = fig.add_subplot(gs[1, 1], sharex=ax1)
    ax2.plot(
        times,
        ds["n_events"].isel(lat=i, lon=j).values,
        lw=0.8,
        color="C1",
        label="events in cylinder",
    )
    ax2.plot(times, ds["n_used"].isel(lat=i, lon=j).values, lw=0.8, color="C2", label="values used")
    ax2.axhline(min_events, color="grey", lw=0.6, ls="--")
    for ax in (ax1, ax2):
        ax.axvline(times[d], color="r", lw=0.8)
        for a in notes:
            if times[0] <= a.time <= times[-1]:
                ax.axvline(a.time, color="orange", lw=1, ls=":")
    for a in notes:
        if times[0] <= a.time <= times[-1]:
            ax1.annotate(a.label, (a.time, b_max), fontsize=7, color="orange", va="top")
    ax2.set(ylabel="count", yscale="symlog")
    ax2.set_ylim(bottom=0)
    ax2.legend(loc="upper left", fontsize=8)


def draw_cube(
    ds: xr.Dataset,
    day: str | None = None,
    cell: tuple[float, float] | None = None,
    min_events: int = 10,
    events: pd.DataFrame | None = None,
    mag_min: float = 5.0,
    annotations: list[Annotation] | None = None,
):
    """The figure of :func:`plot_cube` and what it shows (no file written). ``events``: the
    Mw >= ``mag_min`` events of the day after the map's day are circled (the day it forecasts);
    ``annotations``: caller-supplied markers (nothing region-specific is drawn by default)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    if not (isinstance(min_events, int | np.integer) and min_events >= 1):
        raise EspbError(
            f"--min-events {min_events}: must be a whole number >= 1 (1 shows every cell with an "
            "event; cells with 0 events have no b-value)"
        )
    if not np.isfinite(mag_min):
        raise EspbError(f"--mark-mw {mag_min}: must be a finite magnitude (paper: 5)")
    d = pick_day(ds, day)
    i, j = pick_cell(ds, cell, d)
    times = pd.DatetimeIndex(ds["time"].values)
    marked = next_day_events(events, times[d], mag_min) if events is not None else None
    notes = [Annotation(a.label, _naive_utc(a.time), a.lat, a.lon) for a in annotations or []]
    fig = plt.figure(figsize=(13, 5.6), constrained_layout=True)
    gs = fig.add_gridspec(2, 2, width_ratios=[1, 1.5])
    _draw_map(fig, gs, ds, d, i, j, min_events, marked, mag_min, notes)
    _draw_series(fig, gs, ds, d, i, j, min_events, notes)
    a = ds.attrs
    fig.suptitle(
        f"b-value cube: mode {a.get('mode')}, dr {a.get('dr')} deg, dt {a.get('dt')} d, "
        f"metric {a.get('metric')}, catalog {a.get('catalog_hash')}",
        fontsize=10,
    )
    info = {
        "day": str(times[d].date()),
        "lat": float(ds["lat"].values[i]),
        "lon": float(ds["lon"].values[j]),
        "b": float(ds["b"].values[d, i, j]),
        "n_events": int(ds["n_events"].values[d, i, j]),
        "marked_day": str((times[d] + pd.Timedelta(days=1)).date()),
        "n_marked": 0 if marked is None else len(marked),
        "marked_event_ids": []
        if marked is None or "event_id" not in marked
        else [str(x) for x in marked["event_id"]],
    }
    return fig, info


def plot_cube(
    ds: xr.Dataset,
    out: str | Path,
    day: str | None = None,
    cell: tuple[float, float] | None = None,
    min_events: int = 10,
    events: pd.DataFrame | None = None,
    mag_min: float = 5.0,
    annotations: list[Annotation] | None = None,
) -> dict:
    """Draw the b map of one day (cells with fewer than ``min_events`` events greyed) and the
    chosen cell's b and event count over time to a PNG, written atomically (a temporary file
    renamed into place); returns what was drawn (:func:`draw_cube`)."""
    import matplotlib.pyplot as plt

    fig, info = draw_cube(ds, day, cell, min_events, events, mag_min, annotations)
    out = Path(out)
    tmp = out.with_name(f".{out.name}.tmp-{os.getpid()}-{uuid.uuid4().hex[:8]}")
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(tmp, dpi=110, format="png")
        os.replace(tmp, out)
    except OSError as exc:
        raise EspbError(f"cannot write {out} ({exc}); choose a writable -o/--output path") from exc
    finally:
        plt.close(fig)
        if tmp.is_file():  # not after a successful rename
            tmp.unlink()
    info["path"] = str(out)
    return info
