"""Where a study lives and how it samples: the Optuna RDB storage (any SQLAlchemy URL) with a
heartbeat and retries of failed trials, the sampler of a worker, and opening the study."""

from __future__ import annotations

import functools
import logging
import re
import time
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from espb.errors import ConfigError, EspbError
from espb.sweep.optuna.spec import SamplerSpec, StudySpec

if TYPE_CHECKING:
    import optuna
    from optuna.trial import TrialState

#: trial states in the order reports list them
STATES = ("COMPLETE", "RUNNING", "WAITING", "PRUNED", "FAIL")


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


def retry_callback(max_retry: int | None) -> Callable:
    """Optuna's callback that enqueues a failed trial again with the same parameters."""
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


def _storage_kwargs(
    url: str, heartbeat_interval: int | None, grace_period: int | None, max_retry: int | None
) -> dict[str, Any]:
    import optuna

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
            **{key: retry_callback(max_retry)},
        )
    return kwargs


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
    kwargs = _storage_kwargs(url, heartbeat_interval, grace_period, max_retry)
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
    sampler: SamplerSpec, worker_id: int = 0, n_existing: int = 0
) -> optuna.samplers.BaseSampler:
    """The study's sampler. A seed is mixed with the worker id and the number of trials already
    in the study, so that parallel workers and a continued study draw different random points
    (the same ``seed`` still gives the same study from the same starting state)."""
    import numpy as np
    import optuna

    seed = sampler.seed
    if seed is not None:
        seq = np.random.SeedSequence([int(seed), abs(int(worker_id)), int(n_existing)])
        seed = int(seq.generate_state(1)[0])
    if sampler.type == "random":
        return optuna.samplers.RandomSampler(seed=seed)
    keys = ("n_startup_trials", "multivariate", "constant_liar", "n_ei_candidates")
    kwargs = {k: getattr(sampler, k) for k in keys if getattr(sampler, k) is not None}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        return optuna.samplers.TPESampler(seed=seed, **kwargs)


class _NoInterruptTraceback(logging.Filter):
    """Optuna logs a trial stopped by Ctrl-C with the interrupt's traceback: keep the line."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.exc_info and isinstance(record.exc_info[1], KeyboardInterrupt):
            record.exc_info, record.exc_text = None, None
        return True


def quiet_optuna() -> None:
    """Optuna's logging at WARNING, its experimental warnings off, no interrupt tracebacks."""
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    warnings.filterwarnings("ignore", category=optuna.exceptions.ExperimentalWarning)
    log = logging.getLogger("optuna.study._optimize")  # where failed trials are logged
    if not any(isinstance(f, _NoInterruptTraceback) for f in log.filters):
        log.addFilter(_NoInterruptTraceback())


def open_study(spec: StudySpec, worker_id: int = 0, create: bool = True) -> optuna.Study:
    """The study of ``spec`` in its storage (created if absent and ``create``), with this
    worker's sampler."""
    import optuna

    quiet_optuna()
    hb = spec.heartbeat
    storage = make_storage(spec.storage, hb.interval, hb.grace_period, hb.max_retry)
    name = spec.study_name
    try:
        if create:
            study = optuna.create_study(
                study_name=name, storage=storage, load_if_exists=True, direction=spec.direction
            )
        else:
            study = optuna.load_study(study_name=name, storage=storage)
    except KeyError as exc:
        raise EspbError(
            f"no study '{name}' in {masked(spec.storage)}; start it with espb optuna run"
        ) from exc
    if study.direction.name.lower() != spec.direction:
        raise ConfigError(
            f"direction: the study '{name}' in its storage is {study.direction.name.lower()}, "
            f"not {spec.direction}; use another study_name"
        )
    n = len(study.get_trials(deepcopy=False))
    study.sampler = make_sampler(spec.sampler, worker_id, n)
    return study


def state_counts(study: optuna.Study) -> dict[str, int]:
    """Trials by state name (COMPLETE, RUNNING, WAITING, PRUNED, FAIL), in that order."""
    counts = dict.fromkeys(STATES, 0)
    for t in study.get_trials(deepcopy=False):
        counts[t.state.name] = counts.get(t.state.name, 0) + 1
    return counts


def n_in(study: optuna.Study, *states: str) -> int:
    """The number of trials in ``states`` (names: ``"COMPLETE"``, ``"RUNNING"``)."""
    from optuna.trial import TrialState

    return len(study.get_trials(deepcopy=False, states=tuple(TrialState[s] for s in states)))
