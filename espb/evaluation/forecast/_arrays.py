"""Input checks and memory-light iteration shared by the forecast scores.

Every score takes plain arrays: ``p`` (forecast probabilities), ``y`` (0/1 targets) of the same
shape, optionally a boolean ``mask`` of that shape selecting the eligible cell-days (a
``(T, H, W)`` cube with :meth:`espb.forecast.targets.Eligible.mask`, or any flat vector), and
optionally a ``day`` index per cell-day. Arrays are raveled (a view when contiguous) and walked
in chunks so that 1e8 cell-days never need a float64 temporary of their full size.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from espb.errors import EspbError

#: cell-days per chunk of the streaming loops (~ 32 MB of float64 temporaries)
CHUNK = 1 << 22


@dataclass(frozen=True)
class CellDays:
    """Flat, checked cell-days: ``p`` (float32/float64 as given), ``y`` (bool), ``day`` (int64
    or None), ``r`` (a reference forecast or None), ``w`` (weights or None)."""

    p: np.ndarray
    y: np.ndarray
    day: np.ndarray | None = None
    r: np.ndarray | None = None
    w: np.ndarray | None = None

    @property
    def n(self) -> int:
        return int(self.p.size)


def _flat(a: np.ndarray, name: str, shape: tuple[int, ...], mask: np.ndarray | None) -> np.ndarray:
    a = np.asarray(a)
    if a.shape != shape:
        raise EspbError(
            f"forecast scores: '{name}' has shape {a.shape} but 'p' has shape {shape}; "
            f"pass arrays of the same cell-days (same shape, same order)"
        )
    return a[mask] if mask is not None else a.ravel()


def _check_prob(a: np.ndarray, name: str, open_interval: bool) -> np.ndarray:
    if a.dtype.kind != "f":
        a = a.astype(np.float64)
    bad = 0
    for s in chunks(a.size):
        c = a[s]
        ok = (c > 0) & (c < 1) if open_interval else (c >= 0) & (c <= 1)
        bad += int(c.size - np.count_nonzero(ok))
    if bad:
        rng = "(0, 1)" if open_interval else "[0, 1]"
        raise EspbError(
            f"forecast scores: '{name}' has {bad} value(s) outside {rng} (or NaN); a probability "
            f"forecast must lie in {rng} on every scored cell-day (clip it, e.g. to [1e-12, 1-1e-12], "
            f"or mask those cell-days out)"
        )
    return a


def _check_targets(y: np.ndarray) -> np.ndarray:
    if y.dtype == bool:
        return y
    ok = (y == 0) | (y == 1)
    if not np.all(ok):
        raise EspbError(
            f"forecast scores: 'y' has {int(y.size - np.count_nonzero(ok))} value(s) other than "
            f"0 and 1; targets are 0/1 per cell-day (a count becomes y = count > 0)"
        )
    return y.astype(bool)


def cell_days(
    p: np.ndarray,
    y: np.ndarray,
    *,
    mask: np.ndarray | None = None,
    day: np.ndarray | None = None,
    r: np.ndarray | None = None,
    w: np.ndarray | None = None,
    open_interval: bool = False,
) -> CellDays:
    """Check and flatten the inputs of a score. ``open_interval``: the score takes logarithms, so
    ``p`` (and ``r``) must lie in (0, 1), not only in [0, 1]. Raises :class:`EspbError` naming the
    argument on a shape mismatch, a probability out of range or NaN, a target not 0/1, a
    negative weight or an empty selection."""
    p = np.asarray(p)
    shape = p.shape
    if mask is not None:
        mask = np.asarray(mask, dtype=bool)
        if mask.shape != shape:
            raise EspbError(
                f"forecast scores: 'mask' has shape {mask.shape} but 'p' has shape {shape}"
            )
    pf = _check_prob(_flat(p, "p", shape, mask), "p", open_interval)
    if pf.size == 0:
        raise EspbError("forecast scores: no cell-days selected (empty 'p' or all-False 'mask')")
    yf = _check_targets(_flat(y, "y", shape, mask))
    df = None
    if day is not None:
        df = _flat(day, "day", shape, mask).astype(np.int64, copy=False)
    rf = None
    if r is not None:
        rf = _check_prob(_flat(r, "r", shape, mask), "r", open_interval)
    wf = None
    if w is not None:
        wf = _flat(w, "w", shape, mask).astype(np.float64, copy=False)
        if not np.all(np.isfinite(wf)) or np.any(wf < 0) or not wf.sum() > 0:
            raise EspbError(
                "forecast scores: weights 'w' must be finite, >= 0 and not all 0 (a reference "
                "rate per cell-day, e.g. the spatial base rate)"
            )
    return CellDays(pf, yf, df, rf, wf)


def chunks(n: int, size: int | None = None) -> Iterator[slice]:
    """Slices covering ``range(n)`` in pieces of ``size`` (default :data:`CHUNK`, read at
    call time so a test can shrink it)."""
    size = size or CHUNK
    for lo in range(0, n, size):
        yield slice(lo, min(lo + size, n))


def need_targets(y: np.ndarray, what: str, negatives: bool = False) -> int:
    """Number of targets; raises when a score is undefined without them (or without
    non-targets, for ``negatives=True``)."""
    n1 = int(np.count_nonzero(y))
    if n1 == 0:
        raise EspbError(
            f"{what}: no target cell-day (y = 1) in the scored period, the score is undefined; "
            "score a longer period or a lower target magnitude"
        )
    if negatives and n1 == y.size:
        raise EspbError(f"{what}: every cell-day is a target, the score is undefined")
    return n1
