"""The fast cube kernel (Numba, parallel): one pass over the (event, cell) pairs + one over the output.

For each cell, the events within the radius form a time-ordered list (the event table is sorted
by time, and pairs are emitted in event order). The cylinder of day d is a contiguous slice of
that list, ``[lo(d), hi(d))``, found with two pointers that only move forward. b-positive's
differences are between neighbours in the list, so the usable differences inside the slice are
those of pairs (k-1, k) with lo < k < hi, and their count and sum are differences of prefix sums.
``classic`` uses prefix sums over the magnitudes >= Mc. Nothing from after day d is read when
writing day d (``hi`` stops at the first event after day d).

The grid is processed in stripes of latitude rows (bounded memory, a progress bar); within a
stripe the (cell -> events) lists are built as a two-pass, per-thread counting sort, so they stay
in time order, and cells are processed in parallel.
"""

from __future__ import annotations

import math

import numba
import numpy as np
from numba import njit, prange

from espb.bvalue.estimators import EPS_DEN, EPS_MAG, LOG10_E
from espb.bvalue.grid import RADIUS_RTOL
from espb.geo import EARTH_RADIUS_KM, haversine_km_scalar

PLANAR, GREATCIRCLE = 0, 1


@njit(cache=True, inline="always")
def _within(elat, elon, clat, clon, metric, r, rr):
    if metric == PLANAR:
        dla = elat - clat
        dlo = elon - clon
        return dla * dla + dlo * dlo <= rr
    return haversine_km_scalar(clat, clon, elat, elon, EARTH_RADIUS_KM) <= rr


@njit(cache=True, inline="always")
def _b_from(xbar, dm, b_max):
    if not xbar > EPS_DEN:
        return b_max
    if dm > 0:
        beta = math.log(1.0 + dm / xbar) / dm
    else:
        beta = 1.0 / xbar
    b = beta * LOG10_E
    if not math.isfinite(b) or b > b_max:
        return b_max
    return max(b, 0.0)


@njit(cache=True, inline="always")
def _index_range(x, box, x0, res, lo, hi):
    a = int(math.floor((x - box - x0) / res - 0.5)) - 1
    b = int(math.floor((x + box - x0) / res - 0.5)) + 1
    return max(a, lo), min(b, hi)


@njit(cache=True)
def _scan_pairs(ev_lat, ev_lon, e0, e1, stripe, t, counts, offs, idx, fill):
    """Visit the (event, cell) pairs of events [e0, e1) and the rows of ``stripe`` (the
    arguments of :func:`_build_lists` that place its cells): count them per cell (``fill``
    False) or write the event indices at thread ``t``'s offsets (``fill`` True)."""
    lat_c, lon_c, i0, i1, lat0, lon0, res, box_lat, box_lon, metric, rr = stripe
    nlon = lon_c.size
    # one cell of slack: the band is a quick filter, ``_within`` (with its tolerance) decides
    lat_lo = lat_c[i0] - box_lat - res
    lat_hi = lat_c[i1 - 1] + box_lat + res
    for e in range(e0, e1):
        la = ev_lat[e]
        if la < lat_lo or la > lat_hi:
            continue
        lo = ev_lon[e]
        ia, ib = _index_range(la, box_lat, lat0, res, i0, i1 - 1)
        ja, jb = _index_range(lo, box_lon, lon0, res, 0, nlon - 1)
        for i in range(ia, ib + 1):
            for j in range(ja, jb + 1):
                if _within(la, lo, lat_c[i], lon_c[j], metric, 0.0, rr):
                    c = (i - i0) * nlon + j
                    if fill:
                        idx[offs[t, c]] = e
                        offs[t, c] += 1
                    else:
                        counts[t, c] += 1


@njit(parallel=True, cache=True)
def _build_lists(
    ev_lat, ev_lon, lat_c, lon_c, i0, i1, lat0, lon0, res, box_lat, box_lon, metric, rr, nthreads
):
    """Cell -> event-index lists for rows [i0, i1), in event (time) order: (start, idx).

    A counting sort: each thread counts the pairs of its contiguous share of the events, the
    offsets put thread t's share of a cell before thread t+1's, then each thread fills its slots.
    """
    ncell = (i1 - i0) * lon_c.size
    n_ev = ev_lat.size
    counts = np.zeros((nthreads, ncell), np.int64)
    offs = np.empty((nthreads, ncell), np.int64)
    start = np.zeros(ncell + 1, np.int64)
    idx = np.empty(0, np.int32)
    stripe = (lat_c, lon_c, i0, i1, lat0, lon0, res, box_lat, box_lon, metric, rr)
    for step in range(2):  # 0: count the pairs; 1: fill their slots
        fill = step == 1
        if fill:
            for c in range(ncell):
                pos = start[c]
                for t in range(nthreads):
                    offs[t, c] = pos
                    pos += counts[t, c]
                start[c + 1] = pos
            idx = np.empty(start[ncell], np.int32)
        for t in prange(nthreads):
            e0, e1 = t * n_ev // nthreads, (t + 1) * n_ev // nthreads
            _scan_pairs(ev_lat, ev_lon, e0, e1, stripe, t, counts, offs, idx, fill)
    return start, idx


@njit(cache=True)
def _windows(dd, ndays, dt):
    """The cylinders of a cell: day d holds events [lo[d], hi[d]) of its time-ordered list, i.e.
    those whose day is in [d - dt + 1, d]. ``hi`` stops at the first event after day d, so no
    later event is ever part of day d's value (the no-future invariant)."""
    n = dd.size
    los = np.empty(ndays, np.int64)
    his = np.empty(ndays, np.int64)
    lo = 0
    hi = 0
    for day in range(ndays):
        while hi < n and dd[hi] <= day:
            hi += 1
        w0 = day - dt + 1
        while lo < hi and dd[lo] < w0:
            lo += 1
        los[day] = lo
        his[day] = hi
    return los, his


