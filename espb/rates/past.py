"""The one place where a feature looks back in time.

Every feature of period t in :mod:`espb.rates.features` and :mod:`espb.rates.bfeatures` is a
function of :func:`windows` of per-period aggregates, which hold periods t - w .. t - 1 only:
nothing of period t itself or later (espb's no-future rule; tests/rates/test_leakage.py checks
it by perturbing later periods, and shows that a leaky variant of this function is caught).
"""

from __future__ import annotations

import numpy as np


def windows(a: np.ndarray, w: int, fill: float) -> np.ndarray:
    """(T, ...) -> (T, ..., w): entry [t, ..., j] is a[t - w + j], j = 0 .. w - 1 (the w periods
    before t, oldest first); before the first period it is ``fill``. A read-only view."""
    a = np.asarray(a)
    pad = np.concatenate([np.full((w, *a.shape[1:]), fill, dtype=np.result_type(a, fill)), a])
    return np.lib.stride_tricks.sliding_window_view(pad, w, axis=0)[: a.shape[0]]
