"""From an event table to a daily b-value cube (paper Section 2.1) as a labelled xarray Dataset."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd
import xarray as xr

from espb.bvalue.config import CubeConfig
from espb.bvalue.estimators import EPS_MAG, MODE_CODES, selection_slack
from espb.bvalue.grid import cell_centres, day_index, search_box_deg
from espb.bvalue.guards import Coverage, assess_coverage, check_grid_memory, check_pairs_memory
from espb.errors import EspbError

#: Bumped whenever the numbers a cube holds could change for the same catalog and settings.
ALGORITHM_VERSION = 1

Progress = Callable[[int, int, str], None]
#: latitude rows of the grid the kernel processes at once (bounds the memory of its lists)
ROWS_PER_STRIPE = 8


@dataclass
class CubeInputs:
    """The events a cube uses, as flat arrays in time order."""

    lat: np.ndarray
    lon: np.ndarray
    day: np.ndarray
    mag: np.ndarray
    n_catalog: int
    n_before: int  # older than the first cylinder reaches
    n_after: int  # after the cube's last day
    n_rounded: int  # magnitudes moved onto the delta_m grid (round_magnitudes)


def prepare_events(events: pd.DataFrame, cfg: CubeConfig) -> CubeInputs:
    """Select and convert the event table's columns for the kernel; checks the magnitudes."""
    for col in ("time", "latitude", "longitude", "mw"):
        if col not in events.columns:
            raise EspbError(
                f"event table lacks column {col!r}; build it with `espb catalog ingest` or `synth`"
            )
    t_ns = pd.DatetimeIndex(events["time"]).as_unit("ns").asi8
    order = np.argsort(t_ns, kind="stable")  # time order; ties keep the table's order
    day = day_index(events["time"], cfg.start_ts)[order]
    keep = (day >= -(cfg.dt - 1)) & (day <= cfg.n_days - 1)
    mag = events["mw"].to_numpy(dtype="float64")[order][keep]
    lat = events["latitude"].to_numpy(dtype="float64")[order][keep]
    lon = events["longitude"].to_numpy(dtype="float64")[order][keep]
    bad = ~(np.isfinite(mag) & np.isfinite(lat) & np.isfinite(lon))
    if bad.any():
        raise EspbError(
            f"event table: {int(bad.sum())} events in the cube's time span have a missing Mw, "
            "latitude or longitude; rebuild the table with `espb catalog ingest` (which drops them)"
        )
    n_rounded = 0
    if cfg.round_magnitudes:
        rounded = np.round(np.round(mag / cfg.delta_m) * cfg.delta_m, 10)
        n_rounded = int(np.count_nonzero(np.abs(rounded - mag) > EPS_MAG))
        mag = rounded
    elif cfg.mode == "binned" or (cfg.mode == "classic" and cfg.delta_m > 0):
        off = np.abs(mag / cfg.delta_m - np.round(mag / cfg.delta_m))
        n_off = int(np.count_nonzero(off > 1e-6))
        if n_off:
            raise EspbError(
                f"mode={cfg.mode} assumes magnitudes binned at delta_m={cfg.delta_m:g}, but {n_off} of "
                f"{len(mag)} Mw values are not on that grid; set round_magnitudes=true, ingest with "
                f"--mw-round {cfg.delta_m:g}, or use mode=paper (continuous)"
            )
    n_before = int(np.count_nonzero(day < -(cfg.dt - 1)))
    n_after = int(np.count_nonzero(day > cfg.n_days - 1))
    return CubeInputs(
        lat=np.ascontiguousarray(lat),
        lon=np.ascontiguousarray(lon),
        day=np.ascontiguousarray(day[keep].astype(np.int64)),
        mag=np.ascontiguousarray(mag),
        n_catalog=len(events),
        n_before=n_before,
        n_after=n_after,
        n_rounded=n_rounded,
    )


def compute_arrays(
    inp: CubeInputs,
    cfg: CubeConfig,
    progress: Progress | None = None,
    rows_per_stripe: int = ROWS_PER_STRIPE,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, dict]:
    """b (float32), n_events and n_used (int32), each (time, lat, lon), and timing stats."""
    from espb.bvalue.kernels import compute_stripe

    la0, la1, lo0, lo1 = cfg.region
    lat_c = cell_centres(la0, la1, cfg.resolution)
    lon_c = cell_centres(lo0, lo1, cfg.resolution)
    shape = (cfg.n_days, lat_c.size, lon_c.size)
    out_b = np.zeros(shape, np.float32)
    out_n = np.zeros(shape, np.int32)
    out_u = np.zeros(shape, np.int32)
    r = cfg.effective_dr_km if cfg.metric == "greatcircle" else float(cfg.dr)
    box = search_box_deg(cfg.metric, r, max(abs(la0), abs(la1)))
    dm = cfg.effective_delta_m
    thr = cfg.effective_threshold
    t0 = time.perf_counter()
    pairs = 0
    n_rows = lat_c.size
    for i0 in range(0, n_rows, rows_per_stripe):
        i1 = min(i0 + rows_per_stripe, n_rows)
        pairs += compute_stripe(
            inp.lat,
            inp.lon,
            inp.day,
            inp.mag,
            lat_c,
            lon_c,
            i0,
            i1,
            res=float(cfg.resolution),
            box=box,
            metric=cfg.metric,
            r=r,
            ndays=cfg.n_days,
            dt=int(cfg.dt),
            classic=MODE_CODES[cfg.mode] == 2,
            thr=thr,
            slack=selection_slack(dm),
            dm=dm,
            b_max=float(cfg.b_max),
            out_b=out_b,
            out_n=out_n,
            out_u=out_u,
        )
        if progress is not None:
            progress(i1, n_rows, f"rows {i1}/{n_rows}")
    stats = {"compute_s": time.perf_counter() - t0, "pairs": pairs}
    return out_b, out_n, out_u, stats


