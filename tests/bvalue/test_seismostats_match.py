"""On real catalogs, the cube's ``binned`` mode equals seismostats' BPositiveBValueEstimator.

Catalogs: the shared USGS ComCat Japan extract (M >= 4.5, 2000-2026) and the SED catalog in
the seismostats wheel. Magnitudes are binned at 0.1 (the mode's assumption). For a sample of
cylinders the events are selected independently of the cube (distance and day window), handed
to seismostats with their times, and its b (clipped to [0, 2] as the paper's rule) must equal
the cube's value.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from espb.bvalue.config import CubeConfig
from espb.bvalue.cube import build_cube
from espb.bvalue.grid import day_index, within_radius
from espb.catalog.build import FilterConfig, IngestConfig
from espb.catalog.magnitudes import MagnitudeConfig
from espb.catalog.readers import ingest

seismostats = pytest.importorskip("seismostats")
from seismostats.analysis import BPositiveBValueEstimator  # noqa: E402

SED_MAPPING = {
    "event_type": "event_type",
    "time": "time",
    "latitude": "latitude",
    "longitude": "longitude",
    "depth": "depth",
    "mag": "magnitude",
    "mag_type": "magnitude_type",
}


def _binned_ingest() -> IngestConfig:
    return IngestConfig(
        magnitudes=MagnitudeConfig(mw_round=0.1),
        filters=FilterConfig(region=None, max_depth_km=None),
    )


def compare_with_seismostats(events: pd.DataFrame, cfg: CubeConfig, n_sample: int, min_used: int):
    ds, _ = build_cube(events, cfg)
    b = ds["b"].values
    used = ds["n_used"].values
    cand = np.argwhere(used >= min_used)
    assert len(cand) >= n_sample, f"only {len(cand)} cylinders with >= {min_used} differences"
    rng = np.random.default_rng(0)
    pick = cand[rng.choice(len(cand), n_sample, replace=False)]
    ev_day = day_index(events["time"], cfg.start_ts)
    times = pd.DatetimeIndex(events["time"]).as_unit("ns").asi8
    lat = events["latitude"].to_numpy()
    lon = events["longitude"].to_numpy()
    mw = events["mw"].to_numpy()
    unclipped = 0
    for d, i, j in pick:
        sel = within_radius(lat, lon, float(ds.lat[i]), float(ds.lon[j]), cfg.metric, cfg.dr)
        sel &= (ev_day <= d) & (ev_day > d - cfg.dt)
        mags = mw[sel]
        est = BPositiveBValueEstimator()
        want = est.calculate(
            mags,
            mc=float(mags.min()),
            delta_m=cfg.delta_m,
            times=times[sel],
            dmc=cfg.effective_threshold,
        )
        assert len(est.magnitudes) == used[d, i, j]  # same differences used
        clipped = min(max(want, 0.0), cfg.b_max) if np.isfinite(want) else cfg.b_max
        unclipped += 0 < want < cfg.b_max
        assert b[d, i, j] == pytest.approx(clipped, rel=2e-6, abs=2e-6), (d, i, j, want)
    assert unclipped >= n_sample // 2  # most comparisons are of real estimates, not of the clip


def test_comcat_japan_binned_matches_seismostats(real_comcat: Path) -> None:
    events, _, _ = ingest(real_comcat, "comcat", _binned_ingest())
    cfg = CubeConfig(
        name="comcat",
        start="2008-01-01",
        end="2012-12-31",
        region=[35.0, 42.0, 138.0, 145.0],
        resolution=0.5,
        dr=1.0,
        dt=730,
        mode="binned",
    )
    compare_with_seismostats(events, cfg, n_sample=60, min_used=8)


def test_sed_catalog_binned_matches_seismostats(seismostats_dir: Path) -> None:
    path = seismostats_dir / "analysis/tests/data/catalog_sed.csv"
    events, _, _ = ingest(path, "csv", _binned_ingest(), mapping=SED_MAPPING, depth_unit="m")
    t = pd.DatetimeIndex(events["time"])
    cfg = CubeConfig(
        name="sed",
        start=str(t.min().date()),
        end=str(t.max().date()),
        region=[45.5, 48.0, 5.5, 11.0],
        resolution=0.1,
        dr=0.4,
        dt=365,
        mode="binned",
        threshold=0.2,
    )
    compare_with_seismostats(events, cfg, n_sample=60, min_used=8)
