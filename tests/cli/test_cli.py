"""The ``espb`` console script, end to end on the smoke synthetic catalog."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from espb.catalog.schema import catalog_hash, load_events, load_metadata
from espb.cli.main import app

runner = CliRunner()


@pytest.fixture(scope="module")
def smoke(tmp_path_factory) -> Path:
    d = tmp_path_factory.mktemp("smoke")
    r = runner.invoke(
        app,
        [
            "catalog",
            "synth",
            "--preset",
            "smoke",
            "--seed",
            "3",
            "-o",
            str(d / "cat.parquet"),
            "--isc",
            str(d / "cat_isc.csv"),
            "--comcat",
            str(d / "cat_comcat.csv"),
        ],
    )
    assert r.exit_code == 0, r.output
    return d


def test_synth_writes_table_sidecars_and_exports(smoke: Path) -> None:
    for name in (
        "cat.parquet",
        "cat.plants.parquet",
        "cat.truth.parquet",
        "cat_isc.csv",
        "cat_comcat.csv",
    ):
        assert (smoke / name).stat().st_size > 0, name
    meta = load_metadata(smoke / "cat.parquet")
    assert meta["source"] == {"format": "synthetic", "preset": "smoke", "seed": 3}
    assert meta["drop_report"]["n_kept"] == len(load_events(smoke / "cat.parquet"))


@pytest.mark.parametrize(
    ("fname", "fmt"),
    [("cat_isc.csv", "isc"), ("cat_comcat.csv", "comcat"), ("cat_isc.csv", "auto")],
)
def test_ingest_of_the_export_gives_back_the_synthetic_table(
    smoke: Path, fname: str, fmt: str
) -> None:
    out = smoke / f"back_{fmt}_{fname}.parquet"
    r = runner.invoke(
        app,
        [
            "catalog",
            "ingest",
            str(smoke / fname),
            "--format",
            fmt,
            "--mw-round",
            "0.1",
            "--region",
            "37.5,40.5,140.5,143.5",
            "-o",
            str(out),
        ],
    )
    assert r.exit_code == 0, r.output
    assert "kept" in r.output
    a, b = load_events(smoke / "cat.parquet"), load_events(out)
    assert catalog_hash(a) == catalog_hash(b)
    assert (a["mag_type"].astype(str).to_numpy() == b["mag_type"].astype(str).to_numpy()).all()


def test_info_text_json_and_plot(smoke: Path) -> None:
    png = smoke / "overview.png"
    r = runner.invoke(app, ["catalog", "info", str(smoke / "cat.parquet"), "--plot", str(png)])
    assert r.exit_code == 0, r.output
    for word in (
        "events",
        "Mc (max. curv.)",
        "magnitude types",
        "Mw histogram",
        "drop report",
        "MJMA",
    ):
        assert word in r.output
    assert png.stat().st_size > 10_000
    r = runner.invoke(app, ["catalog", "info", str(smoke / "cat.parquet"), "--json"])
    s = json.loads(r.output)
    assert s["n_events"] == len(load_events(smoke / "cat.parquet"))
    assert s["mc_maxc"] == pytest.approx(2.0)


def test_export_then_ingest(smoke: Path) -> None:
    out = smoke / "exported.csv"
    r = runner.invoke(
        app, ["catalog", "export", str(smoke / "cat.parquet"), "--format", "comcat", "-o", str(out)]
    )
    assert r.exit_code == 0, r.output
    back = smoke / "exported.parquet"
    r = runner.invoke(
        app,
        [
            "catalog",
            "ingest",
            str(out),
            "--format",
            "comcat",
            "--mw-round",
            "0.1",
            "--region",
            "none",
            "-o",
            str(back),
        ],
    )
    assert r.exit_code == 0, r.output
    assert catalog_hash(load_events(back)) == catalog_hash(load_events(smoke / "cat.parquet"))


def test_user_errors_exit_2_with_one_clear_message(tmp_path: Path) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text(
        "time,latitude,longitude,depth,mag,magType\n2005-01-01T00:00:00Z,95,140,10,3.0,mb\n"
    )
    cmd = [
        sys.executable,
        "-m",
        "espb.cli.main",
        "catalog",
        "ingest",
        str(bad),
        "--format",
        "comcat",
        "-o",
        str(tmp_path / "o.parquet"),
    ]
    r = subprocess.run(cmd, capture_output=True, text=True)
    assert r.returncode == 2
    assert "error:" in r.stderr and "bad.csv" in r.stderr and "latitude" in r.stderr
    assert "Traceback" not in r.stderr
    r = subprocess.run(
        [
            sys.executable,
            "-m",
            "espb.cli.main",
            "catalog",
            "synth",
            "--preset",
            "nope",
            "-o",
            str(tmp_path / "x.parquet"),
        ],
        capture_output=True,
        text=True,
    )
    assert r.returncode == 2 and "preset 'nope' not found" in r.stderr


def test_parquet_is_a_plain_dataframe(smoke: Path) -> None:
    df = pd.read_parquet(smoke / "cat.parquet")
    assert list(df.columns)[:3] == ["event_id", "time", "latitude"]


def test_ingest_csv_with_mapping_sed_catalog(tmp_path: Path, seismostats_dir: Path) -> None:
    sed = seismostats_dir / "analysis" / "tests" / "data" / "catalog_sed.csv"
    out = tmp_path / "sed.parquet"
    r = runner.invoke(
        app,
        [
            "catalog",
            "ingest",
            str(sed),
            "--format",
            "csv",
            "--depth-unit",
            "m",
            "--region",
            "none",
            "--map",
            "time=time,latitude=latitude,longitude=longitude",
            "--map",
            "depth=depth",
            "--map",
            "mag=magnitude,mag_type=magnitude_type,event_type=event_type",
            "-o",
            str(out),
        ],
    )
    assert r.exit_code == 0, r.output
    src = pd.read_csv(sed)
    df = load_events(out)
    quakes = src[src["event_type"] == "earthquake"]
    assert len(df) == len(quakes) - int((quakes["depth"] / 1000 > 70).sum())
    assert set(df["mag_type"].astype(str)) <= {"MLhc", "MLh", "MLv"}
    assert df["depth"].max() < 70  # metres converted to km


def test_bad_map_spec_is_a_clear_error(tmp_path: Path) -> None:
    f = tmp_path / "x.csv"
    f.write_text("t,lat,lon,dep,m\n2005-01-01T00:00:00Z,38,142,10,3.0\n")
    r = runner.invoke(
        app,
        [
            "catalog",
            "ingest",
            str(f),
            "--format",
            "csv",
            "--map",
            "time",
            "-o",
            str(tmp_path / "o.parquet"),
        ],
    )
    assert r.exit_code != 0
    assert "is not NAME=COLUMN" in str(r.exception)


def test_ingest_settings_from_config_and_set(smoke: Path) -> None:
    src = smoke / "cat_isc.csv"
    paths = {}
    for name, extra in {
        "paper": [],
        "scordilis": ["--config", "scordilis2006"],
        "ml_identity": ["--set", "magnitudes.family_relation.ML=identity"],
    }.items():
        paths[name] = smoke / f"cfg_{name}.parquet"
        r = runner.invoke(
            app,
            [
                "catalog",
                "ingest",
                str(src),
                "--format",
                "isc",
                "--region",
                "none",
                *extra,
                "-o",
                str(paths[name]),
            ],
        )
        assert r.exit_code == 0, r.output
    a, b, c = (load_events(paths[k]) for k in ("paper", "scordilis", "ml_identity"))
    ms = a["mag_type"] == "Ms"
    assert ms.any()
    # Ms: paper 0.65 Ms + 2.20 vs Scordilis 0.67 Ms + 2.07 (lower branch)
    lo = ms & (a["mag"] <= 6.1)
    assert (b.loc[lo, "mw"] - (0.67 * b.loc[lo, "mag"] + 2.07)).abs().max() < 1e-9
    assert (a.loc[lo, "mw"] - (0.65 * a.loc[lo, "mag"] + 2.20)).abs().max() < 1e-9
    ml = c["mag_type"] == "ML"
    assert ml.any() and (c.loc[ml, "mw"] == c.loc[ml, "mag"]).all()
    r = runner.invoke(
        app,
        ["catalog", "ingest", str(src), "--set", "filters.nope=1", "-o", str(smoke / "x.parquet")],
    )
    assert r.exit_code != 0 and "nope" in str(r.exception)


def test_synthetic_export_round_trip_without_rounding(smoke: Path) -> None:
    """Time to the millisecond, location to the printed 1e-4 deg, Mw to the printed precision."""
    a = load_events(smoke / "cat.parquet")
    for fname, fmt in (("cat_isc.csv", "isc"), ("cat_comcat.csv", "comcat")):
        out = smoke / f"plain_{fmt}.parquet"
        r = runner.invoke(
            app,
            [
                "catalog",
                "ingest",
                str(smoke / fname),
                "--format",
                fmt,
                "--region",
                "37.5,40.5,140.5,143.5",
                "-o",
                str(out),
            ],
        )
        assert r.exit_code == 0, r.output
        b = load_events(out)
        assert list(a["event_id"]) == list(b["event_id"])
        assert (a["time"] == b["time"]).all()
        assert (
            a[["latitude", "longitude"]] - b[["latitude", "longitude"]]
        ).abs().max().max() < 1e-9
        assert (a["mw"] - b["mw"]).abs().max() <= 5e-4 + 1e-9
