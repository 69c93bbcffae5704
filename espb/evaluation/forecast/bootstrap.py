"""Block-bootstrap confidence intervals of the forecast scores, resampling whole days or weeks.

Target earthquakes cluster in time (aftershocks), so cell-days are not independent; resampling
whole blocks of ``block_days`` consecutive days keeps the within-block dependence (Künsch 1989,
Ann. Statist. 17, the block bootstrap; Efron & Tibshirani 1993, "An Introduction to the
Bootstrap", Ch. 13, percentile intervals). A replicate draws ``n_blocks`` blocks with
replacement: a multinomial count ``c_d`` per block. Every score here is exact per replicate:

- log-likelihood, Brier score and target counts are sums over cell-days, so a replicate is
  ``c @ S`` for the per-block sums ``S``; information gain, BSS and the probability gain are
  ratios of such sums (:class:`BlockSums`);
- AUC, ASS and hit rates come from per-block pair matrices (:mod:`.rank_boot`).

The same ``(n_blocks, n_boot, seed)`` gives the same replicates, so forecasts scored on the
same cell-days are resampled in pairs.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from espb.errors import EspbError
from espb.evaluation.forecast._arrays import CellDays, cell_days, chunks, need_targets
from espb.evaluation.forecast.rank_boot import MAX_ENTRIES, rank_matrices, rank_replicates
from espb.evaluation.forecast.scores import brier_terms, ll_terms


@dataclass(frozen=True)
class Interval:
    """A score ``value`` on the full sample with its bootstrap percentile interval
    ``[lo, hi]`` at ``level`` from ``n_boot`` replicates."""

    value: float
    lo: float
    hi: float
    level: float
    n_boot: int


def block_index(day: np.ndarray, block_days: int = 1) -> tuple[np.ndarray, int]:
    """Block of each cell-day: ``(day - first day) // block_days``, renumbered ``0..nb-1`` over
    the blocks that occur (``block_days = 1`` days, ``7`` weeks from the period's first day)."""
    if block_days < 1:
        raise EspbError(f"bootstrap: block_days must be >= 1 (got {block_days})")
    day = np.asarray(day, dtype=np.int64)
    raw = (day - day.min()) // block_days
    used = np.bincount(raw) > 0
    lookup = np.cumsum(used) - 1
    return lookup[raw], int(used.sum())


def resample_counts(n_blocks: int, n_boot: int, seed: int = 0) -> np.ndarray:
    """``(n_boot, n_blocks)`` multiplicities: each replicate draws ``n_blocks`` blocks with
    replacement (seeded ``numpy.random.default_rng(seed)``)."""
    if n_boot < 1:
        raise EspbError(f"bootstrap: n_boot must be >= 1 (got {n_boot})")
    rng = np.random.default_rng(seed)
    return rng.multinomial(n_blocks, np.full(n_blocks, 1.0 / n_blocks), size=n_boot)


@dataclass(frozen=True)
class BlockSums:
    """Per-block sums: cell-days ``n``, targets ``n1``, log-likelihoods ``ll`` / ``ll_ref`` and
    squared errors ``se`` / ``se_ref`` (the ``_ref`` arrays are None without a reference)."""

    n: np.ndarray
    n1: np.ndarray
    ll: np.ndarray
    se: np.ndarray
    ll_ref: np.ndarray | None
    se_ref: np.ndarray | None


def block_sums(cd: CellDays, key: np.ndarray, n_blocks: int) -> BlockSums:
    """Sufficient statistics of the additive scores per block (one streaming pass)."""
    has_ref = cd.r is not None
    acc = np.zeros((6 if has_ref else 4, n_blocks))
    for s in chunks(cd.n):
        k, p, y = key[s], cd.p[s], cd.y[s]
        acc[0] += np.bincount(k, minlength=n_blocks)
        acc[1] += np.bincount(k, weights=y.astype(np.float64), minlength=n_blocks)
        acc[2] += np.bincount(k, weights=ll_terms(p, y), minlength=n_blocks)
        acc[3] += np.bincount(k, weights=brier_terms(p, y), minlength=n_blocks)
        if has_ref:
            acc[4] += np.bincount(k, weights=ll_terms(cd.r[s], y), minlength=n_blocks)
            acc[5] += np.bincount(k, weights=brier_terms(cd.r[s], y), minlength=n_blocks)
    return BlockSums(*acc[:4], *(acc[4:] if has_ref else (None, None)))


def additive_replicates(c: np.ndarray, bs: BlockSums) -> dict[str, np.ndarray]:
    """Scores of each replicate ``c`` from the block sums: ``ll`` (total), ``ll_mean`` (per
    cell-day), ``brier``; with a reference ``ig_nats``, ``ig_bits``, ``probability_gain``,
    ``bss`` (definitions in :mod:`.scores`)."""
    c = np.asarray(c, dtype=np.float64)
    n, n1 = c @ bs.n, c @ bs.n1
    ll = c @ bs.ll
    out = {"ll": ll, "ll_mean": ll / n, "brier": (c @ bs.se) / n}
    if bs.ll_ref is not None:
        with np.errstate(invalid="ignore", divide="ignore"):
            ig = (ll - c @ bs.ll_ref) / n1
            out["ig_nats"] = ig
            out["ig_bits"] = ig / math.log(2.0)
            out["probability_gain"] = np.exp(ig)
            out["bss"] = 1.0 - (c @ bs.se) / (c @ bs.se_ref)
    return out


def percentile(value: float, reps: np.ndarray, level: float) -> Interval:
    """Percentile interval of the finite replicates (a replicate with no target, where a ratio
    is undefined, is left out)."""
    ok = reps[np.isfinite(reps)]
    if ok.size == 0:
        return Interval(float(value), math.nan, math.nan, level, 0)
    lo, hi = np.quantile(ok, [(1 - level) / 2, (1 + level) / 2])
    return Interval(float(value), float(lo), float(hi), level, int(ok.size))


def bootstrap_scores(
    p: np.ndarray,
    y: np.ndarray,
    day: np.ndarray,
    *,
    r: np.ndarray | None = None,
    w: np.ndarray | None = None,
    mask: np.ndarray | None = None,
    n_boot: int = 1000,
    block_days: int = 1,
    seed: int = 0,
    level: float = 0.95,
    alarm_fractions: Sequence[float] = (0.01, 0.05),
    rank: bool = True,
    max_entries: int = MAX_ENTRIES,
) -> dict[str, Interval]:
    """Every score of ``p`` with its block-bootstrap percentile interval: ``ll``, ``ll_mean``,
    ``brier``; with a reference ``r`` also ``ig_nats``, ``ig_bits``, ``probability_gain``,
    ``bss``; with ``rank`` also ``auc``, ``ass``, ``hit@<tau0>`` and, with weights ``w``,
    ``ass_w``. ``day``: the day index of each cell-day; blocks of ``block_days`` days are
    resampled (module doc). ``value`` is the full-sample score, equal to the direct functions
    of :mod:`.scores` and :mod:`.alarms`."""
    cd = cell_days(p, y, mask=mask, day=day, r=r, w=w, open_interval=True)
    need_targets(cd.y, "bootstrap", negatives=rank)
    key, nb = block_index(cd.day, block_days)
    c = resample_counts(nb, n_boot, seed)
    ones = np.ones((1, nb))
    bs = block_sums(cd, key, nb)
    full = additive_replicates(ones, bs)
    reps = additive_replicates(c, bs)
    if rank:
        rm = rank_matrices(cd.p, cd.y, key, nb, w=cd.w, max_entries=max_entries)
        full |= rank_replicates(ones, rm, alarm_fractions)
        reps |= rank_replicates(c, rm, alarm_fractions)
    return {k: percentile(full[k][0], reps[k], level) for k in full}
