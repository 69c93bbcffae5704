"""No information from the future in the report's computations over time (GUIDE: alter what
happens after day d, everything for days <= d stays bit-identical), each with a deliberately
leaky variant that the same check catches.

Figure 6 (snapshots) and Figure B.3 (completeness) have theirs in their own test modules."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pandas.testing as pdt

from espb.evaluation.diagnostics.neq_pool import pool_map, pool_over_time
from espb.evaluation.diagnostics.roc import roc_intervals
from espb.evaluation.diagnostics.segments import eq_counts_per_segment, training_eq_cumulative
from espb.samples.config import SampleConfig
from espb.samples.labels import Grid, neq_pool
from espb.samples.table import segment_bounds
from espb.training.schedule import meta_epochs

N_DAYS, FIRST, L_ME, D = 400, 20, 30, 230


def _dates(days):
    return pd.Timestamp("2005-01-01") + pd.to_timedelta(np.asarray(days), unit="D")


# --- Figure 3: EQ samples per segment ---------------------------------------------------------
def _eq_targets(seed: int, after: bool) -> np.ndarray:
    """The same EQ up to day D; after D, a different seeded set (the alteration)."""
    base = np.random.default_rng(0).integers(FIRST, D + 1, 60)
    later = np.random.default_rng(seed).integers(D + 1, N_DAYS, 25 + 7 * seed)
    return np.sort(np.concatenate([base, later])) if after else np.sort(base)


def _fig03_before_d(fn) -> list[pd.DataFrame]:
    out = []
    for seed in (1, 2):
        d = fn(_eq_targets(seed, True), FIRST, N_DAYS, L_ME, 2, _dates, 300)
        out.append(d[d["hi"] <= D + 1].reset_index(drop=True))  # segments over by day D
    return out


def _leaky_fig03(targets, first, n_days, l_me, warmup, dates, dev_end):
    """Leaky: the segments anchored on the last EQ day (counted back from it)."""
    shift = (int(targets.max()) + 1 - first) % l_me
    return eq_counts_per_segment(targets, first + shift, n_days, l_me, warmup, dates, dev_end)


def test_fig03_counts_before_d_ignore_later_events():
    a, b = _fig03_before_d(eq_counts_per_segment)
    assert len(a) >= 6 and a["n_eq"].sum() > 0
    pdt.assert_frame_equal(a, b, check_exact=True)


def test_fig03_check_catches_a_leaky_variant():
    a, b = _fig03_before_d(_leaky_fig03)
    assert not a.equals(b)


# --- Figure B.4: samples in the training set per meta-epoch -----------------------------------
def _table(seed: int) -> pd.DataFrame:
    """Samples whose label is known by day D are the same; what becomes known after D
    (including the late nEQ of an earlier segment, known only at the end of their exclusion
    window) differs with ``seed``."""
    rng = np.random.default_rng(0)
    target = rng.integers(FIRST, N_DAYS, 300)
    label = rng.integers(0, 2, 300)
    available = np.where(label == 1, target, target + 7)
    keep = available <= D
    r2 = np.random.default_rng(seed)
    t2 = r2.integers(D - 10, N_DAYS, 80 + 9 * seed)
    l2 = r2.integers(0, 2, len(t2))
    a2 = np.where(l2 == 1, t2, t2 + 7)
    ok = a2 > D  # only labels not yet known on day D
    t = np.concatenate([target[keep], t2[ok]])
    lab = np.concatenate([label[keep], l2[ok]])
    av = np.concatenate([available[keep], a2[ok]])
    bounds = segment_bounds(FIRST, N_DAYS, L_ME)
    seg = np.searchsorted(bounds[:, 1], t, side="right")
    return pd.DataFrame({"segment": seg, "target": t, "label": lab, "available": av})


def _leaky_training_mask(table, me):
    """Leaky: every sample of an earlier segment, whether its label is known yet or not."""
    return table["segment"].to_numpy() < me.segment


def _b4_before_d() -> list[pd.DataFrame]:
    bounds = segment_bounds(FIRST, N_DAYS, L_ME)
    mes = meta_epochs(_table(1), bounds, 2)  # the schedule: the same input to both calls
    out = []
    for seed in (1, 2):
        d = training_eq_cumulative(_table(seed), mes, _dates)
        out.append(d[d["lo"] <= D].reset_index(drop=True))
    return out


def test_figB4_training_sets_up_to_d_ignore_labels_known_later():
    a, b = _b4_before_d()
    assert len(a) >= 4 and a["n_neq_train"].iloc[-1] > 0
    pdt.assert_frame_equal(a, b, check_exact=True)


def test_figB4_check_catches_a_leaky_training_mask(monkeypatch):
    import espb.evaluation.diagnostics.segments as seg_mod

    monkeypatch.setattr(seg_mod, "training_mask", _leaky_training_mask)
    a, b = _b4_before_d()
    assert not a.equals(b)


# --- Figure 4: nEQ availability per day ------------------------------------------------------
def _pool_inputs(seed: int):
    T, H, W = 120, 5, 5
    rng = np.random.default_rng(0)
    excluded = rng.random((T, H, W)) < 0.3
    mc = rng.uniform(0.0, 4.0, (T, H, W)).astype(np.float32)
    mc[:3] = np.nan
    d = 70
    r2 = np.random.default_rng(seed)
    excluded[d + 1 :] = r2.random((T - d - 1, H, W)) < 0.1 * seed
    mc[d + 1 :] = r2.uniform(0.0, 4.0, (T - d - 1, H, W))
    return excluded, mc, d


def _fig04_before_d(fn) -> list[tuple[pd.DataFrame, np.ndarray]]:
    cfg = SampleConfig(min_mean_events=1.0, lookback=3, patch=2)
    out = []
    for seed in (1, 2):
        excluded, mc, d = _pool_inputs(seed)
        pool = neq_pool(excluded, mc, cfg)
        grid = Grid(0.0, 10.0, 1.0, 5, 5, pd.Timestamp("2005-01-01", tz="UTC"), len(mc))
        ot = fn(pool, mc, 3, grid.date)
        cells = pool_map(pool, grid, day_lo=3, day_hi=d + 1).to_numpy()
        out.append((ot[ot["day"] <= d].reset_index(drop=True), cells))
    return out


def _leaky_pool_over_time(pool, mc, first, dates):
    """Leaky: a centred 30-day mean (as the figure once drew it) uses 15 later days."""
    df = pool_over_time(pool, mc, first, dates)
    df["share_30d"] = df["share"].rolling(30, min_periods=1, center=True).mean()
    return df


def test_fig04_availability_up_to_d_ignores_later_days():
    (a, ca), (b, cb) = _fig04_before_d(pool_over_time)
    assert len(a) == 68 and a["n_candidates"].sum() > 0
    pdt.assert_frame_equal(a, b, check_exact=True)
    np.testing.assert_array_equal(ca, cb)


def test_fig04_check_catches_a_centred_mean():
    (a, _), (b, _) = _fig04_before_d(_leaky_pool_over_time)
    assert not a.equals(b)


# --- Figure D.11: ROC per interval of the development period ---------------------------------
def _pred(seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(0)
    n = 600
    day = rng.integers(0, 360, n)
    label = rng.integers(0, 2, n)
    score = np.clip(0.5 + 0.2 * (label - 0.5) + rng.normal(0, 0.2, n), 0, 1)
    r2 = np.random.default_rng(seed)
    late = day > 300  # what happens after day 300 differs
    label[late] = r2.integers(0, 2, late.sum())
    score[late] = r2.random(late.sum())
    keep = ~late | ((r2.random(n) < 0.8) & (day < 320 + 20 * seed))
    return pd.DataFrame({"date": _dates(day[keep]), "label": label[keep], "score": score[keep]})


def _d11_before(fn) -> list[pd.DataFrame]:
    out = []
    for seed in (1, 2):
        t, _ = fn(_pred(seed))
        out.append(t[t["end"] <= _dates(301)].reset_index(drop=True))
    return out


def test_figD11_intervals_ending_by_d_ignore_later_predictions():
    a, b = _d11_before(lambda p: roc_intervals(p, 6, _dates(0), _dates(360)))
    assert len(a) == 5 and (a["n_eq"] > 0).all()
    pdt.assert_frame_equal(a, b, check_exact=True)


def test_figD11_check_catches_edges_taken_from_the_data():
    a, b = _d11_before(lambda p: roc_intervals(p, 6))  # edges from the last prediction
    assert not a.equals(b)
