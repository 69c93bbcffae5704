"""The oracle ETAS forecast's spatial parts: the generator's background density, magnitude and
depth probabilities, and every parent's triggering kernel integrated over the cells.

All of it mirrors :mod:`espb.catalog.synthetic.etas` (the generator), whose draws define the
process: a parent of magnitude m triggers ``k 10^(alpha (m - m_lo))`` direct aftershocks
(``mainshock.n_direct`` for the placed mainshock), each at an offset drawn from the power law
of scale ``D(m)`` (:mod:`espb.forecast.baselines.kernels`) around the epicentre, or, for
``m >= line_source_min_mag``, around a uniform point of the rupture rectangle
(``L(m) x W(m)`` of Wells & Coppersmith 1994, along the strike of the nearest trench segment;
the mainshock's own ``length_km x width_km`` and strike), with depth ``|depth + N(0, sigma)|``
and a Gutenberg-Richter magnitude drawn with the b of the field at the aftershock's place.
"""

from __future__ import annotations

import math

import numba as nb
import numpy as np
from scipy.special import ndtr

from espb.catalog.synthetic.config import SynthConfig
from espb.catalog.synthetic.fields import (
    KM_PER_DEG,
    BField,
    local_km,
    rupture_length_km,
    rupture_width_km,
    strike_of_nearest_segment,
)
from espb.forecast.baselines.kernels import corner, gl
from espb.forecast.baselines.oracle_intraday import mean_productivity

#: the generator rounds depths to 0.1 km before the depth filter (generate.py, raw_events)
DEPTH_DECIMALS = 1
#: background depth laws of the generator (etas.simulate): (mean, std, lo, hi) per component
BG_DEPTH = ((30.0, 12.0, 2.0, 69.9), (12.0, 5.0, 1.0, 40.0), (20.0, 12.0, 1.0, 69.9))


def magnitude_threshold(cfg: SynthConfig, target_mag: float) -> float:
    """Continuous magnitude from which a simulated event is recorded with ``Mw >= target_mag``:
    the generator bins magnitudes at ``delta_m`` half-up from ``m_min`` and the catalog's Mw is
    that bin (recovered exactly through the magnitude reports)."""
    e = cfg.etas
    n = max(0, math.ceil((target_mag - e.m_min) / e.delta_m - 1e-9))
    return e.m_min - e.delta_m / 2 + n * e.delta_m


def p_magnitude(b: np.ndarray, m_thr: float, cfg: SynthConfig) -> np.ndarray:
    """P(M >= m_thr) under the generator's truncated Gutenberg-Richter law with b-value ``b``."""
    e = cfg.etas
    lo, hi = e.m_min - e.delta_m / 2, e.m_max + e.delta_m / 2
    if m_thr >= hi:
        return np.zeros_like(np.asarray(b, float))
    m_thr = max(m_thr, lo)
    b = np.asarray(b, float)
    return (10.0 ** (-b * (m_thr - lo)) - 10.0 ** (-b * (hi - lo))) / (
        1.0 - 10.0 ** (-b * (hi - lo))
    )


def max_depth(cfg: SynthConfig) -> float:
    """The depth filter on the unrounded depth (inf without one)."""
    md = cfg.filters.max_depth_km
    return math.inf if md is None else float(md) + 0.5 * 10.0**-DEPTH_DECIMALS


def p_depth_aftershock(parent_depth: np.ndarray, cfg: SynthConfig) -> np.ndarray:
    """P(|depth + N(0, sigma)| passes the depth filter) for aftershocks of each parent."""
    dm, s = max_depth(cfg), cfg.etas.depth_sigma_km
    if not math.isfinite(dm):
        return np.ones_like(np.asarray(parent_depth, float))
    z = np.asarray(parent_depth, float)
    return ndtr((dm - z) / s) - ndtr((-dm - z) / s)


