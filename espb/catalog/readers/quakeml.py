"""Reader for QuakeML 1.2 (``http://quakeml.org/xmlns/bed/1.2``).

A streaming parser on :func:`xml.etree.ElementTree.iterparse` (ObsPy is not needed at run
time): each ``eventParameters/event`` element is parsed, turned into one event row and
released, so memory stays flat on large files.

Per event: the origin named by ``preferredOriginID`` (else the first origin) gives time,
latitude, longitude and depth (QuakeML depths are in metres; espb uses km); every
``magnitude`` element gives one magnitude (``mag/value``, ``type``,
``creationInfo/agencyID`` as author); the event's ``type`` is the event type ("" if absent);
the event's ``publicID`` is its id and ``line`` the line of its ``<event>`` start tag.
"""

from __future__ import annotations

import lzma
import re
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import IO

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
)
from espb.catalog.readers.textio import open_binary
from espb.errors import CatalogError

QUAKEML_NS_PREFIX = "http://quakeml.org/xmlns/"


class _LineReader:
    """A binary file whose ``read`` hands out one line at a time, counting lines.

    ``iterparse`` feeds what ``read`` returns and then yields the events it produced, so
    while handling an event ``line`` is the line on which that start tag ended.
    """

    def __init__(self, fh: IO[bytes]) -> None:
        self.fh = fh
        self.line = 0

    def read(self, size: int = -1) -> bytes:
        data = self.fh.readline()
        if data:
            self.line += 1
        return data


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _ns(tag: str) -> str:
    return tag[1:].split("}", 1)[0] if tag.startswith("{") else ""


def _text(el: ET.Element | None) -> str:
    if el is None or el.text is None:
        return ""
    return el.text.strip()


