"""Alarm-based scores: the Molchan error diagram, its area skill score, hit rates at fixed alarm
fractions, and the ROC AUC, all from one pass over the cell-days.

An alarm at threshold ``u`` switches on every cell-day with ``p >= u``. Sweeping ``u`` over the
distinct forecast values traces the Molchan trajectory ``(tau, nu)``: ``tau`` the fraction of
cell-days under alarm (or of a reference rate, ``w``), ``nu`` the fraction of target cell-days
missed (Molchan 1990, Phys. Earth Planet. Inter. 61; Zechar & Jordan 2008, GJI 172, Section 2).
A block of tied values enters as one step; inside it the trajectory is the straight line between
its end points, which is the expected trajectory when the tie is broken at random and is what
pyCSEP's ``plot_Molchan_diagram`` integrates (trapezoid over its threshold table).

Only values carried by a target matter: between two of them ``nu`` is constant, so the whole
curve follows from counts at the ``K`` distinct target values. The counts are computed in chunks
by ``searchsorted`` into those ``K`` values (no sort, no argsort of the cell-days), which keeps
memory at ``O(K)`` plus one chunk, for 1e8 cell-days and more.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from espb.errors import EspbError
from espb.evaluation.forecast._arrays import cell_days, chunks, need_targets


def _packed_sort(p: np.ndarray, payload: np.ndarray | None) -> np.ndarray:
    """Sort float32 values with a uint32 payload (a block key or the position) in one uint64
    sort: the bits of a non-negative float32 order like the float, so ``bits << 32 | payload``
    sorts by value (NumPy's vectorised integer sort is much faster than ``argsort``)."""
    packed = np.empty(p.size, dtype=np.uint64)
    for s in chunks(p.size):
        bits = (p[s] + np.float32(0)).view(np.uint32).astype(np.uint64)  # -0.0 -> +0.0
        pay = np.arange(s.start, s.stop, dtype=np.uint64) if payload is None else payload[s]
        packed[s] = (bits << np.uint64(32)) | pay.astype(np.uint64)
    packed.sort()
    return packed


def _bounds(packed: np.ndarray, u: np.ndarray) -> np.ndarray:
    """Interleaved first / past-last sorted positions of each value of ``u`` in ``packed``."""
    hi_bits = u.astype(np.float32).view(np.uint32).astype(np.uint64) << np.uint64(32)
    lo = np.searchsorted(packed, hi_bits, side="left")
    hi = np.searchsorted(packed, hi_bits | np.uint64(0xFFFFFFFF), side="right")
    return np.column_stack([lo, hi]).ravel()


def interval_counts(
    p: np.ndarray,
    u: np.ndarray,
    *,
    key: np.ndarray | None = None,
    n_keys: int = 1,
    w: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Counts (or ``w`` sums) of cell-days against the ascending distinct values ``u`` (K):
    ``eq[g, k]`` with ``p == u[k]`` and ``lt[g, j]`` with ``u[j-1] < p < u[j]`` (``j = 0..K``),
    per group ``g = key`` (``n_keys`` groups; one group when ``key`` is None).

    Each cell-day falls in one of ``2K + 1`` segments (``lt_0, eq_0, lt_1, ..., lt_K``).
    Unweighted and ungrouped, the segment sizes are read from ``np.sort(p)``; float32 forecasts
    sort with their key or position packed in (:func:`_packed_sort`); others are placed by a
    chunked ``searchsorted``. All three give the same counts."""
    k = u.size
    m = 2 * k + 1
    out = np.zeros(n_keys * m)
    if key is None and w is None:
        srt = np.sort(p)
        b = np.column_stack(
            [np.searchsorted(srt, u, side="left"), np.searchsorted(srt, u, side="right")]
        ).ravel()
        out[:] = np.diff(np.concatenate([[0], b, [p.size]]))
    elif p.dtype == np.float32 and p.size < 2**32 and (w is not None or n_keys < 2**32):
        packed = _packed_sort(p, None if w is not None else key.astype(np.uint32))
        edges = np.concatenate([[0], _bounds(packed, u), [p.size]])  # segment i: [e_i, e_i+1)
        for s in chunks(p.size):
            i0 = int(np.searchsorted(edges, s.start, side="right")) - 1
            i1 = int(np.searchsorted(edges, s.stop, side="left"))
            e = np.clip(edges[i0 : i1 + 1], s.start, s.stop)
            seg = np.repeat(np.arange(i0, i1), np.diff(e))
            pay = (packed[s] & np.uint64(0xFFFFFFFF)).astype(np.int64)
            g = (key[pay] if key is not None else 0) if w is not None else pay
            out += np.bincount(
                g * m + seg, weights=w[pay] if w is not None else None, minlength=out.size
            )
    else:
        for s in chunks(p.size):
            pc = p[s]
            j = np.searchsorted(u, pc, side="left")
            seg = 2 * j + (u[np.minimum(j, k - 1)] == pc)
            g = key[s] if key is not None else 0
            out += np.bincount(
                g * m + seg, weights=w[s] if w is not None else None, minlength=out.size
            )
    out = out.reshape(n_keys, m)
    return out[:, 1::2], out[:, 0::2]


def below_from(eq: np.ndarray, lt: np.ndarray) -> np.ndarray:
    """Cell-days strictly below each ``u[k]``: ``sum_{j<=k} lt[j] + sum_{j<k} eq[j]``."""
    return np.cumsum(lt[..., :-1], axis=-1) + np.cumsum(eq, axis=-1) - eq


@dataclass(frozen=True)
class AlarmTable:
    """Counts at each distinct forecast value ``value`` carried by a target, in ascending order:
    ``hits`` targets at that value, ``tied`` / ``below`` cell-days at / strictly below it
    (counts), ``tied_w`` / ``below_w`` the same in weight (equal to the counts when unweighted),
    ``n`` cell-days, ``n_targets`` targets, ``w_total`` total weight."""

    value: np.ndarray
    hits: np.ndarray
    tied: np.ndarray
    below: np.ndarray
    tied_w: np.ndarray
    below_w: np.ndarray
    n: int
    n_targets: int
    w_total: float


def alarm_table(
    p: np.ndarray,
    y: np.ndarray,
    *,
    w: np.ndarray | None = None,
    mask: np.ndarray | None = None,
) -> AlarmTable:
    """The counts behind the Molchan and ROC curves (one streaming pass; see the module doc).
    ``w``: optional weight per cell-day for the weighted alarm fraction (e.g. the reference
    rate, Zechar & Jordan 2008, Section 2.2)."""
    cd = cell_days(p, y, mask=mask, w=w)
    n1 = need_targets(cd.y, "Molchan/ROC")
    u, hits = np.unique(cd.p[cd.y], return_counts=True)
    eq, lt = interval_counts(cd.p, u)
    eq, lt = eq[0], lt[0]
    if cd.w is None:
        eqw, ltw, wt = eq, lt, float(cd.n)
    else:
        eqw, ltw = interval_counts(cd.p, u, w=cd.w)
        eqw, ltw, wt = eqw[0], ltw[0], float(cd.w.sum())
    return AlarmTable(
        u, hits.astype(np.float64), eq, below_from(eq, lt), eqw, below_from(eqw, ltw), cd.n, n1, wt
    )


def auc_from_table(t: AlarmTable) -> float:
    """ROC AUC from the counts: the share of (target, non-target) pairs the forecast orders
    correctly, ties counting 1/2 (Mann-Whitney form; Hanley & McNeil 1982, Radiology 143)."""
    n0 = t.n - t.n_targets
    hits_below = np.cumsum(t.hits) - t.hits
    neg_below = t.below - hits_below
    neg_tied = t.tied - t.hits
    return float(np.sum(t.hits * (neg_below + 0.5 * neg_tied)) / (t.n_targets * n0))


def ass_from_table(t: AlarmTable) -> float:
    """Area skill score ``ASS = 1 - integral nu dtau`` of the tie-interpolated trajectory,
    exactly: each target enters at the middle of its tie block, so
    ``ASS = sum_k hits_k (W_below_k + W_tied_k / 2) / (N W)`` (Zechar & Jordan 2008, eq. 4)."""
    s = np.sum(t.hits * (t.below_w + 0.5 * t.tied_w))
    return float(s / (t.n_targets * t.w_total))


def curve_from_table(t: AlarmTable) -> tuple[np.ndarray, np.ndarray]:
    """Molchan trajectory vertices ``(tau, nu)`` from (0, 1) to (1, 0), thresholds descending:
    for each target value the points just before and just after its tie block enters."""
    above = (t.w_total - t.below_w - t.tied_w)[::-1]
    tied = t.tied_w[::-1]
    hit_after = np.cumsum(t.hits[::-1])
    hit_before = hit_after - t.hits[::-1]
    tau = np.empty(2 * t.value.size + 2)
    nu = np.empty_like(tau)
    tau[0], nu[0], tau[-1], nu[-1] = 0.0, 1.0, 1.0, 0.0
    tau[1:-1:2], tau[2:-1:2] = above / t.w_total, (above + tied) / t.w_total
    nu[1:-1:2], nu[2:-1:2] = 1 - hit_before / t.n_targets, 1 - hit_after / t.n_targets
    return np.clip(tau, 0.0, 1.0), nu


def hit_rate_at(tau: np.ndarray, nu: np.ndarray, tau0: float) -> float:
    """Hit rate ``1 - nu`` at alarm fraction ``tau0`` on the piecewise-linear trajectory: linear
    between the vertices around ``tau0`` (inside a tie block: the expected hit rate when that
    block is alarmed in part, at random); on a vertical step (a block of zero weight) the upper
    value, since that block costs no alarm fraction."""
    j = int(np.searchsorted(tau, tau0, side="right")) - 1
    if j >= tau.size - 1:
        return 1.0 - float(nu[-1])
    t0, t1 = tau[j], tau[j + 1]
    f = 0.0 if t1 <= t0 else (tau0 - t0) / (t1 - t0)
    return 1.0 - float(nu[j] + f * (nu[j + 1] - nu[j]))


@dataclass(frozen=True)
class Molchan:
    """A Molchan diagram: trajectory ``tau, nu``, area skill score ``ass`` with its standard
    error under random alarms ``ass_se = sqrt(1 / (12 N))`` (Zechar & Jordan 2008, Section 3),
    ``hit_rates`` ``{tau0: 1 - nu(tau0)}``, ``n_targets`` and whether tau is ``weighted``."""

    tau: np.ndarray
    nu: np.ndarray
    ass: float
    ass_se: float
    hit_rates: dict[float, float]
    n_targets: int
    weighted: bool


def molchan(
    p: np.ndarray,
    y: np.ndarray,
    *,
    w: np.ndarray | None = None,
    mask: np.ndarray | None = None,
    alarm_fractions: Sequence[float] = (0.01, 0.05),
) -> Molchan:
    """Molchan diagram and area skill score of ``p`` over cell-days (Molchan 1990; Zechar &
    Jordan 2008, GJI 172, eqs 1-4): ``tau`` = share of cell-days under alarm, or the share of
    the total weight ``w`` under alarm (the reference-rate-weighted alarm fraction, their
    Section 2.2); ``nu`` = share of target cell-days missed. ``ASS = 1 - integral nu dtau``
    (random alarms: 0.5 +- sqrt(1/(12 N)); a perfect forecast: 1 - N / (2 n) for unweighted
    tau). Hit rates are read at ``alarm_fractions`` with :func:`hit_rate_at`."""
    t = alarm_table(p, y, w=w, mask=mask)
    tau, nu = curve_from_table(t)
    hits = {float(a): hit_rate_at(tau, nu, float(a)) for a in alarm_fractions}
    se = math.sqrt(1.0 / (12.0 * t.n_targets))
    return Molchan(tau, nu, ass_from_table(t), se, hits, t.n_targets, w is not None)


def area_skill_score(
    p: np.ndarray, y: np.ndarray, *, w: np.ndarray | None = None, mask: np.ndarray | None = None
) -> float:
    """Area skill score of the Molchan trajectory (see :func:`molchan`)."""
    return ass_from_table(alarm_table(p, y, w=w, mask=mask))


def roc_auc(p: np.ndarray, y: np.ndarray, *, mask: np.ndarray | None = None) -> float:
    """ROC AUC over cell-days, ties counted 1/2 (equal to scikit-learn's ``roc_auc_score``).
    The ROC's x-axis is the false-alarm rate over non-target cell-days, the Molchan's the alarm
    fraction over all of them; unweighted, ``ASS = (AUC n0 + N / 2) / n``."""
    t = alarm_table(p, y, mask=mask)
    if t.n_targets == t.n:
        raise EspbError("ROC AUC: every cell-day is a target, the score is undefined")
    return auc_from_table(t)


def random_band(
    n_targets: int, tau: np.ndarray, level: float = 0.95
) -> tuple[np.ndarray, np.ndarray]:
    """Miss-rate band ``(nu_lo, nu_hi)`` of random alarms at alarm fractions ``tau``: with
    alarms placed at random, the hits of ``N`` targets are Binomial(N, tau), so ``nu = 1 -
    hits / N`` lies in the band with probability about ``level`` (Zechar & Jordan 2008,
    Section 2.3, their confidence bounds for the Molchan diagram)."""
    from scipy import stats

    tau = np.asarray(tau, dtype=float)
    a = (1 - level) / 2
    hi_hits = stats.binom.ppf(1 - a, n_targets, tau)
    lo_hits = stats.binom.ppf(a, n_targets, tau)
    return 1 - hi_hits / n_targets, 1 - lo_hits / n_targets
