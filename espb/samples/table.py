"""The sample table: every EQ sample and every nEQ draw, by time segment (paper Sections 2.2, 3.3).

The timeline of forecast days, from the first usable day (``lookback``), is cut into segments of
``l_me`` days; with a development end given, a segment also ends at it, so that no segment
straddles the development and the test period (docs/training.md). Each segment contributes all
its EQ samples and as many nEQ samples drawn, seeded, from its own nEQ pool. A segment's samples
serve first as its validation set and then as training data, so each draw is made once and reused.

No future in a training set (the most important invariant): whether a cell-day is an nEQ
candidate depends on events up to ``exclusion_after`` days after it, so candidates in the last
``exclusion_after`` days of a segment are only known once the next segment has begun. The draw
of a segment is therefore made in two parts, each from its own random stream: the *settled* part
among candidates whose exclusion window closes inside the segment (they may train the next
meta-epoch), and the *late* part among the last ``exclusion_after`` days (they enter training
only later, once their labels are known). The count of each part is fixed in advance, in
proportion to the days each covers, so the settled draw is a function of events before the next
segment only. A segment's draw depends only on the seed, its first day and its own candidates.
"""

from __future__ import annotations

import dataclasses
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


def segment_bounds(first: int, n_days: int, l_me: int, cut: int | None = None) -> np.ndarray:
    """``(n, 2)`` array of ``[lo, hi)`` forecast-day ranges: ``l_me`` days each from ``first``,
    the last one shorter if the days run out (paper Section 3.3). With ``cut`` (the first test
    day, ``dev_end + 1``) inside the range, the segment holding it ends there and the test
    period's segments start at ``cut``."""
    if l_me < 1:
        raise ValueError(f"l_me must be >= 1 day, not {l_me}")
    if cut is not None and first < cut < n_days:
        return np.concatenate([segment_bounds(first, cut, l_me), segment_bounds(cut, n_days, l_me)])
    lo = np.arange(first, n_days, l_me, dtype=np.int64)
    return (
        np.stack([lo, np.minimum(lo + l_me, n_days)], axis=1)
        if len(lo)
        else np.zeros((0, 2), np.int64)
    )


def split_draw(n: int, lo: int, hi: int, late_days: int) -> tuple[int, int]:
    """How many of a segment's ``n`` nEQ draws are settled and how many late: in proportion to
    the days each part covers (the settled part ``[lo, hi - late_days)``), rounded; fixed before
    any candidate is seen."""
    days = hi - lo
    late = min(max(late_days, 0), days)
    n_settled = int(round(n * (days - late) / days)) if days else 0
    return n_settled, n - n_settled


