"""Optuna studies over espb-train configurations (``espb optuna``; docs/optuna.md).

A study file (``sweeps/optuna_tpe.yaml``) names an Optuna storage (any SQLAlchemy URL), a search
space over espb-train settings and an objective read from a trial's run summary. Each trial is
one espb-train configuration run by :func:`espb.training.run.run_one` and logged to MLflow as a
child of the study's parent run. Workers (processes on one machine, or on several machines
sharing a PostgreSQL storage) each run :func:`run_worker` on the same study until it holds
``n_trials`` COMPLETE trials; :func:`run_study` starts them and reports the best trial.

One job per module:

- :mod:`~espb.sweep.optuna.spec`: the study file's typed schema and its loading
- :mod:`~espb.sweep.optuna.space`: a trial -> the espb-train overrides and config it runs
- :mod:`~espb.sweep.optuna.storage`: the RDB storage (heartbeat, retries), sampler, study
- :mod:`~espb.sweep.optuna.objective`: one trial = one run, scored by its summary
- :mod:`~espb.sweep.optuna.worker`: the worker loop and what a stop does to its trial
- :mod:`~espb.sweep.optuna.study`: ``espb optuna run`` (parent run, workers, the end)
- :mod:`~espb.sweep.optuna.report`: counts, best trial, trials table
- :mod:`~espb.sweep.optuna.tracking`: the study's MLflow parent run
"""

from espb.sweep.optuna.report import study_status
from espb.sweep.optuna.spec import StudySpec, load_study_config, space_specs
from espb.sweep.optuna.study import StudyRun, run_study
from espb.sweep.optuna.worker import WorkerResult, run_worker

__all__ = [
    "StudyRun",
    "StudySpec",
    "WorkerResult",
    "load_study_config",
    "run_study",
    "run_worker",
    "space_specs",
    "study_status",
]
