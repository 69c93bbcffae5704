"""The ``espb`` console script, end to end on the smoke synthetic catalog."""

from __future__ import annotations

import json
import os
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
            "--config",
            "paper",  # the synthetic catalog is Japan's: its ML is on the MJMA scale
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
            "--config",
            "paper",  # ML on the MJMA scale, as the synthetic catalog reports it
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
                "--config",
                "paper",
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


# --- safe outputs, exit codes, the catalog commands' bad-input sweep ---------------------


def espb_main(args: list[str], monkeypatch, capsys) -> tuple[int, str, str]:
    """Run the console entry point in-process: (exit code, stdout, stderr)."""
    from espb.cli.main import main

    monkeypatch.setattr(sys, "argv", ["espb", *map(str, args)])
    with pytest.raises(SystemExit) as ei:
        main()
    cap = capsys.readouterr()
    return int(ei.value.code or 0), cap.out, cap.err


def one_line_error(code: int, err: str, *must: str) -> None:
    assert code == 2, err
    assert err.count("error:") == 1 and "Traceback" not in err, err  # (after progress lines)
    for m in must:
        assert m in err, f"{m!r} not in {err!r}"


def _comcat(tmp_path: Path, name: str = "in.csv") -> Path:
    p = tmp_path / name
    p.write_text(
        "time,latitude,longitude,depth,mag,magType,id\n"
        "2005-01-01T00:00:00Z,38,142,10,3.0,mb,a\n2005-01-02T00:00:00Z,38.5,142,10,3.5,mb,b\n"
    )
    return p


def test_ingest_and_export_refuse_to_overwrite_their_input(
    tmp_path: Path, smoke: Path, monkeypatch, capsys
) -> None:
    src = _comcat(tmp_path)
    before = src.read_bytes()
    link = tmp_path / "link.csv"
    link.symlink_to(src)
    hard = tmp_path / "hard.csv"
    os.link(src, hard)
    for out in (src, link, hard, tmp_path / "." / "in.csv"):
        code, _, err = espb_main(["catalog", "ingest", src, "-o", out], monkeypatch, capsys)
        one_line_error(code, err, "the output is the input", "Fix:")
        assert src.read_bytes() == before
    table = tmp_path / "t.parquet"
    table.write_bytes((smoke / "cat.parquet").read_bytes())
    before = table.read_bytes()
    code, _, err = espb_main(["catalog", "export", table, "-o", table], monkeypatch, capsys)
    one_line_error(code, err, "the output is the input")
    assert table.read_bytes() == before and len(load_events(table)) > 0
    code, _, err = espb_main(["catalog", "info", table, "--plot", table], monkeypatch, capsys)
    one_line_error(code, err, "the output is the input")
    code, _, err = espb_main(
        ["catalog", "synth", "--preset", "smoke", "-o", table, "--isc", table], monkeypatch, capsys
    )
    one_line_error(code, err, "the output is the input")
    assert table.read_bytes() == before


def test_non_regular_and_unwritable_outputs(tmp_path: Path, monkeypatch, capsys) -> None:
    src = _comcat(tmp_path)
    folder = tmp_path / "folder"
    folder.mkdir()
    for out, must in ((folder, "a directory"), (Path(os.devnull), "character device")):
        code, _, err = espb_main(["catalog", "ingest", src, "-o", out], monkeypatch, capsys)
        one_line_error(code, err, str(out), must)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["folder", "in.csv"]  # no temp left
    code, _, err = espb_main(
        ["catalog", "ingest", src, "-o", src / "x.parquet"], monkeypatch, capsys
    )
    one_line_error(code, err, "x.parquet")
    # a full disk while writing: one line, the old output intact, no temporary file left
    out = tmp_path / "out.parquet"
    assert espb_main(["catalog", "ingest", src, "-o", out], monkeypatch, capsys)[0] == 0
    before = out.read_bytes()
    import errno

    import pyarrow.parquet as pq

    def full(*a, **k):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(pq, "write_table", full)
    code, _, err = espb_main(["catalog", "ingest", src, "-o", out], monkeypatch, capsys)
    one_line_error(code, err, "out.parquet", "No space left on device", "free space")
    assert out.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["folder", "in.csv", "out.parquet"]


