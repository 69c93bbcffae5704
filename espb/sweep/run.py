"""``espb sweep``: a sweep file run as a Hydra multirun of ``espb-train``, resumable.

:func:`list_jobs` lists the jobs in launch order; :func:`prepare_sweep` builds the shared
cubes and autoencoders up front (:mod:`espb.sweep.prepare`); :func:`run_sweep` does the whole
sequence: prepare, a loopback tracking server for parallel local jobs
(:func:`espb.sweep.supervise.tracking_for_parallel`), the multirun in its own process group
(:func:`espb.sweep.supervise.run_children`), the report (``espb report sweep``). Finished
configurations are skipped, killed ones resume from their last meta-epoch checkpoint.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from espb.signals import interrupts
from espb.sweep.owner import SweepOwner, own_sweep
from espb.sweep.supervise import Say, run_children, tracking_for_parallel

#: seconds the multirun's processes have to stop after SIGTERM, then SIGKILL (and 10 s more)
STOP_WAIT = 30.0


def exe(name: str) -> str:
    """The console script ``name`` of this interpreter's environment (else on PATH)."""
    p = Path(sys.executable).with_name(name)
    return str(p) if p.exists() else (shutil.which(name) or name)


def fmt_s(s: float) -> str:
    return f"{s / 60:.1f} min" if s >= 120 else f"{s:.0f} s"


def list_jobs(sweep: str | Path, overrides: Sequence[str] = ()) -> list[list[str]]:
    """The jobs (override sets) the multirun launches, in launch order."""
    from espb.sweep.plan import sweep_jobs

    return sweep_jobs(sweep, list(overrides))


def check_first_job(sweep: str | Path, overrides: Sequence[str] = (), say: Say = print) -> None:
    """The cube-free checks of ``espb region check`` on the sweep's first job (its catalog
    against the grid, the grid against the patch, the EQ samples;
    :func:`espb.training.regions.check_config` with ``cube=False``), before anything is built
    or launched: a sweep whose settings cannot train stops here with the cause and the fix
    (the nEQ and schedule checks need the cube: each job runs them at its start).
    ``region=auto`` is refused: a sweep's jobs need one fixed grid."""
    from espb.errors import ConfigError
    from espb.sweep.plan import job_config, sweep_jobs
    from espb.training.regions import check_config

    jobs = sweep_jobs(sweep, list(overrides))
    if not jobs:
        return
    cfg = job_config(sweep, jobs[0], list(overrides))
    if (cfg.get("region") or {}).get("name") == "auto":
        raise ConfigError(
            f"sweep {sweep}: region=auto is derived per run; derive it once with `espb region "
            "auto --catalog TABLE --name NAME` and sweep with region=NAME (one grid for all jobs)"
        )
    chk = check_config(cfg, lambda line: None, cube=False)  # the cube-stage checks: per job
    chk.raise_if_problems()
    say(
        f"check of the first job: {chk.n_in_both:,} events in its grid, {chk.eq['n_eq']:,} EQ "
        f"samples ({chk.region})"
    )
    for w in chk.warnings:
        say(f"warning: {w}")


@dataclass
class Prepared:
    """What :func:`prepare_sweep` built: one dict per cube or autoencoder
    (:func:`espb.sweep.prepare.prepare_shared`)."""

    results: list[dict]
    wall_s: float
    n_jobs: int
    n_cubes: int
    n_aes: int


def prepare_sweep(
    sweep: str | Path,
    overrides: Sequence[str] = (),
    n_jobs: int | None = None,
    say: Say = print,
    check: bool = True,
) -> Prepared:
    """Build the sweep's distinct cubes, then its distinct autoencoders, with ``n_jobs``
    processes (None: one per core); cached ones are only read. ``check``: first the checks of
    the first job (:func:`check_first_job`)."""
    from espb.sweep.plan import job_config, shared_work, sweep_jobs
    from espb.sweep.prepare import prepare_shared

    if check:
        check_first_job(sweep, overrides, say)
    t0 = time.perf_counter()
    jobs = sweep_jobs(sweep, list(overrides))
    cfgs = [job_config(sweep, j, list(overrides)) for j in jobs]
    cubes, aes = shared_work(cfgs)
    say(
        f"sweep {sweep}: {len(jobs)} jobs share {len(cubes)} cubes and {len(aes)} autoencoders; "
        f"building what is not cached with {n_jobs or os.cpu_count()} processes"
    )

    def done(res: dict, i: int, n: int) -> None:
        state = "" if res["built"] is None else ("built" if res["built"] else "cached")
        say(
            f"  {res['kind']:<11s} {i:>3d}/{n:<3d} {res['what']:<28s} {state:<6s} "
            f"{res['seconds']:6.1f} s  {res['key']}"
        )

    results = prepare_shared(cubes, aes, n_jobs, done)
    wall = time.perf_counter() - t0
    say(f"prepared {len(cubes)} cubes and {len(aes)} autoencoders in {fmt_s(wall)}")
    return Prepared(results, wall, len(jobs), len(cubes), len(aes))


@dataclass
class SweepRun:
    """The outcome of :func:`run_sweep`: exit statuses of the multirun and of the report (0
    when not run), wall seconds per step (``prepare_s``, ``sweep_s``, ``report_s``)."""

    sweep: str
    name: str
    experiment: str
    out_dir: Path
    rc: int
    report_rc: int
    timings: dict[str, float] = field(default_factory=dict)
    wall_s: float = 0.0


