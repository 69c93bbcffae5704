"""The study's MLflow parent run: created (or found) with the study's settings, the trials'
runs its children, and the best trial logged to it when a study run ends."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from omegaconf import DictConfig, OmegaConf

from espb.sweep.optuna.space import hydra_value
from espb.sweep.optuna.spec import Categorical, Dimension, StudySpec
from espb.sweep.optuna.storage import masked


def describe(d: Dimension) -> str:
    """A dimension as the parent run logs it: ``categorical mae,bce``, ``float [1e-05, 0.01]
    log``."""
    if isinstance(d, Categorical):
        return "categorical " + ",".join(hydra_value(c) for c in d.choices)
    extra = " log" if d.log else ""
    extra += f" step {d.step}" if d.step is not None else ""
    return f"{d.type} [{d.low}, {d.high}]{extra}"


def _tracker(base: DictConfig, uri: str, out_dir: Path) -> Any:
    from espb.tracking import tracker_for

    tracking = {**OmegaConf.to_container(base.tracking, resolve=True), "uri": uri}
    return tracker_for(tracking, out_dir, str(base.name))


def study_store(spec: StudySpec, base: DictConfig, tracking_uri: str | None = None) -> str:
    """The MLflow store of the study: ``tracking_uri``, the study's, the base config's, or the
    runs' default (SQLite under ``out_dir``)."""
    from espb.tracking import default_uri

    out_dir = Path(str(base.out_dir)).resolve()
    return str(
        tracking_uri or spec.tracking_uri or base.tracking.get("uri") or default_uri(out_dir)
    )


def parent_run(spec: StudySpec, base: DictConfig, uri: str) -> tuple[Any, str]:
    """The study's MLflow parent run (created if absent) with its settings logged: (tracker
    pointed at it, its run id)."""
    from espb.tracking import provenance

    out_dir = Path(str(base.out_dir)).resolve()
    tracker = _tracker(base, uri, out_dir)
    tags = {
        "optuna_study": spec.study_name,
        "optuna_storage": masked(spec.storage),
        "sweep_kind": "optuna",
    }
    parent = tracker.ensure_parent(spec.study_name, lock_dir=out_dir / "hydra", tags=tags)
    tracker.run_id = parent
    params: dict[str, Any] = {
        "optuna.objective": spec.objective_key,
        "optuna.direction": spec.direction,
        "optuna.base_overrides": " ".join(spec.base_overrides),
    }
    params.update({f"optuna.sampler.{k}": v for k, v in spec.sampler.settings().items()})
    params.update({f"optuna.space.{k}": describe(d) for k, d in spec.dimensions().items()})
    tracker.log_params(params)
    tracker.set_tags(
        {
            **tags,
            "optuna_n_trials": spec.n_trials,
            **provenance(),
        }
    )
    return tracker, parent


def ensure_parent(spec: StudySpec, base: DictConfig, tracking_uri: str | None) -> None:
    """Create the parent run if it does not exist yet (a worker started on its own)."""
    uri = study_store(spec, base, tracking_uri)
    out_dir = Path(str(base.out_dir)).resolve()
    if _tracker(base, uri, out_dir).find_parent(spec.study_name) is None:
        parent_run(spec, base, uri)


def log_best(tracker: Any, parent: str, best: dict[str, Any] | None, n_complete: int) -> None:
    """The best trial on the parent run: metric ``best_value`` (step: COMPLETE trials), tags
    ``best_trial``, ``best_run_id`` and ``best.<param>``."""
    tracker.run_id = parent
    if best is None:
        return
    tracker.log_metrics({"best_value": best["value"], "n_complete": n_complete}, step=n_complete)
    tracker.set_tags(
        {
            "best_trial": best["number"],
            "best_run_id": best["run_id"] or "",
            **{f"best.{k}": v for k, v in best["params"].items()},
        }
    )
