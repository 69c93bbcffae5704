"""Kill a run after meta-epoch k, resume it, and compare with an uninterrupted run (same seed).

The kill is a real SIGKILL (the failpoint ``after_checkpoint:K`` of espb.faults), sent by the
training process to itself right after the checkpoint of meta-epoch k is on disk and before that meta-epoch is logged to MLflow (the worst moment: the
resumed run must log the missing step itself)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

#: three smoke runs (~90 s on 2 cores); the same kill-and-resume check of every metric point is
#: tests/reliability/test_faults.py[after_checkpoint:1], which runs in make test
pytestmark = pytest.mark.slow

K = 1  # killed right after meta-epoch K's checkpoint


def _train(out: Path, *args: str, kill_after: int | None = None) -> subprocess.CompletedProcess:
    """``espb-train``; with ``kill_after`` the failpoint ``after_checkpoint:K`` (espb.faults)
    SIGKILLs it right after meta-epoch K's checkpoint is on disk."""
    env = {**os.environ, "ESPB_OUT": str(out)}
    if kill_after is not None:
        env["ESPB_FAILPOINT"] = f"after_checkpoint:{kill_after}"
    cmd = [sys.executable, "-m", "espb.cli.train", *args]
    return subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=600)


def _run_dir(out: Path) -> Path:
    (d,) = list((out / "runs" / "smoke").iterdir())
    return d


def _mlflow_steps(out: Path, run_id: str) -> dict[str, list[tuple[int, float]]]:
    from mlflow.tracking import MlflowClient

    c = MlflowClient(tracking_uri=f"sqlite:///{out / 'mlruns.db'}")
    keys = c.get_run(run_id).data.metrics.keys()
    return {k: sorted((m.step, m.value) for m in c.get_metric_history(run_id, k)) for k in keys}


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    base = tmp_path_factory.mktemp("resume")
    args = ("experiment=smoke", "run.progress=false")
    full = base / "full"
    r = _train(full, *args)
    assert r.returncode == 0, r.stderr[-3000:]
    killed = base / "killed"
    # the synthetic catalog is shared so both runs see the same data without regenerating it
    (killed / "catalogs").mkdir(parents=True)
    for f in (full / "catalogs").glob("*.parquet"):
        (killed / "catalogs" / f.name).write_bytes(f.read_bytes())
    r1 = _train(killed, *args, kill_after=K)
    assert r1.returncode == -9, f"expected SIGKILL, got {r1.returncode}: {r1.stderr[-2000:]}"
    r2 = _train(killed, *args)
    assert r2.returncode == 0, r2.stderr[-3000:]
    return full, killed, r2


def test_killed_run_left_a_checkpoint_of_meta_epoch_k(runs):
    _, killed, r2 = runs
    assert f"resumed from the checkpoint after meta-epoch {K}" in r2.stderr


def test_resumed_run_ends_with_the_same_metrics(runs):
    full, killed, _ = runs
    a = pd.read_csv(_run_dir(full) / "metrics.csv")
    b = pd.read_csv(_run_dir(killed) / "metrics.csv")
    cols = [c for c in a.columns if not c.startswith("time/")]
    assert len(a) > K + 1
    pd.testing.assert_frame_equal(a[cols], b[cols])
    pa = pd.read_parquet(_run_dir(full) / "predictions.parquet")
    pb = pd.read_parquet(_run_dir(killed) / "predictions.parquet")
    pd.testing.assert_frame_equal(pa, pb)


def test_resumed_run_logged_every_step_once_in_mlflow(runs):
    import json

    full, killed, _ = runs
    sa = json.loads((_run_dir(full) / "state.json").read_text())
    sb = json.loads((_run_dir(killed) / "state.json").read_text())
    assert sa["completed"] and sb["completed"]
    ma = _mlflow_steps(full, sa["run_id"])
    mb = _mlflow_steps(killed, sb["run_id"])
    keys = [k for k in ma if k.startswith(("val/", "train/"))]
    assert keys
    for k in keys:
        assert ma[k] == mb[k], k
        steps = [s for s, _ in mb[k]]
        assert steps == sorted(set(steps)), f"{k}: a step is missing or logged twice: {steps}"
