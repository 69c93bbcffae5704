"""A tiny hand-made simulation for the oracle's tests, and a per-event brute-force Lambda."""

from __future__ import annotations

import copy
import math

import numpy as np
import pandas as pd
from scipy.stats import norm

from espb.catalog.synthetic.config import load_synth_config
from espb.catalog.synthetic.etas import Events
from espb.catalog.synthetic.fields import (
    KM_PER_DEG,
    BField,
    rupture_length_km,
    rupture_width_km,
    strike_of_nearest_segment,
)
from espb.catalog.synthetic.generate import Simulation
from espb.forecast.baselines.kernels import gl, lattice_masses
from espb.forecast.baselines.oracle_space import magnitude_threshold, p_magnitude
from espb.samples.labels import Grid
from tests.forecast.baselines.helpers import START

LEAD = 10.0  # days of simulation before the grid starts


def tiny_simulation(seed: int = 0, background: float = 0.0, main: bool = True) -> Simulation:
    """~300 events over the smoke box (37-41 N, 140-144 E) in 70 days, some deep, one M5.8
    (wide kernel), one M6.8 (line source) and, optionally, the placed M9 at day 30."""
    cfg = copy.deepcopy(load_synth_config("smoke"))
    cfg.background.rate_per_year = background
    rng = np.random.default_rng(seed)
    n = 300
    t = rng.uniform(0, 70, n)
    lat, lon = 37.0 + 4 * rng.random(n), 140.0 + 4 * rng.random(n)
    near = rng.random(n) < 0.5  # half of them over the grid
    lat[near], lon[near] = 38.4 + 1.4 * rng.random(near.sum()), 141.4 + 1.4 * rng.random(near.sum())
    depth = rng.uniform(2, 90, n)
    m = np.minimum(2.0 + rng.exponential(0.7, n), 5.0)
    extra_t, extra = [15.3, 20.6], [(39.05, 142.0, 12.0, 5.8), (38.9, 141.8, 20.0, 6.8)]
    if main:
        extra_t.append(30.24)
        extra.append((cfg.mainshock.latitude, cfg.mainshock.longitude, 29.0, cfg.mainshock.mw))
    t = np.concatenate([t, extra_t])
    lat = np.concatenate([lat, [e[0] for e in extra]])
    lon = np.concatenate([lon, [e[1] for e in extra]])
    depth = np.concatenate([depth, [e[2] for e in extra]])
    m = np.concatenate([m, [e[3] for e in extra]])
    order = np.argsort(t, kind="stable")
    bf = BField(cfg.b_field, cfg.sim_region, np.random.default_rng(seed + 1))
    k = t.size
    ev = Events(t, lat, lon, depth, m, bf(lat, lon), np.full(k, -1), np.zeros(k, np.int16))
    ev = ev.take(order)
    main_index = int(np.flatnonzero(order == k - 1)[0]) if main else -1
    t0 = START - pd.Timedelta(days=LEAD)
    return Simulation(ev, t0, 75.0, 30.24 if main else None, main_index, bf, cfg)


def tiny_grid() -> Grid:
    return Grid(38.5, 141.5, 0.1, 12, 12, START, 60)


def brute_force_lambda(sim: Simulation, grid: Grid, el, days: np.ndarray, target_mag: float):
    """Lambda without the background and without the same-day cascade, one event at a time:
    sum_i K_i P_depth(i) [S(x) - S(x+1)] mass_i(cell) Pbar_cell (midpoint rules, no states)."""
    cfg, e, ms = sim.config, sim.config.etas, sim.config.mainshock
    ev = sim.events
    m_lo = e.m_min - e.delta_m / 2
    rows = np.arange(el.row_lo, el.row_hi + 2)
    cols = np.arange(el.col_lo, el.col_hi + 2)
    lat_e, lon_e = grid.lat0 + rows * grid.res, grid.lon0 + cols * grid.res
    # cell mean magnitude factor on a 20 x 20 midpoint grid
    u = (np.arange(20) + 0.5) / 20
    plat = lat_e[:-1, None] + grid.res * u[None, :]
    plon = lon_e[:-1, None] + grid.res * u[None, :]
    thr = magnitude_threshold(cfg, target_mag)
    shape = (plat.shape[0], plon.shape[0], 20, 20)
    b = sim.bfield(
        np.broadcast_to(plat[:, None, :, None], shape),
        np.broadcast_to(plon[None, :, None, :], shape),
    )
    pbar = p_magnitude(b, thr, cfg).mean(axis=(2, 3))
    dmax = cfg.filters.max_depth_km + 0.05
    out = np.zeros((days.size, lat_e.size - 1, lon_e.size - 1))
    glx, glw = gl()
    for i in range(len(ev)):
        is_main = i == sim.main_index
        mi = ev.m[i]
        kk = ms.n_direct if is_main else e.k * 10 ** (e.alpha * (mi - m_lo))
        pdep = norm.cdf((dmax - ev.depth[i]) / 5.0) - norm.cdf((-dmax - ev.depth[i]) / 5.0)
        c, p = (ms.c_days, ms.p) if is_main else (e.c_days, e.p)
        x = (START - sim.t0) / pd.Timedelta(days=1) + days - ev.t[i]
        xp = np.maximum(x, 0)
        dS = np.where(x > 0, (1 + xp / c) ** (1 - p) - (1 + (xp + 1) / c) ** (1 - p), 0.0)
        if not dS.any():
            continue
        ys = (lat_e - ev.lat[i]) * KM_PER_DEG
        xs = (lon_e - ev.lon[i]) * KM_PER_DEG * math.cos(math.radians(ev.lat[i]))
        mass = np.zeros((ys.size - 1, xs.size - 1))
        if mi >= e.line_source_min_mag or is_main:
            length = ms.length_km if is_main else float(rupture_length_km(mi))
            width = ms.width_km if is_main else float(rupture_width_km(mi))
            d = max(e.d_km, 0.1 * width)
            if is_main:
                s = math.radians(ms.strike_deg)
                se, sn = math.sin(s), math.cos(s)
            else:
                se, sn = strike_of_nearest_segment(
                    ev.lat[i : i + 1], ev.lon[i : i + 1], cfg.background.trench
                )[0]
            na, nw = max(8, int(6 * length / d)), max(4, int(6 * width / d))
            for a in (np.arange(na) + 0.5) / na - 0.5:
                for bb in (np.arange(nw) + 0.5) / nw - 0.5:
                    oe = se * a * length + sn * bb * width
                    on = sn * a * length - se * bb * width
                    lattice_masses(xs - oe, ys - on, d, e.q, glx, glw, mass)
            mass /= na * nw
        else:
            d = max(e.d_km, 0.5 * float(rupture_length_km(mi)))
            lattice_masses(xs, ys, d, e.q, glx, glw, mass)
        out += (kk * pdep * dS)[:, None, None] * (mass * pbar)[None]
    return out