def to_dataset(
    b: np.ndarray,
    n: np.ndarray,
    u: np.ndarray,
    cfg: CubeConfig,
    catalog_hash: str,
    key: str,
    inp: CubeInputs,
    coverage: Coverage | None = None,
) -> xr.Dataset:
    """Wrap the arrays with named dims, cell-centre coordinates and CF-style attributes
    (``coverage``: the catalog's time range against the cube's, flagged when beyond it)."""
    from espb import __version__

    la0, la1, lo0, lo1 = cfg.region
    times = pd.date_range(cfg.start_ts.tz_localize(None), periods=cfg.n_days, freq="D")
    mode_desc = {
        "paper": "b-positive, Aki estimator as printed (paper Eqs. 5-6), continuous magnitudes",
        "binned": "b-positive, discretisation-corrected (Tinti & Mulargia 1987) for magnitudes binned at delta_m",
        "classic": "classic Aki-Utsu on the magnitudes >= Mc (threshold), no b-positive",
    }[cfg.mode]
    used_desc = (
        "number of magnitudes >= Mc in the cylinder"
        if cfg.mode == "classic"
        else "number of positive magnitude differences >= threshold used (b-positive)"
    )
    ds = xr.Dataset(
        data_vars={
            "b": (
                ("time", "lat", "lon"),
                b,
                {
                    "long_name": f"Gutenberg-Richter b-value ({mode_desc})",
                    "units": "1",
                    "valid_min": 0.0,
                    "valid_max": float(cfg.b_max),
                    "comment": "0 where fewer than two events, no usable differences or all magnitudes "
                    "equal; infinite or larger values clipped to valid_max (paper Section 2.1)",
                },
            ),
            "n_events": (
                ("time", "lat", "lon"),
                n,
                {
                    "long_name": "number of events in the cylinder (within dr, in the dt days ending that day)",
                    "units": "1",
                },
            ),
            "n_used": (("time", "lat", "lon"), u, {"long_name": used_desc, "units": "1"}),
        },
        coords={
            "time": (
                "time",
                times,
                {
                    "long_name": "day (UTC); the value uses events up to the end of this day",
                    "standard_name": "time",
                },
            ),
            "lat": (
                "lat",
                cell_centres(la0, la1, cfg.resolution),
                {
                    "long_name": "latitude of the cell centre",
                    "standard_name": "latitude",
                    "units": "degrees_north",
                },
            ),
            "lon": (
                "lon",
                cell_centres(lo0, lo1, cfg.resolution),
                {
                    "long_name": "longitude of the cell centre",
                    "standard_name": "longitude",
                    "units": "degrees_east",
                },
            ),
        },
    )
    fields = cfg.key_fields()
    fields.pop("chunks")
    ds.attrs = {
        "title": f"espb daily b-value cube ({cfg.mode}, dr={cfg.dr:g} deg, dt={cfg.dt} d)",
        "Conventions": "CF-1.10",
        "source": "espb.bvalue (Koehler et al., Section 2.1)",
        "references": "Koehler et al., Detecting Spatiotemporal b-Value Anomalies with a Progressive "
        "Deep Learning Architecture; van der Elst (2021) doi:10.1029/2020JB021027",
        "espb_version": __version__,
        "espb_algorithm_version": ALGORITHM_VERSION,
        "espb_cube_key": key,
        "catalog_hash": catalog_hash,
        "config_name": cfg.name,
        "n_events_catalog": inp.n_catalog,
        "n_events_used": len(inp.mag),
        "n_events_before_lookback": inp.n_before,
        "n_events_after_end": inp.n_after,
        "n_magnitudes_rounded": inp.n_rounded,
        "fraction_b_nonzero": float(np.count_nonzero(b) / b.size) if b.size else 0.0,
        "fraction_ge10_events": float(np.count_nonzero(n >= 10) / n.size) if n.size else 0.0,
        **_coverage_attrs(coverage),
        **{k: v for k, v in fields.items() if v is not None},
    }
    return ds


def _coverage_attrs(cov: Coverage | None) -> dict:
    if cov is None or cov.first is None:
        return {}
    return {
        "catalog_first_event": cov.first.isoformat(),
        "catalog_last_event": cov.last.isoformat(),
        "days_before_catalog_start": cov.days_before_start,
        "days_after_catalog_end": cov.days_after_end,
        "beyond_catalog_range": int(bool(cov.warning)),
        "coverage_warning": cov.warning,
    }


def build_cube(
    events: pd.DataFrame,
    cfg: CubeConfig,
    *,
    catalog_hash: str = "",
    key: str = "",
    progress: Progress | None = None,
) -> tuple[xr.Dataset, dict]:
    """Compute a cube in memory (no cache): the Dataset and timing stats. ConfigError, before
    anything grid-sized is allocated, if the arrays or the kernel's lists would not fit in memory
    (:mod:`espb.bvalue.guards`)."""
    check_grid_memory(cfg)
    inp = prepare_events(events, cfg)
    check_pairs_memory(inp.lat, cfg, ROWS_PER_STRIPE)
    b, n, u, stats = compute_arrays(inp, cfg, progress, ROWS_PER_STRIPE)
    stats["n_events_used"] = len(inp.mag)
    cov = assess_coverage(events, cfg, counts=False)
    return to_dataset(b, n, u, cfg, catalog_hash, key, inp, cov), stats
