"""``espb forecast RUN``, ``espb report forecast`` and the espb-train forecast finisher end to
end on one smoke run (issue 14, docs/forecasts.md "Commands"): the finisher forecasts and logs
at the end of training, the ``forecast`` node is not part of the config hash, the command
scores a run folder (its AUC checked against scikit-learn on the cube it wrote), and a folder
that is not a finished run is one line on stderr with exit code 2."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import xarray as xr
import zarr
from sklearn.metrics import roc_auc_score

from espb.cli.main import main
from tests.conftest import compose_train

FAST = ["forecast.n_boot=20", "forecast.csep_simulations=10"]
LABEL = "dev-time_forward-prior_shift"


def _compose(out: Path, *overrides: str):
    return compose_train(
        "experiment=smoke", f"out_dir={out}", f"cache_dir={out / 'cache'}", "run.progress=false",
        *overrides,
    )  # fmt: skip


def espb(capsys, monkeypatch, *args: str) -> tuple[int, str, str]:
    """Run the console entry point (EspbError -> exit 2) in-process: (code, stdout, stderr)."""
    monkeypatch.setattr(sys, "argv", ["espb", *args])
    code = 0
    try:
        main()
    except SystemExit as exc:
        code = int(exc.code or 0)
    cap = capsys.readouterr()
    return code, cap.out, cap.err


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """One smoke run trained with the finisher on (development period, few replicates)."""
    from espb.cli.train import main_task

    out = tmp_path_factory.mktemp("fcli")
    main_task(_compose(out, "forecast.enabled=true", "forecast.period=dev", *FAST))
    (run_dir,) = list((out / "runs" / "smoke").iterdir())
    return out, run_dir


def _mlflow_run(out: Path, run_dir: Path):
    from mlflow.tracking import MlflowClient

    state = json.loads((run_dir / "state.json").read_text())
    client = MlflowClient(tracking_uri=f"sqlite:///{out / 'mlruns.db'}")
    return client.get_run(state["run_id"])


def test_forecast_node_is_not_in_the_config_hash(tmp_path) -> None:
    from espb.training.plan import plan_run

    base = plan_run(_compose(tmp_path)).run_dir.name
    on = plan_run(_compose(tmp_path, "forecast.enabled=true", "forecast.period=test", *FAST))
    assert on.run_dir.name == base
    # a training setting does change it (the comparison can fail)
    assert plan_run(_compose(tmp_path, "training.epochs=3")).run_dir.name != base


def test_bad_forecast_node_is_refused_before_training(tmp_path) -> None:
    from espb.cli.train import main_task
    from espb.errors import ConfigError

    with pytest.raises(ConfigError, match="forecast.period"):
        main_task(_compose(tmp_path, "forecast.enabled=true", "forecast.period=later"))
    assert not (tmp_path / "runs").exists()


def test_finisher_forecasts_and_logs_the_run(run) -> None:
    out, run_dir = run
    r = _mlflow_run(out, run_dir)
    m = r.data.metrics
    assert r.info.status == "FINISHED" and r.data.tags.get("espb_completed") == "true"
    assert "forecast_error" not in r.data.tags
    assert r.data.tags[f"forecast/{LABEL}/model"] == "model"
    for f in ("model", "uniform", "spatial", "recent", "oracle"):
        assert np.isfinite(m[f"forecast/dev/{f}/ig_nats"]), f
        assert 0 <= m[f"forecast/dev/{f}/auc"] <= 1
    assert m["forecast/dev/spatial/ig_nats"] == 0.0  # the reference
    assert m["forecast/dev/n_targets"] >= 2
    assert "forecast/test/n_targets" not in m  # period=dev
    folder = run_dir / "forecast" / LABEL
    assert (folder / "forecast.md").read_text().startswith("# Forecast evaluation")
    assert (folder / "molchan_dev.png").read_bytes()[:4] == b"\x89PNG"


def test_finisher_on_a_run_finished_before(run) -> None:
    """Re-running a finished configuration with another forecast setting trains nothing and
    forecasts it (a sweep re-run with forecast.enabled=true); the same again logs nothing."""
    from espb.cli.train import main_task

    out, run_dir = run
    snap = ["forecast.enabled=true", "forecast.period=dev", "forecast.snapshot=latest", *FAST]
    before = _mlflow_run(out, run_dir).data.metrics
    main_task(_compose(out, *snap))
    r = _mlflow_run(out, run_dir)
    assert r.data.tags["forecast/dev-latest-prior_shift/model"] == "model_latest_prior_shift"
    assert np.isfinite(r.data.metrics["forecast/dev/model_latest_prior_shift/ig_nats"])
    assert {k: v for k, v in r.data.metrics.items() if k in before} == before
    assert (run_dir / "forecast" / "dev-latest-prior_shift" / "forecast.md").is_file()
    assert len(list((out / "runs" / "smoke").iterdir())) == 1  # same config hash, same folder


def test_command_scores_the_run(run, capsys, monkeypatch) -> None:
    out, run_dir = run
    code, text, err = espb(
        capsys, monkeypatch, "forecast", str(run_dir), "--period", "all", "--n-boot", "20",
        "--csep-simulations", "10", "--cache-dir", str(out / "cache"),
    )  # fmt: skip
    assert code == 0, err
    assert "dev period" in text and "model" in text and "recent" in text
    folder = run_dir / "forecast" / "all-time_forward-prior_shift"
    summ = json.loads((folder / "summary.json").read_text())
    dev = summ["periods"]["dev"]
    scores = pd.read_csv(folder / "scores_dev.csv").set_index(["forecast", "score"])
    assert int(scores.loc[("model", "auc"), "n_targets"]) == dev["targets"]
    # the model's AUC, recomputed with scikit-learn from the cube the command wrote and the
    # targets of the run's catalog on the eligible cells of the scored days
    from espb.forecast.run_inputs import load_run_inputs, read_config
    from espb.forecast.targets import Eligible, target_cube

    cfg = read_config(run_dir)
    inp = load_run_inputs(run_dir, cfg, lambda s: None)
    elig = Eligible.of(inp.grid, int(cfg["samples"]["lookback"]), int(cfg["samples"]["patch"]))
    ds = xr.open_zarr(
        zarr.storage.ZipStore(folder / "forecast_cube.zarr.zip", mode="r"), consolidated=False
    )
    first, last = pd.Timestamp(dev["first"]), pd.Timestamp(dev["last"])
    sel = ds.sel(time=slice(first, last))
    box = (slice(elig.row_lo, elig.row_hi + 1), slice(elig.col_lo, elig.col_hi + 1))
    p = sel["probability"].values[(slice(None), *box)]
    days = inp.grid.day_of(first) + np.arange(p.shape[0])
    y = target_cube(inp.events, inp.grid, float(cfg["samples"]["eq_min_mag"]))[days][
        (slice(None), *box)
    ]
    keep = (sel["snapshot"].values >= 0)[:, None, None] & np.ones_like(p, bool)
    assert int(y[keep].sum()) == dev["targets"] and int(keep.sum()) == dev["cell_days"]
    want = roc_auc_score(y[keep].ravel(), p[keep].ravel())
    assert scores.loc[("model", "auc"), "value"] == pytest.approx(want, abs=1e-9)


def test_report_forecast_table(run, capsys, monkeypatch, tmp_path) -> None:
    out, run_dir = run
    code, text, err = espb(
        capsys, monkeypatch, "report", "forecast", str(run_dir), "-o", str(tmp_path)
    )
    assert code == 0, err
    long = pd.read_csv(tmp_path / "forecast_comparison.csv")
    m = _mlflow_run(out, run_dir).data.metrics
    got = long.query("period == 'dev' and forecast == 'model' and score == 'ig_nats'")
    assert got["value"].item() == pytest.approx(m["forecast/dev/model/ig_nats"])
    # the finisher's variant of the run finished before is a row of its own
    want = {"model", "model_latest_prior_shift", "uniform", "spatial", "recent", "oracle"}
    assert set(long["forecast"]) == want
    assert "IG/target" in (tmp_path / "forecast_comparison.md").read_text()


def test_not_a_finished_run_is_exit_2(run, capsys, monkeypatch, tmp_path) -> None:
    _, run_dir = run
    code, _, err = espb(capsys, monkeypatch, "forecast", str(tmp_path), "--no-log")
    assert code == 2 and "no config.yaml" in err and "Traceback" not in err
    half = tmp_path / "half"
    half.mkdir()
    (half / "config.yaml").write_text((run_dir / "config.yaml").read_text())
    code, _, err = espb(capsys, monkeypatch, "forecast", str(half), "--no-log")
    assert code == 2 and "no state.json" in err and "train it first" in err
    code, _, err = espb(capsys, monkeypatch, "forecast", str(run_dir), "--period", "soon")
    assert code == 2 and "forecast.period='soon'" in err
    code, _, err = espb(capsys, monkeypatch, "report", "forecast", str(half))
    assert code == 2 and "no state.json" in err
