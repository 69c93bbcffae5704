"""Reading a sweep back from a real (temporary SQLite) MLflow store, and ``espb report sweep``."""

from __future__ import annotations

import logging
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from espb.errors import EspbError
from espb.evaluation.sweep import data as sweep_data
from espb.evaluation.sweep.data import PRED_COLUMNS, load_sweep
from tests.evaluation.sweep.test_writer import REPORT_FILES

logging.getLogger("mlflow").setLevel(logging.WARNING)
logging.getLogger("alembic").setLevel(logging.WARNING)

EXPERIMENT = "espb-test-sweep"
FACTOR_PARAMS = ("dr", "dt", "M_lim", "loss", "l_ME", "AE")


def _predictions(seed: int, n_me: int = 12) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    days = pd.date_range("2006-06-01", periods=n_me, freq="180D")
    rows = []
    for me, d in enumerate(days):
        for k in range(4):
            rows.append(
                {
                    "sample_id": me * 4 + k,
                    "row": k,
                    "col": me,
                    "meta_epoch": me,
                    "phase": "dev",
                    "date": d,
                    "label": k % 2,
                    "score": float(rng.random()),
                    "lat": 38.0,
                    "lon": 142.0,
                }
            )
    return pd.DataFrame(rows)


def _child(
    client,
    exp_id: str,
    parent: str,
    work: Path,
    name: str,
    chash: str,
    factors: dict,
    status: str,
    start: int,
    preds: pd.DataFrame | None,
) -> str:
    run = client.create_run(
        exp_id,
        start_time=start,
        run_name=name,
        tags={
            "mlflow.parentRunId": parent,
            "sweep_role": "child",
            "sweep_name": "t",
            "config_hash": chash,
        },
    )
    rid = run.info.run_id
    for k, v in factors.items():
        client.log_param(rid, k, v)
    if preds is not None:
        d = work / name
        d.mkdir(parents=True)
        preds.to_parquet(d / "predictions.parquet", index=False)
        client.log_artifact(rid, str(d / "predictions.parquet"))
    if status != "RUNNING":
        client.set_terminated(rid, status=status, end_time=start + 1000)
    return rid


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """An MLflow SQLite store like a sweep leaves it: a parent run, two finished children with
    predictions (one with an older finished duplicate of the same configuration), one running."""
    from mlflow.tracking import MlflowClient

    root = tmp_path_factory.mktemp("sweep-store")
    uri = f"sqlite:///{root}/mlruns.db"
    client = MlflowClient(tracking_uri=uri)
    exp_id = client.create_experiment(EXPERIMENT, artifact_location=(root / "mlartifacts").as_uri())
    parent = client.create_run(
        exp_id, run_name="sweep t", tags={"sweep_role": "parent", "sweep_name": "t"}
    )
    pid = parent.info.run_id
    client.log_param(pid, "grid.bvalue.dr", "0.15,0.25")
    client.log_param(pid, "grid.samples.m_lim", "4.0,4.9")
    t0 = int(time.time() * 1000) - 100_000
    a = {"dr": "0.15", "dt": "730", "M_lim": "4.0", "loss": "mae", "l_ME": "14", "AE": "False"}
    b = {"dr": "0.25", "dt": "150", "M_lim": "4.9", "loss": "bce", "l_ME": "30", "AE": "True"}
    c = {"dr": "0.15", "dt": "150", "M_lim": "4.9", "loss": "mae", "l_ME": "14", "AE": "True"}
    work = root / "work"
    old = _child(
        client, exp_id, pid, work, "a-old", "hash_a", a, "FINISHED", t0, _predictions(9, n_me=3)
    )
    ra = _child(
        client, exp_id, pid, work, "a", "hash_a", a, "FINISHED", t0 + 10_000, _predictions(1)
    )
    rb = _child(
        client, exp_id, pid, work, "b", "hash_b", b, "FINISHED", t0 + 20_000, _predictions(2)
    )
    rc = _child(client, exp_id, pid, work, "c", "hash_c", c, "RUNNING", t0 + 30_000, None)
    return {
        "root": root,
        "uri": uri,
        "parent": pid,
        "a": ra,
        "a_old": old,
        "b": rb,
        "c": rc,
        "preds_a": _predictions(1),
        "preds_b": _predictions(2),
    }


