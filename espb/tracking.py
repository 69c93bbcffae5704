"""MLflow tracking, shared by every layer that logs (training runs, sweeps, Optuna, rate models):
one thin class over ``MlflowClient`` (no global MLflow state), its typed config (the ``tracking``
config group) and the provenance every run and sweep parent carries.

Default store: SQLite ``<out_dir>/mlruns.db`` with artifacts in ``<out_dir>/mlartifacts`` (MLflow
3 refuses the old ``./mlruns`` file store). Any tracking URI (a server, PostgreSQL) by setting.
"""

from __future__ import annotations

import math
import os
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from espb import __version__
from espb.errors import EspbError
from espb.paths import REPO_ROOT
from espb.tracking_links import (  # noqa: F401  (re-exported: the UI addresses)
    EXPERIMENT_KIND,
    EXPERIMENT_KIND_TAG,
    LOCAL_UI,
    SAVED_VIEW_ID,
    SAVED_VIEW_NAME,
    SAVED_VIEW_TAG,
    TRAINING_VIEW,
    compare_url,
    experiment_links,
    experiment_tags,
    mark_experiment,
    run_links,
    run_url,
    runs_url,
    saved_view_state,
    sweep_links,
    ui_base,
)

#: MLflow's limit on one param value (characters)
PARAM_MAX = 6000


@dataclass
class TrackingConfig:
    """The ``tracking`` config group (conf/tracking/*.yaml).

    - ``uri``: any MLflow tracking URI; null: SQLite ``<out_dir>/mlruns.db``.
    - ``experiment``: the MLflow experiment; null: ``espb-<name>``.
    - ``artifact_root``: where a new experiment keeps artifacts; null: ``<out_dir>/mlartifacts``
      for a local store (a server keeps its own).
    - ``tags``: extra tags on every run.
    """

    uri: str | None = None
    experiment: str | None = None
    artifact_root: str | None = None
    tags: dict[str, Any] = field(default_factory=dict)


def git_commit() -> str:
    """The source commit (``-dirty`` when tracked files changed); ``$ESPB_GIT_COMMIT`` wins."""
    env = os.environ.get("ESPB_GIT_COMMIT")
    if env:
        return env
    try:
        git = ["git", "-C", str(REPO_ROOT)]
        out = subprocess.run(
            [*git, "rev-parse", "HEAD"], capture_output=True, text=True, timeout=10, check=True
        ).stdout.strip()
        dirty = subprocess.run(
            [*git, "status", "--porcelain", "--untracked-files=no"],
            capture_output=True,
            text=True,
            timeout=10,
        ).stdout.strip()
        return out + ("-dirty" if dirty else "")
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def provenance() -> dict[str, str]:
    """The provenance tags of every run and sweep parent: espb version and git commit."""
    return {"espb_version": __version__, "git_commit": git_commit()}


