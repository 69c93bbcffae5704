"""Write catalogs back out as ISC EVENT_CATALOGUE exports and ComCat CSVs.

Used to export synthetic catalogs in the formats real catalogs come in (so that the whole
ingest path can be exercised at full scale) and by the reader round-trip tests.

Both writers are vectorised (numbers are formatted with integer arithmetic into fixed-width
byte matrices, strings are joined with Arrow compute kernels) and write atomically through
:func:`espb.safeio.atomic_write` (a unique temporary file next to the target, renamed into
place when complete, removed on any failure).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from espb.catalog.build import RawCatalog
from espb.catalog.magnitudes import MagnitudeConfig, choose_by_priority, families
from espb.safeio import atomic_write

_STR = pa.large_string()
Inputs = tuple[str | Path | None, ...] | list[str | Path | None]

#: event types written to ComCat as ``earthquake`` (ISC's natural-earthquake codes)
_NATURAL = ("ke", "se", "fe", "de", "earthquake", "")

COMCAT_COLUMNS: tuple[str, ...] = (
    "time",
    "latitude",
    "longitude",
    "depth",
    "mag",
    "magType",
    "nst",
    "gap",
    "dmin",
    "rms",
    "net",
    "id",
    "updated",
    "place",
    "type",
    "horizontalError",
    "depthError",
    "magError",
    "magNst",
    "status",
    "locationSource",
    "magSource",
)

ISC_GROUP_LINE = (
    "--EVENT--|TYPE|----------------ORIGIN (PRIME HYPOCENTRE)----------------|----MAGNITUDES----"
)
ISC_HEADER = (
    "  EVENTID,TYPE,AUTHOR   ,DATE      ,TIME        ,LAT     ,LON      ,DEPTH,DEPFIX,"
    "AUTHOR   ,TYPE  ,MAG   "
)


# --- vectorised formatting ---------------------------------------------------------------


def _strings(values: object, n: int) -> pa.Array:
    """Values as an Arrow large_string array, missing as ``""``."""
    if values is None:
        return pa.array([""] * n, type=_STR)
    s = pd.Series(values).reset_index(drop=True)
    s = s.astype("str").fillna("")
    return pa.array(s, type=_STR)


def _fixed(x: np.ndarray, decimals: int, width: int = 0, nan: str = "") -> pa.Array:
    """``f"{v:{width}.{decimals}f}"`` for every value, vectorised; NaN gives ``nan`` padded.

    Digits come from integer arithmetic on ``round(|x| * 10**decimals)`` written into a
    fixed-width byte matrix. Float rounding is monotonic, so the product can only be on the
    wrong side of a rounding tie when it lands exactly on ``.5``; those values (and values
    too large for int64) are formatted by Python, so the output equals the f-string exactly.
    """
    x = np.asarray(x, dtype=np.float64)
    n = x.size
    if n == 0:
        return pa.array([], type=_STR)
    bad = ~np.isfinite(x)
    scale = 10.0**decimals
    scaled = np.abs(np.where(bad, 0.0, x)) * scale
    # exact ties and numbers too large for int64 digits are formatted by Python instead
    slow = ~bad & ((scaled - np.floor(scaled) == 0.5) | (scaled >= 1e15))
    q = np.rint(np.where(slow, 0.0, scaled)).astype(np.int64)
    ndig = max(len(str(int(q.max()))), decimals + 1)
    nint = ndig - decimals
    digits = np.empty((n, ndig), dtype=np.uint8)
    rest = q.copy()
    for j in range(ndig - 1, -1, -1):
        digits[:, j] = rest % 10 + 48
        rest //= 10
    lead = np.zeros(n, dtype=np.int64)  # leading zeros of the integer part (become spaces)
    for j in range(nint - 1):
        blank = q < 10 ** (ndig - 1 - j)
        digits[blank, j] = 32
        lead += blank
    w = 1 + ndig + (1 if decimals else 0)
    mat = np.full((n, w), 32, dtype=np.uint8)
    mat[:, 1 : 1 + nint] = digits[:, :nint]
    if decimals:
        mat[:, 1 + nint] = 46
        mat[:, 2 + nint :] = digits[:, nint:]
    neg = np.signbit(x) & ~bad
    if neg.any():
        mat[np.flatnonzero(neg), lead[neg]] = 45
    out = pa.array(mat.view(f"S{w}").ravel()).cast(_STR)
    out = pc.utf8_ltrim_whitespace(out)
    if slow.any():
        exact = pa.array([f"{v:.{decimals}f}" for v in x[slow]], type=_STR)
        out = pc.replace_with_mask(out, pa.array(slow), exact)
    if bad.any():
        out = pc.if_else(pa.array(bad), pa.scalar(nan, _STR), out)
    if width:
        out = pc.utf8_lpad(out, width, " ")
    return out


def _times(values: object) -> tuple[np.ndarray, np.ndarray]:
    """Times (UTC) rounded to the millisecond, as ``YYYY-MM-DDTHH:MM:SS.sss`` strings.

    Returns the strings and a mask of missing times (NaT).
    """
    t = pd.DatetimeIndex(pd.Series(values).reset_index(drop=True))
    if t.tz is not None:
        t = t.tz_convert("UTC").tz_localize(None)
    t = t.round("ms")
    nat = np.asarray(t.isna())
    arr = t.to_numpy().astype("datetime64[ms]")
    text = np.datetime_as_string(arr, unit="ms")
    return text, nat


def _join(*parts: object, sep: str, skip_nulls: bool = False) -> pa.Array:
    """Element-wise join of string arrays/scalars with ``sep`` (nulls skipped on request)."""
    args = [pa.scalar(p, _STR) if isinstance(p, str) else p for p in parts]
    return pc.binary_join_element_wise(
        *args, pa.scalar(sep, _STR), null_handling="skip" if skip_nulls else "emit_null"
    )


def _csv_quote(arr: pa.Array) -> pa.Array:
    """Quote CSV fields that contain a delimiter, a quote or a line break."""
    needs = pc.match_substring_regex(arr, r'[,"\r\n]')
    if not pc.any(needs).as_py():
        return arr
    quoted = _join('"', pc.replace_substring(arr, '"', '""'), '"', sep="")
    return pc.if_else(needs, quoted, arr)


def _write_lines(
    path: str | Path, head: str, lines: pa.Array, tail: str, inputs: Inputs = ()
) -> Path:
    """Write ``head``, each line followed by a newline, then ``tail``; atomically
    (:func:`espb.safeio.atomic_write`: unique temporary name, nothing left on failure)."""
    path = Path(path)
    with atomic_write(path, inputs) as tmp, open(tmp, "wb") as fh:
        fh.write(head.encode())
        step = 1 << 18
        for start in range(0, len(lines), step):
            joined = _join(lines.slice(start, step), "", sep="\n").cast(_STR)
            parts = joined.chunks if isinstance(joined, pa.ChunkedArray) else [joined]
            for part in parts:
                if not len(part):
                    continue
                offsets = np.frombuffer(part.buffers()[1], dtype=np.int64)
                lo = offsets[part.offset]
                hi = offsets[part.offset + len(part)]
                fh.write(memoryview(part.buffers()[2])[lo:hi])
        fh.write(tail.encode())
    return path


def _mag_order(raw: RawCatalog) -> tuple[np.ndarray, np.ndarray]:
    """Magnitudes in file order grouped by event: (order into raw.mags, rank within event)."""
    rows = raw.mags["row"].to_numpy(dtype=np.int64)
    order = np.argsort(rows, kind="stable")
    r = rows[order]
    first = np.ones(len(r), dtype=bool)
    first[1:] = r[1:] != r[:-1]
    starts = np.flatnonzero(first)
    group = np.cumsum(first) - 1
    rank = np.arange(len(r)) - starts[group] if len(r) else np.zeros(0, dtype=np.int64)
    return order, rank


# --- writers -----------------------------------------------------------------------------


def write_isc(raw: RawCatalog, path: str | Path, inputs: Inputs = ()) -> Path:
    """Write ``raw`` as an ISC Bulletin EVENT_CATALOGUE export that the ISC reader reads.

    Layout: ``DATA_TYPE EVENT_CATALOGUE``, a title, the group line and the header, then one
    row per event (EVENTID right-aligned in 9, event TYPE (``ke`` when empty), origin AUTHOR,
    DATE, TIME with milliseconds, LAT/LON with 4 decimals, DEPTH with 1 (empty when
    unknown), DEPFIX ``FALSE``) followed by every magnitude of the event as
    ``AUTHOR,TYPE,MAG`` triplets (MAG with 3 decimals), and a final ``STOP`` line. The file
    is written atomically and never over one of ``inputs``.
    """
    ev = raw.events.reset_index(drop=True)
    n = len(ev)
    eid = pc.utf8_lpad(_strings(ev["event_id"], n), 9, " ")
    et = _strings(ev["event_type"] if "event_type" in ev else None, n)
    et = pc.utf8_trim_whitespace(et)
    et = pc.if_else(pc.equal(et, ""), pa.scalar("ke", _STR), et)
    et = pc.utf8_rpad(et, 3, " ")
    text, _ = _times(ev["time"])
    iso = pa.array(text, type=_STR)
    date = pc.utf8_slice_codeunits(iso, 0, 10)
    tod = pc.utf8_slice_codeunits(iso, 11, 23)
    lat = _fixed(ev["latitude"].to_numpy(dtype=float), 4, 8)
    lon = _fixed(ev["longitude"].to_numpy(dtype=float), 4, 9)
    dep = _fixed(ev["depth"].to_numpy(dtype=float), 1, 5)
    fixed = _join(eid, et, "ISC      ", date, tod, lat, lon, dep, "FALSE ", sep=",")
    parts = [fixed]
    m = raw.mags
    if len(m):
        order, rank = _mag_order(raw)
        nm = len(m)
        ma = pc.utf8_rpad(_strings(m["author"], nm), 9, " ")
        mt = pc.utf8_rpad(_strings(m["mag_type"], nm), 6, " ")
        mv = _fixed(m["mag"].to_numpy(dtype=float), 3, 6)
        trip = _join(ma, mt, mv, sep=",")
        rows = m["row"].to_numpy(dtype=np.int64)[order]
        for k in range(int(rank.max()) + 1):
            sel = rank == k
            idx = np.full(n, -1, dtype=np.int64)
            idx[rows[sel]] = order[sel]
            parts.append(pc.take(trip, pa.array(idx, mask=idx < 0)))
    lines = _join(*parts, sep=",", skip_nulls=True)
    head = "\n".join(
        [
            "DATA_TYPE EVENT_CATALOGUE",
            "ISC Bulletin (EVENT_CATALOGUE layout, written by espb)",
            ISC_GROUP_LINE,
            ISC_HEADER,
            "",
        ]
    )
    return _write_lines(path, head, lines, "STOP\n", inputs)


def write_comcat(raw: RawCatalog, path: str | Path, inputs: Inputs = ()) -> Path:
    """Write ``raw`` as a USGS ComCat CSV with one magnitude per event.

    The magnitude is chosen with the paper's type priority
    (:func:`~espb.catalog.magnitudes.choose_by_priority`, default ``MagnitudeConfig``),
    falling back to the event's first magnitude when none is of a usable type; events
    without any magnitude get an empty ``mag``. ``type`` is ``earthquake`` for natural types
    (ke, se, fe, de, earthquake, empty) and the event type otherwise; ``net`` and
    ``magSource`` hold the magnitude's author. Written atomically, never over one of
    ``inputs``.
    """
    ev = raw.events.reset_index(drop=True)
    n = len(ev)
    m = raw.mags
    nm = len(m)
    mrow = m["row"].to_numpy(dtype=np.int64)
    tcode, tuniq = pd.factorize(m["mag_type"].astype("str").fillna(""))
    acode, auniq = pd.factorize(m["author"].astype("str").fillna(""))
    fam = families(np.asarray(tuniq, dtype=object))[tcode] if nm else np.array([], dtype=object)
    auth = np.asarray(auniq, dtype=object)[acode] if nm else np.array([], dtype=object)
    chosen = choose_by_priority(mrow, fam, auth, n, MagnitudeConfig())
    first = np.full(n, -1, dtype=np.int64)
    if nm:
        u, idx = np.unique(mrow, return_index=True)  # first magnitude of each event
        first[u] = idx
    pick = np.where(chosen >= 0, chosen, first)
    has = pick >= 0
    take = pa.array(pick, mask=~has)
    mag = np.where(has, m["mag"].to_numpy(dtype=float)[np.where(has, pick, 0)] if nm else 0, np.nan)
    empty = pa.scalar("", _STR)
    mtype = pc.fill_null(pc.take(_strings(m["mag_type"], nm), take), empty)
    mauth = pc.fill_null(pc.take(_strings(m["author"], nm), take), empty)

    text, nat = _times(ev["time"])
    t = _join(pa.array(text, type=_STR), "Z", sep="")
    t = pc.if_else(pa.array(nat), pa.scalar("", _STR), t)
    et = _strings(ev["event_type"] if "event_type" in ev else None, n)
    et = pc.utf8_trim_whitespace(et)
    natural = pc.is_in(pc.utf8_lower(et), value_set=pa.array(_NATURAL, type=_STR))
    etype = _csv_quote(pc.if_else(natural, pa.scalar("earthquake", _STR), et))
    auth = _csv_quote(mauth)
    cols = {
        "time": t,
        "latitude": _fixed(ev["latitude"].to_numpy(dtype=float), 4),
        "longitude": _fixed(ev["longitude"].to_numpy(dtype=float), 4),
        "depth": _fixed(ev["depth"].to_numpy(dtype=float), 3),
        "mag": _fixed(mag, 3),
        "magType": _csv_quote(mtype),
        "net": auth,
        "id": _csv_quote(_strings(ev["event_id"], n)),
        "type": etype,
        "magSource": auth,
    }
    fields = [cols.get(c, empty) for c in COMCAT_COLUMNS]
    if n:
        lines = _join(*fields, sep=",")
    else:
        lines = pa.array([], type=_STR)
    return _write_lines(path, ",".join(COMCAT_COLUMNS) + "\n", lines, "", inputs)


def raw_from_events(df: pd.DataFrame) -> RawCatalog:
    """An event table (see :mod:`espb.catalog.schema`) as a RawCatalog to write out.

    One magnitude per event (``mag``, ``mag_type``, ``mag_author``); ``event_type`` is left
    empty (written as ``ke`` to ISC and ``earthquake`` to ComCat); ``line`` counts from 1.
    """
    df = df.reset_index(drop=True)
    n = len(df)
    events = pd.DataFrame(
        {
            "event_id": df["event_id"].astype(str).to_numpy(),
            "time": pd.DatetimeIndex(df["time"]),
            "latitude": df["latitude"].to_numpy(dtype=float),
            "longitude": df["longitude"].to_numpy(dtype=float),
            "depth": df["depth"].to_numpy(dtype=float),
            "line": np.arange(1, n + 1, dtype=np.int64),
            "event_type": [""] * n,
        }
    )
    mags = pd.DataFrame(
        {
            "row": np.arange(n, dtype=np.int64),
            "mag": df["mag"].to_numpy(dtype=float),
            "mag_type": df["mag_type"].astype(str).to_numpy(),
            "author": df["mag_author"].astype(str).to_numpy() if "mag_author" in df else "",
        }
    )
    source = "events"
    if "source" in df and n:
        u = pd.unique(df["source"].astype(str))
        if len(u) == 1:
            source = str(u[0])
    return RawCatalog(source=source, path=None, events=events, mags=mags)


__all__ = ["COMCAT_COLUMNS", "raw_from_events", "write_comcat", "write_isc"]
