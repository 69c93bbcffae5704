"""The sample table: per-segment class balance, eligibility of the nEQ draws, seeding, per-segment
independence and the label delay (paper Sections 2.2 and 3.3), on a tiny hand-made cube."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from espb.samples.table import COLUMNS, Samples, segment_bounds

from .helpers import CFG, N_DAYS, N, cfg, cube, ev, events

L, P, H = CFG.lookback, CFG.patch, CFG.half
L_ME = 10
#: forecast-day segments [4,14) [14,24) [24,34) [34,44) [44,54) [54,60)
BOUNDS = [(4, 14), (14, 24), (24, 34), (34, 44), (44, 54), (54, 60)]


def _counts(seed: int = 0) -> np.ndarray:
    """Random daily counts of 15..25 per cell: every block mean is >= 10."""
    return np.random.default_rng(seed).integers(15, 26, size=(N_DAYS, N, N)).astype(np.int32)


def _rows() -> list[dict]:
    return [
        # EQ on the first and last days of segments too, to pin the segment assignment
        ev(5, 8, 8, 5.5, eid="a"),
        ev(13, 16, 16, 5.1, eid="b"),  # segment 0
        ev(18, 12, 12, 4.9, eid="mlim"),  # segment 1: no EQ, only an exclusion
        ev(24, 6, 14, 5.0, eid="c"),
        ev(28, 14, 6, 6.0, eid="d"),
        ev(33, 10, 10, 5.3, eid="e"),  # 2
        ev(53, 12, 12, 5.2, eid="f"),  # segment 4
        ev(54, 18, 18, 5.4, eid="g"),
        ev(59, 5, 5, 5.0, eid="h"),  # segment 5
    ]


N_EQ = [2, 0, 3, 0, 1, 2]


def _build(rows=None, counts=None, config=CFG) -> Samples:
    rows = _rows() if rows is None else rows
    counts = _counts() if counts is None else counts
    return Samples.build(events(*rows), cube(counts), config)


@pytest.fixture(scope="module")
def samples() -> Samples:
    return _build()


@pytest.fixture(scope="module")
def table(samples) -> pd.DataFrame:
    return samples.table(L_ME, seed=1)


def _block_mean(counts: np.ndarray, t: int, r: int, c: int) -> float:
    return float(counts[t - L : t, r - H : r + H, c - H : c + H].mean())


# ------------------------------------------------------------------------------ segment bounds


def test_segment_bounds():
    np.testing.assert_array_equal(segment_bounds(4, 60, 10), np.array(BOUNDS))
    np.testing.assert_array_equal(segment_bounds(4, 24, 10), [[4, 14], [14, 24]])
    np.testing.assert_array_equal(segment_bounds(0, 3, 1), [[0, 1], [1, 2], [2, 3]])
    assert segment_bounds(60, 60, 10).shape == (0, 2)
    with pytest.raises(ValueError):
        segment_bounds(4, 60, 0)


# ------------------------------------------------------------------------------ table shape (rule 8)


def test_table_columns_bounds_and_sid(table):
    assert list(table.columns) == COLUMNS
    np.testing.assert_array_equal(table.attrs["bounds"], np.array(BOUNDS))
    np.testing.assert_array_equal(table["sid"], np.arange(len(table)))
    assert table["segment"].is_monotonic_increasing
    # per segment: EQ rows first, then nEQ rows
    for _, g in table.groupby("segment"):
        lab = g["label"].to_numpy()
        assert np.all(np.diff(lab) <= 0)


def test_class_balance_per_segment(table):
    for s, (lo, hi) in enumerate(BOUNDS):
        g = table[table["segment"] == s]
        assert (g["label"] == 1).sum() == N_EQ[s]
        assert (g["label"] == 0).sum() == N_EQ[s]  # the pool is ample here
        assert g["target"].between(lo, hi - 1).all()
    assert set(table["segment"]) == {0, 2, 4, 5}  # segments without EQ have no nEQ either


def test_eq_rows(samples, table):
    eq = table[table["label"] == 1]
    assert eq["event_id"].tolist() == list("abcdefgh")
    assert eq["mw"].tolist() == [5.5, 5.1, 5.0, 6.0, 5.3, 5.2, 5.4, 5.0]
    assert list(zip(eq["target"], eq["row"], eq["col"], strict=True)) == [
        (5, 8, 8),
        (13, 16, 16),
        (24, 6, 14),
        (28, 14, 6),
        (33, 10, 10),
        (53, 12, 12),
        (54, 18, 18),
        (59, 5, 5),
    ]
    assert eq["segment"].tolist() == [0, 0, 2, 2, 2, 4, 5, 5]
    counts = _counts()
    for t, r, c, m in eq[["target", "row", "col", "mean_count"]].itertuples(index=False):
        assert m == pytest.approx(_block_mean(counts, t, r, c), rel=1e-6)
    assert samples.summary() == {
        "n_eq": 8,
        "n_eq_candidates": 8,
        "eq_dropped_outside_time": 0,
        "eq_dropped_outside_grid": 0,
        "eq_dropped_near_border": 0,
        "eq_dropped_same_cell_day": 0,
        "n_neq_pool": len(samples.pool),
    }


def test_neq_rows_are_eligible(samples, table):
    neq = table[table["label"] == 0]
    assert len(neq) == sum(N_EQ)
    assert neq["mw"].isna().all() and (neq["event_id"] == "").all()
    t, r, c = (neq[k].to_numpy() for k in ("target", "row", "col"))
    assert np.all((r >= H) & (r <= N - H) & (c >= H) & (c <= N - H)) and np.all(t >= L)
    assert not samples.excluded[t, r, c].any()
    assert (neq["mean_count"] >= CFG.min_mean_events).all()
    counts = _counts()
    for tt, rr, cc, m in zip(t, r, c, neq["mean_count"], strict=True):
        assert m == pytest.approx(_block_mean(counts, tt, rr, cc), rel=1e-6)
    assert not neq.duplicated(["target", "row", "col"]).any()
    # no nEQ cell-day within reach of an M >= M_lim event: checked independently of the mask
    cat = events(*_rows())
    day = ((cat["time"] - pd.Timestamp("2020-01-01", tz="UTC")) // pd.Timedelta(days=1)).to_numpy()
    for tt, rr, cc in zip(t, r, c, strict=True):
        lat = 38.0 + (rr + 0.5) * 0.1
        lon = 140.0 + (cc + 0.5) * 0.1
        near = (
            (np.abs(cat["latitude"] - lat) + np.abs(cat["longitude"] - lon) <= 0.8 + 1e-9)
            & (np.abs(day - tt) <= 7)
            & (cat["mw"] >= 4.9)
        )
        assert not near.any()


def test_neq_exclusion_is_actually_in_force(samples):
    # the exclusion mask around the EQ / M_lim events is not empty and hits the pool
    ex = samples.excluded
    assert ex[5, 8, 7] and ex[12, 8, 7] and not ex[13, 8, 7]  # the Mw 5.5 on day 5 at (8, 8)
    assert ex[25, 12, 20] and not ex[26, 12, 20]  # the Mw 4.9 on day 18 at (12, 12), 0.8 deg off
    pool = set(samples.pool.flat.tolist())
    assert np.ravel_multi_index((12, 8, 7), ex.shape) not in pool
    assert np.ravel_multi_index((13, 8, 7), ex.shape) in pool


def test_short_pool_gives_all_candidates():
    # counts of 10 only in the 8 x 8 patch of centre (5, 5): that centre is the only one whose
    # block mean reaches 10, so each forecast day has exactly one nEQ candidate
    counts = np.zeros((N_DAYS, N, N), np.int32)
    counts[:, 5 - H : 5 + H, 5 - H : 5 + H] = 10
    rows = [ev(8, 14 + i % 6, 15 + 3 * (i // 6), 5.5) for i in range(12)]  # 12 EQ in segment 0
    rows += [ev(15, 16, 16, 5.5), ev(19, 17, 16, 5.5), ev(23, 18, 16, 5.5)]  # 3 in segment 1
    s = _build(rows, counts)
    assert len(s.pool) == N_DAYS - L
    tab = s.table(L_ME, seed=3)
    g0 = tab[(tab["segment"] == 0) & (tab["label"] == 0)]
    assert (tab[tab["segment"] == 0]["label"] == 1).sum() == 12
    assert g0["target"].tolist() == list(range(4, 14))  # all 10 candidates, not 12
    assert (g0["row"] == 5).all() and (g0["col"] == 5).all()
    assert (g0["mean_count"] == 10).all()
    g1 = tab[(tab["segment"] == 1) & (tab["label"] == 0)]
    assert len(g1) == 3 and g1["target"].between(14, 23).all() and g1["target"].is_unique


# ------------------------------------------------------------------------------ seeding and independence


def test_table_is_deterministic_per_seed(samples, table):
    pd.testing.assert_frame_equal(samples.table(L_ME, seed=1), table)
    pd.testing.assert_frame_equal(_build().table(L_ME, seed=1), table)  # a fresh build too
    other = samples.table(L_ME, seed=2)
    pd.testing.assert_frame_equal(other[other["label"] == 1], table[table["label"] == 1])
    neq1 = table[table["label"] == 0][["target", "row", "col"]].to_numpy()
    neq2 = other[other["label"] == 0][["target", "row", "col"]].to_numpy()
    assert neq1.shape == neq2.shape and not np.array_equal(neq1, neq2)


def test_later_events_leave_earlier_segments_alone(table):
    # segment 2 ends on day 33: its exclusion window reaches day 33 + 7 = 40, its blocks day 32.
    # Add events from day 41 on (EQ and M_lim right on top of earlier draws) and new counts from
    # day 34 on: segments 0..2 must not change at all.
    neq = table[table["label"] == 0]
    cells = {(int(r), int(c)) for r, c in neq[["row", "col"]].to_numpy()[:3]}
    extra = [ev(41, r, c, 6.5) for r, c in sorted(cells)]
    extra += [ev(41, 12, 12, 4.9), ev(45, 20, 20, 5.5), ev(58, 4, 4, 7.0)]
    counts = _counts()
    counts[34:] = _counts(seed=99)[34:]
    s2 = _build(_rows() + extra, counts)
    t2 = s2.table(L_ME, seed=1)
    early = table[table["segment"] <= 2]
    pd.testing.assert_frame_equal(t2[t2["segment"] <= 2], early)
    # ... while the later segments did change
    assert (t2[t2["segment"] == 3]["label"] == 1).sum() == len(cells)
    assert len(t2) > len(table)


def test_event_just_inside_the_window_does_reach_back():
    # the counterpart of the test above: an M_lim event on day 40 does exclude day 33 (segment 2)
    base = _build()
    s = _build(_rows() + [ev(40, 20, 20, 4.9)])
    assert not base.excluded[33, 20, 20] and s.excluded[33, 20, 20]
    assert s.pool.count(24, 34) < base.pool.count(24, 34)
    s41 = _build(_rows() + [ev(41, 20, 20, 4.9)])
    assert s41.pool.count(24, 34) == base.pool.count(24, 34)


def test_earlier_events_leave_later_draws_alone(table):
    # draws are seeded per segment (seed, first day): an extra EQ in segment 0 changes the number of
    # draws there, yet the rows of segments 2.. are the same (up to their running sid)
    s2 = _build(_rows() + [ev(6, 18, 6, 5.8, eid="x")])
    t2 = s2.table(L_ME, seed=1)
    assert (t2["segment"] == 0).sum() == (table["segment"] == 0).sum() + 2
    late = [df[df["segment"] >= 2].drop(columns="sid").reset_index(drop=True) for df in (t2, table)]
    pd.testing.assert_frame_equal(*late)


def test_draw_keyed_by_segment_first_day_not_index():
    # with constant counts a longer lookback changes nothing from day 14 on but the segment
    # numbers (segment [24, 34) is number 2 with lookback 4 and number 1 with lookback 14): the
    # draws of those segments, keyed by (seed, first day), are the same
    counts = np.full((N_DAYS, N, N), 20, np.int32)
    t4 = _build(counts=counts).table(L_ME, seed=5)
    t14 = _build(counts=counts, config=cfg(lookback=14)).table(L_ME, seed=5)
    np.testing.assert_array_equal(t14.attrs["bounds"], BOUNDS[1:])
    a, b = [
        df[df["target"] >= 14].drop(columns=["sid", "segment"]).reset_index(drop=True)
        for df in (t4, t14)
    ]
    assert len(a) == 2 * (3 + 1 + 2)
    pd.testing.assert_frame_equal(a, b)


# ------------------------------------------------------------------------------ label delay


@pytest.mark.parametrize("delay", [True, False])
def test_available_day(delay):
    c = cfg(exclusion_before=7, exclusion_after=3, label_delay=delay)
    tab = _build(config=c).table(L_ME, seed=1)
    eq, neq = tab[tab["label"] == 1], tab[tab["label"] == 0]
    assert len(neq) == sum(N_EQ)
    np.testing.assert_array_equal(eq["available"], eq["target"])
    np.testing.assert_array_equal(neq["available"], neq["target"] + (3 if delay else 0))
    assert tab["available"].dtype == np.int64


def test_no_events_gives_an_empty_table():
    s = _build(rows=[ev(30, 10, 10, 3.0)])  # below M_lim and EQ
    assert len(s.eq) == 0 and not s.excluded.any()
    assert len(s.pool) == (N_DAYS - L) * (N - P + 1) ** 2
    tab = s.table(L_ME, seed=1)
    assert len(tab) == 0 and list(tab.columns) == COLUMNS
    # a catalog with no rows at all
    s0 = Samples.build(events(ev(30, 10, 10, 3.0)).iloc[:0], cube(_counts()), CFG)
    assert len(s0.eq) == 0 and len(s0.table(L_ME, seed=1)) == 0
    assert s0.summary()["n_eq_candidates"] == 0


# ------------------------------------------------------------------------------ issue 13: protocol


def test_no_segment_straddles_the_development_end():
    # dev_end day 29: segments [4,14) [14,24) [24,30) then the test period from day 30
    b = segment_bounds(4, 60, 10, cut=30)
    np.testing.assert_array_equal(b, [[4, 14], [14, 24], [24, 30], [30, 40], [40, 50], [50, 60]])
    assert not any(lo <= 29 < hi - 1 for lo, hi in b)
    np.testing.assert_array_equal(segment_bounds(4, 60, 10, cut=70), BOUNDS)  # cut outside


def test_the_table_cuts_segments_at_dev_end(samples):
    tab = samples.table(L_ME, seed=1, dev_end=29)
    bounds = tab.attrs["bounds"]
    assert [30, 40] in bounds.tolist()
    seg_lo = bounds[tab["segment"].to_numpy(), 0]
    # every sample of a segment starting after dev_end has its forecast day after it, and
    # every sample of an earlier segment on or before it
    after = seg_lo > 29
    assert (tab["target"].to_numpy()[after] > 29).all()
    assert (tab["target"].to_numpy()[~after] <= 29).all()


def test_settled_and_late_parts_are_counted_in_advance():
    from espb.samples.table import split_draw

    assert split_draw(10, 0, 14, 7) == (5, 5)
    assert split_draw(3, 0, 10, 7) == (1, 2)  # 3 days settled of 10
    assert split_draw(4, 0, 10, 0) == (4, 0)  # no label delay: everything settled
    assert split_draw(4, 0, 5, 7) == (0, 4)  # a segment shorter than the delay


def test_settled_draws_lie_where_labels_are_known_before_the_next_segment(table):
    # with exclusion_after 7, the nEQ of [lo, hi) with target < hi - 7 are the settled part;
    # their count is fixed by split_draw whatever the late candidates are
    from espb.samples.table import split_draw

    bounds = table.attrs["bounds"]
    for s, (lo, hi) in enumerate(bounds):
        g = table[(table["segment"] == s) & (table["label"] == 0)]
        n_eq = int(((table["segment"] == s) & (table["label"] == 1)).sum())
        n_settled, _ = split_draw(n_eq, lo, hi, CFG.exclusion_after)
        assert (g["target"] < max(hi - CFG.exclusion_after, lo)).sum() == min(n_settled, len(g))


def test_the_test_period_draws_with_its_own_m_lim():
    # an Mw 4.6 event on day 40 at (12, 12) excludes its neighbours for M_lim 4.5 but not 4.9:
    # with m_lim 4.5 and test_m_lim 4.9 the development pool keeps the exclusion and the test
    # pool (segments after dev_end 29) does not
    rows = _rows() + [ev(40, 12, 12, 4.6, eid="m46")]
    s = _build(rows, config=cfg(m_lim=4.5, test_m_lim=4.9))
    assert s.test_pool is not None
    flat = np.ravel_multi_index((41, 12, 12), s.excluded.shape)
    assert flat not in set(s.pool.flat.tolist()) and flat in set(s.test_pool.flat.tolist())
    assert s.pool_for(30, dev_end=29) is s.test_pool and s.pool_for(24, dev_end=29) is s.pool
    tab = s.table(L_ME, seed=1, dev_end=29)
    test_neq = tab[(tab["label"] == 0) & (tab["target"] > 29)]
    assert len(test_neq)
    test_flat = np.ravel_multi_index(
        tuple(test_neq[k] for k in ("target", "row", "col")), s.excluded.shape
    )
    assert set(test_flat.tolist()) <= set(s.test_pool.flat.tolist())
    assert _build(rows, config=cfg(m_lim=4.5)).test_pool is None
