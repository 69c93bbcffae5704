"""The sweep report with seed replicates (training.seeds): a "Seed noise" section and its files
with three seeds, selection on seed means, and with one seed the report of before seeds, byte
for byte; through write_report and through ``espb report sweep`` on an MLflow store."""

from __future__ import annotations

import logging
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from espb.evaluation.sweep import writer
from espb.evaluation.sweep.analysis import best_configs, period_accuracy
from espb.evaluation.sweep.factors import describe_config
from espb.evaluation.sweep.report import report_sweep, sweep_tables
from espb.evaluation.sweep.writer import write_report
from tests.evaluation.sweep.test_writer import PNG, REPORT_FILES, _small_sweep

logging.getLogger("mlflow").setLevel(logging.WARNING)
logging.getLogger("alembic").setLevel(logging.WARNING)

BEFORE = set(REPORT_FILES)
SEED_FILES = {"seed_noise.csv", "factor_vs_seed.csv", "fig_seed_noise.png"}
META = {"experiment": "espb-test", "runs finished / expected": "15 / 16"}


@pytest.fixture
def fast_figures(monkeypatch: pytest.MonkeyPatch) -> None:
    """The four paper figures as stub PNGs (drawn for real by test_writer and the one-seed
    test below; the seed-noise figure is drawn for real)."""

    def stub(*args, **kwargs) -> Path:
        path = Path(next(a for a in args if isinstance(a, Path)))
        path.write_bytes(PNG)
        return path

    for name in ("fig_parameter_effects", "fig_histograms", "fig_grid", "fig_trajectories"):
        monkeypatch.setattr(writer, name, stub)


