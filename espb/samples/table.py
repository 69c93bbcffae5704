"""The sample table: every EQ sample and every nEQ draw, by time segment (paper Sections 2.2, 3.3).

The timeline of forecast days, from the first usable day (``lookback``), is cut into segments of
``l_me`` days. Each segment contributes all its EQ samples and as many nEQ samples drawn, seeded,
from its own nEQ pool. A segment's samples serve first as its validation set and then as training
data, so each draw is made once and reused. The draw of a segment depends only on the seed, the
segment's first day and its own candidates: nothing in it depends on later segments.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from espb.samples.config import SampleConfig
from espb.samples.labels import (
    Grid,
    NeqPool,
    block_mean_counts,
    eq_samples,
    exclusion_mask,
    neq_pool,
)

COLUMNS = [
    "sid",
    "segment",
    "target",
    "row",
    "col",
    "label",
    "mw",
    "event_id",
    "mean_count",
    "available",
]


def segment_bounds(first: int, n_days: int, l_me: int) -> np.ndarray:
    """``(n, 2)`` array of ``[lo, hi)`` forecast-day ranges: ``l_me`` days each from ``first``,
    the last one shorter if the days run out (paper Section 3.3)."""
    if l_me < 1:
        raise ValueError(f"l_me must be >= 1 day, not {l_me}")
    lo = np.arange(first, n_days, l_me, dtype=np.int64)
    return (
        np.stack([lo, np.minimum(lo + l_me, n_days)], axis=1)
        if len(lo)
        else np.zeros((0, 2), np.int64)
    )


@dataclass
class Samples:
    """Everything the training loop needs about samples, for one cube and one sample config."""

    grid: Grid
    cfg: SampleConfig
    eq: pd.DataFrame
    pool: NeqPool
    mean_counts: np.ndarray
    excluded: np.ndarray

    @classmethod
    def build(cls, events: pd.DataFrame, ds, cfg: SampleConfig) -> Samples:
        """Label a cube (an xarray Dataset with ``n_events``) against its catalog."""
        grid = Grid.from_cube(ds)
        eq = eq_samples(events, grid, cfg)
        excluded = exclusion_mask(events, grid, cfg)
        mean_counts = block_mean_counts(np.asarray(ds["n_events"].values), cfg)
        pool = neq_pool(excluded, mean_counts, cfg)
        if len(eq):
            eq["mean_count"] = mean_counts[eq["target"], eq["row"], eq["col"]]
        else:
            eq["mean_count"] = np.zeros(0, np.float32)
        return cls(grid, cfg, eq, pool, mean_counts, excluded)

    def table(self, l_me: int, seed: int) -> pd.DataFrame:
        """One row per sample of every segment: EQ first, then the segment's nEQ draw.

        ``available`` is the first day whose end makes the label known: the forecast day for
        EQ; for nEQ the end of the exclusion window (``target + exclusion_after``) when
        ``label_delay``, else the forecast day."""
        bounds = segment_bounds(self.cfg.lookback, self.grid.n_days, l_me)
        eq_seg = np.searchsorted(bounds[:, 1], self.eq["target"].to_numpy(), side="right")
        parts = []
        delay = self.cfg.exclusion_after if self.cfg.label_delay else 0
        for s, (lo, hi) in enumerate(bounds):
            e = self.eq[eq_seg == s]
            n = len(e)
            parts.append(
                pd.DataFrame(
                    {
                        "segment": s,
                        "target": e["target"].to_numpy(),
                        "row": e["row"].to_numpy(),
                        "col": e["col"].to_numpy(),
                        "label": 1,
                        "mw": e["mw"].to_numpy(),
                        "event_id": e["event_id"].astype(str).to_numpy(),
                        "mean_count": e["mean_count"].to_numpy(),
                        "available": e["target"].to_numpy(),
                    }
                )
            )
            if n == 0:
                continue
            rng = np.random.default_rng([seed, int(lo), 0x6E4551])  # per segment: (seed, first day)
            flat = self.pool.draw(int(lo), int(hi), n, rng)
            t, r, c = self.pool.unravel(flat)
            parts.append(
                pd.DataFrame(
                    {
                        "segment": s,
                        "target": t,
                        "row": r,
                        "col": c,
                        "label": 0,
                        "mw": np.nan,
                        "event_id": "",
                        "mean_count": self.mean_counts[t, r, c],
                        "available": t + delay,
                    }
                )
            )
        if parts:
            df = pd.concat(parts, ignore_index=True)
        else:
            df = pd.DataFrame({k: [] for k in COLUMNS if k != "sid"})
        df = df.astype(
            {
                "segment": np.int64,
                "target": np.int64,
                "row": np.int64,
                "col": np.int64,
                "label": np.int64,
                "available": np.int64,
                "mw": float,
                "mean_count": np.float32,
            }
        )
        df.insert(0, "sid", np.arange(len(df), dtype=np.int64))
        df.attrs["bounds"] = bounds
        return df

    def summary(self) -> dict:
        d = dict(self.eq.attrs.get("dropped", {}))
        return {
            "n_eq": int(len(self.eq)),
            "n_eq_candidates": int(self.eq.attrs.get("n_candidates", 0)),
            **{f"eq_dropped_{k}": v for k, v in d.items()},
            "n_neq_pool": int(len(self.pool)),
        }
