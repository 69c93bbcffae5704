"""Molchan diagram, area skill score, hit rates and ROC AUC: against scikit-learn, a brute-force
threshold sweep, the random-alarm theory, and pyCSEP's Molchan diagram on one window."""

from __future__ import annotations

import datetime as dt
import math

import matplotlib
import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import roc_auc_score

from espb.errors import EspbError
from espb.evaluation.forecast.alarms import (
    area_skill_score,
    hit_rate_at,
    interval_counts,
    molchan,
    random_band,
    roc_auc,
)

matplotlib.use("Agg")


def brute_molchan(p, y, w=None):
    """Independent reference: sweep every distinct threshold (descending), alarm p >= u, and
    integrate nu over tau with the trapezoid rule (the tie-interpolated trajectory)."""
    w = np.ones_like(p) if w is None else w
    taus, nus = [0.0], [1.0]
    for u in np.unique(p)[::-1]:
        on = p >= u
        taus.append(w[on].sum() / w.sum())
        nus.append(1 - y[on].sum() / y.sum())
    taus, nus = np.array(taus), np.array(nus)
    return taus, nus, 1 - np.trapezoid(nus, taus)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_auc_equals_scikit_learn_with_ties(cube, small_chunks, dtype):
    p, y, _, _, mask = cube
    pm = p[mask].astype(dtype)
    assert roc_auc(pm, y[mask]) == pytest.approx(roc_auc_score(y[mask], pm), abs=1e-12)
    rng = np.random.default_rng(2)
    q = rng.integers(0, 4, 5000).astype(dtype) / 4  # only 4 distinct values
    yq = rng.random(5000) < 0.1 + 0.2 * q
    assert roc_auc(q, yq) == pytest.approx(roc_auc_score(yq, q), abs=1e-12)


def test_ass_equals_brute_force_sweep(cube, small_chunks):
    p, y, r, _, mask = cube
    pm, ym, rm = p[mask], y[mask], r[mask]
    tau, nu, ass = brute_molchan(pm, ym)
    m = molchan(pm, ym)
    assert m.ass == pytest.approx(ass, abs=1e-12)
    # every brute-force vertex lies on espb's trajectory
    assert np.interp(tau, m.tau, m.nu) == pytest.approx(nu, abs=1e-12)
    _, _, ass_w = brute_molchan(pm, ym, rm)
    assert molchan(pm, ym, w=rm).ass == pytest.approx(ass_w, abs=1e-12)
    assert molchan(pm, ym, w=np.full(pm.size, 3.0)).ass == pytest.approx(m.ass, abs=1e-12)


def test_ass_and_auc_identity(cube):
    p, y, _, _, mask = cube
    pm, ym = p[mask], y[mask]
    n, n1 = pm.size, int(ym.sum())
    auc = roc_auc(pm, ym)
    assert area_skill_score(pm, ym) == pytest.approx((auc * (n - n1) + n1 / 2) / n, abs=1e-12)


def test_perfect_forecast_has_ass_one():
    rng = np.random.default_rng(0)
    y = rng.random(20_000) < 0.01
    p = np.where(y, 0.9, 0.001)
    m = molchan(p, y)
    n1 = int(y.sum())
    assert m.ass == pytest.approx(1 - n1 / (2 * y.size), abs=1e-12)
    assert 1 - m.ass <= 1 / n1
    assert m.hit_rates[0.05] == 1.0  # all targets fit in 1 % of the cell-days


def test_constant_forecast_is_exactly_random():
    y = np.zeros(1000, bool)
    y[::37] = True
    m = molchan(np.full(1000, 0.01), y)
    assert m.ass == pytest.approx(0.5, abs=1e-12)
    assert m.hit_rates[0.01] == pytest.approx(0.01) and m.hit_rates[0.05] == pytest.approx(0.05)


def test_uninformative_forecast_ass_is_half_within_its_standard_error():
    """Random alarms: ASS ~ 0.5 +- sqrt(1/(12 N)) (Zechar & Jordan 2008)."""
    rng = np.random.default_rng(11)
    reps, n, rate = 300, 4000, 0.02
    ass = np.empty(reps)
    n1 = np.empty(reps)
    for i in range(reps):
        y = rng.random(n) < rate
        p = rng.random(n)  # independent of y
        m = molchan(p, y)
        ass[i], n1[i] = m.ass, m.n_targets
    se = np.sqrt(1 / (12 * n1))
    z = (ass - 0.5) / se
    assert abs(z.mean()) < 3 / math.sqrt(reps)  # unbiased
    assert 0.85 < z.std() < 1.15  # the standard error is right
    assert 0.92 < np.mean(np.abs(z) < 2) < 0.98  # about 95 % within 2 standard errors


