"""Shared fixtures of the rate-forecast tests: the smoke synthetic catalog and its settings."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from espb.rates.config import DataConfig


@pytest.fixture(scope="session")
def smoke_synth():
    """The smoke synthetic catalog (seed 0, planted precursors), generated once."""
    from espb.catalog.synthetic.config import load_synth_config
    from espb.catalog.synthetic.generate import synthesize

    return synthesize(load_synth_config("smoke", ["seed=0", "precursors.mode=planted"]))


@pytest.fixture(scope="session")
def smoke_events(smoke_synth) -> pd.DataFrame:
    return smoke_synth.events


@pytest.fixture()
def smoke_data() -> DataConfig:
    """conf/rates/preset/rate_smoke.yaml's data section."""
    return DataConfig(
        region=[37.5, 40.5, 140.5, 143.5],
        cell_deg=1.0,
        period_days=7,
        start="2010-01-01",
        end="2011-12-31",
        m_min=3.0,
        magnitude="mw",
    )


@pytest.fixture(scope="session")
def out_template(tmp_path_factory: pytest.TempPathFactory, smoke_synth):
    """An output folder made once per session: an MLflow store with its tables (creating them
    runs MLflow's migrations, ~10 s) and the smoke synthetic catalog where
    espb.catalog.source.catalog_path keeps it. Tests copy it."""
    from espb.catalog.schema import save_events
    from espb.catalog.source import CatalogSource, synthetic_path
    from espb.tracking import tracker_for

    out = tmp_path_factory.mktemp("rates-template") / "out"
    tracker_for({}, out, "template")
    path = synthetic_path(CatalogSource(synthetic="smoke"), out)
    path.parent.mkdir(parents=True)
    save_events(smoke_synth.events, path, smoke_synth.meta)
    smoke_synth.plants.to_parquet(path.with_name(path.stem + ".plants.parquet"), index=False)
    return out


@pytest.fixture()
def out_dir(tmp_path, out_template):
    """A fresh output folder (a copy of :func:`out_template`) at ``tmp_path / "out"``."""
    import shutil

    return Path(shutil.copytree(out_template, tmp_path / "out"))
