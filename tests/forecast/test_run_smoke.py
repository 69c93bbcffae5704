"""End to end on real smoke runs (autoencoder off and on): the dense, time-forward forecast
reproduces the training loop's own validation scores (``predictions.parquet``: each sample scored
by its meta-epoch's model, per block, with the residual blocks when the autoencoder is on) on
those cell-days, with the same snapshots; the run's inputs are read through the run folder."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hydra import compose, initialize_config_dir

from espb.forecast.api import forecast_run
from espb.paths import conf_dir

pytestmark = pytest.mark.slow


def _train(out, cache, *overrides):
    from espb.cli.train import main_task

    with initialize_config_dir(config_dir=str(conf_dir()), version_base="1.3"):
        cfg = compose(
            "train",
            overrides=[
                "experiment=smoke",
                f"out_dir={out}",
                f"cache_dir={cache}",
                "run.progress=false",
                *overrides,
            ],
        )
    main_task(cfg)


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    out = tmp_path_factory.mktemp("fc")
    cache = out / "cache"
    _train(out, cache)
    _train(out, cache, "autoencoder.enabled=true")
    return sorted((out / "runs" / "smoke").iterdir(), key=lambda p: p.stat().st_mtime), cache


@pytest.mark.parametrize("which", [0, 1], ids=["ae_off", "ae_on"])
def test_dense_forecast_reproduces_validation(runs, which):
    run_dirs, cache = runs
    run = run_dirs[which]
    ds = forecast_run(run, "all", cache_dir=cache, say=lambda s: None)
    assert ds.attrs["autoencoder_key"] != "off" if which else ds.attrs["autoencoder_key"] == "off"
    p = pd.read_parquet(run / "predictions.parquet")
    k = np.searchsorted(ds["time"].values, p["date"].to_numpy())
    assert (ds["time"].values[k] == p["date"].to_numpy()).all()
    np.testing.assert_array_equal(ds["snapshot"].values[k], p["meta_epoch"].to_numpy())
    got = ds["score"].values[k, p["row"].to_numpy(), p["col"].to_numpy()]
    assert np.abs(got - p["score"].to_numpy()).max() < 1e-5
    assert (ds["in_sample"].values == 0).all()
    pr = ds["probability"].values
    assert np.isfinite(pr[ds["snapshot"].values >= 0][:, 8:23, 8:23]).all()
