"""Geometry of the synthetic region: the seismic bands, distances and the b-value field."""

from __future__ import annotations

import numpy as np

from espb.catalog.synthetic.config import BFieldConfig
from espb.geo import haversine_km, km_per_deg

#: the sphere the synthetic generator lives on (km). Not espb.geo.EARTH_RADIUS_KM (6371.0088):
#: it is part of the definition of every embedded synthetic catalog, and changing it would
#: regenerate them all (and move every figure in docs/).
SYNTHETIC_RADIUS_KM = 6371.0
#: km per degree of latitude on that sphere (111.19492664455873)
KM_PER_DEG = km_per_deg(SYNTHETIC_RADIUS_KM)


def local_km(lat0: np.ndarray, dlat: np.ndarray, dlon: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(east, north) km of a small offset (dlat, dlon) degrees at latitude ``lat0``."""
    return dlon * KM_PER_DEG * np.cos(np.radians(lat0)), dlat * KM_PER_DEG


def offset_deg(
    lat0: np.ndarray, east_km: np.ndarray, north_km: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """(dlat, dlon) degrees of an (east, north) km offset at latitude ``lat0``."""
    return north_km / KM_PER_DEG, east_km / (KM_PER_DEG * np.cos(np.radians(lat0)))


def distance_km(
    lat1: np.ndarray, lon1: np.ndarray, lat2: np.ndarray, lon2: np.ndarray
) -> np.ndarray:
    """Great-circle distance (haversine, km) on the synthetic sphere."""
    return haversine_km(lat1, lon1, lat2, lon2, SYNTHETIC_RADIUS_KM)


def _segments(poly: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Segment start points, (east, north) unit directions and lengths in km."""
    a, b = poly[:-1], poly[1:]
    mid_lat = (a[:, 0] + b[:, 0]) / 2
    e, n = local_km(mid_lat, b[:, 0] - a[:, 0], b[:, 1] - a[:, 1])
    length = np.hypot(e, n)
    return a, np.stack([e / length, n / length], axis=1), length


def sample_band(
    rng: np.random.Generator, poly: list[list[float]], width_deg: float, n: int
) -> tuple[np.ndarray, np.ndarray]:
    """``n`` points along a polyline (uniform by length) scattered across it (Gaussian)."""
    pts = np.asarray(poly, dtype=float)
    start, unit, length = _segments(pts)
    seg = rng.choice(len(length), size=n, p=length / length.sum())
    along = rng.random(n) * length[seg]
    across = rng.normal(0.0, width_deg * KM_PER_DEG, n)
    e = unit[seg, 0] * along - unit[seg, 1] * across
    no = unit[seg, 1] * along + unit[seg, 0] * across
    dlat, dlon = offset_deg(start[seg, 0], e, no)
    return start[seg, 0] + dlat, start[seg, 1] + dlon


def strike_of_nearest_segment(
    lat: np.ndarray, lon: np.ndarray, poly: list[list[float]]
) -> np.ndarray:
    """(east, north) unit vector of the band segment nearest to each point."""
    pts = np.asarray(poly, dtype=float)
    start, unit, length = _segments(pts)
    lat = np.atleast_1d(lat)
    lon = np.atleast_1d(lon)
    best = np.full(lat.shape, np.inf)
    out = np.zeros((lat.size, 2))
    for i in range(len(length)):
        e, n = local_km(lat, lat - start[i, 0], lon - start[i, 1])
        s = np.clip(e * unit[i, 0] + n * unit[i, 1], 0, length[i])
        d = np.hypot(e - s * unit[i, 0], n - s * unit[i, 1])
        closer = d < best
        best[closer] = d[closer]
        out[closer] = unit[i]
    return out


class BField:
    """Smooth b-value field ``mean + amplitude * f``: a sum of Gaussian bumps of random sign,
    scaled so that max |f| over the box is 1. Deterministic given the generator."""

    def __init__(self, cfg: BFieldConfig, box: list[float], rng: np.random.Generator):
        la0, la1, lo0, lo1 = box
        self.cfg = cfg
        k = max(int(cfg.n_bumps), 0)
        self.clat = rng.uniform(la0, la1, k)
        self.clon = rng.uniform(lo0, lo1, k)
        self.w = rng.uniform(-1, 1, k)
        self.scale = cfg.scale_deg * rng.uniform(0.6, 1.4, k)
        glat, glon = np.meshgrid(
            np.linspace(la0, la1, 131), np.linspace(lo0, lo1, 131), indexing="ij"
        )
        raw = self._raw(glat.ravel(), glon.ravel())
        self.norm = float(np.abs(raw).max()) if k and np.abs(raw).max() > 0 else 1.0

    def _raw(self, lat: np.ndarray, lon: np.ndarray) -> np.ndarray:
        out = np.zeros(np.shape(lat))
        for cl, cn, w, s in zip(self.clat, self.clon, self.w, self.scale, strict=True):
            out += w * np.exp(
                -((lat - cl) ** 2 + ((lon - cn) * np.cos(np.radians(cl))) ** 2) / (2 * s * s)
            )
        return out

    def __call__(self, lat: np.ndarray, lon: np.ndarray) -> np.ndarray:
        f = np.clip(self._raw(np.asarray(lat), np.asarray(lon)) / self.norm, -1, 1)
        return self.cfg.mean + self.cfg.amplitude * f


def rupture_length_km(m: np.ndarray) -> np.ndarray:
    """Subsurface rupture length, Wells & Coppersmith (1994), all slip types."""
    return 10.0 ** (-2.44 + 0.59 * np.asarray(m))


def rupture_width_km(m: np.ndarray) -> np.ndarray:
    """Downdip rupture width, Wells & Coppersmith (1994), all slip types."""
    return 10.0 ** (-1.01 + 0.32 * np.asarray(m))
