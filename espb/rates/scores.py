"""Scores of count forecasts: Poisson deviance, NLL, discrete CRPS, randomised PIT, tail strata
(EarthquakeNet, arXiv 2605.21437, Section 4; Czado, Gneiting & Held 2009, Biometrics 65,
"Predictive model assessment for count data").

Every forecast is NB2(mu, alpha) (:mod:`espb.rates.nb`); a Poisson forecast is alpha = 0.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from espb.errors import EspbError
from espb.rates.nb import nb2_cdf, nb2_logpmf, nb2_ppf, poisson_deviance

#: the CRPS sum runs to the (1 - CRPS_TAIL) quantile or the observation, whichever is larger;
#: the omitted terms sum to less than E[(Y - K)^+] <= CRPS_TAIL * E[Y | Y > K] (tested against a
#: brute-force sum)
CRPS_TAIL = 1e-12
#: grid points per chunk of the CRPS sum (memory ~ 8 bytes x 3 x this)
CRPS_CHUNK = 4_000_000
#: largest truncation point; a forecast that needs more is reported, not silently cut
CRPS_K_MAX = 20_000_000


def crps_nb2(y: np.ndarray, mu: np.ndarray, alpha: np.ndarray) -> np.ndarray:
    """Discrete CRPS of NB2(mu, alpha) forecasts for counts ``y``:
    CRPS(F, y) = sum_{k >= 0} (F(k) - 1{y <= k})^2 (Czado et al. 2009, Section 3.2).

    The sum is truncated per row at K = max(y, F^-1(1 - CRPS_TAIL)) + 1 and evaluated on a
    (rows x K) grid of :func:`~espb.rates.nb.nb2_logpmf`, rows grouped by K (vectorised).
    """
    y, mu, alpha = np.broadcast_arrays(
        np.asarray(y, "float64"), np.asarray(mu, "float64"), np.asarray(alpha, "float64")
    )
    y, mu, alpha = y.ravel(), mu.ravel(), alpha.ravel()
    if y.size == 0:
        return np.zeros(0)
    upper = nb2_ppf(1.0 - CRPS_TAIL, mu, alpha)
    k_row = (np.maximum(y, np.nan_to_num(upper, posinf=CRPS_K_MAX)) + 2).astype(np.int64)
    if k_row.max() > CRPS_K_MAX:
        i = int(np.argmax(k_row))
        raise EspbError(
            f"CRPS: the forecast mu={mu[i]:g}, alpha={alpha[i]:g} needs {k_row[i]:,} terms "
            f"(more than {CRPS_K_MAX:,}); its dispersion is implausible"
        )
    order = np.argsort(k_row, kind="stable")
    out = np.empty(y.size)
    i, n = 0, y.size
    while i < n:
        j = min(n, i + max(1, CRPS_CHUNK // int(k_row[order[i]])))
        while j - i > 1 and (j - i) * int(k_row[order[j - 1]]) > CRPS_CHUNK:
            j = i + max(1, (j - i) // 2)
        rows = order[i:j]
        kk = np.arange(int(k_row[rows].max()))
        cdf = np.cumsum(np.exp(nb2_logpmf(kk[None, :], mu[rows, None], alpha[rows, None])), axis=1)
        step = (kk[None, :] >= y[rows, None]).astype("float64")
        out[rows] = np.sum((np.minimum(cdf, 1.0) - step) ** 2, axis=1)
        i = j
    return out


def randomised_pit(
    y: np.ndarray, mu: np.ndarray, alpha: np.ndarray, rng: np.random.Generator
) -> np.ndarray:
    """u = F(y - 1) + v [F(y) - F(y - 1)], v ~ U(0, 1): uniform for a calibrated forecast
    (Czado et al. 2009, Section 2.1; Brockwell 2007)."""
    lo = nb2_cdf(np.asarray(y) - 1, mu, alpha)
    hi = nb2_cdf(y, mu, alpha)
    return lo + rng.uniform(size=np.shape(lo)) * (hi - lo)


@dataclass
class PitHistogram:
    """Bin edges on [0, 1] and the share of forecasts per bin (1 / n_bins each if calibrated)."""

    edges: np.ndarray
    density: np.ndarray
    n: int

    @property
    def max_deviation(self) -> float:
        """Largest |density x n_bins - 1| over the bins (0 for a flat histogram)."""
        return float(np.max(np.abs(self.density * len(self.density) - 1.0)))


def pit_histogram(u: np.ndarray, n_bins: int) -> PitHistogram:
    counts, edges = np.histogram(u, bins=n_bins, range=(0.0, 1.0))
    return PitHistogram(edges, counts / max(len(u), 1), int(len(u)))


def scores(y: np.ndarray, mu: np.ndarray, alpha: np.ndarray) -> pd.DataFrame:
    """Per-row scores: ``deviance`` (Poisson deviance of mu), ``nll`` (under the model's own
    NB2 / Poisson distribution), ``crps``."""
    return pd.DataFrame(
        {
            "deviance": poisson_deviance(y, mu),
            "nll": -nb2_logpmf(y, mu, alpha),
            "crps": crps_nb2(y, mu, alpha),
        }
    )


def summarise(y: np.ndarray, per_row: pd.DataFrame, tail_min: list[int]) -> dict[str, float]:
    """Means over all rows and within each tail stratum (rows with y >= t): ``deviance``,
    ``nll``, ``crps``, ``n``; tail keys are prefixed ``tail{t}/``."""
    y = np.asarray(y)
    out = {k: float(per_row[k].mean()) for k in ("deviance", "nll", "crps")}
    out["n"] = float(len(y))
    for t in tail_min:
        sel = y >= t
        pre = f"tail{t}/"
        out[pre + "n"] = float(sel.sum())
        for k in ("deviance", "nll", "crps"):
            out[pre + k] = float(per_row[k][sel].mean()) if sel.any() else float("nan")
    return out
