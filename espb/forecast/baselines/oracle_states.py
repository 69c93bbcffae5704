"""The oracle's running states: the Omori-Utsu kernel as a sum of exponentials, and the day
loop that carries every parent's triggered rate forward in time (Numba).

State ``A[c, k] = sum_{i: t_i < T} K_i P_depth(i) m_i(c) Pbar_c exp(-s_k (T - t_i))`` for the
eligible cells (near windows and extended kernels) and ``B[s, k]`` likewise per source cell of
the far field (without the cell factors). A day costs one multiplication by ``exp(-s_k)``; a
parent enters once, when it becomes known.
"""

from __future__ import annotations

import math

import numba as nb
import numpy as np
from scipy.special import gamma

from espb.catalog.synthetic.fields import KM_PER_DEG as KM  # the generator's sphere
from espb.forecast.baselines.kernels import lattice_masses


def omori_survival(x: np.ndarray, c: float, p: float) -> np.ndarray:
    """Omori-Utsu survival ``(1 + x/c)^(1-p)``: the share of a parent's direct aftershocks
    later than ``x`` days (the generator draws delays by inverting it)."""
    return (1.0 + np.asarray(x, float) / c) ** (1.0 - p)


def omori_soe(
    c: float, p: float, x_max: float, step: float
) -> tuple[np.ndarray, np.ndarray, float]:
    """Nodes ``s`` and weights ``w`` with ``S(x) - S(x+1) ~ sum_k w_k exp(-s_k x)`` on
    ``0 <= x <= x_max``, and the largest relative error measured on a log grid of x."""
    a = p - 1.0
    u = np.arange(math.log(1e-6 / max(x_max, 1.0)), math.log(60.0 / c) + step, step)
    s = np.exp(u)
    w = step * c**a / gamma(a) * s**a * np.exp(-s * c) * -np.expm1(-s)
    x = np.concatenate([[0.0], np.logspace(-6, math.log10(max(x_max, 1.0)), 400)])
    exact = omori_survival(x, c, p) - omori_survival(x + 1.0, c, p)
    approx = np.exp(-np.outer(x, s)) @ w
    return s, w, float(np.max(np.abs(approx / exact - 1.0)))


@nb.njit(cache=True)
def advance(
    a_st, b_st, s, decay, wn, tk, lat, lon, wt, src, rp, cp, tkd, wtd, massd,
    t_first, n_loop, out_row, near_out, w_out, vday, desc_out,
    lat0, lon0, res, r0, c0, he, we, k, dsm, q, pgr, glx, glw,
):  # fmt: skip
    """Run the per-cell states over the loop days ``t_first + l`` (see the module docstring)."""
    nn = s.size
    e = np.empty(nn)
    ip, jp = 0, 0
    nsm, nde = tk.size, tkd.size
    ys = np.empty(2 * k + 2)
    xs = np.empty(2 * k + 2)
    m = np.zeros((2 * k + 1, 2 * k + 1))
    for li in range(n_loop):
        tday = t_first + li
        if li > 0:
            for r in range(a_st.shape[0]):
                for kk in range(nn):
                    a_st[r, kk] *= decay[kk]
            for r in range(b_st.shape[0]):
                for kk in range(nn):
                    b_st[r, kk] *= decay[kk]
        while ip < nsm and tk[ip] < tday:
            x = tday - tk[ip]
            for kk in range(nn):
                e[kk] = math.exp(-s[kk] * x)
            for kk in range(nn):
                b_st[src[ip], kk] += wt[ip] * e[kk]
            rlo, rhi = max(rp[ip] - k, r0), min(rp[ip] + k, r0 + he - 1)
            clo, chi = max(cp[ip] - k, c0), min(cp[ip] + k, c0 + we - 1)
            if rlo <= rhi and clo <= chi:
                nr, nc = rhi - rlo + 1, chi - clo + 1
                cl = math.cos(math.radians(lat[ip]))
                for i in range(nr + 1):
                    ys[i] = (lat0 + (rlo + i) * res - lat[ip]) * KM
                for j in range(nc + 1):
                    xs[j] = (lon0 + (clo + j) * res - lon[ip]) * KM * cl
                mm = m[:nr, :nc]
                mm[:] = 0.0
                lattice_masses(xs[: nc + 1], ys[: nr + 1], dsm, q, glx, glw, mm)
                for i in range(nr):
                    for j in range(nc):
                        cell = (rlo - r0 + i) * we + (clo - c0 + j)
                        v = wt[ip] * mm[i, j] * pgr[cell]
                        for kk in range(nn):
                            a_st[cell, kk] += v * e[kk]
            ip += 1
        while jp < nde and tkd[jp] < tday:
            x = tday - tkd[jp]
            for kk in range(nn):
                e[kk] = math.exp(-s[kk] * x)
            for cell in range(he * we):
                v = wtd[jp] * massd[jp, cell]
                if v != 0.0:
                    for kk in range(nn):
                        a_st[cell, kk] += v * e[kk]
            jp += 1
        o = out_row[li]
        if o >= 0:
            for cell in range(he * we):
                acc = 0.0
                acd = 0.0
                for kk in range(nn):
                    acc += wn[kk] * a_st[cell, kk]
                    acd += vday[cell, kk] * a_st[cell, kk]
                near_out[o, cell] = acc
                desc_out[o, cell] = acd
            for r in range(b_st.shape[0]):
                acc = 0.0
                for kk in range(nn):
                    acc += wn[kk] * b_st[r, kk]
                w_out[o, r] = acc
