"""``espb-train`` end to end on the smoke preset: what a run records in MLflow."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from tests.conftest import compose_train

SIX = {"dr": "0.25", "dt": "150", "M_lim": "4.5", "loss": "mae", "l_ME": "21", "AE": "False"}


def _compose(out: Path, *overrides: str):
    return compose_train("experiment=smoke", f"out_dir={out}", "run.progress=false", *overrides)


@pytest.fixture(scope="module")
def smoke_run(tmp_path_factory):
    from espb.cli.train import main_task

    out = tmp_path_factory.mktemp("train")
    cfg = _compose(out)
    main_task(cfg)
    (run_dir,) = list((out / "runs" / "smoke").iterdir())
    state = json.loads((run_dir / "state.json").read_text())
    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracking_uri=f"sqlite:///{out / 'mlruns.db'}")
    return out, run_dir, state, client


def test_run_completes_and_is_recorded(smoke_run):
    out, run_dir, state, client = smoke_run
    assert state["completed"] and state["meta_epochs_done"] == state["n_meta_epochs"] >= 3
    run = client.get_run(state["run_id"])
    assert run.info.status == "FINISHED"
    assert client.get_experiment(run.info.experiment_id).name == "espb-smoke"
    assert (out / "mlruns.db").exists()


def test_params_are_the_flattened_config_plus_the_six_factors(smoke_run):
    _, _, state, client = smoke_run
    p = client.get_run(state["run_id"]).data.params
    for k, v in SIX.items():
        assert p[k] == v, k
    assert (
        p["bvalue.dr"] == "0.25" and p["samples.lookback"] == "64" and p["training.epochs"] == "2"
    )
    assert p["catalog.synthetic"] == "smoke" and p["model.negative_slope"] == "0.1"
    assert not any(k.startswith(("run.", "tracking.")) for k in p)


def test_tags(smoke_run):
    _, run_dir, state, client = smoke_run
    t = client.get_run(state["run_id"]).data.tags
    assert t["config_hash"] == run_dir.name
    assert len(t["catalog_hash"]) >= 16 and len(t["cube_key"]) >= 16
    assert t["autoencoder_key"] == "off"
    assert t["espb_version"] and t["git_commit"]


def test_metrics_per_meta_epoch(smoke_run):
    _, run_dir, state, client = smoke_run
    n = state["n_meta_epochs"]
    rid = state["run_id"]
    always = [
        "val/accuracy",
        "val/recall",
        "val/f1",
        "val/n_eq",
        "val/n_neq",
        "val/mean_score_eq",
        "val/mean_score_neq",
        "val/acc_running5",
        "val/acc_running20",
        "val/acc_cumulative",
        "train/loss",
        "val/segment_start",
    ]
    for k in always:
        steps = [m.step for m in client.get_metric_history(rid, k)]
        assert steps == list(range(n)), (k, steps)
    auc = client.get_metric_history(rid, "val/auc")
    assert len(auc) == n  # both classes are always present: validation sets are balanced
    # precision is undefined (not logged) when nothing scores >= 0.5
    assert len(client.get_metric_history(rid, "val/precision")) <= n
    metrics = pd.read_csv(run_dir / "metrics.csv")
    hist = {m.step: m.value for m in client.get_metric_history(rid, "val/acc_cumulative")}
    for _, r in metrics.iterrows():
        assert hist[r["meta_epoch"]] == pytest.approx(r["val/acc_cumulative"])
    starts = [
        m.value
        for m in sorted(client.get_metric_history(rid, "val/segment_start"), key=lambda m: m.step)
    ]
    assert starts == sorted(starts) and all(20100101 < s < 20120101 for s in starts)


def test_artifacts(smoke_run, tmp_path):
    _, run_dir, state, client = smoke_run
    rid = state["run_id"]
    names = {a.path for a in client.list_artifacts(rid)}
    assert {
        "config.yaml",
        "predictions.parquet",
        "accuracy.png",
        "metrics.csv",
        "model.txt",
        "weights",
    } <= names
    weights = {a.path for a in client.list_artifacts(rid, "weights")}
    assert weights == {f"weights/me_{i:04d}.pt" for i in range(state["n_meta_epochs"])}
    local = client.download_artifacts(rid, "predictions.parquet", str(tmp_path))
    pred = pd.read_parquet(local)
    for c in [
        "meta_epoch",
        "date",
        "row",
        "col",
        "lat",
        "lon",
        "label",
        "score",
        "mw",
        "mean_count",
    ]:
        assert c in pred.columns, c
    assert set(pred["label"]) == {0, 1}
    assert (
        pred.loc[pred["label"] == 1, "mw"].ge(4.5).all()
        and pred.loc[pred["label"] == 0, "mw"].isna().all()
    )
    assert pred["score"].between(0, 1).all()
    cfg_text = Path(client.download_artifacts(rid, "config.yaml", str(tmp_path))).read_text()
    assert "lookback: 64" in cfg_text
    assert "8081" not in (run_dir / "model.txt").read_text()  # smoke blocks are smaller: own count
    assert "total trainable parameters" in (run_dir / "model.txt").read_text()


def test_a_finished_configuration_is_not_trained_again(smoke_run):
    from espb.cli.train import main_task

    out, run_dir, state, client = smoke_run
    before = (run_dir / "checkpoint.pt").stat().st_mtime_ns
    main_task(_compose(out))
    assert (run_dir / "checkpoint.pt").stat().st_mtime_ns == before
    again = json.loads((run_dir / "state.json").read_text())
    assert again["run_id"] == state["run_id"]
    steps = [m.step for m in client.get_metric_history(state["run_id"], "val/accuracy")]
    assert steps == sorted(set(steps))


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ("training.loss=mse", "training.loss='mse'; use one of ['mae', 'bce']"),
        ("samples.m_lim=5.5", "must not exceed samples.eq_min_mag"),
        ("samples.lookback=100", "powers of two"),
        ("training.l_me=2000", "no meta-epoch"),
        ("autoencoder.period=sometimes", "autoencoder.period='sometimes'"),
    ],
)
def test_bad_settings_are_errors_naming_the_key(smoke_run, override, message):
    from espb.cli.train import main_task
    from espb.errors import ConfigError

    out = smoke_run[0]
    with pytest.raises(ConfigError, match=re.escape(message)):
        main_task(_compose(out, override))


def test_a_bad_setting_exits_2_with_the_message(tmp_path):
    env = {**os.environ, "ESPB_OUT": str(tmp_path)}
    r = subprocess.run(
        [
            sys.executable,
            "-m",
            "espb.cli.train",
            "experiment=smoke",
            "run.progress=false",
            "training.loss=mse",
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert r.returncode == 2, (r.returncode, r.stderr[-2000:])
    assert "espb-train: error: training: training.loss='mse'" in r.stderr, r.stderr[-2000:]
