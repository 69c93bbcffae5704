"""Space-time ETAS simulation, generation by generation, vectorised with NumPy.

Model (Ogata 1998, space-time form): background events at a constant rate, placed by the band
density; each event of magnitude m triggers Poisson(k * 10**(alpha (m - m_lo))) direct
aftershocks with Omori-Utsu delays f(tau) ~ (tau + c)^-p and a spatial offset whose density
~ (1 + r^2/D(m)^2)^-q, D growing with the rupture length. Large parents spread aftershocks
along a line rupture. Magnitudes follow Gutenberg-Richter with the local b of the field.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from espb.catalog.synthetic.config import SynthConfig
from espb.catalog.synthetic.fields import (
    BField,
    offset_deg,
    rupture_length_km,
    rupture_width_km,
    sample_band,
    strike_of_nearest_segment,
)


@dataclass
class Events:
    """Struct of arrays of simulated events (time in days since the simulation start)."""

    t: np.ndarray
    lat: np.ndarray
    lon: np.ndarray
    depth: np.ndarray
    m: np.ndarray  # continuous magnitude
    b: np.ndarray  # b-value the magnitude was drawn with
    parent: np.ndarray  # index of the parent event, -1 for background
    gen: np.ndarray  # generation, 0 for background and the placed mainshock

    def __len__(self) -> int:
        return int(self.t.size)

    @staticmethod
    def concat(parts: list[Events]) -> Events:
        return Events(
            *(np.concatenate([getattr(p, f) for p in parts]) for f in Events.__dataclass_fields__)
        )

    def take(self, idx: np.ndarray) -> Events:
        return Events(*(getattr(self, f)[idx] for f in Events.__dataclass_fields__))


def gr_magnitudes(rng: np.random.Generator, b: np.ndarray, m_lo: float, m_hi: float) -> np.ndarray:
    """Continuous Gutenberg-Richter magnitudes in [m_lo, m_hi) with per-event b (inverse CDF)."""
    u = rng.random(np.shape(b))
    return m_lo - np.log10(1.0 - u * (1.0 - 10.0 ** (-b * (m_hi - m_lo)))) / b


def gr_quantile_map(
    m: np.ndarray, b_from: np.ndarray, b_to: float, m_lo: float, m_hi: float
) -> np.ndarray:
    """Rank-preserving map of GR(b_from) magnitudes in [m_lo, m_hi) onto GR(b_to)."""
    f = (1.0 - 10.0 ** (-b_from * (m - m_lo))) / (1.0 - 10.0 ** (-b_from * (m_hi - m_lo)))
    return m_lo - np.log10(1.0 - f * (1.0 - 10.0 ** (-b_to * (m_hi - m_lo)))) / b_to


def _in_box(lat: np.ndarray, lon: np.ndarray, box: list[float]) -> np.ndarray:
    return (lat >= box[0]) & (lat <= box[1]) & (lon >= box[2]) & (lon <= box[3])


def simulate(
    cfg: SynthConfig,
    rng_bg: np.random.Generator,
    rng_etas: np.random.Generator,
    bfield: BField,
    t_end: float,
    t_main: float | None,
    progress: Callable[[str], None] | None = None,
) -> Events:
    """Simulate background plus cascade over [0, t_end) days in ``cfg.sim_region``.

    ``t_main`` (days) places the configured mainshock; None leaves it out. Events falling
    outside the simulation box are discarded (they neither appear nor trigger).
    """
    e, bg, box = cfg.etas, cfg.background, cfg.sim_region
    m_lo = e.m_min - e.delta_m / 2
    m_hi = e.m_max + e.delta_m / 2

    # --- background ------------------------------------------------------------------
    years = t_end / 365.25
    n_bg = int(rng_bg.poisson(bg.rate_per_year * years))
    comp = rng_bg.choice(
        3, size=n_bg, p=[bg.trench_weight, bg.arc_weight, 1 - bg.trench_weight - bg.arc_weight]
    )
    lat = np.empty(n_bg)
    lon = np.empty(n_bg)
    for c, (poly, width) in enumerate(
        [(bg.trench, bg.trench_width_deg), (bg.arc, bg.arc_width_deg)]
    ):
        sel = comp == c
        lat[sel], lon[sel] = sample_band(rng_bg, poly, width, int(sel.sum()))
    sel = comp == 2
    lat[sel] = rng_bg.uniform(box[0], box[1], int(sel.sum()))
    lon[sel] = rng_bg.uniform(box[2], box[3], int(sel.sum()))
    depth = np.where(
        comp == 0,
        np.clip(rng_bg.normal(30, 12, n_bg), 2, 69.9),
        np.where(
            comp == 1,
            np.clip(rng_bg.normal(12, 5, n_bg), 1, 40),
            np.clip(rng_bg.normal(20, 12, n_bg), 1, 69.9),
        ),
    )
    deep = rng_bg.random(n_bg) < bg.deep_fraction
    depth[deep] = rng_bg.uniform(bg.deep_range_km[0], bg.deep_range_km[1], int(deep.sum()))
    t = rng_bg.uniform(0, t_end, n_bg)
    b = bfield(lat, lon)
    m = gr_magnitudes(rng_bg, b, m_lo, m_hi)
    keep = _in_box(lat, lon, box)
    parts = [
        Events(
            t[keep],
            lat[keep],
            lon[keep],
            depth[keep],
            m[keep],
            b[keep],
            np.full(int(keep.sum()), -1, np.int64),
            np.zeros(int(keep.sum()), np.int16),
        )
    ]
    ms = cfg.mainshock
    main_index = -1
    if t_main is not None:
        main_index = len(parts[0])
        parts.append(
            Events(
                np.array([t_main]),
                np.array([ms.latitude]),
                np.array([ms.longitude]),
                np.array([ms.depth]),
                np.array([ms.mw]),
                np.array([bfield(ms.latitude, ms.longitude)]),
                np.array([-1], np.int64),
                np.array([0], np.int16),
            )
        )
    allev = Events.concat(parts)
    if progress:
        progress(f"background: {len(allev):,} events")

    # --- cascade -------------------------------------------------------------------------
    gen_idx = np.arange(len(allev))
    chunks = [allev]
    total = len(allev)
    for g in range(1, e.max_generations + 1):
        par = _gather(chunks, gen_idx)
        lam = e.k * 10.0 ** (e.alpha * (par.m - m_lo))
        is_main = gen_idx == main_index
        lam[is_main] = ms.n_direct
        nchild = rng_etas.poisson(lam)
        n = int(nchild.sum())
        if n == 0:
            break
        rep = np.repeat(np.arange(gen_idx.size), nchild)
        pidx = gen_idx[rep]
        pm_ = par.m[rep]
        main_child = is_main[rep]
        c = np.where(main_child, ms.c_days, e.c_days)
        p = np.where(main_child, ms.p, e.p)
        u = rng_etas.random(n)
        tau = c * ((1.0 - u) ** (-1.0 / (p - 1.0)) - 1.0)
        tc = par.t[rep] + tau
        # spatial offset: isotropic power law around the epicentre (or a point of the rupture)
        line = pm_ >= e.line_source_min_mag
        length = np.where(main_child, ms.length_km, rupture_length_km(pm_))
        width = np.where(main_child, ms.width_km, rupture_width_km(pm_))
        dscale = np.where(
            line, np.maximum(e.d_km, 0.1 * width), np.maximum(e.d_km, 0.5 * rupture_length_km(pm_))
        )
        u = rng_etas.random(n)
        r = dscale * np.sqrt((1.0 - u) ** (1.0 / (1.0 - e.q)) - 1.0)
        th = rng_etas.uniform(0, 2 * np.pi, n)
        east = r * np.cos(th)
        north = r * np.sin(th)
        if line.any():
            li = np.flatnonzero(line)
            strike = strike_of_nearest_segment(
                par.lat[rep][li], par.lon[rep][li], cfg.background.trench
            )
            if main_child.any():
                s = np.radians(ms.strike_deg)
                strike[main_child[li]] = [np.sin(s), np.cos(s)]
            along = (rng_etas.random(li.size) - 0.5) * length[li]
            across = (rng_etas.random(li.size) - 0.5) * width[li]
            east[li] += strike[:, 0] * along + strike[:, 1] * across
            north[li] += strike[:, 1] * along - strike[:, 0] * across
        plat = par.lat[rep]
        dlat, dlon = offset_deg(plat, east, north)
        clat = plat + dlat
        clon = par.lon[rep] + dlon
        cdep = np.abs(par.depth[rep] + rng_etas.normal(0, e.depth_sigma_km, n))
        cb = bfield(clat, clon)
        cm = gr_magnitudes(rng_etas, cb, m_lo, m_hi)
        keep = (tc < t_end) & _in_box(clat, clon, box)
        k = int(keep.sum())
        child = Events(
            tc[keep],
            clat[keep],
            clon[keep],
            cdep[keep],
            cm[keep],
            cb[keep],
            pidx[keep].astype(np.int64),
            np.full(k, g, np.int16),
        )
        if k == 0:
            break
        chunks.append(child)
        gen_idx = np.arange(total, total + k)
        total += k
        if progress:
            progress(f"generation {g}: {k:,} aftershocks ({total:,} events in all)")
    return Events.concat(chunks)


def _gather(chunks: list[Events], idx: np.ndarray) -> Events:
    """Rows ``idx`` (global indices) that all lie in the last chunk."""
    last = chunks[-1]
    start = sum(len(c) for c in chunks[:-1])
    return last.take(idx - start)