def test_an_ingest_that_keeps_nothing_exits_2_with_the_cause(
    tmp_path: Path, monkeypatch, capsys
) -> None:
    src = _comcat(tmp_path)
    args = ["catalog", "ingest", src, "-o", tmp_path / "o.parquet", "--region", "0,10,0,10"]
    code, _, err = espb_main(args, monkeypatch, capsys)
    one_line_error(
        code, err, "no event kept", "region 0,10,0,10 removed 2 of 2", "--region 38,39,142,143"
    )
    assert not (tmp_path / "o.parquet").exists()


@pytest.mark.parametrize(
    ("extra", "must"),
    [
        (["--mw-round", "nan"], "mw_round"),
        (["--mw-round", "inf"], "mw_round"),
        (["--max-depth", "nan"], "max_depth_km"),
        (["--max-depth", "deep"], "--max-depth"),
        (["--min-mw", "inf"], "min_mw"),
        (["--region", "35,nan,135,146"], "region"),
        (["--start", "1200-01-01"], "outside the dates"),
        (["--start", "2006-01-01", "--end", "2005-01-01"], "after filters.end"),
        (["--timezone", "Mars/Olympus"], "timezone"),
        (["--depth-positive", "sideways"], "depth_positive"),
        (["--encoding", "klingon"], "encoding"),
        (["--duplicate-ids", "most"], "duplicate_ids"),
        (["--ml-relation", "nope"], "family_relation.ML"),
        (["--max-extrapolation", "-1"], "max_extrapolation"),
        (["--set", "mag_bounds=[5,5]"], "mag_bounds"),
    ],
)
def test_absurd_options_are_one_line_errors(
    tmp_path: Path, monkeypatch, capsys, extra, must
) -> None:
    src = _comcat(tmp_path)
    args = ["catalog", "ingest", src, "-o", tmp_path / "o.parquet", *extra]
    code, _, err = espb_main(args, monkeypatch, capsys)
    one_line_error(code, err, must)


def test_ingest_options_and_report(tmp_path: Path, monkeypatch, capsys) -> None:
    p = tmp_path / "local.csv.bin"  # gzip with an unhelpful name, Shift-JIS, JST, depth up
    import gzip

    text = "t,la,lo,dep,m,who\n2020-01-01 09:00:00,35,140,-10,2.0,気象庁\n2020-01-01 10:00:00,35,140,-30,0.0,気象庁\n"
    p.write_bytes(gzip.compress(text.encode("shift_jis")))
    out = tmp_path / "o.parquet"
    args = [
        "catalog",
        "ingest",
        p,
        "-f",
        "csv",
        "-o",
        out,
        "--map",
        "time=t,latitude=la,longitude=lo,depth=dep,mag=m,author=who",
        "--mag-type",
        "ML",
    ]
    code, _, err = espb_main(args, monkeypatch, capsys)
    one_line_error(code, err, "not UTF-8", "--encoding")
    args += [
        "--encoding",
        "shift_jis",
        "--timezone",
        "Asia/Tokyo",
        "--depth-positive",
        "up",
        "--drop-mag",
        "0",
        "--min-mw",
        "1",
    ]
    code, stdout, err = espb_main(args, monkeypatch, capsys)
    assert code == 0, err
    df = load_events(out)
    assert list(df["time"].astype(str)) == ["2020-01-01 00:00:00+00:00"]
    assert list(df["depth"]) == [10.0] and list(df["mag_author"].astype(str)) == ["気象庁"]
    for word in ("placeholder magnitude", "read as Asia/Tokyo", "sign flipped", "ML taken as Mw"):
        assert word in stdout, word
    meta = load_metadata(out)
    assert meta["ingest_config"]["timezone"] == "Asia/Tokyo"
    assert meta["drop_report"]["flags"]["depth_flipped"] == {"depths multiplied by -1": 2}


def test_info_plot_draws_figure_1_and_reports_mc_and_placeholders(
    smoke: Path, tmp_path: Path, monkeypatch, capsys
) -> None:
    fig1, ov = tmp_path / "fig1.png", tmp_path / "overview.png"
    args = ["catalog", "info", smoke / "cat.parquet", "--plot", fig1, "--overview", ov]
    code, stdout, err = espb_main(args, monkeypatch, capsys)
    assert code == 0, err
    assert fig1.stat().st_size > 10_000 and ov.stat().st_size > 10_000
    assert "Mc (b-stab.)" in stdout and "seismostats" in stdout and "placeholder?" not in stdout
    r = runner.invoke(app, ["catalog", "info", str(smoke / "cat.parquet"), "--json"])
    s = json.loads(r.output)
    assert s["placeholders"] == [] and s["mc_b_stability"] is not None
    assert "b-value stability" in s["mc_method"]
