"""The event table: one schema for every catalog source (paper Section 2, "Data").

Every reader and the synthetic generator end in the same table, sorted by origin time:

============  =====================  =====================================================
column        dtype                  meaning
============  =====================  =====================================================
event_id      string                 identifier from the source (ISC EVENTID, ComCat id, ...)
time          datetime64[ns, UTC]    origin time
latitude      float64                degrees north, [-90, 90]
longitude     float64                degrees east, [-180, 180)
depth         float64                km below sea level
mw            float64                moment magnitude after homogenisation (Eqs. 2-4)
mag           float64                the source magnitude that ``mw`` was computed from
mag_type      category               its type as the source spells it (``MJMA``, ``mww`` ...)
mag_author    category               agency that reported it ("" when the source has none)
source        category               reader that produced the row (isc, comcat, quakeml, ...)
============  =====================  =====================================================

The table is stored as Parquet. Provenance (source file and hash, settings, the drop report,
espb version, content hash) travels in the Parquet key-value metadata under ``espb``.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from espb.errors import CatalogError
from espb.safeio import atomic_write

SCHEMA_VERSION = 1

COLUMNS: tuple[str, ...] = (
    "event_id",
    "time",
    "latitude",
    "longitude",
    "depth",
    "mw",
    "mag",
    "mag_type",
    "mag_author",
    "source",
)
FLOAT_COLUMNS = ("latitude", "longitude", "depth", "mw", "mag")
CATEGORY_COLUMNS = ("mag_type", "mag_author", "source")
META_KEY = b"espb"


def empty_events() -> pd.DataFrame:
    """An event table with no rows and the right dtypes."""
    df = pd.DataFrame({c: [] for c in COLUMNS})
    return normalize(df)


def normalize(df: pd.DataFrame) -> pd.DataFrame:
    """Cast a frame holding the schema's columns to the schema's dtypes, sort it by time.

    Extra columns are dropped; a missing column is an error naming it.
    """
    missing = [c for c in COLUMNS if c not in df.columns]
    if missing:
        raise CatalogError(
            None, f"event table lacks columns {missing}", "this is a bug in the reader"
        )
    out = pd.DataFrame(index=pd.RangeIndex(len(df)))
    out["event_id"] = df["event_id"].astype(str).to_numpy()
    t = df["time"]
    if not isinstance(t.dtype, pd.DatetimeTZDtype):
        t = pd.to_datetime(t, utc=True)
    out["time"] = pd.DatetimeIndex(t).tz_convert("UTC").as_unit("ns")
    for c in FLOAT_COLUMNS:
        out[c] = pd.to_numeric(df[c]).astype("float64").to_numpy()
    for c in CATEGORY_COLUMNS:
        out[c] = pd.Categorical(df[c].fillna("").astype(str).to_numpy())
    out = out.sort_values(["time", "event_id"], kind="stable").reset_index(drop=True)
    return out


def catalog_hash(df: pd.DataFrame) -> str:
    """Content hash of an event table: the science columns, not the provenance.

    Two tables with the same events (time, place, depth, Mw, id) hash alike whatever file
    they came from; later layers use it as a cache key.
    """
    h = hashlib.sha256()
    h.update(f"espb-events-v{SCHEMA_VERSION}:{len(df)}".encode())
    h.update(pd.DatetimeIndex(df["time"]).tz_convert("UTC").as_unit("ns").asi8.tobytes())
    for c in ("latitude", "longitude", "depth", "mw"):
        h.update(np.ascontiguousarray(df[c].to_numpy(dtype="float64")).tobytes())
    h.update("\x1f".join(df["event_id"].astype(str)).encode())
    return h.hexdigest()[:16]


def file_sha256(path: str | Path, chunk: int = 1 << 20) -> str:
    """SHA-256 of a file's bytes (provenance of an ingested catalog)."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(chunk):
            h.update(block)
    return h.hexdigest()


def save_events(
    df: pd.DataFrame,
    path: str | Path,
    meta: dict[str, Any] | None = None,
    inputs: tuple[str | Path | None, ...] = (),
) -> Path:
    """Write an event table to Parquet with espb metadata, atomically and never over one of
    ``inputs`` (:func:`espb.safeio.atomic_write`)."""
    path = Path(path)
    df = normalize(df)
    meta = dict(meta or {})
    meta.setdefault("schema_version", SCHEMA_VERSION)
    meta["n_events"] = int(len(df))
    meta["catalog_hash"] = catalog_hash(df)
    if len(df):
        meta["time_range"] = [df["time"].iloc[0].isoformat(), df["time"].iloc[-1].isoformat()]
    from espb import __version__

    meta.setdefault("espb_version", __version__)
    table = pa.Table.from_pandas(df, preserve_index=False)
    schema_meta = dict(table.schema.metadata or {})
    schema_meta[META_KEY] = json.dumps(meta, default=str).encode()
    table = table.replace_schema_metadata(schema_meta)
    with atomic_write(path, inputs) as tmp:
        pq.write_table(table, tmp, compression="zstd")
    return path


def load_metadata(path: str | Path) -> dict[str, Any]:
    """The espb metadata of an event-table Parquet file ({} if it has none)."""
    path = Path(path)
    _check_exists(path)
    try:
        md = pq.read_schema(path).metadata or {}
    except (pa.ArrowInvalid, OSError) as exc:
        raise CatalogError(path, f"is not a Parquet file ({exc})", _not_parquet_fix()) from exc
    raw = md.get(META_KEY)
    return json.loads(raw) if raw else {}


def load_events(path: str | Path) -> pd.DataFrame:
    """Read an event table written by :func:`save_events`, sorted by time.

    The metadata is attached as ``df.attrs["espb"]``.
    """
    path = Path(path)
    _check_exists(path)
    try:
        table = pq.read_table(path)
    except (pa.ArrowInvalid, OSError) as exc:
        raise CatalogError(path, f"is not a Parquet file ({exc})", _not_parquet_fix()) from exc
    missing = [c for c in COLUMNS if c not in table.column_names]
    if missing:
        raise CatalogError(
            path,
            f"is not an espb event table: columns {missing} are missing",
            "create event tables with `espb catalog ingest` or `espb catalog synth`",
        )
    df = normalize(table.to_pandas())
    raw = (table.schema.metadata or {}).get(META_KEY)
    df.attrs["espb"] = json.loads(raw) if raw else {}
    return df


def _check_exists(path: Path) -> None:
    if not path.exists():
        raise CatalogError(path, "does not exist", "check the path")


def _not_parquet_fix() -> str:
    return (
        "event tables are Parquet files written by espb; to read a raw catalog use "
        "`espb catalog ingest FILE --format isc|comcat|quakeml|csv`"
    )
