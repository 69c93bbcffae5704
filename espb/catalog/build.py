"""From a parsed catalog to the event table: validation, Mw homogenisation, filters.

Readers only parse. They hand over a :class:`RawCatalog` (one row per event, plus a long list
of every reported magnitude) and :func:`build_events` does the rest, identically for every
source: bad-row handling, event-type / time / region / depth filters (paper Section 2:
region 35-46 N x 135-146 E, depth <= 70 km), choice of one magnitude by the paper's type
priority, conversion to Mw (Eqs. 2-4), exact-duplicate removal. Every dropped event is counted
in a :class:`~espb.catalog.report.DropReport`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from espb.catalog.magnitudes import MagnitudeConfig, choose_by_priority, convert, families
from espb.catalog.report import DropReport
from espb.catalog.schema import COLUMNS, normalize
from espb.errors import BadValue, CatalogError, ConfigError

#: Event-type spellings of natural earthquakes: ComCat/QuakeML ``earthquake``; ISC ``ke``
#: (known), ``se`` (suspected), ``fe`` (felt), ``de`` (damaging earthquake); QuakeML
#: ``not reported`` (no type given).
NATURAL_EVENT_TYPES = ["earthquake", "ke", "se", "fe", "de", "not reported"]


@dataclass
class FilterConfig:
    """Which events enter the table. Defaults are the paper's (Section 2)."""

    #: [lat_min, lat_max, lon_min, lon_max], inclusive; None keeps every location
    region: list[float] | None = field(default_factory=lambda: [35.0, 46.0, 135.0, 146.0])
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

    def validate(self) -> None:
        if self.region is not None:
            r = list(self.region)
            if len(r) != 4:
                raise ConfigError(
                    f"filters.region must be [lat_min, lat_max, lon_min, lon_max], not {r}"
                )
            if not (-90 <= r[0] < r[1] <= 90):
                raise ConfigError(
                    f"filters.region: latitudes {r[0]}..{r[1]} must satisfy -90 <= min < max <= 90"
                )
            if not (-180 <= r[2] < r[3] <= 360):
                raise ConfigError(
                    f"filters.region: longitudes {r[2]}..{r[3]} must satisfy -180 <= min < max <= 360"
                )
        for key in ("start", "end"):
            v = getattr(self, key)
            if v is not None:
                try:
                    pd.Timestamp(v)
                except (ValueError, TypeError) as exc:
                    raise ConfigError(
                        f"filters.{key}: {v!r} is not a date (use YYYY-MM-DD)"
                    ) from exc

    def time_bounds(self) -> tuple[pd.Timestamp | None, pd.Timestamp | None]:
        """(start inclusive, end exclusive) as UTC timestamps."""
        start = _utc(self.start) if self.start is not None else None
        end = None
        if self.end is not None:
            end = _utc(self.end)
            if len(str(self.end).strip()) <= 10:  # a bare date: include that whole day
                end = end + pd.Timedelta(days=1)
            else:
                end = end + pd.Timedelta(1, "ns")
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
    #: depths outside these bounds (km) are bad input
    depth_bounds: list[float] = field(default_factory=lambda: [-10.0, 800.0])

    def validate(self) -> None:
        self.magnitudes.validate()
        self.filters.validate()
        if self.on_bad_rows not in ("error", "skip"):
            raise ConfigError(f"on_bad_rows must be 'error' or 'skip', not {self.on_bad_rows!r}")


def load_ingest_config(
    config: str | Path | None = None, overrides: list[str] | None = None
) -> IngestConfig:
    """An :class:`IngestConfig` from defaults (the paper's), a YAML file, then dotted overrides.

    ``config`` is a path, or the name of a file in ``conf/catalog/ingest/`` (``paper``,
    ``scordilis2006``). Misspelled keys and wrong types fail with a message naming the key.
    """
    from espb.config import load_config, resolve_preset

    preset = resolve_preset(config, "catalog/ingest") if config is not None else None
    return load_config(IngestConfig, preset, overrides)


@dataclass
class RawCatalog:
    """What a reader hands to :func:`build_events`.

    ``events``: one row per event with columns ``event_id`` (str), ``time`` (UTC, NaT where
    unparsable), ``latitude``, ``longitude``, ``depth`` (km; NaN where missing), ``line``
    (1-based line in the file, for messages) and optionally ``event_type``.
    ``mags``: one row per reported magnitude: ``row`` (index into ``events``), ``mag``,
    ``mag_type``, ``author``.
    ``bad``: parse failures found by the reader: ``row``, ``column``, ``value``, ``problem``.
    """

    source: str
    path: Path | None
    events: pd.DataFrame
    mags: pd.DataFrame
    bad: pd.DataFrame = field(
        default_factory=lambda: pd.DataFrame(
            {"row": pd.Series([], dtype="int64"), "column": [], "value": [], "problem": []}
        )
    )


