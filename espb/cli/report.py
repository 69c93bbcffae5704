"""``espb report``: reports of finished work (thin wiring over espb.evaluation).

espb report sweep --experiment espb-paper_432 [--tracking-uri URI] [--out DIR] [--phase dev|all]
"""

from __future__ import annotations

import datetime as dt
import math
import os
from pathlib import Path
from typing import Annotated

import typer

from espb.cli.console import err, say
from espb.errors import EspbError

report_app = typer.Typer(
    help="Reports: the parameter-search report (paper Appendix C, Figure 8).", no_args_is_help=True
)


def _out_root() -> Path:
    """``$ESPB_OUT`` or ``outputs`` (as the training runs use), absolute."""
    return Path(os.environ.get("ESPB_OUT") or "outputs").resolve()


def _expected(configs, parent_params: dict[str, str]) -> str:
    """Runs the sweep should have: the product of the grid sizes the sweep's parent run logged
    (params ``grid.<key>`` = "v1,v2,..."), else the full factorial of the levels seen."""
    grid = [v for k, v in parent_params.items() if k.startswith("grid.")]
    if grid and all("(" not in v for v in grid):
        return str(math.prod(len([x for x in v.split(",") if x.strip()]) for v in grid))
    from espb.evaluation.sweep_report import infer_levels

    n = math.prod(max(len(v), 1) for v in infer_levels(configs).values())
    return f"{n} (full factorial of the levels seen)"


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
        str, typer.Option(help="dev: the development period the search used | all")
    ] = "dev",
    log: Annotated[
        bool, typer.Option("--log/--no-log", help="log the report to the sweep's parent run")
    ] = True,
) -> None:
    """Accuracy per period of every configuration, parameter effects and Figures C.7-C.9 and 8."""
    from espb.evaluation.sweep_data import load_sweep, log_report
    from espb.evaluation.sweep_report import (
        FACTORS,
        best_configs,
        describe_config,
        period_accuracy,
        write_report,
    )
    from espb.tracking import default_uri

    if phase not in ("dev", "all"):
        raise EspbError(f"--phase must be dev or all, not {phase!r}")
    root = _out_root()
    uri = tracking_uri or default_uri(root)
    out = (out_dir or root / "reports" / experiment).resolve()
    with err.status(f"reading sweep {experiment!r} from {uri}") as st:
        configs, preds, parent = load_sweep(
            uri,
            experiment,
            out / "predictions",
            progress=lambda m: st.update(f"sweep {experiment!r}: {m}"),
        )
        st.update("computing accuracies and drawing figures")
        p = None if phase == "all" else phase
        acc = period_accuracy(preds, configs, phase=p)
        if p is not None:
            preds = preds[preds["phase"] == p]
        n_fin = int((configs["status"] == "FINISHED").sum())
        info = configs.attrs.get("parent", {})
        counts = configs["status"].value_counts()
        meta = {
            "experiment": experiment,
            "tracking URI": uri,
            "parent run": parent,
            "runs finished / expected": f"{n_fin} / {_expected(configs, info.get('params', {}))}",
            "runs by status": ", ".join(f"{k} {v}" for k, v in counts.items()),
            "phase": "dev (development period)" if p else "all (development and test)",
            "written": dt.datetime.now().isoformat(timespec="seconds"),
        }
        paths = write_report(
            acc, preds, configs, out, f"Parameter search report: {experiment}", meta
        )
        if log:
            st.update(f"logging the report to parent run {parent}")
            log_report(uri, parent, paths)
    best = best_configs(acc)
    say(
        f"sweep {experiment!r}: {len(configs)} configurations, {n_fin} finished, "
        f"{int(configs['has_predictions'].sum())} with predictions "
        f"({len(preds):,} samples, phase {phase})"
    )
    for label, row in (("best overall", best["overall"]), ("best M_lim 4.9", best["m_lim"])):
        if row is None:
            say(f"  {label}: none")
        else:
            factors = " ".join(f"{f}={row[f]}" for f in FACTORS)
            say(
                f"  {label}: {describe_config(row)} acc {row['acc_all']:.3f} (n {row['n_all']}) "
                f"run {row['run_id']} ({factors})"
            )
    say(f"wrote {len(paths)} files to {out}: {', '.join(paths)}")
    if log:
        say(f"logged them to parent run {parent} under report/")
