"""Optuna studies over espb-train configurations (``espb optuna``; docs/optuna.md).

A study file (``sweeps/optuna_tpe.yaml``) names an Optuna storage (any SQLAlchemy URL), a search
space over espb-train settings and an objective read from a trial's run summary. Each trial is
one espb-train configuration run by :func:`espb.training.run.run_one` and logged to MLflow as a
child of the study's parent run. Workers (processes on one machine, or on several machines
sharing a PostgreSQL storage) each run :func:`run_worker` on the same study until it holds
``n_trials`` COMPLETE trials; :func:`run_study` starts them and reports the best trial.

Stopping and continuing: re-running the same command continues the study. A worker stopped by
Ctrl-C or SIGTERM marks its trial FAIL and enqueues a retry with the same parameters; a worker
killed outright leaves its trial RUNNING until its heartbeat is older than the grace period,
when the next worker to start a trial marks it FAIL and enqueues the retry
(``RetryHeartbeatStaleTrialCallback``). A retried configuration resumes its training from its
last meta-epoch checkpoint (same run folder, same MLflow run).

A trial whose objective is missing or not finite (no validation predictions, an AUC with one
class) is PRUNED, not COMPLETE: it does not count towards ``n_trials``, and TPE ranks it below
every completed trial. A trial that raises (a bad setting, a crash) fails and stops its worker
with the error.
"""

from __future__ import annotations

import copy
import functools
import logging
import math
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
import warnings
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from omegaconf import DictConfig, OmegaConf

from espb.errors import ConfigError, EspbError
from espb.paths import REPO_ROOT

if TYPE_CHECKING:
    import optuna
    from optuna.trial import TrialState

#: ``objective`` setting -> the key of the run summary (espb.training.summary.run_summary)
OBJECTIVES = {"val_acc_cumulative": "val_acc_cumulative", "auc": "val_auc_pooled"}
#: the keys of a study file
TOP_KEYS = (
    "study_name",
    "storage",
    "direction",
    "objective",
    "n_trials",
    "name",
    "tracking_uri",
    "sampler",
    "heartbeat",
    "base_overrides",
    "space",
)
SAMPLER_KEYS = (
    "type",
    "seed",
    "n_startup_trials",
    "multivariate",
    "constant_liar",
    "n_ei_candidates",
)
HEARTBEAT_KEYS = ("interval", "grace_period", "max_retry")
#: the keys of one dimension of the space, by type
SPEC_KEYS = {
    "categorical": ("type", "choices"),
    "float": ("type", "low", "high", "log", "step"),
    "int": ("type", "low", "high", "log", "step"),
}
#: short names of the paper's six factors in trial tables
SHORT = {
    "bvalue.dr": "dr",
    "bvalue.dt": "dt",
    "samples.m_lim": "M_lim",
    "training.loss": "loss",
    "training.l_me": "l_ME",
    "autoencoder.enabled": "AE",
    "training.lr": "lr",
    "training.epochs": "epochs",
}

Say = Callable[[str], None]


class _Surplus(Exception):
    """A trial started while the study already had ``n_trials`` trials complete or running."""


# ---------------------------------------------------------------------------------------------
# the study file


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


def load_study_config(path: str | Path, overrides: Sequence[str] = ()) -> DictConfig:
    """Read a study file, apply dotlist ``overrides`` (``n_trials=4``,
    ``base_overrides=[experiment=smoke]``, ``space.training.loss.choices=[mae]``) and validate it.

    The returned config keeps its interpolations (``${oc.env:ESPB_OUT,outputs}``), so a copy
    written for worker processes resolves in their environment."""
    f = spec_path(path)
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
        except Exception as exc:
            raise ConfigError(
                f"{o.split('=', 1)[0]}: cannot apply the override {o!r}: {exc}"
            ) from exc
    validate_study_config(cfg, where=str(f))
    return cfg


def _resolved(cfg: DictConfig, where: str) -> dict[str, Any]:
    try:
        return OmegaConf.to_container(cfg, resolve=True)  # type: ignore[return-value]
    except Exception as exc:
        raise ConfigError(f"{where}: cannot resolve the study settings: {exc}") from exc


def _is_int(v: object) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _is_num(v: object) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool)


def _check_keys(d: Mapping, allowed: Sequence[str], prefix: str) -> None:
    for k in d:
        if k not in allowed:
            raise ConfigError(f"{prefix}{k}: unknown setting; known: {', '.join(allowed)}")


