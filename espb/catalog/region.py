"""A region: the place, the period and the catalog conventions of one study, in one place.

A region preset is a Hydra config of the group ``conf/region/`` (``region=japan_paper``,
``region=switzerland``, ...). Its ``region:`` node, read here, holds

- the grid box ``box`` = [lat_min, lat_max, lon_min, lon_max], the cube's ``start``/``end``,
  the development end ``dev_end``, the target magnitude ``target_mag`` (EQ samples: Mw >= it)
  and the block's ``patch``; the rest of the preset maps them onto ``bvalue.region/start/end``,
  ``training.dev_end``, ``samples.eq_min_mag/patch`` (docs/regions.md);
- the catalog conventions ``ingest`` (ML relation, depth limit, minimum magnitude, time zone,
  depth sign) that ``espb catalog ingest --region-preset NAME`` applies;
- ``annotations``: the region's large events, which figures draw as labelled lines (the paper's
  Figure 5 shows Tohoku for Japan; another region shows its own events or none).

The paper's region (Section 2: 35-46 N x 135-146 E) is ``japan_paper``. The ``region:`` node
holds plain values only (no interpolation), so that this module reads it without Hydra.

:func:`catalog_extent` summarises where and when a catalog's events lie, with the completeness
magnitude by seismostats' b-value stability (:func:`espb.catalog.quality.estimate_mc`); the
training layer turns it into a region (``region=auto``, ``espb region auto``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
from omegaconf import OmegaConf
from omegaconf.errors import OmegaConfBaseException

from espb.catalog.config import parse_date
from espb.errors import ConfigError

#: the share of events a derived box leaves out on each side (outliers: a mislocated event
#: must not stretch the grid over an empty ocean)
TRIM = 0.005


@dataclass
class RegionMark:
    """A large event of the region that figures mark: ``date`` (YYYY-MM-DD), ``label`` and,
    optionally, where it was (a star on maps)."""

    date: str
    label: str
    lat: float | None = None
    lon: float | None = None


@dataclass
class RegionIngest:
    """The catalog conventions of a region (``espb catalog ingest --region-preset``); None
    keeps espb's default (docs/catalogs.md)."""

    #: ML -> Mw: identity (espb's default), mjma (the paper's, Japan), drop, or a relation name
    ml_relation: str | None = None
    #: keep depth <= this (km); None: no limit
    max_depth_km: float | None = 70.0
    #: completeness: keep Mw >= this; None: every magnitude
    min_mw: float | None = None
    #: the zone of times without a UTC offset (UTC, Europe/Zurich, +09:00)
    timezone: str | None = None
    #: the file's depth sign: down (usual) | up
    depth_positive: str | None = None


@dataclass
class RegionSpec:
    """The ``region:`` node of a region preset (module docstring)."""

    name: str = "custom"
    description: str = ""
    box: list[float] | None = None
    start: str | None = None
    end: str | None = None
    dev_end: str | None = None
    target_mag: float | None = None
    patch: int | None = None
    #: the catalog the preset was made for (a file, a download): documentation only
    catalog: str = ""
    #: a suggested completeness magnitude (``region=auto``: seismostats' b-stability Mc)
    mc: float | None = None
    ingest: RegionIngest = field(default_factory=RegionIngest)
    annotations: list[RegionMark] = field(default_factory=list)

    def validate(self) -> None:
        where = f"region {self.name!r}"
        if self.box is not None:
            b = [float(x) for x in self.box]
            if len(b) != 4 or not all(math.isfinite(x) for x in b):
                raise ConfigError(
                    f"{where}: box {self.box} must be four finite numbers [lat_min, lat_max, "
                    "lon_min, lon_max]"
                )
            if not (-90 <= b[0] < b[1] <= 90 and -180 <= b[2] < b[3] <= 360):
                raise ConfigError(
                    f"{where}: box {self.box}: needs -90 <= lat_min < lat_max <= 90 and "
                    "-180 <= lon_min < lon_max <= 360 ([lat_min, lat_max, lon_min, lon_max])"
                )
        for key in ("start", "end", "dev_end"):
            if getattr(self, key) is not None:
                parse_date(f"{where}: {key}", getattr(self, key))
        if self.start and self.end and parse_date("end", self.end) < parse_date("s", self.start):
            raise ConfigError(f"{where}: end {self.end} is before start {self.start}")
        if self.target_mag is not None and not -2 <= float(self.target_mag) <= 10:
            raise ConfigError(f"{where}: target_mag={self.target_mag} must lie in -2..10")
        if self.patch is not None and (self.patch < 2 or self.patch & (self.patch - 1)):
            raise ConfigError(
                f"{where}: patch={self.patch} must be a power of two >= 2 (the CNN-TCN halves "
                "the patch at each spatial stage; docs/regions.md)"
            )
        for m in self.annotations:
            parse_date(f"{where}: annotation {m.label!r}", m.date)


def region_presets_dir() -> Path:
    """``conf/region/``: the region presets (a Hydra config group)."""
    from espb.paths import conf_dir

    return conf_dir() / "region"


def preset_names() -> list[str]:
    return sorted(p.stem for p in region_presets_dir().glob("*.yaml"))


def region_from_node(node: dict | None, where: str = "region") -> RegionSpec:
    """A ``region:`` node (a dict, e.g. from a resolved run config) as a validated spec."""
    from espb.config import from_node

    return from_node(RegionSpec, node or {}, where)


