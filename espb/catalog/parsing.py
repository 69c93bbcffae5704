"""Vectorised parsing that records failures instead of coercing: numbers, times, bad rows.

Times (:func:`parse_time_strings`):

- ISO 8601 unless a ``strftime`` format is given; a time with a UTC offset (``Z``, ``+09:00``)
  is converted to UTC, a time without one is *naive* and flagged so that
  :func:`espb.catalog.build.build_events` can read it in the configured time zone (UTC unless
  told otherwise).
- ``24:00:00`` (ISO 8601's end of day) is rolled over to 00:00:00 of the next day, and a leap
  second or a rounding overflow ``:60`` to the next minute; both are flagged and counted.
- A date outside what the event table's nanosecond timestamps hold (1677-09-22 .. 2262-04-11),
  e.g. the year 1200 of a typo, is a bad row, not a crash.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from espb.catalog.config import TIME_MAX, TIME_MIN, TIME_RANGE_TEXT
from espb.catalog.raw import RawCatalog

#: codes of :attr:`ParsedTimes.rolled`
ROLLED_24H, ROLLED_60S = 1, 2
#: a time of day followed by a UTC offset or zone letter: the string is not naive
_AWARE = r"\d:\d\d(:\d\d([.,]\d*)?)?\s*([zZ]|UTC|GMT|[+-]\d\d(:?\d\d)?)$"
_HMS = re.compile(r"(?<!\d)(\d{1,2}):(\d{2}):(\d{2})([.,]\d*)?")


def empty_bad() -> pd.DataFrame:
    """A ``RawCatalog.bad`` frame without rows."""
    return pd.DataFrame(
        {
            "row": pd.Series([], dtype="int64"),
            "column": pd.Series([], dtype=object),
            "value": pd.Series([], dtype=object),
            "problem": pd.Series([], dtype=object),
        }
    )


def bad_frame(rows: np.ndarray, column: str, values: Any, problem: str | Any) -> pd.DataFrame:
    """``RawCatalog.bad`` rows: ``rows`` index events, ``values`` are the raw strings."""
    rows = np.asarray(rows, dtype=np.int64)
    if rows.size == 0:
        return empty_bad()
    return pd.DataFrame(
        {
            "row": rows,
            "column": column,
            "value": np.asarray(values, dtype=object).astype(str),
            "problem": problem if isinstance(problem, str) else np.asarray(problem, dtype=object),
        }
    )


def concat_bad(parts: list[pd.DataFrame]) -> pd.DataFrame:
    """Concatenate ``bad`` frames, ordered by row (file order); exact repeats removed (a
    file column mapped to two espb names reports its bad value once)."""
    parts = [p for p in parts if len(p)]
    if not parts:
        return empty_bad()
    out = pd.concat(parts, ignore_index=True)
    out = out.drop_duplicates(["row", "column", "value", "problem"])
    order = np.argsort(out["row"].to_numpy(), kind="stable")
    return out.iloc[order].reset_index(drop=True)


def strip_str(values: Any) -> pd.Series:
    """Values as a pandas string Series, whitespace-stripped, missing as ``""``."""
    s = pd.Series(values) if not isinstance(values, pd.Series) else values
    if s.dtype != "str":
        s = s.astype("str")
    return s.fillna("").str.strip().reset_index(drop=True)


def parse_numbers(
    text: pd.Series, column: str, what: str = "number"
) -> tuple[np.ndarray, pd.DataFrame]:
    """Parse stripped strings to float64: ``""`` is NaN, anything else must be a number.

    Returns the values and a ``bad`` frame for non-empty values that are not numbers (index
    of ``text`` = event row). ``inf`` and ``-inf`` parse (and fail the range checks later).
    """
    s = strip_str(text)
    n = len(s)
    if n == 0:
        return np.zeros(0), empty_bad()
    arr = pa.array(s, type=pa.large_string())
    empty = pc.equal(arr, "")
    try:  # fast path: Arrow's C parser (fails on any non-number)
        vals = pc.cast(pc.if_else(empty, None, arr), pa.float64())
        out = vals.to_numpy(zero_copy_only=False)
        return np.asarray(out, dtype=np.float64), empty_bad()
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        pass
    out = pd.to_numeric(s.where(s != "", None), errors="coerce").to_numpy(dtype=np.float64)
    is_empty = (s == "").to_numpy()
    lower = s.str.lower().to_numpy(dtype=object)
    nan_word = np.isin(lower, ["nan", "na", "n/a", "null", "none"])
    bad = np.isnan(out) & ~is_empty & ~nan_word
    idx = np.flatnonzero(bad)
    return out, bad_frame(idx, column, s.to_numpy(dtype=object)[idx], f"not a {what}")


@dataclass
class ParsedTimes:
    """Result of :func:`parse_time_strings`."""

    times: pd.DatetimeIndex  # UTC, ns; NaT where empty or bad
    bad: pd.DataFrame
    naive: np.ndarray  # bool: no UTC offset in the string (read as UTC wall-clock time)
    rolled: np.ndarray  # int8: 0, ROLLED_24H or ROLLED_60S


def _to_ns(values: pd.Series, fmt: str) -> tuple[np.ndarray, np.ndarray]:
    """Parse to int64 ns since the epoch (NaT as iNaT) and a mask of out-of-range dates."""
    t = pd.DatetimeIndex(pd.to_datetime(values, format=fmt, utc=True, errors="coerce"))
    oob = np.zeros(len(t), dtype=bool)
    if t.unit != "ns":
        with np.errstate(invalid="ignore"):
            oob = np.asarray((t < TIME_MIN) | (t > TIME_MAX))
        t = t.where(~oob)
    return t.as_unit("ns").asi8.copy(), oob


def _roll(s: str) -> tuple[str, pd.Timedelta, int] | None:
    """``24:00:00`` -> ``23:00:00`` + 1 h; ``hh:mm:60`` -> ``hh:mm:59`` + 1 s; else None."""
    m = None
    for m in _HMS.finditer(s):  # noqa: B007 - the last time of day in the string
        pass
    if m is None:
        return None
    h, mi, sec, frac = int(m[1]), int(m[2]), int(m[3]), m[4] or ""
    if h == 24 and mi == 0 and sec == 0 and not frac.strip(".,0"):
        return s[: m.start(1)] + "23" + s[m.end(1) :], pd.Timedelta(hours=1), ROLLED_24H
    if sec == 60 and h < 24 and mi < 60:
        return s[: m.start(3)] + "59" + s[m.end(3) :], pd.Timedelta(seconds=1), ROLLED_60S
    return None


def parse_time_strings(text: pd.Series, column: str, time_format: str | None = None) -> ParsedTimes:
    """Parse stripped strings to UTC times (ISO 8601 unless ``time_format`` is given).

    Empty strings give NaT (``build_events`` reports them as missing); non-empty strings that
    do not parse, or lie outside 1677-09-22 .. 2262-04-11, give NaT and a ``bad`` row.
    """
    s = strip_str(text)
    n = len(s)
    fmt = time_format or "ISO8601"
    nonempty = (s != "").to_numpy()
    ns, oob = _to_ns(s.where(nonempty, None), fmt)
    rolled = np.zeros(n, dtype=np.int8)
    failed = np.flatnonzero((ns == pd.NaT.value) & nonempty & ~oob)
    if failed.size:  # the few that failed: 24:00:00 or :60 rolled over?
        tries = [(i, _roll(s.iat[i])) for i in failed]
        tries = [(i, r) for i, r in tries if r is not None]
        if tries:
            idx = np.array([i for i, _ in tries])
            fixed = pd.Series([r[0] for _, r in tries], dtype="str")
            v, o = _to_ns(fixed, fmt)
            add = np.array([r[1].value for _, r in tries], dtype=np.int64)
            ok = (v != pd.NaT.value) & ~o
            ns[idx[ok]] = v[ok] + add[ok]
            rolled[idx[ok]] = [r[2] for (_, r), k in zip(tries, ok, strict=True) if k]
    times = pd.DatetimeIndex(ns.view("datetime64[ns]")).tz_localize("UTC")
    expect = f"format {time_format!r}" if time_format else "ISO 8601, e.g. 2011-03-11T05:46:24.120Z"
    bad_parse = np.flatnonzero(np.asarray(times.isna()) & nonempty & ~oob)
    bad_range = np.flatnonzero(oob)
    raw = s.to_numpy(dtype=object)
    bad = concat_bad(
        [
            bad_frame(bad_parse, column, raw[bad_parse], f"unparsable time (expected {expect})"),
            bad_frame(
                bad_range,
                column,
                raw[bad_range],
                f"date outside the range espb can represent ({TIME_RANGE_TEXT})",
            ),
        ]
    )
    arr = pa.array(s, type=pa.large_string())
    aware = pc.match_substring_regex(arr, _AWARE).to_numpy(zero_copy_only=False)
    naive = nonempty & ~np.asarray(aware, dtype=bool)
    return ParsedTimes(times, bad, naive, rolled)


def parse_times(
    text: pd.Series, column: str, time_format: str | None = None
) -> tuple[pd.DatetimeIndex, pd.DataFrame]:
    """:func:`parse_time_strings`, returning only ``(times, bad)``."""
    p = parse_time_strings(text, column, time_format)
    return p.times, p.bad


def make_raw(
    source: str,
    path: Path | None,
    events: dict[str, Any],
    mags: dict[str, Any],
    bad: list[pd.DataFrame],
) -> RawCatalog:
    """Assemble a :class:`RawCatalog` from column arrays (dtypes made consistent).

    ``events["time"]`` may be a :class:`ParsedTimes`; its naive and rolled-over flags become
    the optional columns ``time_naive`` and ``time_rolled``. Optional columns ``updated``
    (times) and ``mc`` (per-event completeness) are kept when given.
    """
    t = events["time"]
    ev = pd.DataFrame(
        {
            "event_id": strip_str(events["event_id"]),
            "time": pd.DatetimeIndex(t.times if isinstance(t, ParsedTimes) else t).as_unit("ns"),
            "latitude": np.asarray(events["latitude"], dtype=np.float64),
            "longitude": np.asarray(events["longitude"], dtype=np.float64),
            "depth": np.asarray(events["depth"], dtype=np.float64),
            "line": np.asarray(events["line"], dtype=np.int64),
            "event_type": strip_str(events.get("event_type", [""] * len(events["line"]))),
        }
    )
    if isinstance(t, ParsedTimes):
        ev["time_naive"] = t.naive
        ev["time_rolled"] = t.rolled
    if "updated" in events:
        ev["updated"] = pd.DatetimeIndex(events["updated"]).as_unit("ns")
    if "mc" in events:
        ev["mc"] = np.asarray(events["mc"], dtype=np.float64)
    mg = pd.DataFrame(
        {
            "row": np.asarray(mags["row"], dtype=np.int64),
            "mag": np.asarray(mags["mag"], dtype=np.float64),
            "mag_type": strip_str(mags["mag_type"]),
            "author": strip_str(mags["author"]),
        }
    )
    return RawCatalog(source=source, path=path, events=ev, mags=mg, bad=concat_bad(bad))


__all__ = [
    "ROLLED_24H",
    "ROLLED_60S",
    "ParsedTimes",
    "bad_frame",
    "concat_bad",
    "empty_bad",
    "make_raw",
    "parse_numbers",
    "parse_time_strings",
    "parse_times",
    "strip_str",
]
