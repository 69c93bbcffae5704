"""The MLflow addresses espb prints (issue 18): training view, experiments marked as model
training, routes the installed MLflow UI knows. Fast (no browser); the browser checks are in
test_mlflow_ui.py (``make test-ui``)."""

from __future__ import annotations

import json
import re
from pathlib import Path
from urllib.parse import unquote

import mlflow
import pytest
from mlflow.tracking import MlflowClient
from typer.testing import CliRunner

from espb.tracking import (
    EXPERIMENT_KIND,
    EXPERIMENT_KIND_TAG,
    SAVED_VIEW_ID,
    SAVED_VIEW_NAME,
    SAVED_VIEW_TAG,
    TRAINING_VIEW,
    Tracker,
    compare_url,
    experiment_links,
    run_links,
    saved_view_state,
    sweep_links,
)
from espb.tracking_links import saved_view_tag_value

UI_JS = Path(mlflow.__file__).parent / "server" / "js" / "build" / "static" / "js"


def _uri(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'mlruns.db'}"


def test_a_new_experiment_is_marked_as_model_training(tmp_path):
    t = Tracker(_uri(tmp_path), "espb-x")
    exp = MlflowClient(_uri(tmp_path)).get_experiment(t.experiment_id)
    assert exp.tags[EXPERIMENT_KIND_TAG] == EXPERIMENT_KIND


def test_an_old_experiment_is_marked_when_opened_or_listed(tmp_path):
    c = MlflowClient(_uri(tmp_path))
    a = c.create_experiment("espb-old")
    b = c.create_experiment("espb-older")
    Tracker(_uri(tmp_path), "espb-old")
    assert c.get_experiment(a).tags[EXPERIMENT_KIND_TAG] == EXPERIMENT_KIND
    assert EXPERIMENT_KIND_TAG not in c.get_experiment(b).tags
    links = experiment_links(_uri(tmp_path))
    assert [n for n, _ in links] == ["espb-old", "espb-older"]
    assert c.get_experiment(b).tags[EXPERIMENT_KIND_TAG] == EXPERIMENT_KIND
    assert links[1][1] == (
        f"http://127.0.0.1:5000/#/experiments/{b}/runs?{TRAINING_VIEW}"
        f"&viewStateShareKey={SAVED_VIEW_ID}"
    )
    assert c.get_experiment(b).tags[SAVED_VIEW_TAG] == saved_view_tag_value()


def test_the_saved_view_shows_the_six_factors_and_the_summary_metrics(tmp_path):
    """The saved view (MLflow 3.17's envelope, the state as a JSON string) on a new experiment:
    the six factor params and the summary metrics a run logs, as the UI's column ids."""
    from espb.paper import FACTOR_NAMES
    from espb.training.summary import run_summary

    t = Tracker(_uri(tmp_path), "espb-v")
    tag = MlflowClient(_uri(tmp_path)).get_experiment(t.experiment_id).tags[SAVED_VIEW_TAG]
    env = json.loads(tag)
    assert env["name"] == SAVED_VIEW_NAME and isinstance(env["createdAt"], int)
    state = json.loads(env["state"])
    assert state == saved_view_state()
    cols = state["selectedColumns"]
    assert cols[:6] == [f"params.`{f}`" for f in FACTOR_NAMES]
    import pandas as pd

    pred = pd.DataFrame(
        {
            "phase": ["dev", "dev", "test", "test"],
            "label": [0, 1, 0, 1],
            "score": [0.2, 0.8, 0.4, 0.6],
            "meta_epoch": [0, 0, 1, 1],
        }
    )
    logged = {f"summary/{k}" for k in run_summary([{}, {}], pred)}
    metric_cols = [c[len("metrics.`") : -1] for c in cols if c.startswith("metrics.")]
    assert metric_cols and set(metric_cols) <= logged, set(metric_cols) - logged
    assert state["orderByKey"] == "metrics.`summary/val_acc_cumulative`"
    # opening the experiment again rewrites nothing (the tag is byte-identical)
    Tracker(_uri(tmp_path), "espb-v")
    assert MlflowClient(_uri(tmp_path)).get_experiment(t.experiment_id).tags[SAVED_VIEW_TAG] == tag


