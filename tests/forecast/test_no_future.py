"""No information from the future: changing the cube on days >= d and adding target events on
days >= d (and validation samples whose labels come later) changes no score, probability, prior
or calibration of any day <= d. Leaky variants of the calibration, of the prior and of the
block cut are caught by the same check."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import xarray as xr

from espb.forecast import api, calibration
from espb.forecast.api import forecast_run
from espb.forecast.calibration import CalibrationConfig

from .helpers import (
    grid,
    inputs,
    make_run,
    random_ae,
    random_cube,
    random_events,
    write_predictions,
)

L, P, L_ME, N_DAYS, N = 32, 16, 10, 150, 20
D = 95  # perturbed from this day on (segment 6 starts on day 92)
VARS = ("score", "probability", "prior", "calibration", "snapshot")
CALS = {
    "prior_shift": CalibrationConfig(),
    "isotonic_dense": CalibrationConfig(method="isotonic", fit_window_days=40, min_events=1),
    "logistic_validation": CalibrationConfig(method="logistic", source="validation", min_events=3),
}


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    run = make_run(tmp_path_factory.mktemp("r") / "run", L, P, L_ME, [2, 3, 5, 6, 8, 10], N_DAYS)
    write_predictions(run, 300, N_DAYS, L)
    b = random_cube(N_DAYS, N, N, seed=1)
    ev = random_events(grid(N_DAYS, N, N), 120, seed=2)
    # the perturbed world: other b values from day D on, more target events from day D on
    b2 = b.copy()
    b2[D:] = random_cube(N_DAYS - D, N, N, seed=3)
    extra = random_events(grid(N_DAYS, N, N), 200, seed=4)
    extra = extra[extra["time"] >= grid(N_DAYS, N, N).start + pd.Timedelta(days=D)]
    ev2 = pd.concat([ev, extra], ignore_index=True)
    return run, (b, ev), (b2, ev2)


def _run(setup, world, cal, cache, ae=None, tag="a"):
    run = setup[0]
    b, ev = world
    return forecast_run(
        run,
        "all",
        calibration=cal,
        cache_dir=cache,
        inputs=inputs(run, b, ev, ae, tag),
        say=lambda s: None,
    )


def _compare(a: xr.Dataset, b: xr.Dataset) -> tuple[bool, bool]:
    """(everything on days <= D bit-identical, something after D differs)."""
    cut = grid(N_DAYS, N, N).date(D)
    before = all(
        np.array_equal(
            a[v].sel(time=slice(None, cut)).values,
            b[v].sel(time=slice(None, cut)).values,
            equal_nan=True,
        )
        for v in VARS
    )
    later = slice(cut + pd.Timedelta(days=1), None)
    after = any(
        not np.array_equal(a[v].sel(time=later).values, b[v].sel(time=later).values, equal_nan=True)
        for v in ("score", "probability")
    )
    return before, after


def _perturbed_predictions(run, seed=9):
    """Validation samples whose labels become known on day D or later: changed."""
    p = run / "predictions.parquet"
    df = pd.read_parquet(p)
    avail = df["target"] + np.where(df["label"] == 0, 7, 0)
    late = avail >= D
    df.loc[late, "score"] = np.random.default_rng(seed).random(int(late.sum()))
    return df


@pytest.mark.parametrize("cal", list(CALS))
@pytest.mark.parametrize("with_ae", [False, True])
def test_no_future(setup, cal, with_ae, tmp_path):
    run, w1, w2 = setup
    ae = random_ae(5) if with_ae else None
    a = _run(setup, w1, CALS[cal], tmp_path / "1", ae, "a")
    orig = pd.read_parquet(run / "predictions.parquet")
    try:
        _perturbed_predictions(run).to_parquet(run / "predictions.parquet", index=False)
        b = _run(setup, w2, CALS[cal], tmp_path / "2", ae, "b")
    finally:
        orig.to_parquet(run / "predictions.parquet", index=False)
    before, after = _compare(a, b)
    assert after, "the perturbation must change something after day D (else the test is vacuous)"
    assert before, "a forecast, prior or calibration of a day <= D changed"
    assert (a["snapshot"].values >= 0).sum() > 0 and np.isfinite(a["probability"].values).any()


def _leaky_fit_days(lo, first, window):
    return first, 10**9  # fits on every scored day, the future too


def _leaky_prior_days(lo, window):
    return 0, 10**9


def _leaky_dense(orig):
    def f(nets, assign, d0, b, *args, **kw):  # the block of day t ends on day t (off by one)
        lg, t = orig(nets, assign[:-1], d0 + 1, b, *args, **kw)
        return np.concatenate([lg, np.full_like(lg[:1], np.nan)]), t

    return f


@pytest.mark.parametrize(
    "leak,cal",
    [
        ("fit_days", "isotonic_dense"),
        ("prior_days", "prior_shift"),
        ("dense", "prior_shift"),
    ],
)
def test_the_check_catches_leaks(setup, leak, cal, tmp_path, monkeypatch):
    _, w1, w2 = setup
    if leak == "fit_days":
        monkeypatch.setattr(calibration, "fit_days", _leaky_fit_days)
    elif leak == "prior_days":
        monkeypatch.setattr(calibration, "prior_days", _leaky_prior_days)
    else:
        monkeypatch.setattr(api, "dense_logits", _leaky_dense(api.dense_logits))
    a = _run(setup, w1, CALS[cal], tmp_path / "1", None, "a")
    b = _run(setup, w2, CALS[cal], tmp_path / "2", None, "b")
    before, _ = _compare(a, b)
    assert not before, f"the leaky {leak} must change a day <= D"
