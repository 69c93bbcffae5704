"""``espb report sweep`` chooses the best configurations on the development period only (issue
13: model selection on test data must be impossible by accident), also with ``--phase all``,
where the tables and figures pool development and test predictions, labelled as such."""

from __future__ import annotations

import logging
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

logging.getLogger("mlflow").setLevel(logging.WARNING)
logging.getLogger("alembic").setLevel(logging.WARNING)

EXPERIMENT = "espb-selection"
#: both at M_lim 4.9, so that both selections (overall, M_lim 4.9) are decided by these numbers
FACTORS = {"dt": "730", "M_lim": "4.9", "loss": "mae", "l_ME": "14", "AE": "False"}


def _samples(phase: str, day: str, n: int, n_correct: int) -> pd.DataFrame:
    label = np.arange(n) % 2
    right = np.arange(n) < n_correct
    score = np.where(right, np.where(label == 1, 0.9, 0.1), np.where(label == 1, 0.2, 0.7))
    return pd.DataFrame(
        {"meta_epoch": 0 if phase == "dev" else 1, "phase": phase, "date": pd.Timestamp(day)}
        | {"label": label, "score": score}
    )


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """Run ``dev_best``: 8/10 right on development days, 0/10 on test days (pooled 0.40). Run
    ``test_best``: 6/10 on development days, 30/30 on test days (pooled 0.90)."""
    from mlflow.tracking import MlflowClient

    root = tmp_path_factory.mktemp("selection")
    uri = f"sqlite:///{root}/mlruns.db"
    client = MlflowClient(tracking_uri=uri)
    exp = client.create_experiment(EXPERIMENT, artifact_location=(root / "art").as_uri())
    parent = client.create_run(exp, tags={"sweep_role": "parent", "sweep_name": "s"}).info.run_id
    ids = {}
    t0 = int(time.time() * 1000) - 10_000
    for k, (name, dr, dev_right, test_n) in enumerate(
        (("dev_best", "0.15", 8, (10, 0)), ("test_best", "0.25", 6, (30, 30)))
    ):
        tags = {"mlflow.parentRunId": parent, "sweep_role": "child", "config_hash": name}
        rid = client.create_run(exp, start_time=t0 + k, run_name=name, tags=tags).info.run_id
        for key, v in {**FACTORS, "dr": dr}.items():
            client.log_param(rid, key, v)
        preds = pd.concat(
            [_samples("dev", "2011-06-01", 10, dev_right), _samples("test", "2020-06-01", *test_n)]
        )
        (root / name).mkdir()
        preds.to_parquet(root / name / "predictions.parquet", index=False)
        client.log_artifact(rid, str(root / name / "predictions.parquet"))
        client.set_terminated(rid, status="FINISHED", end_time=t0 + 1000 + k)
        ids[name] = rid
    return {"root": root, "uri": uri, **ids}


@pytest.fixture(scope="module")
def report_all(store: dict) -> tuple[str, str]:
    """What ``espb report sweep --phase all`` printed, and its sweep_report.md (the default
    phase, dev, is run by tests/evaluation/sweep/test_data.py)."""
    from espb.cli.main import app

    out = store["root"] / "report_all"
    args = ["report", "sweep", "--experiment", EXPERIMENT, "--tracking-uri", store["uri"]]
    r = CliRunner().invoke(app, [*args, "--out", str(out), "--phase", "all", "--no-log"])
    assert r.exit_code == 0, r.output + repr(r.exception)
    return r.stdout, (out / "sweep_report.md").read_text()


def _best_line(md: str, label: str) -> str:
    return next(line for line in md.splitlines() if line.startswith(f"- **{label}"))


def test_best_configurations_are_chosen_on_the_development_period(
    store: dict, report_all: tuple[str, str]
) -> None:
    stdout, md = report_all
    printed = [line for line in stdout.splitlines() if line.strip().startswith("best ")]
    assert len(printed) == 2
    for line in printed:  # best overall, best M_lim 4.9
        assert store["dev_best"] in line and store["test_best"] not in line, stdout
        assert "acc 0.800 (n 10)" in line, stdout  # the development accuracy
    for label in ("best overall", "best with M_lim 4.9"):
        line = _best_line(md, label)
        assert store["dev_best"] in line and store["test_best"] not in line, md


def test_pooled_tables_are_labelled_not_used_for_selection(
    store: dict, report_all: tuple[str, str]
) -> None:
    _, md = report_all
    top = md.split("## Top 20 by accuracy over all periods", 1)[1]
    assert top.startswith(" (pooled dev+test, not used for selection)")
    first = next(line for line in top.splitlines() if line.startswith("| 1 |"))
    assert store["test_best"] in first and "0.900" in first  # pooled figures are still shown
    assert "## Best configurations (development period)" in md
    accuracy = pd.read_csv(Path(store["root"]) / "report_all" / "accuracy_by_period.csv")
    assert sorted(accuracy["n_all"]) == [20, 40]  # dev and test pooled in the table
