"""``espb sweep``: run, prepare and list the jobs of a sweep file (thin wiring over espb.sweep).

espb sweep jobs paper_432 [OVERRIDES] [--count]
espb sweep prepare paper_432 experiment=sweep_demo name=demo_432 [--jobs N]
espb sweep run paper_432 experiment=sweep_demo name=demo_432 [--jobs N] [--no-server]
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Annotated

import typer

from espb.cli.console import say
from espb.errors import EspbError

sweep_app = typer.Typer(
    help="Sweeps (Hydra multirun over sweeps/*.yaml): jobs, prepare, run.", no_args_is_help=True
)

SweepArg = Annotated[str, typer.Argument(help="sweep name in sweeps/ (paper_432) or a YAML file")]
Overrides = Annotated[
    list[str] | None,
    typer.Argument(help="Hydra overrides, e.g. experiment=sweep_demo name=demo_432"),
]
Jobs = Annotated[
    int | None, typer.Option("--jobs", "-j", help="parallel jobs (local launcher) [one per core]")
]


def _exe(name: str) -> str:
    p = Path(sys.executable).with_name(name)
    return str(p) if p.exists() else (shutil.which(name) or name)


def _fmt_s(s: float) -> str:
    return f"{s / 60:.1f} min" if s >= 120 else f"{s:.0f} s"


@sweep_app.command("jobs")
def jobs_cmd(
    sweep: SweepArg,
    overrides: Overrides = None,
    count: Annotated[bool, typer.Option(help="print only the number of jobs")] = False,
) -> None:
    """List the jobs (override sets) the multirun launches, in launch order."""
    from espb.sweep.plan import sweep_jobs

    jobs = sweep_jobs(sweep, overrides or [])
    if count:
        print(len(jobs))
        return
    for i, j in enumerate(jobs):
        print(f"#{i:<4d} " + " ".join(j))
    say(f"{len(jobs)} jobs")


def _prepare(sweep: str, overrides: list[str], n_jobs: int | None) -> dict:
    from espb.sweep.plan import job_config, shared_work, sweep_jobs
    from espb.sweep.prepare import prepare_shared

    t0 = time.perf_counter()
    jobs = sweep_jobs(sweep, overrides)
    cfgs = [job_config(sweep, j, overrides) for j in jobs]
    cubes, aes = shared_work(cfgs)
    say(
        f"sweep {sweep}: {len(jobs)} jobs share {len(cubes)} cubes and {len(aes)} autoencoders; "
        f"building what is not cached with {n_jobs or os.cpu_count()} processes"
    )

    def done(res, i, n):
        state = "" if res["built"] is None else ("built" if res["built"] else "cached")
        say(
            f"  {res['kind']:<11s} {i:>3d}/{n:<3d} {res['what']:<28s} {state:<6s} {res['seconds']:6.1f} s  {res['key']}"
        )

    results = prepare_shared(cubes, aes, n_jobs, done)
    wall = time.perf_counter() - t0
    say(f"prepared {len(cubes)} cubes and {len(aes)} autoencoders in {_fmt_s(wall)}")
    return {"results": results, "wall_s": wall, "n_cubes": len(cubes), "n_aes": len(aes)}


@sweep_app.command("prepare")
def prepare_cmd(sweep: SweepArg, overrides: Overrides = None, jobs: Jobs = None) -> None:
    """Build the sweep's distinct cubes, then its distinct autoencoders, in parallel (cached)."""
    _prepare(sweep, overrides or [], jobs)


