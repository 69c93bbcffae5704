"""Ingest settings: which events enter the event table and how their values are read.

Defaults are the paper's (Section 2: region 35-46 N x 135-146 E, depth <= 70 km), except that
ML is taken as Mw where the paper's preset (``presets/catalog/ingest/paper.yaml``) converts it with
the MJMA relation (see :mod:`espb.catalog.magnitudes`). Every setting is validated here, with a
message naming the key; non-finite and absurd numbers are errors, not silent no-ops.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from datetime import UTC, timedelta, timezone, tzinfo
from pathlib import Path

import pandas as pd

from espb.catalog.magnitudes import MagnitudeConfig
from espb.errors import ConfigError

#: Event-type spellings of natural earthquakes: ComCat/QuakeML ``earthquake``; ISC ``ke``
#: (known), ``se`` (suspected), ``fe`` (felt), ``de`` (damaging earthquake); QuakeML
#: ``not reported`` (no type given).
NATURAL_EVENT_TYPES = ["earthquake", "ke", "se", "fe", "de", "not reported"]

#: The paper's study region (Section 2), [lat_min, lat_max, lon_min, lon_max].
PAPER_REGION = [35.0, 46.0, 135.0, 146.0]

#: What to do with one event id that appears with different values (see docs/catalogs.md).
DUPLICATE_ID_POLICIES = ("newest", "first", "last", "error", "keep")

#: The range of pandas' nanosecond timestamps, which the event table uses.
TIME_MIN = pd.Timestamp.min.tz_localize("UTC")
TIME_MAX = pd.Timestamp.max.tz_localize("UTC")
TIME_RANGE_TEXT = "1677-09-22 .. 2262-04-11"

_OFFSET = re.compile(r"^(?:UTC|GMT)?\s*([+-])(\d{1,2})(?::?(\d{2}))?$", re.I)


def _finite(key: str, v: object, lo: float = -math.inf, hi: float = math.inf) -> float:
    try:
        x = float(v)  # type: ignore[arg-type]
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"{key}: {v!r} is not a number") from exc
    if not math.isfinite(x) or not lo <= x <= hi:
        raise ConfigError(f"{key}: {v!r} must be a finite number in [{lo}, {hi}]")
    return x


def _bounds(key: str, v: list[float], lo: float, hi: float) -> None:
    if len(v) != 2:
        raise ConfigError(f"{key} must be [min, max], not {v}")
    a, b = (_finite(key, x, lo, hi) for x in v)
    if not a < b:
        raise ConfigError(f"{key}: min {a} must be below max {b}")


def parse_timezone(spec: str) -> tzinfo:
    """An IANA zone name (``Asia/Tokyo``), ``UTC``, or a fixed offset (``+09:00``, ``UTC-5``)."""
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    s = str(spec).strip()
    if s.upper() in ("UTC", "Z", "GMT"):
        return UTC
    m = _OFFSET.match(s)
    if m:
        sign = -1 if m.group(1) == "-" else 1
        h, mi = int(m.group(2)), int(m.group(3) or 0)
        if h > 14 or mi > 59:
            raise ConfigError(f"timezone: offset {spec!r} is out of range (-14:00 .. +14:00)")
        return timezone(sign * timedelta(hours=h, minutes=mi))
    try:
        return ZoneInfo(s)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ConfigError(
            f"timezone: {spec!r} is not a time zone; use UTC, an IANA name such as Asia/Tokyo or "
            "Europe/Zurich, or a fixed offset such as +09:00"
        ) from exc


def parse_date(key: str, v: str) -> pd.Timestamp:
    """A date setting as a UTC timestamp; ConfigError for non-dates and dates pandas cannot hold."""
    try:
        t = pd.Timestamp(v)
    except (ValueError, TypeError, OverflowError) as exc:
        if "Out of bounds" in str(exc) or isinstance(exc, OverflowError):
            raise ConfigError(
                f"{key}: {v!r} is outside the dates espb can represent ({TIME_RANGE_TEXT})"
            ) from exc
        raise ConfigError(f"{key}: {v!r} is not a date (use YYYY-MM-DD)") from exc
    if t is pd.NaT or pd.isna(t):
        raise ConfigError(f"{key}: {v!r} is not a date (use YYYY-MM-DD)")
    t = t.tz_localize("UTC") if t.tzinfo is None else t.tz_convert("UTC")
    if not TIME_MIN <= t <= TIME_MAX:
        raise ConfigError(
            f"{key}: {v!r} is outside the dates espb can represent ({TIME_RANGE_TEXT})"
        )
    return t.as_unit("ns")


@dataclass
class FilterConfig:
    """Which events enter the table. Defaults are the paper's (Section 2)."""

    #: [lat_min, lat_max, lon_min, lon_max], inclusive; None keeps every location
    region: list[float] | None = field(default_factory=lambda: list(PAPER_REGION))
    #: keep depth <= this (km); None keeps every depth (events without depth are kept too)
    max_depth_km: float | None = 70.0
    #: ISO date or time; inclusive. A date-only ``end`` includes that whole day.
    start: str | None = None
    end: str | None = None
    #: event types kept where the source has a type column (case-insensitive)
    natural_event_types: list[str] = field(default_factory=lambda: list(NATURAL_EVENT_TYPES))
    #: keep events whose type field is empty
    keep_untyped: bool = True
    #: drop rows identical in time, place, depth, magnitude and type to an earlier row
    drop_duplicates: bool = True
    #: one event id with different values: newest (by the source's ``updated`` time, else the
    #: last in the file) | first | last | error | keep (all versions; still reported)
    duplicate_ids: str = "newest"
    #: completeness: keep only events with Mw >= min_mw; None keeps every magnitude
    min_mw: float | None = None
    #: where the reader gives a per-event completeness (csv: ``--map mc=COLUMN``), drop
    #: events whose source magnitude is below it
    per_event_mc: bool = True
    #: exact source-magnitude values that are placeholders, not measurements (e.g. [0.0])
    drop_mags: list[float] = field(default_factory=list)
    #: drop the magnitude spikes found by the placeholder check (see espb.catalog.quality)
    drop_placeholders: bool = False

    def validate(self) -> None:
        if self.region is not None:
            r = list(self.region)
            if len(r) != 4:
                raise ConfigError(
                    f"filters.region must be [lat_min, lat_max, lon_min, lon_max], not {r}"
                )
            r = [_finite("filters.region", x) for x in r]
            if not (-90 <= r[0] < r[1] <= 90):
                raise ConfigError(
                    f"filters.region: latitudes {r[0]}..{r[1]} must satisfy -90 <= min < max <= 90"
                )
            if not (-180 <= r[2] < r[3] <= 360):
                raise ConfigError(
                    f"filters.region: longitudes {r[2]}..{r[3]} must satisfy -180 <= min < max <= 360"
                )
        if self.max_depth_km is not None:
            _finite("filters.max_depth_km (use null for no limit)", self.max_depth_km, -10, 7000)
        if self.min_mw is not None:
            _finite("filters.min_mw (use null for no minimum)", self.min_mw, -3, 10)
        for v in self.drop_mags:
            _finite("filters.drop_mags", v, -10, 100)
        if self.duplicate_ids not in DUPLICATE_ID_POLICIES:
            raise ConfigError(
                f"filters.duplicate_ids must be one of {list(DUPLICATE_ID_POLICIES)}, "
                f"not {self.duplicate_ids!r}"
            )
        start, end = self.time_bounds()
        if start is not None and end is not None and not start < end:
            raise ConfigError(
                f"filters.start {self.start!r} is after filters.end {self.end!r}: no event could "
                "be kept; swap them"
            )

    def time_bounds(self) -> tuple[pd.Timestamp | None, pd.Timestamp | None]:
        """(start inclusive, end exclusive) as UTC timestamps."""
        start = parse_date("filters.start", self.start) if self.start is not None else None
        end = None
        if self.end is not None:
            end = parse_date("filters.end", self.end)
            if len(str(self.end).strip()) <= 10:  # a bare date: include that whole day
                step = pd.Timedelta(days=1)
            else:
                step = pd.Timedelta(1, "ns")
            end = end + step if end <= TIME_MAX - step else None  # open end
        return start, end