def validate_study_config(cfg: DictConfig, where: str = "study") -> None:
    """Raise :class:`ConfigError` naming the key of the first invalid setting."""
    c = _resolved(cfg, where)
    _check_keys(c, TOP_KEYS, "")
    for k in ("study_name", "storage", "n_trials", "space"):
        if c.get(k) is None:
            raise ConfigError(f"{k}: required setting missing in {where}")
    name = c["study_name"]
    if not isinstance(name, str) or not re.fullmatch(r"[A-Za-z0-9_.\-]+", name):
        raise ConfigError(f"study_name: {name!r} must be letters, digits, '_', '.', '-'")
    run_name = c.get("name", name)
    if not isinstance(run_name, str) or not re.fullmatch(r"[A-Za-z0-9_.\-]+", run_name):
        raise ConfigError(f"name: {run_name!r} must be letters, digits, '_', '.', '-'")
    storage = c["storage"]
    if not isinstance(storage, str) or "://" not in storage:
        raise ConfigError(
            f"storage: {storage!r} is not a database URL (e.g. sqlite:////abs/optuna.db "
            "or postgresql://user:password@host/db)"
        )
    if c.get("direction", "maximize") not in ("maximize", "minimize"):
        raise ConfigError(f"direction: {c['direction']!r} is not maximize or minimize")
    obj = c.get("objective", "val_acc_cumulative")
    if obj not in OBJECTIVES:
        raise ConfigError(
            f"objective: {obj!r} is not one of {', '.join(OBJECTIVES)} "
            "(auc: the pooled validation ROC AUC)"
        )
    if not _is_int(c["n_trials"]) or c["n_trials"] < 1:
        raise ConfigError(f"n_trials: {c['n_trials']!r} is not a positive integer")
    uri = c.get("tracking_uri")
    if uri is not None and not isinstance(uri, str):
        raise ConfigError(f"tracking_uri: {uri!r} is not a URI string or null")
    _check_sampler(c.get("sampler") or {})
    _check_heartbeat(c.get("heartbeat") or {})
    base = c.get("base_overrides") or []
    if not isinstance(base, list) or not all(isinstance(o, str) for o in base):
        raise ConfigError(
            f"base_overrides: {base!r} is not a list of espb-train overrides "
            "(e.g. [experiment=sweep_demo])"
        )
    space_specs(c["space"])


def _check_sampler(s: object) -> None:
    if not isinstance(s, dict):
        raise ConfigError(f"sampler: {s!r} is not a mapping")
    _check_keys(s, SAMPLER_KEYS, "sampler.")
    if s.get("type", "tpe") not in ("tpe", "random"):
        raise ConfigError(f"sampler.type: {s['type']!r} is not tpe or random")
    for k in ("seed", "n_startup_trials", "n_ei_candidates"):
        v = s.get(k)
        if v is not None and (not _is_int(v) or v < 0):
            raise ConfigError(f"sampler.{k}: {v!r} is not a non-negative integer or null")
    for k in ("multivariate", "constant_liar"):
        v = s.get(k)
        if v is not None and not isinstance(v, bool):
            raise ConfigError(f"sampler.{k}: {v!r} is not true or false")


def _check_heartbeat(h: object) -> None:
    if not isinstance(h, dict):
        raise ConfigError(f"heartbeat: {h!r} is not a mapping")
    _check_keys(h, HEARTBEAT_KEYS, "heartbeat.")
    iv = h.get("interval", 60)
    if not _is_int(iv) or iv < 1:
        raise ConfigError(f"heartbeat.interval: {iv!r} is not a positive number of seconds")
    gp = h.get("grace_period")
    if gp is not None and (not _is_int(gp) or gp <= iv):
        raise ConfigError(
            f"heartbeat.grace_period: {gp!r} must be an integer number of seconds "
            f"above heartbeat.interval ({iv}), or null (2 x interval)"
        )
    mr = h.get("max_retry")
    if mr is not None and (not _is_int(mr) or mr < 0):
        raise ConfigError(f"heartbeat.max_retry: {mr!r} is not a non-negative integer or null")


def space_specs(space: Mapping | DictConfig) -> dict[str, dict[str, Any]]:
    """The dimensions of a search space, validated: ``{"training.lr": {"type": "float", ...}}``.

    ``space`` is nested like the espb-train config (``{training: {lr: {type: float, ...}}}``) or
    flat (``{"training.lr": {...}}``); a mapping with a ``type`` key is one dimension, a null
    value drops a dimension."""
    if isinstance(space, DictConfig):
        space = OmegaConf.to_container(space, resolve=True)  # type: ignore[assignment]
    if not isinstance(space, Mapping):
        raise ConfigError(f"space: {space!r} is not a mapping of settings to search")
    out: dict[str, dict[str, Any]] = {}

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
                out[key] = _check_spec(key, dict(v))
            else:
                walk(v, key + ".")

    walk(space, "")
    if not out:
        raise ConfigError("space: no dimension to search (every entry is null or empty)")
    return out


def _check_spec(key: str, spec: dict[str, Any]) -> dict[str, Any]:
    kind = spec["type"]
    where = f"space.{key}"
    if kind not in SPEC_KEYS:
        raise ConfigError(f"{where}.type: {kind!r} is not one of {', '.join(SPEC_KEYS)}")
    _check_keys(spec, SPEC_KEYS[kind], f"{where}.")
    if kind == "categorical":
        ch = spec.get("choices")
        if not isinstance(ch, list | tuple) or not ch:
            raise ConfigError(f"{where}.choices: {ch!r} is not a non-empty list")
        for c in ch:
            if c is not None and not isinstance(c, bool | int | float | str):
                raise ConfigError(f"{where}.choices: {c!r} is not a number, string, bool or null")
        return {"type": kind, "choices": list(ch)}
    lo, hi = spec.get("low"), spec.get("high")
    check = _is_int if kind == "int" else _is_num
    for k, v in (("low", lo), ("high", hi)):
        if not check(v):
            raise ConfigError(
                f"{where}.{k}: {v!r} is not {'an integer' if kind == 'int' else 'a number'}"
            )
    if lo > hi or (kind == "float" and lo == hi):
        raise ConfigError(f"{where}: low ({lo}) must be below high ({hi})")
    log = spec.get("log", False)
    if not isinstance(log, bool):
        raise ConfigError(f"{where}.log: {log!r} is not true or false")
    if log and lo <= 0:
        raise ConfigError(f"{where}.low: {lo} must be > 0 on a log scale")
    step = spec.get("step")
    if step is not None and (not check(step) or step <= 0):
        raise ConfigError(
            f"{where}.step: {step!r} is not a positive {'integer' if kind == 'int' else 'number'}"
        )
    if step is not None and log and not (kind == "int" and step == 1):
        raise ConfigError(f"{where}: step and log cannot be combined")
    cast = int if kind == "int" else float
    out = {"type": kind, "low": cast(lo), "high": cast(hi), "log": log}
    if step is not None:
        out["step"] = cast(step)
    return out


