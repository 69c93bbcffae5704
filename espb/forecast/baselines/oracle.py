"""Oracle ETAS forecast: the synthetic catalog's own generating process, evaluated time-forward.

For forecast day d = [T_d, T_d + 1) (days since the simulation origin) and an eligible cell c,

    Lambda(d, c) = mu_c + sum_{i: t_i < T_d} K_i P_depth(i) [S_i(T_d - t_i) - S_i(T_d + 1 - t_i)]
                   * int_c f_i(x) dx * Pbar_c,          p(d, c) = 1 - exp(-Lambda(d, c)),

the expected number of *recorded* events with ``Mw >= target_mag`` (magnitude bin, depth and
region filters of the catalog) directly triggered in the cell on the day by the events before
it, plus the background's:

- events i: the generator's full simulated event set (:class:`Simulation`: burn-in, events
  outside the catalog's region or depth or below its completeness all trigger), with the
  magnitudes the cascade was drawn with; the precursor planting happens after the cascade and
  changes neither times, places nor offspring, so the oracle is the same on the planted and the
  null catalog and does not know the planted b-value drop;
- ``K_i = k 10^(alpha (m_i - m_lo))`` (``n_direct`` for the placed mainshock);
  ``S(x) = (1 + x/c)^(1-p)`` the Omori-Utsu survival, integrated exactly over the day;
- ``f_i``: the generator's power law of scale D(m_i), or its average over the rupture of a line
  source (:mod:`espb.forecast.baselines.oracle_space`), integrated over the cell;
- ``Pbar_c``: the cell mean of the truncated Gutenberg-Richter P(M >= m_thr | b(x)) of the b
  field (times the cell's share inside the region filter); ``mu_c`` likewise for the background.

Not included (documented approximations): events of day d itself (no intra-day cascade: they
are unknown at 00:00 UTC of day d, so Lambda underestimates the expected count by what they
trigger the same day); the short-term incompleteness after large events (only same-day events
are affected at Mw >= 5); the catalog's 0.1 km depth and 1e-4 deg position rounding.

Speed (exact up to stated tolerances): the Omori-Utsu differences are a sum of exponentials
(trapezoidal rule in log s of ``S(x) = c^(p-1)/Gamma(p-1) int s^(p-2) e^(-s(c+x)) ds``,
relative error checked and reported), so each parent enters running per-cell states once and
every day costs one decay; a parent's kernel is integrated exactly over the cells within
``near_cells`` of its own and reaches the others through a far-field matrix from its source cell
(the parent at the cell centre; measured errors in docs/forecasts.md). Parents with a wider or
extended kernel (D > d_km, line sources) are integrated exactly over every cell. The placed mainshock (its own c and p) is exact.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd
import xarray as xr

from espb.catalog.synthetic.generate import Simulation
from espb.errors import ConfigError, EspbError
from espb.forecast.baselines import oracle_intraday as intraday
from espb.forecast.baselines.base import eligible_edges, forecast_days, to_dataarray
from espb.forecast.baselines.kernels import gl
from espb.forecast.baselines.oracle_space import (
    background_rate,
    cell_magnitude_prob,
    cell_mean_productivity,
    dense_masses,
    far_matrix,
    kernel_geometry,
    magnitude_threshold,
    p_depth_aftershock,
    region_fraction,
)
from espb.forecast.baselines.oracle_states import advance, omori_soe, omori_survival
from espb.forecast.targets import Eligible
from espb.samples.labels import Grid

INTRADAY = ("mean", "none")


@dataclass
class OracleConfig:
    #: the kernel is integrated exactly over cells within this many rows/cols of the parent's
    near_cells: int = 3
    #: step in log s of the sum-of-exponentials Omori-Utsu quadrature (0.5: rel. error ~1e-6)
    soe_step: float = 0.5
    #: Gauss-Legendre points per axis averaging a far-field source over its cell
    far_source_points: int = 1
    #: rupture quadrature points per kernel scale D along each side of a line source
    rupture_points_per_scale: float = 2.0
    #: Gauss-Legendre points per axis for the background and magnitude cell integrals
    cell_points: int = 10
    #: far-field matrix block size (MB)
    max_block_mb: float = 256.0
    #: ``mean``: add the expected same-day cascade of the day's unknown events
    #: (:mod:`oracle_intraday`); ``none``: only what the events before the day trigger
    intraday: str = "mean"
    intraday_generations: int = 12
    intraday_grid: int = 4000

    def validate(self) -> None:
        if int(self.near_cells) < 0:
            raise ConfigError(f"oracle.near_cells must be >= 0, not {self.near_cells}")
        if not 0 < self.soe_step <= 1:
            raise ConfigError(f"oracle.soe_step must be in (0, 1], not {self.soe_step}")
        if int(self.far_source_points) < 1 or int(self.cell_points) < 1:
            raise ConfigError("oracle.far_source_points and oracle.cell_points must be >= 1")
        if not self.rupture_points_per_scale > 0:
            raise ConfigError("oracle.rupture_points_per_scale must be > 0")
        if self.intraday not in INTRADAY:
            raise ConfigError(
                f"oracle.intraday must be one of {list(INTRADAY)}, not {self.intraday!r}"
            )
        if int(self.intraday_generations) < 1 or int(self.intraday_grid) < 10:
            raise ConfigError("oracle.intraday_generations >= 1 and oracle.intraday_grid >= 10")


def _known_time(t: np.ndarray) -> np.ndarray:
    """When each event becomes known to the forecaster (its origin time): it enters the
    forecast of every day starting after it."""
    return t


@dataclass
class _Parents:
    tk: np.ndarray
    lat: np.ndarray
    lon: np.ndarray
    weight: np.ndarray  # K x P_depth
    d: np.ndarray
    line: np.ndarray
    length: np.ndarray
    width: np.ndarray
    strike: np.ndarray
    is_main: np.ndarray


def _parents(sim: Simulation, t_stop: float) -> _Parents:
    """Every simulated event known before ``t_stop``, in the order it becomes known."""
    cfg, ev = sim.config, sim.events
    tk = _known_time(ev.t)
    idx = np.flatnonzero(tk < t_stop)
    idx = idx[np.argsort(tk[idx], kind="stable")]
    e = cfg.etas
    m = ev.m[idx]
    is_main = idx == sim.main_index
    k = np.where(
        is_main, cfg.mainshock.n_direct, e.k * 10.0 ** (e.alpha * (m - (e.m_min - e.delta_m / 2)))
    )
    w = k * p_depth_aftershock(ev.depth[idx], cfg)
    lat, lon = ev.lat[idx], ev.lon[idx]
    d, line, length, width, strike = kernel_geometry(m, lat, lon, is_main, cfg)
    return _Parents(tk[idx], lat, lon, w, d, line, length, width, strike, is_main)


def _far_field(w_out, grid, eligible, sr0, sc0, hs, ws, cfg, d_small, q) -> np.ndarray:
    """(n_out, cells) far-field triggered rate (before the magnitude factor): W @ K_far, the
    matrix built in blocks of target rows of at most ``max_block_mb``."""
    _, he, we = eligible.shape
    glx, glw = gl()
    xq, wq = np.polynomial.legendre.leggauss(int(cfg.far_source_points))
    rows_per_block = max(1, int(cfg.max_block_mb * 2**20 / (8.0 * hs * ws * we)))
    out = np.empty((w_out.shape[0], he * we))
    for i0 in range(0, he, rows_per_block):
        nr = min(rows_per_block, he - i0)
        kf = far_matrix(
            sr0, sc0, hs, ws, eligible.row_lo + i0, eligible.col_lo, nr, we,
            int(cfg.near_cells), grid.lat0, grid.lon0, grid.res, d_small, q, xq, wq, glx, glw,
        )  # fmt: skip
        out[:, i0 * we : (i0 + nr) * we] = w_out @ kf
    return out


@dataclass
class _Cells:
    """Per eligible cell (flattened): magnitude factor, background rate, mean productivity."""

    pgr: np.ndarray
    mu: np.ndarray
    nu: np.ndarray


def _cells(sim: Simulation, lat_e, lon_e, m_thr: float, n: int) -> _Cells:
    sc = sim.config
    frac = region_fraction(lat_e, lon_e, sc)
    pgr = cell_magnitude_prob(sim.bfield, lat_e, lon_e, m_thr, sc, n) * frac
    mu = background_rate(sim.bfield, lat_e, lon_e, m_thr, sc, n) * frac
    nu = cell_mean_productivity(sim.bfield, lat_e, lon_e, sc, n)
    return _Cells(pgr.ravel(), mu.ravel(), nu.ravel())


def _forecast_times(sim: Simulation, grid: Grid, d: np.ndarray) -> np.ndarray:
    """Start of each forecast day in simulation time (days since ``sim.t0``)."""
    t_days = (grid.start - sim.t0) / pd.Timedelta(days=1) + d.astype(float)
    if t_days[-1] + 1 > sim.t_end + 1e-9:
        raise EspbError(
            f"forecast day {grid.date(d[-1:])[0].date()} ends after the simulation "
            f"({(sim.t0 + pd.Timedelta(days=sim.t_end)).date()}): the oracle knows no events there"
        )
    return t_days


def _main_term(sim, par, cells, masses, t_days, cfg) -> tuple[np.ndarray, np.ndarray]:
    """(days, cells) Lambda of the placed mainshock's direct aftershocks (its own c, p; exact
    per day) and their expected same-day descendants."""
    zero = np.zeros((t_days.size, cells.pgr.size))
    if not par.is_main.any():
        return zero, zero
    ms, e = sim.config.mainshock, sim.config.etas
    j = int(np.flatnonzero(par.is_main)[0])
    x = t_days - par.tk[j]
    xp = np.maximum(x, 0.0)
    dt = np.where(
        x > 0, omori_survival(xp, ms.c_days, ms.p) - omori_survival(xp + 1, ms.c_days, ms.p), 0.0
    )
    m = par.weight[j] * masses(par.is_main)[0]
    lam = dt[:, None] * m[None, :]
    if cfg.intraday == "none":
        return lam, zero
    n_gen, n_grid = int(cfg.intraday_generations), int(cfg.intraday_grid)
    prof = intraday.main_profile(x, ms.c_days, ms.p, e.c_days, e.p, n_gen, n_grid)
    powers = cells.nu[:, None] ** np.arange(1, n_gen + 1)[None, :]
    return lam, (prof @ powers.T) * m[None, :]


def oracle_lambda(
    sim: Simulation,
    grid: Grid,
    eligible: Eligible,
    days: np.ndarray | None,
    target_mag: float,
    cfg: OracleConfig | None = None,
) -> tuple[np.ndarray, dict]:
    """``(len(days), rows, cols)`` expected target counts of the eligible cells (Lambda, plus
    the same-day cascade with ``intraday="mean"``) and a dict of diagnostics."""
    cfg = cfg or OracleConfig()
    cfg.validate()
    t_start = time.perf_counter()
    sc, e = sim.config, sim.config.etas
    d = forecast_days(eligible, days)
    t_days = _forecast_times(sim, grid, d)
    lat_e, lon_e = eligible_edges(grid, eligible)
    _, he, we = eligible.shape
    m_thr = magnitude_threshold(sc, target_mag)
    cells = _cells(sim, lat_e, lon_e, m_thr, int(cfg.cell_points))
    par = _parents(sim, float(t_days[-1]))
    small = ~(par.line | par.is_main) & (par.d <= e.d_km + 1e-12)
    dense = ~small & ~par.is_main

    def masses(sel: np.ndarray) -> np.ndarray:
        return dense_masses(
            par.lat[sel], par.lon[sel], par.d[sel], par.line[sel], par.length[sel],
            par.width[sel], par.strike[sel], e.q, cfg.rupture_points_per_scale, lat_e, lon_e,
        ).reshape(int(sel.sum()), -1) * cells.pgr  # fmt: skip

    t_mass = time.perf_counter()
    mass_dense = masses(dense)
    # the source lattice of the far field: the grid's cells extended over the simulation box
    la0, la1, lo0, lo1 = sc.sim_region
    (sr0, sr1), (sc0, sc1) = grid.cells(np.array([la0, la1]), np.array([lo0, lo1]))
    hs, ws = int(sr1 - sr0 + 1), int(sc1 - sc0 + 1)
    rp, cp = grid.cells(par.lat[small], par.lon[small])
    src = np.clip(rp - sr0, 0, hs - 1) * ws + np.clip(cp - sc0, 0, ws - 1)
    x_max = float(t_days[-1] + 1.0 - (par.tk.min() if par.tk.size else t_days[0]))
    s, wn, soe_err = omori_soe(e.c_days, e.p, x_max, cfg.soe_step)
    if soe_err > 1e-3:
        raise ConfigError(f"oracle.soe_step={cfg.soe_step} gives an Omori error {soe_err:.1e}")
    n_gen, n_grid = int(cfg.intraday_generations), int(cfg.intraday_grid)
    if cfg.intraday == "mean":
        vday, flat = intraday.weights(s, e.c_days, e.p, cfg.soe_step, cells.nu, n_gen, n_grid)
    else:
        vday, flat = np.zeros((he * we, s.size)), np.zeros(he * we)
    n_loop = int(d[-1] - d[0] + 1)
    out_row = np.full(n_loop, -1, dtype=np.int64)
    out_row[d - d[0]] = np.arange(d.size)
    near, desc = np.zeros((d.size, he * we)), np.zeros((d.size, he * we))
    w_out = np.zeros((d.size, hs * ws))
    t_loop = time.perf_counter()
    advance(
        np.zeros((he * we, s.size)), np.zeros((hs * ws, s.size)), s, np.exp(-s), wn,
        par.tk[small], par.lat[small], par.lon[small], par.weight[small], src.astype(np.int64),
        rp.astype(np.int64), cp.astype(np.int64), par.tk[dense], par.weight[dense], mass_dense,
        float(t_days[0]), n_loop, out_row, near, w_out, vday, desc, grid.lat0, grid.lon0,
        grid.res, eligible.row_lo, eligible.col_lo, he, we, int(cfg.near_cells), float(e.d_km),
        float(e.q), cells.pgr, *gl(),
    )  # fmt: skip
    t_far = time.perf_counter()
    far = _far_field(w_out, grid, eligible, sr0, sc0, hs, ws, cfg, float(e.d_km), float(e.q))
    far *= cells.pgr[None, :]
    lam_main, desc_main = _main_term(sim, par, cells, masses, t_days, cfg)
    lam = cells.mu[None, :] + near + far + lam_main
    ratio = np.where(near > 0, desc / np.where(near > 0, near, 1.0), flat[None, :])
    lam_desc = desc + far * ratio + cells.mu[None, :] * flat[None, :] + desc_main
    info = {
        "intraday": cfg.intraday,
        "n_parents": int(par.tk.size),
        "n_parents_point": int(small.sum()),
        "n_parents_extended": int(dense.sum()),
        "omori_soe_nodes": int(s.size),
        "omori_soe_max_rel_error": soe_err,
        "intraday_tail_bound": intraday.check_convergence(cells.nu, e.c_days, e.p, n_gen),
        "magnitude_threshold": m_thr,
        "share_background": float(cells.mu.sum() * d.size / max(float(lam.sum()), 1e-300)),
        "share_far_field": float(far.sum() / max(float(lam.sum()), 1e-300)),
        "share_intraday": float(lam_desc.sum() / max(float((lam + lam_desc).sum()), 1e-300)),
        "seconds_masses": t_loop - t_mass,
        "seconds_states": t_far - t_loop,
        "seconds_far_field": time.perf_counter() - t_far,
        "seconds": time.perf_counter() - t_start,
    }
    return (lam + lam_desc).reshape(d.size, he, we), info


def oracle_etas(
    sim: Simulation,
    grid: Grid,
    eligible: Eligible,
    days: np.ndarray | None,
    target_mag: float,
    cfg: OracleConfig | None = None,
) -> xr.DataArray:
    """The oracle ETAS probability ``1 - exp(-Lambda)`` on ``days`` (grid day indices; None:
    every eligible day) from the generator's :class:`Simulation`
    (``synthesize(cfg, keep_simulation=True).simulation``)."""
    cfg = cfg or OracleConfig()
    d = forecast_days(eligible, days)
    lam, info = oracle_lambda(sim, grid, eligible, d, target_mag, cfg)
    attrs = {**asdict(cfg), **info, "catalog": sim.config.name, "seed": int(sim.config.seed)}
    attrs["assumptions"] = (
        "the generator's parameters and full simulated event set before the day; the day's own "
        f"cascade {'in expectation' if cfg.intraday == 'mean' else 'left out'}; planted "
        "precursors unknown"
    )
    return to_dataarray(-np.expm1(-lam), grid, eligible, d, "oracle_etas", target_mag, attrs)