@njit(cache=True)
def _cell_bpositive(m, dd, ndays, dt, thr, slack, dm, b_max, out_b, out_n, out_u, i, j):
    n = m.size
    ps = np.empty(n, np.float64)
    pc = np.empty(n, np.int64)
    ps[0] = 0.0
    pc[0] = 0
    cut = thr - slack
    for k in range(1, n):
        d = m[k] - m[k - 1]
        if d > EPS_MAG and d >= cut:
            ps[k] = ps[k - 1] + d
            pc[k] = pc[k - 1] + 1
        else:
            ps[k] = ps[k - 1]
            pc[k] = pc[k - 1]
    los, his = _windows(dd, ndays, dt)
    for day in range(ndays):
        lo = los[day]
        hi = his[day]
        nev = hi - lo
        out_n[day, i, j] = nev
        if nev >= 2:
            cnt = pc[hi - 1] - pc[lo]
            out_u[day, i, j] = cnt
            if cnt > 0:
                xbar = (ps[hi - 1] - ps[lo]) / cnt - thr
                out_b[day, i, j] = _b_from(xbar, dm, b_max)


@njit(cache=True)
def _cell_classic(m, dd, ndays, dt, thr, slack, dm, b_max, out_b, out_n, out_u, i, j):
    n = m.size
    pu = np.zeros(n + 1, np.int64)
    psum = np.zeros(n + 1, np.float64)
    pch = np.zeros(n, np.int64)
    cut = thr - slack
    q = 0
    last = 0.0
    for k in range(n):
        if m[k] >= cut:
            pu[k + 1] = pu[k] + 1
            psum[k + 1] = psum[k] + (m[k] - thr)
            if q > 0:
                pch[q] = pch[q - 1] + (1 if abs(m[k] - last) > EPS_MAG else 0)
            last = m[k]
            q += 1
        else:
            pu[k + 1] = pu[k]
            psum[k + 1] = psum[k]
    los, his = _windows(dd, ndays, dt)
    for day in range(ndays):
        lo = los[day]
        hi = his[day]
        out_n[day, i, j] = hi - lo
        flo = pu[lo]
        fhi = pu[hi]
        nu = fhi - flo
        out_u[day, i, j] = nu
        if nu >= 2 and pch[fhi - 1] - pch[flo] > 0:
            xbar = (psum[hi] - psum[lo]) / nu
            out_b[day, i, j] = _b_from(xbar, dm, b_max)


@njit(parallel=True, cache=True)
def _cells(ev_day, ev_mag, start, idx, order, i0, nlon, classic, per_cell):
    """Each cell of ``order``: its events' magnitudes and days, then the estimator's values for
    every day; ``per_cell`` = (ndays, dt, thr, slack, dm, b_max, out_b, out_n, out_u), what
    :func:`_cell_classic` / :func:`_cell_bpositive` take beside a cell's events."""
    ndays, dt, thr, slack, dm, b_max, out_b, out_n, out_u = per_cell
    for q in prange(order.size):
        c = order[q]
        s = start[c]
        n = start[c + 1] - s
        if n == 0:
            continue
        m = np.empty(n, np.float64)
        dd = np.empty(n, np.int64)
        for k in range(n):
            e = idx[s + k]
            m[k] = ev_mag[e]
            dd[k] = ev_day[e]
        i = i0 + c // nlon
        j = c % nlon
        if classic:
            _cell_classic(m, dd, ndays, dt, thr, slack, dm, b_max, out_b, out_n, out_u, i, j)
        else:
            _cell_bpositive(m, dd, ndays, dt, thr, slack, dm, b_max, out_b, out_n, out_u, i, j)


def compute_stripe(
    ev_lat,
    ev_lon,
    ev_day,
    ev_mag,
    lat_c,
    lon_c,
    i0,
    i1,
    *,
    res,
    box,
    metric,
    r,
    ndays,
    dt,
    classic,
    thr,
    slack,
    dm,
    b_max,
    out_b,
    out_n,
    out_u,
) -> int:
    """Fill rows [i0, i1) of the output arrays; returns the number of (event, cell) pairs."""
    nthreads = numba.get_num_threads()
    lat0 = float(lat_c[0] - res / 2)
    lon0 = float(lon_c[0] - res / 2)
    code = PLANAR if metric == "planar" else GREATCIRCLE
    if ev_lat.size >= 2**31:
        raise ValueError(
            "more than 2**31 events in one cube: the kernel's int32 event index overflows"
        )
    rr = r * r * (1.0 + RADIUS_RTOL) if code == PLANAR else r * (1.0 + RADIUS_RTOL)
    start, idx = _build_lists(
        ev_lat, ev_lon, lat_c, lon_c, i0, i1, lat0, lon0, res, box[0], box[1], code, rr, nthreads
    )
    # heaviest cells first, interleaved, so the threads share the load
    # (numba's prange gives each thread one contiguous chunk of ``order``: deal them round-robin)
    srt = np.argsort(-np.diff(start), kind="stable").astype(np.int64)
    order = np.concatenate([srt[t::nthreads] for t in range(nthreads)])
    per_cell = (ndays, dt, thr, slack, dm, b_max, out_b, out_n, out_u)
    _cells(ev_day, ev_mag, start, idx, order, i0, lon_c.size, classic, per_cell)
    return int(start[-1])
