"""Paired comparison of two forecasts on the same cell-days: CSEP's T-test of information gain
(Rhoades, Schorlemmer, Gerstenberger, Christophersen, Zechar & Imoto 2011, "Efficient testing of
earthquake forecasting models", Acta Geophysica 59, eqs 17-18; pyCSEP
``csep.core.poisson_evaluations.paired_t_test``) and a block-bootstrap test of the same gain.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import numpy as np
from scipy import stats

from espb.errors import EspbError
from espb.evaluation.forecast._arrays import cell_days, chunks
from espb.evaluation.forecast.bootstrap import (
    Interval,
    additive_replicates,
    block_index,
    block_sums,
    percentile,
    resample_counts,
)


@dataclass(frozen=True)
class TTest:
    """Result of the paired T-test of ``forecast`` against ``reference`` (Rhoades et al. 2011):
    ``information_gain`` per target event (nats), its ``1 - alpha`` interval ``ig_lower,
    ig_upper``, ``t_statistic``, ``t_critical`` (two-sided, ``df = N - 1``), the two-sided
    ``p_value`` and ``n_targets``; ``kind`` says which likelihood (see :func:`paired_t_test`)."""

    information_gain: float
    ig_lower: float
    ig_upper: float
    t_statistic: float
    t_critical: float
    p_value: float
    n_targets: int
    kind: str
    alpha: float


def _sums(p: np.ndarray, r: np.ndarray, y: np.ndarray, kind: str) -> tuple[float, ...]:
    """Sum and sum of squares of X = log-rate ratio on the targets, and the penalty."""
    sx = sxx = pen = 0.0
    for s in chunks(p.size):
        pc, rc, yc = p[s].astype(np.float64), r[s].astype(np.float64), y[s]
        lp, lr = -np.log1p(-pc), -np.log1p(-rc)  # expected counts lambda = -ln(1 - p)
        if kind == "poisson":
            x = np.log(lp[yc]) - np.log(lr[yc])
            pen += float(lp.sum() - lr.sum())
        else:
            x = np.log(pc[yc]) - np.log(rc[yc])
            pen += float(lp[~yc].sum() - lr[~yc].sum())
        sx += float(x.sum())
        sxx += float(np.square(x).sum())
    return sx, sxx, pen


def paired_t_test(
    p: np.ndarray,
    r: np.ndarray,
    y: np.ndarray,
    *,
    mask: np.ndarray | None = None,
    alpha: float = 0.05,
    kind: Literal["poisson", "bernoulli"] = "poisson",
) -> TTest:
    """Paired T-test of ``p`` against ``r`` over cell-days (Rhoades et al. 2011, eqs 17-18).
    Each target cell-day is one target event ``i`` with log-rate ratio ``X_i``; with ``N``
    targets, ``IG = (sum X_i - D) / N``, ``s^2 = sum X_i^2 / (N - 1) - (sum X_i)^2 / (N^2 - N)``,
    ``t = IG sqrt(N) / s``.

    ``kind="poisson"`` (CSEP's, as pyCSEP's ``paired_t_test``): rates ``lambda = -ln(1 - p)``,
    ``X_i = ln lambda_p - ln lambda_r`` and ``D = sum lambda_p - sum lambda_r`` over all
    cell-days. ``kind="bernoulli"`` (the binary form for 0/1 cell-day targets):
    ``X_i = ln p_i - ln r_i`` and ``D = sum_{y=0} (lambda_p - lambda_r)``, so that ``IG`` is
    exactly the Bernoulli information gain ``(LL_p - LL_r) / N`` of :mod:`.scores`. (pyCSEP
    0.8's ``binary_paired_t_test`` cannot be called: it raises ``NameError: np``.)"""
    if kind not in ("poisson", "bernoulli"):
        raise EspbError(f"paired_t_test: kind must be 'poisson' or 'bernoulli' (got {kind!r})")
    cd = cell_days(p, y, mask=mask, r=r, open_interval=True)
    n = int(np.count_nonzero(cd.y))
    if n < 2:
        raise EspbError(
            f"paired_t_test: {n} target cell-day(s); the T-test needs at least 2 target events"
        )
    sx, sxx, pen = _sums(cd.p, cd.r, cd.y, kind)
    ig = (sx - pen) / n
    var = sxx / (n - 1) - sx**2 / (n**2 - n)
    sd = math.sqrt(max(var, 0.0))
    se = sd / math.sqrt(n)
    if se > 0:
        t = ig / se
    else:  # every X_i equal: no spread, the sign of IG decides
        t = math.copysign(math.inf, ig) if ig != 0 else math.nan
    tc = float(stats.t.ppf(1 - alpha / 2, n - 1))
    pv = math.nan if math.isnan(t) else float(2 * stats.t.sf(abs(t), n - 1))
    return TTest(ig, ig - tc * se, ig + tc * se, float(t), tc, pv, n, kind, alpha)


@dataclass(frozen=True)
class BootstrapTest:
    """Block-bootstrap test of the information gain of a forecast over another: ``ig`` (nats
    per target event, with its percentile interval) and the two-sided ``p_value`` of
    ``IG = 0``; ``block_days`` the resampled block length."""

    ig: Interval
    p_value: float
    block_days: int


def bootstrap_ig_test(
    p: np.ndarray,
    r: np.ndarray,
    y: np.ndarray,
    day: np.ndarray,
    *,
    mask: np.ndarray | None = None,
    n_boot: int = 1000,
    block_days: int = 1,
    seed: int = 0,
    level: float = 0.95,
) -> BootstrapTest:
    """Bootstrap test of the Bernoulli information gain ``(LL_p - LL_r) / N`` (Kagan 2009) of
    ``p`` over ``r``, resampling whole blocks of days in pairs (both forecasts see the same
    replicate; Efron & Tibshirani 1993, Section 16.4 for the test by interval inversion):
    ``p_value = min(1, 2 min((1 + #{IG* <= 0}) / (B + 1), (1 + #{IG* >= 0}) / (B + 1)))``, which
    is below ``1 - level`` about when the percentile interval excludes 0."""
    cd = cell_days(p, y, mask=mask, day=day, r=r, open_interval=True)
    if not np.any(cd.y):
        raise EspbError("bootstrap_ig_test: no target cell-day, the information gain is undefined")
    key, nb = block_index(cd.day, block_days)
    bs = block_sums(cd, key, nb)
    full = additive_replicates(np.ones((1, nb)), bs)["ig_nats"][0]
    reps = additive_replicates(resample_counts(nb, n_boot, seed), bs)["ig_nats"]
    reps = reps[np.isfinite(reps)]
    b = reps.size
    pv = min(1.0, 2 * min((1 + np.sum(reps <= 0)) / (b + 1), (1 + np.sum(reps >= 0)) / (b + 1)))
    return BootstrapTest(percentile(full, reps, level), float(pv), block_days)