# ---------------------------------------------------------------------------------------------
# trials -> espb-train overrides


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


def suggest(trial: optuna.trial.Trial, space: Mapping | DictConfig) -> list[str]:
    """Sample every dimension of ``space`` on ``trial`` (parameter names are the config keys,
    e.g. ``training.lr``); returns the matching Hydra overrides (``training.lr=0.00031``)."""
    overrides = []
    for key, s in space_specs(space).items():
        if s["type"] == "categorical":
            v = trial.suggest_categorical(key, s["choices"])
        elif s["type"] == "float":
            v = trial.suggest_float(key, s["low"], s["high"], step=s.get("step"), log=s["log"])
        else:
            v = trial.suggest_int(key, s["low"], s["high"], step=s.get("step", 1), log=s["log"])
        overrides.append(f"{key}={hydra_value(v)}")
    return overrides


def job_overrides(
    study_cfg: DictConfig, suggested: Sequence[str] = (), tracking_uri: str | None = None
) -> list[str]:
    """The espb-train overrides of one trial: the study's run name, quiet single-thread running,
    ``base_overrides`` (which may change the last two), the sampled values, the MLflow parent
    (``sweep.name``) and the tracking URI."""
    ov = [
        f"name={study_cfg.name}",
        "run.progress=false",
        "run.threads=1",
        *[str(o) for o in study_cfg.get("base_overrides") or []],
        *suggested,
        f"sweep.name={study_cfg.study_name}",
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
    for key in space_specs(space):
        if OmegaConf.select(job_cfg, key, default=missing) is missing:
            raise ConfigError(
                f"space.{key}: '{key}' is not an espb-train setting (no such key in the "
                "config composed from base_overrides)"
            )


# ---------------------------------------------------------------------------------------------
# storage, sampler, study


def storage_url(url: str) -> str:
    """``url`` with a relative SQLite path made absolute (its folder created), so that every
    worker started from here opens the same file."""
    from sqlalchemy.engine import make_url

    try:
        u = make_url(url)
    except Exception as exc:
        raise ConfigError(f"storage: {url!r} is not a database URL: {exc}") from exc
    if u.drivername.startswith("sqlite") and u.database and u.database != ":memory:":
        db = Path(u.database).expanduser().resolve()
        db.parent.mkdir(parents=True, exist_ok=True)
        u = u.set(database=str(db))
    return u.render_as_string(hide_password=False)


def masked(url: str) -> str:
    """``url`` with its password hidden (for logs and MLflow tags)."""
    from sqlalchemy.engine import make_url

    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:
        return re.sub(r"//([^:/@]+):[^@/]*@", r"//\1:***@", url)


def _retry_callback(max_retry: int | None) -> Callable:
    import optuna

    cls = getattr(optuna.storages, "RetryHeartbeatStaleTrialCallback", None)
    if cls is None:  # optuna < 4.9
        cls = optuna.storages.RetryFailedTrialCallback
    return cls(max_retry=max_retry)


@functools.cache
def _locked_sqlite_storage() -> type:
    """RDBStorage whose trial state changes hold a file lock next to the SQLite file.

    Optuna claims a WAITING trial (a retry) and fails a stale one with a read-then-write that
    PostgreSQL/MySQL make atomic (SELECT ... FOR UPDATE) but SQLite does not: two local workers
    could both start the same retry, or both fail (and retry) the same stale trial."""
    import optuna
    from filelock import FileLock

    class LockedSQLiteStorage(optuna.storages.RDBStorage):
        lock_path: str = ""

        def set_trial_state_values(
            self, trial_id: int, state: TrialState, values: Sequence[float] | None = None
        ) -> bool:
            with FileLock(self.lock_path):
                return super().set_trial_state_values(trial_id, state, values)

    return LockedSQLiteStorage


def make_storage(
    url: str,
    heartbeat_interval: int | None = 60,
    grace_period: int | None = None,
    max_retry: int | None = 3,
) -> optuna.storages.RDBStorage:
    """An Optuna RDB storage with a heartbeat: a RUNNING trial whose heartbeat is older than
    ``grace_period`` s (default 2 x interval) is marked FAIL when a worker next starts a trial,
    and retried with the same parameters (at most ``max_retry`` times; None: no limit).
    SQLite: trial state changes are serialised with a file lock (see _locked_sqlite_storage)."""
    import optuna
    from sqlalchemy.engine import make_url

    url = storage_url(url)
    kwargs: dict[str, Any] = {}
    if url.startswith("sqlite"):
        kwargs["engine_kwargs"] = {"connect_args": {"timeout": 60}}  # workers wait for the lock
    if heartbeat_interval:
        key = (
            "heartbeat_stale_trial_callback"
            if hasattr(optuna.storages, "RetryHeartbeatStaleTrialCallback")
            else "failed_trial_callback"
        )
        kwargs.update(
            heartbeat_interval=int(heartbeat_interval),
            grace_period=grace_period,
            **{key: _retry_callback(max_retry)},
        )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        last: Exception | None = None
        for attempt in range(3):  # two workers creating the tables of a new database at once
            try:
                if not url.startswith("sqlite"):
                    return optuna.storages.RDBStorage(url, **kwargs)
                storage = _locked_sqlite_storage()(url, **kwargs)
                storage.lock_path = f"{make_url(url).database}.lock"
                return storage
            except Exception as exc:
                last = exc
                time.sleep(0.5 + attempt)
    raise EspbError(f"Optuna storage {masked(url)}: {last}")


def make_sampler(
    sampler_cfg: Mapping, worker_id: int = 0, n_existing: int = 0
) -> optuna.samplers.BaseSampler:
    """The study's sampler. A seed is mixed with the worker id and the number of trials already
    in the study, so that parallel workers and a continued study draw different random points
    (the same ``seed`` still gives the same study from the same starting state)."""
    import numpy as np
    import optuna

    s = dict(sampler_cfg)
    seed = s.get("seed")
    if seed is not None:
        seq = np.random.SeedSequence([int(seed), abs(int(worker_id)), int(n_existing)])
        seed = int(seq.generate_state(1)[0])
    if s.get("type", "tpe") == "random":
        return optuna.samplers.RandomSampler(seed=seed)
    kwargs = {
        k: s[k]
        for k in ("n_startup_trials", "multivariate", "constant_liar", "n_ei_candidates")
        if s.get(k) is not None
    }
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        return optuna.samplers.TPESampler(seed=seed, **kwargs)


class _NoInterruptTraceback(logging.Filter):
    """Optuna logs a trial stopped by Ctrl-C with the interrupt's traceback: keep the line."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.exc_info and isinstance(record.exc_info[1], KeyboardInterrupt):
            record.exc_info, record.exc_text = None, None
        return True


def _quiet_optuna() -> None:
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    warnings.filterwarnings("ignore", category=optuna.exceptions.ExperimentalWarning)
    log = logging.getLogger("optuna.study._optimize")  # where failed trials are logged
    if not any(isinstance(f, _NoInterruptTraceback) for f in log.filters):
        log.addFilter(_NoInterruptTraceback())


def open_study(study_cfg: DictConfig, worker_id: int = 0, create: bool = True) -> optuna.Study:
    """The study of ``study_cfg`` in its storage (created if absent and ``create``), with this
    worker's sampler."""
    import optuna

    _quiet_optuna()
    hb = study_cfg.get("heartbeat") or {}
    storage = make_storage(
        str(study_cfg.storage),
        hb.get("interval", 60),
        hb.get("grace_period"),
        hb.get("max_retry", 3),
    )
    name = str(study_cfg.study_name)
    try:
        if create:
            study = optuna.create_study(
                study_name=name,
                storage=storage,
                load_if_exists=True,
                direction=str(study_cfg.get("direction", "maximize")),
            )
        else:
            study = optuna.load_study(study_name=name, storage=storage)
    except KeyError as exc:
        raise EspbError(
            f"no study '{name}' in {masked(str(study_cfg.storage))}; start it with espb optuna run"
        ) from exc
    want = str(study_cfg.get("direction", "maximize"))
    if study.direction.name.lower() != want:
        raise ConfigError(
            f"direction: the study '{name}' in its storage is {study.direction.name.lower()}, "
            f"not {want}; use another study_name"
        )
    n = len(study.get_trials(deepcopy=False))
    study.sampler = make_sampler(study_cfg.get("sampler") or {}, worker_id, n)
    return study


def state_counts(study: optuna.Study) -> dict[str, int]:
    """Trials by state name (COMPLETE, RUNNING, WAITING, PRUNED, FAIL), in that order."""
    counts = dict.fromkeys(("COMPLETE", "RUNNING", "WAITING", "PRUNED", "FAIL"), 0)
    for t in study.get_trials(deepcopy=False):
        counts[t.state.name] = counts.get(t.state.name, 0) + 1
    return counts


def _n(study: optuna.Study, *states: str) -> int:
    from optuna.trial import TrialState

    return len(study.get_trials(deepcopy=False, states=tuple(TrialState[s] for s in states)))


# ---------------------------------------------------------------------------------------------
# one trial


def _finite(v: object) -> float | None:
    try:
        f = float(v)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None
    return f if math.isfinite(f) else None


def _fmt_params(params: Mapping[str, Any]) -> str:
    parts = []
    for k, v in params.items():
        val = f"{v:.3g}" if isinstance(v, float) and not float(v).is_integer() else str(v)
        parts.append(f"{SHORT.get(k, k.rsplit('.', 1)[-1])}={val}")
    return " ".join(parts)


class Objective:
    """The objective of a worker: one espb-train configuration per trial (see the module doc).

    Sets the trial's user attributes ``worker_id``, ``worker_host``, ``overrides``,
    ``mlflow_run_id``, ``config_hash``, ``run_dir``, ``reused_run`` and ``summary``, and tags the
    MLflow run with ``optuna_study``, ``optuna_trial`` (the trial that ran it) and
    ``optuna_trials`` (every trial that asked for this configuration)."""

    def __init__(
        self,
        study_cfg: DictConfig,
        worker_id: int,
        tracking_uri: str | None = None,
        say: Say = print,
        verbose: bool = False,
    ) -> None:
        self.cfg = study_cfg
        self.worker_id = worker_id
        self.tracking_uri = tracking_uri
        self.say = say
        self.verbose = verbose
        self.key = OBJECTIVES[str(study_cfg.get("objective", "val_acc_cumulative"))]
        self.n_trials = int(study_cfg.n_trials)
        self.n_pruned = 0
        self.n_run = 0
        self.interrupted: int | None = None
        from espb.training.inputs import RunCache

        #: the worker's event table and samples, kept between its trials
        self.cache = RunCache()

    def __call__(self, trial: optuna.trial.Trial) -> float:
        """Run the trial's configuration and return its objective value."""
        try:
            return self._run(trial)
        except KeyboardInterrupt:
            self.interrupted = trial.number
            raise

    def _run(self, trial: optuna.trial.Trial) -> float:
        import optuna
        from optuna.trial import TrialState

        from espb.progress import Reporter
        from espb.training.run import run_one

        wid = self.worker_id
        trial.set_user_attr("worker_id", wid)
        trial.set_user_attr("worker_host", socket.gethostname())
        study = trial.study
        trials = study.get_trials(deepcopy=False)
        # exactly n_trials: trials complete or running ahead of this one fill the study
        ahead = sum(
            1
            for t in trials
            if t.state == TrialState.COMPLETE
            or (t.state == TrialState.RUNNING and t.number < trial.number)
        )
        if ahead >= self.n_trials:
            trial.set_user_attr("surplus", True)
            study.stop()
            raise _Surplus(
                f"{ahead} trials complete or running already fill n_trials={self.n_trials}"
            )
        t0 = time.perf_counter()
        suggested = suggest(trial, self.cfg.space)
        overrides = job_overrides(
            self.cfg, suggested, self.tracking_uri or self.cfg.get("tracking_uri")
        )
        trial.set_user_attr("overrides", " ".join(suggested))
        cfg = compose_job(overrides)
        me = next((t for t in trials if t.number == trial.number), None)
        retry = me.system_attrs.get("failed_trial") if me is not None else None
        note = f" (retry of trial {retry})" if retry is not None else ""
        self.say(f"[w{wid}] trial {trial.number}{note}: {_fmt_params(trial.params)}")
        quiet = Reporter(
            say=(lambda s: self.say(f"[w{wid} #{trial.number}] {s}"))
            if self.verbose
            else (lambda s: None)
        )
        outcome = run_one(cfg, quiet, cache=self.cache)
        res = outcome
        self.n_run += 1
        summary = {k: _finite(v) for k, v in outcome.summary.items()}
        trial.set_user_attr("mlflow_run_id", res.run_id)
        trial.set_user_attr("config_hash", res.plan.hash)
        trial.set_user_attr("run_dir", str(res.run_dir))
        trial.set_user_attr("reused_run", bool(res.already_done))
        trial.set_user_attr("summary", summary)
        self._tag_run(cfg, res.run_id, trial.number, bool(res.already_done))
        value = summary.get(self.key)
        took = time.perf_counter() - t0
        run = f"MLflow run {res.run_id[:8]}" + (", finished before" if res.already_done else "")
        if value is None:
            self.n_pruned += 1
            got = outcome.summary.get(self.key)
            msg = (
                f"objective {self.key} is missing or not finite ({got!r}); "
                "the trial is pruned (not counted)"
            )
            trial.set_user_attr("objective_missing", msg)
            self.say(f"[w{wid}] trial {trial.number}: {msg} ({took:.0f} s, {run})")
            raise optuna.TrialPruned(msg)
        self.say(f"[w{wid}] trial {trial.number}: {self.key} {value:.4f} ({took:.0f} s, {run})")
        return value

    def _tag_run(self, cfg: DictConfig, run_id: str, number: int, reused: bool) -> None:
        from mlflow.tracking import MlflowClient

        from espb.tracking import default_uri

        uri = cfg.tracking.get("uri") or default_uri(cfg.out_dir)
        client = MlflowClient(tracking_uri=str(uri))
        tags = client.get_run(run_id).data.tags
        seen = [x for x in tags.get("optuna_trials", "").split(",") if x]
        if str(number) not in seen:
            seen.append(str(number))
        new = {
            "optuna_study": str(self.cfg.study_name),
            "optuna_trials": ",".join(seen),
            "optuna_worker": str(self.worker_id),
        }
        if not reused or "optuna_trial" not in tags:
            new["optuna_trial"] = str(number)
        for k, v in new.items():
            client.set_tag(run_id, k, v)


# ---------------------------------------------------------------------------------------------
# workers


@contextmanager
def _sigterm_interrupts() -> Iterator[None]:
    """SIGTERM raises KeyboardInterrupt (like Ctrl-C) in the main thread, so a stopped worker
    marks its trial failed and enqueues its retry instead of leaving it RUNNING."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum: int, frame: object) -> None:
        raise KeyboardInterrupt(f"signal {signum}")

    old = signal.signal(signal.SIGTERM, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, old)


@contextmanager
def _signals_ignored() -> Iterator[None]:
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    old = {s: signal.signal(s, signal.SIG_IGN) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for s, h in old.items():
            signal.signal(s, h)


@dataclass
class WorkerResult:
    worker_id: int
    n_run: int
    n_pruned: int
    interrupted: bool


def _enqueue_retry(study: optuna.Study, number: int, max_retry: int | None) -> int | None:
    """Mark the interrupted trial ``number`` FAIL (if it is not yet) and enqueue its retry."""
    from optuna.trial import TrialState

    t = next((t for t in study.get_trials(deepcopy=False) if t.number == number), None)
    if t is None or t.state not in (TrialState.RUNNING, TrialState.FAIL):
        return None
    if t.state == TrialState.RUNNING:
        study._storage.set_trial_state_values(t._trial_id, state=TrialState.FAIL)
    before = len(study.get_trials(deepcopy=False))
    frozen = copy.deepcopy(study._storage.get_trial(t._trial_id))
    _retry_callback(max_retry)(study, frozen)
    return number if len(study.get_trials(deepcopy=False)) > before else None


def run_worker(
    study_cfg: DictConfig,
    worker_id: int = 0,
    tracking_uri: str | None = None,
    say: Say = print,
    verbose: bool = False,
    poll_s: float | None = None,
    ensure_parent: bool = True,
) -> WorkerResult:
    """Run trials of the study until it holds ``n_trials`` COMPLETE trials, counting every
    worker's (``MaxTrialsCallback``); while the remaining trials are running elsewhere, wait
    for them (one may fail and need replacing). Ctrl-C / SIGTERM: the running trial is marked
    FAIL, its retry enqueued, and KeyboardInterrupt propagates no further than here
    (``interrupted`` in the result). ``ensure_parent``: create the study's MLflow parent run if
    it does not exist yet (a worker started on its own)."""
    import optuna
    from optuna.study import MaxTrialsCallback
    from optuna.trial import TrialState

    # torch and the training stack, imported before the first trial (its duration stays honest)
    import espb.training.run  # noqa: F401

    # one line per trial is printed here; MLflow would add its run URLs (tracking servers)
    os.environ.setdefault("MLFLOW_SUPPRESS_PRINTING_URL_TO_STDOUT", "true")
    n_trials = int(study_cfg.n_trials)
    hb = study_cfg.get("heartbeat") or {}
    poll = poll_s if poll_s is not None else min(5.0, float(hb.get("interval", 60)))
    study = open_study(study_cfg, worker_id)
    base = compose_job(job_overrides(study_cfg, [], tracking_uri))
    check_space_keys(base, study_cfg.space)
    if tracking_uri and tracking_uri.startswith(("http://", "https://")):
        from espb.sweep.server import wait_healthy

        wait_healthy(tracking_uri, None, timeout=300)  # a server started along with the workers
    if ensure_parent:
        _ensure_parent(study_cfg, base, tracking_uri)
    objective = Objective(study_cfg, worker_id, tracking_uri, say, verbose)

    def budget(study: optuna.Study, trial: optuna.trial.FrozenTrial) -> None:
        if _n(study, "COMPLETE", "RUNNING") >= n_trials or objective.n_pruned >= n_trials:
            study.stop()

    callbacks = [MaxTrialsCallback(n_trials, states=(TrialState.COMPLETE,)), budget]
    interrupted = False
    waiting = False
    with _sigterm_interrupts():
        try:
            while True:
                optuna.storages.fail_stale_trials(study)
                complete, running = _n(study, "COMPLETE"), _n(study, "RUNNING")
                if complete >= n_trials:
                    break
                if objective.n_pruned >= n_trials:
                    say(
                        f"[w{worker_id}] stopping: {objective.n_pruned} of this worker's trials "
                        f"were pruned (objective {objective.key} missing); check the configuration"
                    )
                    break
                if complete + running >= n_trials:
                    if not waiting:
                        say(
                            f"[w{worker_id}] {complete} trials complete, {running} running "
                            "elsewhere: waiting for them"
                        )
                        waiting = True
                    time.sleep(poll)
                    continue
                waiting = False
                study.optimize(objective, n_trials=n_trials, callbacks=callbacks, catch=(_Surplus,))
        except KeyboardInterrupt:
            interrupted = True
            with _signals_ignored():
                if objective.interrupted is not None:
                    got = _enqueue_retry(study, objective.interrupted, hb.get("max_retry", 3))
                    say(
                        f"[w{worker_id}] interrupted during trial {objective.interrupted}: "
                        "marked FAIL" + ("; its retry is enqueued" if got is not None else "")
                    )
                else:
                    say(f"[w{worker_id}] interrupted")
    return WorkerResult(worker_id, objective.n_run, objective.n_pruned, interrupted)


# ---------------------------------------------------------------------------------------------
# the study: parent run, workers, report


@dataclass
class StudyRun:
    study_name: str
    n_trials: int
    counts: dict[str, int]
    best: dict[str, Any] | None
    parent_run_id: str
    experiment: str
    tracking_uri: str
    interrupted: bool = False
    worker_rcs: list[int] = field(default_factory=list)
    wall_s: float = 0.0


def best_trial(study: optuna.Study) -> dict[str, Any] | None:
    """The best COMPLETE trial: number, value, params, MLflow run id; None if there is none."""
    try:
        t = study.best_trial
    except ValueError:
        return None
    return {
        "number": t.number,
        "value": t.value,
        "params": dict(t.params),
        "run_id": t.user_attrs.get("mlflow_run_id"),
        "run_dir": t.user_attrs.get("run_dir"),
    }


def trials_table(study: optuna.Study) -> list[str]:
    """One line per trial: number, state, value, worker, seconds, MLflow run, parameters."""
    lines = [
        f"{'#':>4s}  {'state':<8s} {'value':>7s} {'worker':>6s} {'s':>5s}  {'run':<8s}  params"
    ]
    for t in study.get_trials(deepcopy=False):
        val = f"{t.value:7.4f}" if t.value is not None else f"{'-':>7s}"
        secs = f"{t.duration.total_seconds():5.0f}" if t.duration is not None else f"{'-':>5s}"
        run = str(t.user_attrs.get("mlflow_run_id") or "-")[:8]
        retry = t.system_attrs.get("failed_trial")
        extra = f"  (retry of {retry})" if retry is not None else ""
        extra += "  (surplus)" if t.user_attrs.get("surplus") else ""
        wid = "-" if t.state.name == "WAITING" else str(t.user_attrs.get("worker_id", "-"))
        lines.append(
            f"{t.number:4d}  {t.state.name:<8s} {val} {wid:>6s} "
            f"{secs}  {run:<8s}  {_fmt_params(t.params)}{extra}"
        )
    return lines


def study_report(study: optuna.Study, study_cfg: DictConfig) -> list[str]:
    """Counts by state, the best trial and the trials table, as lines."""
    counts = state_counts(study)
    n = int(study_cfg.n_trials)
    key = OBJECTIVES[str(study_cfg.get("objective", "val_acc_cumulative"))]
    lines = [
        f"study '{study.study_name}' ({masked(str(study_cfg.storage))}): "
        f"{counts['COMPLETE']}/{n} complete; "
        + ", ".join(f"{k.lower()} {v}" for k, v in counts.items() if v)
    ]
    b = best_trial(study)
    if b is None:
        lines.append("best trial: none complete yet")
    else:
        lines.append(f"best trial {b['number']}: {key} {b['value']:.4f}  MLflow run {b['run_id']}")
        lines.append(f"  params: {_fmt_params(b['params'])}")
        lines.append(
            f"  overrides: {' '.join(f'{k}={hydra_value(v)}' for k, v in b['params'].items())}"
        )
    return [*lines, "", *trials_table(study)]


def _parent(study_cfg: DictConfig, base: DictConfig, uri: str, out_dir: Path) -> tuple[Any, str]:
    """The study's MLflow parent run (created if absent) with its settings logged."""
    from espb import __version__
    from espb.tracking import git_commit, tracker_for

    tracking = OmegaConf.to_container(base.tracking, resolve=True)
    tracking["uri"] = uri
    tracker = tracker_for(tracking, out_dir, str(base.name))
    name = str(study_cfg.study_name)
    tags = {
        "optuna_study": name,
        "optuna_storage": masked(str(study_cfg.storage)),
        "sweep_kind": "optuna",
    }
    parent = tracker.ensure_parent(name, lock_dir=out_dir / "hydra", tags=tags)
    tracker.run_id = parent
    c = _resolved(study_cfg, "study")
    params: dict[str, Any] = {
        "optuna.objective": OBJECTIVES[c.get("objective", "val_acc_cumulative")],
        "optuna.direction": c.get("direction", "maximize"),
        "optuna.base_overrides": " ".join(c.get("base_overrides") or []),
    }
    params.update({f"optuna.sampler.{k}": v for k, v in (c.get("sampler") or {}).items()})
    params.update({f"optuna.space.{k}": _spec_str(s) for k, s in space_specs(c["space"]).items()})
    tracker.log_params(params)
    tracker.set_tags(
        {
            **tags,
            "optuna_n_trials": c["n_trials"],
            "git_commit": git_commit(),
            "espb_version": __version__,
        }
    )
    return tracker, parent


def _ensure_parent(study_cfg: DictConfig, base: DictConfig, tracking_uri: str | None) -> None:
    from espb.tracking import default_uri, tracker_for

    out_dir = Path(str(base.out_dir)).resolve()
    uri = str(
        tracking_uri
        or study_cfg.get("tracking_uri")
        or base.tracking.get("uri")
        or default_uri(out_dir)
    )
    tracking = {**OmegaConf.to_container(base.tracking, resolve=True), "uri": uri}
    if (
        tracker_for(tracking, out_dir, str(base.name)).find_parent(str(study_cfg.study_name))
        is None
    ):
        _parent(study_cfg, base, uri, out_dir)


def _spec_str(s: Mapping[str, Any]) -> str:
    if s["type"] == "categorical":
        return "categorical " + ",".join(hydra_value(c) for c in s["choices"])
    extra = " log" if s["log"] else ""
    extra += f" step {s['step']}" if "step" in s else ""
    return f"{s['type']} [{s['low']}, {s['high']}]{extra}"


def _stop_workers(procs: Sequence[subprocess.Popen], say: Say, grace: float = 3.0) -> None:
    """After Ctrl-C / SIGTERM: give workers ``grace`` seconds to stop on their own (a
    terminal's Ctrl-C reaches them too), then SIGINT, then SIGKILL."""
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline and any(p.poll() is None for p in procs):
        time.sleep(0.1)
    for p in procs:
        if p.poll() is None:
            p.send_signal(signal.SIGINT)
    for p in procs:
        try:
            p.wait(timeout=60)
        except subprocess.TimeoutExpired:
            say(f"worker pid {p.pid} did not stop; killing it")
            p.kill()
            p.wait()


def worker_command(
    spec_file: str | Path, worker_id: int, tracking_uri: str | None = None, verbose: bool = False
) -> list[str]:
    """``espb optuna worker`` (as ``python -m espb.cli.main``, with this interpreter)."""
    cmd = [
        sys.executable,
        "-m",
        "espb.cli.main",
        "optuna",
        "worker",
        str(spec_file),
        "--worker-id",
        str(worker_id),
    ]
    if tracking_uri:
        cmd += ["--tracking-uri", tracking_uri]
    return cmd + (["--verbose"] if verbose else [])


def _run_workers(
    spec_file: Path,
    workers: int,
    uri: str | None,
    server: tuple[str, Path, Path] | None,
    say: Say,
    verbose: bool,
) -> tuple[bool, list[int]]:
    """Start ``workers`` worker processes and wait for them: (interrupted, exit statuses).
    ``server`` (store URI, artifacts folder, log file): a loopback MLflow server over the store
    for the workers, started while they import (they wait until it answers)."""
    from espb.sweep.server import free_port, tracking_server

    port = None
    if server is not None:
        port = free_port()
        uri = f"http://127.0.0.1:{port}"
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "MLFLOW_SUPPRESS_PRINTING_URL_TO_STDOUT": "true"}
    procs: list[subprocess.Popen] = []
    interrupted = False

    def stop(grace: float) -> None:
        with _signals_ignored():
            _stop_workers(procs, say, grace)

    with _sigterm_interrupts():
        try:
            for i in range(workers):
                cmd = worker_command(spec_file, i, uri, verbose)
                procs.append(subprocess.Popen(cmd, env=env))
            ctx = (
                nullcontext()
                if server is None
                else tracking_server(server[0], server[1], port=port, log_path=server[2])
            )
            with ctx:
                if server is not None:
                    say(f"MLflow tracking server for the workers: {uri} (log {server[2]})")
                try:
                    for p in procs:
                        p.wait()
                except KeyboardInterrupt:
                    interrupted = True
                    say("interrupted: stopping the workers")
                    stop(3.0)
        except KeyboardInterrupt:  # while the server was starting
            interrupted = True
            stop(3.0)
        except BaseException:
            stop(0.0)
            raise
    return interrupted, [p.returncode for p in procs]