@dataclass
class Samples:
    """Everything the training loop needs about samples, for one cube and one sample config."""

    grid: Grid
    cfg: SampleConfig
    eq: pd.DataFrame
    pool: NeqPool
    mean_counts: np.ndarray
    excluded: np.ndarray
    #: the nEQ pool of the test period when ``cfg.test_m_lim`` differs from ``cfg.m_lim``
    test_pool: NeqPool | None = None

    @classmethod
    def build(cls, events: pd.DataFrame, ds, cfg: SampleConfig) -> Samples:
        """Label a cube (an xarray Dataset with ``n_events``) against its catalog."""
        grid = Grid.from_cube(ds)
        eq = eq_samples(events, grid, cfg)
        excluded = exclusion_mask(events, grid, cfg)
        mean_counts = block_mean_counts(np.asarray(ds["n_events"].values), cfg)
        pool = neq_pool(excluded, mean_counts, cfg)
        test_pool = None
        if cfg.test_m_lim is not None and cfg.test_m_lim != cfg.m_lim:
            t_cfg = dataclasses.replace(cfg, m_lim=cfg.test_m_lim)
            test_pool = neq_pool(exclusion_mask(events, grid, t_cfg), mean_counts, t_cfg)
        if len(eq):
            eq["mean_count"] = mean_counts[eq["target"], eq["row"], eq["col"]]
        else:
            eq["mean_count"] = np.zeros(0, np.float32)
        return cls(grid, cfg, eq, pool, mean_counts, excluded, test_pool)

    def pool_for(self, lo: int, dev_end: int | None) -> NeqPool:
        """The nEQ pool of a segment starting on ``lo``: the test-period pool (``test_m_lim``,
        Appendix D/E) for segments after ``dev_end`` when there is one, else the pool."""
        if self.test_pool is not None and dev_end is not None and lo > dev_end:
            return self.test_pool
        return self.pool

    def draw_neq(self, pool: NeqPool, lo: int, hi: int, n: int, seed: int) -> np.ndarray:
        """The ``n`` nEQ of segment ``[lo, hi)`` (flat indices): the settled part, then the
        late part, each from its own stream keyed by (seed, first day) (module doc)."""
        late_days = self.cfg.exclusion_after
        n_settled, n_late = split_draw(n, lo, hi, late_days)
        mid = max(hi - late_days, lo)
        settled = pool.draw(lo, mid, n_settled, np.random.default_rng([seed, lo, 0x6E4551, 1]))
        n_late += n_settled - len(settled)  # a short settled pool: the rest from the late days
        late = pool.draw(mid, hi, n_late, np.random.default_rng([seed, lo, 0x6E4551, 2]))
        return np.concatenate([settled, late])

    def table(self, l_me: int, seed: int, dev_end: int | None = None) -> pd.DataFrame:
        """One row per sample of every segment: EQ first, then the segment's nEQ draw.

        ``dev_end`` (the last development day) ends a segment, so none straddles the
        development and the test period, and selects the test-period pool for later segments.
        ``available`` is the first day whose end makes the label known: the forecast day for
        EQ; for nEQ the end of the exclusion window (``target + exclusion_after``) when
        ``label_delay``, else the forecast day."""
        cut = None if dev_end is None else dev_end + 1
        bounds = segment_bounds(self.cfg.lookback, self.grid.n_days, l_me, cut)
        eq_seg = np.searchsorted(bounds[:, 1], self.eq["target"].to_numpy(), side="right")
        parts = []
        delay = self.cfg.exclusion_after if self.cfg.label_delay else 0
        for s, (lo, hi) in enumerate(bounds):
            e = self.eq[eq_seg == s]
            parts.append(pd.DataFrame({
                "segment": s, "target": e["target"].to_numpy(), "row": e["row"].to_numpy(),
                "col": e["col"].to_numpy(), "label": 1, "mw": e["mw"].to_numpy(),
                "event_id": e["event_id"].astype(str).to_numpy(),
                "mean_count": e["mean_count"].to_numpy(), "available": e["target"].to_numpy(),
            }))  # fmt: skip
            if len(e) == 0:
                continue
            pool = self.pool_for(int(lo), dev_end)
            t, r, c = pool.unravel(self.draw_neq(pool, int(lo), int(hi), len(e), seed))
            parts.append(pd.DataFrame({
                "segment": s, "target": t, "row": r, "col": c, "label": 0, "mw": np.nan,
                "event_id": "", "mean_count": self.mean_counts[t, r, c], "available": t + delay,
            }))  # fmt: skip
        return _finish_table(parts, bounds)

    def summary(self) -> dict:
        d = dict(self.eq.attrs.get("dropped", {}))
        return {
            "n_eq": int(len(self.eq)),
            "n_eq_candidates": int(self.eq.attrs.get("n_candidates", 0)),
            **{f"eq_dropped_{k}": v for k, v in d.items()},
            "n_neq_pool": int(len(self.pool)),
        }


def _finish_table(parts: list[pd.DataFrame], bounds: np.ndarray) -> pd.DataFrame:
    """The parts as one table with fixed dtypes, a running ``sid`` and the segment bounds."""
    if parts:
        df = pd.concat(parts, ignore_index=True)
    else:
        df = pd.DataFrame({k: [] for k in COLUMNS if k != "sid"})
    int_cols = ("segment", "target", "row", "col", "label", "available")
    df = df.astype({**dict.fromkeys(int_cols, np.int64), "mw": float, "mean_count": np.float32})
    df.insert(0, "sid", np.arange(len(df), dtype=np.int64))
    df.attrs["bounds"] = bounds
    return df
