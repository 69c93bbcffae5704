"""Refusals and warnings before (and right after) a cube is computed, so that no setting gives a
silent all-zero cube, a numba overflow or an out-of-memory kill:

- :func:`check_grid_memory`: the output arrays (12 bytes per cell-day) must fit in memory;
  :func:`check_pairs_memory`: so must the kernel's (event, cell) lists of one stripe (a huge ``dr``);
- :func:`assess_coverage` / :func:`require_events`: a cube with no event in its box and period is
  an error naming the catalog's extent and the settings to change;
  :attr:`Coverage.warning`: a cube that starts or ends more than :data:`COVERAGE_TOLERANCE_DAYS`
  beyond the catalog's first or last event is flagged (attrs) and warned about;
- :func:`check_not_degenerate`: a cube whose every b is 0 is an error with the cause.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from espb.bvalue.config import CubeConfig
from espb.bvalue.grid import DAY_NS, search_box_deg
from espb.errors import ConfigError, EspbError

#: b (float32) + n_events (int32) + n_used (int32)
BYTES_PER_CELL_DAY = 12
#: refuse a build whose arrays alone need more than this share of the available memory
MEMORY_SHARE = 0.8
#: a cube may start or end this many days beyond the catalog's first / last event unwarned
COVERAGE_TOLERANCE_DAYS = 30
GIB = 2**30


def grid_shape(cfg: CubeConfig) -> tuple[int, int, int]:
    """(days, lat cells, lon cells), by arithmetic only (nothing allocated)."""
    la0, la1, lo0, lo1 = cfg.region
    return (
        cfg.n_days,
        int(round((la1 - la0) / cfg.resolution)),
        int(round((lo1 - lo0) / cfg.resolution)),
    )


def available_memory_bytes() -> int | None:
    """Memory this process may still use: MemAvailable, capped by a cgroup v2 limit; None if
    the system does not say."""
    avail = None
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                avail = int(line.split()[1]) * 1024
                break
    except (OSError, ValueError, IndexError):
        try:
            avail = os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
        except (ValueError, OSError, AttributeError):
            avail = None
    try:
        cg = Path("/sys/fs/cgroup")
        limit = (cg / "memory.max").read_text().strip()
        if limit != "max":
            left = int(limit) - int((cg / "memory.current").read_text())
            avail = left if avail is None else min(avail, left)
    except (OSError, ValueError):
        pass  # no cgroup v2 limit: MemAvailable stands
    return avail


def _refuse(cfg: CubeConfig, need: int, what: str, fix: str, available: int | None) -> None:
    avail = available_memory_bytes() if available is None else available
    if avail is not None and need > MEMORY_SHARE * avail:
        raise ConfigError(
            f"cube config {cfg.name!r}: {what} needs {need / GIB:.1f} GiB, more than "
            f"{MEMORY_SHARE:.0%} of the {avail / GIB:.1f} GiB of memory available; {fix}"
        )


def check_grid_memory(cfg: CubeConfig, available: int | None = None) -> None:
    """ConfigError if the cube's arrays would not fit in memory (checked before allocating)."""
    nt, ny, nx = grid_shape(cfg)
    _refuse(
        cfg,
        nt * ny * nx * BYTES_PER_CELL_DAY,
        f"the grid of {nt:,} days x {ny:,} x {nx:,} cells (b, n_events, n_used)",
        "use a smaller region, a coarser resolution or a shorter start..end "
        "(or build on a machine with more memory)",
        available,
    )


def check_pairs_memory(
    lat: np.ndarray, cfg: CubeConfig, rows_per_stripe: int, available: int | None = None
) -> None:
    """ConfigError if one stripe's (event, cell) lists could exceed memory: an upper bound from
    the events in each stripe's latitude band times the cells of the search box."""
    _nt, ny, nx = grid_shape(cfg)
    la0, la1, _lo0, _lo1 = cfg.region
    r = cfg.effective_dr_km if cfg.metric == "greatcircle" else float(cfg.dr)
    blat, blon = search_box_deg(cfg.metric, r, max(abs(la0), abs(la1)))
    res = float(cfg.resolution)
    cols = min(nx, int(math.ceil(2 * blon / res)) + 3)
    srt = np.sort(lat)
    worst = 0
    for i0 in range(0, ny, rows_per_stripe):
        i1 = min(i0 + rows_per_stripe, ny)
        lo = la0 + (i0 + 0.5) * res - blat - res
        hi = la0 + (i1 - 0.5) * res + blat + res
        n = int(np.searchsorted(srt, hi, "right") - np.searchsorted(srt, lo, "left"))
        worst = max(worst, n * min(i1 - i0, int(math.ceil(2 * blat / res)) + 3) * cols)
    _refuse(
        cfg,
        4 * worst,
        f"a radius of dr={cfg.dr:g}"
        + (f" (dr_km={cfg.effective_dr_km:g})" if cfg.metric == "greatcircle" else "")
        + f" pairs up to {worst:,} (event, cell) pairs in one stripe of {rows_per_stripe} rows",
        "use a smaller dr (the paper's radii are 0.15-0.65 deg) or a coarser resolution",
        available,
    )


