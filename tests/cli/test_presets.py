"""The experiment presets compose, validate, and carry paper Table 2's settings."""

from __future__ import annotations

import pytest

from espb.models.classifier import CnnTcn, n_parameters
from espb.paper import FACTORS
from espb.training.plan import plan_run
from tests.conftest import EXPERIMENTS
from tests.conftest import compose_train as _cfg


def _six(cfg):
    from omegaconf import OmegaConf

    return {f.short: OmegaConf.select(cfg, f.key) for f in FACTORS}


def test_every_experiment_preset_is_tested():
    assert {"demo", "smoke", "paper_model14_9", "paper_model14_0", "sweep_demo"} <= set(EXPERIMENTS)


@pytest.mark.parametrize("preset", EXPERIMENTS)
def test_preset_composes_and_validates(preset):
    """Every conf/experiment/*.yaml composes and every config group validates through its
    schema (espb.training.plan.settings_of); a new preset is tested without a new line here."""
    cfg = _cfg(f"experiment={preset}")
    assert cfg.name == preset
    plan = plan_run(cfg)
    assert plan.run_dir.name == plan.hash


def test_paper_table_2():
    m149 = _six(_cfg("experiment=paper_model14_9"))
    assert m149 == {"dr": 0.60, "dt": 365, "M_lim": 4.9, "loss": "mae", "l_ME": 14, "AE": True}
    m140 = _six(_cfg("experiment=paper_model14_0"))
    assert m140 == {"dr": 0.15, "dt": 730, "M_lim": 4.0, "loss": "mae", "l_ME": 14, "AE": False}
    for p in ("paper_model14_9", "paper_model14_0"):
        cfg = _cfg(f"experiment={p}")
        assert cfg.samples.lookback == 512 and cfg.samples.patch == 32
        assert (
            cfg.training.epochs == 20
            and cfg.training.lr == 1e-4
            and cfg.training.weight_decay == 1e-5
        )
        assert cfg.training.batch_size == 32 and cfg.training.warmup == 6
        assert cfg.bvalue.start == "2000-01-01" and cfg.bvalue.end == "2022-12-31"
        assert cfg.training.dev_end == "2019-12-31"
        assert cfg.autoencoder.n_maps == 150000 and cfg.autoencoder.patience == 50
        model = CnnTcn(cfg.samples.lookback, cfg.samples.patch, cfg.model.layout)
        assert n_parameters(model) == 8081


def test_default_is_demo():
    assert _cfg().name == "demo"
