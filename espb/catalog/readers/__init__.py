"""Catalog readers: parse a catalog file into a :class:`~espb.catalog.build.RawCatalog`.

Readers only *parse*: they split a file into events (one row each, with the 1-based ``line``
of the event in the file) and a long list of reported magnitudes, and record what they could
not parse (unparsable times, non-numeric numbers, magnitude types without a value) in
``RawCatalog.bad``. They never coerce silently. Range checks, the choice of one magnitude, the
conversion to Mw and the filters are :func:`espb.catalog.build.build_events`'s job.

Formats (``--format``):

``isc``      ISC Bulletin "CSV" event-catalogue export (``DATA_TYPE EVENT_CATALOGUE``)
``comcat``   USGS ComCat CSV (``time,latitude,longitude,depth,mag,magType,...``)
``quakeml``  QuakeML 1.2 XML (FDSN event web services, SeisComP, ISC, EMSC, ...)
``csv``      any other delimited file, with a column mapping

:func:`ingest` = :func:`read_raw` + :func:`~espb.catalog.build.build_events` + provenance.

This module also holds the small helpers the readers share (file checks, vectorised parsing
of numbers and times that records failures).
"""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from espb.catalog.build import IngestConfig, RawCatalog, build_events
from espb.catalog.report import DropReport
from espb.catalog.schema import file_sha256
from espb.errors import CatalogError, ConfigError

FORMATS: tuple[str, ...] = ("isc", "comcat", "quakeml", "csv")

#: reader options each format accepts (besides ``on_bad_rows``)
FORMAT_OPTIONS: dict[str, tuple[str, ...]] = {
    "isc": (),
    "comcat": (),
    "quakeml": (),
    "csv": ("mapping", "mag_type", "time_format", "depth_unit", "delimiter"),
}

#: columns a ComCat CSV must have
COMCAT_REQUIRED: tuple[str, ...] = ("time", "latitude", "longitude", "depth", "mag", "magType")

_SNIFF_BYTES = 64 * 1024
_ISC_HEADER = re.compile(r"^[ \t]*EVENTID[ \t]*,", re.M)

_LOOKS_LIKE = {
    "isc": "an ISC Bulletin EVENT_CATALOGUE export",
    "comcat": "a USGS ComCat CSV",
    "quakeml": "a QuakeML file",
    "csv": "a delimited text (CSV) file in no layout espb knows by itself",
}


# --- format detection --------------------------------------------------------------------


def sniff_format(path: str | Path) -> str | None:
    """Guess a catalog file's format from its first 64 KiB.

    Returns ``"isc"`` (a ``DATA_TYPE EVENT_CATALOGUE`` marker, or a line starting with
    ``EVENTID,`` after optional blanks), ``"quakeml"`` (XML in a ``quakeml.org/xmlns``
    namespace), ``"comcat"`` (the first line holds ComCat's columns), ``"csv"`` (some other
    delimited header line) or None (empty, unreadable, non-QuakeML XML, not delimited text).
    """
    try:
        with open(path, "rb") as fh:
            head = fh.read(_SNIFF_BYTES)
    except OSError:
        return None
    if head.startswith(b"\xef\xbb\xbf"):  # UTF-8 byte-order mark
        head = head[3:]
    text = head.decode("latin-1")
    if not text.strip():
        return None
    if "DATA_TYPE EVENT_CATALOGUE" in text or _ISC_HEADER.search(text):
        return "isc"
    stripped = text.lstrip()
    if stripped.startswith("<"):
        return "quakeml" if "quakeml.org/xmlns" in text else None
    first = stripped.splitlines()[0]
    cols = {c.strip().strip('"') for c in first.split(",")}
    if all(c in cols for c in COMCAT_REQUIRED):
        return "comcat"
    for sep in (",", ";", "\t", "|"):
        if len(first.split(sep)) > 1:
            return "csv"
    return None


def looks_like(fmt: str | None) -> str:
    """A phrase saying what a file of the sniffed format ``fmt`` looks like."""
    if fmt is None:
        return "none of the formats espb reads"
    return _LOOKS_LIKE.get(fmt, fmt)


def format_hint(path: str | Path, chosen: str) -> tuple[str, str]:
    """What the file at ``path`` looks like, and which ``--format`` would read it.

    Returns ``(looks, fix)``, e.g. ``("it looks like a USGS ComCat CSV", "use --format
    comcat")``; both empty when the sniffer agrees with ``chosen`` or has no idea.
    """
    guess = sniff_format(path)
    if guess is None or guess == chosen:
        return "", ""
    looks = f"it looks like {looks_like(guess)}"
    if guess == "csv":
        return looks, (
            "read it with --format csv and a column mapping (--map time=COL --map latitude=COL "
            "--map longitude=COL --map depth=COL --map mag=COL --map mag_type=COL, or a fixed "
            "--mag-type)"
        )
    return looks, f"use --format {guess}"


# --- helpers shared by the readers -------------------------------------------------------


def check_file(path: str | Path) -> Path:
    """The path as a Path; CatalogError if it is missing, not a file or empty."""
    p = Path(path)
    if not p.exists():
        raise CatalogError(p, "does not exist", "check the path (and the working directory)")
    if not p.is_file():
        raise CatalogError(p, "is not a file", "pass the catalog file itself, not a directory")
    if p.stat().st_size == 0:
        raise CatalogError(
            p, "is empty (0 bytes)", "the download or export failed; fetch the catalog again"
        )
    return p


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
    """Concatenate ``bad`` frames, ordered by row (file order)."""
    parts = [p for p in parts if len(p)]
    if not parts:
        return empty_bad()
    out = pd.concat(parts, ignore_index=True)
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
    of ``text`` = event row).
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