def _p_depth_bg(cfg: SynthConfig) -> np.ndarray:
    """P(a background event passes the depth filter) per component (trench, arc, uniform)."""
    dm, bg = max_depth(cfg), cfg.background
    out = []
    for mu, sd, lo, hi in BG_DEPTH:
        shallow = 1.0 if dm >= hi else (0.0 if dm < lo else float(ndtr((dm - mu) / sd)))
        d0, d1 = bg.deep_range_km
        deep = float(np.clip((dm - d0) / (d1 - d0), 0.0, 1.0))
        out.append((1.0 - bg.deep_fraction) * shallow + bg.deep_fraction * deep)
    return np.array(out)


def _band_density(lat: np.ndarray, lon: np.ndarray, poly, width_deg: float) -> np.ndarray:
    """Density (per deg^2) of :func:`espb.catalog.synthetic.fields.sample_band`'s points."""
    pts = np.asarray(poly, dtype=float)
    a, b = pts[:-1], pts[1:]
    e, n = local_km((a[:, 0] + b[:, 0]) / 2, b[:, 0] - a[:, 0], b[:, 1] - a[:, 1])
    length = np.hypot(e, n)
    ue, un = e / length, n / length
    sig = width_deg * KM_PER_DEG
    out = np.zeros(np.shape(lat))
    for i in range(len(length)):
        pe, pn = local_km(a[i, 0], lat - a[i, 0], lon - a[i, 1])
        along = pe * ue[i] + pn * un[i]
        across = -pe * un[i] + pn * ue[i]
        inside = (along >= 0) & (along <= length[i])
        dens = np.exp(-0.5 * (across / sig) ** 2) / (sig * math.sqrt(2 * math.pi))
        out += np.where(inside, dens, 0.0) * KM_PER_DEG**2 * math.cos(math.radians(a[i, 0]))
    return out / length.sum()


def _cell_points(lat_edges: np.ndarray, lon_edges: np.ndarray, n: int):
    """Gauss-Legendre points (n x n per cell) and their weights (summing to 1 per cell):
    arrays (H, W, n*n)."""
    x, w = np.polynomial.legendre.leggauss(n)
    u, wu = (x + 1) / 2, w / 2
    la = lat_edges[:-1, None] + np.diff(lat_edges)[:, None] * u[None, :]  # (H, n)
    lo = lon_edges[:-1, None] + np.diff(lon_edges)[:, None] * u[None, :]  # (W, n)
    plat = np.broadcast_to(la[:, None, :, None], (la.shape[0], lo.shape[0], n, n))
    plon = np.broadcast_to(lo[None, :, None, :], (la.shape[0], lo.shape[0], n, n))
    pw = (wu[:, None] * wu[None, :]).ravel()
    h, wd = la.shape[0], lo.shape[0]
    return plat.reshape(h, wd, n * n), plon.reshape(h, wd, n * n), pw


def cell_magnitude_prob(
    bfield: BField, lat_edges, lon_edges, m_thr: float, cfg: SynthConfig, n: int
) -> np.ndarray:
    """(H, W) cell average of P(M >= m_thr | b(x)) (n x n Gauss-Legendre points per cell)."""
    plat, plon, pw = _cell_points(lat_edges, lon_edges, n)
    return (p_magnitude(bfield(plat, plon), m_thr, cfg) * pw).sum(axis=-1)


def background_rate(
    bfield: BField, lat_edges, lon_edges, m_thr: float, cfg: SynthConfig, n: int
) -> np.ndarray:
    """(H, W) expected recorded background events with M >= m_thr per day in each cell:
    rate/365.25 x int_cell density(x) P(M >= m_thr | b(x)) P(depth ok | component) dx."""
    bg = cfg.background
    plat, plon, pw = _cell_points(lat_edges, lon_edges, n)
    area = np.diff(lat_edges)[:, None, None] * np.diff(lon_edges)[None, :, None]
    pd_bg = _p_depth_bg(cfg)
    la0, la1, lo0, lo1 = cfg.sim_region
    box = (plat >= la0) & (plat <= la1) & (plon >= lo0) & (plon <= lo1)
    dens = (
        bg.trench_weight * pd_bg[0] * _band_density(plat, plon, bg.trench, bg.trench_width_deg)
        + bg.arc_weight * pd_bg[1] * _band_density(plat, plon, bg.arc, bg.arc_width_deg)
        + (1 - bg.trench_weight - bg.arc_weight) * pd_bg[2] / ((la1 - la0) * (lo1 - lo0))
    )
    pm = p_magnitude(bfield(plat, plon), m_thr, cfg)
    return bg.rate_per_year / 365.25 * (np.where(box, dens, 0.0) * pm * pw).sum(-1) * area[..., 0]