def read_quakeml(path: str | Path) -> RawCatalog:
    """Parse a QuakeML 1.2 file into a :class:`RawCatalog`.

    Raises :class:`CatalogError` for malformed XML (with the parser's line and column), XML
    that is not QuakeML, and a file without events.
    """
    path = check_file(path)
    ids: list[str] = []
    lines: list[int] = []
    etypes: list[str] = []
    times: list[str] = []
    lats: list[str] = []
    lons: list[str] = []
    deps: list[str] = []
    no_origin: list[int] = []
    m_row: list[int] = []
    m_val: list[str] = []
    m_type: list[str] = []
    m_auth: list[str] = []

    stack: list[str] = []
    start_line = 0
    params: ET.Element | None = None
    with open_binary(path) as fh:
        src = _LineReader(fh)
        try:
            for kind, el in ET.iterparse(src, events=("start", "end")):
                if kind == "start":
                    if not stack:
                        ns = _ns(el.tag)
                        if _local(el.tag) != "quakeml" or not ns.startswith(QUAKEML_NS_PREFIX):
                            looks, fix = format_hint(path, "quakeml")
                            raise CatalogError(
                                path,
                                f"is XML but not QuakeML (--format quakeml): its root element is "
                                f"<{_local(el.tag)}> in namespace {ns or '(none)'!r}, not <quakeml> "
                                f"in {QUAKEML_NS_PREFIX}..." + (f"; {looks}" if looks else ""),
                                fix
                                or "download the catalog as QuakeML 1.2 (e.g. format=xml from an "
                                "FDSN event web service)",
                            )
                    name = _local(el.tag)
                    if name == "eventParameters" and len(stack) == 1:
                        params = el
                    elif name == "event" and len(stack) == 2 and stack[1] == "eventParameters":
                        start_line = src.line
                    stack.append(name)
                    continue
                name = stack.pop()
                if name != "event" or len(stack) != 2 or stack[1] != "eventParameters":
                    continue
                row = len(ids)
                ns = "{" + _ns(el.tag) + "}"
                ids.append(el.get("publicID", "").strip())
                lines.append(start_line)
                etypes.append(_text(el.find(ns + "type")))
                pref = _text(el.find(ns + "preferredOriginID"))
                origins = el.findall(ns + "origin")
                origin = next((o for o in origins if o.get("publicID", "").strip() == pref), None)
                if origin is None and origins:
                    origin = origins[0]
                if origin is None:
                    no_origin.append(row)
                    times.append("")
                    lats.append("")
                    lons.append("")
                    deps.append("")
                else:
                    times.append(_text(origin.find(f"{ns}time/{ns}value")))
                    lats.append(_text(origin.find(f"{ns}latitude/{ns}value")))
                    lons.append(_text(origin.find(f"{ns}longitude/{ns}value")))
                    deps.append(_text(origin.find(f"{ns}depth/{ns}value")))
                for mg in el.findall(ns + "magnitude"):
                    m_row.append(row)
                    m_val.append(_text(mg.find(f"{ns}mag/{ns}value")))
                    m_type.append(_text(mg.find(ns + "type")))
                    m_auth.append(_text(mg.find(f"{ns}creationInfo/{ns}agencyID")))
                el.clear()
                if params is not None:
                    params.remove(el)
        except ET.ParseError as exc:
            line, col = exc.position
            looks, fix = format_hint(path, "quakeml")
            what = "is not XML" if looks else "is not well-formed XML"
            msg = re.sub(r":? ?line \d+, column \d+$", "", str(exc)).strip() or "parse error"
            raise CatalogError(
                path,
                f"{what} (--format quakeml): {msg} at line {line}, column {col + 1}"
                + (f"; {looks}" if looks else ""),
                fix or "the file is damaged or truncated; download it again",
            ) from exc
        except (OSError, EOFError, lzma.LZMAError) as exc:  # a damaged compressed stream
            raise CatalogError(
                path,
                f"cannot be read: the compressed data is damaged or truncated ({exc})",
                "download the file again",
            ) from exc
    if not ids:
        raise CatalogError(
            path,
            "contains no events (its eventParameters is empty or missing)",
            "the query matched no events: widen it and download again",
        )
    t = parse_time_strings(pd.Series(times, dtype="str"), "origin/time/value")
    tbad = t.bad
    lat, b1 = parse_numbers(pd.Series(lats, dtype="str"), "origin/latitude/value")
    lon, b2 = parse_numbers(pd.Series(lons, dtype="str"), "origin/longitude/value")
    dep, b3 = parse_numbers(pd.Series(deps, dtype="str"), "origin/depth/value")
    bad = [
        tbad,
        b1,
        b2,
        b3,
        bad_frame(np.asarray(no_origin), "origin", [""] * len(no_origin), "event has no origin"),
    ]
    rows = np.asarray(m_row, dtype=np.int64)
    mval, mbad = parse_numbers(pd.Series(m_val, dtype="str"), "magnitude/mag/value")
    mtype = np.asarray(m_type, dtype=object)
    not_number = np.zeros(len(m_val), dtype=bool)
    if len(mbad):
        local = mbad["row"].to_numpy()
        not_number[local] = True
        mbad["row"] = rows[local]
        mbad["problem"] = [f"magnitude value of type {x!r} is not a number" for x in mtype[local]]
        bad.append(mbad)
    empty = np.flatnonzero(np.isnan(mval) & ~not_number)  # no value, or a word like NaN
    if empty.size:
        bad.append(
            bad_frame(
                rows[empty],
                "magnitude/mag/value",
                np.asarray(m_val, dtype=object)[empty],
                [f"magnitude of type {x!r} has no value" for x in mtype[empty]],
            )
        )
    ok = ~np.isnan(mval) if len(mval) else np.zeros(0, dtype=bool)
    mags = {
        "row": rows[ok],
        "mag": mval[ok],
        "mag_type": mtype[ok],
        "author": np.asarray(m_auth, dtype=object)[ok],
    }
    events = {
        "event_id": pd.Series(ids, dtype="str"),
        "time": t,
        "latitude": lat,
        "longitude": lon,
        "depth": dep / 1000.0,
        "line": np.asarray(lines, dtype=np.int64),
        "event_type": pd.Series(etypes, dtype="str"),
    }
    return make_raw("quakeml", path, events, mags, bad)


__all__ = ["read_quakeml"]
