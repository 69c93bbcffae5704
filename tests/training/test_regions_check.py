"""``espb region check`` (espb.training.regions.check_config): the counts a run's settings
give, and for each way a run cannot train, a clear error whose fix, applied, trains (the
smoke catalog; seconds)."""

from __future__ import annotations

import re

import pytest

from espb.errors import ConfigError
from espb.training.regions import check_config
from tests.conftest import compose_train


@pytest.fixture(scope="module")
def out(tmp_path_factory):
    return tmp_path_factory.mktemp("region-check")


def _check(out, *overrides: str, cube: bool = True):
    cfg = compose_train("experiment=smoke", f"out_dir={out}", "run.progress=false", *overrides)
    return check_config(cfg, lambda line: None, cube=cube)


def test_the_smoke_preset_checks_ok_with_every_count(out):
    chk = _check(out)
    assert chk.ok, chk.lines()
    assert chk.n_events > 1000 and chk.n_in_both == chk.n_in_period
    assert chk.eq["n_eq"] > 0 and chk.eq["n_eq"] == chk.eq["n_eq_dev"] + chk.eq["n_eq_test"]
    assert chk.neq["pool"] > 0
    assert 0 < chk.cells["ever"] <= chk.cells["cells"] == 30 * 30
    assert chk.schedule["meta_epochs"] > 0
    assert chk.mc and chk.mc[0].isdigit()  # seismostats found an Mc
    text = "\n".join(chk.lines())
    for word in ("Mc ", "cells ", "EQ ", "development period", "nEQ ", "meta-epochs", "ok:"):
        assert word in text


def test_the_check_agrees_with_the_run(out):
    """The counts are the ones espb-train computes (same code path, same cube)."""
    from espb.progress import Reporter
    from espb.training.inputs import build_inputs
    from espb.training.plan import plan_run

    chk = _check(out)
    cfg = compose_train("experiment=smoke", f"out_dir={out}", "run.progress=false")
    inp = build_inputs(plan_run(cfg), Reporter(say=lambda line: None))
    assert len(inp.samples.eq) == chk.eq["n_eq"]
    assert len(inp.meta_epochs) == chk.schedule["meta_epochs"]


def test_a_grid_of_another_region_names_the_catalogs_region(out):
    """Japan's smoke catalog on Switzerland's grid: 0 EQ samples, and the fix is a region whose
    box holds the events, not 'a longer cube'."""
    chk = _check(out, "region=switzerland", cube=False)
    assert not chk.ok
    f = chk.problems[0]
    assert "no EQ sample" in f.problem and "none of the catalog's" in f.problem
    names = re.findall(r"region=(\w+) \(a preset", f.fix)
    assert names and names[0] in ("smoke", "demo", "sweep_demo", "japan_paper")
    assert "region=auto" in f.fix
    with pytest.raises(ConfigError, match="region 'switzerland': no EQ sample"):
        chk.raise_if_problems()
    assert _check(out, f"region={names[0]}", cube=False).ok  # the fix fixes it


def test_dates_past_the_catalog_say_so(out):
    chk = _check(out, "region.start=2015-01-01", "region.end=2016-12-31", cube=False)
    f = chk.problems[0]
    assert "no EQ sample" in f.problem
    assert "region.start=2010-01-01" in f.fix and "region.end=2011-12-31" in f.fix


def test_a_patch_larger_than_the_grid_lists_the_valid_patches(out):
    chk = _check(out, "region.patch=64", cube=False)
    f = chk.problems[0]
    assert "30 x 30 cells" in f.problem and "64-cell patch" in f.problem
    assert "[2, 4, 8, 16]" in f.fix and "samples.patch=16" in f.fix
    assert _check(out, "region.patch=16", cube=False).ok


def test_a_patch_whose_border_rule_drops_every_target(out):
    """A 32-cell patch fits no centre of a 30-cell grid: said as a grid/patch problem."""
    chk = _check(out, "region.patch=32", cube=False)
    assert not chk.ok
    assert "samples.patch=16" in chk.problems[0].fix


def test_no_meta_epoch_says_why_and_the_fix_trains(out):
    chk = _check(out, "training.l_me=400")
    assert not chk.ok
    f = chk.problems[0]
    assert f.problem.startswith("no meta-epoch")
    m = re.search(r"training\.l_me \(<= (\d+) d", f.fix) or re.search(r"warmup <= (\d+)", f.fix)
    assert m, f.fix
    assert "longer cube" not in f.fix  # the old, wrong advice
    assert _check(out, "training.l_me=21").ok


def test_no_neq_candidate_names_min_mean_events(out):
    chk = _check(out, "samples.min_mean_events=1e6")
    assert not chk.ok
    f = chk.problems[0]
    assert "no nEQ candidate" in f.problem and "samples.min_mean_events below" in f.fix
    top = float(re.search(r"below ([\d.e+]+) \(", f.fix).group(1))
    assert _check(out, f"samples.min_mean_events={top / 2:.3g}").ok


def test_training_refuses_before_building_a_cube(out, monkeypatch):
    """espb-train runs the same preflight: the error comes before any cube is built."""
    import espb.training.inputs as inputs
    from espb.progress import Reporter
    from espb.training.plan import plan_run

    def no_cube(*a, **k):
        raise AssertionError("a cube was built for a config that cannot train")

    monkeypatch.setattr(inputs, "load_cube", no_cube)
    cfg = compose_train(
        "experiment=smoke", f"out_dir={out}", "run.progress=false", "region=switzerland"
    )
    with pytest.raises(ConfigError, match="no EQ sample"):
        inputs.build_inputs(plan_run(cfg), Reporter(say=lambda line: None))


def test_region_auto_on_the_smoke_catalog(out):
    from espb.catalog.region import load_region

    lines: list[str] = []
    cfg = compose_train("experiment=smoke", f"out_dir={out}", "run.progress=false", "region=auto")
    chk = check_config(cfg, lines.append, cube=False)
    assert chk.ok, chk.lines()
    assert any(line.startswith("region=auto chose: box") for line in lines)
    kept = list((out / "regions").glob("auto-*.yaml"))
    assert len(kept) == 1
    spec = load_region(kept[0])
    b = spec.box  # the smoke catalog's 37.5-40.5 N x 140.5-143.5 E, trimmed by 0.5 % a side
    assert 37.4 <= b[0] < b[1] <= 40.6 and 140.4 <= b[2] < b[3] <= 143.6


def test_targets_before_the_first_forecast_day(out):
    """The targets lie before start + lookback: said so, with the first forecast day."""
    chk = _check(out, "region.start=2011-09-01", cube=False)
    f = chk.problems[0]
    assert "outside the forecast days (2011-11-04, start + samples.lookback=64 days" in f.problem
    assert "region.start" in f.fix and "samples.lookback" in f.fix
