"""Settings of the synthetic catalog (``espb catalog synth``).

The presets ``demo`` and ``paper`` live in ``presets/catalog/synthetic/<name>.yaml`` and are
merged onto these dataclasses, so a misspelled key fails with a message naming it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from espb.catalog.build import FilterConfig
from espb.config import load_config, resolve_preset
from espb.errors import ConfigError
from espb.paths import presets_dir


@dataclass
class BackgroundConfig:
    """Stationary background seismicity, concentrated along a subduction-zone-like band."""

    #: expected background events (magnitude >= etas.m_min) per year in the simulation box
    rate_per_year: float = 20000.0
    #: interplate band: polyline of (lat, lon) vertices, roughly 60-100 km landward of the
    #: Japan and Kuril trenches, where most of the region's seismicity lies
    trench: list[list[float]] = field(
        default_factory=lambda: [
            [34.0, 141.0],
            [35.5, 141.3],
            [37.0, 141.9],
            [38.5, 142.4],
            [40.0, 142.6],
            [41.3, 143.2],
            [42.3, 144.8],
            [43.2, 146.5],
            [44.0, 148.0],
        ]
    )
    #: Gaussian half-width of the band across its axis (degrees)
    trench_width_deg: float = 0.5
    trench_weight: float = 0.6
    #: a weaker inland band (crustal seismicity along the volcanic arc)
    arc: list[list[float]] = field(
        default_factory=lambda: [
            [34.5, 137.8],
            [36.0, 138.8],
            [37.5, 139.6],
            [39.0, 140.4],
            [40.5, 140.7],
            [42.0, 141.2],
            [43.5, 142.8],
            [44.5, 144.5],
        ]
    )
    arc_width_deg: float = 0.35
    arc_weight: float = 0.25
    #: the rest is uniform over the simulation box
    #: fraction of background events in the deeper slab (below the 70 km depth filter)
    deep_fraction: float = 0.06
    deep_range_km: list[float] = field(default_factory=lambda: [70.0, 400.0])


@dataclass
class BFieldConfig:
    """A smooth, spatially varying b-value field: ``mean + amplitude * f(lat, lon)``, |f| <= 1."""

    mean: float = 1.0
    amplitude: float = 0.1
    n_bumps: int = 10
    scale_deg: float = 1.5


@dataclass
class EtasConfig:
    """Space-time ETAS (Ogata 1998) with an Omori-Utsu kernel and magnitude-scaled space kernel."""

    #: smallest simulated magnitude (the lowest 0.1 bin); the catalog's base completeness
    m_min: float = 2.0
    #: largest magnitude drawn from the Gutenberg-Richter law (the M9 below is placed by hand)
    m_max: float = 8.0
    #: magnitude bin width
    delta_m: float = 0.1
    #: expected direct aftershocks >= m_min of a parent with magnitude m_min
    k: float = 0.28
    #: productivity exponent (log10 units): k * 10**(alpha * (m - m_min))
    alpha: float = 0.6
    #: Omori-Utsu c (days) and p of the direct-aftershock delay
    c_days: float = 0.01
    p: float = 1.1
    #: spatial kernel: density ~ (1 + r^2 / D(m)^2)^-q with D(m) = max(d_km, L(m)/2),
    #: L(m) the rupture length of Wells & Coppersmith (1994)
    d_km: float = 2.0
    q: float = 1.5
    #: parents at or above this magnitude spread aftershocks along a line rupture (strike
    #: follows the nearest band segment)
    line_source_min_mag: float = 6.5
    #: events before the catalog start that seed the cascade, then are discarded
    burn_in_days: float = 365.0
    max_generations: int = 60
    #: depth scatter (km) of an aftershock around its parent
    depth_sigma_km: float = 5.0


@dataclass
class MainshockConfig:
    """A Tohoku-like megathrust event placed by hand, with its own aftershock productivity."""

    enabled: bool = True
    time: str = "2011-03-11T05:46:24"
    latitude: float = 38.30
    longitude: float = 142.37
    depth: float = 29.0
    mw: float = 9.0
    #: rupture along strike (km) and across (km); aftershocks fill this area
    length_km: float = 450.0
    width_km: float = 180.0
    strike_deg: float = 20.0
    #: expected direct aftershocks >= m_min (the cascade adds its own)
    n_direct: float = 120000.0
    c_days: float = 0.05
    p: float = 1.08


@dataclass
class CompletenessConfig:
    """Short-term aftershock incompleteness (Helmstetter et al. 2006): after a main event of
    magnitude M, within ``radius`` of it, Mc(t) = min(M, saturation_mag) - a - b log10(t / 1 day)."""

    enabled: bool = True
    min_main_mag: float = 5.5
    a: float = 4.5
    b: float = 0.75
    #: affected radius: max(min_radius_km, radius_factor * rupture length)
    radius_factor: float = 1.0
    min_radius_km: float = 20.0
    #: M in the formula saturates here, so that even the M9 degrades completeness for
    #: months, not years (Mc back to the base ~100 days after an M >= 8)
    saturation_mag: float = 8.0


@dataclass
class PrecursorConfig:
    """Planted precursors: the ground truth later stages are validated against.

    Before a fraction of the events with Mw >= ``min_mag``, events within ``radius_km`` and the
    ``days`` before get magnitudes from b = ``b`` instead of the local field (a rank-preserving
    quantile map on magnitudes below ``m_cap``, so no new large events are created).
    ``mode: null`` selects the same windows but plants nothing (the control catalog).
    """

    #: ``planted`` or ``null`` (YAML's bare ``null`` also means the null catalog)
    mode: str | None = "planted"
    fraction: float = 0.7
    min_mag: float = 5.0
    radius_km: float = 40.0
    days: float = 180.0
    b: float = 0.7
    m_cap: float = 4.95


@dataclass
class ReportConfig:
    """How the synthetic catalog reports magnitudes: realistic types obtained by inverting the
    conversion relations, so ingest's homogenisation is exercised end to end."""

    relations: str = "paper"
    #: decimals the reported magnitudes are printed with (3 keeps the Mw recoverable to 5e-4)
    decimals: int = 3
    #: probability that JMA reports MJMA for an event (else MV or ML, half each)
    p_mjma: float = 0.9
    #: body-wave mb (ISC) for Mw >= 4.0
    p_mb: float = 0.6
    #: surface-wave Ms (ISC) for Mw >= 4.8
    p_ms: float = 0.5
    #: moment magnitude (GCMT) for Mw >= 5.0, and for Mw >= 6.0
    p_mw5: float = 0.7
    p_mw6: float = 0.95


