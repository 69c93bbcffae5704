"""Input conventions applied before validation: time zones and the sign of depths.

Catalogs disagree on two conventions that, misread, shift every event without any error:

- **Time zone.** ISC, ComCat and QuakeML give UTC; local catalogs often give local time (e.g.
  JST = UTC+9) without saying so. A time written with an offset (``Z``, ``+09:00``) is always
  converted to UTC; a time without one is read in ``IngestConfig.timezone`` (UTC unless told)
  and converted. A local time that does not exist or is ambiguous (a daylight-saving change)
  is a bad row. The ingest report counts both kinds and states the assumption.
- **Depth sign.** espb's depths are km below the surface, positive down. Older catalogs and
  some formats give depth negative down (as an elevation); ``depth_positive: up`` flips them so
  that the depth limit works. Kept negative depths (above sea level) are counted, with a hint
  when most depths are negative.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from espb.catalog.config import parse_timezone
from espb.catalog.parsing import ROLLED_24H, ROLLED_60S, bad_frame, empty_bad
from espb.catalog.report import DropReport

DEPTH_SIGN_FIX = (
    "if the file counts depth negative downward (as an elevation), pass --depth-positive up "
    "(depth_positive: up): espb flips the sign and the depth limit works; widening depth_bounds "
    "instead would keep the depths negative, and every negative depth passes the depth limit"
)


def apply_timezone(ev: pd.DataFrame, spec: str, report: DropReport) -> pd.DataFrame:
    """Read naive times (``time_naive``) in zone ``spec`` and convert them to UTC, in place.

    Returns ``bad`` rows for local times that do not exist or are ambiguous in that zone.
    Raw catalogs without a ``time_naive`` column (built in code) are left as they are.
    """
    if "time_naive" not in ev:
        return empty_bad()
    naive = ev["time_naive"].to_numpy(dtype=bool) & ev["time"].notna().to_numpy()
    aware = ~ev["time_naive"].to_numpy(dtype=bool) & ev["time"].notna().to_numpy()
    tz = parse_timezone(spec)
    utc = str(tz) == "UTC"
    report.flag(
        "time_zone",
        {
            f"no UTC offset: read as {'UTC' if utc else spec}": int(naive.sum()),
            "with a UTC offset: converted to UTC": int(aware.sum()),
        },
    )
    if not naive.any():
        return empty_bad()
    if utc:
        report.note(
            "times without a UTC offset were taken as UTC; if the file gives local time, pass "
            "--timezone (e.g. --timezone Asia/Tokyo or +09:00)"
        )
        return empty_bad()
    idx = np.flatnonzero(naive)
    wall = pd.DatetimeIndex(ev["time"].iloc[idx]).tz_localize(None)
    local = wall.tz_localize(tz, ambiguous="NaT", nonexistent="NaT")
    new = local.tz_convert("UTC").as_unit("ns")
    times = pd.DatetimeIndex(ev["time"]).as_unit("ns").asi8.copy()
    times[idx] = new.asi8
    ev["time"] = pd.DatetimeIndex(times.view("datetime64[ns]")).tz_localize("UTC")
    report.note(f"times without a UTC offset were read as {spec} and converted to UTC")
    invalid = idx[np.asarray(new.isna())]
    return bad_frame(
        invalid,
        "time",
        [str(x) for x in wall[np.asarray(new.isna())]],
        f"local time does not exist or is ambiguous in {spec} (daylight-saving change)",
    )


def count_rolled(ev: pd.DataFrame, report: DropReport) -> None:
    """Count the ``24:00:00`` and ``:60`` times the readers rolled over."""
    if "time_rolled" not in ev:
        return
    r = ev["time_rolled"].to_numpy()
    report.flag(
        "time_rolled",
        {
            "24:00:00 -> 00:00:00 of the next day": int((r == ROLLED_24H).sum()),
            "second 60 (leap second or rounding) -> next minute": int((r == ROLLED_60S).sum()),
        },
    )


def apply_depth_sign(dep: np.ndarray, positive: str, report: DropReport) -> np.ndarray:
    """Depths in espb's convention (km, positive down): flipped when the file's are positive-up."""
    if positive != "up":
        return dep
    report.flag("depth_flipped", {"depths multiplied by -1": int(np.isfinite(dep).sum())})
    return -dep


def mostly_negative(dep: np.ndarray) -> bool:
    """True when most known depths are negative: a hint at a positive-up depth axis."""
    d = dep[np.isfinite(dep)]
    return bool(d.size) and float((d < 0).mean()) > 0.5


def note_negative_depths(dep: np.ndarray, report: DropReport) -> None:
    """Count kept negative depths; say what to do when most depths are negative."""
    neg = int((dep < 0).sum())
    report.flag("negative_depth", {"depth < 0 km (above sea level)": neg})
    if mostly_negative(dep):
        med = float(np.nanmedian(dep))
        report.note(f"most depths are negative (median {med:.1f} km): {DEPTH_SIGN_FIX}")


__all__ = [
    "DEPTH_SIGN_FIX",
    "apply_depth_sign",
    "apply_timezone",
    "count_rolled",
    "mostly_negative",
    "note_negative_depths",
]
