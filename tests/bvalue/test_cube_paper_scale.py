"""Full-scale check (slow): the paper-size cube from the paper-scale synthetic catalog."""

from __future__ import annotations

import numpy as np
import pytest

from espb.bvalue.cache import get_cube
from espb.bvalue.config import load_cube_config
from espb.bvalue.reference import reference_values
from espb.catalog.synthetic.config import load_synth_config
from espb.catalog.synthetic.generate import synthesize


@pytest.mark.slow
def test_paper_size_cube_time_and_values(tmp_path) -> None:
    events = synthesize(load_synth_config("paper")).events
    cfg = load_cube_config("paper", ["dr=0.65", "dt=730"])
    get_cube(
        events, load_cube_config("paper", ["dr=0.65", "dt=730", "end=2000-01-10"]), tmp_path
    )  # JIT
    res = get_cube(events, cfg, tmp_path)
    assert res.built
    assert res.stats["total_s"] <= 60.0, res.stats  # the target on 2 cores
    ds = res.open()
    assert ds["b"].shape == (7305, 110, 110)
    rng = np.random.default_rng(5)
    cells = [tuple(int(x) for x in rng.integers(0, 110, 2)) for _ in range(6)]
    days = sorted(int(d) for d in rng.integers(0, 7305, 5))
    ref = reference_values(events, cfg, cells, days)
    for c, (i, j) in enumerate(cells):
        got = ds["b"].isel(lat=i, lon=j).values[days]
        np.testing.assert_allclose(got, ref["b"][:, c], atol=1e-5)
        np.testing.assert_array_equal(
            ds["n_events"].isel(lat=i, lon=j).values[days], ref["n_events"][:, c]
        )
    assert (ref["n_events"] > 0).mean() > 0.5
