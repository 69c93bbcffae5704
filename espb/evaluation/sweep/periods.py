"""The periods of paper Appendix C.1 by a sample's forecast day, and their table columns."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

#: the periods of paper Appendix C.1 by the sample's forecast day, inclusive day boundaries
#: (None: open end); T_all is the whole range
PERIODS: dict[str, tuple[pd.Timestamp | None, pd.Timestamp | None]] = {
    "T_all": (None, None),
    "T1": (None, pd.Timestamp("2006-12-31")),
    "T2": (pd.Timestamp("2007-01-01"), pd.Timestamp("2011-03-10")),
    "T3": (pd.Timestamp("2011-03-11"), pd.Timestamp("2015-12-31")),
    "T4": (pd.Timestamp("2016-01-01"), None),
}

#: column suffix of each period: ``acc_all``/``n_all`` for T_all, ``acc_T1``/``n_T1`` ...
PERIOD_SUFFIX: dict[str, str] = {"T_all": "all", "T1": "T1", "T2": "T2", "T3": "T3", "T4": "T4"}


def acc_col(period: str) -> str:
    """The accuracy column of a period (``T_all`` -> ``acc_all``, ``T1`` -> ``acc_T1``)."""
    return f"acc_{PERIOD_SUFFIX[period]}"


def n_col(period: str) -> str:
    """The sample-count column of a period (``T_all`` -> ``n_all``, ``T1`` -> ``n_T1``)."""
    return f"n_{PERIOD_SUFFIX[period]}"


def period_span(period: str) -> str:
    """A period's days as text, e.g. ``2007-01-01 – 2011-03-10`` or ``start – 2006-12-31``."""
    lo, hi = PERIODS[period]
    return f"{lo.date() if lo is not None else 'start'} – {hi.date() if hi is not None else 'end'}"


def days(dates: Any) -> pd.DatetimeIndex:
    """Dates as tz-naive days (tz-aware ones converted to UTC first)."""
    idx = pd.DatetimeIndex(pd.to_datetime(dates))
    if idx.tz is not None:
        idx = idx.tz_convert("UTC").tz_localize(None)
    return idx.normalize()


def period_of(dates: Any) -> np.ndarray:
    """The period (``"T1"`` .. ``"T4"``, Appendix C.1) of each forecast day; ``""`` for NaT.

    T1 start-2006-12-31, T2 2007-01-01-2011-03-10, T3 2011-03-11-2015-12-31, T4 2016-01-01 on;
    boundaries are inclusive days (a sample on 2011-03-10 is T2, on 2011-03-11 T3)."""
    d = days(dates)
    out = np.full(len(d), "", dtype=object)
    valid = ~d.isna()
    for name, (lo, hi) in PERIODS.items():
        if name == "T_all":
            continue
        m = valid.copy()
        if lo is not None:
            m &= d >= lo
        if hi is not None:
            m &= d <= hi
        out[m] = name
    return out
