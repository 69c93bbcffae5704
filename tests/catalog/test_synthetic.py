"""The embedded synthetic catalog, checked with an independent estimator (seismostats)."""

from __future__ import annotations

import time
import warnings

import numpy as np
import pandas as pd
import pytest
from seismostats.analysis import BPositiveBValueEstimator, ClassicBValueEstimator

from espb.catalog.magnitudes import PAPER_FAMILY_RELATION, MagnitudeConfig, convert, families
from espb.catalog.schema import catalog_hash
from espb.catalog.stats import fit_omori
from espb.catalog.synthetic.config import load_synth_config
from espb.catalog.synthetic.fields import distance_km
from espb.catalog.synthetic.generate import SynthResult, synthesize
from espb.errors import ConfigError

TOHOKU = pd.Timestamp("2011-03-11T05:46:24Z")


def b_classic(m: np.ndarray, mc: float = 2.0) -> float:
    est = ClassicBValueEstimator()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        est.calculate(np.asarray(m, dtype=float), mc=mc, delta_m=0.1)
    return float(est.b_value)


def b_positive(m: np.ndarray, t: np.ndarray) -> float:
    est = BPositiveBValueEstimator()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        est.calculate(np.asarray(m, dtype=float), mc=2.0, delta_m=0.1, dmc=0.1, times=np.asarray(t))
    return float(est.b_value)


@pytest.fixture(scope="module")
def demo() -> dict[str, SynthResult]:
    return {
        mode: synthesize(load_synth_config("demo", [f"precursors.mode={mode}"]))
        for mode in ("planted", "null")
    }


def joined(res: SynthResult) -> pd.DataFrame:
    return res.events.merge(
        res.truth, on="event_id", suffixes=("", "_truth"), validate="one_to_one"
    )


def test_deterministic_in_the_seed() -> None:
    a = synthesize(load_synth_config("smoke"))
    b = synthesize(load_synth_config("smoke"))
    c = synthesize(load_synth_config("smoke", ["seed=1"]))
    assert catalog_hash(a.events) == catalog_hash(b.events)
    pd.testing.assert_frame_equal(a.plants, b.plants)
    assert catalog_hash(a.events) != catalog_hash(c.events)


def test_b_value_away_from_plants_matches_the_field(demo) -> None:
    ev = joined(demo["planted"])
    # complete (not in short-term incompleteness), outside every precursor window
    sel = (ev["mc"] <= 1.95 + 1e-9) & ~ev["in_window"]
    checked = 0
    for la in (37, 39, 41):
        for lo in (139, 141, 143):
            box = sel & ev["latitude"].between(la, la + 2) & ev["longitude"].between(lo, lo + 2)
            if box.sum() < 3000:
                continue
            b_est = b_classic(ev.loc[box, "mw"])
            b_conf = 1 / np.mean(1 / ev.loc[box, "b_true"])  # MLE of a GR mixture -> harmonic mean
            assert abs(b_est - b_conf) <= 0.05, (la, lo, b_est, b_conf)
            checked += 1
    assert checked >= 6
    # b-positive needs no completeness cut: all events outside windows, in time order
    out = ev[~ev["in_window"]]
    b_pos = b_positive(out["mw"], out["time"].astype("int64"))
    assert abs(b_pos - 1 / np.mean(1 / out["b_true"])) <= 0.05


def test_b_value_inside_windows_is_lower_and_null_has_no_drop(demo) -> None:
    drops = {}
    for mode, res in demo.items():
        ev = joined(res)
        sel = (ev["mc"] <= 1.95 + 1e-9) & (ev["mw"] < 4.95)
        b_in = b_classic(ev.loc[sel & ev["in_window"], "mw"])
        b_out = b_classic(ev.loc[sel & ~ev["in_window"], "mw"])
        drops[mode] = b_out - b_in
    assert drops["planted"] >= 0.2, drops
    assert abs(drops["null"]) < 0.05, drops


def test_planted_and_null_share_the_seismicity(demo) -> None:
    p, n = demo["planted"], demo["null"]
    cols = ["target_id", "time", "latitude", "longitude", "mw", "window_start"]
    # the same targets and windows (ids differ: recorded sets differ inside windows)
    pd.testing.assert_frame_equal(p.plants[cols[1:]], n.plants[cols[1:]])
    assert p.plants["applied"].all() and not n.plants["applied"].any()
    key = ["time", "latitude", "longitude", "mw"]
    out_p = joined(p).loc[lambda d: ~d["in_window"], key].reset_index(drop=True)
    out_n = joined(n).loc[lambda d: ~d["in_window"], key].reset_index(drop=True)
    pd.testing.assert_frame_equal(out_p, out_n)
    # planting never touches Mw >= 5 (the quantile map stops at 4.95): both catalogs have the same
    # large events, so later stages get identical EQ labels from the planted and the control catalog
    big_p = p.events.loc[p.events["mw"] >= 4.95, key].reset_index(drop=True)
    big_n = n.events.loc[n.events["mw"] >= 4.95, key].reset_index(drop=True)
    assert len(big_p) > 100
    pd.testing.assert_frame_equal(big_p, big_n)