def flatten(d: dict, prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in d.items():
        key = f"{prefix}{k}"
        if isinstance(v, dict):
            out.update(flatten(v, key + "."))
        else:
            out[key] = v
    return out


def default_uri(out_dir: str | Path) -> str:
    return f"sqlite:///{Path(out_dir).resolve() / 'mlruns.db'}"


def tracker_for(tracking: TrackingConfig | dict, out_dir: str | Path, name: str) -> Tracker:
    """The Tracker of a ``tracking`` config (:class:`TrackingConfig`, or its dict): ``uri``
    (default: SQLite under ``out_dir``), ``experiment`` (default ``espb-<name>``),
    ``artifact_root`` (default: a local folder for a local store; a server keeps its own)."""
    t = tracking if isinstance(tracking, TrackingConfig) else TrackingConfig(**dict(tracking))
    uri = t.uri or default_uri(out_dir)
    remote = str(uri).startswith(("http://", "https://"))
    root = t.artifact_root or (None if remote else Path(out_dir) / "mlartifacts")
    return Tracker(str(uri), t.experiment or f"espb-{name}", root)


def _store_init_lock(uri: str):
    """A file lock beside a SQLite store while a client opens it: MLflow creates and migrates
    the tables on first use, and two processes doing it at once on a new database crash
    (docs/reliability.md). Other stores need none."""
    from contextlib import nullcontext

    from filelock import FileLock

    if not uri.startswith("sqlite:///"):
        return nullcontext()
    db = Path(uri[len("sqlite:///") :])
    db.parent.mkdir(parents=True, exist_ok=True)
    return FileLock(str(db) + ".init.lock")


class Tracker:
    """Logs params, tags, per-meta-epoch metrics and artifacts of one run."""

    def __init__(self, uri: str, experiment: str, artifact_root: str | Path | None = None) -> None:
        import logging

        logging.getLogger("mlflow").setLevel(logging.WARNING)
        logging.getLogger("alembic").setLevel(logging.WARNING)
        from mlflow.tracking import MlflowClient

        self.uri = uri
        self.experiment = experiment
        with _store_init_lock(uri):
            self.client = MlflowClient(tracking_uri=uri)
            self.experiment_id = self._experiment_id(experiment, artifact_root)
        self.run_id: str | None = None

    def _experiment_id(self, experiment: str, artifact_root: str | Path | None) -> str:
        uri = self.uri
        try:
            exp = self.client.get_experiment_by_name(experiment)
            if exp is None:
                loc = None if artifact_root is None else Path(artifact_root).resolve().as_uri()
                try:
                    return self.client.create_experiment(
                        experiment, artifact_location=loc, tags=experiment_tags()
                    )
                except Exception:  # created meanwhile by another process: use that one
                    exp = self.client.get_experiment_by_name(experiment)
                    if exp is None:
                        raise
            mark_experiment(self.client, exp)
            return exp.experiment_id

        except Exception as exc:
            raise EspbError(
                f"MLflow tracking store {uri!r}: {exc}; set tracking.uri to a reachable store"
            ) from exc

    def start(
        self, run_id: str | None = None, run_name: str | None = None, tags: dict | None = None
    ) -> str:
        """Continue ``run_id`` if it exists in this store, else create a run."""
        if run_id:
            try:
                run = self.client.get_run(run_id)
                if run.info.experiment_id == self.experiment_id:
                    self.run_id = run_id
                    self.client.update_run(run_id, status="RUNNING")
                    return run_id
            except Exception:
                pass
        run = self.client.create_run(self.experiment_id, run_name=run_name, tags=tags or {})
        self.run_id = run.info.run_id
        return self.run_id

    def find_finished(
        self, config_hash: str, inputs: dict[str, str] | None = None, tag: str = "espb_completed"
    ) -> str | None:
        """The id of a FINISHED run of this experiment tagged with ``config_hash``, the tags of
        ``inputs`` (e.g. ``cube_key``: what it was computed from) and ``tag=true`` (set only
        after a run's last artifact: ``espb_completed`` for the whole schedule,
        ``espb_completed_dev`` for its development period), else None."""
        extra = "".join(f" and tags.{k} = '{v}'" for k, v in (inputs or {}).items())
        runs = self.client.search_runs(
            [self.experiment_id],
            filter_string=f"tags.config_hash = '{config_hash}' and tags.{tag} = 'true' "
            f"and attributes.status = 'FINISHED'{extra}",
            max_results=1,
        )
        return runs[0].info.run_id if runs else None

    def find_parent(self, sweep_name: str) -> str | None:
        """The parent run of sweep ``sweep_name`` in this experiment (oldest if several)."""
        runs = self.client.search_runs(
            [self.experiment_id],
            filter_string=f"tags.sweep_role = 'parent' and tags.sweep_name = '{sweep_name}'",
            order_by=["attributes.start_time ASC"],
            max_results=1,
        )
        return runs[0].info.run_id if runs else None

    def ensure_parent(
        self,
        sweep_name: str,
        lock_dir: str | Path | None = None,
        tags: dict[str, Any] | None = None,
    ) -> str:
        """The sweep's parent run, created if absent. Creation takes a file lock under
        ``lock_dir`` so that jobs starting together create one parent (the sweep's start
        callback normally creates it before any job runs)."""
        found = self.find_parent(sweep_name)
        if found:
            return found
        from contextlib import nullcontext

        from filelock import FileLock

        lock = nullcontext()
        if lock_dir is not None:
            Path(lock_dir).mkdir(parents=True, exist_ok=True)
            lock = FileLock(str(Path(lock_dir) / f".parent-{sweep_name}.lock"))
        with lock:
            found = self.find_parent(sweep_name)
            if found:
                return found
            run = self.client.create_run(
                self.experiment_id,
                run_name=f"sweep {sweep_name}",
                tags={
                    "sweep_role": "parent",
                    "sweep_name": sweep_name,
                    **provenance(),
                    **(tags or {}),
                },
            )
            return run.info.run_id

    def log_params(self, params: dict[str, Any]) -> None:
        from mlflow.entities import Param

        existing = self.client.get_run(self.run_id).data.params
        items = [Param(k, str(v)[:PARAM_MAX]) for k, v in params.items() if k not in existing]
        for i in range(0, len(items), 100):
            self.client.log_batch(self.run_id, params=items[i : i + 100])

    def set_tags(self, tags: dict[str, Any]) -> None:
        from mlflow.entities import RunTag

        items = [RunTag(k, str(v)) for k, v in tags.items()]
        for i in range(0, len(items), 100):
            self.client.log_batch(self.run_id, tags=items[i : i + 100])

    def log_metrics(self, metrics: dict[str, float], step: int) -> None:
        """Numeric values at ``step``; NaN (e.g. AUC with one class) is left out."""
        from mlflow.entities import Metric

        ts = int(time.time() * 1000)
        items = [
            Metric(k, float(v), ts, int(step))
            for k, v in metrics.items()
            if isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(float(v))
        ]
        for i in range(0, len(items), 1000):
            self.client.log_batch(self.run_id, metrics=items[i : i + 1000])

    def log_metrics_once(self, metrics: dict[str, float], step: int) -> None:
        """:meth:`log_metrics`, leaving out every key already logged at ``step`` (finishing a
        run again after a kill logs no point twice)."""
        todo = {k: v for k, v in metrics.items() if step not in self.logged_steps(k)}
        self.log_metrics(todo, step)

    def logged_steps(self, key: str) -> set[int]:
        return {m.step for m in self.client.get_metric_history(self.run_id, key)}

    def log_artifact(self, path: str | Path, artifact_path: str | None = None) -> None:
        self.client.log_artifact(self.run_id, str(path), artifact_path)

    def log_artifacts(self, path: str | Path, artifact_path: str | None = None) -> None:
        self.client.log_artifacts(self.run_id, str(path), artifact_path)

    def end(self, status: str = "FINISHED") -> None:
        if self.run_id:
            self.client.set_terminated(self.run_id, status=status)
