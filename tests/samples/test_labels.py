"""The EQ / nEQ labelling rules of paper Section 2.2, each on a tiny hand-made grid and catalog.

Test grid (helpers): 0.1 deg cells, 24 x 24 from (38.0 N, 140.0 E), 60 days from 2020-01-01,
patch 8 (half 4) and lookback 4, so usable centres are rows/cols 4..20 and forecast days 4..59.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from espb.errors import ConfigError
from espb.samples.config import SampleConfig
from espb.samples.labels import (
    Grid,
    NeqPool,
    block_mean_counts,
    eq_samples,
    exclusion_mask,
    neq_pool,
)

from .helpers import CFG, LAT0, LON0, N_DAYS, RES, START, N, cfg, cube, ev, events, grid

H = CFG.half  # 4


def _keys(df: pd.DataFrame) -> list[tuple[int, int, int]]:
    return [tuple(int(v) for v in x) for x in df[["target", "row", "col"]].to_numpy()]


# ------------------------------------------------------------------------------ grid basics


def test_grid_from_cube_recovers_the_grid():
    g = Grid.from_cube(cube(np.zeros((N_DAYS, N, N + 3), np.int32)))
    assert g.lat0 == pytest.approx(LAT0, abs=1e-12) and g.lon0 == pytest.approx(LON0, abs=1e-12)
    assert g.res == RES and (g.nlat, g.nlon, g.n_days) == (N, N + 3, N_DAYS)
    assert g.start == START
    np.testing.assert_allclose(g.lat_centres(), LAT0 + (np.arange(N) + 0.5) * RES)


def test_grid_cells_are_half_open():
    g = grid()
    # the cell boundary 39.0 / 141.0 belongs to the upper cell (row 10, col 10)
    r, c = g.cells(
        np.array([39.0, 38.9999, 38.0, 37.9999]), np.array([141.0, 140.9999, 140.0, 139.9999])
    )
    assert r.tolist() == [10, 9, 0, -1] and c.tolist() == [10, 9, 0, -1]


def test_grid_day_is_utc_floor():
    g = grid()
    t = pd.Series(
        [
            START,
            START + pd.Timedelta("23:59:59.999"),
            START + pd.Timedelta(days=1),
            START - pd.Timedelta(seconds=1),
            START + pd.Timedelta(days=59, hours=23),
        ]
    )
    assert g.day(t).tolist() == [0, 0, 1, -1, 59]
    # a non-UTC zone is converted first: 2020-01-02 08:00 +09:00 is 2020-01-01 23:00 UTC
    assert g.day(pd.Series([pd.Timestamp("2020-01-02 08:00", tz="Asia/Tokyo")])).tolist() == [0]


# ------------------------------------------------------------------------------ EQ: border (rule 1)


def test_eq_border_centres_kept_at_half_and_n_minus_half_only():
    g = grid(nlat=N, nlon=N + 6)  # 24 rows, 30 cols: the column limit is 30 - 4 = 26
    cat = events(
        ev(10, H - 1, 12, 5.5),
        ev(10, H, 12, 5.5),
        ev(10, N - H, 12, 5.5),
        ev(10, N - H + 1, 12, 5.5),
        ev(11, 12, H - 1, 5.5),
        ev(11, 12, H, 5.5),
        ev(11, 12, N + 6 - H, 5.5),
        ev(11, 12, N + 6 - H + 1, 5.5),
        # the row limit (20) is no limit for columns: col 21..26 are fine on a 30-col grid
        ev(12, 12, N - H + 1, 5.5),
    )
    eq = eq_samples(cat, g, CFG)
    assert sorted(zip(eq["row"], eq["col"], strict=True)) == sorted(
        [(H, 12), (N - H, 12), (12, H), (12, N + 6 - H), (12, N - H + 1)]
    )
    assert eq.attrs["dropped"] == {
        "outside_time": 0,
        "outside_grid": 0,
        "near_border": 4,
        "same_cell_day": 0,
    }


def test_eq_outside_grid_is_counted_apart_from_border():
    cat = events(
        ev(10, -1, 12, 6.0),
        ev(10, N, 12, 6.0),
        ev(10, 12, -1, 6.0),
        ev(10, 12, N, 6.0),
        ev(10, 0, 0, 6.0),
        ev(10, 12, 12, 6.0),
    )
    eq = eq_samples(cat, grid(), CFG)
    assert _keys(eq) == [(10, 12, 12)]
    assert eq.attrs["dropped"] == {
        "outside_time": 0,
        "outside_grid": 4,
        "near_border": 1,
        "same_cell_day": 0,
    }
    assert eq.attrs["n_candidates"] == 6


# ------------------------------------------------------------------------------ EQ: uniqueness (rule 2)


@pytest.mark.parametrize("order", [(5.2, 5.6), (5.6, 5.2)])
def test_eq_one_per_cell_day_keeps_the_largest(order):
    cat = events(
        ev(20, 10, 10, order[0], dlat=-0.03, eid="small" if order[0] < order[1] else "large"),
        ev(
            20,
            10,
            10,
            order[1],
            dlat=0.04,
            dlon=0.02,
            seconds=3600,
            eid="large" if order[0] < order[1] else "small",
        ),
    )
    eq = eq_samples(cat, grid(), CFG)
    assert len(eq) == 1
    row = eq.iloc[0]
    assert (row["target"], row["row"], row["col"]) == (20, 10, 10)
    assert row["mw"] == 5.6 and row["event_id"] == "large"
    assert row["n_events_same_cell_day"] == 2
    assert eq.attrs["dropped"]["same_cell_day"] == 1


def test_eq_same_cell_different_days_and_neighbour_cells_are_distinct():
    cat = events(
        ev(20, 10, 10, 5.1, seconds=86400 - 0.001, eid="late"),  # 23:59:59.999 of day 20
        ev(21, 10, 10, 5.3, eid="midnight"),  # 00:00:00 of day 21
        ev(20, 10, 11, 5.2, eid="east"),  # same day, next cell
        ev(20, 11, 10, 5.4, eid="north"),
    )
    eq = eq_samples(cat, grid(), CFG)
    assert _keys(eq) == [(20, 10, 10), (20, 10, 11), (20, 11, 10), (21, 10, 10)]
    assert eq["event_id"].tolist() == ["late", "east", "north", "midnight"]
    assert eq["n_events_same_cell_day"].tolist() == [1, 1, 1, 1]
    assert eq.attrs["dropped"]["same_cell_day"] == 0


# ------------------------------------------------------------------------------ EQ: magnitude, timing (6, 7)


def test_eq_magnitude_threshold_is_inclusive():
    cat = events(
        ev(20, 10, 10, 4.99, eid="below"),
        ev(20, 12, 12, 5.0, eid="at"),
        ev(20, 14, 14, 4.9, eid="mlim"),
    )
    eq = eq_samples(cat, grid(), CFG)
    assert eq["event_id"].tolist() == ["at"]
    assert eq.attrs["n_candidates"] == 1


def test_eq_threshold_follows_config():
    cat = events(ev(20, 10, 10, 5.4), ev(20, 12, 12, 5.5))
    eq = eq_samples(cat, grid(), cfg(eq_min_mag=5.5))
    assert _keys(eq) == [(20, 12, 12)]


def test_eq_target_is_event_day_and_needs_full_lookback():
    L = CFG.lookback
    cat = events(
        ev(0, 10, 10, 5.5, seconds=-1, eid="before_start"),  # day -1
        ev(L - 1, 10, 10, 5.5, seconds=86400 - 0.001, eid="lookback_minus_1"),
        ev(L, 10, 10, 5.5, eid="first_usable"),
        ev(33, 10, 10, 5.5, seconds=12 * 3600, eid="noon"),
        ev(N_DAYS - 1, 10, 10, 5.5, seconds=86400 - 0.001, eid="last_day"),
        ev(N_DAYS, 10, 10, 5.5, eid="after_end"),
    )
    eq = eq_samples(cat, grid(), CFG)
    assert eq["event_id"].tolist() == ["first_usable", "noon", "last_day"]
    assert eq["target"].tolist() == [L, 33, N_DAYS - 1]
    assert eq.attrs["dropped"]["outside_time"] == 3
    # the lookback follows the config
    eq34 = eq_samples(cat, grid(), cfg(lookback=34))
    assert eq34["event_id"].tolist() == ["last_day"]


def test_eq_empty_catalog():
    cat = events(ev(20, 10, 10, 4.0)).iloc[:0]
    eq = eq_samples(cat, grid(), CFG)
    assert len(eq) == 0 and eq.attrs["dropped"]["near_border"] == 0


# ------------------------------------------------------------------------------ exclusion: L1 radius (rule 3)

R0 = C0 = 10  # the cell the radius tests look at


def _excluded_at(*rows, config=CFG, day=30) -> np.ndarray:
    return exclusion_mask(events(*rows), grid(), config)[day]


@pytest.mark.parametrize(
    "dlat, dlon",
    [
        (0.8, 0.0),
        (-0.8, 0.0),
        (0.0, 0.8),
        (0.0, -0.8),  # exactly on the radius, on an axis
        (0.4, 0.4),
        (-0.4, 0.4),
        (0.4, -0.4),
        (-0.3, -0.5),  # exactly on the radius, diagonal
        (0.35, 0.45),
        (-0.45, 0.35),  # exactly on the radius, not at a cell centre
        (0.0, 0.0),
        (0.05, 0.05),
        (0.25, -0.31),
    ],
)
def test_l1_radius_inside_excludes(dlat, dlon):
    assert _excluded_at(ev(30, R0, C0, 4.9, dlat=dlat, dlon=dlon))[R0, C0]


@pytest.mark.parametrize(
    "dlat, dlon",
    [
        (0.85, 0.0),
        (0.0, -0.85),  # just outside, on an axis
        (0.45, 0.4),  # L1 0.85
        (0.5, 0.4),
        (-0.4, -0.5),  # Euclidean 0.64, max-norm 0.5: inside those, outside L1 0.9
        (0.6, 0.3),
        (0.41, 0.4),  # Euclidean 0.67 / 0.573
    ],
)
def test_l1_radius_outside_does_not_exclude(dlat, dlon):
    assert not _excluded_at(ev(30, R0, C0, 4.9, dlat=dlat, dlon=dlon))[R0, C0]


def test_l1_radius_excludes_a_diamond_not_a_disc():
    m = _excluded_at(ev(30, 12, 12, 4.9))
    i, j = np.meshgrid(np.arange(N), np.arange(N), indexing="ij")
    diamond = np.abs(i - 12) + np.abs(j - 12) <= 8  # 0.8 deg = 8 cells, centre to centre
    np.testing.assert_array_equal(m, diamond)
    assert m.sum() == 2 * 8 * 9 + 1  # 145 cells; a disc of radius 8 cells holds 197


def test_l1_radius_follows_config_and_off_centre_event():
    # event 0.03 N / 0.02 E of the centre of (12, 12), radius 0.6 (Model14.9)
    lat_off, lon_off = 0.03, 0.02
    m = _excluded_at(ev(30, 12, 12, 4.9, dlat=lat_off, dlon=lon_off), config=cfg(l1_radius=0.6))
    i, j = np.meshgrid(np.arange(N), np.arange(N), indexing="ij")
    dist = np.abs((i - 12) * RES - lat_off) + np.abs((j - 12) * RES - lon_off)
    np.testing.assert_array_equal(m, dist <= 0.6 + 1e-9)
    assert m[18, 12] and not m[6, 12]  # 0.57 + 0.02 vs 0.63 + 0.02 deg
    assert m[12, 17] and not m[12, 18]  # 0.03 + 0.48 vs 0.03 + 0.58 deg
    assert m[17, 13] and not m[18, 13]  # 0.47 + 0.08 vs 0.57 + 0.08 deg


def test_event_outside_grid_still_excludes_cells_within_reach():
    m = _excluded_at(ev(30, -3, 10, 5.5))  # 0.3 deg south of the grid
    assert m[0, 10] and m[5, 10] and not m[6, 10]
    assert m[0, 15] and m[0, 5] and not m[0, 16] and not m[0, 4]
    assert m.sum() == sum(2 * (8 - 3 - k) + 1 for k in range(6))  # rows 0..5 of the diamond


# ------------------------------------------------------------------------------ exclusion: +-7 days (rule 4)


def _days(mask: np.ndarray, r: int = R0, c: int = C0) -> list[int]:
    return np.flatnonzero(mask[:, r, c]).tolist()


@pytest.mark.parametrize("seconds", [0.0, 43200.0, 86400 - 0.001])
def test_day_window_symmetric(seconds):
    m = exclusion_mask(events(ev(30, R0, C0, 4.9, seconds=seconds)), grid(), CFG)
    assert _days(m) == list(range(23, 38))  # 30 - 7 .. 30 + 7; not 22 nor 38


@pytest.mark.parametrize(
    "before, after, expected",
    [
        # forecast day tau is excluded when tau - before <= e <= tau + after
        (7, 0, range(30, 38)),  # events up to 7 days before tau: tau = 30 .. 37
        (0, 7, range(23, 31)),  # events up to 7 days after tau: tau = 23 .. 30
        (2, 5, range(25, 33)),
        (0, 0, range(30, 31)),
    ],
)
def test_day_window_asymmetric(before, after, expected):
    m = exclusion_mask(
        events(ev(30, R0, C0, 4.9)), grid(), cfg(exclusion_before=before, exclusion_after=after)
    )
    assert _days(m) == list(expected)


def test_day_window_at_the_cube_edges():
    g = grid()
    m = exclusion_mask(events(ev(0, R0, C0, 4.9, seconds=-1)), g, CFG)  # day -1
    assert _days(m) == list(range(0, 7))
    m = exclusion_mask(events(ev(-8, R0, C0, 4.9)), g, CFG)  # reaches day -1 only
    assert _days(m) == []
    m = exclusion_mask(events(ev(N_DAYS + 2, R0, C0, 4.9)), g, CFG)  # day 62: 55..69
    assert _days(m) == list(range(55, N_DAYS))
    m = exclusion_mask(events(ev(N_DAYS + 7, R0, C0, 4.9)), g, CFG)  # day 67: 60..
    assert _days(m) == []


def test_overlapping_windows_merge_and_stop():
    m = exclusion_mask(
        events(ev(20, R0, C0, 4.9), ev(24, R0, C0, 5.5), ev(50, R0, C0, 4.95)), grid(), CFG
    )
    assert _days(m) == list(range(13, 32)) + list(range(43, 58))


# ------------------------------------------------------------------------------ exclusion: M_lim (rule 6)


def test_mlim_is_inclusive():
    assert _excluded_at(ev(30, R0, C0, 4.9))[R0, C0]
    assert not _excluded_at(ev(30, R0, C0, 4.89))[R0, C0]
    assert _excluded_at(ev(30, R0, C0, 4.0), config=cfg(m_lim=4.0))[R0, C0]
    assert not _excluded_at(ev(30, R0, C0, 3.99), config=cfg(m_lim=4.0))[R0, C0]
    # an EQ event (Mw >= 5) excludes too
    assert _excluded_at(ev(30, R0, C0, 7.0))[R0, C0]


def test_exclusion_empty_catalog():
    m = exclusion_mask(events(ev(30, R0, C0, 4.0)), grid(), CFG)  # below M_lim only
    assert m.shape == (N_DAYS, N, N) and m.dtype == bool and not m.any()


# ------------------------------------------------------------------------------ average count (rule 5)


def _brute_block_means(n: np.ndarray, lookback: int, patch: int) -> np.ndarray:
    T, Hh, W = n.shape
    h = patch // 2
    out = np.full((T, Hh, W), np.nan)
    for tau in range(lookback, T):
        for r in range(h, Hh - h + 1):
            for c in range(h, W - h + 1):
                out[tau, r, c] = n[tau - lookback : tau, r - h : r + h, c - h : c + h].mean()
    return out


@pytest.mark.parametrize(
    "shape, lookback, patch, seed",
    [
        ((12, 10, 13), 3, 4, 0),
        ((9, 8, 8), 4, 8, 1),  # exactly one usable centre per day
        ((20, 24, 24), 4, 8, 2),
        ((7, 9, 6), 2, 2, 3),
        ((15, 6, 11), 14, 4, 4),  # one usable forecast day
        ((1100, 5, 4), 7, 2, 5),  # more days than one chunk of the summed-area table (512)
    ],
)
def test_block_mean_counts_matches_brute_force(shape, lookback, patch, seed):
    n = np.random.default_rng(seed).integers(0, 30, size=shape).astype(np.int32)
    c = cfg(lookback=lookback, patch=patch)
    got = block_mean_counts(n, c)
    assert got.dtype == np.float32 and got.shape == shape
    want = _brute_block_means(n, lookback, patch)
    np.testing.assert_array_equal(np.isnan(got), np.isnan(want))
    np.testing.assert_allclose(got, want, rtol=1e-6, equal_nan=True)


@pytest.mark.parametrize("shape", [(4, 24, 24), (10, 7, 24), (10, 24, 7)])
def test_block_mean_counts_all_nan_when_nothing_fits(shape):
    assert np.isnan(block_mean_counts(np.ones(shape, np.int32), CFG)).all()


def test_pool_mean_exactly_ten_is_eligible_and_just_below_is_not():
    L, P = CFG.lookback, CFG.patch
    d0, r0, c0 = 20, 10, 10
    n = np.full((N_DAYS, N, N), 10, np.int32)
    n[d0, r0, c0] = 9  # every block holding this cell-day has mean 10 - 1/256
    mc = block_mean_counts(n, CFG)
    assert mc[d0 + 1, r0, c0] == np.float32(10 - 1 / (L * P * P)) and mc[d0 + 1, r0, c0] < 10
    assert mc[d0, r0, c0] == 10.0
    pool = neq_pool(np.zeros(n.shape, bool), mc, CFG)

    expected = set()
    for tau in range(L, N_DAYS):
        for r in range(H, N - H + 1):
            for c in range(H, N - H + 1):
                holds = (
                    tau - L <= d0 <= tau - 1
                    and r - H <= r0 <= r + H - 1
                    and c - H <= c0 <= c + H - 1
                )
                if not holds:
                    expected.add(np.ravel_multi_index((tau, r, c), n.shape))
    assert set(pool.flat.tolist()) == expected
    assert len(pool) == (N_DAYS - L) * (N - P + 1) ** 2 - L * P * P

    def has(t, r, c):
        return np.ravel_multi_index((t, r, c), n.shape) in set(pool.flat.tolist())

    # in time: the block of tau ends on tau - 1
    assert has(d0, r0, c0) and not has(d0 + 1, r0, c0) and not has(d0 + L, r0, c0)
    assert has(d0 + L + 1, r0, c0)
    # in space: centres r0 - H + 1 .. r0 + H hold row r0
    assert not has(d0 + 1, r0 + H, c0) and has(d0 + 1, r0 + H + 1, c0)
    assert not has(d0 + 1, r0 - H + 1, c0) and has(d0 + 1, r0 - H, c0)
    assert not has(d0 + 1, r0, c0 - H + 1) and has(d0 + 1, r0, c0 - H)

    # the threshold follows the config
    low = neq_pool(np.zeros(n.shape, bool), mc, cfg(min_mean_events=10 - 1 / (L * P * P)))
    assert len(low) == (N_DAYS - L) * (N - P + 1) ** 2


def test_pool_combines_exclusion_and_count_and_skips_unusable():
    rng = np.random.default_rng(7)
    shape = (30, 12, 14)
    c = cfg(lookback=5, patch=4)
    n = rng.integers(0, 21, size=shape).astype(np.int32)
    mc = block_mean_counts(n, c)
    excluded = rng.random(shape) < 0.3
    pool = neq_pool(excluded, mc, c)
    with np.errstate(invalid="ignore"):
        want = np.flatnonzero(~excluded & ~np.isnan(mc) & (mc >= 10.0))
    np.testing.assert_array_equal(pool.flat, want)
    assert 0 < len(pool) < excluded.size
    t, r, cc = pool.unravel(pool.flat)
    assert t.min() >= 5 and r.min() >= 2 and r.max() <= 10 and cc.min() >= 2 and cc.max() <= 12
    # day_ptr / count / per_day
    per_day = np.bincount(t, minlength=shape[0])
    np.testing.assert_array_equal(pool.per_day(), per_day)
    assert pool.count(0, 30) == len(pool)
    assert pool.count(8, 13) == per_day[8:13].sum()
    assert pool.count(-5, 9) == per_day[:9].sum() and pool.count(25, 99) == per_day[25:].sum()
    assert pool.count(13, 8) == 0


# ------------------------------------------------------------------------------ pool.draw (rule 9)


def _pool() -> tuple[NeqPool, np.ndarray]:
    rng = np.random.default_rng(11)
    shape = (20, 6, 6)
    ok = rng.random(shape) < 0.4
    ok[7] = False  # an empty day
    mc = np.where(ok, 12.0, 3.0).astype(np.float32)
    return neq_pool(np.zeros(shape, bool), mc, cfg(lookback=2, patch=2)), np.flatnonzero(ok)


@pytest.mark.parametrize("lo, hi, n", [(0, 20, 5), (3, 9, 7), (5, 6, 3), (10, 20, 30), (-3, 4, 2)])
def test_draw_sorted_unique_within_range(lo, hi, n):
    pool, _ = _pool()
    d = pool.draw(lo, hi, n, np.random.default_rng(0))
    t, _, _ = pool.unravel(d)
    cand = pool.flat[(pool.unravel(pool.flat)[0] >= lo) & (pool.unravel(pool.flat)[0] < hi)]
    assert len(d) == min(n, len(cand)) == min(n, pool.count(lo, hi))
    assert np.all(np.diff(d) > 0)  # sorted and unique
    assert set(d.tolist()) <= set(cand.tolist())
    assert np.all((t >= lo) & (t < hi))


def test_draw_returns_all_when_short_or_exact():
    pool, _ = _pool()
    cand = pool.flat[pool.day_ptr[3] : pool.day_ptr[9]]
    for n in (len(cand), len(cand) + 1, 10 * len(cand)):
        np.testing.assert_array_equal(pool.draw(3, 9, n, np.random.default_rng(1)), cand)
    assert len(pool.draw(7, 8, 4, np.random.default_rng(1))) == 0  # empty day
    assert len(pool.draw(3, 9, 0, np.random.default_rng(1))) == 0


def test_draw_is_seeded_and_covers_every_candidate():
    pool, _ = _pool()
    a = pool.draw(0, 20, 10, np.random.default_rng(5))
    b = pool.draw(0, 20, 10, np.random.default_rng(5))
    np.testing.assert_array_equal(a, b)
    cand = pool.flat[pool.day_ptr[2] : pool.day_ptr[4]]
    seen = set()
    rng = np.random.default_rng(9)
    for _ in range(300):
        seen.update(pool.draw(2, 4, 2, rng).tolist())
    assert seen == set(cand.tolist())  # uniform without replacement reaches all of them


# ------------------------------------------------------------------------------ config


def test_config_validation():
    SampleConfig().validate()
    CFG.validate()
    with pytest.raises(ConfigError):
        cfg(m_lim=5.1).validate()
    with pytest.raises(ConfigError):
        cfg(patch=7).validate()
    with pytest.raises(ConfigError):
        cfg(lookback=1).validate()
    with pytest.raises(ConfigError):
        cfg(exclusion_after=-1).validate()
    assert SampleConfig().half == 16 and CFG.half == 4
