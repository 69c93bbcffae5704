"""Likelihood, Brier and reliability scores of a probability forecast over cell-days.

A forecast gives each eligible cell-day a probability ``p`` that a target event (``y = 1``)
occurs in the cell on the day. All functions take plain arrays of any shape (raveled, or
selected by ``mask``) so they score the dense model cube and every baseline alike.
Sources: Kagan (2009), "Testing long-term earthquake forecasts: likelihood methods and error
diagrams", GJI 177 (log-likelihood, information gain, probability gain); Brier (1950), Monthly
Weather Review 78 (Brier score); Wilks (2011), "Statistical Methods in the Atmospheric Sciences",
3rd ed., Section 8.4 (skill score, reliability diagram); Wilson (1927), JASA 22 (interval).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd
from scipy import stats

from espb.errors import EspbError
from espb.evaluation.forecast._arrays import cell_days, chunks, need_targets


def ll_terms(p: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Per-cell-day Bernoulli log-likelihood ``y log p + (1 - y) log(1 - p)`` (float64)."""
    p64 = p.astype(np.float64, copy=False)
    return np.where(y, np.log(p64), np.log1p(-p64))


def brier_terms(p: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Per-cell-day squared error ``(p - y)^2`` (float64)."""
    return np.square(p.astype(np.float64, copy=False) - y)


def _sum(fn, p: np.ndarray, y: np.ndarray) -> float:
    return float(sum(fn(p[s], y[s]).sum() for s in chunks(p.size)))


def bernoulli_log_likelihood(
    p: np.ndarray, y: np.ndarray, *, mask: np.ndarray | None = None
) -> float:
    """Joint Bernoulli log-likelihood ``LL = sum [y log p + (1 - y) log(1 - p)]`` (nats) of the
    targets ``y`` under the forecast ``p`` in (0, 1), cell-days taken as independent (Kagan 2009,
    Section 2; pyCSEP's ``binary_joint_log_likelihood_ndarray`` with ``p = 1 - exp(-lambda)``)."""
    cd = cell_days(p, y, mask=mask, open_interval=True)
    return _sum(ll_terms, cd.p, cd.y)


@dataclass(frozen=True)
class InformationGain:
    """Information gain of a forecast over a reference, per target earthquake (Kagan 2009, eq. 6
    in the Bernoulli form): ``nats = (LL - LL_ref) / N``, ``bits = nats / ln 2`` and the
    probability gain per earthquake ``G = exp(nats)``."""

    nats: float
    bits: float
    probability_gain: float
    ll: float
    ll_ref: float
    n_targets: int


def information_gain(
    p: np.ndarray, r: np.ndarray, y: np.ndarray, *, mask: np.ndarray | None = None
) -> InformationGain:
    """Information gain per target earthquake of ``p`` over the reference ``r`` on the same
    cell-days: ``IG = (LL_p - LL_r) / N_target`` with ``N_target = sum y`` (Kagan 2009, GJI 177,
    Section 2 and eq. 6; forecast_evaluation_notes.md). Positive when ``p`` is better."""
    cd = cell_days(p, y, mask=mask, r=r, open_interval=True)
    n1 = need_targets(cd.y, "information gain")
    ll = _sum(ll_terms, cd.p, cd.y)
    ll_ref = _sum(ll_terms, cd.r, cd.y)
    ig = (ll - ll_ref) / n1
    return InformationGain(ig, ig / math.log(2.0), math.exp(ig), ll, ll_ref, n1)


def brier_score(p: np.ndarray, y: np.ndarray, *, mask: np.ndarray | None = None) -> float:
    """Brier score ``BS = mean (p - y)^2`` over cell-days (Brier 1950; Wilks 2011, eq. 8.36;
    pyCSEP's ``brier_score_test`` reports ``-2 BS``). Lower is better, 0 is perfect."""
    cd = cell_days(p, y, mask=mask)
    return _sum(brier_terms, cd.p, cd.y) / cd.n


@dataclass(frozen=True)
class BrierSkill:
    """Brier score ``bs`` of a forecast, ``bs_ref`` of the reference and the Brier skill score
    ``bss = 1 - bs / bs_ref`` (Wilks 2011, eq. 8.4 with eq. 8.36)."""

    bs: float
    bs_ref: float
    bss: float


def brier_skill_score(
    p: np.ndarray, r: np.ndarray, y: np.ndarray, *, mask: np.ndarray | None = None
) -> BrierSkill:
    """Brier skill score of ``p`` against the reference ``r``: ``BSS = 1 - BS_p / BS_r``
    (Wilks 2011, Section 8.4.2); > 0 when ``p`` beats the reference, 1 for a perfect forecast."""
    cd = cell_days(p, y, mask=mask, r=r)
    bs = _sum(brier_terms, cd.p, cd.y) / cd.n
    bs_ref = _sum(brier_terms, cd.r, cd.y) / cd.n
    if bs_ref == 0:
        raise EspbError("Brier skill score: the reference is perfect (BS_ref = 0), BSS undefined")
    return BrierSkill(bs, bs_ref, 1.0 - bs / bs_ref)


BinStrategy = Literal["uniform", "quantile", "log"]


def _edges(p: np.ndarray, n_bins: int, strategy: BinStrategy) -> np.ndarray:
    if strategy == "uniform":
        return np.linspace(0.0, 1.0, n_bins + 1)
    if strategy == "quantile":
        e = np.unique(np.quantile(p, np.linspace(0.0, 1.0, n_bins + 1)))
        if e.size < 2:
            e = np.array([p.min(), p.max()], dtype=float)
        e[0], e[-1] = 0.0, 1.0
        return e
    if strategy == "log":
        lo = float(p[p > 0].min()) if np.any(p > 0) else 1e-12
        hi = float(p.max())
        e = np.geomspace(lo, max(hi, lo * (1 + 1e-9)), n_bins + 1)
        e[0], e[-1] = 0.0, 1.0
        return e
    raise EspbError(
        f"reliability: unknown bin strategy {strategy!r}; use 'uniform', 'quantile' or 'log'"
    )


def reliability(
    p: np.ndarray,
    y: np.ndarray,
    *,
    n_bins: int = 10,
    strategy: BinStrategy = "uniform",
    mask: np.ndarray | None = None,
    level: float = 0.95,
) -> pd.DataFrame:
    """Reliability-diagram data (Wilks 2011, Section 8.4.4): cell-days binned by forecast
    probability, per bin ``lo, hi`` (bin edges, ``[lo, hi)``, the last closed), ``count``,
    ``n_targets``, ``mean_p`` (mean forecast) and ``freq`` (observed frequency, NaN in an empty
    bin) with its Wilson score interval ``freq_lo, freq_hi`` at ``level`` (Wilson 1927).
    ``strategy``: ``uniform`` equal-width bins on [0, 1], ``quantile`` bins of equal count (tied
    quantiles merged), ``log`` log-spaced bins from the smallest positive to the largest
    forecast (for small daily probabilities). A calibrated forecast has ``freq ~ mean_p``."""
    cd = cell_days(p, y, mask=mask)
    if n_bins < 1:
        raise EspbError(f"reliability: n_bins must be >= 1 (got {n_bins})")
    edges = _edges(cd.p, n_bins, strategy)
    nb = edges.size - 1
    cnt = np.zeros(nb)
    hit = np.zeros(nb)
    sp = np.zeros(nb)
    for s in chunks(cd.n):
        b = np.clip(np.searchsorted(edges, cd.p[s], side="right") - 1, 0, nb - 1)
        cnt += np.bincount(b, minlength=nb)
        hit += np.bincount(b, weights=cd.y[s], minlength=nb)
        sp += np.bincount(b, weights=cd.p[s], minlength=nb)
    with np.errstate(invalid="ignore", divide="ignore"):
        freq = hit / cnt
        mean_p = sp / cnt
        z = stats.norm.ppf(0.5 + level / 2)
        den = 1 + z**2 / cnt
        mid = (freq + z**2 / (2 * cnt)) / den
        half = z * np.sqrt(freq * (1 - freq) / cnt + z**2 / (4 * cnt**2)) / den
    df = pd.DataFrame(
        {
            "lo": edges[:-1],
            "hi": edges[1:],
            "count": cnt.astype(np.int64),
            "n_targets": hit.astype(np.int64),
            "mean_p": mean_p,
            "freq": freq,
            "freq_lo": mid - half,
            "freq_hi": mid + half,
        }
    )
    df.attrs["strategy"] = strategy
    return df


def ig_over_time(
    p: np.ndarray,
    r: np.ndarray,
    y: np.ndarray,
    day: np.ndarray,
    *,
    mask: np.ndarray | None = None,
) -> pd.DataFrame:
    """Information gain of ``p`` over ``r`` accumulated day by day (Kagan 2009's IG per target
    earthquake, as a running value): per day ``n_targets`` and ``ll_diff = LL_p - LL_r`` (nats),
    and up to and including that day ``cum_ll_diff``, ``cum_targets`` and ``cum_ig =
    cum_ll_diff / cum_targets`` (NaN before the first target). Row ``d`` uses only cell-days of
    days ``<= d``. Days without any cell-day are absent."""
    cd = cell_days(p, y, mask=mask, day=day, r=r, open_interval=True)
    d0 = int(cd.day.min())
    nd = int(cd.day.max()) - d0 + 1
    diff = np.zeros(nd)
    n1 = np.zeros(nd)
    cnt = np.zeros(nd)
    for s in chunks(cd.n):
        k = cd.day[s] - d0
        y_ = cd.y[s]
        diff += np.bincount(k, weights=ll_terms(cd.p[s], y_) - ll_terms(cd.r[s], y_), minlength=nd)
        n1 += np.bincount(k, weights=y_.astype(np.float64), minlength=nd)
        cnt += np.bincount(k, minlength=nd)
    keep = cnt > 0
    cum_diff, cum_n1 = np.cumsum(diff), np.cumsum(n1)
    with np.errstate(invalid="ignore", divide="ignore"):
        cum_ig = np.where(cum_n1 > 0, cum_diff / cum_n1, np.nan)
    return pd.DataFrame(
        {
            "day": np.arange(d0, d0 + nd)[keep],
            "n_targets": n1[keep].astype(np.int64),
            "ll_diff": diff[keep],
            "cum_ll_diff": cum_diff[keep],
            "cum_targets": cum_n1[keep].astype(np.int64),
            "cum_ig": cum_ig[keep],
        }
    )
