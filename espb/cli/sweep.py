"""``espb sweep``: run, prepare and list the jobs of a sweep file (thin wiring over
espb.sweep.run).

espb sweep jobs paper_432 [OVERRIDES] [--count]
espb sweep prepare paper_432 experiment=sweep_demo name=demo_432 [--jobs N]
espb sweep run paper_432 experiment=sweep_demo name=demo_432 [--jobs N] [--no-server]
espb sweep continue paper_432 [OVERRIDES] [--select table2|best|best_mlim49|top]
"""

from __future__ import annotations

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


@sweep_app.command("jobs")
def jobs_cmd(
    sweep: SweepArg,
    overrides: Overrides = None,
    count: Annotated[bool, typer.Option(help="print only the number of jobs")] = False,
) -> None:
    """List the jobs (override sets) the multirun launches, in launch order."""
    from espb.sweep.run import list_jobs

    jobs = list_jobs(sweep, overrides or [])
    if count:
        print(len(jobs))
        return
    for i, j in enumerate(jobs):
        print(f"#{i:<4d} " + " ".join(j))
    say(f"{len(jobs)} jobs")


@sweep_app.command("prepare")
def prepare_cmd(sweep: SweepArg, overrides: Overrides = None, jobs: Jobs = None) -> None:
    """Build the sweep's distinct cubes, then its distinct autoencoders, in parallel (cached)."""
    from espb.sweep.run import prepare_sweep

    prepare_sweep(sweep, overrides or [], jobs, say)


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
    from espb.sweep.run import fmt_s, run_sweep

    res = run_sweep(sweep, overrides or [], jobs, server, prepare, report, say)
    parts = ", ".join(f"{k[:-2]} {fmt_s(v)}" for k, v in res.timings.items())
    state = "finished" if res.rc == 0 else f"FAILED (status {res.rc})"
    say(f"sweep {sweep} ({res.name}): {state} in {fmt_s(res.wall_s)} ({parts})")
    if res.rc != 0:
        raise EspbError(
            f"the multirun exited with status {res.rc}; re-run the same command to resume "
            "(finished configurations are skipped, killed ones resume from their checkpoint)"
        )
    if res.report_rc != 0:
        raise EspbError(
            f"the sweep report failed (status {res.report_rc}); re-run: espb report sweep "
            f"--experiment {res.experiment}"
        )
    say(f"browse it: make ui OUT={res.out_dir}   (experiment '{res.experiment}')")


@sweep_app.command("continue")
def continue_cmd(
    sweep: SweepArg,
    overrides: Overrides = None,
    select: Annotated[
        str,
        typer.Option(
            "--select",
            help="table2 (the best overall and the best with M_lim 4.9, the paper's two "
            "models) | best | best_mlim49 | top",
        ),
    ] = "table2",
    top: Annotated[int, typer.Option(help="with --select top: how many")] = 2,
) -> None:
    """Continue the configurations selected on the development period through the test
    period (the paper's protocol: search to dev_end, then only the selected models to 2022)."""
    from espb.sweep.continuation import continue_sweep

    res = continue_sweep(sweep, overrides or [], select, top, say)
    for row, rc in zip(res.selected, res.rcs, strict=False):
        state = "continued through the test period" if rc == 0 else f"FAILED (status {rc})"
        say(f"  {row.get('config_hash', '?')}: {state}")
    if len(res.rcs) < len(res.selected) or any(res.rcs):
        raise EspbError("a continuation failed; re-run the same command to resume it")
