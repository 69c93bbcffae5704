"""Exact block-bootstrap replicates of the rank scores (AUC, ASS, hit rates) without re-sorting.

A bootstrap replicate repeats block ``d`` (a day or a week) ``c_d`` times. The rank scores are
sums over (target, cell-day) pairs, so with per-block counts at the ``K`` distinct target values
they follow from ``nb x nb`` matrices: for a target of block ``d`` at value ``u``, the cell-days
of block ``e`` below it, ``G[e, u] = below + tied / 2``; summing over the targets of ``d`` gives
``M[d, e] = sum_k H[d, k] G[e, k]`` and the replicate's pair count is ``c^T M c``. Hence

    ASS(c) = c^T M_all c / (N(c) n(c)),   AUC(c) = c^T M_neg c / (N(c) (n(c) - N(c)))

exactly (``N`` targets, ``n`` cell-days; Zechar & Jordan 2008 eq. 4; Mann-Whitney for the AUC).
Hit rates at an alarm fraction need the replicate's trajectory; its vertices are sums over
blocks of per-block counts, found per replicate by a vectorised bisection (``log2 K`` steps).
Memory is ``O(nb K)``; :data:`MAX_ENTRIES` bounds it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from espb.errors import EspbError
from espb.evaluation.forecast.alarms import below_from, interval_counts

#: largest ``n_blocks x K`` (blocks x distinct target values) the exact rank bootstrap builds
MAX_ENTRIES = 10_000_000


@dataclass(frozen=True)
class RankMatrices:
    """Pair matrices ``m_all``, ``m_neg``, ``m_w`` (nb x nb; ``m_w`` None when unweighted),
    per-block targets ``n1``, cell-days ``n``, weights ``w``, and the trajectory vertices per
    block ``tau_v`` / ``hit_v`` (int32 counts, nb x (2K + 2), thresholds descending)."""

    m_all: np.ndarray
    m_neg: np.ndarray
    m_w: np.ndarray | None
    n1: np.ndarray
    n: np.ndarray
    w: np.ndarray
    tau_v: np.ndarray
    hit_v: np.ndarray


def _pair_matrix(h: np.ndarray, eq: np.ndarray, lt: np.ndarray) -> np.ndarray:
    g = below_from(eq, lt) + 0.5 * eq
    return h @ g.T


def rank_matrices(
    p: np.ndarray,
    y: np.ndarray,
    key: np.ndarray,
    n_blocks: int,
    w: np.ndarray | None = None,
    max_entries: int = MAX_ENTRIES,
) -> RankMatrices:
    """Build the matrices of the module doc from flat, checked cell-days and their block index
    ``key`` (``0..n_blocks-1``)."""
    u, inv = np.unique(p[y], return_inverse=True)
    k = u.size
    if n_blocks * k > max_entries:
        raise EspbError(
            f"rank bootstrap: {n_blocks} blocks x {k} distinct target values = {n_blocks * k} "
            f"entries exceeds max_entries={max_entries}; resample weeks (block_days=7), score "
            "a shorter period, or raise max_entries if memory allows (about 48 bytes each at peak)"
        )
    h = np.bincount(key[y] * k + inv, minlength=n_blocks * k).reshape(n_blocks, k)
    h = h.astype(np.float64)
    eq, lt = interval_counts(p, u, key=key, n_keys=n_blocks)
    n = eq.sum(axis=1) + lt.sum(axis=1)
    below = below_from(eq, lt)
    del lt
    g = below + 0.5 * eq
    m_all = h @ g.T
    g -= np.cumsum(h, axis=1) - 0.5 * h  # minus the targets below, and half the tied ones
    m_neg = h @ g.T
    del g
    m_w, wsum = None, n
    if w is not None:
        eqw, ltw = interval_counts(p, u, key=key, n_keys=n_blocks, w=w)
        wsum = eqw.sum(axis=1) + ltw.sum(axis=1)
        m_w = _pair_matrix(h, eqw, ltw)
        del eqw, ltw
    # trajectory vertices, thresholds descending: before / after each tie block, plus the ends
    tau_v = np.zeros((n_blocks, 2 * k + 2), dtype=np.int32)
    hit_v = np.zeros_like(tau_v)
    above = n[:, None] - below[:, ::-1] - eq[:, ::-1]
    tau_v[:, 1:-1:2] = np.rint(above)
    tau_v[:, 2:-1:2] = np.rint(above + eq[:, ::-1])
    del above, below, eq
    hit_after = np.cumsum(h[:, ::-1], axis=1)
    hit_v[:, 1:-1:2] = np.rint(hit_after - h[:, ::-1])
    hit_v[:, 2:-1:2] = np.rint(hit_after)
    tau_v[:, -1], hit_v[:, -1] = np.rint(n), np.rint(h.sum(axis=1))
    return RankMatrices(m_all, m_neg, m_w, h.sum(axis=1), n, wsum, tau_v, hit_v)


def _quad(c: np.ndarray, m: np.ndarray) -> np.ndarray:
    return np.einsum("bi,bi->b", c @ m, c)


def _hit_rates(c: np.ndarray, rm: RankMatrices, tau0: float) -> np.ndarray:
    """Hit rate at ``tau0`` of each replicate ``c`` (B x nb), on its piecewise-linear trajectory
    (the convention of :func:`espb.evaluation.forecast.alarms.hit_rate_at`)."""
    ci = c.astype(np.int64)
    nrep = c.shape[0]
    n_b = ci @ rm.n.astype(np.int64)
    n1_b = ci @ rm.n1.astype(np.int64)
    last = rm.tau_v.shape[1] - 1
    lo = np.zeros(nrep, dtype=np.int64)  # tau(lo) <= tau0 always (tau(0) = 0)
    hi = np.full(nrep, last + 1, dtype=np.int64)  # first index with tau > tau0 (or past end)

    def at(v: np.ndarray, j: np.ndarray) -> np.ndarray:
        return np.einsum("nb,bn->b", v[:, j], ci)

    while np.any(hi - lo > 1):
        mid = (lo + hi) // 2
        ok = at(rm.tau_v, np.minimum(mid, last)) <= tau0 * n_b
        lo = np.where(ok & (hi - lo > 1), mid, lo)
        hi = np.where(~ok & (hi - lo > 1), mid, hi)
    j1 = np.minimum(lo + 1, last)
    t0, t1 = at(rm.tau_v, lo) / n_b, at(rm.tau_v, j1) / n_b
    # a replicate without targets has no hit rate: NaN (as its AUC in rank_replicates),
    # dropped by the interval; not a warning to the user
    with np.errstate(invalid="ignore", divide="ignore"):
        h0, h1 = at(rm.hit_v, lo) / n1_b, at(rm.hit_v, j1) / n1_b
        f = np.where(t1 > t0, (tau0 - t0) / (t1 - t0), 0.0)
    out = h0 + np.clip(f, 0.0, 1.0) * (h1 - h0)
    return np.where(lo >= last, 1.0, out)


def rank_replicates(
    c: np.ndarray, rm: RankMatrices, alarm_fractions: Sequence[float] = (0.01, 0.05)
) -> dict[str, np.ndarray]:
    """``auc``, ``ass``, ``ass_w`` (when weighted) and ``hit@<tau0>`` for each replicate ``c``
    (B x nb block multiplicities; a row of ones gives the full-sample values)."""
    c = np.asarray(c, dtype=np.float64)
    n1_b, n_b, w_b = c @ rm.n1, c @ rm.n, c @ rm.w
    with np.errstate(invalid="ignore", divide="ignore"):
        out = {
            "auc": _quad(c, rm.m_neg) / (n1_b * (n_b - n1_b)),
            "ass": _quad(c, rm.m_all) / (n1_b * n_b),
        }
        if rm.m_w is not None:
            out["ass_w"] = _quad(c, rm.m_w) / (n1_b * w_b)
    for a in alarm_fractions:
        out[f"hit@{a:g}"] = _hit_rates(c, rm, float(a))
    return out
