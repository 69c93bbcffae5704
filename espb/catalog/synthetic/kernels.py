"""Numba kernels of the synthetic catalog: completeness after large events, precursor windows.

Both walk, for each of a few thousand "main" events, the time-sorted slice of events that
follow (or precede) it; the cost is the total slice length, not events x mains.
"""

from __future__ import annotations

import math

import numba as nb
import numpy as np

from espb.catalog.synthetic.fields import KM_PER_DEG as _KM


@nb.njit(cache=True)
def _dist_km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Equirectangular distance (km); exact enough below a few hundred km."""
    x = (lon2 - lon1) * math.cos(math.radians(0.5 * (lat1 + lat2)))
    y = lat2 - lat1
    return _KM * math.sqrt(x * x + y * y)


@nb.njit(cache=True)
def stai_completeness(
    t: np.ndarray,
    lat: np.ndarray,
    lon: np.ndarray,
    mains: np.ndarray,
    m_main: np.ndarray,
    radius_km: np.ndarray,
    a: float,
    b: float,
    mc0: float,
) -> np.ndarray:
    """Completeness magnitude of every event after the ``mains`` (indices into time-sorted
    arrays): Mc = max(mc0, M - a - b log10(dt / 1 day)) within ``radius_km`` of a main event
    (Helmstetter, Kagan & Jackson 2006, short-term aftershock incompleteness)."""
    n = t.size
    mc = np.full(n, mc0)
    for j in range(mains.size):
        i0 = mains[j]
        tj = t[i0]
        tmax = 10.0 ** ((m_main[j] - a - mc0) / b)
        i = i0 + 1
        while i < n and t[i] - tj < tmax:
            dt = t[i] - tj
            if dt > 0.0 and _dist_km(lat[i0], lon[i0], lat[i], lon[i]) <= radius_km[j]:
                v = m_main[j] - a - b * math.log10(dt)
                if v > mc[i]:
                    mc[i] = v
            i += 1
    return mc


@nb.njit(cache=True)
def mark_precursor_windows(
    t: np.ndarray,
    lat: np.ndarray,
    lon: np.ndarray,
    m: np.ndarray,
    targets: np.ndarray,
    days: float,
    radius_km: float,
    m_cap: float,
) -> tuple[np.ndarray, np.ndarray]:
    """Flag events within ``radius_km`` and the ``days`` before each target (strictly earlier)
    whose magnitude is below ``m_cap``. Returns (flag per event, flagged count per target)."""
    n = t.size
    flag = np.zeros(n, dtype=np.bool_)
    count = np.zeros(targets.size, dtype=np.int64)
    for j in range(targets.size):
        k = targets[j]
        t0 = t[k] - days
        lo = np.searchsorted(t, t0)
        for i in range(lo, n):
            if t[i] >= t[k]:
                break
            if m[i] < m_cap and _dist_km(lat[k], lon[k], lat[i], lon[i]) <= radius_km:
                if not flag[i]:
                    flag[i] = True
                count[j] += 1
    return flag, count
