"""Reader for the ISC Bulletin "CSV" event-catalogue export (the paper's catalog).

A download from the ISC web search (``Output format: CSV``, event catalogue) looks like::

    <html>...<pre>                              (optional HTML wrapper / preamble)
    DATA_TYPE EVENT_CATALOGUE
    ISC Bulletin
    --EVENT--|TYPE|----ORIGIN (PRIME HYPOCENTRE)----|----MAGNITUDES----
      EVENTID,TYPE,AUTHOR   ,DATE      ,TIME       ,LAT     ,LON      ,DEPTH,DEPFIX,AUTHOR   ,TYPE  ,MAG
      16958065,ke ,ISC      ,2000-01-01,00:08:14.95, 35.9530, 139.7560, 54.4,FALSE ,JMA      ,MJMA  , 3.2,ISC      ,mb    , 4.1
      ...
    STOP
    </pre>...

Each data row is the prime hypocentre followed by zero or more ``AUTHOR,TYPE,MAG``
magnitude triplets, so rows differ in length. The fixed columns are taken from the header
(some ISC-family outputs have no event ``TYPE`` column).

The reader is vectorised: it finds the data region's byte offsets, counts commas per line
with NumPy to size the widest row, reads the region once with pandas' C parser (all fields as
strings) and converts whole columns; triplets are melted column-block by column-block.
"""

from __future__ import annotations

import csv
import io
import re
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

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
from espb.errors import CatalogError

_HEADER = re.compile(rb"^[ \t]*EVENTID[ \t]*,", re.M)
_REQUIRED = ("EVENTID", "DATE", "TIME", "LAT", "LON", "DEPTH")
_TRIPLET = ["AUTHOR", "TYPE", "MAG"]


def _find_stop(data: bytes, start: int) -> int:
    """Byte offset of the last ``STOP`` line at or after ``start``, or -1.

    A STOP line holds nothing but ``STOP`` (an HTML tag may follow it on the same line).
    """
    hi = len(data)
    while True:
        i = data.rfind(b"STOP", start, hi)
        if i < 0:
            return -1
        bol = data.rfind(b"\n", 0, i) + 1
        eol = data.find(b"\n", i)
        eol = len(data) if eol < 0 else eol
        after = data[i + 4 : eol].strip()
        if not data[bol:i].strip() and (not after or after.startswith(b"<")):
            return bol
        hi = i


def _line_commas(region: bytes) -> np.ndarray:
    """Number of commas on each line of ``region`` (vectorised, no copy of the text)."""
    arr = np.frombuffer(region, dtype=np.uint8)
    nl = np.flatnonzero(arr == 10)
    ends = nl + 1
    if ends.size == 0 or ends[-1] != len(arr):
        ends = np.append(ends, len(arr))
    offsets = np.concatenate([[0], ends]).astype(np.int64)
    lines = pa.LargeStringArray.from_buffers(len(ends), pa.py_buffer(offsets), pa.py_buffer(region))
    return np.asarray(pc.count_substring(lines, ",").to_numpy(zero_copy_only=False), dtype=np.int64)


