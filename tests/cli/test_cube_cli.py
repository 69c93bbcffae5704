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