def run_study(
    study_cfg: DictConfig, workers: int = 1, say: Say = print, verbose: bool = False
) -> StudyRun:
    """Create (or continue) the study and its MLflow parent run, run ``workers`` workers until
    the study holds ``n_trials`` COMPLETE trials, then report and log the best trial.

    One worker runs in this process; several run as ``espb optuna worker`` processes writing to
    MLflow through a loopback tracking server (unless ``tracking_uri`` or the base overrides'
    ``tracking.uri`` names a store). Ctrl-C / SIGTERM stops the workers (their trials are
    retried when the same command is run again); ``interrupted`` is set in the result."""
    from espb.tracking import default_uri

    if workers < 1:
        raise ConfigError(f"--workers: {workers} is not a positive number of workers")
    t0 = time.perf_counter()
    _quiet_optuna()
    name = str(study_cfg.study_name)
    base = compose_job(job_overrides(study_cfg, [], study_cfg.get("tracking_uri")))
    check_space_keys(base, study_cfg.space)
    out_dir = Path(str(base.out_dir)).resolve()
    sdir = out_dir / "optuna" / name
    sdir.mkdir(parents=True, exist_ok=True)
    spec_file = sdir / "study.yaml"  # what the worker processes read (interpolations kept)
    spec_file.write_text(OmegaConf.to_yaml(study_cfg))
    study = open_study(study_cfg, 0)
    given = study_cfg.get("tracking_uri") or base.tracking.get("uri")
    store = str(given or default_uri(out_dir))
    tracker, parent = _parent(study_cfg, base, store, out_dir)
    tracker.client.update_run(parent, status="RUNNING")
    counts = state_counts(study)
    say(
        f"study '{name}' in {masked(str(study_cfg.storage))}: "
        f"{counts['COMPLETE']}/{study_cfg.n_trials} trials complete; "
        f"{workers} worker{'s' if workers > 1 else ''}; MLflow parent run {parent} in "
        f"experiment '{tracker.experiment}' ({masked(store)})"
    )
    use_server = workers > 1 and not given
    if workers == 1:
        res = run_worker(study_cfg, 0, given, say, verbose, ensure_parent=False)
        interrupted, rcs = res.interrupted, [130 if res.interrupted else 0]
    else:
        server = None
        if use_server:
            server = (store, out_dir / "mlartifacts", sdir / "mlflow-server.log")
        interrupted, rcs = _run_workers(spec_file, workers, given, server, say, verbose)
    with _signals_ignored():
        return _finish(study_cfg, tracker, parent, store, interrupted, rcs, t0, sdir, say)


