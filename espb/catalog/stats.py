"""Catalog statistics used by ``espb catalog info`` and the synthetic-catalog diagnostics."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.optimize import minimize


def magnitude_histogram(mw: np.ndarray, delta: float = 0.1) -> pd.Series:
    """Non-cumulative frequency-magnitude distribution: counts per ``delta`` bin (bin centres)."""
    mw = np.asarray(mw, dtype=float)
    mw = mw[np.isfinite(mw)]
    if mw.size == 0:
        return pd.Series(dtype="int64")
    k = np.floor(mw / delta + 0.5 + 1e-9).astype(np.int64)
    ks, counts = np.unique(k, return_counts=True)
    full = np.arange(ks.min(), ks.max() + 1)
    c = np.zeros(full.size, dtype=np.int64)
    c[ks - ks.min()] = counts
    return pd.Series(c, index=np.round(full * delta, 6), name="count")


def mc_maxc(mw: np.ndarray, delta: float = 0.1, correction: float = 0.0) -> float:
    """Completeness by maximum curvature (Wiemer & Wyss 2000): the most populated bin of the
    non-cumulative FMD, plus an optional ``correction`` (0.2 is common). NaN when empty."""
    h = magnitude_histogram(mw, delta)
    if h.empty:
        return float("nan")
    return float(h.idxmax()) + correction


def aki_b(mw: np.ndarray, mc: float, delta: float = 0.1) -> float:
    """Aki (1965) maximum-likelihood b with Utsu's binning correction (paper Eqs. 5-6 with
    M0 = Mc - delta/2); for quick looks (``info``), not the cube estimator."""
    m = np.asarray(mw, dtype=float)
    m = m[m >= mc - 1e-9]
    if m.size < 2 or m.mean() - (mc - delta / 2) <= 0:
        return float("nan")
    return float(np.log10(np.e) / (m.mean() - (mc - delta / 2)))


@dataclass
class OmoriFit:
    """Modified Omori-Utsu fit ``rate = mu + K / (t + c)^p`` (t in days after the mainshock)."""

    K: float
    c: float
    p: float
    mu: float
    n: int


def fit_omori(t_days: np.ndarray, t1: float, t2: float, mu: float = 0.0) -> OmoriFit:
    """Maximum-likelihood Omori-Utsu fit (Ogata 1983) to event times in [t1, t2] days after a
    mainshock, with a fixed background rate ``mu`` (events/day)."""
    t = np.asarray(t_days, dtype=float)
    t = t[(t >= t1) & (t <= t2)]

    def nll(x: np.ndarray) -> float:
        K, c, p = np.exp(x[0]), np.exp(x[1]), x[2]
        if abs(p - 1) < 1e-9:
            p += 1e-9
        lam = mu + K / (t + c) ** p
        integ = mu * (t2 - t1) + K * ((t2 + c) ** (1 - p) - (t1 + c) ** (1 - p)) / (1 - p)
        return float(-(np.log(lam).sum() - integ))

    best = None
    for c0 in (0.01, 0.1, 1.0):
        for p0 in (0.8, 1.1, 1.4):
            r = minimize(
                nll,
                [np.log(max(t.size, 1)), np.log(c0), p0],
                method="Nelder-Mead",
                options={"maxiter": 4000, "xatol": 1e-6, "fatol": 1e-6},
            )
            if best is None or r.fun < best.fun:
                best = r
    assert best is not None
    return OmoriFit(
        K=float(np.exp(best.x[0])),
        c=float(np.exp(best.x[1])),
        p=float(best.x[2]),
        mu=mu,
        n=int(t.size),
    )
