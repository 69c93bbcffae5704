"""Fault injection (docs/reliability.md): a run killed with SIGKILL at each stage, then run
again, ends exactly as an undisturbed run - the same metrics and predictions - with every metric
point in MLflow exactly once and the run marked complete. The kills are real: the process sends
SIGKILL to itself at a failpoint (espb.faults)."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from tests.reliability.helpers import client, metric_points, run_dir_of, seed_catalog, train

#: every stage of a run where a kill leaves something behind
#: each stage is two smoke runs (~35 s on 2 cores): the mid-training kill runs in make test,
#: the other four in make test-slow
_SLOW = pytest.mark.slow
STAGES = [
    pytest.param("after_inputs", marks=_SLOW),  # catalog, cube, samples built; no MLflow run
    pytest.param("after_open_run", marks=_SLOW),  # the MLflow run exists, nothing trained
    "after_checkpoint:1",  # meta-epoch 1 on disk, not yet logged to MLflow
    pytest.param("after_outputs", marks=_SLOW),  # predictions written, summary not logged
    pytest.param("finish_metrics", marks=_SLOW),  # summary logged, not marked complete
]


@pytest.fixture(scope="module")
def undisturbed(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("faults") / "undisturbed"
    r = train(out)
    assert r.returncode == 0, r.stderr[-3000:]
    return out


def _without_time(points: dict) -> dict:
    return {k: [s for s, _ in v] for k, v in points.items()}


@pytest.mark.parametrize("stage", STAGES)
def test_a_kill_at_each_stage_then_a_rerun_ends_as_an_undisturbed_run(undisturbed, tmp_path, stage):
    out = tmp_path / "killed"
    seed_catalog(undisturbed, out)
    r1 = train(out, env={"ESPB_FAILPOINT": stage})
    assert r1.returncode == -9, (
        f"{stage}: expected SIGKILL, got {r1.returncode}: {r1.stderr[-1500:]}"
    )
    r2 = train(out)
    assert r2.returncode == 0, r2.stderr[-3000:]
    a, b = run_dir_of(undisturbed), run_dir_of(out)
    ma, mb = pd.read_csv(a / "metrics.csv"), pd.read_csv(b / "metrics.csv")
    cols = [c for c in ma.columns if not c.startswith("time/")]
    pd.testing.assert_frame_equal(ma[cols], mb[cols])
    pd.testing.assert_frame_equal(
        pd.read_parquet(a / "predictions.parquet"), pd.read_parquet(b / "predictions.parquet")
    )
    sa = json.loads((a / "state.json").read_text())
    sb = json.loads((b / "state.json").read_text())
    pa, pb = metric_points(undisturbed, sa["run_id"]), metric_points(out, sb["run_id"])
    # the same metric keys at the same steps, each point exactly once
    assert _without_time(pa) == _without_time(pb)
    for key, pts in pb.items():
        steps = [s for s, _ in pts]
        assert steps == sorted(set(steps)), f"{stage}: {key} logged twice or out of order: {steps}"
        if not key.startswith("time/"):
            assert pts == pa[key], f"{stage}: {key} differs from the undisturbed run"
    run = client(out).get_run(sb["run_id"])
    assert run.info.status == "FINISHED" and run.data.tags.get("espb_completed") == "true"
    exp = client(out).get_experiment_by_name("espb-smoke").experiment_id
    assert len(client(out).search_runs([exp])) == 1, f"{stage}: a second MLflow run was made"


def test_a_sigterm_ends_the_mlflow_run_killed_and_a_rerun_resumes(undisturbed, tmp_path):
    """A scheduler's stop (SIGTERM, e.g. SLURM's time limit) mid-training: espb-train exits 130
    with one message, its MLflow run is KILLED (not left RUNNING), and a re-run resumes it to the
    undisturbed result."""
    out = tmp_path / "terminated"
    seed_catalog(undisturbed, out)
    env = {"ESPB_FAILPOINT": "after_checkpoint:1", "ESPB_FAILPOINT_SIGNAL": "SIGTERM"}
    r1 = train(out, env=env)
    assert r1.returncode == 130, f"expected exit 130, got {r1.returncode}: {r1.stderr[-1500:]}"
    assert "espb-train: stopped (signal 15)" in r1.stderr and "Traceback" not in r1.stderr
    state = json.loads((run_dir_of(out) / "state.json").read_text())
    assert client(out).get_run(state["run_id"]).info.status == "KILLED"
    r2 = train(out)
    assert r2.returncode == 0, r2.stderr[-3000:]
    assert client(out).get_run(state["run_id"]).info.status == "FINISHED"
    a, b = run_dir_of(undisturbed), run_dir_of(out)
    ma, mb = pd.read_csv(a / "metrics.csv"), pd.read_csv(b / "metrics.csv")
    cols = [c for c in ma.columns if not c.startswith("time/")]
    pd.testing.assert_frame_equal(ma[cols], mb[cols])
