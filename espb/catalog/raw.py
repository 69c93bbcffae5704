"""What a reader hands to :func:`espb.catalog.build.build_events`: the parsed, unvalidated catalog."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd


@dataclass
class RawCatalog:
    """A parsed catalog: one row per event plus a long list of every reported magnitude.

    ``events``: one row per event with columns ``event_id`` (str), ``time`` (UTC, NaT where
    unparsable), ``latitude``, ``longitude``, ``depth`` (km, as the file gives it; NaN where
    missing), ``line`` (1-based line in the file, for messages) and optionally
    ``event_type``, ``time_naive`` (bool: the file gave no UTC offset; the time is the file's
    wall-clock time read as UTC until the ingest applies its time zone), ``time_rolled``
    (int8: 1 for ``24:00:00`` rolled over, 2 for ``:60``), ``updated`` (the source's
    last-modified time of the event, for duplicate ids) and ``mc`` (a per-event completeness
    magnitude).
    ``mags``: one row per reported magnitude: ``row`` (index into ``events``), ``mag``,
    ``mag_type``, ``author``.
    ``bad``: parse failures found by the reader: ``row``, ``column``, ``value``, ``problem``.
    """

    source: str
    path: Path | None
    events: pd.DataFrame
    mags: pd.DataFrame
    bad: pd.DataFrame = field(
        default_factory=lambda: pd.DataFrame(
            {"row": pd.Series([], dtype="int64"), "column": [], "value": [], "problem": []}
        )
    )


__all__ = ["RawCatalog"]
