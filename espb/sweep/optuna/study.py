"""``espb optuna run``: create (or continue) a study and its MLflow parent run, run its workers
until it holds ``n_trials`` COMPLETE trials, then report and log the best trial.

One worker runs in this process; several run as ``espb optuna worker`` processes (each in its
own process group, :func:`espb.sweep.supervise.run_children`), logging through a loopback
tracking server unless a tracking URI is given (:func:`espb.sweep.supervise.tracking_for_parallel`).
Re-running the same command continues the study.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from espb.errors import ConfigError
from espb.signals import interrupts, signals_ignored
from espb.sweep.optuna.report import best_trial, study_report
from espb.sweep.optuna.space import check_space_keys, compose_job, job_overrides
from espb.sweep.optuna.spec import StudySpec
from espb.sweep.optuna.storage import masked, open_study, quiet_optuna, state_counts
from espb.sweep.optuna.tracking import log_best, parent_run, study_store
from espb.sweep.optuna.worker import run_worker, worker_command
from espb.sweep.supervise import Say, run_children, tracking_for_parallel

#: seconds a stopped worker has to mark its trial FAIL and enqueue the retry before SIGKILL
WORKER_STOP_WAIT = 60.0


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
    worker_rcs: list[int | None] = field(default_factory=list)
    wall_s: float = 0.0


def _run_workers(
    spec: StudySpec,
    spec_file: Path,
    workers: int,
    given: str | None,
    out_dir: Path,
    sdir: Path,
    say: Say,
    verbose: bool,
) -> tuple[bool, list[int | None]]:
    """``workers`` worker processes on this machine: (interrupted, their exit statuses)."""
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "MLFLOW_SUPPRESS_PRINTING_URL_TO_STDOUT": "true"}
    log = sdir / "mlflow-server.log"
    with interrupts():
        try:
            with tracking_for_parallel(True, given, out_dir, log, say, "the workers") as served:
                uri = served or given
                cmds = [worker_command(spec_file, i, uri, verbose) for i in range(workers)]
                return run_children(
                    cmds,
                    env,
                    term_wait=WORKER_STOP_WAIT,
                    on_interrupt=lambda: say("interrupted: stopping the workers"),
                )
        except KeyboardInterrupt:  # while the server was starting: no worker yet
            say("interrupted")
            return True, []


def run_study(
    spec: StudySpec, workers: int = 1, say: Say = print, verbose: bool = False
) -> StudyRun:
    """Create (or continue) the study and its MLflow parent run, run ``workers`` workers until
    the study holds ``n_trials`` COMPLETE trials, then report and log the best trial.

    Ctrl-C / SIGTERM stops the workers (their trials are retried when the same command is run
    again); ``interrupted`` is set in the result."""
    if workers < 1:
        raise ConfigError(f"--workers: {workers} is not a positive number of workers")
    t0 = time.perf_counter()
    quiet_optuna()
    name = spec.study_name
    base = compose_job(job_overrides(spec, [], spec.tracking_uri))
    check_space_keys(base, spec.space)
    out_dir = Path(str(base.out_dir)).resolve()
    sdir = out_dir / "optuna" / name
    sdir.mkdir(parents=True, exist_ok=True)
    spec_file = sdir / "study.yaml"  # what the worker processes read (interpolations kept)
    spec_file.write_text(spec.to_yaml())
    study = open_study(spec, 0)
    given = spec.tracking_uri or base.tracking.get("uri")
    store = study_store(spec, base)
    tracker, parent = parent_run(spec, base, store)
    tracker.client.update_run(parent, status="RUNNING")
    counts = state_counts(study)
    say(
        f"study '{name}' in {masked(spec.storage)}: "
        f"{counts['COMPLETE']}/{spec.n_trials} trials complete; "
        f"{workers} worker{'s' if workers > 1 else ''}; MLflow parent run {parent} in "
        f"experiment '{tracker.experiment}' ({masked(store)})"
    )
    if workers == 1:
        res = run_worker(spec, 0, given, say, verbose, ensure_parent=False)
        interrupted, rcs = res.interrupted, [130 if res.interrupted else 0]
    else:
        interrupted, rcs = _run_workers(
            spec, spec_file, workers, given, out_dir, sdir, say, verbose
        )
    with signals_ignored():
        return _finish(spec, tracker, parent, store, interrupted, rcs, t0, sdir, say)


def _finish(
    spec: StudySpec,
    tracker: Any,
    parent: str,
    store: str,
    interrupted: bool,
    rcs: list[int | None],
    t0: float,
    sdir: Path,
    say: Say,
) -> StudyRun:
    """Report the study, log its best trial and trials table to the parent run, end it."""
    study = open_study(spec, 0)
    counts = state_counts(study)
    for line in study_report(study, spec):
        say(line)
    b = best_trial(study)
    log_best(tracker, parent, b, counts["COMPLETE"])
    try:
        df = study.trials_dataframe()
        df.to_csv(sdir / "trials.csv", index=False)
        tracker.log_artifact(sdir / "trials.csv")
    except Exception as exc:  # the table is a convenience; the study is in its storage
        say(f"note: could not write the trials table: {exc}")
    done = counts["COMPLETE"] >= spec.n_trials
    failed = any(rc not in (0, 130) for rc in rcs)
    tracker.end("FINISHED" if done else "FAILED" if failed and not interrupted else "KILLED")
    return StudyRun(
        spec.study_name,
        spec.n_trials,
        counts,
        b,
        parent,
        tracker.experiment,
        store,
        interrupted,
        rcs,
        time.perf_counter() - t0,
    )
