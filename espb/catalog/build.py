"""From a parsed catalog to the event table: validation, Mw homogenisation, filters.

Readers only parse. They hand over a :class:`RawCatalog` (one row per event, plus a long list
of every reported magnitude) and :func:`build_events` does the rest, identically for every
source: input conventions (time zone, depth sign), bad-row handling, repeated event ids,
event-type / time / region / depth filters (paper Section 2: region 35-46 N x 135-146 E,
depth <= 70 km), choice of one magnitude by the paper's type priority, placeholder
magnitudes, conversion to Mw (Eqs. 2-4), completeness, exact-duplicate removal. Every dropped
event is counted in a :class:`~espb.catalog.report.DropReport`, and every kept event that was
altered or assumed (rolled-over times, time zone, extrapolated magnitudes) is flagged there.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from espb.catalog.config import (
    NATURAL_EVENT_TYPES,
    FilterConfig,
    IngestConfig,
    load_ingest_config,
)
from espb.catalog.conventions import (
    DEPTH_SIGN_FIX,
    apply_depth_sign,
    apply_timezone,
    count_rolled,
    mostly_negative,
    note_negative_depths,
)
from espb.catalog.duplicates import resolve_duplicate_ids
from espb.catalog.magnitudes import choose_by_priority, convert, families
from espb.catalog.magsteps import drop_placeholders, report_relations
from espb.catalog.parsing import concat_bad
from espb.catalog.raw import RawCatalog
from espb.catalog.report import DropReport
from espb.catalog.schema import COLUMNS, normalize
from espb.errors import BadValue, CatalogError


def _bad_frame(rows: np.ndarray, column: str, values: np.ndarray, problem: str) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "row": np.asarray(rows, dtype=np.int64),
            "column": column,
            "value": [str(v) for v in values],
            "problem": problem,
        }
    )


def find_bad_values(
    raw: RawCatalog, cfg: IngestConfig, dep: np.ndarray | None = None
) -> pd.DataFrame:
    """Rows whose values are unusable: the reader's parse failures plus range checks.

    ``dep``: the depths after the sign convention (default: as read).
    """
    ev = raw.events
    parts = [raw.bad]
    already = set(zip(raw.bad["row"].tolist(), raw.bad["column"].tolist(), strict=False))

    def add(mask: np.ndarray, column: str, values: pd.Series | np.ndarray, problem: str) -> None:
        idx = np.flatnonzero(mask)
        if already:
            idx = np.array([i for i in idx if (i, column) not in already], dtype=np.int64)
        if idx.size:
            vals = values.iloc[idx] if isinstance(values, pd.Series) else np.asarray(values)[idx]
            parts.append(_bad_frame(idx, column, np.asarray(vals, dtype=object), problem))

    t = ev["time"]
    timeish = raw.bad["problem"].astype(str).str.contains("time|date", regex=True).to_numpy()
    told = np.zeros(len(ev), dtype=bool)  # the reader already said what is wrong with the time
    told[raw.bad["row"].to_numpy(dtype=np.int64)[timeish]] = True
    add(t.isna().to_numpy() & ~told, "time", t, "missing or unparsable origin time")
    lat = ev["latitude"].to_numpy(dtype=float)
    lon = ev["longitude"].to_numpy(dtype=float)
    dep = ev["depth"].to_numpy(dtype=float) if dep is None else dep
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
            col = m["mag_type"].astype(str).to_numpy()[badm]
            f = pd.DataFrame(
                {
                    "row": m["row"].to_numpy()[badm].astype(np.int64),
                    "column": [f"magnitude ({c})" if c else "magnitude" for c in col],
                    "value": [str(v) for v in mag[badm]],
                    "problem": f"magnitude missing or outside [{lo}, {hi}]",
                }
            )
            if already:
                f = f[[(r, c) not in already for r, c in zip(f["row"], f["column"], strict=False)]]
            parts.append(f)
    return concat_bad(parts)


def _bad_rows_error(
    raw: RawCatalog, bad: pd.DataFrame, lines: np.ndarray, dep: np.ndarray
) -> CatalogError:
    """The error for bad rows: each row once (its first problem, and how many more it has)."""
    bb = bad.assign(line=lines[bad["row"].to_numpy(dtype=np.int64)]).sort_values(
        "line", kind="stable"
    )
    per_row = bb.groupby("row", sort=False).size()
    first = bb.drop_duplicates("row").head(5)
    shown = [
        BadValue(
            int(r.line),
            str(r.column),
            str(r.value),
            str(r.problem)
            + (
                f" (and {per_row[r.row] - 1} more problem(s) in this row)"
                if per_row[r.row] > 1
                else ""
            ),
        )
        for r in first.itertuples()
    ]
    fix = (
        "correct those rows, or pass --on-bad-rows skip (on_bad_rows: skip) to skip them; "
        "skipped rows are counted in the drop report"
    )
    if (bad["column"] == "depth").any() and mostly_negative(dep):
        fix = f"{DEPTH_SIGN_FIX}; otherwise {fix}"
    return CatalogError(
        raw.path,
        f"{len(per_row)} of {len(raw.events)} rows have bad values",
        fix,
        bad=shown,
        n_bad=len(per_row),
    )


def _filters(
    ev: pd.DataFrame, dep: np.ndarray, f: FilterConfig, alive: np.ndarray, report: DropReport
) -> np.ndarray:
    """Event type, time range, region and depth (paper Section 2), in that order."""
    if "event_type" in ev:
        et = ev["event_type"].fillna("").astype(str).str.strip().str.lower().to_numpy()
        natural = {t.strip().lower() for t in f.natural_event_types}
        ok = np.isin(et, list(natural)) | ((et == "") & f.keep_untyped)
        drop = alive & ~ok
        if drop.any():
            u, c = np.unique(et[drop], return_counts=True)
            detail = {(k or "(empty)"): int(v) for k, v in zip(u, c, strict=False)}
            report.add("not_natural", int(drop.sum()), detail)
            alive &= ok
    t = pd.DatetimeIndex(ev["time"])
    start, end = f.time_bounds()
    for key, bound, side in (("before_start", start, "lt"), ("after_end", end, "ge")):
        if bound is not None:
            drop = alive & np.asarray(t < bound if side == "lt" else t >= bound)
            report.add(key, int(drop.sum()))
            alive &= ~drop
    lat = ev["latitude"].to_numpy(dtype=float)
    lon = ev["longitude"].to_numpy(dtype=float)
    lon = np.where(lon >= 180, lon - 360, lon)
    if f.region is not None:  # longitudes compared in 0..360 when the box is given so
        la0, la1, lo0, lo1 = (float(x) for x in f.region)
        lon_cmp = np.where(lon < 0, lon + 360, lon) if lo1 > 180 else lon
        inside = (lat >= la0) & (lat <= la1) & (lon_cmp >= lo0) & (lon_cmp <= lo1)
        drop = alive & ~inside
        report.add("outside_region", int(drop.sum()))
        alive &= ~drop
    if f.max_depth_km is not None:
        drop = alive & np.isnan(dep)
        report.add("depth_missing", int(drop.sum()))
        alive &= ~drop
        drop = alive & (dep > f.max_depth_km)
        report.add("too_deep", int(drop.sum()))
        alive &= ~drop
    return alive


def _choose(
    raw: RawCatalog, alive: np.ndarray, cfg: IngestConfig, report: DropReport
) -> tuple[pd.DataFrame, np.ndarray, np.ndarray]:
    """One magnitude per alive event (paper priority); returns (mags, families, chosen)."""
    n = len(alive)
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
        detail = {f"type {k!r} reported": int(v) for k, v in zip(u, c, strict=False)}
        report.add("no_usable_magnitude", int(drop.sum()), detail)
    alive &= ~drop
    return m, fam, chosen


def _completeness(
    ev: pd.DataFrame,
    idx: np.ndarray,
    mag: np.ndarray,
    mw: np.ndarray,
    f: FilterConfig,
    report: DropReport,
) -> np.ndarray:
    """Mask of events below the minimum Mw or below their own Mc (the ``mc`` column)."""
    drop = np.zeros(mw.shape, dtype=bool)
    if f.min_mw is not None:
        drop |= mw < float(f.min_mw) - 1e-9
        report.add("below_min_mw", int(drop.sum()))
    if f.per_event_mc and "mc" in ev:
        mc = ev["mc"].to_numpy(dtype=float)[idx]
        below = ~drop & np.isfinite(mc) & (mag < mc - 1e-9)
        report.add("below_event_mc", int(below.sum()))
        drop |= below
        n_none = int((~np.isfinite(mc)).sum())
        if n_none:
            report.note(f"{n_none:,} events have no per-event Mc (kept)")
    return drop


def build_events(
    raw: RawCatalog, cfg: IngestConfig | None = None
) -> tuple[pd.DataFrame, DropReport]:
    """Validate, homogenise and filter a parsed catalog into the event table.

    Steps, in order (each drop is counted under the reason in brackets): time zone and depth
    sign (conventions, flagged) -> bad rows [bad_row] -> repeated ids [duplicate_id,
    superseded] -> event type [not_natural] -> time range [before_start/after_end] -> region
    [outside_region] -> depth [depth_missing/too_deep] -> magnitude choice by type priority
    [no_magnitude/no_usable_magnitude] -> placeholders [placeholder_magnitude] -> conversion to
    Mw, paper Eqs. 2-4 [magnitude_out_of_range] -> completeness [below_min_mw, below_event_mc]
    -> exact duplicates [duplicate].
    """
    cfg = cfg or IngestConfig()
    cfg.validate()
    ev = raw.events.reset_index(drop=True).copy()
    n = len(ev)
    report = DropReport(n_input=n)
    alive = np.ones(n, dtype=bool)
    lines = ev["line"].to_numpy() if "line" in ev else np.arange(n) + 1
    tz_bad = apply_timezone(ev, cfg.timezone, report)
    count_rolled(ev, report)
    dep = apply_depth_sign(ev["depth"].to_numpy(dtype=float), cfg.depth_positive, report)
    raw = RawCatalog(raw.source, raw.path, ev, raw.mags, concat_bad([raw.bad, tz_bad]))

    bad = find_bad_values(raw, cfg, dep)
    if len(bad):
        bad_rows = np.unique(bad["row"].to_numpy(dtype=np.int64))
        if cfg.on_bad_rows == "error":
            raise _bad_rows_error(raw, bad, lines, dep)
        detail = bad.drop_duplicates(["row", "column"]).groupby("column").size().to_dict()
        alive[bad_rows] = False
        report.add("bad_row", len(bad_rows), {f"{k}": v for k, v in detail.items()})
    f = cfg.filters
    alive = resolve_duplicate_ids(ev, raw.mags, alive, f.duplicate_ids, report, lines, raw.path)
    alive = _filters(ev, dep, f, alive, report)
    m, fam, chosen = _choose(raw, alive, cfg, report)

    idx = np.flatnonzero(alive)
    pick = chosen[idx]
    mag = m["mag"].to_numpy(dtype=float)[pick]
    mtype = m["mag_type"].astype(str).to_numpy()[pick]
    mauth = m["author"].astype(str).to_numpy()[pick]
    fam_p = fam[pick]
    keep = ~drop_placeholders(mag, mtype, f, report)
    idx, mag, mtype, mauth, fam_p = idx[keep], mag[keep], mtype[keep], mauth[keep], fam_p[keep]
    conv = convert(mag, fam_p, cfg.magnitudes)
    if conv.dropped.any():
        u, c = np.unique(mtype[conv.dropped], return_counts=True)
        detail = {str(k): int(v) for k, v in zip(u, c, strict=False)}
        report.add("magnitude_out_of_range", int(conv.dropped.sum()), detail)
    keep = ~conv.dropped
    by = conv.outside_by if conv.outside_by is not None else np.zeros(mag.shape)
    report_relations(
        mtype[keep], fam_p[keep], conv.out_of_range[keep], by[keep], cfg.magnitudes, report
    )
    idx, mag, mtype, mauth, mw = idx[keep], mag[keep], mtype[keep], mauth[keep], conv.mw[keep]
    keep = ~_completeness(ev, idx, mag, mw, f, report)
    idx, mag, mtype, mauth, mw = idx[keep], mag[keep], mtype[keep], mauth[keep], mw[keep]

    lon = ev["longitude"].to_numpy(dtype=float)
    out = pd.DataFrame(
        {
            "event_id": ev["event_id"].astype(str).to_numpy()[idx],
            "time": pd.DatetimeIndex(ev["time"])[idx],
            "latitude": ev["latitude"].to_numpy(dtype=float)[idx],
            "longitude": np.where(lon >= 180, lon - 360, lon)[idx],
            "depth": dep[idx],
            "mw": mw,
            "mag": mag,
            "mag_type": mtype,
            "mag_author": mauth,
            "source": raw.source,
        }
    )
    if f.drop_duplicates and len(out):  # same origin, depth, magnitude and type; ids may differ
        key = ["time", "latitude", "longitude", "depth", "mag", "mag_type"]
        dup = out.duplicated(subset=key, keep="first").to_numpy()
        report.add("duplicate", int(dup.sum()))
        out = out[~dup]
    note_negative_depths(out["depth"].to_numpy(dtype=float), report)
    out = normalize(out[list(COLUMNS)])
    report.n_kept = len(out)
    report.check()
    return out, report


__all__ = [
    "NATURAL_EVENT_TYPES",
    "FilterConfig",
    "IngestConfig",
    "RawCatalog",
    "build_events",
    "find_bad_values",
    "load_ingest_config",
]
