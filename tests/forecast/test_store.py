"""The forecast cache: a second call is a hit, another setting a miss, a broken store is
rebuilt; the cube's layout and attributes."""

from __future__ import annotations

import json

import numpy as np

from espb.bvalue.cache import MANIFEST
from espb.forecast.api import forecast_run
from espb.forecast.calibration import CalibrationConfig

from .helpers import grid, inputs, make_run, random_cube, random_events


def test_cache_hit_miss_and_rebuild(tmp_path):
    run = make_run(tmp_path / "run", 32, 8, 10, [2, 4, 7], 120)
    b = random_cube(120, 12, 12)
    ev = random_events(grid(120, 12, 12), 50)
    said: list[str] = []
    kw = dict(cache_dir=tmp_path / "cache", inputs=inputs(run, b, ev), say=said.append)
    a = forecast_run(run, "all", **kw)
    assert said[-1].endswith("computed")
    a2 = forecast_run(run, "all", **kw)
    assert said[-1].endswith("from cache")
    assert np.array_equal(a["probability"].values, a2["probability"].values, equal_nan=True)
    c = forecast_run(run, "all", calibration=CalibrationConfig(method="none"), **kw)
    assert said[-1].endswith("computed")
    assert c.attrs["forecast_key"] != a.attrs["forecast_key"]
    np.testing.assert_array_equal(c["probability"].values, c["score"].values)
    t = forecast_run(run, "test", **kw)
    assert said[-1].endswith("computed") and t.sizes["time"] < a.sizes["time"]
    # a store without its manifest is not trusted: computed again
    stores = sorted((tmp_path / "cache" / "forecasts").glob("fc-*.zarr"))
    assert len(stores) == 3
    for s in stores:
        (s / MANIFEST).unlink()
    forecast_run(run, "all", **kw)
    assert said[-1].endswith("computed")
    # layout: whole grid, NaN outside the eligible cells, CF attributes
    assert a["score"].dims == ("time", "lat", "lon") and a.sizes["lat"] == 12
    assert np.isnan(a["score"].values[:, :4]).all() and np.isnan(a["score"].values[:, :, 9:]).all()
    assert a["probability"].attrs["units"] == "1" and a.attrs["Conventions"] == "CF-1.10"
    assert a.attrs["config_hash"] == "fakehashrun"
    assert json.loads(a.attrs["settings"])["snapshot"] == "time_forward"
    snap = a["snapshot"].values
    assert (snap[: 2 * 10] == -1).all() and set(snap[snap >= 0]) == {0, 1, 2}
    scored = snap >= 0
    assert np.isfinite(a["score"].values[scored][:, 4:9, 4:9]).all()
