"""Small builders shared by the b-value tests."""

from __future__ import annotations

import numpy as np
import pandas as pd

from espb.catalog.schema import normalize

START = "2020-01-01"


def events_frame(lat, lon, mw, time) -> pd.DataFrame:
    """An espb event table from columns (times: anything pandas parses as UTC)."""
    n = len(mw)
    df = pd.DataFrame(
        {
            "event_id": [f"e{i:05d}" for i in range(n)],
            "time": pd.to_datetime(pd.Series(time), utc=True),
            "latitude": np.asarray(lat, dtype="float64"),
            "longitude": np.asarray(lon, dtype="float64"),
            "depth": np.full(n, 10.0),
            "mw": np.asarray(mw, dtype="float64"),
            "mag": np.asarray(mw, dtype="float64"),
            "mag_type": ["Mw"] * n,
            "mag_author": ["TEST"] * n,
            "source": ["test"] * n,
        }
    )
    return normalize(df)


def at_day(day: int, seconds: float = 0.0, start: str = START) -> pd.Timestamp:
    """The instant ``seconds`` after midnight UTC of day ``day`` counted from ``start``."""
    return pd.Timestamp(start, tz="UTC") + pd.Timedelta(days=day) + pd.Timedelta(seconds=seconds)