def multirun_command(sweep: str | Path, overrides: Sequence[str], n_jobs: int | None) -> list[str]:
    """``espb-train -m`` over the sweep file (``n_jobs``: the local launcher's processes)."""
    from espb.sweep.plan import sweep_file

    f = sweep_file(sweep)
    cmd = [exe("espb-train"), "-m", "--config-dir", str(f.parent), "--config-name", f.stem]
    cmd += list(overrides)
    return cmd + ([f"hydra.launcher.n_jobs={n_jobs}"] if n_jobs is not None else [])


def run_multirun(cmd: Sequence[str], say: Say = print, owner: SweepOwner | None = None) -> int:
    """Run the multirun in its own process group; Ctrl-C or SIGTERM stops the whole group (the
    multirun and its worker processes) and returns 130. Jobs stopped this way resume from their
    last meta-epoch checkpoint when the same sweep command is run again. ``owner`` records the
    group, so that a re-run after a kill of this process stops it first."""
    msg = "interrupted: stopping the sweep's jobs (re-run the same command to resume)"
    record = (lambda p: owner.add_group(p.pid)) if owner is not None else None
    interrupted, (rc,) = run_children(
        [cmd], term_wait=STOP_WAIT, on_interrupt=lambda: say(msg), on_start=record
    )
    return 130 if interrupted else int(rc if rc is not None else 1)


def report_command(experiment: str, uri: str) -> list[str]:
    return [exe("espb"), "report", "sweep", "--experiment", experiment, "--tracking-uri", uri]


def run_sweep(
    sweep: str | Path,
    overrides: Sequence[str] = (),
    n_jobs: int | None = None,
    server: bool = True,
    prepare: bool = True,
    report: bool = True,
    say: Say = print,
) -> SweepRun:
    """Prepare (``prepare``), run the multirun with ``n_jobs`` local processes (None: one per
    core), then write the report (``report``; only after a multirun that succeeded). A loopback
    MLflow server serves the jobs when ``server``, no ``tracking.uri`` is given and the jobs run
    in parallel (several local jobs, or any other launcher)."""
    from omegaconf import OmegaConf

    from espb.sweep.plan import compose_sweep, split_overrides

    overrides = list(overrides)
    cfg = compose_sweep(sweep, split_overrides(overrides)[1])
    out_dir = Path(cfg.out_dir)
    tracking = OmegaConf.to_container(cfg.tracking, resolve=True)
    experiment = tracking.get("experiment") or f"espb-{cfg.name}"
    local = "Joblib" in str(cfg.hydra.launcher.get("_target_", ""))
    n_jobs = n_jobs or (os.cpu_count() or 1)
    res = SweepRun(str(sweep), str(cfg.name), experiment, out_dir, 0, 0)
    t0 = time.perf_counter()
    cmd = multirun_command(sweep, overrides, n_jobs if local else None)
    log = out_dir / "hydra" / str(cfg.name) / "mlflow-server.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    parallel = server and (not local or n_jobs > 1)
    check_first_job(sweep, overrides, say)  # the settings train at all (espb region check)
    with own_sweep(log.parent, str(cfg.name), say) as owner:
        if prepare:
            res.timings["prepare_s"] = prepare_sweep(sweep, overrides, n_jobs, say, False).wall_s
        _sweep_and_report(res, cmd, parallel, tracking.get("uri"), log, report, owner, say)
    res.wall_s = time.perf_counter() - t0
    return res


def _sweep_and_report(
    res: SweepRun,
    cmd: list[str],
    parallel: bool,
    given_uri: str | None,
    log: Path,
    report: bool,
    owner: SweepOwner,
    say: Say,
) -> None:
    """The multirun (through a loopback tracking server when ``parallel`` and no URI is
    given), then the report; Ctrl-C or SIGTERM at any point sets the exit status 130."""
    from espb.tracking import default_uri

    with interrupts():
        try:
            with tracking_for_parallel(
                parallel,
                given_uri,
                res.out_dir,
                log,
                say,
                "the sweep's jobs",
                on_start=owner.add_group,
            ) as served:
                res.rc = _timed(res, "sweep_s", lambda: _launch(cmd, served, say, owner))
                if res.rc == 0 and report:
                    uri = served or given_uri or default_uri(res.out_dir)
                    cmd_r = report_command(res.experiment, uri)
                    res.report_rc = _timed(res, "report_s", lambda: subprocess.call(cmd_r))
        except KeyboardInterrupt:  # while the tracking server started, or the report ran
            say("interrupted (re-run the same command to resume)")
            if "sweep_s" in res.timings and res.rc == 0:
                res.report_rc = 130
            else:
                res.rc = 130


def _launch(cmd: list[str], uri: str | None, say: Say, owner: SweepOwner | None = None) -> int:
    full = cmd + ([f"tracking.uri={uri}"] if uri else [])
    say(f"$ {' '.join(full)}")
    return run_multirun(full, say, owner)


def _timed(res: SweepRun, key: str, fn) -> int:
    t = time.perf_counter()
    rc = fn()
    res.timings[key] = time.perf_counter() - t
    return rc
