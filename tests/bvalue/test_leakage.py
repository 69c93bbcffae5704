"""No information from the future: cube values for days <= T ignore every event after day T.

The project's most important invariant. Each check also asserts that the change *does*
alter later days, so the test cannot pass by comparing identical cubes.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from espb.bvalue.config import load_cube_config
from espb.bvalue.cube import build_cube
from espb.catalog.schema import normalize
from espb.catalog.synthetic.config import load_synth_config
from espb.catalog.synthetic.generate import synthesize


@pytest.fixture(scope="module")
def smoke_events() -> pd.DataFrame:
    return synthesize(load_synth_config("smoke")).events


CUT_DAYS = [0, 150, 283, 400]  # 283: 2011-03-10, the day before the synthetic M9


def _cfg(mode: str):
    over = ["dr=0.35", "dt=120", f"mode={mode}"]
    if mode == "classic":
        over.append("threshold=2.0")
    return load_cube_config("smoke", over)


def _cut_ns(cfg, day: int) -> int:
    """First nanosecond after day ``day`` (UTC)."""
    return (cfg.start_ts + pd.Timedelta(days=day + 1)).value


@pytest.mark.parametrize("mode", ["paper", "binned", "classic"])
def test_events_after_day_T_do_not_change_days_up_to_T(
    smoke_events: pd.DataFrame, mode: str
) -> None:
    cfg = _cfg(mode)
    full, _ = build_cube(smoke_events, cfg)
    t_ns = pd.DatetimeIndex(smoke_events["time"]).as_unit("ns").asi8
    rng = np.random.default_rng(3)
    for T in CUT_DAYS:
        cut = _cut_ns(cfg, T)
        past = smoke_events[t_ns < cut]
        # 1) truncated at T
        trunc, _ = build_cube(past, cfg)
        # 2) altered after T: future events moved, re-sized, and many added right after T
        fut = smoke_events[t_ns >= cut].copy()
        fut["mw"] = rng.uniform(2.0, 7.0, len(fut)).round(1)
        fut["latitude"] = fut["latitude"].to_numpy()[rng.permutation(len(fut))]
        extra = past.sample(min(len(past), 500), random_state=1).copy()
        extra["time"] = pd.Timestamp(cut, tz="UTC") + pd.to_timedelta(
            rng.uniform(0, 3 * 86400e9, len(extra))
        )
        extra["event_id"] = "x" + extra["event_id"].astype(str)
        altered, _ = build_cube(normalize(pd.concat([past, fut, extra])), cfg)
        for var in ("b", "n_events", "n_used"):
            for other in (trunc, altered):
                np.testing.assert_array_equal(
                    other[var].values[: T + 1],
                    full[var].values[: T + 1],
                    err_msg=f"{mode}: {var} for days <= {T} changed when events after day {T} changed",
                )
        # the changes are real: they do show from day T + 1 on
        assert not np.array_equal(
            altered["n_events"].values[T + 1 :], full["n_events"].values[T + 1 :]
        )
        assert not np.array_equal(trunc["b"].values[T + 1 :], full["b"].values[T + 1 :])


def test_event_at_last_instant_of_day_counts_that_day_only(smoke_events: pd.DataFrame) -> None:
    """An event one nanosecond before midnight belongs to its day; at midnight, to the next."""
    cfg = load_cube_config("smoke", ["dr=0.2", "dt=5", "end=2010-06-20"])
    base = smoke_events[pd.DatetimeIndex(smoke_events["time"]) < cfg.start_ts]
    row = base.iloc[[-1]].copy()
    row["latitude"], row["longitude"] = 39.05, 142.05  # a cell centre
    day = 10
    midnight = cfg.start_ts + pd.Timedelta(days=day + 1)
    for t, first_day in ((midnight - pd.Timedelta(1, "ns"), day), (midnight, day + 1)):
        r = row.copy()
        r["time"] = t
        r["event_id"] = "probe"
        ds, _ = build_cube(normalize(pd.concat([base, r])), cfg)
        n = ds["n_events"].sel(lat=39.05, lon=142.05).values
        assert n[first_day - 1] == 0 and n[first_day] >= 1, (t, n)


def _mutated_kernels(monkeypatch: pytest.MonkeyPatch, old: str, new: str) -> None:
    """Replace espb.bvalue.kernels.compute_stripe by one compiled from edited source."""
    import types

    import espb.bvalue.kernels as k

    src = open(k.__file__).read()
    assert src.count(old) >= 1, old
    mod = types.ModuleType("espb_bvalue_kernels_mutant")
    mod.__file__ = "<mutant>"
    exec(
        compile(src.replace(old, new).replace("cache=True", "cache=False"), "<mutant>", "exec"),
        mod.__dict__,
    )
    monkeypatch.setattr(k, "compute_stripe", mod.compute_stripe)


@pytest.mark.parametrize(
    ("old", "new"),
    [
        (
            "while hi < n and dd[hi] <= day:",
            "while hi < n and dd[hi] <= day + 1:",
        ),  # reads tomorrow
    ],
)
def test_a_leaky_kernel_is_caught(
    smoke_events: pd.DataFrame, monkeypatch: pytest.MonkeyPatch, old: str, new: str
) -> None:
    """The check above can fail: a kernel that peeks one day ahead breaks it."""
    cfg = _cfg("paper")
    T = 283
    full, _ = build_cube(smoke_events, cfg)
    _mutated_kernels(monkeypatch, old, new)
    leaky_full, _ = build_cube(smoke_events, cfg)
    t_ns = pd.DatetimeIndex(smoke_events["time"]).as_unit("ns").asi8
    leaky_trunc, _ = build_cube(smoke_events[t_ns < _cut_ns(cfg, T)], cfg)
    assert not np.array_equal(
        leaky_trunc["n_events"].values[: T + 1], leaky_full["n_events"].values[: T + 1]
    )
    assert not np.array_equal(leaky_full["b"].values, full["b"].values)