def test_run_and_sweep_links_open_the_training_view(tmp_path):
    t = Tracker(_uri(tmp_path), "espb-s")
    parent = t.ensure_parent("s", tmp_path)
    kid = t.start(run_name="kid", tags={"mlflow.parentRunId": parent})
    links = run_links(_uri(tmp_path), "espb-s", kid)
    assert links["run"].endswith(f"/#/experiments/{t.experiment_id}/runs/{kid}?{TRAINING_VIEW}")
    s = sweep_links(_uri(tmp_path), "espb-s", "s", [kid])
    assert s["parent run"].endswith(f"/runs/{parent}?{TRAINING_VIEW}")
    (cmp_key,) = [k for k in s if k.startswith("compare")]
    q = dict(p.split("=", 1) for p in s[cmp_key].split("?", 1)[1].split("&"))
    assert json.loads(unquote(q["runs"])) == [kid]
    assert json.loads(unquote(q["experiments"])) == [t.experiment_id]
    assert sweep_links(_uri(tmp_path), "espb-none", "s") == {}


def test_compare_url_lists_every_run():
    u = compare_url("http://h:1", "7", ["a", "b"])
    assert u.startswith("http://h:1/#/compare-runs?runs=") and u.endswith(TRAINING_VIEW)
    assert json.loads(unquote(re.search(r"runs=([^&]+)", u).group(1))) == ["a", "b"]


@pytest.mark.skipif(not UI_JS.is_dir(), reason="this MLflow ships no UI bundle")
def test_the_installed_mlflow_ui_knows_these_routes():
    """Fails when an MLflow upgrade renames the routes or the view switch espb's links use."""
    text = "".join(p.read_text(errors="ignore") for p in UI_JS.glob("*.js"))
    for needle in (
        '"/experiments/:experimentId/runs/:runUuid"',
        '"/experiments/:experimentId/runs"',
        '"/compare-runs"',
        '"workflowType"',
        'MACHINE_LEARNING="machine_learning"',
        EXPERIMENT_KIND,
        EXPERIMENT_KIND_TAG,
        # the saved views: tag prefix, URL key, the envelope the UI parses, column ids
        '"mlflow.sharedViewState."',
        '"viewStateShareKey"',
        "Invalid saved-view envelope",
        '"selectedColumns","columnOrder"',
        'e+".`"+t+"`"',
        '["searchFilter","orderByKey","orderByAsc"',
    ):
        assert needle in text, needle


def test_links_command(tmp_path):
    from espb.cli.main import app

    r = CliRunner().invoke(app, ["links", "--store", str(tmp_path / "none.db")])
    assert r.exit_code != 0 and "no MLflow store there" in str(r.exception or r.output)
    Tracker(_uri(tmp_path), "espb-demo")
    r = CliRunner().invoke(app, ["links", "--store", str(tmp_path / "mlruns.db")])
    assert r.exit_code == 0, r.output
    assert "espb-demo" in r.output and TRAINING_VIEW in r.output


def test_run_names_carry_the_six_factors_in_the_paper_notation(smoke_cfg, tmp_path):
    """The runs table shows run names by default: the factors are readable there unpicked."""
    from espb.training.plan import plan_run
    from espb.training.tracked import run_name

    smoke_cfg = smoke_cfg(tmp_path)
    plan = plan_run(smoke_cfg)

    name = run_name(plan)
    assert name.startswith(f"{plan.name}-{plan.hash[:8]} [")
    dt, dr, m, loss, l_me, ae = name.split(" [", 1)[1].rstrip("]").split(", ")
    assert dt == f"{smoke_cfg.bvalue.dt:g}d" and dr == f"{smoke_cfg.bvalue.dr:g}°"
    assert m == f"{smoke_cfg.samples.m_lim:.1f}" and loss == smoke_cfg.training.loss.upper()
    assert l_me == f"{smoke_cfg.training.l_me:g}d"
    assert ae == ("ON" if smoke_cfg.autoencoder.enabled else "OFF")
