"""Event counts per cell and period (EarthquakeNet, arXiv 2605.21437, Section 2: weekly counts of
M >= 3 events in 3 deg x 3 deg cells).

:func:`count_events` bins an espb event table (:mod:`espb.catalog.schema`) once, vectorised, into
per-(period, cell) aggregates: the count of events with magnitude >= ``m_min`` and, over those
events, the largest and smallest magnitude and the radiated energy (log10 E[J] = 1.5 M + 4.8,
Gutenberg & Richter 1956). Every event left out is counted in :attr:`RateGrid.report`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import xarray as xr

from espb.errors import EspbError
from espb.rates.config import DataConfig

#: binning tolerance (degrees): a point on a cell edge belongs to the upper cell, as in pyCSEP
EDGE_TOL = 1e-9


def energy_joules(m: np.ndarray) -> np.ndarray:
    """Radiated seismic energy, log10 E = 1.5 M + 4.8 (E in J; Gutenberg & Richter 1956)."""
    return np.power(10.0, 1.5 * np.asarray(m, dtype="float64") + 4.8)


@dataclass
class RateGrid:
    """Per-period, per-cell aggregates; arrays are (period, cell), cells in row-major order
    (south to north, then west to east within a row)."""

    period_start: pd.DatetimeIndex  #: UTC start of each period (its first day)
    period_days: int
    cell_row: np.ndarray  #: (C,) latitude row of each cell
    cell_col: np.ndarray  #: (C,) longitude column
    lat0: np.ndarray  #: (C,) south edge
    lon0: np.ndarray  #: (C,) west edge
    cell_deg: float
    region: list[float]
    counts: np.ndarray  #: (T, C) int64, events with magnitude >= m_min
    mmax: np.ndarray  #: (T, C) float64, NaN where no event
    mmin: np.ndarray  #: (T, C) float64, NaN where no event
    energy: np.ndarray  #: (T, C) float64, J
    m_min: float
    report: dict = field(default_factory=dict)

    @property
    def n_periods(self) -> int:
        return len(self.period_start)

    @property
    def n_cells(self) -> int:
        return len(self.lat0)

    @property
    def n_lat(self) -> int:
        return int(self.cell_row.max()) + 1

    @property
    def n_lon(self) -> int:
        return int(self.cell_col.max()) + 1

    @property
    def lat_centre(self) -> np.ndarray:
        """Centre of each cell, clipped to the region for partial edge cells."""
        return (self.lat0 + np.minimum(self.lat0 + self.cell_deg, self.region[1])) / 2

    @property
    def lon_centre(self) -> np.ndarray:
        return (self.lon0 + np.minimum(self.lon0 + self.cell_deg, self.region[3])) / 2

    def cell_of(self, lat: float, lon: float) -> int:
        """Index of the cell holding (lat, lon); EspbError outside the region."""
        la0, la1, lo0, lo1 = self.region
        if not (la0 <= lat < la1 and lo0 <= lon < lo1):
            raise EspbError(
                f"figures.cells: point ({lat}, {lon}) is outside data.region {self.region}"
            )
        r = int(np.floor((lat - la0) / self.cell_deg + EDGE_TOL))
        c = int(np.floor((lon - lo0) / self.cell_deg + EDGE_TOL))
        return r * self.n_lon + c

    def to_dataset(self) -> xr.Dataset:
        """The aggregates as an xarray Dataset with dims (time, lat, lon) and CF-style attributes."""
        shape = (self.n_periods, self.n_lat, self.n_lon)
        lat = self.region[0] + (np.arange(self.n_lat) + 0.5) * self.cell_deg
        lon = self.region[2] + (np.arange(self.n_lon) + 0.5) * self.cell_deg

        def var(a, name, units):
            return (("time", "lat", "lon"), a.reshape(shape), {"long_name": name, "units": units})

        return xr.Dataset(
            {
                "count": var(self.counts, f"events with magnitude >= {self.m_min:g}", "1"),
                "mmax": var(self.mmax, "largest magnitude of the counted events", "1"),
                "mmin": var(self.mmin, "smallest magnitude of the counted events", "1"),
                "energy": var(self.energy, "radiated energy of the counted events", "J"),
            },
            coords={
                "time": (
                    "time",
                    self.period_start.tz_localize(None),
                    {"long_name": "period start (UTC)"},
                ),
                "lat": ("lat", lat, {"standard_name": "latitude", "units": "degrees_north"}),
                "lon": ("lon", lon, {"standard_name": "longitude", "units": "degrees_east"}),
            },
            attrs={"period_days": self.period_days, "cell_deg": self.cell_deg, **self.report},
        )


def _bin(values: np.ndarray, origin: float, width: float) -> np.ndarray:
    return np.floor((values - origin) / width + EDGE_TOL).astype(np.int64)


@dataclass
class _Located:
    keep: np.ndarray  #: events counted
    per: np.ndarray  #: their period
    cell: np.ndarray  #: their cell
    mag: np.ndarray  #: their magnitude
    t_ns: np.ndarray  #: their time (ns since the epoch)
    report: dict


def _locate(events: pd.DataFrame, cfg: DataConfig) -> _Located:
    """Which events count, in which period and cell; what was left out and why."""
    cfg.validate()
    col = cfg.magnitude
    for c in ("time", "latitude", "longitude", col):
        if c not in events.columns:
            raise EspbError(
                f"event table lacks column {c!r}; build it with `espb catalog ingest` or `synth`"
            )
    la0, la1, lo0, lo1 = cfg.region
    n_days = int((cfg.end_ts - cfg.start_ts).days) + 1
    n_per = n_days // cfg.period_days
    t_ns = pd.DatetimeIndex(events["time"]).tz_convert("UTC").as_unit("ns").asi8
    day = (t_ns - cfg.start_ts.value) // (86400 * 10**9)
    per = np.floor_divide(day, cfg.period_days)
    lat = events["latitude"].to_numpy("float64")
    lon = events["longitude"].to_numpy("float64")
    mag = events[col].to_numpy("float64")
    in_time = (day >= 0) & (per < n_per)
    in_space = (lat >= la0) & (lat < la1) & (lon >= lo0) & (lon < lo1)
    finite = np.isfinite(mag)
    big_enough = mag >= cfg.m_min - 1e-9
    keep = in_time & in_space & finite & big_enough
    report = {
        "n_events_table": int(len(events)),
        "n_outside_time": int((~in_time).sum()),
        "n_outside_region": int((in_time & ~in_space).sum()),
        "n_missing_magnitude": int((in_time & in_space & ~finite).sum()),
        "n_below_m_min": int((in_time & in_space & finite & ~big_enough).sum()),
        "n_counted": int(keep.sum()),
        "n_periods": int(n_per),
        "n_cells": int(cfg.n_lat * cfg.n_lon),
        "n_days_after_last_whole_period": int(n_days - n_per * cfg.period_days),
    }
    rows = np.minimum(_bin(lat[keep], la0, cfg.cell_deg), cfg.n_lat - 1)
    cols = np.minimum(_bin(lon[keep], lo0, cfg.cell_deg), cfg.n_lon - 1)
    return _Located(keep, per[keep], rows * cfg.n_lon + cols, mag[keep], t_ns[keep], report)


def count_events(events: pd.DataFrame, cfg: DataConfig) -> RateGrid:
    """Bin ``events`` into the periods and cells of ``cfg`` (vectorised; no per-event loop).

    Periods are ``[start + k P, start + (k + 1) P)`` days, the whole ones up to ``end``; cells
    are half-open ``[lat0, lat0 + d) x [lon0, lon0 + d)`` inside the half-open region.
    """
    loc = _locate(events, cfg)
    n_lon = cfg.n_lon
    n_cells = cfg.n_lat * n_lon
    n_per = loc.report["n_periods"]
    flat = loc.per * n_cells + loc.cell
    size = n_per * n_cells
    counts = np.bincount(flat, minlength=size).astype(np.int64)
    energy = np.bincount(flat, weights=energy_joules(loc.mag), minlength=size)
    mmax = np.full(size, -np.inf)
    mmin = np.full(size, np.inf)
    np.maximum.at(mmax, flat, loc.mag)
    np.minimum.at(mmin, flat, loc.mag)
    mmax[counts == 0] = np.nan
    mmin[counts == 0] = np.nan
    r_idx, c_idx = np.divmod(np.arange(n_cells), n_lon)
    la0, lo0 = cfg.region[0], cfg.region[2]
    return RateGrid(
        period_start=cfg.start_ts + pd.to_timedelta(np.arange(n_per) * cfg.period_days, unit="D"),
        period_days=int(cfg.period_days),
        cell_row=r_idx,
        cell_col=c_idx,
        lat0=la0 + r_idx * cfg.cell_deg,
        lon0=lo0 + c_idx * cfg.cell_deg,
        cell_deg=float(cfg.cell_deg),
        region=[float(x) for x in cfg.region],
        counts=counts.reshape(n_per, n_cells),
        mmax=mmax.reshape(n_per, n_cells),
        mmin=mmin.reshape(n_per, n_cells),
        energy=energy.reshape(n_per, n_cells),
        m_min=float(cfg.m_min),
        report=loc.report,
    )


def counted_events(events: pd.DataFrame, cfg: DataConfig) -> pd.DataFrame:
    """The events :func:`count_events` counts, with their ``period`` and ``cell`` (pyCSEP's
    observed catalogs are built from them), in table order."""
    loc = _locate(events, cfg)
    depth = events["depth"].to_numpy("float64")[loc.keep] if "depth" in events else 0.0
    return pd.DataFrame(
        {
            "time_ms": loc.t_ns // 10**6,
            "period": loc.per,
            "cell": loc.cell,
            "magnitude": loc.mag,
            "depth": depth,
        }
    )