def _finish(
    study_cfg: DictConfig,
    tracker: Any,
    parent: str,
    store: str,
    interrupted: bool,
    rcs: list[int],
    t0: float,
    sdir: Path,
    say: Say,
) -> StudyRun:
    study = open_study(study_cfg, 0)
    counts = state_counts(study)
    n = int(study_cfg.n_trials)
    for line in study_report(study, study_cfg):
        say(line)
    b = best_trial(study)
    tracker.run_id = parent
    if b is not None:
        tracker.log_metrics(
            {"best_value": b["value"], "n_complete": counts["COMPLETE"]}, step=counts["COMPLETE"]
        )
        tracker.set_tags(
            {
                "best_trial": b["number"],
                "best_run_id": b["run_id"] or "",
                **{f"best.{k}": v for k, v in b["params"].items()},
            }
        )
    try:
        df = study.trials_dataframe()
        df.to_csv(sdir / "trials.csv", index=False)
        tracker.log_artifact(sdir / "trials.csv")
    except Exception as exc:  # the table is a convenience; the study is in its storage
        say(f"note: could not write the trials table: {exc}")
    done = counts["COMPLETE"] >= n
    failed = any(rc not in (0, 130) for rc in rcs)
    tracker.end("FINISHED" if done else "FAILED" if failed and not interrupted else "KILLED")
    wall = time.perf_counter() - t0
    return StudyRun(
        str(study_cfg.study_name),
        n,
        counts,
        b,
        parent,
        tracker.experiment,
        store,
        interrupted,
        rcs,
        wall,
    )


def study_status(study_cfg: DictConfig) -> list[str]:
    """The report of an existing study (counts by state, best trial, trials table)."""
    study = open_study(study_cfg, 0, create=False)
    return study_report(study, study_cfg)
