"""Seed replicates in one run (``training.seeds``, espb.training.replicates; issue 17): each
replicate gives what a separate run with its ``init_seed`` gives, is its own MLflow run (a child
of the sweep's parent), re-uses finished runs, and a fused run killed between two replicates'
checkpoints resumes to the uninterrupted result."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from mlflow.tracking import MlflowClient

from espb.training.plan import plan_run
from espb.training.run import run_one


def _run(smoke_cfg, out: Path, *ov: str):
    return run_one(smoke_cfg(out, *ov))


def _preds(o) -> pd.DataFrame:
    return pd.read_parquet(o.run_dir / "predictions.parquet")


def _weights(o) -> dict[str, torch.Tensor]:
    return torch.load(o.run_dir / "checkpoint.pt", weights_only=True)["model"]


def _metrics(o) -> pd.DataFrame:
    m = pd.read_csv(o.run_dir / "metrics.csv")
    return m[[c for c in m.columns if not c.startswith("time/")]]


@pytest.fixture(scope="module")
def fused_and_separate(tmp_path_factory, smoke_cfg):
    """Reference model: seeds [0, 3] fused in one run; seed 3 alone; the plain run alone."""
    base = tmp_path_factory.mktemp("replicates")
    fused = _run(smoke_cfg, base / "fused", "training.seeds=[0,3]", "+sweep.name=rep")
    alone = _run(smoke_cfg, base / "alone", "training.init_seed=3")
    plain = _run(smoke_cfg, base / "plain")
    return fused, alone, plain, base


def test_replicates_are_their_own_configurations(fused_and_separate):
    fused, alone, plain, _ = fused_and_separate
    reps = fused.replicates
    assert [r.plan.settings.training.weight_seed for r in reps] == [0, 3]
    # the replicate with the run's own seed is the plain run; the other is init_seed=3's
    assert reps[0].plan.hash == plain.plan.hash
    assert reps[1].plan.hash == alone.plan.hash != plain.plan.hash
    assert len({r.run_dir for r in reps}) == 2 and len({r.run_id for r in reps}) == 2


def test_a_fused_replicate_is_bit_identical_to_its_separate_run(fused_and_separate):
    """replicate_method=auto is ``loop`` for the reference model: the same operations per
    replicate, so the same bits (only the batches and the gathers are shared)."""
    fused, alone, plain, _ = fused_and_separate
    for rep, sep in ((fused.replicates[1], alone), (fused.replicates[0], plain)):
        pd.testing.assert_frame_equal(_preds(rep), _preds(sep))
        pd.testing.assert_frame_equal(_metrics(rep), _metrics(sep))
        wa, wb = _weights(rep), _weights(sep)
        assert wa.keys() == wb.keys()
        assert all(torch.equal(wa[k], wb[k]) for k in wa)
    # and the two seeds did train different networks
    assert not _preds(fused.replicates[0])["score"].equals(_preds(fused.replicates[1])["score"])


def test_each_replicate_is_a_child_run_of_the_sweep_parent(fused_and_separate):
    fused, *_ = fused_and_separate
    c = MlflowClient(tracking_uri=fused.tracking_uri)
    runs = [c.get_run(r.run_id) for r in fused.replicates]
    parents = {r.data.tags.get("mlflow.parentRunId") for r in runs}
    assert len(parents) == 1 and None not in parents
    assert [r.data.params["seed"] for r in runs] == ["0", "3"]
    assert all(r.info.status == "FINISHED" for r in runs)
    assert runs[1].info.run_name.endswith("seed 3") and "seed" not in runs[0].info.run_name


def test_finished_replicates_are_not_trained_again(fused_and_separate, smoke_cfg):
    """seeds [0, 3, 5] after [0, 3]: only seed 5 trains (a single run)."""
    fused, _, _, base = fused_and_separate
    more = _run(smoke_cfg, base / "fused", "training.seeds=[0,3,5]", "+sweep.name=rep")
    done = [r.already_done for r in more.replicates]
    assert done == [True, True, False]
    assert [r.run_id for r in more.replicates[:2]] == [r.run_id for r in fused.replicates]


def test_fast_model_replicates_are_bit_identical_and_grouped_close(tmp_path, smoke_cfg):
    """model.impl=fast: with ``auto`` (= loop) a fused replicate is its separate run bit for bit;
    ``grouped`` (one block-diagonal pass) is the same function to float rounding: on the smoke
    run's few steps within 1e-5 (over a long run the rounding grows: docs/training.md)."""
    ov = ("model.impl=fast",)
    alone = _run(smoke_cfg, tmp_path / "a", *ov, "training.init_seed=3")
    fused = _run(smoke_cfg, tmp_path / "f", *ov, "training.seeds=[0,3]")
    pd.testing.assert_frame_equal(_preds(fused.replicates[1]), _preds(alone))
    wa, wb = _weights(fused.replicates[1]), _weights(alone)
    assert all(torch.equal(wa[k], wb[k]) for k in wa)
    grouped = _run(
        smoke_cfg, tmp_path / "g", *ov, "training.seeds=[0,3]", "training.replicate_method=grouped"
    )
    a, b = _preds(grouped.replicates[1]), _preds(alone)
    np.testing.assert_allclose(a["score"], b["score"], rtol=0, atol=1e-5)
    pd.testing.assert_frame_equal(a.drop(columns="score"), b.drop(columns="score"))
    wa = _weights(grouped.replicates[1])
    for k in wa:
        if wa[k].is_floating_point():
            torch.testing.assert_close(wa[k], wb[k], rtol=1e-4, atol=1e-6)


