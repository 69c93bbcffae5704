"""``espb report``: reports of finished work (thin wiring over espb.evaluation).

espb report sweep --experiment espb-paper_432 [--tracking-uri URI] [--out DIR] [--phase dev|all]
espb report run RUN_DIR | --latest NAME [--snapshots] [--l-me 14,30,50] [--pool-grid KEY=V1,V2]
espb report forecast RUN [RUN ...] | --experiment NAME [--tracking-uri URI] [--out DIR]
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

import typer

from espb.cli.console import err, say
from espb.errors import EspbError

report_app = typer.Typer(
    help="Reports: the parameter-search report (paper Appendix C, Figure 8), the run report "
    "(Section 4, Appendices B, D, E) and forecast comparisons.",
    no_args_is_help=True,
)


def _out_root() -> Path:
    """``$ESPB_OUT`` or ``outputs`` (as the training runs use), absolute."""
    return Path(os.environ.get("ESPB_OUT") or "outputs").resolve()


@report_app.command("sweep")
def sweep_cmd(
    experiment: Annotated[
        str, typer.Option("--experiment", "-e", help="MLflow experiment of the sweep")
    ],
    tracking_uri: Annotated[
        str | None,
        typer.Option(help="MLflow store (default: sqlite:///<$ESPB_OUT or outputs>/mlruns.db)"),
    ] = None,
    out_dir: Annotated[
        Path | None,
        typer.Option(
            "--out", "-o", help="report folder (default: <$ESPB_OUT or outputs>/reports/EXPERIMENT)"
        ),
    ] = None,
    phase: Annotated[
        str,
        typer.Option(
            help="dev: the development period the search used | all: dev and test pooled in the "
            "tables and figures (the best configurations are always chosen on dev)"
        ),
    ] = "dev",
    log: Annotated[
        bool, typer.Option("--log/--no-log", help="log the report to the sweep's parent run")
    ] = True,
) -> None:
    """Accuracy per period of every configuration, parameter effects and Figures C.7-C.9 and 8."""
    from espb.evaluation.sweep.factors import FACTORS, describe_config
    from espb.evaluation.sweep.report import report_sweep
    from espb.tracking import default_uri

    root = _out_root()
    uri = tracking_uri or default_uri(root)
    out = (out_dir or root / "reports" / experiment).resolve()
    with err.status(f"reading sweep {experiment!r} from {uri}") as st:
        rep = report_sweep(
            uri, experiment, out, phase, log, lambda m: st.update(f"sweep {experiment!r}: {m}")
        )
    configs = rep.configs
    say(
        f"sweep {experiment!r}: {len(configs)} configurations, {rep.n_finished} finished, "
        f"{int(configs['has_predictions'].sum())} with predictions "
        f"({rep.n_samples:,} samples, phase {phase})"
    )
    if phase != "dev":
        say("  the best configurations are chosen on the development period (phase dev) only")
    for label, row in (
        ("best overall", rep.best["overall"]),
        ("best M_lim 4.9", rep.best["m_lim"]),
    ):
        if row is None:
            say(f"  {label}: none")
        else:
            factors = " ".join(f"{f}={row[f]}" for f in FACTORS)
            seeds = f", mean of {row['n_seeds']} seeds" if row.get("n_seeds") else ""
            say(
                f"  {label}: {describe_config(row)} acc {row['acc_all']:.3f} (n {row['n_all']}"
                f"{seeds}) run {row['run_id']} ({factors})"
            )
    say(f"wrote {len(rep.paths)} files to {out}: {', '.join(rep.paths)}")
    if log:
        say(f"logged them to parent run {rep.parent} under report/")


def run_report_finisher(cache, rep):
    """The run report as a finisher of ``espb-train`` (``run.report=true``): the default
    options (no Figure 6), the process's input cache, written into ``<run>/report/`` and logged
    to the run's MLflow run."""
    from espb.evaluation.diagnostics import make_report_finisher

    return make_report_finisher(cache=cache, rep=rep)


def _int_list(text: str | None) -> tuple[int, ...]:
    if not text:
        return ()
    try:
        return tuple(int(v) for v in text.split(",") if v.strip())
    except ValueError:
        raise EspbError(
            f"--l-me {text!r}: give meta-epoch lengths in days, e.g. 14,30,50"
        ) from None


