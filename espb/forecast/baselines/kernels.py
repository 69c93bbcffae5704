"""Spatial kernels integrated over grid cells, shared by the baselines.

Two isotropic kernels in km, both integrated exactly over axis-aligned rectangles:

- the power law of the synthetic generator's ETAS and of Helmstetter, Kagan & Jackson (2007,
  SRL 78(1), Eq. 3 for q = 1.5): density ``(q-1)/(pi D^2) (1 + r^2/D^2)^-q``, radial survival
  ``S(r) = (1 + r^2/D^2)^(1-q)``. Its mass over ``[0, X] x [0, Y]`` is the *corner function*
  ``G(X, Y)``; for q = 1.5 it is the solid angle of the rectangle seen from height D,
  ``G = atan(XY / (D sqrt(D^2 + X^2 + Y^2))) / (2 pi)``; for other q it is
  ``(1/2pi) int_0^(pi/2) (1 - S(R(theta))) dtheta`` with ``R`` the distance to the rectangle's
  far edge along the ray (Gauss-Legendre on each side of the corner ray). ``G`` is odd in each
  argument, so a rectangle's mass is the usual four-corner difference.
- the Gaussian (std ``sigma`` km per axis): a product of normal CDF differences.

Cell geometry: a cell ``[lat_a, lat_b] x [lon_a, lon_b]`` seen from a point at ``(lat, lon)`` is
the rectangle ``north in [(lat_a - lat) K, (lat_b - lat) K]``,
``east in [(lon_a - lon) K cos(lat), (lon_b - lon) K cos(lat)]`` (K km per degree): the
equirectangular projection at the point's latitude, exactly the inverse of the offsets the
generator draws (:func:`espb.catalog.synthetic.fields.offset_deg`).
"""

from __future__ import annotations

import math

import numba as nb
import numpy as np
from scipy.special import ndtr

from espb.geo import KM_PER_DEG

_GL_X, _GL_W = np.polynomial.legendre.leggauss(16)


@nb.njit(cache=True)
def corner(x: float, y: float, d: float, q: float, glx: np.ndarray, glw: np.ndarray) -> float:
    """Power-law kernel mass over ``[0, x] x [0, y]`` (signed: odd in x and in y)."""
    sx = 1.0 if x >= 0 else -1.0
    sy = 1.0 if y >= 0 else -1.0
    ax, ay = abs(x), abs(y)
    if ax == 0.0 or ay == 0.0:
        return 0.0
    if q == 1.5:
        v = math.atan(ax * ay / (d * math.sqrt(d * d + ax * ax + ay * ay))) / (2.0 * math.pi)
        return sx * sy * v
    th = math.atan2(ay, ax)
    tot = 0.0
    # theta in [0, th]: the ray leaves through x = ax
    h1 = 0.5 * th
    for i in range(glx.size):
        t = h1 * (glx[i] + 1.0)
        r = ax / math.cos(t)
        tot += glw[i] * h1 * (1.0 - (1.0 + (r / d) ** 2) ** (1.0 - q))
    # theta in [th, pi/2]: the ray leaves through y = ay
    h2 = 0.5 * (0.5 * math.pi - th)
    for i in range(glx.size):
        t = th + h2 * (glx[i] + 1.0)
        r = ay / math.sin(t)
        tot += glw[i] * h2 * (1.0 - (1.0 + (r / d) ** 2) ** (1.0 - q))
    return sx * sy * tot / (2.0 * math.pi)


@nb.njit(cache=True)
def rect_mass(x1: float, x2: float, y1: float, y2: float, d: float, q: float, glx, glw) -> float:
    """Power-law kernel mass over ``[x1, x2] x [y1, y2]`` (km, centred on the source)."""
    return (
        corner(x2, y2, d, q, glx, glw)
        - corner(x1, y2, d, q, glx, glw)
        - corner(x2, y1, d, q, glx, glw)
        + corner(x1, y1, d, q, glx, glw)
    )


@nb.njit(cache=True)
def lattice_masses(
    xs: np.ndarray, ys: np.ndarray, d: float, q: float, glx, glw, out: np.ndarray
) -> None:
    """Masses of the cells of a lattice with corner coordinates ``ys`` (north, km, rows) and
    ``xs`` (east, km, cols) relative to the source; ``out`` is (len(ys)-1, len(xs)-1), added to."""
    ny, nx = ys.size, xs.size
    g = np.empty((ny, nx))
    for i in range(ny):
        for j in range(nx):
            g[i, j] = corner(xs[j], ys[i], d, q, glx, glw)
    for i in range(ny - 1):
        for j in range(nx - 1):
            out[i, j] += g[i + 1, j + 1] - g[i, j + 1] - g[i + 1, j] + g[i, j]


def gl() -> tuple[np.ndarray, np.ndarray]:
    """The Gauss-Legendre nodes and weights :func:`corner` uses for q != 1.5."""
    return _GL_X, _GL_W


def powerlaw_cell_masses(
    lat: np.ndarray,
    lon: np.ndarray,
    d_km: np.ndarray,
    q: float,
    lat_edges: np.ndarray,
    lon_edges: np.ndarray,
) -> np.ndarray:
    """``(n, H, W)`` power-law masses of sources at ``(lat, lon)`` with scales ``d_km`` in the
    cells of a lattice with edges ``lat_edges`` (H+1) and ``lon_edges`` (W+1), in degrees."""
    return _pl_masses(
        np.asarray(lat, float),
        np.asarray(lon, float),
        np.asarray(d_km, float),
        float(q),
        np.asarray(lat_edges, float),
        np.asarray(lon_edges, float),
        _GL_X,
        _GL_W,
    )


@nb.njit(cache=True)
def _pl_masses(lat, lon, d_km, q, lat_edges, lon_edges, glx, glw):
    n = lat.size
    out = np.zeros((n, lat_edges.size - 1, lon_edges.size - 1))
    for e in range(n):
        ys = (lat_edges - lat[e]) * KM_PER_DEG
        xs = (lon_edges - lon[e]) * KM_PER_DEG * math.cos(math.radians(lat[e]))
        lattice_masses(xs, ys, d_km[e], q, glx, glw, out[e])
    return out


def gaussian_cell_masses(
    lat: np.ndarray,
    lon: np.ndarray,
    sigma_km: float,
    lat_edges: np.ndarray,
    lon_edges: np.ndarray,
) -> np.ndarray:
    """``(n, H, W)`` masses of isotropic Gaussians (std ``sigma_km`` per axis) centred at
    ``(lat, lon)`` in the cells of a lattice with the given edges (degrees)."""
    lat = np.asarray(lat, float)[:, None]
    lon = np.asarray(lon, float)[:, None]
    ny = ndtr((np.asarray(lat_edges)[None, :] - lat) * KM_PER_DEG / sigma_km)
    nx = ndtr(
        (np.asarray(lon_edges)[None, :] - lon) * KM_PER_DEG * np.cos(np.radians(lat)) / sigma_km
    )
    return np.diff(ny, axis=1)[:, :, None] * np.diff(nx, axis=1)[:, None, :]
