"""End to end on the smoke preset: a run with the report finisher (report/ in the run folder and
in MLflow), then ``espb report run`` on the same folder with Figure 6, and the report's numbers
checked against what the run recorded."""

from __future__ import annotations

import os

import pandas as pd
import pytest
from typer.testing import CliRunner

from espb.cli.main import app
from espb.progress import quiet

#: every figure the default report writes, and Figure 6 with --snapshots
DEFAULT = ["fig03_eq_per_segment", "fig04_neq_availability", "fig05_accuracy",
           "fig07_weight_change", "fig09_scores", "figB3_completeness", "figB4_training_eq",
           "figD10_roc", "figD11_roc_intervals"]  # fmt: skip


@pytest.fixture(scope="module")
def smoke_run(tmp_path_factory, smoke_cfg):
    """One smoke run through espb-train's task with ``run.report=true`` (the finisher wiring)."""
    from espb.cli.train import main_task
    from espb.training.inputs import RunCache
    from espb.training.run import run_one

    out = tmp_path_factory.mktemp("report")
    # dev_end cuts the segments: meta-epochs from 2011-03-23, 04-13 (to 04-20), then test
    cfg = smoke_cfg(out, "training.dev_end=2011-04-20", "run.report=true")
    main_task(cfg)
    # the same configuration again: finished, so nothing is recomputed; gives the outcome
    outcome = run_one(cfg, quiet(), cache=RunCache())
    return out, outcome


def test_the_finisher_writes_and_logs_every_figure(smoke_run):
    from mlflow.tracking import MlflowClient

    _, outcome = smoke_run
    rep = outcome.run_dir / "report"
    for key in DEFAULT:
        assert (rep / f"{key}.png").stat().st_size > 1000, key
        assert list(rep.glob(f"{key}_*.csv")) or list(rep.glob(f"{key}_*.parquet")), key
    page = (rep / "index.md").read_text()
    assert all(f"({k}.png)" in page for k in DEFAULT)
    assert "fig06" not in page  # Figure 6 is off by default
    logged = MlflowClient(outcome.tracking_uri).list_artifacts(outcome.run_id, "report")
    names = {os.path.basename(f.path) for f in logged}
    assert {f"{k}.png" for k in DEFAULT} | {"index.md", "index.html"} <= names
    assert outcome.completed


def test_report_numbers_agree_with_the_run(smoke_run):
    _, outcome = smoke_run
    rep = outcome.run_dir / "report"
    metrics = pd.read_csv(outcome.run_dir / "metrics.csv")
    pred = pd.read_parquet(outcome.run_dir / "predictions.parquet")
    # Figure B.4: the training-set sizes are the ones the loop trained on
    b4 = pd.read_csv(rep / "figB4_training_eq_training.csv")
    assert b4["n_train"].tolist() == metrics["train/n_samples"].astype(int).tolist()
    # Figure 3 at the run's l_ME: the EQ per meta-epoch are the run's validation EQ
    f3 = pd.read_csv(rep / "fig03_eq_per_segment_counts.csv")
    f3 = f3[(f3["l_me"] == 21) & (f3["meta_epoch"] >= 0)].set_index("meta_epoch")["n_eq"]
    eq = pred[pred["label"] == 1].groupby("meta_epoch").size()
    assert f3.to_dict() == eq.to_dict()
    # Figure 5: the accuracy data are the recorded metrics
    f5 = pd.read_csv(rep / "fig05_accuracy_accuracy.csv")
    assert f5["phase"].tolist() == metrics["phase"].tolist()
    assert {"dev", "test"} == set(f5["phase"])
    assert f5["train_accuracy"].notna().all()  # the training-set accuracy line has data
    # Figure D.11: the development predictions, each in exactly one interval
    d11 = pd.read_csv(rep / "figD11_roc_intervals_intervals.csv")
    dev = pred[pred["phase"] == "dev"]
    assert (d11["n_eq"] + d11["n_neq"]).sum() == len(dev)
    assert pd.Timestamp(d11["end"].iloc[-1]) == pd.Timestamp("2011-04-21")
    # Figure D.10 on the test period: its counts are the test predictions'
    m = pd.read_csv(rep / "figD10_roc_metrics.csv")
    test = pred[pred["phase"] == "test"]
    assert m.loc[0, "tp"] + m.loc[0, "fn"] == (test["label"] == 1).sum()


def test_report_run_command_with_snapshots(smoke_run, tmp_path):
    out, outcome = smoke_run
    runner = CliRunner()
    env = {"ESPB_OUT": str(out)}
    r = runner.invoke(
        app,
        ["report", "run", "--latest", "smoke", "--snapshots", "--l-me", "14,30",
         "--out", str(tmp_path / "rep"), "--no-log"],
        env=env,
    )  # fmt: skip
    assert r.exit_code == 0, r.output
    for key in [*DEFAULT, "fig06_snapshots"]:
        assert (tmp_path / "rep" / f"{key}.png").is_file(), key
    cost = pd.read_csv(tmp_path / "rep" / "fig06_snapshots_cost.csv").iloc[0]
    n = pd.read_parquet(outcome.run_dir / "predictions.parquet").groupby("meta_epoch").size()
    # snapshot k scores the samples of meta-epochs k, k+1, ...
    assert cost["block_evaluations"] == sum(n.iloc[k:].sum() for k in range(len(n)))
    assert cost["self_check_max_diff"] < 1e-4
    f3 = pd.read_csv(tmp_path / "rep" / "fig03_eq_per_segment_counts.csv")
    assert sorted(f3["l_me"].unique()) == [14, 21, 30]


def test_report_run_bad_input_is_one_line_and_exit_2(tmp_path):
    import subprocess
    import sys

    from espb.errors import EspbError

    r = subprocess.run(
        [sys.executable, "-m", "espb.cli.main", "report", "run", str(tmp_path)],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert r.returncode == 2 and "no config.yaml" in r.stderr and "Traceback" not in r.stderr
    runner = CliRunner()
    r = runner.invoke(
        app, ["report", "run", "--latest", "nothing"], env={"ESPB_OUT": str(tmp_path)}
    )
    assert isinstance(r.exception, EspbError) and "no run of 'nothing'" in str(r.exception)
    r = runner.invoke(app, ["report", "run"])
    assert isinstance(r.exception, EspbError) and "--latest" in str(r.exception)


def test_a_run_folder_without_metrics_is_refused_with_the_fix(smoke_run, tmp_path):
    import shutil

    from espb.errors import EspbError

    _, outcome = smoke_run
    half = tmp_path / "half"
    half.mkdir()
    shutil.copy(outcome.run_dir / "config.yaml", half / "config.yaml")
    r = CliRunner().invoke(app, ["report", "run", str(half), "--no-log"])
    assert isinstance(r.exception, EspbError)
    msg = str(r.exception)
    assert str(half) in msg and "no metrics.csv" in msg and "espb-train" in msg
    assert not (half / "report").exists()  # nothing written for a run that is not finished
