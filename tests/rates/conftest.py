"""Shared fixtures of the rate-forecast tests: the smoke synthetic catalog and its settings."""

from __future__ import annotations

import pandas as pd
import pytest

from espb.rates.config import DataConfig


@pytest.fixture(scope="session")
def smoke_events() -> pd.DataFrame:
    from espb.catalog.synthetic.config import load_synth_config
    from espb.catalog.synthetic.generate import synthesize

    return synthesize(load_synth_config("smoke")).events


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