def _utc(v: object) -> pd.Timestamp:
    t = pd.Timestamp(v)
    return t.tz_localize("UTC") if t.tzinfo is None else t.tz_convert("UTC")


def _bad_frame(rows: np.ndarray, column: str, values: np.ndarray, problem: str) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "row": np.asarray(rows, dtype=np.int64),
            "column": column,
            "value": [str(v) for v in values],
            "problem": problem,
        }
    )


def find_bad_values(raw: RawCatalog, cfg: IngestConfig) -> pd.DataFrame:
    """Rows whose values are unusable: the reader's parse failures plus range checks."""
    ev = raw.events
    parts = [raw.bad]
    already = set(zip(raw.bad["row"].tolist(), raw.bad["column"].tolist(), strict=False))

    def add(mask: np.ndarray, column: str, values: pd.Series | np.ndarray, problem: str) -> None:
        idx = np.flatnonzero(mask)
        idx = (
            np.array([i for i in idx if (i, column) not in already], dtype=np.int64)
            if already
            else idx
        )
        if idx.size:
            vals = values.iloc[idx] if isinstance(values, pd.Series) else np.asarray(values)[idx]
            parts.append(_bad_frame(idx, column, np.asarray(vals, dtype=object), problem))

    t = ev["time"]
    add(t.isna().to_numpy(), "time", t, "missing or unparsable origin time")
    lat = ev["latitude"].to_numpy(dtype=float)
    lon = ev["longitude"].to_numpy(dtype=float)
    dep = ev["depth"].to_numpy(dtype=float)
    with np.errstate(invalid="ignore"):
        add(~((lat >= -90) & (lat <= 90)), "latitude", lat, "latitude missing or outside [-90, 90]")
        add(
            ~((lon >= -180) & (lon <= 360)),
            "longitude",
            lon,
            "longitude missing or outside [-180, 360]",
        )
        lo, hi = cfg.depth_bounds
        add(
            ~np.isnan(dep) & ~((dep >= lo) & (dep <= hi)),
            "depth",
            dep,
            f"depth outside [{lo}, {hi}] km",
        )
    m = raw.mags
    if len(m):
        mag = m["mag"].to_numpy(dtype=float)
        lo, hi = cfg.mag_bounds
        with np.errstate(invalid="ignore"):
            badm = np.isnan(mag) | (mag < lo) | (mag > hi)
        if badm.any():
            rows = m["row"].to_numpy()[badm]
            col = m["mag_type"].astype(str).to_numpy()[badm]
            vals = mag[badm]
            f = pd.DataFrame(
                {
                    "row": rows.astype(np.int64),
                    "column": [f"magnitude ({c})" if c else "magnitude" for c in col],
                    "value": [str(v) for v in vals],
                    "problem": f"magnitude missing or outside [{lo}, {hi}]",
                }
            )
            if already:
                f = f[[(r, c) not in already for r, c in zip(f["row"], f["column"], strict=False)]]
            parts.append(f)
    out = (
        pd.concat([p for p in parts if len(p)], ignore_index=True)
        if any(len(p) for p in parts)
        else raw.bad
    )
    return out


