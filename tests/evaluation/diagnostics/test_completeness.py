"""Figure B.3: Mc from seismostats on a synthetic Gutenberg-Richter catalog with a known Mc,
the documented seismostats example, and the year / box / period grouping on a hand-made
catalog (events after the development end never change the development rows; a leaky
grouping is caught)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from espb.evaluation.diagnostics import completeness as C

pytest.importorskip("seismostats")


def gr_catalog(n: int, mc: float, b: float = 1.0, seed: int = 0) -> np.ndarray:
    """Complete above ``mc`` (exponential, b-value ``b``); below it an incomplete part whose
    counts fall by half per 0.1 magnitude unit (a detection threshold at ``mc``)."""
    rng = np.random.default_rng(seed)
    above = mc - 0.05 + rng.exponential(1 / (b * np.log(10)), n)
    below = []
    n_at_mc = np.sum(np.round(above, 1) == mc)
    for k in range(1, 8):
        below += [mc - 0.1 * k] * int(n_at_mc * 0.5**k)
    return np.round(np.r_[above, below], 1)


@pytest.mark.parametrize("mc", [1.5, 2.0, 3.1])
def test_mc_of_a_synthetic_gr_catalog(mc):
    m = gr_catalog(5_000, mc)
    assert C.estimate_mc(m, "mbs") == pytest.approx(mc, abs=0.1 + 1e-9)
    # maximum curvature: the mode of the FMD (mc) plus the +0.2 correction
    assert C.estimate_mc(m, "maxc") == pytest.approx(mc + 0.2, abs=1e-9)


def test_mc_ks_of_a_synthetic_gr_catalog():
    assert C.estimate_mc(gr_catalog(1_000, 2.0), "ks") == pytest.approx(2.0, abs=0.1 + 1e-9)


def test_maxc_on_the_seismostats_documented_example():
    # docs/source/user/estimate_mc.md of SeismoStats: these 36 magnitudes give mc 1.4
    m = [2.3, 1.2, 1.5, 1.2, 1.7, 1.1, 1.2, 1.5, 1.8, 1.6, 1.2, 1.5, 1.2, 1.7, 1.6, 1.1, 1.1, 1.2,
         2.0, 1.1, 1.2, 1.1, 1.2, 1.6, 1.9, 1.3, 1.7, 1.3, 1.0, 1.2, 1.7, 1.3, 1.3, 1.1, 1.5, 1.4]  # fmt: skip
    assert C.estimate_mc(np.array(m), "maxc") == pytest.approx(1.4)


def test_unknown_method_is_refused():
    from espb.errors import EspbError

    with pytest.raises(EspbError, match="use one of"):
        C.estimate_mc(np.ones(10), "godano")


def _events(n_per: int = 200, seed: int = 1) -> pd.DataFrame:
    """Boxes of a [0, 3] x [10, 13] region: box k holds GR events with mc 1.0 + 0.1 k, all in
    2001 (development) and again in 2003 (test)."""
    rng = np.random.default_rng(seed)
    rows = []
    for year in (2001, 2003):
        for k in range(9):
            m = gr_catalog(n_per, round(1.0 + 0.1 * k, 1), seed=seed + k + year)
            i, j = divmod(k, 3)
            lat = i + rng.uniform(0.05, 0.95, len(m))
            lon = 10 + j + rng.uniform(0.05, 0.95, len(m))
            t = pd.Timestamp(f"{year}-03-01", tz="UTC") + pd.to_timedelta(
                rng.uniform(0, 200, len(m)), unit="D"
            )
            rows.append(pd.DataFrame({"time": t, "latitude": lat, "longitude": lon, "mw": m}))
    return pd.concat(rows, ignore_index=True)


REGION = [0.0, 3.0, 10.0, 13.0]
ARGS = (pd.Timestamp("2001-01-01"), pd.Timestamp("2002-06-30"), pd.Timestamp("2003-12-31"))


def test_completeness_table_groups_by_year_box_and_period():
    ev = _events()
    t = C.completeness_table(ev, REGION, *ARGS, method="maxc")
    box = t[t["kind"] == "box"].set_index(["period", "key"])
    year = t[t["kind"] == "year"].set_index(["period", "key"])
    assert set(year.index) == {("dev", 2001), ("test", 2003)}
    dev = ev[ev["time"].dt.year == 2001]
    b = (dev["latitude"] // 1) * 3 + (dev["longitude"] - 10) // 1
    for k in range(9):
        assert box.loc[("dev", k), "n"] == int((b == k).sum())
        # each box's mc: the estimate on exactly that box's events, close to its planted mc
        mc = box.loc[("dev", k), "mc"]
        assert mc == C.estimate_mc(dev["mw"].to_numpy()[(b == k).to_numpy()], "maxc")
        assert mc == pytest.approx(1.0 + 0.1 * k + 0.2, abs=0.1 + 1e-6)
    assert year.loc[("dev", 2001), "n"] + year.loc[("test", 2003), "n"] == len(ev)
    assert (t["method"] == "maxc").all()


def test_outside_the_region_or_too_few_events():
    ev = _events(n_per=30)
    ev.loc[0, "latitude"] = 5.0  # outside
    t = C.completeness_table(ev, REGION, *ARGS, method="maxc", min_events=100)
    assert t.loc[t["kind"] == "box", "mc"].isna().all()  # 30-ish events per box, 100 needed
    assert t.loc[t["kind"] == "year", "mc"].notna().all()  # 9 boxes' worth per year
    assert t[(t["kind"] == "year")]["n"].sum() == len(ev) - 1


def _dev_rows(ev, fn=C.completeness_table):
    t = fn(ev, REGION, *ARGS, method="maxc")
    return t[t["period"] == "dev"].reset_index(drop=True)


def test_events_after_the_development_end_do_not_change_the_development_rows():
    ev = _events()
    more = ev[ev["time"].dt.year == 2003].copy()
    more["time"] = pd.Timestamp("2002-07-01", tz="UTC")  # the day after the development end
    more["mw"] = 0.5
    assert _dev_rows(ev).equals(_dev_rows(pd.concat([ev, more], ignore_index=True)))


def test_the_check_catches_a_leaky_period_split():
    def leaky(events, region, start, dev_end, end, **kw):  # dev_end ignored: the whole catalog
        return C.completeness_table(events, region, start, end, end, **kw)

    ev = _events()
    more = ev[ev["time"].dt.year == 2003].copy()
    more["time"] = pd.Timestamp("2002-07-01", tz="UTC")
    more["mw"] = 0.5
    assert not _dev_rows(ev, leaky).equals(
        _dev_rows(pd.concat([ev, more], ignore_index=True), leaky)
    )