@pytest.mark.parametrize("mode", ["planted", "null"])
def test_m9_sequence_decays_with_omori_p(demo, mode) -> None:
    ev = demo[mode].events
    big = ev[ev["mw"] >= 8.5]
    assert len(big) == 1 and abs(big["time"].iloc[0] - TOHOKU) < pd.Timedelta(seconds=1)
    assert big["mw"].iloc[0] == 9.0
    d = distance_km(38.3, 142.37, ev["latitude"].to_numpy(), ev["longitude"].to_numpy())
    ta = ((ev["time"] - TOHOKU).dt.total_seconds() / 86400).to_numpy()
    near = (d < 300) & (ev["mw"].to_numpy() >= 3.5)
    pre = near & (ta < -30) & (ta > -6 * 365)
    mu = pre.sum() / (6 * 365 - 30)
    fit = fit_omori(ta[near], 10.0, 3 * 365.0, mu=mu)
    assert fit.n > 5000
    assert 0.9 <= fit.p <= 1.3, fit


def test_completeness_degrades_after_large_events(demo) -> None:
    ev = demo["planted"].events
    lat, lon, mw = (ev[c].to_numpy() for c in ("latitude", "longitude", "mw"))
    t = ((ev["time"] - TOHOKU).dt.total_seconds() / 86400).to_numpy()
    d = distance_km(38.3, 142.37, lat, lon)
    near = d < 200
    # after the M9, Mc(t) = 8 - 4.5 - 0.75 log10(t / 1 day) (saturated at M8)
    assert mw[near & (t > 0) & (t < 1 / 24)].min() >= 4.5  # first hour
    assert mw[near & (t > 0) & (t < 1)].min() >= 3.5  # first day
    assert mw[near & (t > 365) & (t < 395)].min() == 2.0  # complete to the base a year later
    # M6-7 events: small aftershocks are missing for hours after them
    small_after, n_after = 0, 0
    for i in np.flatnonzero((mw >= 6.0) & (mw < 8.0)):
        sel = (t > t[i]) & (t < t[i] + 1 / 24) & (distance_km(lat[i], lon[i], lat, lon) < 20)
        n_after += int(sel.sum())
        small_after += int((sel & (mw < 2.5)).sum())
    overall = (mw < 2.5).mean()
    assert n_after >= 20
    assert small_after / n_after < 0.25 * overall, (small_after, n_after, overall)


def test_magnitudes_binned_depths_and_reported_types(demo) -> None:
    res = demo["planted"]
    ev = res.events
    k = ev["mw"].to_numpy() * 10
    assert np.allclose(k, np.round(k), atol=1e-9)
    assert ev["mw"].min() == 2.0
    raw = res.raw
    deep = (raw.events["depth"] > 70).mean()
    assert 0.01 < deep < 0.15  # mostly above 70 km, some deeper
    assert ev["depth"].max() <= 70.0
    assert (
        res.report.reasons.get("too_deep", 0) > 0
        and res.report.reasons.get("outside_region", 0) > 0
    )
    assert set(families(ev["mag_type"].astype(str).to_numpy())) == {
        "Mw",
        "Ms",
        "mb",
        "MV",
        "ML",
        "MJMA",
    }
    # every reported magnitude converts back to the event's Mw within the printed precision
    m = raw.mags
    japan = MagnitudeConfig(family_relation=dict(PAPER_FAMILY_RELATION))  # ML on the MJMA scale
    conv = convert(m["mag"].to_numpy(), families(m["mag_type"].to_numpy()), japan)
    truth_mw = res.truth["mw"].to_numpy()[m["row"].to_numpy()]
    assert np.abs(conv.mw - truth_mw).max() <= 5e-4 + 1e-9
    # several reports per event exercise the priority: events >= Mw 5 mostly carry native Mw
    assert (ev.loc[ev["mw"] >= 6, "mag_type"] == "Mw").mean() > 0.9


def test_plants_file_describes_windows(demo) -> None:
    pl = demo["planted"].plants
    assert len(pl) > 100
    assert ((pl["window_end"] - pl["window_start"]) == pd.Timedelta(days=180)).all()
    assert (pl["mw"] >= 5.0).all() and (pl["n_events"] >= 0).all()
    cand = (demo["planted"].truth["mw"] >= 5.0).sum()
    assert len(pl) <= cand  # a fraction (70%) of the Mw >= 5 events
    assert set(pl.columns) >= {
        "target_id",
        "time",
        "latitude",
        "longitude",
        "window_start",
        "window_end",
        "radius_km",
        "b_plant",
        "applied",
    }


def test_config_errors_name_the_key() -> None:
    with pytest.raises(ConfigError, match="precursors.mode"):
        load_synth_config("smoke", ["precursors.mode=sometimes"])
    with pytest.raises(ConfigError, match="etas.alpha"):
        load_synth_config("smoke", ["etas.alpha=1.5"])
    with pytest.raises(ConfigError, match="not_a_key"):
        load_synth_config("smoke", ["etas.not_a_key=1"])
    with pytest.raises(ConfigError, match="preset 'nope' not found"):
        load_synth_config("nope")
    assert load_synth_config("smoke", ["precursors.mode=null"]).precursors.mode == "null"


@pytest.mark.slow
def test_paper_scale_size_and_time() -> None:
    t0 = time.perf_counter()
    res = synthesize(load_synth_config("paper"))
    seconds = time.perf_counter() - t0
    n_dev = int((res.events["time"] < pd.Timestamp("2020-01-01", tz="UTC")).sum())
    print(f"paper preset: {len(res.events):,} events ({n_dev:,} in 1999-2019) in {seconds:.1f} s")
    assert 1.25e6 <= n_dev <= 1.55e6
    assert seconds <= 120