def test_load_sweep_configs_predictions_and_parent(
    store: dict, tmp_path: Path, monkeypatch
) -> None:
    monkeypatch.setattr(sweep_data, "_PAGE", 2)  # paging: 5 runs come in 3 pages
    notes: list[str] = []
    configs, preds, parent = load_sweep(
        store["uri"], EXPERIMENT, tmp_path / "dl", progress=notes.append
    )
    assert parent == store["parent"]
    cfg = configs.set_index("run_id")
    assert set(cfg.index) == {
        store["a"],
        store["b"],
        store["c"],
    }  # the older duplicate of a is dropped
    assert (
        cfg.loc[store["a"], "status"] == "FINISHED" and cfg.loc[store["c"], "status"] == "RUNNING"
    )
    assert cfg.loc[store["a"], "config_hash"] == "hash_a"
    assert list(cfg["has_predictions"].loc[[store["a"], store["b"], store["c"]]]) == [
        True,
        True,
        False,
    ]
    # factors typed from the string params
    assert cfg.loc[store["a"], "dr"] == pytest.approx(0.15) and cfg.loc[store["a"], "dt"] == 730
    assert (
        cfg.loc[store["b"], "M_lim"] == pytest.approx(4.9) and cfg.loc[store["b"], "loss"] == "bce"
    )
    assert cfg.loc[store["b"], "l_ME"] == 30
    assert not cfg.loc[store["a"], "AE"] and cfg.loc[store["b"], "AE"]
    assert configs.attrs["parent"]["params"]["grid.bvalue.dr"] == "0.15,0.25"
    # predictions: the finished runs only, with the report's columns
    assert list(preds.columns) == ["run_id", *PRED_COLUMNS]
    assert set(preds["run_id"]) == {store["a"], store["b"]}
    got_a = preds[preds["run_id"] == store["a"]].reset_index(drop=True)
    np.testing.assert_allclose(
        got_a["score"], store["preds_a"]["score"]
    )  # the newest run of hash_a
    assert (tmp_path / "dl" / store["a"] / "predictions.parquet").exists()
    assert any("predictions" in n for n in notes)
    # a second load reads the downloaded file instead of fetching it again
    local = tmp_path / "dl" / store["b"] / "predictions.parquet"
    pd.read_parquet(local).assign(score=0.25).to_parquet(local, index=False)
    _, again, _ = load_sweep(store["uri"], EXPERIMENT, tmp_path / "dl")
    assert (again.loc[again["run_id"] == store["b"], "score"] == 0.25).all()


def test_missing_experiment_and_sweep_without_children(store: dict, tmp_path: Path) -> None:
    with pytest.raises(EspbError) as e:
        load_sweep(store["uri"], "espb-no-such-sweep", tmp_path)
    msg = str(e.value)
    assert "espb-no-such-sweep" in msg and store["uri"] in msg and "run the sweep first" in msg
    assert EXPERIMENT in msg  # names what the store does hold
    # a SQLite store that does not exist is reported, not created empty
    absent = tmp_path / "absent.db"
    with pytest.raises(EspbError, match="no MLflow store.*run the sweep first"):
        load_sweep(f"sqlite:///{absent}", EXPERIMENT, tmp_path)
    assert not absent.exists()
    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracking_uri=store["uri"])
    exp_id = client.create_experiment("espb-only-parent")
    client.create_run(exp_id, tags={"sweep_role": "parent"})
    with pytest.raises(EspbError, match="espb-only-parent.*no child runs"):
        load_sweep(store["uri"], "espb-only-parent", tmp_path)


def test_cli_report_sweep_writes_and_logs_to_the_parent(store: dict, monkeypatch) -> None:
    from mlflow.tracking import MlflowClient

    from espb.cli.main import app

    monkeypatch.setenv("ESPB_OUT", str(store["root"]))  # default URI and folder come from it
    r = CliRunner().invoke(app, ["report", "sweep", "--experiment", EXPERIMENT])
    assert r.exit_code == 0, r.output + repr(r.exception)
    out = store["root"] / "reports" / EXPERIMENT
    for name in sorted(REPORT_FILES):
        assert (out / name).stat().st_size > 0, name
    assert "best overall" in r.stdout and "best M_lim 4.9" in r.stdout and str(out) in r.stdout
    md = (out / "sweep_report.md").read_text()
    assert "runs finished / expected: 2 / 4" in md and "RUNNING 1" in md
    table = pd.read_csv(out / "accuracy_by_period.csv")
    assert len(table) == 3 and table["n_all"].tolist().count(0) == 1
    client = MlflowClient(tracking_uri=store["uri"])
    logged = {Path(f.path).name for f in client.list_artifacts(store["parent"], "report")}
    assert {
        "sweep_report.md",
        "fig_c9_grid.png",
        "fig_8_trajectories.png",
        "parameter_effects.csv",
    } <= logged


def test_cli_missing_experiment_exits_2(store: dict, monkeypatch, capsys) -> None:
    from espb.cli.main import main

    monkeypatch.setattr(
        sys,
        "argv",
        [
            "espb",
            "report",
            "sweep",
            "--experiment",
            "espb-nope",
            "--tracking-uri",
            store["uri"],
            "--out",
            str(store["root"] / "x"),
        ],
    )
    with pytest.raises(SystemExit) as e:
        main()
    assert e.value.code == 2
    assert "espb-nope" in capsys.readouterr().err
