"""A trial of the search space -> the espb-train configuration it runs.

:func:`suggest` samples every dimension on an Optuna trial (parameter names are the config
keys, ``training.lr``) and writes the values as Hydra overrides; :func:`job_overrides` puts them
after the study's own overrides; :func:`compose_job` composes ``conf/train.yaml`` with them.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from omegaconf import DictConfig, OmegaConf

from espb.errors import ConfigError
from espb.paper import short_name
from espb.sweep.optuna.spec import Categorical, Dimension, StudySpec, parse_space

if TYPE_CHECKING:
    import optuna


def hydra_value(v: object) -> str:
    """A value as it is written in a Hydra override (``true``, ``null``, ``1e-05``, ``'a b'``)."""
    if v is None:
        return "null"
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int | float):
        return repr(v)
    s = str(v)
    if re.fullmatch(r"[A-Za-z0-9_.\-/:+@]+", s) and s.lower() not in ("true", "false", "null"):
        return s
    return "'" + s.replace("\\", "\\\\").replace("'", "\\'") + "'"


def _sample(trial: optuna.trial.Trial, key: str, d: Dimension) -> Any:
    if isinstance(d, Categorical):
        return trial.suggest_categorical(key, d.choices)
    if d.type == "float":
        return trial.suggest_float(key, d.low, d.high, step=d.step, log=d.log)
    step = d.step if d.step is not None else 1
    return trial.suggest_int(key, d.low, d.high, step=step, log=d.log)


def suggest(trial: optuna.trial.Trial, space: Mapping | DictConfig) -> list[str]:
    """Sample every dimension of ``space`` on ``trial`` (parameter names are the config keys,
    e.g. ``training.lr``); returns the matching Hydra overrides (``training.lr=0.00031``)."""
    return [f"{key}={hydra_value(_sample(trial, key, d))}" for key, d in parse_space(space).items()]


def job_overrides(
    spec: StudySpec, suggested: Sequence[str] = (), tracking_uri: str | None = None
) -> list[str]:
    """The espb-train overrides of one trial: the study's run name, quiet single-thread running,
    ``base_overrides`` (which may change the last two), the sampled values, the MLflow parent
    (``sweep.name``) and the tracking URI."""
    ov = [
        f"name={spec.run_name}",
        "run.progress=false",
        "run.threads=1",
        *[str(o) for o in spec.base_overrides],
        *suggested,
        f"sweep.name={spec.study_name}",
    ]
    if tracking_uri:
        ov.append(f"tracking.uri={hydra_value(tracking_uri)}")
    return ov


def compose_job(overrides: Sequence[str]) -> DictConfig:
    """The espb-train config of ``overrides`` (conf/train.yaml); composition errors become
    :class:`ConfigError`."""
    from hydra import compose, initialize_config_dir
    from hydra.errors import HydraException
    from omegaconf.errors import OmegaConfBaseException

    from espb.paths import conf_dir

    try:
        with initialize_config_dir(config_dir=str(conf_dir()), version_base="1.3"):
            return compose("train", overrides=list(overrides))
    except (HydraException, OmegaConfBaseException) as exc:
        raise ConfigError(
            f"the trial's espb-train overrides do not compose: {exc}\n"
            f"(overrides: {' '.join(overrides)}; check base_overrides and space)"
        ) from exc


def check_space_keys(job_cfg: DictConfig, space: Mapping | DictConfig) -> None:
    """Every dimension of ``space`` must be a setting of the composed espb-train config."""
    missing = object()
    for key in parse_space(space):
        if OmegaConf.select(job_cfg, key, default=missing) is missing:
            raise ConfigError(
                f"space.{key}: '{key}' is not an espb-train setting (no such key in the "
                "config composed from base_overrides)"
            )


def fmt_params(params: Mapping[str, Any]) -> str:
    """Trial parameters by short name (:func:`espb.paper.short_name`): ``dr=0.25 lr=0.00031``."""
    parts = []
    for k, v in params.items():
        val = f"{v:.3g}" if isinstance(v, float) and not float(v).is_integer() else str(v)
        parts.append(f"{short_name(k)}={val}")
    return " ".join(parts)
