"""A trial -> espb-train overrides (espb.sweep.optuna.space): suggest() gives overrides that
compose, sampled values stay in the space, values are written as Hydra reads them."""

from __future__ import annotations

from pathlib import Path

import optuna
import pytest

from espb.errors import ConfigError
from espb.sweep.optuna.space import (
    check_space_keys,
    compose_job,
    hydra_value,
    job_overrides,
    suggest,
)
from espb.sweep.optuna.spec import load_study_config

SPEC = Path(__file__).resolve().parents[3] / "sweeps" / "optuna_tpe.yaml"


@pytest.fixture
def out(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("ESPB_OUT", str(tmp_path))
    monkeypatch.setenv("ESPB_CACHE_DIR", str(tmp_path / "cache"))
    return tmp_path


def test_suggest_gives_overrides_that_compose(out: Path) -> None:
    cfg = load_study_config(SPEC, ["objective=auc"])
    params = {
        "bvalue.dr": 0.35,
        "bvalue.dt": 730,
        "samples.m_lim": 4.0,
        "training.loss": "bce",
        "training.l_me": 50,
        "autoencoder.enabled": False,
        "training.lr": 3e-4,
        "training.epochs": 3,
    }
    ov = suggest(optuna.trial.FixedTrial(params), cfg.space)
    assert ov == [
        "bvalue.dr=0.35",
        "bvalue.dt=730",
        "samples.m_lim=4.0",
        "training.loss=bce",
        "training.l_me=50",
        "training.lr=0.0003",
        "training.epochs=3",
        "autoencoder.enabled=false",
    ]
    job = compose_job(job_overrides(cfg, ov, "http://127.0.0.1:5000"))
    assert job.name == "optuna_tpe_demo" and job.sweep.name == "tpe_demo"
    assert job.bvalue.dr == 0.35 and job.bvalue.dt == 730 and job.samples.m_lim == 4.0
    assert job.training.loss == "bce" and job.training.lr == 3e-4 and job.training.epochs == 3
    assert job.autoencoder.enabled is False and job.bvalue.name == "sweep_demo"  # the base preset
    assert job.tracking.uri == "http://127.0.0.1:5000" and job.run.progress is False
    with pytest.raises(ConfigError, match=r"^space\.training\.lrr:"):
        check_space_keys(job, {"training": {"lrr": {"type": "float", "low": 1e-4, "high": 1e-2}}})


def test_sampled_values_are_in_the_space() -> None:
    cfg = load_study_config(SPEC, [])
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=1))
    for _ in range(5):
        ov = dict(o.split("=", 1) for o in suggest(study.ask(), cfg.space))
        assert ov["bvalue.dr"] in {"0.15", "0.25", "0.35", "0.65"}
        assert ov["autoencoder.enabled"] in {"true", "false"}
        assert 1e-5 <= float(ov["training.lr"]) <= 1e-2 and 1 <= int(ov["training.epochs"]) <= 4


def test_hydra_value_quotes_what_hydra_would_misread() -> None:
    assert [hydra_value(v) for v in (True, None, 1e-5, 4, "mae")] == [
        "true",
        "null",
        "1e-05",
        "4",
        "mae",
    ]
    assert hydra_value("a b") == "'a b'" and hydra_value("true") == "'true'"
