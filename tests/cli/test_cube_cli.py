"""``espb cube build|show|ls`` end to end on the smoke synthetic catalog."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from espb.bvalue.cache import open_cube
from espb.bvalue.config import load_cube_config
from espb.bvalue.cube import build_cube
from espb.catalog.schema import load_events
from espb.cli.main import app
from espb.errors import EspbError

runner = CliRunner()


@pytest.fixture(scope="module")
def smoke(tmp_path_factory) -> Path:
    d = tmp_path_factory.mktemp("cube-cli")
    r = runner.invoke(app, ["catalog", "synth", "--preset", "smoke", "-o", str(d / "cat.parquet")])
    assert r.exit_code == 0, r.output
    return d


def _build(smoke: Path, *extra: str):
    return runner.invoke(
        app,
        [
            "cube",
            "build",
            "-c",
            str(smoke / "cat.parquet"),
            "--preset",
            "smoke",
            "--dr",
            "0.35",
            "--dt",
            "100",
            "--cache-dir",
            str(smoke / "cache"),
            "--json",
            *extra,
        ],
    )


def test_build_then_cached_then_show_and_ls(smoke: Path) -> None:
    r = _build(smoke)
    assert r.exit_code == 0, r.output
    first = json.loads(r.stdout)
    assert first["built"] is True and first["shape"] == {"time": 579, "lat": 30, "lon": 30}
    r = _build(smoke)
    second = json.loads(r.stdout)
    assert second["built"] is False and second["path"] == first["path"]
    # the stored cube is the in-memory computation
    cfg = load_cube_config("smoke", ["dr=0.35", "dt=100"])
    mem, _ = build_cube(load_events(smoke / "cat.parquet"), cfg)
    ds = open_cube(first["path"])
    for v in ("b", "n_events", "n_used"):
        np.testing.assert_array_equal(ds[v].values, mem[v].values)
    png = smoke / "b.png"
    r = runner.invoke(
        app,
        [
            "cube",
            "show",
            first["path"],
            "--day",
            "2011-03-10",
            "--cell",
            "38.3,142.4",
            "-o",
            str(png),
        ],
    )
    assert r.exit_code == 0, r.output
    assert "2011-03-10" in r.stdout and "38.25 N 142.45 E" in r.stdout
    assert png.stat().st_size > 20_000
    # found by catalog + settings, too
    r = runner.invoke(
        app,
        [
            "cube",
            "show",
            "-c",
            str(smoke / "cat.parquet"),
            "--preset",
            "smoke",
            "--dr",
            "0.35",
            "--dt",
            "100",
            "--cache-dir",
            str(smoke / "cache"),
            "-o",
            str(png),
        ],
    )
    assert r.exit_code == 0, r.output
    r = runner.invoke(app, ["cube", "ls", "--cache-dir", str(smoke / "cache")])
    assert r.exit_code == 0 and "dr=0.35 dt=100" in r.stdout and "(1 stores)" in r.stdout


def _espb(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", "from espb.cli.main import main; main()", *args],
        capture_output=True,
        text=True,
    )


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["--mode", "nope"], ["mode='nope'", "paper", "binned", "classic"]),
        (["--mode", "classic"], ["threshold", "Mc"]),
        (["--region", "35,46,135"], ["--region", "4 numbers"]),
        (["--region", "35,46.05,135,146"], ["whole number", "0.1 deg cells"]),
        (["--mode", "binned", "--set", "delta_m=0.25"], ["not on that grid", "round_magnitudes"]),
        (["--set", "nonsense=1"], ["nonsense"]),
    ],
)
def test_bad_settings_give_clear_errors(smoke: Path, args: list[str], words: list[str]) -> None:
    r = _espb(
        "cube",
        "build",
        "-c",
        str(smoke / "cat.parquet"),
        "--preset",
        "smoke",
        "--cache-dir",
        str(smoke / "cache-bad"),
        *args,
    )
    assert r.returncode == 2, r.stdout + r.stderr
    for w in words:
        assert w in r.stderr, (w, r.stderr)


def test_show_errors(smoke: Path) -> None:
    r = _espb("cube", "show", str(smoke / "nothing.zarr"))
    assert r.returncode == 2 and "not a complete espb cube" in r.stderr
    r = _espb(
        "cube",
        "show",
        "-c",
        str(smoke / "cat.parquet"),
        "--preset",
        "smoke",
        "--dr",
        "0.15",
        "--cache-dir",
        str(smoke / "cache"),
    )
    assert r.returncode == 2 and "build it first" in r.stderr


def test_build_summary_fractions_match_the_data(smoke: Path) -> None:
    r = _build(smoke)
    s = json.loads(r.stdout)
    ds = open_cube(s["path"])
    assert s["fraction_b_nonzero"] == pytest.approx(float((ds["b"].values > 0).mean()))
    assert s["fraction_cells_ge10_events"] == pytest.approx(
        float((ds["n_events"].values >= 10).mean())
    )
    assert 0 < s["fraction_b_nonzero"] < 1


# ---------------------------------------------------------------- issue 12 / issue 15
def _invoke(*args: str):
    return runner.invoke(app, list(args))


def _smoke_args(smoke: Path, cache: str = "cache-guards") -> list[str]:
    return [
        "-c",
        str(smoke / "cat.parquet"),
        "--preset",
        "smoke",
        "--cache-dir",
        str(smoke / cache),
    ]


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["--dr", "inf"], ["dr=inf", "finite"]),
        (["--dr", "nan"], ["dr=nan"]),
        (["--dt", "100000000000000000000"], ["dt=", "36525"]),
        (["--set", "resolution=inf"], ["resolution=inf"]),
        (["--set", "resolution=0"], ["resolution=0"]),
        (["--set", "resolution=-0.1"], ["resolution=-0.1"]),
        (["--start", "1500-01-01"], ["start='1500-01-01'", "1800-01-01"]),
        (["--start", "2010-02-30"], ["start='2010-02-30'"]),
        (["--mode", "classic", "--threshold", "nan"], ["threshold=nan"]),
        (["--set", "b_max=inf"], ["b_max=inf"]),
        (["--region", "40.5,37.5,140.5,143.5"], ["region", "lat_min < lat_max"]),
        (["--region", "37.5,40.5,140.5,400"], ["region", "360"]),
        (["--set", "resolution=0.0001"], ["GiB", "coarser resolution"]),
        (["--region", "10,20,10,20"], ["the catalog's", "37.50 to 40.50 N", "--region"]),
        (["--mode", "classic", "--threshold", "9.5"], ["every b value of the cube is 0", "Mc"]),
    ],
)
def test_absurd_settings_give_one_clear_error(smoke: Path, args, words) -> None:
    r = _invoke("cube", "build", *_smoke_args(smoke), *args)
    assert isinstance(r.exception, EspbError), (r.exception, r.output)
    for w in words:
        assert w in str(r.exception), (w, str(r.exception))


def test_no_event_in_the_box_exits_2_with_the_cause(smoke: Path) -> None:
    r = _espb("cube", "build", *_smoke_args(smoke), "--region", "32,36,-120,-116")
    assert r.returncode == 2, r.stdout + r.stderr
    assert "no event for the cube" in r.stderr and "Traceback" not in r.stderr
    assert "32.00 to 36.00 N, -120.00 to -116.00 E" in r.stderr and "--region" in r.stderr


def test_an_unusable_cache_dir_is_a_clear_error(smoke: Path) -> None:
    (smoke / "a-file").write_text("x")
    r = _invoke("cube", "build", *_smoke_args(smoke), "--cache-dir", str(smoke / "a-file"))
    assert isinstance(r.exception, EspbError) and "--cache-dir" in str(r.exception)


def test_a_cube_beyond_the_catalog_warns_and_is_flagged(smoke: Path) -> None:
    r = _invoke("cube", "build", *_smoke_args(smoke), "--end", "2013-12-31", "--json")
    assert r.exit_code == 0, r.output
    assert "WARNING" in r.output and "past the catalog's last event" in r.output
    s = json.loads(r.stdout[r.stdout.index("{") :])
    assert s["warnings"] and "past the catalog's last event" in s["warnings"][0]
    assert open_cube(s["path"]).attrs["beyond_catalog_range"] == 1
    r = _invoke("cube", "build", *_smoke_args(smoke), "--json")  # within range: no flag
    assert "WARNING" not in r.output
    s = json.loads(r.stdout[r.stdout.index("{") :])
    assert s["warnings"] == [] and open_cube(s["path"]).attrs["beyond_catalog_range"] == 0


def test_a_corrupted_chunk_is_rebuilt_and_says_why(smoke: Path) -> None:
    args = [*_smoke_args(smoke, "cache-corrupt"), "--dr", "0.15", "--dt", "60"]
    first = json.loads(_invoke("cube", "build", *args, "--json").stdout)
    p = Path(first["path"]) / "b" / "c" / "0" / "0" / "0"
    data = bytearray(p.read_bytes())
    data[len(data) // 2] ^= 0xFF  # same size
    p.write_bytes(bytes(data))
    r = _invoke("cube", "show", first["path"], "-o", str(smoke / "x.png"))
    assert isinstance(r.exception, EspbError) and "b/c/0/0/0" in str(r.exception)
    r = _invoke("cube", "build", *args)
    assert r.exit_code == 0, r.output
    assert "rebuilt:" in r.stdout and "rebuilding cube" in r.output and "b/c/0/0/0" in r.output
    r = _invoke("cube", "build", *args)
    assert "cached:" in r.stdout


def test_ls_shows_region_dates_and_resolution(smoke: Path) -> None:
    _invoke("cube", "build", *_smoke_args(smoke, "cache-ls"), "--dr", "0.35", "--dt", "100")
    r = _invoke("cube", "ls", "--cache-dir", str(smoke / "cache-ls"), "--verify")
    assert r.exit_code == 0, r.output
    assert "37.5-40.5N 140.5-143.5E" in r.stdout and "@ 0.1 deg" in r.stdout
    assert "2010-06-01..2011-12-31" in r.stdout and "dr=0.35 dt=100" in r.stdout


def test_show_marks_the_next_day_and_refuses_to_overwrite_its_input(smoke: Path) -> None:
    first = json.loads(_build(smoke).stdout)
    cat = smoke / "cat.parquet"
    before = cat.read_bytes()
    r = _invoke("cube", "show", first["path"], "-c", str(cat), "-o", str(cat))
    assert isinstance(r.exception, EspbError) and "overwrite" in str(r.exception)
    assert cat.read_bytes() == before
    r = _invoke("cube", "show", first["path"], "-o", str(Path(first["path"]) / "x.png"))
    assert isinstance(r.exception, EspbError) and "into the input" in str(r.exception)
    png = smoke / "next.png"
    r = _invoke(
        "cube", "show", first["path"], "-c", str(cat), "--day", "2011-03-10", "-o", str(png)
    )
    assert r.exit_code == 0, r.output
    ev = load_events(cat)
    t = ev["time"]
    n = int(((t >= "2011-03-11") & (t < "2011-03-12") & (ev["mw"] >= 5)).sum())
    assert n > 0 and f"{n} events of Mw >= 5 on 2011-03-11 circled" in r.stdout
    for bad, word in (("--min-events", "0"), ("--day", "someday"), ("--cell", "nan,nan")):
        r = _invoke("cube", "show", first["path"], bad, word, "-o", str(png))
        assert isinstance(r.exception, EspbError), (bad, r.exception)
