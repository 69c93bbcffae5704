"""espb.geo: the one great-circle distance and Earth radius (docs/architecture.md, Invariants)."""

from __future__ import annotations

import math
import re
from pathlib import Path

import numpy as np
import pytest

import espb
from espb.geo import (
    EARTH_RADIUS_KM,
    KM_PER_DEG,
    chord_to_km,
    haversine_km,
    haversine_km_scalar,
    km_per_deg,
)


def _points(n: int, seed: int = 0):
    rng = np.random.default_rng(seed)
    return (
        rng.uniform(-89, 89, n),
        rng.uniform(-180, 180, n),
        rng.uniform(-89, 89, n),
        rng.uniform(-180, 180, n),
    )


def test_known_distances() -> None:
    assert haversine_km(0.0, 0.0, 90.0, 0.0) == pytest.approx(math.pi / 2 * EARTH_RADIUS_KM)
    assert haversine_km(0.0, 0.0, 0.0, 1.0) == pytest.approx(KM_PER_DEG, rel=1e-12)
    assert haversine_km(10.0, 20.0, 10.0, 20.0) == 0.0
    assert haversine_km(0.0, 0.0, 0.0, 180.0, radius_km=1.0) == pytest.approx(math.pi)
    assert km_per_deg(6371.0) == 111.19492664455873  # the synthetic generator's sphere


def test_the_numba_form_rounds_like_the_numpy_form() -> None:
    lat1, lon1, lat2, lon2 = _points(2000)
    vec = haversine_km(lat1, lon1, lat2, lon2)
    one = np.array(
        [
            haversine_km_scalar(a, b, c, d, EARTH_RADIUS_KM)
            for a, b, c, d in zip(lat1, lon1, lat2, lon2, strict=True)
        ]
    )
    np.testing.assert_allclose(one, vec, rtol=1e-13, atol=1e-9)


def test_chord_to_km_is_the_great_circle_of_unit_vectors() -> None:
    lat1, lon1, lat2, lon2 = _points(500, seed=1)

    def xyz(lat, lon):
        p, q = np.radians(lat), np.radians(lon)
        return np.stack([np.cos(p) * np.cos(q), np.cos(p) * np.sin(q), np.sin(p)], axis=1)

    chord = np.linalg.norm(xyz(lat1, lon1) - xyz(lat2, lon2), axis=1)
    np.testing.assert_allclose(chord_to_km(chord), haversine_km(lat1, lon1, lat2, lon2), rtol=1e-7)


def test_no_other_copy_of_the_earth_radius() -> None:
    """Only espb/geo.py holds the Earth's radius, and the synthetic generator its own sphere:
    a new literal elsewhere is a second copy (use espb.geo)."""
    root = Path(espb.__file__).parent
    allowed = {root / "geo.py", root / "catalog" / "synthetic" / "fields.py"}
    found = [
        f"{p.relative_to(root)}:{i}"
        for p in root.rglob("*.py")
        if p not in allowed
        for i, line in enumerate(p.read_text().splitlines(), 1)
        if re.search(r"637[18]\.\d|111\.19\d", line)
    ]
    assert found == []