def region_fraction(lat_edges, lon_edges, cfg: SynthConfig) -> np.ndarray:
    """(H, W) share of each cell inside the catalog's region filter (1 without one)."""
    r = cfg.filters.region
    if r is None:
        return np.ones((lat_edges.size - 1, lon_edges.size - 1))
    fy = np.clip(np.minimum(lat_edges[1:], r[1]) - np.maximum(lat_edges[:-1], r[0]), 0, None)
    fx = np.clip(np.minimum(lon_edges[1:], r[3]) - np.maximum(lon_edges[:-1], r[2]), 0, None)
    return (fy / np.diff(lat_edges))[:, None] * (fx / np.diff(lon_edges))[None, :]


def kernel_geometry(m: np.ndarray, lat: np.ndarray, lon: np.ndarray, is_main, cfg: SynthConfig):
    """Per parent: power-law scale D (km), line source flag, rupture length and width (km) and
    strike (east, north unit vector), exactly as :func:`espb.catalog.synthetic.etas.simulate`."""
    e, ms = cfg.etas, cfg.mainshock
    line = (m >= e.line_source_min_mag) | is_main
    length = np.where(is_main, ms.length_km, rupture_length_km(m))
    width = np.where(is_main, ms.width_km, rupture_width_km(m))
    d = np.where(
        line, np.maximum(e.d_km, 0.1 * width), np.maximum(e.d_km, 0.5 * rupture_length_km(m))
    )
    strike = np.zeros((m.size, 2))
    li = np.flatnonzero(line)
    if li.size:
        strike[li] = strike_of_nearest_segment(lat[li], lon[li], cfg.background.trench)
        s = math.radians(ms.strike_deg)
        strike[np.flatnonzero(is_main)] = [math.sin(s), math.cos(s)]
    return d, line, np.where(line, length, 0.0), np.where(line, width, 0.0), strike


#: Gauss-Legendre tables for the rupture quadrature: row n holds the n nodes (weights), padded
GL_MAX = 256
_TAB_X = np.zeros((GL_MAX + 1, GL_MAX))
_TAB_W = np.zeros((GL_MAX + 1, GL_MAX))
for _n in range(1, GL_MAX + 1):
    _TAB_X[_n, :_n], _TAB_W[_n, :_n] = np.polynomial.legendre.leggauss(_n)


def dense_masses(lat, lon, d, line, length, width, strike, q, per_scale, lat_e, lon_e):
    """(n, H, W) kernel masses of each parent in every cell of the lattice ``lat_e x lon_e``;
    a line source averages the power law over Gauss-Legendre points of its rupture rectangle
    (``ceil(per_scale x side / D)`` points along each side, at most :data:`GL_MAX`)."""
    glx, glw = gl()
    f = np.asarray
    return _dense(
        f(lat, float), f(lon, float), f(d, float), f(line, bool), f(length, float),
        f(width, float), f(strike[:, 0], float), f(strike[:, 1], float), float(q),
        float(per_scale), f(lat_e, float), f(lon_e, float), _TAB_X, _TAB_W, glx, glw,
    )  # fmt: skip