@dataclass
class SynthConfig:
    """The whole synthetic catalog; ``presets/catalog/synthetic/{demo,paper}.yaml`` are presets."""

    name: str = "custom"
    seed: int = 0
    start: str = "2005-01-01"
    end: str = "2014-12-31"
    #: simulation box [lat_min, lat_max, lon_min, lon_max]; larger than the filter box so the
    #: region filter has work to do and edge cells have neighbours
    sim_region: list[float] = field(default_factory=lambda: [34.0, 47.0, 134.0, 147.0])
    #: filters applied to produce the event table (the paper's defaults)
    filters: FilterConfig = field(default_factory=FilterConfig)
    background: BackgroundConfig = field(default_factory=BackgroundConfig)
    b_field: BFieldConfig = field(default_factory=BFieldConfig)
    etas: EtasConfig = field(default_factory=EtasConfig)
    mainshock: MainshockConfig = field(default_factory=MainshockConfig)
    completeness: CompletenessConfig = field(default_factory=CompletenessConfig)
    precursors: PrecursorConfig = field(default_factory=PrecursorConfig)
    reports: ReportConfig = field(default_factory=ReportConfig)

    def validate(self) -> None:
        p = self.precursors
        if p.mode is None or str(p.mode).lower() in ("none", "null"):
            p.mode = "null"
        if p.mode not in ("planted", "null"):
            raise ConfigError(f"precursors.mode must be 'planted' or 'null', not {p.mode!r}")
        if not 0 <= p.fraction <= 1:
            raise ConfigError(f"precursors.fraction must be in [0, 1], not {p.fraction}")
        if not 0 < p.b:
            raise ConfigError(f"precursors.b must be positive, not {p.b}")
        if not p.m_cap > self.etas.m_min:
            raise ConfigError(
                f"precursors.m_cap ({p.m_cap}) must exceed etas.m_min ({self.etas.m_min})"
            )
        e = self.etas
        if e.p <= 1 or self.mainshock.p <= 1:
            raise ConfigError(
                "etas.p and mainshock.p must be > 1 (the Omori-Utsu kernel must be normalisable)"
            )
        if e.alpha >= self.b_field.mean - self.b_field.amplitude:
            raise ConfigError(
                f"etas.alpha ({e.alpha}) must stay below the smallest b-value "
                f"({self.b_field.mean - self.b_field.amplitude}) or the cascade explodes"
            )
        if e.q <= 1:
            raise ConfigError(f"etas.q must be > 1, not {e.q}")
        bg = self.background
        if bg.trench_weight + bg.arc_weight > 1:
            raise ConfigError("background.trench_weight + background.arc_weight must be <= 1")
        la0, la1, lo0, lo1 = self.sim_region
        if not (la0 < la1 and lo0 < lo1):
            raise ConfigError(
                f"sim_region {self.sim_region} must be [lat_min, lat_max, lon_min, lon_max]"
            )
        self.filters.validate()


PRESETS = ("demo", "paper", "smoke")


def load_synth_config(
    preset: str = "demo", overrides: list[str] | None = None, **fields: Any
) -> SynthConfig:
    """A preset (a name from :data:`PRESETS` or a YAML path) merged onto :class:`SynthConfig`,
    then dotted ``key=value`` overrides."""
    return load_config(
        SynthConfig, resolve_preset(preset, "catalog/synthetic", presets_dir()), overrides, **fields
    )
