"""End to end through the console scripts: a tiny Hydra multirun of espb-rates (model x cell size
x period) logged to MLflow, the comparison report, a finished configuration skipped, bad input
as one line and exit code 2, and rate_seed on a small hand-made ComCat export."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from espb.rates import config as rc

BIN = Path(sys.executable).parent
FAST = ["evaluation.pycsep_sims=20", "evaluation.moran_permutations=49", "model.threads=1"]


def run(args, tmp_path, check=True):
    env = dict(os.environ, ESPB_OUT=str(tmp_path / "out"), ESPB_CACHE_DIR=str(tmp_path / "cache"))
    p = subprocess.run(
        [str(BIN / args[0]), *args[1:]],
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
        cwd=tmp_path,
    )
    if check and p.returncode != 0:
        raise AssertionError(
            f"{args} failed ({p.returncode}):\n{p.stdout[-3000:]}\n{p.stderr[-3000:]}"
        )
    p.out = p.stdout + p.stderr  # the summary goes to stderr with the progress
    return p


def test_conf_lists_every_setting():
    """conf/rates.yaml holds every field of the dataclasses (so each can be overridden)."""
    from dataclasses import fields

    from espb.paths import conf_dir

    y = yaml.safe_load((conf_dir() / "rates.yaml").read_text())
    for key, cls in (
        ("data", rc.DataConfig),
        ("features", rc.FeatureConfig),
        ("model", rc.ModelConfig),
        ("evaluation", rc.EvalConfig),
        ("figures", rc.FigureConfig),
    ):
        assert set(y[key]) == {f.name for f in fields(cls)}, key
    assert set(y["features"]["cube"]) == {f.name for f in fields(rc.CubeFeatureConfig)}


def _multirun(tmp_path, grid: list[str]):
    p = run(["espb-rates", "-m", "rates/preset=rate_smoke", *grid, *FAST], tmp_path)
    from mlflow.tracking import MlflowClient

    client = MlflowClient(f"sqlite:///{tmp_path / 'out' / 'mlruns.db'}")
    exp = client.get_experiment_by_name("espb-rate_smoke")
    runs = client.search_runs([exp.experiment_id])
    return p, client, exp, runs


def _check_runs(client, runs) -> None:
    assert all(r.info.status == "FINISHED" for r in runs)
    r0 = runs[0]
    for key in (
        "test/deviance",
        "test/crps",
        "test/tail5/crps",
        "lrt/log10_p",
        "moran/i_mean_weekly",
        "csep/n_test_reject",
    ):
        assert np.isfinite(r0.data.metrics[key]), key
    assert len(client.get_metric_history(r0.info.run_id, "fold/deviance")) >= 2
    arts = {a.path for a in client.list_artifacts(r0.info.run_id, "figures")}
    assert {
        "figures/series.png",
        "figures/alpha_map.png",
        "figures/pit.png",
        "figures/deviance_by_year.png",
    } <= arts


def test_multirun_logs_to_mlflow_reports_and_skips_a_finished_run(tmp_path, out_dir, capsys):
    """Two models in one Hydra multirun (the full model x cell size x period grid: the slow
    test below), the comparison report, and the same configuration again reported, not rerun."""
    grid = ["model.kind=poisson_glm,nb_glm", "data.cell_deg=1.5"]
    p, client, exp, runs = _multirun(tmp_path, grid)
    assert p.out.count("== espb-rates rate_smoke") == 2 and len(runs) == 2
    assert {r.data.params["model.kind"] for r in runs} == {"poisson_glm", "nb_glm"}
    _check_runs(client, runs)
    from espb.cli.rates import report_main

    report_main([str(out_dir / "rates" / "rate_smoke"), "-o", str(tmp_path / "rep")])
    tab = pd.read_csv(tmp_path / "rep" / "comparison.csv")
    assert len(tab) == 2 and set(tab["model"]) == {"poisson_glm", "nb_glm"}
    assert tab["deviance vs NB GLM %"].notna().all()
    assert "mean Poisson deviance" in capsys.readouterr().out
    assert (tmp_path / "rep" / "deviance_by_year_0.png").exists()
    from espb.rates.experiment import run_rates

    again = run_rates(
        compose(
            ["rates/preset=rate_smoke", "model.kind=nb_glm", *grid[1:], *FAST, f"out_dir={out_dir}"]
        )
    )
    assert again.already_done and again.label == "nb_glm"
    assert len(client.search_runs([exp.experiment_id])) == 2


@pytest.mark.slow
def test_multirun_model_cell_period_grid(tmp_path, out_dir):
    grid = ["model.kind=poisson_glm,nb_glm", "data.cell_deg=1.0,1.5", "data.period_days=7,14"]
    p, client, exp, runs = _multirun(tmp_path, grid)
    assert p.out.count("== espb-rates rate_smoke") == 8 and len(runs) == 8
    combos = {
        (
            r.data.params["model.kind"],
            r.data.params["data.cell_deg"],
            r.data.params["data.period_days"],
        )
        for r in runs
    }
    assert len(combos) == 8
    _check_runs(client, runs)


def test_network_with_b_value_features_run(out_dir):
    from espb.progress import quiet
    from espb.rates.experiment import run_rates

    lines = []
    rep = quiet()
    rep.say = lines.append
    res = run_rates(
        compose(
            [
                "rates/preset=rate_smoke",
                "model.kind=earthquakenet",
                "features.bvalue=true",
                *FAST,
                f"out_dir={out_dir}",
            ]
        ),
        rep,
    )
    assert res.label == "earthquakenet+b" and any("b-value cube" in x for x in lines)
    summ = json.loads((res.run_dir / "summary.json").read_text())
    assert summ["label"] == "earthquakenet+b" and summ["cube"]["cube_path"]
    assert summ["settings"]["model"]["max_epochs"] == 3  # the smoke preset's
    pred = pd.read_parquet(res.run_dir / "predictions.parquet")
    assert {"b_mean", "b_change", "log_nb_mean", "log_nb_change"} <= set(pred.columns)
    assert pred["alpha"].nunique() > 1  # per-cell (and per-period) dispersion
    hist = pd.read_csv(res.run_dir / "training_history.csv")
    assert set(hist["fold"]) == {0, 1, 2, 3}


def test_a_bad_setting_is_one_line_and_exit_2(tmp_path):
    p = run(["espb-rates", "rates/preset=rate_smoke", "model.kind=xgboost"], tmp_path, check=False)
    assert p.returncode == 2 and "Traceback" not in p.stderr
    assert "model.kind='xgboost'" in p.stderr and len(p.stderr.strip().splitlines()) == 1


def compose(overrides):
    from hydra import compose as hydra_compose
    from hydra import initialize_config_dir

    from espb.paths import conf_dir

    with initialize_config_dir(str(conf_dir()), version_base="1.3"):
        return hydra_compose("rates", overrides=overrides)


@pytest.mark.parametrize(
    "override,message",
    [
        ("data.magnitude=ml", "data.magnitude"),
        ("evaluation.test_start=2010-02-01", "no training periods"),
        ("features.big_mag=2.0", "features.big_mag"),
        ("evaluation.step=month", "evaluation.step"),
        ("data.cell_deg=-1", "data.cell_deg"),
        ("+model.colour=red", "colour"),
    ],
)
def test_bad_settings_name_the_key(override, message):
    from espb.errors import ConfigError
    from espb.rates.settings import RateSettings

    with pytest.raises(ConfigError, match=message.replace(".", r"\.")):
        RateSettings.from_cfg(compose(["rates/preset=rate_smoke", override]))


def handmade_comcat(path: Path, seed: int = 0) -> Path:
    """A small ComCat CSV of Central Asia 2010-2024: a background and a few aftershock bursts,
    mixed magnitude types, some events outside the region or below M 3."""
    rng = np.random.default_rng(seed)
    n_bg = 1500
    t0, t1 = pd.Timestamp("2010-01-01", tz="UTC"), pd.Timestamp("2024-12-31", tz="UTC")
    times = t0 + (t1 - t0) * rng.random(n_bg)
    lat, lon = rng.uniform(37.0, 46.0, n_bg), rng.uniform(64.0, 86.0, n_bg)
    mags = 2.6 + rng.exponential(1 / np.log(10), n_bg)
    for tm, la, lo in (
        ("2011-07-19", 40.1, 71.4),
        ("2016-06-26", 39.5, 73.3),
        ("2020-01-19", 39.8, 77.1),
    ):
        k = 120
        times = np.r_[
            times, pd.Timestamp(tm, tz="UTC") + pd.to_timedelta(rng.exponential(20, k), unit="D")
        ]
        lat = np.r_[lat, la + rng.normal(0, 0.3, k)]
        lon = np.r_[lon, lo + rng.normal(0, 0.3, k)]
        mags = np.r_[mags, 3.0 + rng.exponential(1 / np.log(10), k)]
    n = len(mags)
    df = pd.DataFrame(
        {
            "time": pd.DatetimeIndex(times).strftime("%Y-%m-%dT%H:%M:%S.%f").str[:-3] + "Z",
            "latitude": lat.round(4),
            "longitude": lon.round(4),
            "depth": rng.uniform(5, 40, n).round(2),
            "mag": np.minimum(mags, 7.4).round(1),
            "magType": rng.choice(["mb", "ml", "mww"], n, p=[0.6, 0.3, 0.1]),
            "nst": 30,
            "gap": 90,
            "dmin": 1.0,
            "rms": 0.7,
            "net": "us",
            "id": [f"us{seed}{i:06d}" for i in range(n)],
            "updated": "2025-01-01T00:00:00.000Z",
            "place": "Central Asia",
            "type": "earthquake",
            "horizontalError": 5.0,
            "depthError": 3.0,
            "magError": 0.1,
            "magNst": 20,
            "status": "reviewed",
            "locationSource": "us",
            "magSource": "us",
        }
    )
    df.sort_values("time", ascending=False).to_csv(path, index=False)
    return path


def test_rate_seed_on_a_handmade_comcat_export(tmp_path, out_dir):
    csv = handmade_comcat(tmp_path / "central_asia.csv")
    table = tmp_path / "central_asia.parquet"
    run(
        [
            "espb",
            "catalog",
            "ingest",
            str(csv),
            "--format",
            "comcat",
            "--region",
            "none",
            "--max-depth",
            "none",
            "-o",
            str(table),
        ],
        tmp_path,
    )
    from espb.progress import quiet
    from espb.rates.experiment import run_rates

    lines = []
    rep = quiet()
    rep.say = lines.append
    over = [f"catalog.path={table}", "model.kind=nb_glm", "evaluation.pycsep=false", *FAST]
    over.append(f"out_dir={out_dir}")
    res = run_rates(compose(["rates/preset=rate_seed", *over]), rep)
    out = "\n".join(lines)
    assert "21 cells" in out and "6 folds (2018 .. 2023)" in out
    summ = json.loads((res.run_dir / "summary.json").read_text())
    s = summ["settings"]
    assert s["data"]["region"] == [38.0, 45.0, 65.0, 85.0] and s["data"]["cell_deg"] == 3.0
    assert (
        s["data"]["m_min"] == 3.0
        and s["data"]["magnitude"] == "mag"
        and s["data"]["period_days"] == 7
    )
    assert summ["counts"]["n_outside_region"] > 0 and summ["counts"]["n_below_m_min"] > 0
    assert [f["label"] for f in summ["folds"]] == [str(y) for y in range(2018, 2024)]
    from espb.errors import ConfigError

    with pytest.raises(ConfigError, match="catalog.path"):  # rate_seed needs the user's export
        run_rates(compose(["rates/preset=rate_seed", f"out_dir={tmp_path / 'o2'}"]))
