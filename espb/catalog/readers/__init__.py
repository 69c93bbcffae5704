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

import pandas as pd

from espb.catalog.build import IngestConfig, RawCatalog, build_events
from espb.catalog.explain import explain_empty
from espb.catalog.parsing import (
    ParsedTimes,
    bad_frame,
    concat_bad,
    empty_bad,
    make_raw,
    parse_numbers,
    parse_time_strings,
    parse_times,
    strip_str,
)
from espb.catalog.readers.textio import (
    check_encoding,
    compression_of,
    detect_encoding,
    read_head,
)
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
    """Guess a catalog file's format from its first 64 KiB (decompressed; see
    :mod:`espb.catalog.readers.textio` for compression and encodings).

    Returns ``"isc"`` (a ``DATA_TYPE EVENT_CATALOGUE`` marker, or a line starting with
    ``EVENTID,`` after optional blanks), ``"quakeml"`` (XML in a ``quakeml.org/xmlns``
    namespace), ``"comcat"`` (the first line holds ComCat's columns), ``"csv"`` (some other
    delimited header line) or None (empty, unreadable, non-QuakeML XML, not delimited text).
    """
    try:
        head = read_head(path, _SNIFF_BYTES)
    except (OSError, CatalogError):
        return None
    enc = detect_encoding(head)
    if enc == "utf-8" and b"\x00" in head[:4096]:
        return None  # binary data
    text = head.decode(enc if enc != "utf-8" else "latin-1", errors="replace").lstrip("\ufeff")
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
    """The path as a Path; CatalogError if it is missing, not a file, unreadable or empty."""
    p = Path(path)
    if not p.exists():
        raise CatalogError(p, "does not exist", "check the path (and the working directory)")
    if not p.is_file():
        raise CatalogError(p, "is not a file", "pass the catalog file itself, not a directory")
    try:
        size = p.stat().st_size
        with open(p, "rb") as fh:
            head = fh.read(4)
    except OSError as exc:
        raise CatalogError(
            p, f"cannot be read ({exc.strerror or exc})", "check the file's permissions"
        ) from exc
    if size == 0:
        raise CatalogError(
            p, "is empty (0 bytes)", "the download or export failed; fetch the catalog again"
        )
    if head == b"PAR1":
        raise CatalogError(
            p,
            "is a Parquet file, not a raw catalog",
            "an event table is already ingested: inspect it with `espb catalog info`, or ingest "
            "the original catalog file",
        )
    return p


# --- entry points ------------------------------------------------------------------------


def read_raw(
    path: str | Path,
    fmt: str,
    *,
    on_bad_rows: str = "error",
    encoding: str = "auto",
    **options: Any,
) -> RawCatalog:
    """Parse a catalog file of format ``fmt`` (one of :data:`FORMATS`, or ``"auto"``).

    ``on_bad_rows`` matters to readers that can recover from a damaged file (an ISC export
    without its ``STOP`` line is read with a warning under ``"skip"``). ``options`` go to the
    reader: for ``csv`` ``mapping``, ``mag_type``, ``time_format``, ``depth_unit``,
    ``delimiter`` (see :func:`espb.catalog.readers.generic_csv.read_generic_csv`).
    ``encoding`` (``auto`` or a codec name) applies to every text format but QuakeML, whose
    XML declares its own; gzip, bzip2 and xz files are decompressed whatever their name.
    """
    check_encoding(encoding)
    if on_bad_rows not in ("error", "skip"):
        raise ConfigError(f"on_bad_rows must be 'error' or 'skip', not {on_bad_rows!r}")
    if fmt not in (*FORMATS, "auto"):
        raise CatalogError(
            path,
            f"unknown catalog format {fmt!r}",
            f"use --format with one of {', '.join(FORMATS)} (or auto to detect it)",
        )
    p = check_file(path)
    compression_of(p)  # a zip archive is an error naming the file
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

        return read_isc(p, on_bad_rows=on_bad_rows, encoding=encoding)
    if fmt == "comcat":
        from espb.catalog.readers.comcat import read_comcat

        return read_comcat(p, encoding=encoding)
    if fmt == "quakeml":
        if encoding != "auto":
            raise ConfigError(
                "--encoding does not apply to --format quakeml: an XML file declares its own "
                "encoding (leave it at auto)"
            )
        from espb.catalog.readers.quakeml import read_quakeml

        return read_quakeml(p)
    from espb.catalog.readers.generic_csv import read_generic_csv

    return read_generic_csv(p, encoding=encoding, **options)


def ingest(
    path: str | Path,
    fmt: str,
    cfg: IngestConfig | None = None,
    *,
    encoding: str = "auto",
    allow_empty: bool = False,
    **options: Any,
) -> tuple[pd.DataFrame, DropReport, dict[str, Any]]:
    """Read a catalog file and build the event table.

    Returns ``(events, drop_report, metadata)``; ``metadata`` is the provenance to store with
    the table: the source file (path, format, SHA-256, reader options), the ingest settings
    and the drop report. An ingest that keeps no event is a :class:`CatalogError` saying which
    steps removed the events and which setting to change (unless ``allow_empty``).
    """
    cfg = cfg or IngestConfig()
    cfg.validate()
    raw = read_raw(path, fmt, on_bad_rows=cfg.on_bad_rows, encoding=encoding, **options)
    events, report = build_events(raw, cfg)
    if len(events) == 0 and not allow_empty:
        problem, fix = explain_empty(raw, report, cfg)
        raise CatalogError(raw.path or path, problem, fix)
    meta = {
        "source": {
            "path": str(path),
            "format": raw.source if fmt == "auto" else fmt,
            "sha256": file_sha256(path),
            "reader_options": {**options, **({"encoding": encoding} if encoding != "auto" else {})},
        },
        "ingest_config": dataclasses.asdict(cfg),
        "drop_report": report.to_dict(),
    }
    return events, report, meta


__all__ = [
    "COMCAT_REQUIRED",
    "FORMATS",
    "ParsedTimes",
    "bad_frame",
    "check_file",
    "concat_bad",
    "empty_bad",
    "format_hint",
    "make_raw",
    "parse_numbers",
    "parse_time_strings",
    "parse_times",
    "strip_str",
    "ingest",
    "looks_like",
    "read_raw",
    "sniff_format",
]
