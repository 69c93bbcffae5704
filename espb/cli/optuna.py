"""``espb optuna``: Optuna studies over espb-train configurations (thin wiring over
espb.sweep.optuna; docs/optuna.md).

    espb optuna run sweeps/optuna_tpe.yaml [OVERRIDES] [--workers N]
    espb optuna worker sweeps/optuna_tpe.yaml [OVERRIDES] [--worker-id I] [--tracking-uri URI]
    espb optuna status sweeps/optuna_tpe.yaml [OVERRIDES]

OVERRIDES are dotlist settings of the study file: n_trials=20 objective=auc
base_overrides=[experiment=smoke] space.training.loss.choices=[bce] storage=postgresql://...
"""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from espb.cli.console import say
from espb.errors import EspbError

optuna_app = typer.Typer(
    help="Optuna studies (TPE) over the sweep space: run, worker, status.", no_args_is_help=True
)

SpecArg = Annotated[
    str, typer.Argument(help="study file (sweeps/optuna_tpe.yaml) or its name in sweeps/")
]
Overrides = Annotated[
    list[str] | None, typer.Argument(help="study settings, e.g. n_trials=20 objective=auc")
]
Verbose = Annotated[bool, typer.Option("--verbose", "-v", help="print each run's progress lines")]


def _say(line: str) -> None:
    say(line)
    sys.stdout.flush()


@optuna_app.command("run")
def run_cmd(
    spec: SpecArg,
    overrides: Overrides = None,
    workers: Annotated[
        int, typer.Option("--workers", "-w", help="worker processes on this machine")
    ] = 1,
    verbose: Verbose = False,
) -> None:
    """Run (or continue) the study until it holds n_trials COMPLETE trials; print the best."""
    from espb.sweep.optuna import load_study_config, run_study

    cfg = load_study_config(spec, overrides or [])
    res = run_study(cfg, workers, _say, verbose)
    say(
        f"study '{res.study_name}': {res.counts['COMPLETE']}/{res.n_trials} complete "
        f"in {res.wall_s:.0f} s; MLflow parent run {res.parent_run_id} "
        f"in experiment '{res.experiment}'"
    )
    if res.interrupted and res.counts["COMPLETE"] < res.n_trials:
        say("interrupted: run the same command again to continue the study")
        raise typer.Exit(130)
    bad = [(i, rc) for i, rc in enumerate(res.worker_rcs) if rc not in (0, 130)]
    if bad:
        raise EspbError(
            "worker "
            + ", ".join(f"{i} exited with status {rc}" for i, rc in bad)
            + " (its error is printed above); run the same command again to continue"
        )
    if res.counts["COMPLETE"] < res.n_trials:
        raise EspbError(
            f"the study holds {res.counts['COMPLETE']} of {res.n_trials} COMPLETE trials; "
            "run the same command again to continue"
        )


@optuna_app.command("worker")
def worker_cmd(
    spec: SpecArg,
    overrides: Overrides = None,
    worker_id: Annotated[
        int | None,
        typer.Option(
            "--worker-id",
            help="this worker's number (seeds its sampler; recorded per trial; "
            "default: the process id)",
        ),
    ] = None,
    tracking_uri: Annotated[
        str | None,
        typer.Option(
            help="MLflow tracking URI of the trials "
            "(default: the study's tracking_uri, else the runs' default)"
        ),
    ] = None,
    verbose: Verbose = False,
) -> None:
    """One worker: run trials until the study holds n_trials COMPLETE trials (start any number,
    on any machine that reaches the storage)."""
    import os

    from espb.sweep.optuna import load_study_config, run_worker

    cfg = load_study_config(spec, overrides or [])
    wid = os.getpid() if worker_id is None else worker_id
    res = run_worker(cfg, wid, tracking_uri, _say, verbose)
    _say(
        f"[w{wid}] done: {res.n_run} trials run here"
        + (" (interrupted)" if res.interrupted else "")
    )
    if res.interrupted:
        raise typer.Exit(130)


@optuna_app.command("status")
def status_cmd(spec: SpecArg, overrides: Overrides = None) -> None:
    """Trial counts by state, the best trial and the trials table of a study."""
    from espb.sweep.optuna import load_study_config, study_status

    for line in study_status(load_study_config(spec, overrides or [])):
        say(line)
