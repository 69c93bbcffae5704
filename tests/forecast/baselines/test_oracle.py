"""Oracle ETAS: the generator's full event set, the Omori-Utsu quadrature, Lambda against a
per-event brute force, the background against the generator's own draws, the no-future property
(and a leak the check catches), and calibration on a simulated catalog."""

from __future__ import annotations

import copy
import importlib

import numpy as np
import pandas as pd
import pytest

from espb.catalog.synthetic.config import load_synth_config
from espb.catalog.synthetic.etas import Events, gr_magnitudes, simulate
from espb.catalog.synthetic.fields import BField
from espb.catalog.synthetic.generate import Simulation, synthesize
from espb.forecast.baselines import OracleConfig, oracle_etas, oracle_lambda
from espb.forecast.baselines.oracle_intraday import _cdf, generations
from espb.forecast.baselines.oracle_space import background_rate, p_magnitude
from espb.forecast.baselines.oracle_states import omori_soe, omori_survival
from espb.forecast.targets import Eligible
from espb.samples.labels import Grid
from tests.forecast.baselines.helpers import START, eligible_of, time_forward
from tests.forecast.baselines.oracle_helpers import brute_force_lambda, tiny_grid, tiny_simulation

orc = importlib.import_module("espb.forecast.baselines.oracle")


@pytest.fixture(scope="module")
def smoke():
    """The smoke catalog, planted, with its simulation; and the null catalog's simulation."""
    planted = synthesize(load_synth_config("smoke"), keep_simulation=True)
    null = synthesize(load_synth_config("smoke", ["precursors.mode=null"]), keep_simulation=True)
    return planted, null


def test_keep_simulation_changes_no_catalog_and_planting_no_simulation(smoke) -> None:
    planted, null = smoke
    plain = synthesize(load_synth_config("smoke"))
    pd.testing.assert_frame_equal(plain.events, planted.events)
    pd.testing.assert_frame_equal(plain.truth, planted.truth)
    a, b = planted.simulation, null.simulation
    for f in Events.__dataclass_fields__:
        np.testing.assert_array_equal(getattr(a.events, f), getattr(b.events, f))
    assert a.main_index >= 0 and a.events.m[a.main_index] == 9.0
    assert a.events.t[a.main_index] == a.t_main
    assert len(a.events) > len(planted.events)  # burn-in, filtered and undetected events too


def test_omori_quadrature_and_same_day_generations() -> None:
    for c, p in [(0.01, 1.1), (0.05, 1.08), (0.002, 1.3)]:
        s, w, err = omori_soe(c, p, 12000.0, 0.5)
        assert err < 1e-5
        x = np.array([0.0, 1e-4, 0.3, 2.0, 700.0, 9000.0])
        exact = omori_survival(x, c, p) - omori_survival(x + 1, c, p)
        np.testing.assert_allclose(np.exp(-np.outer(x, s)) @ w, exact, rtol=1e-5)
    tau, r = generations(0.01, 1.1, 2, 200)
    mid = 0.5 * (r[0][1:] + r[0][:-1])
    i = 37
    direct = sum(
        (_cdf(tau[j + 1] - tau[i], 0.01, 1.1) - _cdf(tau[j] - tau[i], 0.01, 1.1)) * mid[j]
        for j in range(i, 200)
    )
    assert r[1][i] == pytest.approx(direct, rel=1e-12)
    assert r[0][0] == pytest.approx(1 - 101**-0.1)  # F(1 day) with c = 0.01, p = 1.1


def test_magnitude_law_matches_the_generators_draws() -> None:
    rng = np.random.default_rng(0)
    cfg = load_synth_config("smoke")
    for b in (0.9, 1.1):
        m = gr_magnitudes(rng, np.full(2_000_000, b), 1.95, 8.05)
        for thr in (2.95, 4.45):
            want = p_magnitude(np.array(b), thr, cfg)
            assert (m >= thr).mean() == pytest.approx(float(want), rel=4 / np.sqrt(2e6 * want))


@pytest.mark.parametrize(("near", "tol_max"), [(12, 2e-3), (3, 0.15)])
def test_lambda_against_a_brute_force_event_loop(near: int, tol_max: float) -> None:
    sim = tiny_simulation()
    grid = tiny_grid()
    el = eligible_of(grid, lookback=10, patch=4)
    days = np.arange(10, 60)
    ref = brute_force_lambda(sim, grid, el, days, 4.0)
    lam, info = oracle_lambda(
        sim, grid, el, days, 4.0, OracleConfig(intraday="none", near_cells=near)
    )
    assert info["n_parents_extended"] == 2 and ref.min() > 0
    rel = np.abs(lam / ref - 1)
    # near=12 covers the grid: exact up to the quadratures; near=3 (default): the far field
    # averages a source over its cell (worst in the quietest cells, next to an isolated event)
    assert rel.max() < tol_max
    assert np.median(rel) < 1e-3 and abs(lam.sum() / ref.sum() - 1) < 1e-3


def test_background_against_the_generators_draws() -> None:
    cfg = copy.deepcopy(load_synth_config("smoke"))
    cfg.background.rate_per_year = 200_000.0
    cfg.etas.k = 0.0  # background only
    bf = BField(cfg.b_field, cfg.sim_region, np.random.default_rng(5))
    ev = simulate(cfg, np.random.default_rng(6), np.random.default_rng(7), bf, 365.25, None)
    grid = Grid(38.0, 140.6, 0.1, 20, 20, START, 1)
    lat_e, lon_e = grid.lat0 + np.arange(21) * 0.1, grid.lon0 + np.arange(21) * 0.1
    mu = background_rate(bf, lat_e, lon_e, 2.45, cfg, 10) * 365.25
    keep = (np.round(ev.depth, 1) <= 70.0) & (ev.m >= 2.45)
    cnt, _, _ = np.histogram2d(ev.lat[keep], ev.lon[keep], bins=[lat_e, lon_e])
    assert cnt.sum() > 5000
    assert abs(cnt.sum() - mu.sum()) < 4 * np.sqrt(mu.sum())
    blocks = [
        (slice(0, 10), slice(0, 10)),
        (slice(10, 20), slice(10, 20)),
        (slice(0, 10), slice(10, 20)),
    ]
    for r, c in blocks:  # the bands run across the box
        assert abs(cnt[r, c].sum() - mu[r, c].sum()) < 4 * np.sqrt(mu[r, c].sum()) + 5


