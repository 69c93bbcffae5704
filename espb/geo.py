"""Distances on the sphere: the one great-circle function and the one Earth radius of espb.

- :data:`EARTH_RADIUS_KM`: the IUGG mean Earth radius, 6371.0088 km, used by every distance
  espb computes on real coordinates (b-value cylinders with ``bvalue.metric=greatcircle``, the
  ``dr_km`` default, the forecast baselines' kernels);
- :func:`haversine_km` (NumPy, broadcasting) and :func:`haversine_km_scalar` (a Numba scalar for
  the hot loops of the cube kernels, inlined there): the same haversine formula, the same
  operations in the same order, so both round alike;
- :func:`chord_to_km`: the great-circle distance of a chord between two points on the unit
  sphere (k-nearest-neighbour distances of a KD-tree over unit vectors);
- :func:`km_per_deg`: km per degree of arc on a sphere of a given radius.

The synthetic catalogs are the one exception: their generator lives on a sphere of 6371.0 km
(:data:`espb.catalog.synthetic.fields.SYNTHETIC_RADIUS_KM`), part of the definition of every
embedded catalog (changing it regenerates them all and moves every figure in docs/); it calls
these functions with that radius.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

#: the IUGG mean Earth radius (km)
EARTH_RADIUS_KM = 6371.0088


def km_per_deg(radius_km: float = EARTH_RADIUS_KM) -> float:
    """km per degree of arc on a sphere of radius ``radius_km``."""
    return 2 * math.pi * radius_km / 360.0


#: km per degree of arc on the Earth (:data:`EARTH_RADIUS_KM`)
KM_PER_DEG = km_per_deg(EARTH_RADIUS_KM)


def haversine_km(lat1, lon1, lat2, lon2, radius_km: float = EARTH_RADIUS_KM):
    """Great-circle distance (haversine), degrees in, km out; NumPy broadcasting."""
    p1, p2 = np.radians(lat1), np.radians(lat2)
    dp = p2 - p1
    dl = np.radians(np.asarray(lon2) - np.asarray(lon1))
    a = np.sin(dp / 2) ** 2 + np.cos(p1) * np.cos(p2) * np.sin(dl / 2) ** 2
    return 2.0 * radius_km * np.arcsin(np.sqrt(np.minimum(a, 1.0)))


@njit(cache=True, inline="always")
def haversine_km_scalar(lat1, lon1, lat2, lon2, radius_km):
    """:func:`haversine_km` for scalars inside Numba kernels (inlined at the call)."""
    p1 = math.radians(lat1)
    p2 = math.radians(lat2)
    dp = p2 - p1
    dl = math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    if a > 1.0:
        a = 1.0
    return 2.0 * radius_km * math.asin(math.sqrt(a))


def chord_to_km(chord, radius_km: float = EARTH_RADIUS_KM):
    """Great-circle km of chord lengths between points on the unit sphere."""
    return 2.0 * radius_km * np.arcsin(np.clip(chord / 2.0, 0.0, 1.0))
