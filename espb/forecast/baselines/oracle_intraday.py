"""The oracle's intra-day cascade in expectation: what the day's own (unknown) events trigger
before the day ends.

The events of day d = [T, T+1) (the *immigrants*: background and direct aftershocks of the
events before T, of every magnitude) are unknown at T, but their intensity is known; each one
triggers on average ``nu = E[k 10^(alpha (m - m_lo))]`` direct aftershocks (m from the
Gutenberg-Richter law of the local b), a share of them still within the day, and so on. With
``R_1(tau) = F(1 - tau)`` the share of a tau-old immigrant's direct aftershocks within the day
(F = 1 - S, the Omori-Utsu CDF) and ``R_{g+1}(tau) = int_tau^1 g(tau' - tau) R_g(tau') dtau'``
(g = F'), the expected target events descending from the immigrants within the day are

    Lambda_desc(c) = Pbar_c sum_{g >= 1} nu_c^g int_0^1 lambda_imm(T + tau, c) R_g(tau) dtau,

added to Lambda (``p = 1 - exp(-(Lambda + Lambda_desc))``, accurate while targets are rare
within a cluster). The immigrant intensity of the oracle's running states is a sum of
exponentials in tau, so the integral is a fixed weight per state node and cell (:func:`weights`).
Approximations (documented in docs/forecasts.md): a descendant stays in its immigrant's cell
(the kernel scale d_km is well below a cell), its depth passes the filter like its immigrant's,
and the far-field immigrants have the near field's time profile.
"""

from __future__ import annotations

import math

import numpy as np
from scipy.special import gamma


def mean_productivity(b: np.ndarray, k: float, alpha: float, m_lo: float, m_hi: float):
    """``E[k 10^(alpha (m - m_lo))]`` for m from the Gutenberg-Richter law with b-value b,
    truncated to [m_lo, m_hi) (needs alpha < b, which the generator's config enforces)."""
    b = np.asarray(b, float)
    dm = m_hi - m_lo
    return k * b / (b - alpha) * (1 - 10 ** (-(b - alpha) * dm)) / (1 - 10 ** (-b * dm))


def _cdf(x: np.ndarray, c: float, p: float) -> np.ndarray:
    return 1.0 - (1.0 + np.maximum(x, 0.0) / c) ** (1.0 - p)


def generations(c: float, p: float, n_gen: int, n_grid: int) -> tuple[np.ndarray, np.ndarray]:
    """``tau`` (n_grid + 1 points on [0, 1]) and ``R`` (n_gen, n_grid + 1): ``R[g-1]`` is the
    expected number of generation-g same-day descendants per unit nu^g of an immigrant at tau.
    Product integration: the Omori-Utsu kernel is integrated exactly over each grid step."""
    tau = np.linspace(0.0, 1.0, n_grid + 1)
    r = np.empty((n_gen, tau.size))
    r[0] = _cdf(1.0 - tau, c, p)
    # F over [tau_j, tau_{j+1}] seen from tau_i: depends only on j - i on a uniform grid
    h = 1.0 / n_grid
    lag = np.arange(n_grid + 1)
    step_mass = _cdf((lag + 1) * h, c, p) - _cdf(lag * h, c, p)
    for g in range(1, n_gen):
        mid = 0.5 * (r[g - 1][1:] + r[g - 1][:-1])  # R_g on each step
        # R_{g+1}(tau_i) = sum_{j >= i} step_mass[j - i] * mid[j]: a correlation
        full = np.correlate(mid, step_mass[:n_grid], mode="full")[n_grid - 1 :]
        r[g, :n_grid] = full[:n_grid]
        r[g, n_grid] = 0.0
    return tau, r


def _exp_moments(s: np.ndarray, tau: np.ndarray, r: np.ndarray) -> np.ndarray:
    """``int_0^1 exp(-s tau) R(tau) dtau`` for every node s and each row of R (piecewise
    linear R, exact exponential): (n_rows, n_nodes)."""
    a, b = tau[:-1], tau[1:]
    h = b - a
    out = np.empty((r.shape[0], s.size))
    for i, si in enumerate(s):
        if si * h[0] < 1e-6:
            w0 = w1 = 0.5 * h * np.exp(-si * a)
        else:
            ea, eb = np.exp(-si * a), np.exp(-si * b)
            i0 = (ea - eb) / si  # int e^{-s t}
            i1 = (ea * (1 + si * a) - eb * (1 + si * b)) / si**2  # int t e^{-s t}
            w1 = (i1 - a * i0) / h  # weight of the right end
            w0 = i0 - w1
        out[:, i] = r[:, :-1] @ w0 + r[:, 1:] @ w1
    return out


def density_weights(s: np.ndarray, c: float, p: float, step: float) -> np.ndarray:
    """Weights of ``g(y) = sum_k wd_k exp(-s_k y)`` on the nodes of :func:`oracle.omori_soe`."""
    a = p - 1.0
    return step * c**a / gamma(a) * s ** (a + 1.0) * np.exp(-s * c)


def weights(
    s: np.ndarray, c: float, p: float, step: float, nu: np.ndarray, n_gen: int, n_grid: int
) -> tuple[np.ndarray, np.ndarray]:
    """``V`` (cells, nodes): the same-day descendants per unit of each running state, and
    ``flat`` (cells,): per unit of a constant immigrant rate (the background)."""
    tau, r = generations(c, p, n_gen, n_grid)
    q = _exp_moments(s, tau, r) * density_weights(s, c, p, step)[None, :]  # (n_gen, nodes)
    powers = nu[:, None] ** np.arange(1, n_gen + 1)[None, :]  # (cells, n_gen)
    h = tau[1] - tau[0]
    flat_g = h * (0.5 * (r[:, 1:] + r[:, :-1])).sum(axis=1)  # int_0^1 R_g
    return powers @ q, powers @ flat_g


def main_profile(
    x0: np.ndarray, c: float, p: float, c_e: float, p_e: float, n_gen: int, n_grid: int
) -> np.ndarray:
    """(days, n_gen): ``int_0^1 g_main(x0 + tau) R_g(tau) dtau`` for a parent ``x0`` days before
    each day's start with its own Omori-Utsu (c, p); R_g from the ETAS kernel (c_e, p_e)."""
    tau, r = generations(c_e, p_e, n_gen, n_grid)
    out = np.zeros((x0.size, n_gen))
    ok = x0 > 0
    if ok.any():
        mass = _cdf(x0[ok, None] + tau[None, 1:], c, p) - _cdf(x0[ok, None] + tau[None, :-1], c, p)
        out[ok] = mass @ (0.5 * (r[:, 1:] + r[:, :-1])).T
    return out


def check_convergence(nu: np.ndarray, c: float, p: float, n_gen: int) -> float:
    """Bound on the share of the cascade beyond ``n_gen`` generations (geometric tail)."""
    q = float(np.max(nu)) * float(_cdf(np.array([1.0]), c, p)[0])
    return q**n_gen / (1 - q) if q < 1 else math.inf
