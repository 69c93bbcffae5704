"""Catalog quality checks: placeholder magnitudes and the completeness magnitude.

**Placeholders.** Some catalogs write a fixed value where no magnitude was measured (tens of
thousands of events at exactly M 0.00, or at 9.9). Such a spike in the frequency-magnitude
distribution gives a nonsense Mc and b. :func:`find_placeholders` flags, per magnitude type,
an exact source value held by at least ``min_count`` events and ``min_share`` of that type,
that makes up most of its magnitude bin and outnumbers the two bins on either side by
``ratio`` (default 5) on average. The bins are 0.1 wide, or the type's own grid when its values
are coarser (0.2, 0.25, 0.5 or 1.0 steps), so that a coarse catalog is not all spikes. A
Gutenberg-Richter distribution changes by a factor ~10^0.1 ~ 1.26 per 0.1 bin and the peak
at Mc by less than 2, far from 5. ``espb catalog info`` reports them; the ingest can drop
them (``--drop-placeholders``, or exact values with ``--drop-mag``), counted.

**Completeness.** :func:`estimate_mc` calls seismostats' b-value-stability method
(``seismostats.analysis.estimate_mc_b_stability``; Cao & Gao 2002, GRL 29(9); Woessner &
Wiemer 2005, BSSA 95(2)): the smallest Mc whose classic (Aki-Utsu) b is within one standard
error of the mean b over the next 0.5 magnitude units, on Mw binned to 0.1.
"""

from __future__ import annotations

import contextlib
import io
import warnings
from dataclasses import dataclass

import numpy as np
import pandas as pd

MC_METHOD = (
    "b-value stability (Cao & Gao 2002; Woessner & Wiemer 2005), "
    "seismostats.analysis.estimate_mc_b_stability, Mw binned to 0.1, stability range 0.5"
)
_GRIDS = (1.0, 0.5, 0.25, 0.2)


@dataclass(frozen=True)
class Spike:
    """A suspected placeholder: one exact magnitude value far above its neighbours."""

    mag_type: str
    value: float
    count: int
    share: float  # of the events of this type
    ratio: float  # count / mean count of the two bins on either side

    def describe(self) -> str:
        return (
            f"{self.mag_type or '(no type)'} = {self.value:g}: {self.count:,} events "
            f"({100 * self.share:.1f} % of that type), {self.ratio:.0f}x the neighbouring bins"
        )


def _grid(v: np.ndarray) -> float:
    for g in _GRIDS:
        k = v / g
        if np.mean(np.abs(k - np.round(k)) < 1e-6) >= 0.95:
            return g
    return 0.1


def find_placeholders(
    mag: np.ndarray,
    mag_type: np.ndarray,
    *,
    min_count: int = 20,
    min_share: float = 0.01,
    ratio: float = 5.0,
) -> list[Spike]:
    """Suspected placeholder magnitudes, per type (see the module docstring)."""
    mag = np.asarray(mag, dtype=float)
    types = np.asarray(mag_type, dtype=object).astype(str)
    out: list[Spike] = []
    codes, uniq = pd.factorize(types)
    for c, t in enumerate(uniq):
        v = mag[(codes == c) & np.isfinite(mag)]
        if v.size < min_count:
            continue
        vals, counts = np.unique(v, return_counts=True)
        cand = np.flatnonzero((counts >= min_count) & (counts >= min_share * v.size))
        if not cand.size:
            continue
        w = _grid(v)
        kb = np.floor(v / w + 0.5 + 1e-9).astype(np.int64)
        kk, kc = np.unique(kb, return_counts=True)
        hist = dict(zip(kk.tolist(), kc.tolist(), strict=True))
        for i in cand:
            b = int(np.floor(vals[i] / w + 0.5 + 1e-9))
            if counts[i] < 0.5 * hist.get(b, 0):
                continue  # not one value: a populated bin
            nb = np.mean([hist.get(b + d, 0) for d in (-2, -1, 1, 2)])
            r = counts[i] / max(nb, 1.0)
            if r >= ratio:
                out.append(Spike(str(t), float(vals[i]), int(counts[i]), counts[i] / v.size, r))
    return out


def spike_mask(mag: np.ndarray, mag_type: np.ndarray, spikes: list[Spike]) -> np.ndarray:
    """True for the magnitudes that are one of ``spikes`` (same type, exact value)."""
    mag = np.asarray(mag, dtype=float)
    types = np.asarray(mag_type, dtype=object).astype(str)
    hit = np.zeros(mag.shape, dtype=bool)
    for s in spikes:
        hit |= (types == s.mag_type) & (mag == s.value)
    return hit


@dataclass(frozen=True)
class McEstimate:
    """Completeness magnitude from seismostats, with the method and what went wrong, if any."""

    mc: float | None
    b: float | None
    method: str
    problem: str = ""


def estimate_mc(mw: np.ndarray, delta: float = 0.1) -> McEstimate:
    """Mc by b-value stability (seismostats), on ``mw`` binned to ``delta``.

    seismostats prints its intermediate values and warns on small samples; both are captured
    here (the reason it found no Mc goes to ``problem``).
    """
    from seismostats.analysis import estimate_mc_b_stability

    m = np.asarray(mw, dtype=float)
    m = m[np.isfinite(m)]
    if m.size < 50:
        return McEstimate(None, None, MC_METHOD, f"too few events ({m.size}; needs 50)")
    m = np.round(np.round(m / delta) * delta, 10)
    buf = io.StringIO()
    try:
        with contextlib.redirect_stdout(buf), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            mc, info = estimate_mc_b_stability(m, delta_m=delta)
    except ValueError as exc:  # e.g. magnitude range narrower than the stability range
        return McEstimate(None, None, MC_METHOD, str(exc))
    if mc is None:
        return McEstimate(None, None, MC_METHOD, "no magnitude passed the stability test")
    b = info.get("best_b_value")
    return McEstimate(float(mc), float(b) if b is not None else None, MC_METHOD)


__all__ = ["MC_METHOD", "McEstimate", "Spike", "estimate_mc", "find_placeholders", "spike_mask"]
