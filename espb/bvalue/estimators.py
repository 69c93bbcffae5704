"""b-value estimators of paper Section 2.1, as pure functions on one cylinder's magnitudes.

These are the *definitions*: the brute-force reference (:mod:`espb.bvalue.reference`) applies
them cylinder by cylinder, and the fast cube kernel (:mod:`espb.bvalue.kernels`) must agree
with them exactly (tests/bvalue). The paper's rules (Section 2.1):

- fewer than two events, or no usable magnitude differences, or all magnitudes equal: b = 0;
- an infinite value (mean excess over the threshold <= 0) becomes ``b_max``;
- every value is clipped to [0, ``b_max``] (paper: [0, 2]).

Modes:

- ``paper``: b-positive (van der Elst 2021): the differences m_i - m_{i-1} between consecutive
  events, only positive ones >= ``threshold``; then Aki's estimator, paper Eq. 5
  (beta = 1 / (mean(d) - M0), M0 = ``threshold``) and Eq. 6 (b = log10(e) * beta). Continuous
  magnitudes; with the default threshold 0 this is the formula exactly as printed.
- ``binned``: the same differences, kept if >= ``threshold - delta_m / 2`` (magnitudes binned at
  ``delta_m``; default threshold ``delta_m``), and the discretisation-corrected estimator of
  Tinti & Mulargia (1987), beta = ln(1 + delta_m / (mean(d) - threshold)) / delta_m, as used by
  van der Elst (2021, appendix) and seismostats' ``BPositiveBValueEstimator``.
- ``classic``: Aki-Utsu on the raw magnitudes >= Mc (``threshold``; >= Mc - delta_m/2 when
  binned), no b-positive: Eq. 5 with M0 = Mc (``delta_m`` = 0), or Tinti & Mulargia (> 0).
"""

from __future__ import annotations

import math

import numpy as np

#: Two magnitudes closer than this are equal; a difference must exceed it to be positive.
EPS_MAG = 1e-9
#: A mean excess over the threshold at or below this is treated as 0 (b infinite -> b_max).
EPS_DEN = 1e-9
LOG10_E = math.log10(math.e)

MODE_CODES = {"paper": 0, "binned": 1, "classic": 2}


def selection_slack(delta_m: float) -> float:
    """Tolerance of the ``>= threshold`` test: delta_m/2 for binned magnitudes, else EPS_MAG."""
    return delta_m / 2.0 if delta_m > 0 else EPS_MAG


def b_from_mean_excess(xbar: float, delta_m: float, b_max: float = 2.0) -> float:
    """b from the mean excess ``xbar`` of the used values over the threshold M0.

    Paper Eq. 5 (beta = 1 / xbar) and Eq. 6 (b = log10(e) * beta) for ``delta_m`` = 0; the
    Tinti & Mulargia (1987) binned form beta = ln(1 + delta_m / xbar) / delta_m otherwise.
    ``xbar <= EPS_DEN`` means an infinite b, which is clipped to ``b_max`` (paper Section 2.1).
    """
    if not xbar > EPS_DEN:
        return float(b_max)
    beta = math.log(1.0 + delta_m / xbar) / delta_m if delta_m > 0 else 1.0 / xbar
    b = beta * LOG10_E
    if not math.isfinite(b) or b > b_max:
        return float(b_max)
    return max(b, 0.0)


def positive_differences(mags: np.ndarray, threshold: float, delta_m: float) -> np.ndarray:
    """b-positive's usable differences (van der Elst 2021): d_i = m_i - m_{i-1} for events in
    time order, kept when d_i > 0 and d_i >= threshold (less half a bin when binned)."""
    d = np.diff(np.asarray(mags, dtype="float64"))
    keep = (d > EPS_MAG) & (d >= threshold - selection_slack(delta_m))
    return d[keep]


def estimate_b(
    mags: np.ndarray, mode: str, threshold: float, delta_m: float, b_max: float = 2.0
) -> tuple[float, int]:
    """b of one cylinder and the number of values used, with the paper's rules (Section 2.1).

    ``mags`` are the cylinder's magnitudes in time order. ``delta_m`` is ignored in ``paper``
    mode (continuous magnitudes). Returns ``(b, n_used)``: n_used counts differences
    (b-positive modes) or magnitudes >= Mc (``classic``).
    """
    mags = np.asarray(mags, dtype="float64")
    if mode == "paper":
        delta_m = 0.0
    if mode in ("paper", "binned"):
        if len(mags) < 2:
            return 0.0, 0
        d = positive_differences(mags, threshold, delta_m)
        if len(d) == 0:  # also the case when all magnitudes are equal
            return 0.0, 0
        return b_from_mean_excess(float(np.mean(d)) - threshold, delta_m, b_max), int(len(d))
    if mode == "classic":
        used = mags[mags >= threshold - selection_slack(delta_m)]
        n = int(len(used))
        if n < 2 or not np.any(np.abs(np.diff(used)) > EPS_MAG):
            return 0.0, n
        return b_from_mean_excess(float(np.mean(used)) - threshold, delta_m, b_max), n
    raise ValueError(f"unknown estimator mode {mode!r}; use paper, binned or classic")