def test_hit_rate_interpolation_on_the_step_curve():
    # 10 cell-days: values 0.9 (1 target), 0.5 x4 (2 targets, tied), 0.1 x5 (1 target)
    p = np.array([0.9, 0.5, 0.5, 0.5, 0.5, 0.1, 0.1, 0.1, 0.1, 0.1])
    y = np.array([1, 1, 0, 1, 0, 0, 1, 0, 0, 0], bool)
    m = molchan(p, y, alarm_fractions=(0.05, 0.1, 0.3, 0.6))
    assert m.hit_rates[0.05] == pytest.approx(0.125)  # half of the first cell-day: 0.5 * 1/4
    assert m.hit_rates[0.1] == pytest.approx(0.25)
    assert m.hit_rates[0.3] == pytest.approx(0.25 + 0.5 * (0.2 / 0.4))  # inside the tie block
    assert m.hit_rates[0.6] == pytest.approx(0.75 + 0.25 * 0.1 / 0.5)
    # vertical step (a zero-weight block): the upper value
    assert hit_rate_at(np.array([0, 0.2, 0.2, 1]), np.array([1, 0.8, 0.3, 0]), 0.2) == 0.7
    assert m.ass == pytest.approx(brute_molchan(p, y)[2], abs=1e-12)


def test_interval_counts_agree_across_paths(cube, small_chunks):
    p, y, r, day, mask = cube
    pm, ym, key = p[mask], y[mask], day[mask] % 5
    u = np.unique(pm[ym])
    for dtype in (np.float32, np.float64):
        q, uu = pm.astype(dtype), u.astype(dtype)
        eq, lt = interval_counts(q, uu, key=key, n_keys=5)
        ref_eq = np.array([[np.sum((q == v) & (key == g)) for v in uu] for g in range(5)])
        assert np.array_equal(eq, ref_eq)
        assert lt.sum() + eq.sum() == q.size
        e1, l1 = interval_counts(q, uu)
        assert np.array_equal(e1[0], eq.sum(0)) and np.array_equal(l1[0], lt.sum(0))
        ew, lw = interval_counts(q, uu, key=key, n_keys=5, w=np.ones(q.size))
        assert np.array_equal(ew, eq) and np.array_equal(lw, lt)


def test_random_band_is_the_binomial_interval():
    lo, hi = random_band(100, np.array([0.0, 0.5, 1.0]))
    assert list(lo) == pytest.approx([1.0, 0.4, 0.0])
    assert list(hi) == pytest.approx([1.0, 0.6, 0.0])


def test_undefined_scores_raise():
    with pytest.raises(EspbError, match="no target"):
        molchan(np.full(4, 0.1), np.zeros(4, bool))
    with pytest.raises(EspbError, match="every cell-day"):
        roc_auc(np.full(4, 0.1), np.ones(4, bool))


def _pycsep_molchan(p2d, y2d, cells):
    """pyCSEP's Molchan trajectory and ASS for one day (its numbers only live inside
    ``csep.plots.plot_Molchan_diagram``: draw on an Agg axis, read the line and the legend)."""
    import csep.plots
    from matplotlib.figure import Figure

    from espb.evaluation.forecast.csep_bridge import export_window

    h, w = p2d.shape
    lat, lon = 30 + 0.1 * (np.arange(h) + 0.5), 130 + 0.1 * (np.arange(w) + 0.5)
    times = pd.date_range("2021-03-01", periods=1, freq="D")
    fc, cat = export_window(
        p2d[None],
        y2d[None],
        times,
        lat,
        lon,
        start=dt.datetime(2021, 3, 1),
        end=dt.datetime(2021, 3, 2),
        target_mag=5.0,
        cells=cells,
        name="m",
    )
    ax = Figure().add_subplot()
    csep.plots.plot_Molchan_diagram(fc, cat, ax=ax, show=False, plot_uniform=False)
    tau, nu = (np.asarray(a, float) for a in ax.get_lines()[0].get_data())
    label = ax.get_legend().get_texts()[0].get_text()
    return tau, nu, float(label.split("ASS=")[1].split("±")[0])


def test_molchan_equals_pycsep_on_one_window():
    rng = np.random.default_rng(4)
    h, w = 10, 12
    base = rng.gamma(0.5, 0.05, (h, w))
    p2d = np.round(np.clip(base, 1e-4, 0.8), 3)  # with ties
    y2d = rng.random((h, w)) < 6 * p2d
    cells = np.zeros((h, w), bool)
    cells[1:-1, 1:-1] = True
    tau, nu, ass_label = _pycsep_molchan(p2d, y2d, cells)
    m = molchan(p2d, y2d, mask=cells)
    assert y2d[cells].sum() >= 10
    # pyCSEP's points (one per threshold, ties repeated) lie on espb's trajectory ...
    assert np.interp(tau, m.tau, m.nu) == pytest.approx(nu, abs=1e-12)
    assert np.interp(m.tau, tau, nu) == pytest.approx(m.nu, abs=1e-12)
    # ... and its ASS (trapezoid; the legend rounds to 2 decimals and clips below 0.5) is espb's
    assert 1 - np.trapezoid(nu, tau) == pytest.approx(m.ass, abs=1e-12)
    assert m.ass > 0.5 and ass_label == round(m.ass, 2)
