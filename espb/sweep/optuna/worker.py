"""A worker: run trials of a study until it holds ``n_trials`` COMPLETE trials (every worker's
count), on this machine or any machine that reaches the storage.

Stopping: Ctrl-C or SIGTERM marks the running trial FAIL and enqueues a retry with the same
parameters; a worker killed outright leaves its trial RUNNING until its heartbeat is older than
the grace period, when the next worker to start a trial marks it FAIL and enqueues the retry
(``RetryHeartbeatStaleTrialCallback``). A retried configuration resumes its training from its
last meta-epoch checkpoint (same run folder, same MLflow run).
"""

from __future__ import annotations

import copy
import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from espb.signals import interrupts, signals_ignored
from espb.sweep.optuna.objective import Objective, Surplus
from espb.sweep.optuna.space import check_space_keys, compose_job, job_overrides
from espb.sweep.optuna.spec import StudySpec
from espb.sweep.optuna.storage import n_in, open_study, retry_callback
from espb.sweep.optuna.tracking import ensure_parent as ensure_parent_run
from espb.sweep.supervise import Say

if TYPE_CHECKING:
    import optuna


@dataclass
class WorkerResult:
    worker_id: int
    n_run: int
    n_pruned: int
    interrupted: bool


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


def enqueue_retry(study: optuna.Study, number: int, max_retry: int | None) -> int | None:
    """Mark the interrupted trial ``number`` FAIL (if it is not yet) and enqueue its retry."""
    from optuna.trial import TrialState

    t = next((t for t in study.get_trials(deepcopy=False) if t.number == number), None)
    if t is None or t.state not in (TrialState.RUNNING, TrialState.FAIL):
        return None
    if t.state == TrialState.RUNNING:
        study._storage.set_trial_state_values(t._trial_id, state=TrialState.FAIL)
    before = len(study.get_trials(deepcopy=False))
    frozen = copy.deepcopy(study._storage.get_trial(t._trial_id))
    retry_callback(max_retry)(study, frozen)
    return number if len(study.get_trials(deepcopy=False)) > before else None


def _loop(study: optuna.Study, objective: Objective, say: Say, poll: float) -> None:
    """``study.optimize`` until the study holds ``n_trials`` COMPLETE trials; while the last
    ones run elsewhere, wait for them (one may fail and need replacing)."""
    import optuna
    from optuna.study import MaxTrialsCallback
    from optuna.trial import TrialState

    n_trials, wid = objective.n_trials, objective.worker_id

    def budget(study: optuna.Study, trial: optuna.trial.FrozenTrial) -> None:
        if n_in(study, "COMPLETE", "RUNNING") >= n_trials or objective.n_pruned >= n_trials:
            study.stop()

    callbacks = [MaxTrialsCallback(n_trials, states=(TrialState.COMPLETE,)), budget]
    waiting = False
    while True:
        optuna.storages.fail_stale_trials(study)
        complete, running = n_in(study, "COMPLETE"), n_in(study, "RUNNING")
        if complete >= n_trials:
            return
        if objective.n_pruned >= n_trials:
            say(
                f"[w{wid}] stopping: {objective.n_pruned} of this worker's trials "
                f"were pruned (objective {objective.key} missing); check the configuration"
            )
            return
        if complete + running >= n_trials:
            if not waiting:
                say(
                    f"[w{wid}] {complete} trials complete, {running} running "
                    "elsewhere: waiting for them"
                )
                waiting = True
            time.sleep(poll)
            continue
        waiting = False
        study.optimize(objective, n_trials=n_trials, callbacks=callbacks, catch=(Surplus,))


def run_worker(
    spec: StudySpec,
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
    # torch and the training stack, imported before the first trial (its duration stays honest)
    import espb.training.run  # noqa: F401

    # one line per trial is printed here; MLflow would add its run URLs (tracking servers)
    os.environ.setdefault("MLFLOW_SUPPRESS_PRINTING_URL_TO_STDOUT", "true")
    hb = spec.heartbeat
    poll = poll_s if poll_s is not None else min(5.0, float(hb.interval))
    study = open_study(spec, worker_id)
    base = compose_job(job_overrides(spec, [], tracking_uri))
    check_space_keys(base, spec.space)
    if tracking_uri and tracking_uri.startswith(("http://", "https://")):
        from espb.sweep.server import wait_healthy

        wait_healthy(tracking_uri, None, timeout=300)  # a server started along with the workers
    if ensure_parent:
        ensure_parent_run(spec, base, tracking_uri)
    objective = Objective(spec, worker_id, tracking_uri, say, verbose)
    interrupted = False
    with interrupts():
        try:
            _loop(study, objective, say, poll)
        except KeyboardInterrupt:
            interrupted = True
            with signals_ignored():
                if objective.interrupted is not None:
                    got = enqueue_retry(study, objective.interrupted, hb.max_retry)
                    say(
                        f"[w{worker_id}] interrupted during trial {objective.interrupted}: "
                        "marked FAIL" + ("; its retry is enqueued" if got is not None else "")
                    )
                else:
                    say(f"[w{worker_id}] interrupted")
    return WorkerResult(worker_id, objective.n_run, objective.n_pruned, interrupted)
