"""The two sweep files search exactly the six factors of paper Table 1 as ``espb.paper``
defines them: ``sweeps/paper_432.yaml``'s sweeper params and ``sweeps/optuna_tpe.yaml``'s space
(config keys and levels, in the paper's order)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import yaml
from omegaconf import OmegaConf

from espb.paper import FACTORS, N_CONFIGS
from espb.paths import REPO_ROOT
from espb.sweep.optuna.spec import Categorical, load_study_config

SWEEPS = REPO_ROOT / "sweeps"


def _disagreements(levels_by_key: Mapping[str, Sequence[Any]]) -> list[str]:
    """What differs between a file's factors (config key -> levels) and espb.paper.FACTORS."""
    want = {f.key: tuple(f.levels) for f in FACTORS}
    out = [f"{k}: not a factor of Table 1" for k in levels_by_key if k not in want]
    out += [f"{k}: missing" for k in want if k not in levels_by_key]
    for k, levels in want.items():
        got = tuple(levels_by_key.get(k, levels))
        same = len(got) == len(levels) and all(
            type(a) is type(b) and a == b for a, b in zip(got, levels, strict=True)
        )
        if not same:
            out.append(f"{k}: levels {got} != Table 1 {levels}")
    return out


def paper_432_levels() -> dict[str, tuple[Any, ...]]:
    """The sweeper params of paper_432.yaml, each value read as YAML (``true`` -> True)."""
    cfg = OmegaConf.load(SWEEPS / "paper_432.yaml")
    params = OmegaConf.to_container(cfg.hydra.sweeper.params)
    return {k: tuple(yaml.safe_load(x) for x in str(v).split(",")) for k, v in params.items()}


def optuna_factor_levels() -> dict[str, tuple[Any, ...]]:
    """The dimensions of optuna_tpe.yaml over the factors' config keys (a factor missing or
    misspelt there is reported missing; training.lr and training.epochs are extra settings)."""
    keys = {f.key for f in FACTORS}
    out = {}
    for k, d in load_study_config(SWEEPS / "optuna_tpe.yaml").dimensions().items():
        if k in keys:
            assert isinstance(d, Categorical), f"{k}: a factor of Table 1 must be categorical"
            out[k] = tuple(d.choices)
    return out


def test_paper_432_sweeps_the_factors_of_table_1() -> None:
    levels = paper_432_levels()
    assert _disagreements(levels) == []
    n = 1
    for v in levels.values():
        n *= len(v)
    assert n == N_CONFIGS


def test_optuna_space_holds_the_factors_of_table_1() -> None:
    assert _disagreements(optuna_factor_levels()) == []


def test_a_changed_level_or_key_is_caught() -> None:
    levels = paper_432_levels()
    assert _disagreements({**levels, "bvalue.dr": (0.15, 0.25, 0.35, 0.60)}) == [
        "bvalue.dr: levels (0.15, 0.25, 0.35, 0.6) != Table 1 (0.15, 0.25, 0.35, 0.65)"
    ]
    reordered = {**levels, "training.loss": ("bce", "mae")}
    assert _disagreements(reordered)[0].startswith("training.loss: levels")
    as_strings = {**levels, "autoencoder.enabled": ("true", "false")}
    assert _disagreements(as_strings)[0].startswith("autoencoder.enabled: levels")
    dropped = {k: v for k, v in levels.items() if k != "training.l_me"}
    assert _disagreements({**dropped, "training.lr": (1e-4,)}) == [
        "training.lr: not a factor of Table 1",
        "training.l_me: missing",
    ]
