"""Reader for USGS ComCat CSV (``https://earthquake.usgs.gov/fdsnws/event/1/query?format=csv``).

Columns: ``time,latitude,longitude,depth,mag,magType,nst,gap,dmin,rms,net,id,updated,place,
type,...``; ``time`` like ``2026-02-25T17:17:01.958Z``, depth in km. One magnitude per row.
Required: time, latitude, longitude, depth, mag, magType. Optional: ``id`` (event_id; made
from line numbers when absent), ``type`` (event_type), ``magSource`` or else ``net``
(magnitude author).
"""

from __future__ import annotations

from pathlib import Path

from espb.catalog.build import RawCatalog
from espb.catalog.readers import COMCAT_REQUIRED, check_file, format_hint
from espb.catalog.readers.generic_csv import events_from_table, read_table
from espb.catalog.readers.textio import read_text
from espb.errors import CatalogError


def read_comcat(path: str | Path, encoding: str = "auto") -> RawCatalog:
    """Parse a ComCat CSV into a :class:`RawCatalog` (gzip/bzip2/xz and encodings as in
    :mod:`espb.catalog.readers.textio`; ``updated`` is kept for duplicate event ids).

    Raises :class:`CatalogError` naming the missing and the found columns when required
    columns are absent, with a hint at the right ``--format``.
    """
    path = check_file(path)
    data = read_text(path, encoding)
    first = data[: data.find(b"\n") if b"\n" in data else len(data)]
    head = first.decode("utf-8").strip()
    found = [c.strip().strip('"') for c in head.split(",")]
    missing = [c for c in COMCAT_REQUIRED if c not in found]
    if missing:
        looks, fix = format_hint(path, "comcat")
        shown = found if len(found) <= 30 else [*found[:30], "..."]
        raise CatalogError(
            path,
            f"is not a ComCat CSV (--format comcat): columns {missing} are missing; the first "
            f"line has {shown}" + (f"; {looks}" if looks else ""),
            fix
            or "download it with format=csv from the ComCat event service, or read another CSV "
            "layout with --format csv and a column mapping (--map time=COL --map mag=COL ...)",
        )
    df, lines = read_table(path, ",", data=data)
    columns = {
        "time": "time",
        "latitude": "latitude",
        "longitude": "longitude",
        "depth": "depth",
        "mag": "mag",
        "mag_type": "magType",
    }
    if "id" in df.columns:
        columns["event_id"] = "id"
    if "type" in df.columns:
        columns["event_type"] = "type"
    if "magSource" in df.columns:
        columns["author"] = "magSource"
    elif "net" in df.columns:
        columns["author"] = "net"
    if "updated" in df.columns:
        columns["updated"] = "updated"
    return events_from_table(path, "comcat", df, lines, columns)


__all__ = ["read_comcat"]