def build_events(
    raw: RawCatalog, cfg: IngestConfig | None = None
) -> tuple[pd.DataFrame, DropReport]:
    """Validate, homogenise and filter a parsed catalog into the event table.

    Steps, in order (each drop is counted under the reason in brackets):
    bad rows [bad_row] -> event type [not_natural] -> time range [before_start/after_end] ->
    region [outside_region] -> depth [depth_missing/too_deep] -> magnitude choice by type
    priority [no_magnitude/no_usable_magnitude] -> conversion to Mw, paper Eqs. 2-4
    [magnitude_out_of_range] -> exact duplicates [duplicate].
    """
    cfg = cfg or IngestConfig()
    cfg.validate()
    ev = raw.events.reset_index(drop=True)
    n = len(ev)
    report = DropReport(n_input=n)
    alive = np.ones(n, dtype=bool)
    lines = ev["line"].to_numpy() if "line" in ev else np.arange(n) + 1

    # 1. bad rows
    bad = find_bad_values(raw, cfg)
    if len(bad):
        bad_rows = np.unique(bad["row"].to_numpy(dtype=np.int64))
        if cfg.on_bad_rows == "error":
            bb = bad.assign(line=lines[bad["row"].to_numpy(dtype=np.int64)]).sort_values(
                "line", kind="stable"
            )
            raise CatalogError(
                raw.path,
                f"{len(bad_rows)} of {n} rows have bad values",
                "correct those rows, or pass --on-bad-rows skip (on_bad_rows: skip) to skip them; "
                "skipped rows are counted in the drop report",
                bad=[
                    BadValue(int(r.line), str(r.column), str(r.value), str(r.problem))
                    for r in bb.head(5).itertuples()
                ],
                n_bad=len(bad_rows),
            )
        detail = bad.drop_duplicates(["row", "column"]).groupby("column").size().to_dict()
        alive[bad_rows] = False
        report.add("bad_row", len(bad_rows), {f"{k}": v for k, v in detail.items()})

    # 2. event type
    f = cfg.filters
    if "event_type" in ev:
        et = ev["event_type"].fillna("").astype(str).str.strip().str.lower().to_numpy()
        natural = {t.strip().lower() for t in f.natural_event_types}
        ok = np.isin(et, list(natural)) | ((et == "") & f.keep_untyped)
        drop = alive & ~ok
        if drop.any():
            u, c = np.unique(et[drop], return_counts=True)
            report.add(
                "not_natural",
                int(drop.sum()),
                {(k or "(empty)"): int(v) for k, v in zip(u, c, strict=False)},
            )
            alive &= ok

    # 3. time range
    t = pd.DatetimeIndex(ev["time"])
    start, end = f.time_bounds()
    if start is not None:
        drop = alive & np.asarray(t < start)
        report.add("before_start", int(drop.sum()))
        alive &= ~drop
    if end is not None:
        drop = alive & np.asarray(t >= end)
        report.add("after_end", int(drop.sum()))
        alive &= ~drop

    # 4. region (longitudes normalised to [-180, 180) unless the box is given in 0..360)
    lat = ev["latitude"].to_numpy(dtype=float)
    lon = ev["longitude"].to_numpy(dtype=float)
    lon = np.where(lon >= 180, lon - 360, lon)
    if f.region is not None:
        la0, la1, lo0, lo1 = (float(x) for x in f.region)
        lon_cmp = np.where(lon < 0, lon + 360, lon) if lo1 > 180 else lon
        inside = (lat >= la0) & (lat <= la1) & (lon_cmp >= lo0) & (lon_cmp <= lo1)
        drop = alive & ~inside
        report.add("outside_region", int(drop.sum()))
        alive &= ~drop

    # 5. depth
    dep = ev["depth"].to_numpy(dtype=float)
    if f.max_depth_km is not None:
        drop = alive & np.isnan(dep)
        report.add("depth_missing", int(drop.sum()))
        alive &= ~drop
        drop = alive & (dep > f.max_depth_km)
        report.add("too_deep", int(drop.sum()))
        alive &= ~drop

    # 6. one magnitude per event, by the paper's type priority
    m = raw.mags
    mrow = m["row"].to_numpy(dtype=np.int64)
    mkeep = alive[mrow] if len(m) else np.zeros(0, dtype=bool)
    m = m[mkeep].reset_index(drop=True)
    mrow = mrow[mkeep]
    fam = families(m["mag_type"].astype(str).to_numpy(), cfg.magnitudes.aliases)
    chosen = choose_by_priority(mrow, fam, m["author"].astype(str).to_numpy(), n, cfg.magnitudes)
    has_any = np.zeros(n, dtype=bool)
    has_any[mrow] = True
    drop = alive & ~has_any
    report.add("no_magnitude", int(drop.sum()))
    alive &= ~drop
    drop = alive & (chosen < 0)
    if drop.any():
        types_seen = m["mag_type"].astype(str).to_numpy()[drop[mrow]]
        u, c = np.unique(types_seen, return_counts=True)
        report.add(
            "no_usable_magnitude",
            int(drop.sum()),
            {f"type {k!r} reported": int(v) for k, v in zip(u, c, strict=False)},
        )
    alive &= ~drop

    idx = np.flatnonzero(alive)
    pick = chosen[idx]
    mag = m["mag"].to_numpy(dtype=float)[pick]
    mtype = m["mag_type"].astype(str).to_numpy()[pick]
    mauth = m["author"].astype(str).to_numpy()[pick]
    conv = convert(mag, fam[pick], cfg.magnitudes)
    if conv.dropped.any():
        u, c = np.unique(mtype[conv.dropped], return_counts=True)
        report.add(
            "magnitude_out_of_range",
            int(conv.dropped.sum()),
            {str(k): int(v) for k, v in zip(u, c, strict=False)},
        )
    keep = ~conv.dropped
    idx, mag, mtype, mauth, mw = idx[keep], mag[keep], mtype[keep], mauth[keep], conv.mw[keep]

    out = pd.DataFrame(
        {
            "event_id": ev["event_id"].astype(str).to_numpy()[idx],
            "time": t[idx],
            "latitude": lat[idx],
            "longitude": lon[idx],
            "depth": dep[idx],
            "mw": mw,
            "mag": mag,
            "mag_type": mtype,
            "mag_author": mauth,
            "source": raw.source,
        }
    )

    # 7. exact duplicates (same origin, depth, magnitude and type; ids may differ)
    if f.drop_duplicates and len(out):
        key = ["time", "latitude", "longitude", "depth", "mag", "mag_type"]
        dup = out.duplicated(subset=key, keep="first").to_numpy()
        report.add("duplicate", int(dup.sum()))
        out = out[~dup]

    out = normalize(out[list(COLUMNS)])
    report.n_kept = len(out)
    report.check()
    return out, report
