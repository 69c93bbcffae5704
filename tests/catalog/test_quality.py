"""Magnitudes and catalog quality: extrapolation counted, ML default, the paper preset unchanged,
placeholders, completeness, Mc (seismostats), duplicate ids, empty results, absurd settings."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from espb.catalog.build import (
    FilterConfig,
    IngestConfig,
    RawCatalog,
    build_events,
    load_ingest_config,
)
from espb.catalog.magnitudes import MagnitudeConfig
from espb.catalog.quality import MC_METHOD, estimate_mc, find_placeholders
from espb.catalog.readers import ingest
from espb.catalog.schema import catalog_hash
from espb.errors import CatalogError, ConfigError
from tests.catalog.test_bad_input import COMCAT_HEADER, comcat_row, write

NO_FILTERS = FilterConfig(region=None, max_depth_km=None)
SED_MAPPING = {
    "time": "time",
    "latitude": "latitude",
    "longitude": "longitude",
    "depth": "depth",
    "mag": "magnitude",
    "mag_type": "magnitude_type",
    "event_type": "event_type",
}


def raw_of(mags: list[tuple[float, str]], **cols) -> RawCatalog:
    n = len(mags)
    ev = pd.DataFrame(
        {
            "event_id": cols.pop("event_id", [f"e{i}" for i in range(n)]),
            "time": pd.date_range("2005-01-01", periods=n, freq="h", tz="UTC"),
            "latitude": 38.0,
            "longitude": 142.0,
            "depth": 10.0,
            "line": np.arange(n) + 2,
            "event_type": "ke",
            **cols,
        }
    )
    m = pd.DataFrame(
        {
            "row": np.arange(n),
            "mag": [x for x, _ in mags],
            "mag_type": [t for _, t in mags],
            "author": "",
        }
    )
    return RawCatalog("test", None, ev, m)


def gr_sample(n: int, mc: float = 2.0, b: float = 1.0, seed: int = 0) -> np.ndarray:
    """Gutenberg-Richter magnitudes binned at 0.1, incomplete below ``mc`` (tapered)."""
    rng = np.random.default_rng(seed)
    m = mc - 1.0 + rng.exponential(1 / (b * math.log(10)), n)
    keep = rng.random(n) < np.clip((m - (mc - 1.0)) / 1.0, 0, 1) ** 2
    return np.round(np.round(m[keep] / 0.1) * 0.1, 10)


# --- extrapolation and the ML default ----------------------------------------------------


def test_extrapolation_outside_a_relation_is_counted_per_type() -> None:
    raw = raw_of([(1.0, "MJMA"), (2.6, "MJMA"), (4.0, "MJMA"), (2.0, "Ms"), (9.0, "MJMA")])
    paper = load_ingest_config("paper", ["filters.region=null", "filters.max_depth_km=null"])
    ev, rep = build_events(raw, paper)
    assert len(ev) == 5  # the paper extrapolates ...
    ex = rep.flags["extrapolated"]  # ... and now says so
    assert ex["MJMA below its range (down to -2.00 beyond it)"] == 2
    assert ex["MJMA above its range (up to +0.80 beyond it)"] == 1
    assert ex["MJMA of those, more than 1 unit outside"] == 1
    assert ex["Ms below its range (down to -1.00 beyond it)"] == 1
    assert any("extrapolated" in line for line in rep.lines())
    paper.magnitudes.max_extrapolation = 1.0
    ev, rep = build_events(raw, paper)
    assert len(ev) == 4 and rep.reasons == {"magnitude_out_of_range": 1}
    with pytest.raises(ConfigError, match="max_extrapolation"):
        MagnitudeConfig(max_extrapolation=float("nan")).validate()


def test_ml_is_taken_as_mw_by_default_and_the_report_says_so() -> None:
    raw = raw_of([(1.5, "ML"), (3.0, "MLhc"), (4.0, "MJMA")])
    ev, rep = build_events(raw, IngestConfig(filters=NO_FILTERS))
    assert list(ev["mw"][:2]) == [1.5, 3.0]  # not 0.58 ML + 2.25
    assert rep.flags["relation"]["ML via identity"] == 2
    assert any("ML taken as Mw" in n and "--ml-relation" in n for n in rep.notes)
    japan = load_ingest_config("paper", ["filters.region=null", "filters.max_depth_km=null"])
    ev, rep = build_events(raw, japan)
    assert list(ev["mw"][:2]) == pytest.approx([0.58 * 1.5 + 2.25, 0.58 * 3.0 + 2.25])
    assert any("MJMA relation" in n for n in rep.notes)


def test_the_paper_preset_gives_the_same_event_tables_as_before(
    real_comcat: Path, seismostats_dir: Path, tmp_path: Path
) -> None:
    """Content hashes and counts computed with the code before this change (commit 26af7c6)."""
    from espb.catalog.synthetic.config import load_synth_config
    from espb.catalog.synthetic.generate import synthesize
    from espb.catalog.writers import write_isc

    ev, _, _ = ingest(real_comcat, "comcat", load_ingest_config("paper"))
    assert (len(ev), catalog_hash(ev)) == (7608, "0bf4d56f876281a0")
    res = synthesize(load_synth_config("smoke", ["seed=3"]))
    assert (len(res.events), catalog_hash(res.events)) == (6912, "f80f3b524862b616")
    isc = write_isc(res.raw, tmp_path / "smoke_isc.csv")
    for preset, over, want in (
        ("paper", [], (10140, "9386053fc40944e3")),
        (
            "paper",
            ["filters.region=null", "filters.max_depth_km=null"],
            (10369, "a8e1677c2a77365c"),
        ),
        ("scordilis2006", [], (10140, "8fe3ef991ae93f2a")),
    ):
        ev, _, _ = ingest(isc, "isc", load_ingest_config(preset, over))
        assert (len(ev), catalog_hash(ev)) == want, (preset, over)
    sed = seismostats_dir / "analysis/tests/data/catalog_sed.csv"
    ev, _, _ = ingest(
        sed,
        "csv",
        load_ingest_config("paper", ["filters.region=null"]),
        mapping=SED_MAPPING,
        depth_unit="m",
    )
    assert (len(ev), catalog_hash(ev)) == (1522, "cd248965c54c678d")


# --- placeholders ---------------------------------------------------------------------------


def test_placeholder_spike_is_found_and_can_be_dropped() -> None:
    m = gr_sample(20_000)
    mags = [(float(x), "ML") for x in m] + [(0.0, "ML")] * 3000
    found = find_placeholders(np.array([x for x, _ in mags]), np.array(["ML"] * len(mags)))
    assert [(s.mag_type, s.value, s.count) for s in found] == [("ML", 0.0, 3000)]
    assert found[0].ratio > 50
    raw = raw_of(mags)
    ev, rep = build_events(raw, IngestConfig(filters=NO_FILTERS))
    assert len(ev) == len(mags) and any("placeholder" in n for n in rep.notes)
    ev, rep = build_events(
        raw,
        IngestConfig(filters=FilterConfig(region=None, max_depth_km=None, drop_placeholders=True)),
    )
    assert len(ev) == len(m) and rep.reasons == {"placeholder_magnitude": 3000}
    ev, rep = build_events(
        raw, IngestConfig(filters=FilterConfig(region=None, max_depth_km=None, drop_mags=[0.0]))
    )
    assert rep.details["placeholder_magnitude"] == {"--drop-mag 0": 3000}


def test_no_false_placeholders_in_real_catalogs(real_comcat: Path, seismostats_dir: Path) -> None:
    from espb.catalog.info import summarize

    ev, _, _ = ingest(real_comcat, "comcat", IngestConfig(filters=NO_FILTERS))
    assert find_placeholders(ev["mag"].to_numpy(), ev["mag_type"].astype(str).to_numpy()) == []
    sed = seismostats_dir / "analysis/tests/data/catalog_sed.csv"
    ev, _, _ = ingest(
        sed, "csv", IngestConfig(filters=NO_FILTERS), mapping=SED_MAPPING, depth_unit="m"
    )
    assert summarize(ev)["placeholders"] == []
    coarse = np.repeat([3.0, 3.5, 4.0, 4.5, 5.0], [800, 500, 300, 150, 80])  # a 0.5-step catalog
    assert find_placeholders(coarse, np.array(["MJMA"] * coarse.size)) == []


# --- completeness and Mc --------------------------------------------------------------------


def test_minimum_magnitude_and_per_event_mc_are_counted(tmp_path: Path) -> None:
    raw = raw_of([(1.0, "ML"), (2.0, "ML"), (3.0, "ML")])
    ev, rep = build_events(
        raw, IngestConfig(filters=FilterConfig(region=None, max_depth_km=None, min_mw=2.0))
    )
    assert list(ev["mw"]) == [2.0, 3.0] and rep.reasons == {"below_min_mw": 1}
    p = write(
        tmp_path,
        "mc.csv",
        "t,la,lo,m,mc\n2020-01-01,47,8,1.0,1.5\n2020-01-02,47,8,1.5,1.5\n2020-01-03,47,8,0.9,\n",
    )
    mapping = {"time": "t", "latitude": "la", "longitude": "lo", "mag": "m", "mc": "mc"}
    ev, rep, _ = ingest(p, "csv", IngestConfig(filters=NO_FILTERS), mapping=mapping, mag_type="ML")
    assert sorted(ev["mag"]) == [0.9, 1.5] and rep.reasons == {"below_event_mc": 1}
    assert any("no per-event Mc" in n for n in rep.notes)
    off = IngestConfig(filters=FilterConfig(region=None, max_depth_km=None, per_event_mc=False))
    ev, _, _ = ingest(p, "csv", off, mapping=mapping, mag_type="ML")
    assert len(ev) == 3


def test_mc_by_b_stability_from_seismostats() -> None:
    from seismostats.analysis import estimate_mc_b_stability

    m = gr_sample(40_000, mc=2.0)
    est = estimate_mc(m + 1e-4)  # off the grid: binned first
    assert est.mc == pytest.approx(2.0, abs=0.15) and est.b == pytest.approx(1.0, abs=0.1)
    assert "seismostats" in est.method and est.method == MC_METHOD
    want, _ = estimate_mc_b_stability(m, delta_m=0.1)  # the library, called directly
    assert est.mc == pytest.approx(want)
    assert estimate_mc(m[:10]).mc is None and "too few" in estimate_mc(m[:10]).problem


# --- duplicate event ids --------------------------------------------------------------------


def _dup_file(tmp_path: Path) -> Path:
    upd = ",,,,,us,{eid},{upd},,earthquake"
    rows = [
        comcat_row(eid="a"),
        comcat_row(eid="a"),  # identical copy
        "2020-01-02T00:00:00.000Z,35,140,10,4.5,mb"
        + upd.format(eid="b", upd="2020-01-05T00:00:00Z"),
        "2020-01-02T00:00:00.000Z,35,140,12,4.7,mb"
        + upd.format(eid="b", upd="2020-03-01T00:00:00Z"),
        "2020-01-02T00:00:00.000Z,35,140,11,4.6,mb"
        + upd.format(eid="b", upd="2020-02-01T00:00:00Z"),
        comcat_row(t="2020-01-03T00:00:00.000Z", eid="c"),
    ]
    return write(tmp_path, "dup.csv", "\n".join([COMCAT_HEADER, *rows]) + "\n")


@pytest.mark.parametrize(("policy", "mag_b"), [("newest", 4.7), ("first", 4.5), ("last", 4.6)])
def test_duplicate_ids_are_reported_and_one_version_kept(
    tmp_path: Path, policy: str, mag_b: float
) -> None:
    cfg = IngestConfig(filters=FilterConfig(region=None, max_depth_km=None, duplicate_ids=policy))
    ev, rep, _ = ingest(_dup_file(tmp_path), "comcat", cfg)
    assert sorted(ev["event_id"]) == ["a", "b", "c"]
    assert ev.set_index("event_id").loc["b", "mag"] == mag_b
    assert rep.reasons == {"duplicate_id": 1, "superseded": 2}
    (example,) = [k for k in rep.details["superseded"] if k.startswith("b:")]
    assert "3 versions" in example and "depth" in example and "magnitudes" in example


def test_duplicate_ids_error_and_keep(tmp_path: Path) -> None:
    p = _dup_file(tmp_path)
    err = IngestConfig(filters=FilterConfig(region=None, max_depth_km=None, duplicate_ids="error"))
    with pytest.raises(CatalogError, match="1 event ids appear more than once.*b: 3 versions"):
        ingest(p, "comcat", err)
    keep = IngestConfig(filters=FilterConfig(region=None, max_depth_km=None, duplicate_ids="keep"))
    ev, rep, _ = ingest(p, "comcat", keep)
    assert len(ev) == 5 and rep.flags["duplicate_id_kept"] == {"ids with differing versions": 1}


# --- empty results are errors with the right fix ------------------------------------------


def test_an_ingest_that_keeps_nothing_says_why_and_what_to_set(seismostats_dir: Path) -> None:
    sed = seismostats_dir / "analysis/tests/data/catalog_sed.csv"
    with pytest.raises(CatalogError) as ei:
        ingest(sed, "csv", IngestConfig(), mapping=SED_MAPPING, depth_unit="m")
    msg = str(ei.value)
    assert "no event kept" in msg and "region 35,46,135,146 (the default, Japan) removed" in msg
    lat = pd.read_csv(sed)["latitude"]
    assert f"--region {math.floor(lat.min())}," in msg and "--region none" in msg
    cfg = IngestConfig(filters=FilterConfig(region=None, start="2030-01-01"))
    with pytest.raises(CatalogError) as ei:
        ingest(sed, "csv", cfg, mapping=SED_MAPPING, depth_unit="m")
    msg = str(ei.value)
    assert "time range 2030-01-01 to ... removed 1,522 of 1,924" in msg
    assert "2023-01-01 .. 2023-12-31: set --start/--end" in msg
    assert "natural_event_types" not in msg.split("Fix:")[1]  # dropping explosions was right
    ev, _, _ = ingest(
        sed, "csv", IngestConfig(), allow_empty=True, mapping=SED_MAPPING, depth_unit="m"
    )
    assert len(ev) == 0


# --- absurd settings ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("make", "key"),
    [
        (lambda: FilterConfig(max_depth_km=float("nan")), "max_depth_km"),
        (lambda: FilterConfig(max_depth_km=float("inf")), "max_depth_km"),
        (lambda: FilterConfig(min_mw=float("nan")), "min_mw"),
        (lambda: FilterConfig(region=[35, float("nan"), 135, 146]), "region"),
        (lambda: FilterConfig(drop_mags=[float("inf")]), "drop_mags"),
        (lambda: FilterConfig(duplicate_ids="most"), "duplicate_ids"),
        (lambda: MagnitudeConfig(mw_round=float("inf")), "mw_round"),
        (lambda: MagnitudeConfig(mw_round=1e-300), "mw_round"),
        (lambda: IngestConfig(mag_bounds=[5.0, 5.0]), "mag_bounds"),
        (lambda: IngestConfig(depth_bounds=[0.0, float("nan")]), "depth_bounds"),
    ],
)
def test_non_finite_and_absurd_settings_are_errors(make, key: str) -> None:
    with pytest.raises(ConfigError, match=key):
        make().validate()