def _replicated(n_seeds: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The small sweep of test_writer with ``n_seeds`` replicates per configuration: run ids
    ``<run>-s<seed>``, each seed's scores re-drawn for a fifth of the samples."""
    configs, preds = _small_sweep()
    cfgs, frames = [], []
    for s in range(n_seeds):
        cfgs.append(configs.assign(run_id=configs["run_id"] + f"-s{s}", seed=float(s)))
        p = preds.assign(run_id=preds["run_id"] + f"-s{s}")
        flip = np.random.default_rng(100 + s).random(len(p)) < 0.2
        p.loc[flip, "score"] = 1.0 - p.loc[flip, "score"]
        frames.append(p)
    return pd.concat(cfgs, ignore_index=True), pd.concat(frames, ignore_index=True)


def _write(configs: pd.DataFrame, preds: pd.DataFrame, out: Path) -> dict[str, Path]:
    """What report_sweep writes for these runs (phase dev), without MLflow."""
    t = sweep_tables(configs, preds, "dev")
    return write_report(t.acc, t.shown, configs, out, "Test sweep", META, seeds=t.seeds)


def test_one_seed_report_is_the_report_of_before_seeds(tmp_path: Path) -> None:
    configs, preds = _small_sweep()
    # the configurations with loss MAE and AE on (4 of 16): the figures drawn faster
    configs = configs[(configs["loss"] == "mae") & configs["AE"]].reset_index(drop=True)
    preds = preds[preds["run_id"].isin(configs["run_id"])].reset_index(drop=True)
    # before seeds: configs without a seed column, straight into period_accuracy (report_sweep)
    acc = period_accuracy(preds, configs, phase="dev")
    old = write_report(acc, preds, configs, tmp_path / "old", "Test sweep", META)
    new = _write(configs.assign(seed=0.0), preds, tmp_path / "new")
    assert set(old) == set(new) == BEFORE
    for name in BEFORE:  # the figures included
        assert new[name].read_bytes() == old[name].read_bytes(), name
    # runs from before seeds were logged (seed NaN): the same tables
    t = sweep_tables(configs.assign(seed=np.nan), preds, "dev")
    assert t.seeds is None
    pd.testing.assert_frame_equal(t.acc, acc)
    pd.testing.assert_frame_equal(t.ranked, acc)
    md = new["sweep_report.md"].read_text()
    assert "Seed noise" not in md and "seed" not in md
    assert "seed" not in pd.read_csv(new["accuracy_by_period.csv"]).columns


def test_three_seeds_add_the_section_and_rank_by_seed_means(
    tmp_path: Path, fast_figures: None
) -> None:
    configs, preds = _replicated(3)
    t = sweep_tables(configs, preds, "dev")
    assert t.seeds is not None and len(t.ranked) == 16 and len(t.selection) == 48
    paths = write_report(t.acc, t.shown, configs, tmp_path, "Test sweep", META, seeds=t.seeds)
    assert set(paths) == BEFORE | SEED_FILES
    assert paths["fig_seed_noise.png"].read_bytes()[:8] == PNG
    md = paths["sweep_report.md"].read_text()
    section = md.split("## Seed noise", 1)[1]
    assert "seed-blocked F" in section and "not corrected" in section
    assert "| M_lim | 2 |" in section and "exceeds seed spread" in section
    assert "within one pooled SD of the best mean" in section
    assert "best by seed 0 alone" in section and "](fig_seed_noise.png)" in section
    # the best configuration is chosen on seed means, with its lowest seed's run
    best = best_configs(t.ranked)["overall"]
    assert describe_config(best) == t.seeds.best and best["run_id"].endswith("-s0")
    assert describe_config(best) in md.split("## Best configurations", 1)[1].split("##")[0]
    mean = t.selection[t.selection["run_id"].str[:5] == best["run_id"][:5]]["acc_all"].mean()
    assert best["acc_all"] == pytest.approx(mean)
    top = md.split("## Top 20", 1)[1].split("##")[0]
    assert (
        sum(line.startswith("| ") for line in top.splitlines()) == 1 + 15
    )  # one per configuration
    per_run = pd.read_csv(paths["accuracy_by_period.csv"])
    assert len(per_run) == 48 and sorted(set(per_run["seed"].dropna())) == [0.0, 1.0, 2.0]
    noise = pd.read_csv(paths["seed_noise.csv"])
    assert len(noise) == 15 and (noise["n_seeds"] == 3).all()  # run03 has no predictions
    assert noise["seeds"].iloc[0] == "0;1;2" and noise["mean"].is_monotonic_decreasing
    fac = pd.read_csv(paths["factor_vs_seed.csv"])
    assert set(fac["factor"]) == {"dr", "M_lim", "loss", "AE"}
    assert (fac["df2"] == 30).all()  # 15 configurations x (3 - 1)
    assert fac.set_index("factor").loc["M_lim", "verdict"] == "exceeds seed spread"


# ------------------------------------------------------------------------- through MLflow


def _store(root: Path, seeds_per_config: dict[str, int]) -> str:
    """A SQLite store with one experiment per entry: 2 configurations x that many seeds, each
    run logging the param ``seed``."""
    from mlflow.tracking import MlflowClient

    uri = f"sqlite:///{root}/mlruns.db"
    client = MlflowClient(tracking_uri=uri)
    t0 = int(time.time() * 1000) - 100_000
    factors = {"dt": "150", "M_lim": "4.0", "loss": "mae", "l_ME": "14", "AE": "True"}
    for exp_name, n_seeds in seeds_per_config.items():
        exp = client.create_experiment(exp_name, artifact_location=(root / exp_name).as_uri())
        tags = {"sweep_role": "parent", "sweep_name": exp_name}
        parent = client.create_run(exp, tags=tags).info.run_id
        for k, (dr, s) in enumerate((d, s) for d in ("0.15", "0.35") for s in range(n_seeds)):
            tags = {"mlflow.parentRunId": parent, "sweep_role": "child", "config_hash": f"h{k}"}
            rid = client.create_run(exp, start_time=t0 + k, tags=tags).info.run_id
            for key, v in {**factors, "dr": dr, "seed": str(s)}.items():
                client.log_param(rid, key, v)
            n_right = (14 if dr == "0.35" else 10) + s
            label = np.arange(20) % 2
            score = np.where(np.arange(20) < n_right, label * 0.8 + 0.1, 0.9 - label * 0.8)
            d = root / "work" / exp_name / rid
            d.mkdir(parents=True)
            pd.DataFrame(
                {"meta_epoch": 0, "phase": "dev", "date": pd.Timestamp("2011-06-01")}
                | {"label": label, "score": score}
            ).to_parquet(d / "predictions.parquet", index=False)
            client.log_artifact(rid, str(d / "predictions.parquet"))
            client.set_terminated(rid, status="FINISHED", end_time=t0 + 1000 + k)
    return uri


def test_report_sweep_seed_noise_with_three_seeds_not_with_one(
    tmp_path: Path, fast_figures: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(writer, "fig_seed_noise", lambda noise, path, **kw: Path(path))
    uri = _store(tmp_path, {"espb-three": 3, "espb-one": 1})
    three = report_sweep(uri, "espb-three", tmp_path / "r3", log=False)
    one = report_sweep(uri, "espb-one", tmp_path / "r1", log=False)
    assert three.seeds is not None and one.seeds is None
    assert SEED_FILES <= set(three.paths) and not SEED_FILES & set(one.paths)
    assert "## Seed noise" in three.paths["sweep_report.md"].read_text()
    assert "Seed noise" not in one.paths["sweep_report.md"].read_text()
    # dr 0.35: 14, 15, 16 of 20 right (mean 0.75); its lowest seed's run is reported
    best = three.best["overall"]
    assert best["dr"] == pytest.approx(0.35) and best["acc_all"] == pytest.approx(0.75)
    assert best["n_seeds"] == 3 and best["run_id"] == three.seeds.configs["run_ids"][0][0]
    assert three.seeds.pooled_sd == pytest.approx(0.05)  # accuracies 1/20 apart
    assert "seed" not in pd.read_csv(one.paths["accuracy_by_period.csv"]).columns
    assert list(three.configs["seed"]).count(2.0) == 2
