"""The paper's Figure 1 (events coloured by depth, scaled by magnitude): data, then drawing."""

from __future__ import annotations

from pathlib import Path

import matplotlib.image as mpimg
import numpy as np
import pandas as pd

from espb.catalog.build import IngestConfig
from espb.catalog.figures import draw_figure1, figure1_data, marker_area
from espb.catalog.readers import ingest
from espb.catalog.schema import load_events, save_events


def test_figure1_data_from_the_ingested_table(real_comcat: Path, tmp_path: Path) -> None:
    ev, _, meta = ingest(real_comcat, "comcat", IngestConfig())
    df = load_events(save_events(ev, tmp_path / "t.parquet", meta))
    d = figure1_data(df)
    assert d.region == (35.0, 46.0, 135.0, 146.0)  # the ingest's region, from the metadata
    assert d.depth_max == 70.0  # the ingest's depth limit tops the colour scale
    assert np.all(np.diff(d.mw) >= 0)  # largest events drawn last (on top)
    assert np.all(np.diff(d.size) >= 0) and d.size[-1] > 50 * d.size[0]
    assert len(d.mw) == len(df) and set(d.legend_mw) <= set(np.arange(5.0, 10.0))
    assert sorted(d.depth) == sorted(df["depth"])
    sub = figure1_data(df, start="2011-03-11", end="2011-03-11", region=[36, 41, 140, 145])
    assert len(sub.mw) == int((df["time"].dt.date == pd.Timestamp("2011-03-11").date()).sum())
    assert sub.region == (36.0, 41.0, 140.0, 145.0) and "2011-03-11" in sub.title
    png = draw_figure1(d, tmp_path / "fig1.png")
    img = mpimg.imread(png)
    assert img.shape[0] > 800 and img.shape[1] > 800
    assert img[..., :3].std() > 0.05  # not a blank canvas
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


def test_marker_area_grows_with_magnitude() -> None:
    a = marker_area(np.array([3.0, 5.0, 7.0, 9.0]))
    assert np.allclose(a[1:] / a[:-1], 9.0) and a[0] == 0.2
