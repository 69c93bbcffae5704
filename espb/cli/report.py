"""``espb report``: reports of finished work (thin wiring over espb.evaluation).

espb report sweep --experiment espb-paper_432 [--tracking-uri URI] [--out DIR] [--phase dev|all]
espb report forecast RUN [RUN ...] | --experiment NAME [--tracking-uri URI] [--out DIR]
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

import typer

from espb.cli.console import err, say

report_app = typer.Typer(
    help="Reports: the parameter-search report (paper Appendix C, Figure 8) and forecast "
    "comparisons.",
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
            say(
                f"  {label}: {describe_config(row)} acc {row['acc_all']:.3f} (n {row['n_all']}) "
                f"run {row['run_id']} ({factors})"
            )
    say(f"wrote {len(rep.paths)} files to {out}: {', '.join(rep.paths)}")
    if log:
        say(f"logged them to parent run {rep.parent} under report/")


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