@dataclass
class Coverage:
    """Where the catalog's events are, against the cube's box and period."""

    n_catalog: int
    n_in_box: int  # near the grid (within the search box of a cell), any time
    n_in_period: int  # in the cube's days or its lookback, anywhere
    n_usable: int  # both
    n_in_box_shifted: int  # would be near the grid with longitudes shifted by +-360 deg
    lat_range: tuple[float, float] | None
    lon_range: tuple[float, float] | None
    first: pd.Timestamp | None
    last: pd.Timestamp | None
    days_before_start: int  # first event's day minus the cube's first day (> 0: cube too early)
    days_after_end: int  # the cube's last day minus the last event's day (> 0: cube too late)

    @property
    def warning(self) -> str:
        """A loud note if the cube reaches beyond the catalog's time range ('' if not)."""
        tol = COVERAGE_TOLERANCE_DAYS
        parts = []
        if self.last is not None and self.days_after_end > tol:
            parts.append(
                f"the cube runs {self.days_after_end:,} days ({self.days_after_end / 365.25:.1f} "
                f"years) past the catalog's last event ({self.last.date()}): its last days see "
                "no new events, only an ever older window; set end to the catalog's last day or "
                "use a catalog that reaches further"
            )
        if self.first is not None and self.days_before_start > tol:
            parts.append(
                f"the cube starts {self.days_before_start:,} days "
                f"({self.days_before_start / 365.25:.1f} years) before the catalog's first event "
                f"({self.first.date()}): its first days have no events at all; set start to at "
                "least the catalog's first day (plus dt for a full lookback)"
            )
        return "; ".join(parts)


def _box(cfg: CubeConfig) -> tuple[float, float, float, float]:
    la0, la1, lo0, lo1 = cfg.region
    r = cfg.effective_dr_km if cfg.metric == "greatcircle" else float(cfg.dr)
    blat, blon = search_box_deg(cfg.metric, r, max(abs(la0), abs(la1)))
    return la0 - blat, la1 + blat, lo0 - blon, lo1 + blon


def _utc_ns(times) -> np.ndarray:
    t = pd.DatetimeIndex(times)
    t = t.tz_localize("UTC") if t.tz is None else t.tz_convert("UTC")
    return t.as_unit("ns").asi8


def assess_coverage(events: pd.DataFrame, cfg: CubeConfig, *, counts: bool = True) -> Coverage:
    """The catalog's time range against the cube's (always) and, with ``counts``, the events
    near the grid and in the cube's period (with lookback); vectorised. ``counts=False`` (a
    cache hit, which only needs :attr:`Coverage.warning`) leaves the counts at -1."""
    n = len(events)
    if n == 0:
        return Coverage(0, 0, 0, 0, 0, None, None, None, None, 0, 0)
    ns = _utc_ns(events["time"])
    lo_ns, hi_ns = int(ns.min()), int(ns.max())
    start_ns = cfg.start_ts.as_unit("ns").value
    first_day, last_day = (lo_ns - start_ns) // DAY_NS, (hi_ns - start_ns) // DAY_NS
    cov = Coverage(
        n_catalog=n,
        n_in_box=-1,
        n_in_period=-1,
        n_usable=-1,
        n_in_box_shifted=-1,
        lat_range=None,
        lon_range=None,
        first=pd.Timestamp(lo_ns, tz="UTC"),
        last=pd.Timestamp(hi_ns, tz="UTC"),
        days_before_start=int(first_day),
        days_after_end=int(cfg.n_days - 1 - last_day),
    )
    if not counts:
        return cov
    lat = events["latitude"].to_numpy(dtype="float64")
    lon = events["longitude"].to_numpy(dtype="float64")
    b0, b1, b2, b3 = _box(cfg)
    in_lat = (lat >= b0) & (lat <= b1)
    in_box = in_lat & (lon >= b2) & (lon <= b3)
    shifted = in_lat & (
        ((lon + 360 >= b2) & (lon + 360 <= b3)) | ((lon - 360 >= b2) & (lon - 360 <= b3))
    )
    day = (ns - start_ns) // DAY_NS
    in_period = (day >= -(cfg.dt - 1)) & (day <= cfg.n_days - 1)
    cov.n_in_box = int(in_box.sum())
    cov.n_in_period = int(in_period.sum())
    cov.n_usable = int((in_box & in_period).sum())
    cov.n_in_box_shifted = int(shifted.sum())
    cov.lat_range = (float(np.nanmin(lat)), float(np.nanmax(lat)))
    cov.lon_range = (float(np.nanmin(lon)), float(np.nanmax(lon)))
    return cov


