"""Settings of a daily b-value cube (paper Section 2.1 and Appendix C.1).

Every field that changes a cube's numbers is part of its cache key (:func:`CubeConfig.key_fields`).
"""

from __future__ import annotations

import math
import re
from dataclasses import asdict, dataclass, field
from pathlib import Path

import pandas as pd

from espb.config import load_config, resolve_preset
from espb.errors import ConfigError
from espb.geo import KM_PER_DEG as GEO_KM_PER_DEG

MODES = ("paper", "binned", "classic")
METRICS = ("planar", "greatcircle")
#: km per degree of arc on the Earth (espb.geo.EARTH_RADIUS_KM, the IUGG mean radius)
KM_PER_DEG = GEO_KM_PER_DEG
#: limits of sane settings (validate): radii up to a quarter of the globe, a lookback of at most
#: 100 years, b clipped at most at 10, dates that pandas' nanosecond timestamps hold with room
#: for the longest lookback
MAX_DR_DEG = 90.0
MAX_DR_KM = 10_000.0
MAX_DT_DAYS = 36_525
MAX_B = 10.0
DATE_MIN = "1800-01-01"
DATE_MAX = "2200-12-31"
DATE_RE = re.compile(r"^\s*\d{4}-\d{1,2}-\d{1,2}([ T][0-9:.+\-Z]*)?\s*$")