def parse_times(
    text: pd.Series, column: str, time_format: str | None = None
) -> tuple[pd.DatetimeIndex, pd.DataFrame]:
    """Parse stripped strings to UTC times (ISO 8601 unless ``time_format`` is given).

    Naive times are taken as UTC. Empty strings give NaT (``build_events`` reports them as
    missing); non-empty strings that do not parse give NaT and a ``bad`` row.
    """
    s = strip_str(text)
    fmt = time_format or "ISO8601"
    t = pd.to_datetime(s.where(s != "", None), format=fmt, utc=True, errors="coerce")
    t = pd.DatetimeIndex(t).as_unit("ns")
    bad = np.asarray(t.isna()) & (s != "").to_numpy()
    idx = np.flatnonzero(bad)
    expect = f"format {time_format!r}" if time_format else "ISO 8601, e.g. 2011-03-11T05:46:24.120Z"
    return t, bad_frame(
        idx, column, s.to_numpy(dtype=object)[idx], f"unparsable time (expected {expect})"
    )


def make_raw(
    source: str,
    path: Path | None,
    events: dict[str, Any],
    mags: dict[str, Any],
    bad: list[pd.DataFrame],
) -> RawCatalog:
    """Assemble a :class:`RawCatalog` from column arrays (dtypes made consistent)."""
    ev = pd.DataFrame(
        {
            "event_id": strip_str(events["event_id"]),
            "time": pd.DatetimeIndex(events["time"]).as_unit("ns"),
            "latitude": np.asarray(events["latitude"], dtype=np.float64),
            "longitude": np.asarray(events["longitude"], dtype=np.float64),
            "depth": np.asarray(events["depth"], dtype=np.float64),
            "line": np.asarray(events["line"], dtype=np.int64),
            "event_type": strip_str(events.get("event_type", [""] * len(events["line"]))),
        }
    )
    mg = pd.DataFrame(
        {
            "row": np.asarray(mags["row"], dtype=np.int64),
            "mag": np.asarray(mags["mag"], dtype=np.float64),
            "mag_type": strip_str(mags["mag_type"]),
            "author": strip_str(mags["author"]),
        }
    )
    return RawCatalog(source=source, path=path, events=ev, mags=mg, bad=concat_bad(bad))


# --- entry points ------------------------------------------------------------------------


def read_raw(
    path: str | Path, fmt: str, *, on_bad_rows: str = "error", **options: Any
) -> RawCatalog:
    """Parse a catalog file of format ``fmt`` (one of :data:`FORMATS`, or ``"auto"``).

    ``on_bad_rows`` matters to readers that can recover from a damaged file (an ISC export
    without its ``STOP`` line is read with a warning under ``"skip"``). ``options`` go to the
    reader: for ``csv`` ``mapping``, ``mag_type``, ``time_format``, ``depth_unit``,
    ``delimiter`` (see :func:`espb.catalog.readers.generic_csv.read_generic_csv`).
    """
    if on_bad_rows not in ("error", "skip"):
        raise ConfigError(f"on_bad_rows must be 'error' or 'skip', not {on_bad_rows!r}")
    if fmt not in (*FORMATS, "auto"):
        raise CatalogError(
            path,
            f"unknown catalog format {fmt!r}",
            f"use --format with one of {', '.join(FORMATS)} (or auto to detect it)",
        )
    p = check_file(path)
    if fmt == "auto":
        guess = sniff_format(p)
        if guess is None:
            raise CatalogError(
                p,
                "its format could not be detected (it is neither an ISC EVENT_CATALOGUE export, "
                "a ComCat CSV, QuakeML, nor delimited text)",
                f"name the format with --format ({', '.join(FORMATS)})",
            )
        fmt = guess
    allowed = FORMAT_OPTIONS[fmt]
    unknown = sorted(k for k in options if k not in allowed)
    if unknown:
        raise ConfigError(
            f"reader options {unknown} do not apply to --format {fmt}; "
            f"it accepts {list(allowed) or 'no options'}"
        )
    if fmt == "isc":
        from espb.catalog.readers.isc import read_isc

        return read_isc(p, on_bad_rows=on_bad_rows)
    if fmt == "comcat":
        from espb.catalog.readers.comcat import read_comcat

        return read_comcat(p)
    if fmt == "quakeml":
        from espb.catalog.readers.quakeml import read_quakeml

        return read_quakeml(p)
    from espb.catalog.readers.generic_csv import read_generic_csv

    return read_generic_csv(p, **options)


def ingest(
    path: str | Path, fmt: str, cfg: IngestConfig | None = None, **options: Any
) -> tuple[pd.DataFrame, DropReport, dict[str, Any]]:
    """Read a catalog file and build the event table.

    Returns ``(events, drop_report, metadata)``; ``metadata`` is the provenance to store with
    the table: the source file (path, format, SHA-256, reader options), the ingest settings
    and the drop report.
    """
    cfg = cfg or IngestConfig()
    cfg.validate()
    raw = read_raw(path, fmt, on_bad_rows=cfg.on_bad_rows, **options)
    events, report = build_events(raw, cfg)
    meta = {
        "source": {
            "path": str(path),
            "format": raw.source if fmt == "auto" else fmt,
            "sha256": file_sha256(path),
            "reader_options": dict(options),
        },
        "ingest_config": dataclasses.asdict(cfg),
        "drop_report": report.to_dict(),
    }
    return events, report, meta


__all__ = [
    "COMCAT_REQUIRED",
    "FORMATS",
    "format_hint",
    "ingest",
    "looks_like",
    "read_raw",
    "sniff_format",
]