def load_region(name: str | Path) -> RegionSpec:
    """The ``region:`` node of ``conf/region/<name>.yaml``, or of a YAML file."""
    from espb.config import resolve_preset

    path = resolve_preset(name, "region", region_presets_dir().parent)
    try:
        node = OmegaConf.load(path).get("region")
    except OmegaConfBaseException as exc:
        raise ConfigError(f"{path}: not a region preset ({exc})") from exc
    if node is None:
        raise ConfigError(
            f"{path}: no 'region:' node; a region preset holds region: {{name, box, start, end, "
            "dev_end, target_mag, patch, ingest, annotations}} (docs/regions.md)"
        )
    return region_from_node(OmegaConf.to_container(node), str(path))


def ingest_overrides(spec: RegionSpec) -> list[str]:
    """The region's box and conventions as ``--set`` overrides of the ingest settings
    (:class:`espb.catalog.config.IngestConfig`). The dates are not applied: the cube's first
    days need the events of the ``dt`` days before ``start``."""
    out: list[str] = []
    if spec.box is not None:
        out.append("filters.region=[" + ",".join(repr(float(x)) for x in spec.box) + "]")
    ing = spec.ingest
    out.append(f"filters.max_depth_km={'null' if ing.max_depth_km is None else ing.max_depth_km}")
    if ing.min_mw is not None:
        out.append(f"filters.min_mw={ing.min_mw}")
    if ing.ml_relation is not None:
        out.append(f"magnitudes.family_relation.ML={ing.ml_relation}")
    if ing.timezone is not None:
        out.append(f"timezone={ing.timezone}")
    if ing.depth_positive is not None:
        out.append(f"depth_positive={ing.depth_positive}")
    return out


@dataclass
class CatalogExtent:
    """Where and when a catalog's events lie (:func:`catalog_extent`)."""

    n_events: int
    #: the box holding all but ``TRIM`` of the events on each side, rounded out to cells
    box: list[float]
    #: the bounding box of every event
    full_box: list[float]
    first_day: pd.Timestamp
    last_day: pd.Timestamp
    #: events outside ``box``
    n_outside: int
    max_mw: float
    #: completeness by seismostats' b-value stability (None when it finds none) and why not
    mc: float | None
    mc_problem: str = ""


def _round_out(lo: float, hi: float, res: float) -> tuple[float, float]:
    a = math.floor(lo / res + 1e-9) * res
    b = math.ceil(hi / res - 1e-9) * res
    if b - a < res / 2:
        b = a + res
    return round(a, 10), round(b, 10)


def catalog_extent(
    events: pd.DataFrame, resolution: float = 0.1, with_mc: bool = True
) -> CatalogExtent:
    """The trimmed box (rounded out to whole ``resolution`` cells), the days and (``with_mc``)
    the completeness of ``events`` (an espb event table). ConfigError for an empty table."""
    from espb.catalog.quality import estimate_mc

    if not len(events):
        raise ConfigError("the catalog holds no event: nothing to derive a region from")
    lat = events["latitude"].to_numpy(float)
    lon = events["longitude"].to_numpy(float)
    la0, la1 = np.quantile(lat, [TRIM, 1 - TRIM])
    lo0, lo1 = np.quantile(lon, [TRIM, 1 - TRIM])
    la0, la1 = _round_out(float(la0), float(la1), resolution)
    lo0, lo1 = _round_out(float(lo0), float(lo1), resolution)
    la0, la1 = max(la0, -90.0), min(la1, 90.0)
    inside = (lat >= la0) & (lat <= la1) & (lon >= lo0) & (lon <= lo1)
    t = pd.to_datetime(events["time"], utc=True)
    mc = estimate_mc(events["mw"].to_numpy(float)) if with_mc else None
    return CatalogExtent(
        n_events=len(events),
        box=[la0, la1, lo0, lo1],
        full_box=[float(lat.min()), float(lat.max()), float(lon.min()), float(lon.max())],
        first_day=t.min().normalize(),
        last_day=t.max().normalize(),
        n_outside=int(np.count_nonzero(~inside)),
        max_mw=float(np.nanmax(events["mw"].to_numpy(float))),
        mc=mc.mc if mc else None,
        mc_problem=mc.problem if mc else "not estimated",
    )


def presets_covering(events: pd.DataFrame, share: float = 0.9) -> list[str]:
    """The region presets whose box holds at least ``share`` of the events (best first), for
    the fix of a catalog/region mismatch."""
    lat = events["latitude"].to_numpy(float)
    lon = events["longitude"].to_numpy(float)
    found: list[tuple[float, float, str]] = []
    for name in preset_names():
        try:
            spec = load_region(name)
        except ConfigError:
            continue
        if spec.box is None or not len(lat):
            continue
        a, b, c, d = spec.box
        frac = float(np.mean((lat >= a) & (lat <= b) & (lon >= c) & (lon <= d)))
        if frac >= share:
            found.append((-frac, (b - a) * (d - c), name))  # most events, then the smallest box
    return [n for *_, n in sorted(found)]


__all__ = [
    "CatalogExtent",
    "RegionIngest",
    "RegionMark",
    "RegionSpec",
    "catalog_extent",
    "ingest_overrides",
    "load_region",
    "preset_names",
    "presets_covering",
    "region_from_node",
    "region_presets_dir",
]