@report_app.command("run")
def run_cmd(
    run_dir: Annotated[
        Path | None,
        typer.Argument(help="a run folder <out>/runs/<name>/<hash>/", show_default=False),
    ] = None,
    latest: Annotated[
        str | None,
        typer.Option("--latest", help="the latest run of this preset under $ESPB_OUT/runs/NAME/"),
    ] = None,
    out_dir: Annotated[
        Path | None, typer.Option("--out", "-o", help="report folder (default: RUN/report)")
    ] = None,
    snapshots: Annotated[
        bool,
        typer.Option(
            "--snapshots/--no-snapshots",
            help="Figure 6: score every snapshot on all later validation data (slow)",
        ),
    ] = False,
    l_me: Annotated[
        str | None, typer.Option("--l-me", help="Figure 3 also for these l_ME, e.g. 14,30,50")
    ] = None,
    mc_method: Annotated[
        str, typer.Option(help="Figure B.3 Mc estimator: mbs | maxc | ks (seismostats)")
    ] = "mbs",
    pool_grid: Annotated[
        list[str] | None,
        typer.Option(
            "--pool-grid",
            help="Figure B.5: vary KEY=V1,V2 (repeatable), e.g. samples.m_lim=4.0,4.5,4.9",
        ),
    ] = None,
    build_cube: Annotated[
        bool, typer.Option("--build-cube", help="build a cube missing from the cache")
    ] = False,
    log: Annotated[
        bool, typer.Option("--log/--no-log", help="log the report to the run's MLflow run")
    ] = True,
) -> None:
    """The paper's figures for one run (Figures 3-7, 9, B.3-B.5, D.10, D.11; E.12-E.16 on a
    Model14.0 run): PNG + data per figure and report/index.md (docs/diagnostics.md)."""
    from espb.evaluation.diagnostics import ReportOptions, log_report, write_run_report
    from espb.evaluation.diagnostics.completeness import METHODS
    from espb.evaluation.diagnostics.pool_grid import parse_vary
    from espb.evaluation.diagnostics.run_data import latest_run
    from espb.progress import Reporter

    if (run_dir is None) == (latest is None):
        raise EspbError("give a run folder or --latest NAME (one of them)")
    if mc_method not in METHODS:
        raise EspbError(f"--mc-method {mc_method!r}: use one of {', '.join(METHODS)}")
    run = run_dir if run_dir is not None else latest_run(_out_root(), latest)
    opts = ReportOptions(
        snapshots=snapshots,
        l_mes=_int_list(l_me),
        mc_method=mc_method,
        pool_grid=parse_vary(pool_grid or []),
        build_cube=build_cube,
    )
    with err.status(f"writing the report of {run}") as st:
        rep = Reporter(say=lambda m: st.update(f"report of {Path(run).name}: {m}"))
        report = write_run_report(run, out_dir, opts, rep)
        if log:
            st.update("logging the report to MLflow")
            run_id = log_report(report, run)
    for it in report.items:
        say(f"  {it.paper:<20} {it.png}  ({it.seconds:.1f} s)")
    say(
        f"wrote {len(report.items)} figures to {report.out_dir} in {report.seconds:.1f} s "
        f"(inputs {report.inputs_s:.1f} s); page {report.page}"
    )
    if log:
        say(f"logged them to MLflow run {run_id} under report/")


@report_app.command("forecast")
def forecast_cmd(
    runs: Annotated[
        list[Path] | None, typer.Argument(help="run folders forecast with `espb forecast`")
    ] = None,
    experiment: Annotated[
        str | None, typer.Option("--experiment", "-e", help="every forecast run of an experiment")
    ] = None,
    tracking_uri: Annotated[
        str | None,
        typer.Option(
            help="MLflow store (default: each run's own; for --experiment sqlite:///"
            "<$ESPB_OUT or outputs>/mlruns.db)"
        ),
    ] = None,
    out_dir: Annotated[
        Path | None, typer.Option("--out", "-o", help="also write the table (CSV, Markdown) here")
    ] = None,
) -> None:
    """Runs and baselines in one table: IG per target event over the spatial base rate with its
    interval, BSS, AUC, ASS and hit rates at 1 % and 5 %, from the logged forecast metrics."""
    from espb.evaluation.forecast.compare import report_forecast
    from espb.tracking import default_uri

    uri = tracking_uri or (default_uri(_out_root()) if experiment else None)
    table, files = report_forecast(runs or [], experiment, uri, out_dir)
    widths = {c: max(len(str(c)), *(len(str(v)) for v in table[c])) for c in table.columns}
    say("  ".join(f"{c:<{widths[c]}}" for c in table.columns))
    for row in table.itertuples(index=False):
        say("  ".join(f"{str(v):<{widths[c]}}" for c, v in zip(table.columns, row, strict=True)))
    if files:
        say(f"wrote {', '.join(str(p) for p in files.values())}")