def read_isc(path: str | Path, *, on_bad_rows: str = "error", encoding: str = "auto") -> RawCatalog:
    """Parse an ISC EVENT_CATALOGUE export into a :class:`RawCatalog`.

    ``on_bad_rows="skip"`` lets a truncated download (no ``STOP`` line) be read with a
    warning; its last line is treated as bad unless the file ends with a line break.
    Raises :class:`CatalogError` when the file is not such an export, has no data rows, or
    (with ``on_bad_rows="error"``) has no ``STOP`` line. Compressed files and encodings: see
    :mod:`espb.catalog.readers.textio`.
    """
    path = check_file(path)
    data = read_text(path, encoding)
    m = _HEADER.search(data)
    if m is None:
        looks, fix = format_hint(path, "isc")
        raise CatalogError(
            path,
            "does not look like an ISC EVENT_CATALOGUE export (--format isc): no header line "
            "starting with EVENTID" + (f"; {looks}" if looks else ""),
            fix
            or "download the ISC Bulletin event catalogue with output format CSV (it starts "
            "with DATA_TYPE EVENT_CATALOGUE), or choose the right --format",
        )
    hdr_start = m.start()
    hdr_end = data.find(b"\n", hdr_start)
    hdr_end = len(data) if hdr_end < 0 else hdr_end
    header_line = data.count(b"\n", 0, hdr_start) + 1
    names = [h.strip().upper() for h in data[hdr_start:hdr_end].decode("utf-8").split(",")]
    while names and names[-1] == "":
        names.pop()
    k = next((i for i in range(1, len(names)) if names[i : i + 3] == _TRIPLET), len(names))
    fixed = names[:k]
    missing = [c for c in _REQUIRED if c not in fixed]
    if missing:
        raise CatalogError(
            path,
            f"the ISC header on line {header_line} lacks columns {missing} (it has {fixed})",
            "download the event catalogue with the prime hypocentre and magnitudes",
        )
    body = hdr_end + 1
    stop = _find_stop(data, body) if body < len(data) else -1
    truncated = False
    if stop < 0:
        if on_bad_rows != "skip":
            raise CatalogError(
                path,
                "has no STOP line after its data: the download looks truncated",
                "download the catalog again (or pass --on-bad-rows skip to read the rows that "
                "are there)",
            )
        truncated = True
        stop = len(data)
    region = data[body:stop] if body < stop else b""
    first_line = header_line + 1
    if not region.strip():
        raise CatalogError(
            path,
            f"has an ISC header (line {header_line}) but no data rows",
            "the search matched no events: widen the search (time range, region, magnitude) "
            "and download again",
        )
    commas = _line_commas(region)
    n_lines = len(commas)
    n_trip = max(0, -(-(int(commas.max()) + 1 - k) // 3)) if n_lines else 0
    trip_names = [f"{p}{j}" for j in range(n_trip) for p in ("a", "t", "m")]
    all_names = [f"f{i}" for i in range(k)] + trip_names
    col = {name: f"f{fixed.index(name)}" for name in _REQUIRED}
    has_type = "TYPE" in fixed
    type_col = f"f{fixed.index('TYPE')}" if has_type else None
    use = [col[c] for c in _REQUIRED] + ([type_col] if type_col else []) + trip_names
    df = pd.read_csv(
        io.BytesIO(region),
        header=None,
        names=all_names,
        usecols=use,
        dtype=str,
        sep=",",
        quoting=csv.QUOTE_NONE,
        skip_blank_lines=False,
        na_filter=False,
        engine="c",
        encoding="utf-8",
        index_col=False,
    )
    if len(df) != n_lines:  # should not happen; guards the line-number bookkeeping
        raise CatalogError(
            path, f"read {len(df)} rows but found {n_lines} lines", "this is a bug in espb"
        )
    lines = first_line + np.arange(n_lines, dtype=np.int64)

    text = {c: strip_str(df[col[c]]) for c in _REQUIRED}
    if type_col:
        text["TYPE"] = strip_str(df[type_col])
    blank = np.ones(n_lines, dtype=bool)
    for c in _REQUIRED:
        blank &= (text[c] == "").to_numpy()
    if blank.any():  # whitespace-only lines
        keep = ~blank
        df = df[keep].reset_index(drop=True)
        lines = lines[keep]
        text = {c: v[keep].reset_index(drop=True) for c, v in text.items()}
    n = len(df)
    if n == 0:
        raise CatalogError(
            path,
            f"has an ISC header (line {header_line}) but no data rows",
            "the search matched no events: widen the search and download again",
        )
    bad: list[pd.DataFrame] = []
    if truncated:
        warnings.warn(
            f"{path}: no STOP line after the data (truncated download?); reading the {n} rows "
            "that are there",
            stacklevel=3,
        )
        tail = data[data.rfind(b"\n") + 1 :].decode("utf-8", errors="replace").strip()
        if tail:  # the file stops inside its last line: that row may be cut short
            bad.append(
                bad_frame(
                    np.array([n - 1]),
                    "(whole row)",
                    [tail if len(tail) <= 60 else "..." + tail[-57:]],
                    "last line is cut off (file truncated)",
                )
            )

    eid, date, tod = text["EVENTID"], text["DATE"], text["TIME"]
    no_id = np.flatnonzero((eid == "").to_numpy())
    bad.append(bad_frame(no_id, "EVENTID", [""] * len(no_id), "missing event id"))

    stamp = date + "T" + tod
    stamp = stamp.where((date != "") | (tod != ""), "")
    time = parse_time_strings(stamp, "TIME")
    tbad = time.bad
    if len(tbad):  # say which of DATE and TIME is wrong, with the raw text
        rows = tbad["row"].to_numpy()
        span = tbad["problem"].astype(str).str.startswith("date outside").to_numpy()
        d_ok = (
            pd.to_datetime(date.iloc[rows], format="%Y-%m-%d", errors="coerce").notna().to_numpy()
            & ~span
        )
        tbad["column"] = np.where(d_ok, "TIME", "DATE")
        tbad["value"] = np.where(
            d_ok, tod.iloc[rows].to_numpy(dtype=object), date.iloc[rows].to_numpy(dtype=object)
        )
        tbad["problem"] = np.where(
            span,
            tbad["problem"].to_numpy(dtype=object),
            np.where(
                d_ok,
                "unparsable time of day (expected HH:MM:SS.ss)",
                "unparsable date (expected YYYY-MM-DD)",
            ),
        )
        bad.append(tbad)
    lat, b1 = parse_numbers(text["LAT"], "LAT")
    lon, b2 = parse_numbers(text["LON"], "LON")
    dep, b3 = parse_numbers(text["DEPTH"], "DEPTH")
    bad += [b1, b2, b3]
    etype = text["TYPE"] if has_type else pd.Series([""] * n, dtype="str")

    # magnitude triplets, melted block by block (file order restored by a stable sort)
    m_rows, m_vals, m_types, m_auth = [], [], [], []
    for j in range(n_trip):
        a = strip_str(df[f"a{j}"])
        t = strip_str(df[f"t{j}"])
        v = strip_str(df[f"m{j}"])
        present = ((a != "") | (t != "") | (v != "")).to_numpy()
        if not present.any():
            continue
        idx = np.flatnonzero(present)
        a, t, v = (x.iloc[idx].reset_index(drop=True) for x in (a, t, v))
        vals, vbad = parse_numbers(v, "MAG")
        not_number = np.zeros(len(idx), dtype=bool)
        if len(vbad):
            local = vbad["row"].to_numpy()
            not_number[local] = True
            vbad["row"] = idx[local]
            vbad["problem"] = [
                f"magnitude value of type {x!r} is not a number" for x in t.iloc[local]
            ]
            bad.append(vbad)
        empty_val = np.isnan(vals) & ~not_number & (t != "").to_numpy()
        if empty_val.any():
            e = np.flatnonzero(empty_val)
            bad.append(
                bad_frame(
                    idx[e],
                    "MAG",
                    v.to_numpy(dtype=object)[e],
                    [f"magnitude type {x!r} has no value" for x in t.iloc[e]],
                )
            )
        ok = ~np.isnan(vals)
        m_rows.append(idx[ok])
        m_vals.append(vals[ok])
        m_types.append(t[ok])
        m_auth.append(a[ok])
    if m_rows:
        rows = np.concatenate(m_rows)
        order = np.argsort(rows, kind="stable")
        mags = {
            "row": rows[order],
            "mag": np.concatenate(m_vals)[order],
            "mag_type": pd.concat(m_types, ignore_index=True).take(order),
            "author": pd.concat(m_auth, ignore_index=True).take(order),
        }
    else:
        mags = {"row": [], "mag": [], "mag_type": [], "author": []}
    events = {
        "event_id": eid,
        "time": time,
        "latitude": lat,
        "longitude": lon,
        "depth": dep,
        "line": lines,
        "event_type": etype,
    }
    return make_raw("isc", path, events, mags, bad)


__all__ = ["read_isc"]