def _fmt_box(la0: float, la1: float, lo0: float, lo1: float) -> str:
    return f"{la0:.2f} to {la1:.2f} N, {lo0:.2f} to {lo1:.2f} E"


def require_events(cov: Coverage, cfg: CubeConfig) -> None:
    """EspbError if no event lies in the cube's box and period, with the catalog's extent and
    the settings that would fix it."""
    if cov.n_usable > 0:
        return
    if cov.n_usable < 0:
        raise ValueError("require_events needs assess_coverage(..., counts=True)")
    la0, la1, lo0, lo1 = cfg.region
    look = (cfg.start_ts - pd.Timedelta(days=cfg.dt - 1)).date()
    grid = (
        f"the cube's grid covers {_fmt_box(la0, la1, lo0, lo1)} (events within dr of it count), "
        f"days {cfg.start_ts.date()} to {cfg.end_ts.date()} (lookback from {look})"
    )
    if cov.n_catalog == 0:
        raise EspbError(f"the catalog has no events; {grid}. Ingest a catalog with events first")
    ext = (
        f"the catalog's {cov.n_catalog:,} events lie in {_fmt_box(*cov.lat_range, *cov.lon_range)}"
        f", {cov.first.date()} to {cov.last.date()}"
    )
    fix_region = (
        "set the cube's region to the catalog's (--region LAT_MIN,LAT_MAX,LON_MIN,LON_MAX, "
        "or bvalue.region=[LAT_MIN,LAT_MAX,LON_MIN,LON_MAX] in a training config)"
    )
    fix_dates = "set start/end within the catalog's time range (--start/--end, bvalue.start/end)"
    if cov.n_in_box and not cov.n_in_period:
        fix = fix_dates
        why = f"{cov.n_in_box:,} events lie in the box, none in the cube's period"
    elif cov.n_in_period and not cov.n_in_box:
        fix = fix_region
        why = f"{cov.n_in_period:,} events lie in the cube's period, none in its box"
        if cov.n_in_box_shifted:
            fix += " (the catalog and the grid seem to use different longitude conventions, "
            fix += "-180..180 against 0..360: shift the region's longitudes by 360)"
    else:
        fix = f"{fix_region} and {fix_dates}"
        why = "none lies in its box, none in its period"
    raise EspbError(f"no event for the cube: {ext}; {grid}; {why}. Fix: {fix}")


def check_not_degenerate(b: np.ndarray, n: np.ndarray, u: np.ndarray, cfg: CubeConfig) -> None:
    """EspbError if every b of a computed cube is 0, with what the cylinders held."""
    if b.size == 0 or np.any(b):
        return
    n_max = int(n.max())
    u_max = int(u.max())
    used = "magnitudes >= Mc" if cfg.mode == "classic" else "usable magnitude differences"
    if n_max < 2:
        cause = f"no cylinder holds 2 events (at most {n_max}); use a larger dr or dt"
    elif u_max == 0:
        cause = f"cylinders hold up to {n_max:,} events but no {used}: " + (
            f"threshold (Mc) = {cfg.effective_threshold:g} is above every magnitude; lower it"
            if cfg.mode == "classic"
            else "the magnitudes never increase between events (constant or placeholder "
            "magnitudes?); check the catalog with `espb catalog info`"
        )
    else:
        cause = (
            f"cylinders hold up to {n_max:,} events and {u_max:,} {used}, yet every estimate is "
            "0 (all magnitudes equal?); check the catalog with `espb catalog info`"
        )
    raise EspbError(f"cube config {cfg.name!r}: every b value of the cube is 0: {cause}")