def test_bad_seed_lists_are_config_errors(compose_cfg):
    from espb.errors import ConfigError

    for bad in ("training.seeds=[1,1]", "training.seeds=[]"):
        with pytest.raises(ConfigError, match="distinct seeds"):
            plan_run(compose_cfg("experiment=smoke", bad))
    with pytest.raises(ConfigError, match="init_seed"):
        plan_run(compose_cfg("experiment=smoke", "training.seeds=[0,1]", "training.init_seed=2"))


def test_init_seed_equal_to_seed_is_the_plain_run(compose_cfg):
    plain = plan_run(compose_cfg("experiment=smoke"))
    same = plan_run(compose_cfg("experiment=smoke", "training.init_seed=0"))
    other = plan_run(compose_cfg("experiment=smoke", "training.init_seed=1"))
    assert same.hash == plain.hash != other.hash


def _train_cli(out: Path, *args: str, kill: str | None = None) -> subprocess.CompletedProcess:
    env = {**os.environ, "ESPB_OUT": str(out)}
    env.pop("ESPB_FAILPOINT", None)
    if kill:
        env["ESPB_FAILPOINT"] = kill
    cmd = [sys.executable, "-m", "espb.cli.train", "experiment=smoke", "run.progress=false", *args]
    return subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=600)


@pytest.mark.slow  # three smoke runs in subprocesses (~25 s)
def test_a_fused_run_killed_between_replicates_resumes_to_the_same_result(tmp_path):
    """SIGKILL right after the *first* replicate's checkpoint of meta-epoch 1: the second is
    one meta-epoch behind. The re-run trains meta-epoch 1 for the second alone, then both;
    every replicate ends as in an uninterrupted fused run."""
    full, killed = tmp_path / "full", tmp_path / "killed"
    seeds = "training.seeds=[0,3]"
    r = _train_cli(full, seeds)
    assert r.returncode == 0, r.stderr[-3000:]
    (killed / "catalogs").mkdir(parents=True)
    for f in (full / "catalogs").glob("*.parquet"):
        (killed / "catalogs" / f.name).write_bytes(f.read_bytes())
    r1 = _train_cli(killed, seeds, kill="after_checkpoint:1")
    assert r1.returncode == -9, r1.stderr[-2000:]
    r2 = _train_cli(killed, seeds)
    assert r2.returncode == 0, r2.stderr[-3000:]
    assert "resumed from the checkpoint after meta-epoch 1 (replicate" in r2.stderr
    assert "resumed from the checkpoint after meta-epoch 0 (replicate" in r2.stderr
    for d in sorted((full / "runs" / "smoke").iterdir()):
        e = killed / "runs" / "smoke" / d.name
        pd.testing.assert_frame_equal(
            pd.read_parquet(d / "predictions.parquet"), pd.read_parquet(e / "predictions.parquet")
        )
