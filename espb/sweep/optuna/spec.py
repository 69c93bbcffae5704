"""The study file (``sweeps/optuna_tpe.yaml``): its typed schema and how it is read.

The file is loaded by :func:`espb.config.load_config` onto :class:`StudySpec` (defaults, then
the YAML, then dotlist overrides); a misspelt key or a wrong type is a :class:`ConfigError` that
names the key first (``sampler.seed: ...``, ``space.training.lr.lo: unknown setting; ...``). The
rules that span fields (``heartbeat.grace_period`` above ``heartbeat.interval``, a log scale
above 0) are the ``validate``/``check`` methods. The search space is nested like the espb-train
config; each dimension is read onto :class:`Categorical`, :class:`FloatRange` or
:class:`IntRange` by its ``type``.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from omegaconf import MISSING, DictConfig, OmegaConf
from omegaconf.errors import (
    ConfigKeyError,
    MissingMandatoryValue,
    OmegaConfBaseException,
    ValidationError,
)

from espb.config import from_node, load_config
from espb.errors import ConfigError
from espb.paths import REPO_ROOT

T = TypeVar("T")

#: ``objective`` setting -> the key of the run summary (espb.training.summary.run_summary)
OBJECTIVES = {"val_acc_cumulative": "val_acc_cumulative", "auc": "val_auc_pooled"}
_NAME = re.compile(r"[A-Za-z0-9_.\-]+")
#: what a setting should look like, added to a type error on it
_HINTS = {
    "base_overrides": "give a list of espb-train overrides (e.g. [experiment=sweep_demo])",
    "storage": "give a database URL (e.g. sqlite:////abs/optuna.db)",
    "tracking_uri": "give a URI string or null",
}


@dataclass
class SamplerSpec:
    """``sampler``: the Optuna sampler of every worker (Optuna's defaults where null)."""

    type: str = "tpe"
    seed: int | None = None
    n_startup_trials: int | None = None
    multivariate: bool | None = None
    constant_liar: bool | None = None
    n_ei_candidates: int | None = None

    def validate(self) -> None:
        if self.type not in ("tpe", "random"):
            raise ConfigError(f"sampler.type: {self.type!r} is not tpe or random")
        for k in ("seed", "n_startup_trials", "n_ei_candidates"):
            v = getattr(self, k)
            if v is not None and v < 0:
                raise ConfigError(f"sampler.{k}: {v!r} is not a non-negative integer or null")

    def settings(self) -> dict[str, Any]:
        """The settings given (not null), as the MLflow parent run logs them."""
        return {k: v for k, v in dataclasses.asdict(self).items() if v is not None}


@dataclass
class HeartbeatSpec:
    """``heartbeat``: crashed-worker detection (docs/optuna.md, "Stopping and continuing")."""

    interval: int = 60
    grace_period: int | None = None
    max_retry: int | None = 3

    def validate(self) -> None:
        if self.interval < 1:
            raise ConfigError(
                f"heartbeat.interval: {self.interval!r} is not a positive number of seconds"
            )
        gp = self.grace_period
        if gp is not None and gp <= self.interval:
            raise ConfigError(
                f"heartbeat.grace_period: {gp!r} must be an integer number of seconds "
                f"above heartbeat.interval ({self.interval}), or null (2 x interval)"
            )
        if self.max_retry is not None and self.max_retry < 0:
            raise ConfigError(
                f"heartbeat.max_retry: {self.max_retry!r} is not a non-negative integer or null"
            )


@dataclass
class Categorical:
    """A categorical dimension: ``{type: categorical, choices: [...]}``."""

    type: str = "categorical"
    choices: list[Any] = MISSING

    def check(self, where: str) -> None:
        if not self.choices:
            raise ConfigError(f"{where}.choices: {self.choices!r} is not a non-empty list")
        for c in self.choices:
            if c is not None and not isinstance(c, bool | int | float | str):
                raise ConfigError(f"{where}.choices: {c!r} is not a number, string, bool or null")

    def as_dict(self) -> dict[str, Any]:
        return {"type": self.type, "choices": list(self.choices)}


class _Range:
    """The rules of a numeric dimension (:class:`FloatRange`, :class:`IntRange`)."""

    type: str
    low: float
    high: float
    log: bool
    step: float | None

    def check(self, where: str) -> None:
        lo, hi, step, kind = self.low, self.high, self.step, self.type
        if lo > hi or (kind == "float" and lo == hi):
            raise ConfigError(f"{where}: low ({lo}) must be below high ({hi})")
        if self.log and lo <= 0:
            raise ConfigError(f"{where}.low: {lo} must be > 0 on a log scale")
        if step is not None and step <= 0:
            what = "integer" if kind == "int" else "number"
            raise ConfigError(f"{where}.step: {step!r} is not a positive {what}")
        if step is not None and self.log and not (kind == "int" and step == 1):
            raise ConfigError(f"{where}: step and log cannot be combined")

    def as_dict(self) -> dict[str, Any]:
        out = {"type": self.type, "low": self.low, "high": self.high, "log": self.log}
        if self.step is not None:
            out["step"] = self.step
        return out


@dataclass
class FloatRange(_Range):
    """A float dimension: ``{type: float, low, high, log, step}``."""

    type: str = "float"
    low: float = MISSING
    high: float = MISSING
    log: bool = False
    step: float | None = None


@dataclass
class IntRange(_Range):
    """An integer dimension: ``{type: int, low, high, log, step}``."""

    type: str = "int"
    low: int = MISSING
    high: int = MISSING
    log: bool = False
    step: int | None = None


Dimension = Categorical | FloatRange | IntRange
#: a dimension's schema by its ``type``
DIMENSIONS: dict[str, type] = {"categorical": Categorical, "float": FloatRange, "int": IntRange}


@dataclass
class StudySpec:
    """A study file (docs/optuna.md, "The study file")."""

    study_name: str = MISSING
    storage: str = MISSING
    n_trials: int = MISSING
    space: dict[str, Any] = MISSING
    direction: str = "maximize"
    objective: str = "val_acc_cumulative"
    #: espb-train ``name`` of the trials (default: ``study_name``)
    name: str | None = None
    tracking_uri: str | None = None
    sampler: SamplerSpec = field(default_factory=SamplerSpec)
    heartbeat: HeartbeatSpec = field(default_factory=HeartbeatSpec)
    base_overrides: list[str] = field(default_factory=list)
    #: the file with its overrides as YAML, interpolations kept (``${oc.env:...}``): the copy
    #: the worker processes read resolves in their environment, and no password is written out
    source: str = field(default="", repr=False, compare=False, metadata={"omegaconf_ignore": True})

    @property
    def run_name(self) -> str:
        return self.name if self.name is not None else self.study_name

    @property
    def objective_key(self) -> str:
        """The run-summary key of the objective (``val_acc_cumulative``, ``val_auc_pooled``)."""
        return OBJECTIVES[self.objective]

    def dimensions(self) -> dict[str, Dimension]:
        return parse_space(self.space)

    def validate(self) -> None:
        for key, v in (("study_name", self.study_name), ("name", self.run_name)):
            if not _NAME.fullmatch(v):
                raise ConfigError(f"{key}: {v!r} must be letters, digits, '_', '.', '-'")
        if "://" not in self.storage:
            raise ConfigError(
                f"storage: {self.storage!r} is not a database URL (e.g. sqlite:////abs/optuna.db "
                "or postgresql://user:password@host/db)"
            )
        if self.direction not in ("maximize", "minimize"):
            raise ConfigError(f"direction: {self.direction!r} is not maximize or minimize")
        if self.objective not in OBJECTIVES:
            raise ConfigError(
                f"objective: {self.objective!r} is not one of {', '.join(OBJECTIVES)} "
                "(auc: the pooled validation ROC AUC)"
            )
        if self.n_trials < 1:
            raise ConfigError(f"n_trials: {self.n_trials!r} is not a positive integer")
        self.sampler.validate()
        self.heartbeat.validate()
        self.dimensions()

    def to_yaml(self) -> str:
        """The study file workers read: :attr:`source`, else these settings."""
        return self.source or OmegaConf.to_yaml(OmegaConf.structured(self))


def _fields(schema: type) -> list[dataclasses.Field]:
    return [f for f in dataclasses.fields(schema) if not f.metadata.get("omegaconf_ignore")]


def keyed(exc: ConfigError, prefix: str = "", where: str = "") -> ConfigError:
    """A loader error (``espb.config``) re-worded to name the full key first: the OmegaConf
    error behind it carries the key (``sampler.seed``) and the schema it was read onto."""
    cause = exc.__cause__
    if not isinstance(cause, OmegaConfBaseException):
        return exc
    msg = str(getattr(cause, "msg", "") or cause).splitlines()[0]
    if not cause.full_key:
        return ConfigError(f"{where or prefix.rstrip('.') or 'study file'}: {msg}")
    key = f"{prefix}{cause.full_key}"
    obj = getattr(cause, "object_type", None)
    if isinstance(cause, ConfigKeyError) and dataclasses.is_dataclass(obj):
        known = ", ".join(f.name for f in _fields(obj))
        return ConfigError(f"{key}: unknown setting; known: {known}")
    if isinstance(cause, MissingMandatoryValue):
        return ConfigError(f"{key}: required setting missing in {where or 'the study file'}")
    hint = _HINTS.get(key) if isinstance(cause, ValidationError) else None
    return ConfigError(f"{key}: {msg}" + (f"; {hint}" if hint else ""))


def typed(schema: type[T], node: Any, prefix: str) -> T:
    """``node`` read onto ``schema`` by :func:`espb.config.from_node`; errors name the key
    (``prefix`` + the key inside ``node``)."""
    try:
        return from_node(schema, node, prefix.rstrip("."))
    except ConfigError as exc:
        raise keyed(exc, prefix) from exc


def spec_path(path: str | Path) -> Path:
    """A study file: a path, or a name in ``sweeps/`` (``optuna_tpe`` -> sweeps/optuna_tpe.yaml)."""
    p = Path(path)
    if p.is_file():
        return p.resolve()
    cand = REPO_ROOT / "sweeps" / f"{path}.yaml"
    if cand.is_file():
        return cand
    raise ConfigError(
        f"study file {path!r} not found (give a YAML file, or a name in {cand.parent})"
    )


def _source(f: Path, overrides: Sequence[str]) -> DictConfig:
    """The file with ``overrides`` merged, untyped and unresolved (for :attr:`StudySpec.source`);
    a file that is not YAML or not a mapping, and an override that is not KEY=VALUE, are errors."""
    try:
        cfg = OmegaConf.load(f)
    except Exception as exc:
        raise ConfigError(f"study file {f}: cannot read it as YAML: {exc}") from exc
    if not isinstance(cfg, DictConfig):
        raise ConfigError(f"study file {f}: expected a mapping of settings, not a list")
    for o in overrides:
        if "=" not in o:
            raise ConfigError(f"override {o!r} is not KEY=VALUE (e.g. n_trials=20)")
        try:
            cfg = OmegaConf.merge(cfg, OmegaConf.from_dotlist([o]))
        except OmegaConfBaseException as exc:
            raise ConfigError(
                f"{o.split('=', 1)[0]}: cannot apply the override {o!r}: {exc}"
            ) from exc
    return cfg


def load_study_config(path: str | Path, overrides: Sequence[str] = ()) -> StudySpec:
    """Read a study file, apply dotlist ``overrides`` (``n_trials=4``,
    ``base_overrides=[experiment=smoke]``, ``space.training.loss.choices=[mae]``) and validate
    it; :class:`ConfigError` names the key of the first invalid setting."""
    f = spec_path(path)
    source = OmegaConf.to_yaml(_source(f, overrides))
    try:
        spec = load_config(StudySpec, f, list(overrides))
    except ConfigError as exc:
        raise keyed(exc, "", str(f)) from exc
    spec.source = source
    return spec


def parse_space(space: Mapping | DictConfig) -> dict[str, Dimension]:
    """The dimensions of a search space, validated, by config key (``training.lr``).

    ``space`` is nested like the espb-train config (``{training: {lr: {type: float, ...}}}``) or
    flat (``{"training.lr": {...}}``); a mapping with a ``type`` key is one dimension, a null
    value drops a dimension."""
    if isinstance(space, DictConfig):
        space = OmegaConf.to_container(space, resolve=True)  # type: ignore[assignment]
    if not isinstance(space, Mapping):
        raise ConfigError(f"space: {space!r} is not a mapping of settings to search")
    out: dict[str, Dimension] = {}

    def walk(node: Mapping, prefix: str) -> None:
        for k, v in node.items():
            key = f"{prefix}{k}"
            if v is None:
                continue
            if not isinstance(v, Mapping):
                raise ConfigError(
                    f"space.{key}: {v!r} is not a dimension (a mapping with 'type': "
                    "categorical, float or int) nor a group of them"
                )
            if "type" in v:
                out[key] = _dimension(key, v)
            else:
                walk(v, key + ".")

    walk(space, "")
    if not out:
        raise ConfigError("space: no dimension to search (every entry is null or empty)")
    return out


def _dimension(key: str, node: Mapping) -> Dimension:
    where = f"space.{key}"
    kind = node["type"]
    schema = DIMENSIONS.get(kind) if isinstance(kind, str) else None
    if schema is None:
        raise ConfigError(f"{where}.type: {node['type']!r} is not one of {', '.join(DIMENSIONS)}")
    dim = typed(schema, dict(node), where + ".")
    dim.check(where)
    return dim


def space_specs(space: Mapping | DictConfig) -> dict[str, dict[str, Any]]:
    """The dimensions of a search space as plain settings:
    ``{"training.lr": {"type": "float", "low": 1e-05, "high": 0.01, "log": True}}``."""
    return {k: d.as_dict() for k, d in parse_space(space).items()}
