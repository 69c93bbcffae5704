"""The fast cube equals the brute-force reference, cylinder by cylinder (hypothesis).

Random small catalogs with the edge cases the kernel must get right: empty cells, single
events, equal magnitudes, ties in time, events exactly on the radius (lattice positions) and
exactly on day boundaries (midnight, one nanosecond before), events before the cube's start
(lookback) and after its end.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from espb.bvalue.config import CubeConfig
from espb.bvalue.cube import build_cube
from espb.bvalue.reference import reference_cube

from .helpers import START, at_day, events_frame

REGION = [35.0, 35.3, 140.0, 140.4]  # 3 x 4 cells
N_DAYS = 18

lattice = st.integers(-3, 9).map(lambda k: 0.05 * k)  # cell centres and edges, on-radius cases
free = st.floats(-0.3, 0.7, allow_nan=False)
# a hair off the lattice: inside or outside the radius tolerance (relative 1e-9 of dr^2)
near = st.tuples(lattice, st.sampled_from([-1e-9, -1e-12, -7e-13, 7e-13, 1e-12, 1e-9])).map(sum)
coord = st.one_of(lattice, lattice, near, free)
seconds = st.one_of(st.just(0.0), st.just(86_400 - 1e-9), st.floats(0, 86_399.999))
bin_mags = st.sampled_from([2.0, 2.1, 2.2, 2.5, 3.0, 3.0, 3.4])


@st.composite
def catalogs(draw, binned: bool):
    n = draw(st.integers(0, 40))
    mags = st.one_of(bin_mags, bin_mags) if binned else st.one_of(bin_mags, st.floats(1.0, 4.0))
    rows = draw(
        st.lists(
            st.tuples(coord, coord, st.integers(-12, N_DAYS + 3), seconds, mags),
            min_size=n,
            max_size=n,
        )
    )
    if rows and draw(st.booleans()):  # exact time ties
        rows.append(rows[0][:4] + (draw(mags),))
    lat = [REGION[0] + r[0] for r in rows]
    lon = [REGION[2] + r[1] for r in rows]
    times = [at_day(r[2], r[3]) for r in rows]
    return events_frame(lat, lon, [r[4] for r in rows], times)


def cube_cfg(draw, mode: str) -> CubeConfig:
    cfg = CubeConfig(
        name="prop",
        start=START,
        end=str((pd.Timestamp(START) + pd.Timedelta(days=N_DAYS - 1)).date()),
        region=list(REGION),
        dr=draw(st.sampled_from([0.05, 0.1, 0.15, 0.25])),
        dt=draw(st.integers(1, 15)),
        mode=mode,
        metric=draw(st.sampled_from(["planar", "greatcircle"])),
        b_max=draw(st.sampled_from([2.0, 2.0, 5.0])),
    )
    if mode == "classic":
        cfg.threshold = draw(st.sampled_from([2.0, 2.2, 2.5]))
        cfg.delta_m = draw(st.sampled_from([0.0, 0.1]))
    elif mode == "binned":
        cfg.threshold = draw(st.sampled_from([None, 0.1, 0.2, 0.3]))
    else:
        cfg.threshold = draw(st.sampled_from([None, 0.0, 0.05, 0.3]))
    cfg.validate()
    return cfg


def assert_cube_matches_reference(events: pd.DataFrame, cfg: CubeConfig) -> None:
    ds, _ = build_cube(events, cfg)
    ref = reference_cube(events, cfg)
    np.testing.assert_array_equal(ds["n_events"].values, ref["n_events"])
    np.testing.assert_array_equal(ds["n_used"].values, ref["n_used"])
    np.testing.assert_allclose(ds["b"].values, ref["b"], rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("mode", ["paper", "binned", "classic"])
@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_fast_cube_equals_reference(mode: str, data) -> None:
    events = data.draw(catalogs(binned=mode != "paper"))
    cfg = cube_cfg(data.draw, mode)
    assert_cube_matches_reference(events, cfg)


def test_dense_catalog_with_all_modes() -> None:
    """A denser random catalog (hundreds of events per cylinder) for the prefix-sum precision."""
    rng = np.random.default_rng(7)
    n = 3000
    lat = REGION[0] + rng.uniform(-0.2, 0.5, n)
    lon = REGION[2] + rng.uniform(-0.2, 0.6, n)
    days = rng.integers(-20, N_DAYS + 2, n)
    secs = rng.uniform(0, 86_400, n)
    mags = np.round(1.5 + rng.exponential(0.43, n), 1)
    ev = events_frame(
        lat, lon, mags, [at_day(int(d), float(s)) for d, s in zip(days, secs, strict=True)]
    )
    for mode, thr in (("paper", None), ("paper", 0.05), ("binned", None), ("classic", 1.5)):
        for metric in ("planar", "greatcircle"):
            cfg = CubeConfig(
                name="dense",
                start=START,
                end="2020-01-18",
                region=list(REGION),
                dr=0.15,
                dt=10,
                mode=mode,
                threshold=thr,
                metric=metric,
            )
            assert_cube_matches_reference(ev, cfg)
    ds, _ = build_cube(ev, cfg)
    assert (ds["n_events"].values > 100).mean() > 0.5  # the test really is dense


def test_on_radius_at_the_grid_edge() -> None:
    """Regression (found by the property test): an event a hair beyond dr (within the radius
    tolerance) outside the grid's edge, e.g. at 34.99999999999926 for the first row's centre
    35.05 and dr 0.05, was dropped by the kernel's latitude band filter before the distance test."""
    eps = 7.4e-13
    for lat, lon in (
        (35.0 - eps, 140.05),
        (35.3 + eps, 140.05),
        (35.05, 140.0 - eps),
        (35.25, 140.4 + eps),
    ):
        ev = events_frame([lat], [lon], [2.0], [at_day(0)])
        cfg = CubeConfig(
            name="edge", start=START, end="2020-01-02", region=list(REGION), dr=0.05, dt=1
        )
        ds, _ = build_cube(ev, cfg)
        assert ds["n_events"].values[0].sum() == 1, (lat, lon)
        assert_cube_matches_reference(ev, cfg)


