"""Cell integrals of the spatial kernels: normalisation, an independent quadrature (scipy) and
Monte Carlo draws made exactly as the synthetic generator draws aftershock offsets."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.integrate import dblquad

from espb.catalog.synthetic.fields import offset_deg
from espb.forecast.baselines.kernels import (
    corner,
    gaussian_cell_masses,
    gl,
    powerlaw_cell_masses,
    rect_mass,
)
from espb.geo import KM_PER_DEG  # the kernels' km per degree (the Earth's)


def _density(q: float, d: float):
    return lambda y, x: (q - 1) / (math.pi * d * d) * (1 + (x * x + y * y) / (d * d)) ** -q


@pytest.mark.parametrize("q", [1.5, 1.8, 2.5])
def test_rectangle_mass_against_scipy(q: float) -> None:
    d = 2.0
    for x1, x2, y1, y2 in [(0.0, 3.0, 0.0, 5.0), (-4.0, 7.0, 1.0, 9.0), (10.0, 14.0, -3.0, 2.0)]:
        ref, _ = dblquad(_density(q, d), x1, x2, y1, y2, epsabs=1e-13, epsrel=1e-11)
        assert rect_mass(x1, x2, y1, y2, d, q, *gl()) == pytest.approx(ref, rel=1e-8, abs=1e-13)


@pytest.mark.parametrize("q", [1.5, 2.5])
def test_corner_limits(q: float) -> None:
    glx, glw = gl()
    assert corner(1e9, 1e9, 2.0, q, glx, glw) == pytest.approx(0.25, abs=1e-6)
    assert corner(-3.0, 2.0, 2.0, q, glx, glw) == -corner(3.0, 2.0, 2.0, q, glx, glw)
    # a half-width R square holds 1 - S(r) between the inscribed and circumscribed circles
    r = 50.0
    inside = 4 * corner(r, r, 2.0, q, glx, glw)
    s = lambda x: (1 + x * x / 4.0) ** (1 - q)  # noqa: E731
    assert 1 - s(r) < inside < 1 - s(r * math.sqrt(2))


def test_lattice_masses_sum_to_the_plane() -> None:
    lat_e = 39.0 + np.arange(-60, 61) * 0.1
    lon_e = 142.0 + np.arange(-60, 61) * 0.1
    g = gaussian_cell_masses(np.array([39.03]), np.array([142.07]), 15.0, lat_e, lon_e)
    assert g.sum() == pytest.approx(1.0, abs=1e-12)  # +-6 deg is > 30 sigma
    p = powerlaw_cell_masses(
        np.array([39.03]), np.array([142.07]), np.array([2.0]), 1.5, lat_e, lon_e
    )
    # the power law leaves ~D/R outside: compare with the exact rectangle
    e0 = (lon_e[0] - 142.07) * KM_PER_DEG * math.cos(math.radians(39.03))
    e1 = (lon_e[-1] - 142.07) * KM_PER_DEG * math.cos(math.radians(39.03))
    n0, n1 = (lat_e[0] - 39.03) * KM_PER_DEG, (lat_e[-1] - 39.03) * KM_PER_DEG
    assert p.sum() == pytest.approx(rect_mass(e0, e1, n0, n1, 2.0, 1.5, *gl()), rel=1e-12)
    assert 0.99 < p.sum() < 1.0


def test_generator_offsets_land_where_the_cell_masses_say() -> None:
    """Offsets drawn with the generator's formulas (etas.simulate): r = D sqrt((1-u)^(1/(1-q)) - 1),
    uniform angle, then fields.offset_deg at the parent's latitude."""
    rng = np.random.default_rng(3)
    n, d, q, plat, plon = 400_000, 4.0, 1.5, 40.02, 142.04
    u = rng.random(n)
    r = d * np.sqrt((1.0 - u) ** (1.0 / (1.0 - q)) - 1.0)
    th = rng.uniform(0, 2 * np.pi, n)
    dlat, dlon = offset_deg(plat, r * np.cos(th), r * np.sin(th))
    lat_e = 39.7 + np.arange(8) * 0.1
    lon_e = 141.7 + np.arange(8) * 0.1
    hist, _, _ = np.histogram2d(plat + dlat, plon + dlon, bins=[lat_e, lon_e])
    m = powerlaw_cell_masses(np.array([plat]), np.array([plon]), np.array([d]), q, lat_e, lon_e)[0]
    sd = np.sqrt(n * m * (1 - m))
    assert np.all(np.abs(hist - n * m) < 5 * sd + 1)
    assert m.max() > 0.1  # the test looks at a populated lattice
