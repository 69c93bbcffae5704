"""A run with the autoencoder on (smoke scale): trained once per (cube, M_lim), reused, residual
blocks fed to the classifier."""

from __future__ import annotations

import json

import pytest
import torch

from tests.conftest import compose_train


def _compose(out, cache, *overrides):
    return compose_train(
        "experiment=smoke",
        f"out_dir={out}",
        f"cache_dir={cache}",
        "run.progress=false",
        "autoencoder.enabled=true",
        *overrides,
    )


def _tags(out, run_dir):
    from mlflow.tracking import MlflowClient

    st = json.loads((run_dir / "state.json").read_text())
    return (
        MlflowClient(tracking_uri=f"sqlite:///{out / 'mlruns.db'}").get_run(st["run_id"]).data.tags
    )


@pytest.fixture(scope="module")
def ae_runs(tmp_path_factory):
    from espb.cli.train import main_task

    out = tmp_path_factory.mktemp("ae")
    cache = out / "cache"
    main_task(_compose(out, cache))
    main_task(_compose(out, cache, "training.loss=bce"))
    main_task(_compose(out, cache, "autoencoder.period=time_forward"))
    runs = sorted((out / "runs" / "smoke").iterdir(), key=lambda p: p.stat().st_mtime)
    return out, cache, runs


def test_one_autoencoder_per_cube_and_mlim_is_reused(ae_runs):
    out, cache, runs = ae_runs
    assert len(runs) == 3
    keys = [_tags(out, r)["autoencoder_key"] for r in runs]
    assert keys[0] == keys[1] != "off"  # the loss does not change the autoencoder
    assert keys[2] != keys[0]  # the time-forward one is another
    files = sorted((cache / "autoencoders").glob("ae-*.pt"))
    assert len(files) == 2
    info = torch.load(files[0], weights_only=True)["info"]
    assert info["n_train"] + info["n_val"] == 2000 and info["n_val"] == 400  # 80/20 split


def test_autoencoder_changes_what_the_classifier_sees(ae_runs, tmp_path):
    import pandas as pd

    from espb.cli.train import main_task

    out, cache, runs = ae_runs
    main_task(_compose(out, cache, "autoencoder.enabled=false"))
    off = max((out / "runs" / "smoke").iterdir(), key=lambda p: p.stat().st_mtime)
    a = pd.read_parquet(runs[0] / "predictions.parquet")
    b = pd.read_parquet(off / "predictions.parquet")
    assert (
        a[["target", "row", "col", "label"]].to_numpy()
        == b[["target", "row", "col", "label"]].to_numpy()
    ).all()
    assert not (a["score"].to_numpy() == b["score"].to_numpy()).all()
    assert _tags(out, off)["autoencoder_key"] == "off"