@dataclass
class CubeConfig:
    """One b-value cube.

    - ``dr`` (degrees) and ``dt`` (days): the cylinder of paper Section 2.1; the value for day d
      uses the events within ``dr`` of the cell centre whose day is in ``[d - dt + 1, d]``.
    - ``mode``: ``paper`` (b-positive, paper Eqs. 5-6 as printed, continuous), ``binned``
      (b-positive with the discretisation correction for magnitudes binned at ``delta_m``, as in
      van der Elst 2021 and seismostats) or ``classic`` (Aki-Utsu on the raw magnitudes >= Mc).
    - ``threshold``: b-positive modes: smallest magnitude difference used (``paper``: 0, i.e.
      every positive difference; ``binned``: ``delta_m``); ``classic``: the completeness
      magnitude Mc (required).
    - ``metric``: ``planar`` (Euclidean distance in degrees of latitude/longitude, the paper's
      unit) or ``greatcircle`` (haversine distance <= ``dr_km``, default ``dr * KM_PER_DEG``).
    """

    name: str = "paper"
    dr: float = 0.25
    dt: int = 365
    start: str = "2000-01-01"
    end: str = "2019-12-31"
    region: list[float] = field(default_factory=lambda: [35.0, 46.0, 135.0, 146.0])
    resolution: float = 0.1
    mode: str = "paper"
    threshold: float | None = None
    delta_m: float = 0.1
    metric: str = "planar"
    dr_km: float | None = None
    b_max: float = 2.0
    round_magnitudes: bool = False
    chunks: list[int] = field(default_factory=lambda: [256, 32, 32])

    # ------------------------------------------------------------------ validation
    def validate(self) -> None:
        """ConfigError naming the key and the fix for every unusable or absurd setting: unknown
        modes, non-finite or out-of-range numbers, a region outside the globe, dates that are
        not dates or lie outside what pandas holds (see docs/bvalue.md, "Errors")."""
        where = f"cube config {self.name!r}"
        if self.mode not in MODES:
            raise ConfigError(f"{where}: mode={self.mode!r}; use one of {list(MODES)}")
        if self.metric not in METRICS:
            raise ConfigError(f"{where}: metric={self.metric!r}; use one of {list(METRICS)}")
        self._validate_radius(where)
        self._validate_region(where)
        self._validate_dates(where)
        self._validate_estimator(where)
        if len(self.chunks) != 3 or min(self.chunks) < 1:
            raise ConfigError(
                f"{where}: chunks={self.chunks} must be three positive sizes (time, lat, lon)"
            )

    def _validate_radius(self, where: str) -> None:
        if not (math.isfinite(self.dr) and 0 < self.dr <= MAX_DR_DEG):
            raise ConfigError(
                f"{where}: dr={self.dr} must be a finite radius in (0, {MAX_DR_DEG:g}] degrees "
                "(the paper's: 0.15, 0.25, 0.35, 0.65)"
            )
        if self.dr_km is not None and not (
            math.isfinite(self.dr_km) and 0 < self.dr_km <= MAX_DR_KM
        ):
            raise ConfigError(
                f"{where}: dr_km={self.dr_km} must be a finite radius in (0, {MAX_DR_KM:g}] km"
            )
        if int(self.dt) != self.dt or not 1 <= self.dt <= MAX_DT_DAYS:
            raise ConfigError(
                f"{where}: dt={self.dt} must be a whole number of days in [1, {MAX_DT_DAYS}] "
                "(the paper's: 150, 365, 730)"
            )

    def _validate_region(self, where: str) -> None:
        if len(self.region) != 4:
            raise ConfigError(
                f"{where}: region needs [lat_min, lat_max, lon_min, lon_max], got {self.region}"
            )
        la0, la1, lo0, lo1 = self.region
        if not all(math.isfinite(x) for x in self.region):
            raise ConfigError(f"{where}: region {self.region} must hold four finite numbers")
        if not (-90 <= la0 < la1 <= 90):
            raise ConfigError(
                f"{where}: region {self.region}: latitudes must satisfy -90 <= lat_min < lat_max "
                "<= 90 (region is [lat_min, lat_max, lon_min, lon_max])"
            )
        if not (-180 <= lo0 < lo1 <= 360 and lo1 - lo0 <= 360):
            raise ConfigError(
                f"{where}: region {self.region}: longitudes must satisfy -180 <= lon_min < "
                "lon_max <= 360 and span at most 360 deg (region is [lat_min, lat_max, lon_min, "
                "lon_max])"
            )
        if not (math.isfinite(self.resolution) and self.resolution > 0):
            raise ConfigError(
                f"{where}: resolution={self.resolution} must be a finite cell size > 0 (degrees; "
                "the paper's: 0.1)"
            )
        for span, what in ((la1 - la0, "latitude"), (lo1 - lo0, "longitude")):
            n = span / self.resolution
            if n < 1 - 1e-6:
                raise ConfigError(
                    f"{where}: resolution={self.resolution:g} deg is larger than the {what} span "
                    f"{span:g} deg of region {self.region}: not one cell; use a smaller resolution"
                )
            if abs(n - round(n)) > 1e-6:
                raise ConfigError(
                    f"{where}: the {what} span {span:g} deg of region {self.region} is not a whole "
                    f"number of {self.resolution:g} deg cells; adjust region or resolution"
                )

    def _validate_dates(self, where: str) -> None:
        for key in ("start", "end"):
            value = getattr(self, key)
            if not isinstance(value, str) or not DATE_RE.match(value):
                raise ConfigError(
                    f"{where}: {key}={value!r} is not a date; write it as YYYY-MM-DD "
                    f"(e.g. {key}=2000-01-01)"
                )
            try:
                ts = pd.Timestamp(value, tz="UTC").normalize()
                ts.as_unit("ns")
            except (ValueError, TypeError, OverflowError) as exc:
                raise ConfigError(
                    f"{where}: {key}={value!r} is not a usable date ({exc}); use YYYY-MM-DD "
                    f"between {DATE_MIN} and {DATE_MAX}"
                ) from exc
            if not pd.Timestamp(DATE_MIN, tz="UTC") <= ts <= pd.Timestamp(DATE_MAX, tz="UTC"):
                raise ConfigError(
                    f"{where}: {key}={value!r} is outside the dates espb handles "
                    f"({DATE_MIN} to {DATE_MAX}, with room for the lookback); use a date in range"
                )
        if self.end_ts < self.start_ts:
            raise ConfigError(f"{where}: end {self.end} is before start {self.start}")

    def _validate_estimator(self, where: str) -> None:
        if self.threshold is not None and not math.isfinite(self.threshold):
            raise ConfigError(f"{where}: threshold={self.threshold} must be a finite number")
        if self.mode == "classic" and self.threshold is None:
            raise ConfigError(
                f"{where}: mode=classic needs threshold = the completeness magnitude Mc "
                "(e.g. threshold=2.0); the b-positive modes need none"
            )
        if self.mode != "classic" and self.threshold is not None and self.threshold < 0:
            raise ConfigError(
                f"{where}: threshold={self.threshold} is the smallest magnitude difference "
                "b-positive uses and must be >= 0 (paper: 0)"
            )
        if not (math.isfinite(self.delta_m) and 0 <= self.delta_m <= 1):
            raise ConfigError(
                f"{where}: delta_m={self.delta_m} must be a magnitude bin width in [0, 1] "
                "(usually 0.1)"
            )
        if self.mode == "binned" and self.delta_m == 0:
            raise ConfigError(f"{where}: mode=binned needs delta_m > 0 (the magnitude bin width)")
        if self.round_magnitudes and not self.delta_m > 0:
            raise ConfigError(f"{where}: round_magnitudes needs delta_m > 0")
        if not (math.isfinite(self.b_max) and 0 < self.b_max <= MAX_B):
            raise ConfigError(
                f"{where}: b_max={self.b_max} must be a finite clip in (0, {MAX_B:g}] (paper: 2)"
            )

    # ------------------------------------------------------------------ derived values
    @property
    def start_ts(self) -> pd.Timestamp:
        return pd.Timestamp(self.start, tz="UTC").normalize()

    @property
    def end_ts(self) -> pd.Timestamp:
        return pd.Timestamp(self.end, tz="UTC").normalize()

    @property
    def n_days(self) -> int:
        return int((self.end_ts - self.start_ts).days) + 1

    @property
    def effective_threshold(self) -> float:
        """The threshold used: the setting, else 0 (``paper``) or ``delta_m`` (``binned``)."""
        if self.threshold is not None:
            return float(self.threshold)
        return float(self.delta_m) if self.mode == "binned" else 0.0

    @property
    def effective_dr_km(self) -> float | None:
        if self.metric != "greatcircle":
            return None
        return float(self.dr_km) if self.dr_km is not None else float(self.dr) * KM_PER_DEG

    @property
    def effective_delta_m(self) -> float:
        """Bin width the estimator uses (``paper`` mode is continuous: 0)."""
        return 0.0 if self.mode == "paper" else float(self.delta_m)

    def key_fields(self) -> dict:
        """The settings that determine the cube's content (for the cache key and attributes)."""
        d = asdict(self)
        d.pop("name")
        d["threshold"] = self.effective_threshold
        d["dr_km"] = self.effective_dr_km
        d["delta_m"] = self.effective_delta_m
        d["start"] = self.start_ts.strftime("%Y-%m-%d")
        d["end"] = self.end_ts.strftime("%Y-%m-%d")
        d["region"] = [float(x) for x in self.region]
        return d


def load_cube_config(
    preset: str | Path | None = "paper", overrides: list[str] | None = None, **fields
) -> CubeConfig:
    """``conf/bvalue/<preset>.yaml`` (or a YAML path) + ``key=value`` overrides + fields."""
    path = resolve_preset(preset, "bvalue") if preset is not None else None
    fields = {k: v for k, v in fields.items() if v is not None}
    return load_config(CubeConfig, path, overrides, **fields)
