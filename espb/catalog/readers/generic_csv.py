"""Reader for any delimited catalog file, given a column mapping.

``mapping`` maps espb names to the file's column names:

==============  ==========================================================================
espb name       meaning
==============  ==========================================================================
event_id        event identifier (optional; ids are made from line numbers when absent)
time            origin time, or the time of day when ``date`` is mapped too
date            origin date (optional; joined to ``time`` with a space before parsing)
latitude        degrees north
longitude       degrees east
depth           depth, in ``depth_unit`` (optional; NaN when absent)
mag             the magnitude (one per row)
mag_type        its type (or give a fixed ``mag_type`` for a file without a type column)
author          magnitude author / agency (optional)
event_type      event type (optional; ``earthquake``, ``quarry blast``, ISC codes, ...)
mc              per-event completeness magnitude, in the scale of that row's magnitude
                (optional; events below it are dropped, see ``filters.per_event_mc``)
updated         last-modified time of the row (optional; picks the newest version of an
                event id that appears more than once)
==============  ==========================================================================

:func:`read_table` is the shared core, also used by the ComCat reader.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path

import numpy as np
import pandas as pd

from espb.catalog.build import RawCatalog
from espb.catalog.readers import (
    bad_frame,
    check_file,
    format_hint,
    make_raw,
    parse_numbers,
    parse_time_strings,
    strip_str,
)
from espb.catalog.readers.textio import read_text
from espb.errors import CatalogError, ConfigError

ESPB_NAMES: tuple[str, ...] = (
    "event_id",
    "time",
    "date",
    "latitude",
    "longitude",
    "depth",
    "mag",
    "mag_type",
    "author",
    "event_type",
    "mc",
    "updated",
)
REQUIRED_NAMES: tuple[str, ...] = ("time", "latitude", "longitude", "mag")


def read_table(
    path: Path, delimiter: str = ",", encoding: str = "auto", data: bytes | None = None
) -> tuple[pd.DataFrame, np.ndarray]:
    """Read a delimited file with a header line: all fields as strings (empty = ``""``).

    Compressed files and encodings are handled by :func:`~espb.catalog.readers.textio.read_text`.
    Returns the frame (column names stripped of whitespace) and each row's 1-based line
    number. Blank lines are dropped. Raises :class:`CatalogError` for a file that has no
    header, a header but no data rows, or rows with too many fields. ``data``: the file's text
    as UTF-8 bytes when the caller has read it already.
    """
    data = read_text(path, encoding) if data is None else data
    try:
        df = pd.read_csv(
            io.BytesIO(data),
            sep=delimiter,
            dtype=str,
            na_filter=False,
            skip_blank_lines=False,
            engine="c",
            encoding="utf-8",
            quoting=csv.QUOTE_MINIMAL,
            index_col=False,
        )
    except pd.errors.EmptyDataError as exc:
        raise CatalogError(
            path, "has no header line (the file holds only blank lines)", "check the download"
        ) from exc
    except pd.errors.ParserError as exc:
        looks, fix = format_hint(path, "csv")
        raise CatalogError(
            path,
            f"is not a well-formed delimited file: {str(exc).strip()}"
            + (f"; {looks}" if looks else ""),
            fix or f"check that line, and the delimiter (now {delimiter!r})",
        ) from exc
    df.columns = [str(c).strip() for c in df.columns]
    df = df.fillna("")
    lines = np.arange(len(df), dtype=np.int64) + 2
    if len(df):
        blank = np.ones(len(df), dtype=bool)
        for c in df.columns:
            blank &= (df[c].astype("str").str.strip() == "").to_numpy()
        if blank.any():
            df = df[~blank].reset_index(drop=True)
            lines = lines[~blank]
    if len(df) == 0:
        raise CatalogError(
            path,
            f"has a header line ({', '.join(map(str, df.columns))}) but no data rows",
            "the query or export matched no events: widen it and download again",
        )
    return df, lines


def events_from_table(
    path: Path,
    source: str,
    df: pd.DataFrame,
    lines: np.ndarray,
    columns: dict[str, str],
    *,
    mag_type: str | None = None,
    time_format: str | None = None,
    depth_unit: str = "km",
) -> RawCatalog:
    """Turn a one-magnitude-per-row table into a :class:`RawCatalog`.

    ``columns`` maps espb names to the frame's columns (already checked to exist). A row
    without a magnitude value, or with a value that is not a number, is bad input.
    """
    n = len(df)

    def text(name: str) -> pd.Series:
        return strip_str(df[columns[name]])

    if "date" in columns and "time" in columns and columns["date"] != columns["time"]:
        d, t = text("date"), text("time")
        stamp = (d + " " + t).str.strip()
        times = parse_time_strings(stamp, f"{columns['date']}+{columns['time']}", time_format)
    else:
        key = "time" if "time" in columns else "date"
        times = parse_time_strings(text(key), columns[key], time_format)
    tbad = times.bad
    lat, b1 = parse_numbers(text("latitude"), columns["latitude"])
    lon, b2 = parse_numbers(text("longitude"), columns["longitude"])
    if "depth" in columns:
        dep, b3 = parse_numbers(text("depth"), columns["depth"])
        if depth_unit == "m":
            dep = dep / 1000.0
    else:
        dep, b3 = np.full(n, np.nan), None
    mag, b4 = parse_numbers(text("mag"), columns["mag"], "number (magnitude)")
    if "mag_type" in columns:
        mtype = text("mag_type")
        if mag_type:
            mtype = mtype.where(mtype != "", mag_type)
    else:
        mtype = pd.Series([mag_type or ""] * n, dtype="str")
    author = text("author") if "author" in columns else pd.Series([""] * n, dtype="str")
    etype = text("event_type") if "event_type" in columns else pd.Series([""] * n, dtype="str")
    ids = text("event_id") if "event_id" in columns else pd.Series([""] * n, dtype="str")
    no_id = (ids == "").to_numpy()
    if no_id.any():
        ids = ids.where(~no_id, pd.Series([f"line{x}" for x in lines], dtype="str"))

    not_number = np.zeros(n, dtype=bool)
    not_number[b4["row"].to_numpy()] = True
    missing = np.flatnonzero(np.isnan(mag) & ~not_number)  # empty, or a word like NaN
    raw_mag = text("mag").to_numpy(dtype=object)
    bad = [tbad, b1, b2, b4]
    if b3 is not None:
        bad.append(b3)
    extra: dict = {}
    if "mc" in columns:
        mc, b5 = parse_numbers(text("mc"), columns["mc"], "number (completeness magnitude)")
        bad.append(b5)
        extra["mc"] = mc
    if "updated" in columns:
        extra["updated"] = parse_time_strings(text("updated"), columns["updated"]).times
    bad.append(bad_frame(missing, columns["mag"], raw_mag[missing], "missing magnitude"))
    ok = ~np.isnan(mag)
    rows = np.flatnonzero(ok)
    mags = {
        "row": rows,
        "mag": mag[ok],
        "mag_type": mtype.to_numpy(dtype=object)[ok],
        "author": author.to_numpy(dtype=object)[ok],
    }
    events = {
        "event_id": ids,
        "time": times,
        "latitude": lat,
        "longitude": lon,
        "depth": dep,
        "line": lines,
        "event_type": etype,
        **extra,
    }
    return make_raw(source, path, events, mags, bad)


def read_generic_csv(
    path: str | Path,
    mapping: dict[str, str] | None = None,
    *,
    mag_type: str | None = None,
    time_format: str | None = None,
    depth_unit: str = "km",
    delimiter: str = ",",
    encoding: str = "auto",
) -> RawCatalog:
    """Parse a delimited catalog file with a column ``mapping`` (espb name -> file column).

    ``mag_type`` is the magnitude type of every row when the file has no type column (with
    a type column it fills empty types). ``time_format`` is a ``strftime`` format (default
    ISO 8601; with ``date`` and ``time`` mapped it applies to ``"<date> <time>"``); naive
    times are read in the ingest's time zone (UTC unless told). ``depth_unit`` is ``km`` or
    ``m``. ``encoding``: see :mod:`espb.catalog.readers.textio`.
    """
    path = check_file(path)
    if depth_unit not in ("km", "m"):
        raise ConfigError(f"depth_unit must be 'km' or 'm', not {depth_unit!r}")
    if not isinstance(delimiter, str) or len(delimiter) != 1:
        raise ConfigError(f"delimiter must be one character, not {delimiter!r}")
    mapping = dict(mapping or {})
    if not mapping:
        looks, fix = format_hint(path, "csv")
        raise CatalogError(
            path,
            "--format csv needs a column mapping (espb name -> column), and none was given"
            + (f"; {looks}" if looks else ""),
            (f"{fix}, or " if fix else "")
            + "map at least time, latitude, longitude and mag, e.g. --map time=origin_time "
            "--map latitude=lat --map longitude=lon --map mag=magnitude --map mag_type=mag_type",
        )
    unknown = sorted(k for k in mapping if k not in ESPB_NAMES)
    if unknown:
        raise CatalogError(
            path,
            f"the column mapping uses unknown espb names {unknown}",
            f"map some of {list(ESPB_NAMES)} to the file's columns",
        )
    df, lines = read_table(path, delimiter, encoding)
    found = list(df.columns)
    absent = {k: v for k, v in mapping.items() if v not in found}
    if absent:
        looks, fix = format_hint(path, "csv")
        raise CatalogError(
            path,
            "columns named in the mapping are not in the file: "
            + ", ".join(f"{k}={v!r}" for k, v in absent.items())
            + f"; the file's columns are {found if len(found) <= 30 else [*found[:30], '...']}"
            + (f"; {looks}" if looks else ""),
            fix
            or "fix the mapping to use the file's column names (check the delimiter too, now "
            f"{delimiter!r})",
        )
    need = [
        k for k in REQUIRED_NAMES if k not in mapping and not (k == "time" and "date" in mapping)
    ]
    if need:
        raise CatalogError(
            path,
            f"the column mapping lacks {need}; the file's columns are {found}",
            "map them, e.g. --map " + " --map ".join(f"{k}=COLUMN" for k in need),
        )
    if "mag_type" not in mapping and not mag_type:
        raise CatalogError(
            path,
            "the magnitude type is unknown: the mapping has no mag_type column and no fixed "
            "magnitude type was given",
            "map the type column (--map mag_type=COLUMN) or name the type of all magnitudes "
            "(--mag-type ML, Mw, mb, ...)",
        )
    return events_from_table(
        path,
        "csv",
        df,
        lines,
        mapping,
        mag_type=mag_type,
        time_format=time_format,
        depth_unit=depth_unit,
    )


__all__ = ["ESPB_NAMES", "events_from_table", "read_generic_csv", "read_table"]
