"""``espb forecast RUN``: forecast and score a finished run (thin wiring over
:func:`espb.evaluation.forecast.run.evaluate_run`; docs/forecasts.md "Commands").

    espb forecast outputs/runs/demo/<hash> [--period test|dev|all]
        [--snapshot time-forward|latest|K] [--calibration prior|isotonic|logistic|none]
        [--baselines uniform,spatial,recent,oracle] [--csep-window map_day,period,FIRST:LAST]
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from espb.cli.console import err, say

Run = Annotated[Path, typer.Argument(help="a run folder: <out_dir>/runs/<name>/<config hash>")]
Period = Annotated[
    str, typer.Option(help="test (after training.dev_end) | dev | all (both, scored apart)")
]
Snapshot = Annotated[
    str, typer.Option(help="time-forward (each day by the model it had) | latest | K (one index)")
]
Calibration = Annotated[
    str, typer.Option(help="prior (prior shift) | isotonic | logistic | none (raw score)")
]
CalSource = Annotated[
    str, typer.Option(help="what a calibration map is fitted on: dense (past days) | validation")
]
Baselines = Annotated[
    str, typer.Option(help="comma list of uniform, spatial, recent, oracle (synthetic only)")
]
Windows = Annotated[
    str, typer.Option(help="pyCSEP windows: map_day, period, FIRST:LAST dates (comma list)")
]


def _progress(t0: float):
    def note(msg: str) -> None:
        err.print(f"  [dim]{time.perf_counter() - t0:6.1f}s {escape(msg)}[/dim]", highlight=False)

    return note


def _print_summary(rep) -> None:
    from espb.evaluation.forecast.run_writer import ci

    for name, res in rep.periods.items():
        say(
            f"{name} period {res.first}..{res.last}: {len(res.days)} days, "
            f"{res.n_cell_days:,} cell-days, {res.n_targets} targets "
            f"(IG and BSS against {rep.settings.reference}; 95 % block-bootstrap intervals)"
        )
        t = res.table.set_index(["forecast", "score"])
        heads = ("ig_nats", "bss", "auc", "ass", "hit@0.01", "hit@0.05")
        say(f"  {'forecast':<14s} " + " ".join(f"{h:<28s}" for h in heads))
        for f in dict.fromkeys(res.table["forecast"]):
            say(f"  {f:<14s} " + " ".join(f"{ci(t.loc[(f, h)], 3):<28s}" for h in heads))
    for x in rep.notes + [n for r in rep.periods.values() for n in r.notes]:
        say(f"note: {x}")
    say(f"wrote {len(rep.files)} files to {rep.out_dir} (forecast.md)")
    if rep.logged_to:
        say(f"logged to MLflow: {rep.logged_to} under forecast/{rep.settings.label}/")


def forecast_cmd(
    run: Run,
    period: Period = "test",
    snapshot: Snapshot = "time-forward",
    calibration: Calibration = "prior",
    calibration_source: CalSource = "dense",
    baselines: Baselines = "uniform,spatial,recent,oracle",
    csep_window: Windows = "map_day,period",
    map_day: Annotated[
        str | None, typer.Option(help="day of the forecast map (default: most targets)")
    ] = None,
    n_boot: Annotated[int, typer.Option(help="bootstrap replicates")] = 1000,
    block_days: Annotated[int, typer.Option(help="bootstrap block length (days)")] = 7,
    seed: Annotated[int, typer.Option(help="bootstrap and pyCSEP seed")] = 0,
    csep_simulations: Annotated[
        int, typer.Option(help="pyCSEP's simulated catalogs per gridded test")
    ] = 1000,
    cache_dir: Annotated[
        Path | None, typer.Option(help="cache [the run's cache_dir, $ESPB_CACHE_DIR]")
    ] = None,
    tracking_uri: Annotated[
        str | None, typer.Option(help="MLflow store of the run [its state.json's]")
    ] = None,
    log: Annotated[bool, typer.Option("--log/--no-log", help="log to the run's MLflow run")] = True,
) -> None:
    """Forecast every eligible cell on every day of a period with a finished run, score it and
    every baseline on the same cell-days, write tables, figures and a page, log to MLflow."""
    from espb.evaluation.forecast.run import evaluate_run
    from espb.evaluation.forecast.settings import parse_cli

    s = parse_cli(
        period=period,
        snapshot=snapshot,
        calibration=calibration,
        calibration_source=calibration_source,
        baselines=baselines,
        csep_windows=csep_window,
        map_day=map_day,
        n_boot=n_boot,
        block_days=block_days,
        seed=seed,
        csep_simulations=csep_simulations,
        log=log,
    )
    rep = evaluate_run(
        run, s, cache_dir=cache_dir, tracking_uri=tracking_uri, say=_progress(time.perf_counter())
    )
    _print_summary(rep)