def test_radius_boundary_and_day_boundaries() -> None:
    """Deterministic edge cases: on the radius counts, just beyond does not; day = UTC date."""
    c_lat, c_lon = 35.05, 140.05  # centre of cell (0, 0)
    dr = 0.1
    ev = events_frame(
        lat=[c_lat + dr, c_lat, c_lat + dr + 1e-6, c_lat, c_lat],
        lon=[c_lon, c_lon - dr, c_lon, c_lon, c_lon],
        mw=[2.0, 2.5, 9.0, 3.0, 3.5],
        time=[at_day(2), at_day(2, 86_400 - 1e-9), at_day(2), at_day(3), at_day(5, 86_399)],
    )
    cfg = CubeConfig(
        name="edge", start=START, end="2020-01-08", region=list(REGION), dr=dr, dt=2, mode="paper"
    )
    ds, _ = build_cube(ev, cfg)
    n = ds["n_events"].values[:, 0, 0]
    # day 2: the two on-radius events; day 3: those + the midnight event; day 4: window [3, 4]
    assert n.tolist() == [0, 0, 2, 3, 1, 1, 1, 0]
    b = ds["b"].values[:, 0, 0]
    assert b[2] == pytest.approx(np.log10(np.e) / 0.5, rel=1e-6)  # 2.0 -> 2.5
    assert b[3] == pytest.approx(np.log10(np.e) / 0.5, rel=1e-6)  # +0.5, +0.5
    assert b[4] == 0.0  # one event
    assert_cube_matches_reference(ev, cfg)


def test_empty_catalog_gives_zero_cube() -> None:
    ev = events_frame([], [], [], [])
    cfg = CubeConfig(name="empty", start=START, end="2020-01-05", region=list(REGION))
    ds, _ = build_cube(ev, cfg)
    assert ds["b"].shape == (5, 3, 4)
    assert not ds["b"].values.any() and not ds["n_events"].values.any()


def test_greatcircle_radius_boundary() -> None:
    """greatcircle: an event exactly dr_km due north or east counts; 1 m further does not."""
    import math

    from espb.bvalue.grid import EARTH_RADIUS_KM

    c_lat, c_lon, r_km = 35.05, 140.05, 10.0
    dlat = math.degrees(r_km / EARTH_RADIUS_KM)
    dlat_out = math.degrees((r_km + 0.001) / EARTH_RADIUS_KM)
    # due east along the small circle is *not* the great-circle distance: solve haversine for dlon
    phi = math.radians(c_lat)
    dlon = math.degrees(2 * math.asin(math.sin(r_km / (2 * EARTH_RADIUS_KM)) / math.cos(phi)))
    dlon_out = math.degrees(
        2 * math.asin(math.sin((r_km + 0.001) / (2 * EARTH_RADIUS_KM)) / math.cos(phi))
    )
    ev = events_frame(
        lat=[c_lat + dlat, c_lat, c_lat + dlat_out, c_lat],
        lon=[c_lon, c_lon + dlon, c_lon, c_lon + dlon_out],
        mw=[2.0, 2.5, 3.0, 3.5],
        time=[at_day(1), at_day(1, 10), at_day(1, 20), at_day(1, 30)],
    )
    cfg = CubeConfig(
        name="gc",
        start=START,
        end="2020-01-03",
        region=list(REGION),
        dr=0.1,
        dr_km=r_km,
        metric="greatcircle",
        dt=3,
    )
    ds, _ = build_cube(ev, cfg)
    assert ds["n_events"].values[1, 0, 0] == 2
    assert_cube_matches_reference(ev, cfg)
