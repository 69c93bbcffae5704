"""Why an ingest kept no event, and which setting would keep some.

An empty event table is never a result: :func:`espb.catalog.readers.ingest` raises with the
message built here. It lists every step that removed events, with counts, in pipeline order,
and gives the fix for each, computed from the file (its events' bounding box, time range,
depth range, magnitude types), so that the fix is right for this file rather than generic.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from espb.catalog.config import PAPER_REGION, IngestConfig
from espb.catalog.conventions import DEPTH_SIGN_FIX, mostly_negative
from espb.catalog.raw import RawCatalog
from espb.catalog.report import REASONS, DropReport


def _fmt(x: float) -> str:
    return f"{x:.2f}".rstrip("0").rstrip(".")


def _box(ev: pd.DataFrame) -> tuple[float, float, float, float] | None:
    lat = ev["latitude"].to_numpy(dtype=float)
    lon = ev["longitude"].to_numpy(dtype=float)
    lon = np.where(lon >= 180, lon - 360, lon)
    ok = np.isfinite(lat) & np.isfinite(lon) & (np.abs(lat) <= 90)
    if not ok.any():
        return None
    return bounding_box(lat[ok], lon[ok])


def bounding_box(lat: np.ndarray, lon: np.ndarray) -> tuple[float, float, float, float]:
    """Whole-degree box around the points (never degenerate): lat_min, lat_max, lon_min, lon_max."""
    return (
        max(float(np.floor(lat.min())), -90.0),
        min(float(np.floor(lat.max())) + 1, 90.0),
        max(float(np.floor(lon.min())), -180.0),
        min(float(np.floor(lon.max())) + 1, 180.0),
    )


def _what(key: str, cfg: IngestConfig) -> str:
    f = cfg.filters
    if key == "outside_region" and f.region is not None:
        r = ",".join(_fmt(x) for x in f.region)
        default = " (the default, Japan)" if list(map(float, f.region)) == PAPER_REGION else ""
        return f"region {r}{default}"
    if key == "too_deep":
        return f"depth limit {_fmt(float(f.max_depth_km or 0))} km"
    if key in ("before_start", "after_end"):
        return f"time range {f.start or '...'} to {f.end or '...'}"
    if key == "below_min_mw":
        return f"minimum magnitude Mw {f.min_mw}"
    return REASONS[key]


def _fix(key: str, raw: RawCatalog, report: DropReport, cfg: IngestConfig) -> str:
    ev = raw.events
    if key == "outside_region":
        box = _box(ev)
        if box is None:
            return "set --region none"
        a, b, c, d = (_fmt(x) for x in box)
        return f"the file's events lie in {a}..{b} N, {c}..{d} E: set --region {a},{b},{c},{d} or --region none"
    if key in ("before_start", "after_end"):
        t = pd.DatetimeIndex(ev["time"]).dropna()
        if not len(t):
            return "set --start/--end"
        return (
            f"the file's events lie in {t.min().date()} .. {t.max().date()}: set --start/--end "
            "inside that range (or leave them out)"
        )
    if key == "too_deep":
        dep = ev["depth"].to_numpy(dtype=float)
        d = dep[np.isfinite(dep)]
        hint = f"; {DEPTH_SIGN_FIX}" if mostly_negative(dep) else ""
        rng = f"depths are {_fmt(d.min())}..{_fmt(d.max())} km: " if d.size else ""
        return f"{rng}raise --max-depth, or --max-depth none{hint}"
    if key == "depth_missing":
        return "the events have no depth: --max-depth none keeps events without a depth"
    if key == "not_natural":
        seen = sorted(report.details.get("not_natural", {}))
        return (
            f"event types seen: {seen}; to keep them add them to filters.natural_event_types, e.g. "
            f"--set 'filters.natural_event_types=[{','.join(seen)}]'"
        )
    if key == "no_usable_magnitude":
        seen = sorted(report.details.get("no_usable_magnitude", {}))
        return (
            f"magnitude types {seen} are not ones espb converts; name their family with "
            "--set magnitudes.aliases.TYPE=ML (or Mw, Ms, mb, MV, MJMA)"
        )
    if key == "no_magnitude":
        return "the rows carry no magnitude value: check the magnitude column (--map mag=COL)"
    if key == "bad_row":
        if report.reasons.get("bad_row", 0) == report.n_input:
            return "every row had a bad value: check --format, the column mapping and --encoding"
        return ""
    if key == "magnitude_out_of_range":
        return "use --out-of-range extrapolate, or raise --max-extrapolation"
    if key == "below_min_mw":
        return "lower --min-mw (see the Mw range with --min-mw none and `espb catalog info`)"
    if key == "below_event_mc":
        return "--set filters.per_event_mc=false ignores the per-event completeness column"
    if key == "placeholder_magnitude":
        return "every magnitude was a placeholder: leave out --drop-mag / --drop-placeholders"
    return "check the settings of that step"


def explain_empty(raw: RawCatalog, report: DropReport, cfg: IngestConfig) -> tuple[str, str]:
    """(problem, fix) for an ingest that kept no event: every step that removed events, and the
    fix for the culprits (the step that removed the last events, and those removing half or
    more), so that a correct filter (e.g. dropping explosions) is not suggested away."""
    n = report.n_input
    steps = [(k, report.reasons[k]) for k in REASONS if report.reasons.get(k)]
    if not steps:
        return "no event kept (the file holds no rows)", "check the file"
    parts = [f"{_what(k, cfg)} removed {c:,} of {n:,} events" for k, c in steps]
    problem = "no event kept: " + "; ".join(parts)
    # the culprits: the step that removed the last events, and any that removed half or more
    culprits = [kc for kc in steps if kc[1] >= n / 2 or kc == steps[-1]]
    ranked = sorted(culprits, key=lambda kc: -kc[1])
    fixes = [x for x in (_fix(k, raw, report, cfg) for k, _ in ranked) if x]
    return problem, "; ".join(dict.fromkeys(fixes))


__all__ = ["bounding_box", "explain_empty"]
