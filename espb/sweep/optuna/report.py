"""What a study holds, as lines: counts by state, the best trial, the trials table
(``espb optuna status`` and the end of ``espb optuna run``)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from espb.sweep.optuna.space import fmt_params, hydra_value
from espb.sweep.optuna.spec import StudySpec
from espb.sweep.optuna.storage import masked, open_study, state_counts

if TYPE_CHECKING:
    import optuna


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
            f"{secs}  {run:<8s}  {fmt_params(t.params)}{extra}"
        )
    return lines


def study_report(study: optuna.Study, spec: StudySpec) -> list[str]:
    """Counts by state, the best trial and the trials table, as lines."""
    counts = state_counts(study)
    lines = [
        f"study '{study.study_name}' ({masked(spec.storage)}): "
        f"{counts['COMPLETE']}/{spec.n_trials} complete; "
        + ", ".join(f"{k.lower()} {v}" for k, v in counts.items() if v)
    ]
    b = best_trial(study)
    if b is None:
        lines.append("best trial: none complete yet")
    else:
        lines.append(
            f"best trial {b['number']}: {spec.objective_key} {b['value']:.4f}  "
            f"MLflow run {b['run_id']}"
        )
        lines.append(f"  params: {fmt_params(b['params'])}")
        lines.append(
            f"  overrides: {' '.join(f'{k}={hydra_value(v)}' for k, v in b['params'].items())}"
        )
    return [*lines, "", *trials_table(study)]


def study_status(spec: StudySpec) -> list[str]:
    """The report of an existing study (counts by state, best trial, trials table)."""
    return study_report(open_study(spec, 0, create=False), spec)