@nb.njit(cache=True)
def _dense(lat, lon, d, line, length, width, se, sn, q, per_scale, lat_e, lon_e, tx, tw, glx, glw):
    n, h, w = lat.size, lat_e.size - 1, lon_e.size - 1
    out = np.zeros((n, h, w))
    g = np.empty((h + 1, w + 1))
    for p in range(n):
        cl = math.cos(math.radians(lat[p]))
        ys = (lat_e - lat[p]) * KM_PER_DEG
        xs = (lon_e - lon[p]) * KM_PER_DEG * cl
        na, nw = 1, 1
        if line[p]:
            na = min(GL_MAX, max(2, int(math.ceil(per_scale * length[p] / d[p]))))
            nw = min(GL_MAX, max(2, int(math.ceil(per_scale * width[p] / d[p]))))
        for ia in range(na):
            a = 0.5 * length[p] * tx[na, ia] if line[p] else 0.0
            wa = tw[na, ia] / 2.0 if line[p] else 1.0
            for iw in range(nw):
                b = 0.5 * width[p] * tx[nw, iw] if line[p] else 0.0
                wt = wa * (tw[nw, iw] / 2.0 if line[p] else 1.0)
                oe = se[p] * a + sn[p] * b
                on = sn[p] * a - se[p] * b
                for i in range(h + 1):
                    for j in range(w + 1):
                        g[i, j] = corner(xs[j] - oe, ys[i] - on, d[p], q, glx, glw)
                for i in range(h):
                    for j in range(w):
                        out[p, i, j] += wt * (g[i + 1, j + 1] - g[i, j + 1] - g[i + 1, j] + g[i, j])
    return out


@nb.njit(cache=True)
def far_matrix(src_r0, src_c0, hs, ws, r0, c0, h, w, k, lat0, lon0, res, d, q, xq, wq, glx, glw):
    """(hs*ws, h*w) far-field kernel: mass in target cell (r0+i, c0+j) of a D-scale power law
    whose source is uniform over the lattice cell (src_r0+a, src_c0+b) (Gauss-Legendre
    points ``xq``, weights ``wq`` on [-1, 1]), zero inside the near window (|row offset| <= k
    and |col offset| <= k)."""
    nq = xq.size
    out = np.zeros((hs * ws, h * w))
    g = np.empty((h + 1, w + 1))
    for a in range(hs):
        for b in range(ws):
            rp, cp = src_r0 + a, src_c0 + b
            row = a * ws + b
            for iu in range(nq):
                plat = lat0 + (rp + 0.5 * (xq[iu] + 1.0)) * res
                cl = math.cos(math.radians(plat))
                for iv in range(nq):
                    plon = lon0 + (cp + 0.5 * (xq[iv] + 1.0)) * res
                    wt = wq[iu] * wq[iv] / 4.0
                    for i in range(h + 1):
                        y = (lat0 + (r0 + i) * res - plat) * KM_PER_DEG
                        for j in range(w + 1):
                            x = (lon0 + (c0 + j) * res - plon) * KM_PER_DEG * cl
                            g[i, j] = corner(x, y, d, q, glx, glw)
                    for i in range(h):
                        if abs(r0 + i - rp) <= k:
                            jlo, jhi = cp - k - c0, cp + k - c0
                        else:
                            jlo, jhi = 1, 0
                        for j in range(w):
                            if jlo <= j <= jhi:
                                continue
                            m = g[i + 1, j + 1] - g[i, j + 1] - g[i + 1, j] + g[i, j]
                            out[row, i * w + j] += wt * m
    return out


def cell_mean_productivity(bfield: BField, lat_edges, lon_edges, cfg: SynthConfig, n: int):
    """(H, W) cell mean of the expected direct aftershocks of an event of unknown magnitude,
    ``E[k 10^(alpha (m - m_lo))]`` under the b field's Gutenberg-Richter law."""
    e = cfg.etas
    lo, hi = e.m_min - e.delta_m / 2, e.m_max + e.delta_m / 2
    plat, plon, pw = _cell_points(lat_edges, lon_edges, n)
    return (mean_productivity(bfield(plat, plon), e.k, e.alpha, lo, hi) * pw).sum(axis=-1)