@dataclass
class IngestConfig:
    """Everything that turns a parsed catalog into an event table."""

    magnitudes: MagnitudeConfig = field(default_factory=MagnitudeConfig)
    filters: FilterConfig = field(default_factory=FilterConfig)
    #: ``error``: any bad row stops the ingest; ``skip``: bad rows are skipped and counted
    on_bad_rows: str = "error"
    #: magnitudes outside these bounds are bad input (typos, placeholder values like -9 or 99)
    mag_bounds: list[float] = field(default_factory=lambda: [-2.0, 10.0])
    #: depths outside these bounds (km, positive down, after ``depth_positive``) are bad input
    depth_bounds: list[float] = field(default_factory=lambda: [-10.0, 800.0])
    #: time zone of times written without a UTC offset: UTC (default), an IANA name
    #: (Asia/Tokyo) or a fixed offset (+09:00); times with an offset are converted to UTC
    timezone: str = "UTC"
    #: the file's depth axis: ``down`` (positive below the surface, the usual convention) or
    #: ``up`` (negative below the surface; espb flips the sign)
    depth_positive: str = "down"

    def validate(self) -> None:
        self.magnitudes.validate()
        self.filters.validate()
        if self.on_bad_rows not in ("error", "skip"):
            raise ConfigError(f"on_bad_rows must be 'error' or 'skip', not {self.on_bad_rows!r}")
        _bounds("mag_bounds", list(self.mag_bounds), -10, 100)
        _bounds("depth_bounds", list(self.depth_bounds), -7000, 7000)
        parse_timezone(self.timezone)
        if self.depth_positive not in ("down", "up"):
            raise ConfigError(
                f"depth_positive must be 'down' (depth below the surface is positive, the usual "
                f"convention) or 'up' (negative below the surface), not {self.depth_positive!r}"
            )


def load_ingest_config(
    config: str | Path | None = None, overrides: list[str] | None = None
) -> IngestConfig:
    """An :class:`IngestConfig` from defaults, a YAML file, then dotted overrides.

    ``config`` is a path, or the name of a file in ``presets/catalog/ingest/`` (``paper``,
    ``scordilis2006``). Misspelled keys and wrong types fail with a message naming the key.
    """
    from espb.config import load_config, resolve_preset
    from espb.paths import presets_dir

    preset = resolve_preset(config, "catalog/ingest", presets_dir()) if config is not None else None
    return load_config(IngestConfig, preset, overrides)


__all__ = [
    "DUPLICATE_ID_POLICIES",
    "NATURAL_EVENT_TYPES",
    "PAPER_REGION",
    "FilterConfig",
    "IngestConfig",
    "load_ingest_config",
    "parse_date",
    "parse_timezone",
]
