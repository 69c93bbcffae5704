"""The progressive meta-epoch schedule of paper Section 3.3, as pure functions.

One meta-epoch = train on everything known before a validation segment, then validate on it.

- Segments of ``l_me`` forecast days follow each other from the first usable day
  (:func:`espb.samples.table.segment_bounds`).
- Training starts once ``warmup`` segments (paper: 6) are available: the first validation
  segment is segment ``warmup`` (or the first later one with an EQ sample before it: a
  training set without any EQ teaches nothing).
- A segment without EQ samples is not a validation window; it is folded into the next training
  set (its nEQ draw is empty, since nEQ are drawn to match the EQ count).
- The training set of a meta-epoch is every sample whose segment lies before the validation
  segment and whose label is known before the validation segment starts (``available < lo``).
- The samples that are new since the previous meta-epoch get weights summing to the summed weight
  of the earlier ones (``weighting``: ``reset`` - earlier samples weigh 1 each, new ones
  ``n_old / n_new``; ``compound`` - earlier samples keep their weights, so each meta-epoch halves
  the weight of all that came before; ``none``). Weights are normalised to mean 1.
- Validation segments after ``dev_end`` belong to the test period (logged apart).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

WEIGHTINGS = ("reset", "compound", "none")


@dataclass(frozen=True)
class MetaEpoch:
    index: int
    segment: int
    lo: int
    hi: int
    phase: str  # "dev" or "test"


def meta_epochs(
    table: pd.DataFrame, bounds: np.ndarray, warmup: int = 6, dev_end: int | None = None
) -> list[MetaEpoch]:
    """The meta-epochs: one per segment from ``warmup`` on that has at least one EQ sample and
    at least one EQ sample before it."""
    n_eq = np.bincount(table.loc[table["label"] == 1, "segment"].to_numpy(), minlength=len(bounds))
    before = np.concatenate([[0], np.cumsum(n_eq)])  # EQ samples in the segments before s
    out: list[MetaEpoch] = []
    for s in range(warmup, len(bounds)):
        if n_eq[s] == 0 or before[s] == 0:  # nothing to validate, or nothing to train on yet
            continue
        lo, hi = (int(v) for v in bounds[s])
        phase = "test" if dev_end is not None and lo > dev_end else "dev"
        out.append(MetaEpoch(len(out), s, lo, hi, phase))
    return out


def training_mask(table: pd.DataFrame, me: MetaEpoch) -> np.ndarray:
    """Rows of ``table`` in the training set of ``me``: segment before the validation segment and
    label known before it starts."""
    return (table["segment"].to_numpy() < me.segment) & (table["available"].to_numpy() < me.lo)


def validation_mask(table: pd.DataFrame, me: MetaEpoch) -> np.ndarray:
    return table["segment"].to_numpy() == me.segment


def sample_weights(
    prev_w: np.ndarray | None, in_prev: np.ndarray, weighting: str = "reset"
) -> np.ndarray:
    """Weights for the current training set.

    ``in_prev``: bool per current sample, True if it was in the previous training set;
    ``prev_w``: for ``compound``, the previous weights of those samples (in order).
    The new samples' weights sum to the earlier samples' summed weight; mean 1 overall."""
    if weighting not in WEIGHTINGS:
        raise ValueError(f"training.weighting={weighting!r}; use one of {list(WEIGHTINGS)}")
    n = len(in_prev)
    w = np.ones(n, dtype=np.float64)
    n_old = int(in_prev.sum())
    n_new = n - n_old
    if weighting != "none" and n_old and n_new:
        if weighting == "compound" and prev_w is not None:
            w[in_prev] = prev_w
        old_sum = w[in_prev].sum()
        w[~in_prev] = old_sum / n_new
    return w * (n / w.sum()) if n else w
