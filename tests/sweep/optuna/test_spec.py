"""The study file (espb.sweep.optuna.spec): the shipped file is valid, and every invalid
setting is a ConfigError whose message starts with its key."""

from __future__ import annotations

from pathlib import Path

import pytest

from espb.errors import ConfigError
from espb.sweep.optuna.spec import load_study_config, space_specs

SPEC = Path(__file__).resolve().parents[3] / "sweeps" / "optuna_tpe.yaml"


def test_shipped_study_file_is_valid() -> None:
    cfg = load_study_config(SPEC, [])
    specs = space_specs(cfg.space)
    assert set(specs) == {
        "bvalue.dr",
        "bvalue.dt",
        "samples.m_lim",
        "training.loss",
        "training.l_me",
        "autoencoder.enabled",
        "training.lr",
        "training.epochs",
    }
    assert specs["training.lr"] == {"type": "float", "low": 1e-5, "high": 1e-2, "log": True}
    assert specs["bvalue.dr"]["choices"] == [0.15, 0.25, 0.35, 0.65]
    assert cfg.direction == "maximize" and cfg.objective == "val_acc_cumulative"
    assert list(cfg.base_overrides) == ["experiment=sweep_demo"]
    assert str(cfg.storage).endswith("/optuna.db")


@pytest.mark.parametrize(
    ("override", "key"),
    [
        ("objective=f1", "objective"),
        ("space.training.lr.type=flaot", "space.training.lr.type"),
        ("space.training.lr.low=0", "space.training.lr.low"),
        ("space.bvalue.dt.choices=[]", "space.bvalue.dt.choices"),
        ("space.training.lr.lo=1", "space.training.lr.lo"),
        ("space.samples.m_lim=4.5", "space.samples.m_lim"),
        ("n_trial=3", "n_trial"),
        ("n_trials=0", "n_trials"),
        ("sampler.type=cmaes", "sampler.type"),
        ("heartbeat.grace_period=30", "heartbeat.grace_period"),
        ("base_overrides=experiment=smoke", "base_overrides"),
    ],
)
def test_bad_settings_name_the_key(override: str, key: str) -> None:
    with pytest.raises(ConfigError) as e:
        load_study_config(SPEC, [override])
    assert str(e.value).startswith(key + ":"), str(e.value)
