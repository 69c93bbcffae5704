"""The objective of a worker: one trial = one espb-train configuration, run by
:func:`espb.training.run.run_one` and scored by its run summary.

A trial whose objective is missing or not finite (no validation predictions, an AUC with one
class) is PRUNED, not COMPLETE: it does not count towards ``n_trials``, and TPE ranks it below
every completed trial. A trial that raises (a bad setting, a crash) fails and stops its worker
with the error.
"""

from __future__ import annotations

import math
import socket
import time
from typing import TYPE_CHECKING

from omegaconf import DictConfig

from espb.sweep.optuna.space import compose_job, fmt_params, job_overrides, suggest
from espb.sweep.optuna.spec import StudySpec
from espb.sweep.supervise import Say

if TYPE_CHECKING:
    import optuna


class Surplus(Exception):
    """A trial started while the study already had ``n_trials`` trials complete or running."""


def finite(v: object) -> float | None:
    """``v`` as a finite float, else None."""
    try:
        f = float(v)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None
    return f if math.isfinite(f) else None


class Objective:
    """The objective of a worker: one espb-train configuration per trial (see the module doc).

    Sets the trial's user attributes ``worker_id``, ``worker_host``, ``overrides``,
    ``mlflow_run_id``, ``config_hash``, ``run_dir``, ``reused_run`` and ``summary``, and tags the
    MLflow run with ``optuna_study``, ``optuna_trial`` (the trial that ran it) and
    ``optuna_trials`` (every trial that asked for this configuration)."""

    def __init__(
        self,
        spec: StudySpec,
        worker_id: int,
        tracking_uri: str | None = None,
        say: Say = print,
        verbose: bool = False,
    ) -> None:
        self.spec = spec
        self.worker_id = worker_id
        self.tracking_uri = tracking_uri
        self.say = say
        self.verbose = verbose
        self.key = spec.objective_key
        self.n_trials = spec.n_trials
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

    def _claim(self, trial: optuna.trial.Trial) -> str:
        """Record the worker on the trial; stop (:class:`Surplus`) when the trials complete or
        running ahead of it fill ``n_trials``; returns " (retry of trial N)" or ""."""
        from optuna.trial import TrialState

        trial.set_user_attr("worker_id", self.worker_id)
        trial.set_user_attr("worker_host", socket.gethostname())
        trials = trial.study.get_trials(deepcopy=False)
        ahead = sum(
            1
            for t in trials
            if t.state == TrialState.COMPLETE
            or (t.state == TrialState.RUNNING and t.number < trial.number)
        )
        if ahead >= self.n_trials:
            trial.set_user_attr("surplus", True)
            trial.study.stop()
            raise Surplus(
                f"{ahead} trials complete or running already fill n_trials={self.n_trials}"
            )
        me = next((t for t in trials if t.number == trial.number), None)
        retry = me.system_attrs.get("failed_trial") if me is not None else None
        return f" (retry of trial {retry})" if retry is not None else ""

    def _run(self, trial: optuna.trial.Trial) -> float:
        import optuna

        from espb.progress import Reporter
        from espb.training.run import run_one

        wid = self.worker_id
        note = self._claim(trial)
        t0 = time.perf_counter()
        suggested = suggest(trial, self.spec.space)
        uri = self.tracking_uri or self.spec.tracking_uri
        trial.set_user_attr("overrides", " ".join(suggested))
        cfg = compose_job(job_overrides(self.spec, suggested, uri))
        self.say(f"[w{wid}] trial {trial.number}{note}: {fmt_params(trial.params)}")
        quiet = Reporter(
            say=(lambda s: self.say(f"[w{wid} #{trial.number}] {s}"))
            if self.verbose
            else (lambda s: None)
        )
        outcome = run_one(cfg, quiet, cache=self.cache)
        res = outcome
        self.n_run += 1
        from espb.training.summary import replicate_mean

        reps = outcome.replicates or [outcome]  # training.seeds: the mean over the seeds
        summary = {k: finite(v) for k, v in replicate_mean([r.summary for r in reps]).items()}

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
            msg = (
                f"objective {self.key} is missing or not finite "
                f"({outcome.summary.get(self.key)!r}); the trial is pruned (not counted)"
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
            "optuna_study": self.spec.study_name,
            "optuna_trials": ",".join(seen),
            "optuna_worker": str(self.worker_id),
        }
        if not reused or "optuna_trial" not in tags:
            new["optuna_trial"] = str(number)
        for k, v in new.items():
            client.set_tag(run_id, k, v)
