"""Spatial base rate: the past target rate, redistributed over the cells by smoothed past events.

For a forecast day ``d`` with update day ``u = u(d)`` (segments of ``update_days`` anchored at
the first eligible day; ``update_days = 1`` recomputes every day):

    S_c(u)  = sum over smoothing events i before day u of  int_cell_c K_i(x - x_i) dx
    shape_c = (1 - floor) S_c / sum_c' S_c' + floor / n_cells      (uniform when no event yet)
    lambda_c = n_cells * (-ln(1 - p_uniform(u))) * shape_c,         p_c = 1 - exp(-lambda_c)

so the total expected number of target cell-days is the uniform baseline's and the kernel only
redistributes it. Smoothing events are the catalog events with ``Mw >= smooth_min_mag`` (default
the target magnitude), anywhere (events outside the grid spill kernel mass into it). Kernels:

- ``gaussian``: isotropic, std ``bandwidth_km`` per axis, integrated exactly over each cell;
- ``adaptive``: Helmstetter, Kagan & Jackson (2007, SRL 78(1), Eqs. 3-4): the power law
  ``K_d(r) ~ (r^2 + d^2)^-1.5`` with ``d_i`` the distance from event i to its ``neighbours``-th
  nearest neighbour, clipped to ``[min_bandwidth_km, max_bandwidth_km]``. Time-forward: the
  neighbours are the smoothing events *earlier* than i, so a bandwidth never changes afterwards
  (HKJ use the whole learning catalog).

``floor`` is the water level that keeps every cell's probability above zero.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import numpy as np
import pandas as pd
import xarray as xr
from scipy.spatial import cKDTree

from espb.errors import ConfigError
from espb.forecast.baselines.base import (
    eligible_edges,
    event_days,
    forecast_days,
    segment_start,
    to_dataarray,
)
from espb.forecast.baselines.kernels import gaussian_cell_masses, powerlaw_cell_masses
from espb.forecast.baselines.uniform import UniformConfig, uniform_rate
from espb.forecast.targets import Eligible
from espb.geo import chord_to_km
from espb.samples.labels import Grid

KERNELS = ("gaussian", "adaptive")
#: events whose kernel masses are computed at once (bounds memory: chunk x cells doubles)
_CHUNK = 256


@dataclass
class SpatialConfig:
    kernel: str = "gaussian"
    #: Gaussian std per axis (km)
    bandwidth_km: float = 15.0
    #: adaptive kernel: the k-th nearest earlier smoothing event sets the bandwidth
    neighbours: int = 5
    min_bandwidth_km: float = 2.0
    max_bandwidth_km: float = 200.0
    #: events smoothed (None: the target magnitude)
    smooth_min_mag: float | None = None
    #: water level: share of the rate spread uniformly
    floor: float = 0.01
    #: days between recomputations (1 = daily), segments anchored at the first eligible day
    update_days: int = 1
    #: the total rate (the uniform baseline's prior)
    uniform: UniformConfig = field(default_factory=UniformConfig)

    def validate(self) -> None:
        if self.kernel not in KERNELS:
            raise ConfigError(f"spatial.kernel must be one of {list(KERNELS)}, not {self.kernel!r}")
        if not self.bandwidth_km > 0:
            raise ConfigError(f"spatial.bandwidth_km must be > 0, not {self.bandwidth_km}")
        if not 0 < self.min_bandwidth_km <= self.max_bandwidth_km:
            raise ConfigError(
                "spatial.min_bandwidth_km must be > 0 and <= spatial.max_bandwidth_km "
                f"(got {self.min_bandwidth_km}, {self.max_bandwidth_km})"
            )
        if int(self.neighbours) < 1:
            raise ConfigError(f"spatial.neighbours must be >= 1, not {self.neighbours}")
        if not 0 < self.floor < 1:
            raise ConfigError(f"spatial.floor must be in (0, 1), not {self.floor}")
        if int(self.update_days) < 1:
            raise ConfigError(f"spatial.update_days must be >= 1, not {self.update_days}")
        self.uniform.validate()


def _unit_vectors(lat: np.ndarray, lon: np.ndarray) -> np.ndarray:
    la, lo = np.radians(lat), np.radians(lon)
    return np.stack([np.cos(la) * np.cos(lo), np.cos(la) * np.sin(lo), np.sin(la)], axis=1)


def adaptive_bandwidths(
    lat: np.ndarray, lon: np.ndarray, k: int, lo_km: float, hi_km: float, block: int = 2048
) -> np.ndarray:
    """Distance (km, great circle) from each event to its ``k``-th nearest *earlier* event
    (events in time order), clipped to ``[lo_km, hi_km]``; ``hi_km`` with fewer than k earlier."""
    n = lat.size
    xyz = _unit_vectors(np.asarray(lat, float), np.asarray(lon, float))
    out = np.full(n, np.inf)
    for b0 in range(0, n, block):
        b1 = min(b0 + block, n)
        q = xyz[b0:b1]
        cand = np.full((b1 - b0, k), np.inf)
        if b0 > 0:
            kk = min(k, b0)
            dist, _ = cKDTree(xyz[:b0]).query(q, k=kk)
            cand[:, :kk] = dist.reshape(b1 - b0, kk)
        # earlier events inside the block: strictly lower index
        inner = np.linalg.norm(q[:, None, :] - q[None, :, :], axis=2)
        inner[np.triu_indices(b1 - b0)] = np.inf
        both = np.sort(np.concatenate([cand, inner], axis=1), axis=1)[:, k - 1]
        out[b0:b1] = both
    km = chord_to_km(out)
    km[~np.isfinite(out)] = hi_km
    return np.clip(km, lo_km, hi_km)


def _smoothing_events(
    events: pd.DataFrame, grid: Grid, min_mag: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    ev = events[events["mw"].to_numpy() >= min_mag]
    order = np.argsort(ev["time"].to_numpy(), kind="stable")
    ev = ev.iloc[order]
    return event_days(ev, grid), ev["latitude"].to_numpy(float), ev["longitude"].to_numpy(float)


def _contributes_to(update_days: np.ndarray, event_day: np.ndarray) -> np.ndarray:
    """Index of the first update day strictly after each event's day: the event is "before"
    update day u exactly when its day is < u."""
    return np.searchsorted(update_days, event_day, side="right")


def smoothed_counts(
    events: pd.DataFrame,
    grid: Grid,
    eligible: Eligible,
    update_days: np.ndarray,
    min_mag: float,
    cfg: SpatialConfig,
) -> np.ndarray:
    """``(len(update_days), rows, cols)`` kernel-smoothed counts S_c(u) of the smoothing events
    before each update day ``u`` (sorted, unique) over the eligible box."""
    eday, lat, lon = _smoothing_events(events, grid, min_mag)
    lat_e, lon_e = eligible_edges(grid, eligible)
    _, h, w = eligible.shape
    inc = np.zeros((update_days.size + 1, h, w))
    j = _contributes_to(update_days, eday)
    keep = j < update_days.size
    if cfg.kernel == "adaptive":
        bw = adaptive_bandwidths(
            lat, lon, int(cfg.neighbours), cfg.min_bandwidth_km, cfg.max_bandwidth_km
        )
    idx = np.flatnonzero(keep)
    for c0 in range(0, idx.size, _CHUNK):
        sel = idx[c0 : c0 + _CHUNK]
        if cfg.kernel == "gaussian":
            m = gaussian_cell_masses(lat[sel], lon[sel], cfg.bandwidth_km, lat_e, lon_e)
        else:
            m = powerlaw_cell_masses(lat[sel], lon[sel], bw[sel], 1.5, lat_e, lon_e)
        np.add.at(inc, j[sel], m)
    return np.cumsum(inc[:-1], axis=0)


def spatial(
    events: pd.DataFrame,
    grid: Grid,
    eligible: Eligible,
    days: np.ndarray | None,
    target_mag: float,
    cfg: SpatialConfig | None = None,
) -> xr.DataArray:
    """The spatial base rate on ``days`` (grid day indices; None: every eligible day)."""
    cfg = cfg or SpatialConfig()
    cfg.validate()
    d = forecast_days(eligible, days)
    u_of_d = segment_start(d, eligible, cfg.update_days)
    ups, inv = np.unique(u_of_d, return_inverse=True)
    min_mag = target_mag if cfg.smooth_min_mag is None else float(cfg.smooth_min_mag)
    s = smoothed_counts(events, grid, eligible, ups, min_mag, cfg)
    n_cells = s.shape[1] * s.shape[2]
    tot = s.reshape(s.shape[0], -1).sum(axis=1)
    share = np.where(
        tot[:, None, None] > 0, s / np.where(tot > 0, tot, 1.0)[:, None, None], 1.0 / n_cells
    )
    shape = (1.0 - cfg.floor) * share + cfg.floor / n_cells
    p_u = uniform_rate(events, grid, eligible, target_mag, cfg.uniform)[ups]
    lam = shape * (n_cells * -np.log1p(-p_u))[:, None, None]
    p = -np.expm1(-lam)[inv]
    attrs = {k: v for k, v in asdict(cfg).items() if k != "uniform"}
    attrs.update({f"uniform_{k}": v for k, v in asdict(cfg.uniform).items()})
    attrs["smooth_min_mag"] = min_mag
    return to_dataarray(p, grid, eligible, d, "spatial", target_mag, attrs)