def _perturbed(sim: Simulation, t_cut: float) -> Simulation:
    """Events from ``t_cut`` on changed (bigger magnitudes, moved) and a new M7 added there."""
    ev = sim.events.take(np.arange(len(sim.events)))
    late = ev.t >= t_cut
    ev.m[late] = np.minimum(ev.m[late] + 1.0, 7.5)
    ev.lat[late] += 0.03
    extra = Events(*(np.array([v]) for v in (t_cut + 0.3, 39.0, 142.0, 10.0, 7.0, 1.0, -1, 0)))
    allev = Events.concat([ev, extra])
    order = np.argsort(allev.t, kind="stable")
    main = int(np.flatnonzero(order == sim.main_index)[0]) if sim.main_index >= 0 else -1
    return Simulation(
        allev.take(order), sim.t0, sim.t_end, sim.t_main, main, sim.bfield, sim.config
    )


@pytest.mark.parametrize("intraday", ["mean", "none"])
def test_no_future_and_the_test_catches_a_leak(intraday: str, monkeypatch) -> None:
    sim = tiny_simulation(background=3000.0)
    grid = tiny_grid()
    el = eligible_of(grid, lookback=10, patch=4)
    d = 32  # after the M9 of day 30.24 - 10
    bad = _perturbed(sim, (START - sim.t0) / pd.Timedelta(days=1) + d)
    cfg = OracleConfig(intraday=intraday)

    def run(s):
        return oracle_etas(s, grid, el, None, 4.0, cfg)

    same, changed = time_forward(run, sim, bad, d)
    assert same and changed
    monkeypatch.setattr(orc, "_known_time", lambda t: t - 1.0)  # sees a day ahead
    same, _ = time_forward(run, sim, bad, d)
    assert not same


def _counts(sim: Simulation, grid: Grid, el: Eligible, m_thr: float, pre_only: bool):
    """Simulated events in each eligible cell-day passing the catalog's depth filter; with
    ``pre_only`` only those whose parent occurred before the day (or background)."""
    ev = sim.events
    t_grid = (grid.start - sim.t0) / pd.Timedelta(days=1)
    day = np.floor(ev.t - t_grid).astype(np.int64)
    r, c = grid.cells(ev.lat, ev.lon)
    ok = (ev.m >= m_thr) & (np.round(ev.depth, 1) <= 70.0) & (day >= el.day_lo) & (day < el.n_days)
    ok &= (r >= el.row_lo) & (r <= el.row_hi) & (c >= el.col_lo) & (c <= el.col_hi)
    if pre_only:
        parent_t = np.where(ev.parent >= 0, ev.t[np.maximum(ev.parent, 0)], -np.inf)
        ok &= parent_t < t_grid + day
    out = np.zeros(el.shape)
    np.add.at(out, (day[ok] - el.day_lo, r[ok] - el.row_lo, c[ok] - el.col_lo), 1)
    return out


def test_calibration_on_a_simulated_catalog(smoke) -> None:
    """Many cell-days of the smoke simulation at a low target magnitude (M >= 2: thousands of
    events). The direct offspring of the events before a day are Poisson with mean Lambda given
    the past, so with ``intraday=none`` their total must match within Poisson noise; with
    ``mean`` the same-day cascade is added in expectation and all events are compared. The
    placed M9's own day is left out: the hand-placed mainshock is not part of the process."""
    sim = smoke[0].simulation
    grid = Grid(37.5, 140.5, 0.1, 30, 30, pd.Timestamp("2010-06-01", tz="UTC"), 579)
    el = Eligible.of(grid, 64, 16)
    t_grid = (grid.start - sim.t0) / pd.Timedelta(days=1)
    keep = np.ones(el.shape[0], bool)
    keep[int(np.floor(sim.t_main - t_grid)) - el.day_lo] = False
    lam0, info = oracle_lambda(sim, grid, el, None, 2.0, OracleConfig(intraday="none"))
    pre = _counts(sim, grid, el, info["magnitude_threshold"], pre_only=True)
    n, e = pre[keep].sum(), lam0[keep].sum()
    assert n > 3000 and abs(n - e) < 4 * np.sqrt(e)
    # calibration curve: quintiles of Lambda
    edges = np.quantile(lam0[keep], [0, 0.2, 0.4, 0.6, 0.8, 1.0])
    b = np.clip(np.searchsorted(edges, lam0[keep], side="right") - 1, 0, 4)
    for i in range(5):
        ei, ni = lam0[keep][b == i].sum(), pre[keep][b == i].sum()
        assert abs(ni - ei) < 4 * np.sqrt(ei) + 3
    lam, info = oracle_lambda(sim, grid, el, None, 2.0, OracleConfig(intraday="mean"))
    allc = _counts(sim, grid, el, info["magnitude_threshold"], pre_only=False)
    assert 0.15 < info["share_intraday"] < 0.3
    assert abs(allc[keep].sum() / lam[keep].sum() - 1) < 0.06
    assert abs(allc[keep].sum() / lam0[keep].sum() - 1) > 0.25  # without it: far off
