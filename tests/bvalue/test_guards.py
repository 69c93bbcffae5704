"""Bad cube settings and degenerate cubes (issue 12 "tracebacks and degenerate results", issue 15
"errors, not empty results"): every absurd number is a ConfigError naming the key, a grid too
large for memory is refused before anything is allocated, a cube with no event in its box is an
error naming the catalog's extent, a cube beyond the catalog's time range is flagged, and an
all-zero cube is an error."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import espb.bvalue.cube as cube_mod
import espb.bvalue.guards as guards
from espb.bvalue.cache import CoverageWarning, get_cube
from espb.bvalue.config import load_cube_config
from espb.bvalue.cube import build_cube
from espb.bvalue.guards import assess_coverage, require_events
from espb.errors import ConfigError, EspbError

from .helpers import events_frame

BAD = [
    ({"dr": float("inf")}, ["dr=inf", "finite"]),
    ({"dr": float("nan")}, ["dr=nan"]),
    ({"dr": 0.0}, ["dr=0.0"]),
    ({"dr": -0.2}, ["dr=-0.2"]),
    ({"dr": 500.0}, ["dr=500.0", "90"]),
    ({"metric": "greatcircle", "dr_km": float("inf")}, ["dr_km=inf"]),
    ({"dt": 0}, ["dt=0"]),
    ({"dt": 10**20}, ["dt=100000000000000000000", "36525"]),
    ({"resolution": 0.0}, ["resolution=0.0"]),
    ({"resolution": -0.1}, ["resolution=-0.1"]),
    ({"resolution": float("inf")}, ["resolution=inf"]),
    ({"resolution": float("nan")}, ["resolution=nan"]),
    ({"resolution": 20.0}, ["resolution=20", "larger than"]),
    ({"region": [46.0, 35.0, 135.0, 146.0]}, ["region", "lat_min < lat_max"]),
    ({"region": [35.0, 95.0, 135.0, 146.0]}, ["region", "-90"]),
    ({"region": [35.0, 46.0, -200.0, 146.0]}, ["region", "-180"]),
    ({"region": [35.0, 46.0, -180.0, 359.0]}, ["region", "360"]),
    ({"region": [float("nan"), 46.0, 135.0, 146.0]}, ["region", "finite"]),
    ({"start": "yesterday"}, ["start='yesterday'", "YYYY-MM-DD"]),
    ({"start": "2000-13-45"}, ["start='2000-13-45'"]),
    ({"start": "1500-01-01"}, ["start='1500-01-01'", "1800-01-01"]),
    ({"end": "2300-01-01"}, ["end='2300-01-01'", "2200-12-31"]),
    ({"start": "1700-01-01"}, ["start='1700-01-01'", "1800-01-01"]),
    ({"mode": "classic", "threshold": float("nan")}, ["threshold=nan"]),
    ({"mode": "classic", "threshold": float("inf")}, ["threshold=inf"]),
    ({"threshold": -0.5}, ["threshold=-0.5", ">= 0"]),
    ({"mode": "binned", "delta_m": float("inf")}, ["delta_m=inf"]),
    ({"b_max": float("inf")}, ["b_max=inf"]),
    ({"b_max": float("nan")}, ["b_max=nan"]),
]


@pytest.mark.parametrize(("fields", "words"), BAD, ids=[str(b[0]) for b in BAD])
def test_absurd_settings_are_config_errors_naming_the_key(fields, words):
    with pytest.raises(ConfigError) as ei:
        load_cube_config("paper", **fields)
    for w in words:
        assert w in str(ei.value), (w, str(ei.value))


def test_the_presets_still_validate():
    for name in ("paper", "paper_test", "demo", "smoke", "sweep_demo"):
        load_cube_config(name)


def _few_events(lat0=38.0, lon0=142.0, n=200, start="2010-01-01", days=500, seed=0):
    rng = np.random.default_rng(seed)
    t = pd.Timestamp(start, tz="UTC") + pd.to_timedelta(rng.uniform(0, days, n), unit="D")
    return events_frame(
        lat0 + rng.uniform(-0.5, 0.5, n),
        lon0 + rng.uniform(-0.5, 0.5, n),
        np.round(2.0 + rng.exponential(0.45, n), 1),
        t.sort_values(),
    )


SMALL = {"region": [37.5, 38.5, 141.5, 142.5], "start": "2010-03-01", "end": "2011-04-30"}


def test_a_grid_too_large_for_memory_is_refused_before_allocating(monkeypatch):
    ev = _few_events()
    # 10 PB of cell-days: refused with its size and the fix; numpy never asked for memory
    huge = load_cube_config("paper", resolution=0.001)
    zeros = np.zeros

    def no_big_alloc(shape, *a, **k):
        assert np.prod(shape) < 10**8, f"allocated {shape}"
        return zeros(shape, *a, **k)

    monkeypatch.setattr(cube_mod.np, "zeros", no_big_alloc)
    with pytest.raises(ConfigError) as ei:
        build_cube(ev, huge)
    msg = str(ei.value)
    assert "7,305 days x 11,000 x 11,000 cells" in msg and "GiB" in msg
    assert "coarser resolution" in msg and "smaller region" in msg
    # a small cube (0.5 MB) against a machine that has 64 KiB left
    monkeypatch.setattr(guards, "available_memory_bytes", lambda: 2**16)
    with pytest.raises(ConfigError, match=r"0\.0 GiB of memory available"):
        build_cube(ev, load_cube_config("paper", **SMALL))


def test_a_radius_whose_lists_exceed_memory_is_refused(monkeypatch):
    ev = _few_events(n=3000)
    wide = {**SMALL, "region": [37.5, 38.5, 137.0, 147.0]}  # 10 x 100 cells
    cfg = load_cube_config("paper", **wide, dr=60.0)  # every event pairs with every cell
    nt, ny, nx = guards.grid_shape(cfg)
    arrays = nt * ny * nx * 12
    monkeypatch.setattr(guards, "available_memory_bytes", lambda: 2 * arrays)
    # the arrays fit (0.8 * 2 * arrays), one stripe's lists (3000 x 8 x 100 x 4 bytes) do not
    assert 3000 * 8 * 100 * 4 > 0.8 * 2 * arrays > arrays
    with pytest.raises(ConfigError, match=r"dr=60.*\(event, cell\) pairs.*smaller dr"):
        build_cube(ev, cfg)
    build_cube(ev, load_cube_config("paper", **wide, dr=0.25))  # a sane radius passes


def test_no_event_in_the_box_names_the_extent_and_the_fix(tmp_path):
    ev = _few_events(lat0=33.0, lon0=-117.0)  # California, against a grid off Japan
    cfg = load_cube_config("paper", **SMALL)
    with pytest.raises(EspbError) as ei:
        get_cube(ev, cfg, tmp_path)
    msg = str(ei.value)
    assert "the catalog's 200 events lie in 32.50 to 33.50 N, -117.50 to -116.50 E" in msg
    assert "37.50 to 38.50 N, 141.50 to 142.50 E" in msg and "none in its box" in msg
    assert "longitude conventions" not in msg
    assert "--region" in msg and "bvalue.region" in msg
    assert not (tmp_path / "cubes").exists() or not list((tmp_path / "cubes").glob("*.zarr"))
    # right box, wrong years: the fix is the dates
    late = load_cube_config("paper", **{**SMALL, "start": "2016-01-01", "end": "2016-12-31"})
    with (
        pytest.raises(EspbError, match=r"none in the cube's period.*--start/--end"),
        pytest.warns(CoverageWarning),
    ):
        get_cube(_few_events(), late, tmp_path)
    # a 0..360 grid against a -180..180 catalog: the hint says so
    east = load_cube_config("paper", **{**SMALL, "region": [32.5, 33.5, 242.5, 243.5]})
    with pytest.raises(EspbError, match="longitude conventions"):
        require_events(assess_coverage(ev, east), east)


def test_a_cube_beyond_the_catalog_is_flagged_and_warned(tmp_path):
    ev = _few_events(days=400)  # 2010-01-01 .. ~2011-02-04
    ok = load_cube_config("paper", **{**SMALL, "end": "2011-02-20"})
    assert assess_coverage(ev, ok).warning == ""
    late = load_cube_config("paper", **{**SMALL, "end": "2013-06-30"})
    cov = assess_coverage(ev, late)
    assert cov.days_after_end > 800 and "past the catalog's last event" in cov.warning
    with pytest.warns(CoverageWarning, match="past the catalog's last event"):
        r = get_cube(ev, late, tmp_path)
    ds = r.open()
    assert ds.attrs["beyond_catalog_range"] == 1 and ds.attrs["coverage_warning"] == cov.warning
    assert ds.attrs["days_after_catalog_end"] == cov.days_after_end
    said = []
    r2 = get_cube(ev, late, tmp_path, on_wait=said.append)  # a cache hit warns too
    assert not r2.built and r2.warnings == [cov.warning] and said == [f"WARNING: {cov.warning}"]
    early = load_cube_config("paper", **{**SMALL, "start": "2008-01-01"})
    assert "before the catalog's first event" in assess_coverage(ev, early).warning
    assert get_cube(ev, ok, tmp_path).open().attrs["beyond_catalog_range"] == 0


def test_tolerance_boundary():
    ev = events_frame([38.0, 38.0], [142.0, 142.0], [2.0, 2.5], ["2010-03-01", "2010-06-01"])
    tol = guards.COVERAGE_TOLERANCE_DAYS
    at = load_cube_config(
        "paper",
        **{**SMALL, "end": str((pd.Timestamp("2010-06-01") + pd.Timedelta(days=tol)).date())},
    )
    past = load_cube_config(
        "paper",
        **{**SMALL, "end": str((pd.Timestamp("2010-06-01") + pd.Timedelta(days=tol + 1)).date())},
    )
    assert assess_coverage(ev, at).warning == ""
    assert assess_coverage(ev, past).days_after_end == tol + 1 and assess_coverage(ev, past).warning


def test_an_all_zero_cube_is_an_error_with_the_cause(tmp_path):
    ev = _few_events()
    classic = load_cube_config("paper", **SMALL, mode="classic", threshold=8.0)
    with pytest.raises(EspbError, match=r"every b value of the cube is 0.*Mc"):
        get_cube(ev, classic, tmp_path)
    flat = ev.assign(mw=0.0)  # placeholder magnitudes
    with pytest.raises(EspbError, match="placeholder"):
        get_cube(flat, load_cube_config("paper", **SMALL), tmp_path)
    assert not list((tmp_path / "cubes").glob("*.zarr"))  # nothing degenerate was cached