def run_interruptible(cmd: list[str]) -> int:
    """Run ``cmd`` in its own process group; Ctrl-C or SIGTERM here stops the whole group (the
    multirun and its worker processes) and returns 130. Jobs stopped this way resume from their
    last meta-epoch checkpoint when the same sweep command is run again."""
    proc = subprocess.Popen(cmd, start_new_session=True)

    def stop(signum, frame):
        raise KeyboardInterrupt

    # explicit handlers: a shell's background job starts with SIGINT ignored
    old = {sig: signal.signal(sig, stop) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        return proc.wait()
    except KeyboardInterrupt:
        say("interrupted: stopping the sweep's jobs (re-run the same command to resume)")
        for sig, wait in ((signal.SIGTERM, 30), (signal.SIGKILL, 10)):
            try:
                os.killpg(proc.pid, sig)
                proc.wait(timeout=wait)
                break
            except (ProcessLookupError, subprocess.TimeoutExpired):
                continue
        return 130
    finally:
        for sig, handler in old.items():
            signal.signal(sig, handler)


@sweep_app.command("run")
def run_cmd(
    sweep: SweepArg,
    overrides: Overrides = None,
    jobs: Jobs = None,
    server: Annotated[
        bool, typer.Option(help="log through a loopback MLflow server (parallel local jobs)")
    ] = True,
    prepare: Annotated[
        bool, typer.Option(help="build the shared cubes and autoencoders first")
    ] = True,
    report: Annotated[
        bool, typer.Option(help="write the sweep report afterwards (espb report sweep)")
    ] = True,
) -> None:
    """The sweep as a Hydra multirun (espb-train -m), resumable: finished configurations are
    skipped, killed ones resume from their last meta-epoch checkpoint."""
    from omegaconf import OmegaConf

    from espb.sweep.plan import compose_sweep, split_overrides, sweep_file
    from espb.sweep.server import tracking_server
    from espb.tracking import default_uri

    overrides = list(overrides or [])
    _, plain = split_overrides(overrides)
    cfg = compose_sweep(sweep, plain)
    out_dir = Path(cfg.out_dir)
    tracking = OmegaConf.to_container(cfg.tracking, resolve=True)
    experiment = tracking.get("experiment") or f"espb-{cfg.name}"
    local = "Joblib" in str(cfg.hydra.launcher.get("_target_", ""))
    n_jobs = jobs or (os.cpu_count() or 1)
    t0 = time.perf_counter()
    timings: dict[str, float] = {}
    if prepare:
        timings["prepare_s"] = _prepare(sweep, overrides, n_jobs)["wall_s"]
    f = sweep_file(sweep)
    cmd = [
        _exe("espb-train"),
        "-m",
        "--config-dir",
        str(f.parent),
        "--config-name",
        f.stem,
        *overrides,
    ]
    if local:
        cmd.append(f"hydra.launcher.n_jobs={n_jobs}")
    use_server = server and not tracking.get("uri") and (not local or n_jobs > 1)
    store = default_uri(out_dir)
    log_dir = out_dir / "hydra" / str(cfg.name)
    log_dir.mkdir(parents=True, exist_ok=True)

    def launch(uri: str | None) -> int:
        full = cmd + ([f"tracking.uri={uri}"] if uri else [])
        say(f"$ {' '.join(full)}")
        t1 = time.perf_counter()
        rc = run_interruptible(full)
        timings["sweep_s"] = time.perf_counter() - t1
        return rc

    def do_report(uri: str) -> int:
        if not report:
            return 0
        t1 = time.perf_counter()
        rc = subprocess.call(
            [_exe("espb"), "report", "sweep", "--experiment", experiment, "--tracking-uri", uri]
        )
        timings["report_s"] = time.perf_counter() - t1
        return rc

    if use_server:
        with tracking_server(
            store, out_dir / "mlartifacts", log_path=log_dir / "mlflow-server.log"
        ) as uri:
            say(
                f"MLflow tracking server for the sweep's jobs: {uri} (store {store}; log {log_dir / 'mlflow-server.log'})"
            )
            rc = launch(uri)
            rrc = do_report(uri) if rc == 0 else 0
    else:
        uri = tracking.get("uri") or store
        rc = launch(None)
        rrc = do_report(uri) if rc == 0 else 0
    wall = time.perf_counter() - t0
    parts = ", ".join(f"{k[:-2]} {_fmt_s(v)}" for k, v in timings.items())
    say(
        f"sweep {sweep} ({cfg.name}): {'finished' if rc == 0 else f'FAILED (status {rc})'} in {_fmt_s(wall)} ({parts})"
    )
    if rc != 0:
        raise EspbError(
            f"the multirun exited with status {rc}; re-run the same command to resume (finished "
            "configurations are skipped, killed ones resume from their checkpoint)"
        )
    if rrc != 0:
        raise EspbError(
            f"the sweep report failed (status {rrc}); re-run: espb report sweep --experiment {experiment}"
        )
    say(f"browse it: make ui OUT={out_dir}   (experiment '{experiment}')")
