"""``espb report sweep``: read a sweep from MLflow, write its report, log it to the parent run.

Model selection uses the development period only (paper Section 3.4: the search covers
2001-2019): the best configurations come from the ``phase == "dev"`` predictions whatever
``phase`` the tables and figures show. ``phase="all"`` pools development and test predictions
for the tables and figures, labelled so (:data:`~espb.evaluation.sweep.writer.POOLED`).
When the sweep's runs logged development-period forecast metrics (``forecast.enabled=true``),
the report also ranks the configurations by forecast skill beside accuracy
(:mod:`~espb.evaluation.sweep.forecast_rank`).
With seed replicates (``training.seeds``: runs of one configuration differing in the param
``seed`` only), the selection and the tables use seed means and the report adds the seed noise
(:mod:`~espb.evaluation.sweep.seeds`); a sweep with one seed per configuration reports exactly
as before (its ``seed`` column is dropped).
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from espb.errors import EspbError
from espb.evaluation.sweep.analysis import (
    SELECTION_PHASE,
    best_configs,
    period_accuracy,
    top_configs,
)
from espb.evaluation.sweep.data import load_sweep, log_report
from espb.evaluation.sweep.factors import infer_levels
from espb.evaluation.sweep.forecast_rank import ForecastRanking, forecast_ranking
from espb.evaluation.sweep.seeds import SeedNoise, has_replicates, seed_means, seed_noise
from espb.evaluation.sweep.writer import write_report

PHASES = ("dev", "all")


def expected_runs(configs: pd.DataFrame, parent_params: Mapping[str, str]) -> str:
    """Runs the sweep should have: the product of the grid sizes the sweep's parent run logged
    (params ``grid.<key>`` = "v1,v2,..."), else the full factorial of the levels seen."""
    grid = [v for k, v in parent_params.items() if k.startswith("grid.")]
    if grid and all("(" not in v for v in grid):
        return str(math.prod(len([x for x in v.split(",") if x.strip()]) for v in grid))
    n = math.prod(max(len(v), 1) for v in infer_levels(configs).values())
    return f"{n} (full factorial of the levels seen)"


@dataclass
class SweepReport:
    """What :func:`report_sweep` read and wrote. ``best``: the selected configurations
    (development period; :func:`~espb.evaluation.sweep.analysis.best_configs`)."""

    experiment: str
    parent: str
    phase: str
    configs: pd.DataFrame
    n_finished: int
    n_samples: int
    best: dict[str, dict[str, Any] | None]
    paths: dict[str, Path]
    logged: bool
    #: forecast skill beside accuracy (None: no run logged development forecast metrics)
    forecast: ForecastRanking | None = None
    #: the seed noise (None: one seed per configuration)
    seeds: SeedNoise | None = None


@dataclass
class SweepTables:
    """The accuracy tables of a sweep, one row per run: ``selection`` (development period,
    selects), ``acc`` and ``shown`` (the predictions) of the report's phase, and ``seeds`` (the
    seed noise of ``selection``; None with one seed per configuration)."""

    selection: pd.DataFrame
    acc: pd.DataFrame
    shown: pd.DataFrame
    seeds: SeedNoise | None

    @property
    def ranked(self) -> pd.DataFrame:
        """What the best configurations are chosen from: ``selection``, averaged over seeds
        when there are replicates."""
        return self.selection if self.seeds is None else seed_means(self.selection)


def sweep_tables(configs: pd.DataFrame, preds: pd.DataFrame, phase: str) -> SweepTables:
    """The accuracies of ``configs`` (one row per run, from :func:`load_sweep`) on ``preds``:
    the development period for the selection, ``phase`` for the tables. Without seed
    replicates the ``seed`` column is dropped, so that the report is what it was before seeds."""
    rep = has_replicates(configs)
    if not rep:
        configs = configs.drop(columns=["seed"], errors="ignore")
    selection = period_accuracy(preds, configs, phase=SELECTION_PHASE)
    if phase == "dev":
        acc, shown = selection, preds[preds["phase"] == SELECTION_PHASE]
    else:
        acc, shown = period_accuracy(preds, configs, phase=None), preds
    return SweepTables(selection, acc, shown, seed_noise(selection) if rep else None)


def _meta(experiment: str, uri: str, parent: str, configs: pd.DataFrame, phase: str) -> dict:
    n_fin = int((configs["status"] == "FINISHED").sum())
    info = configs.attrs.get("parent", {})
    counts = configs["status"].value_counts()
    return {
        "experiment": experiment,
        "tracking URI": uri,
        "parent run": parent,
        "runs finished / expected": f"{n_fin} / {expected_runs(configs, info.get('params', {}))}",
        "runs by status": ", ".join(f"{k} {v}" for k, v in counts.items()),
        "phase": "dev (development period)" if phase == "dev" else "all (development and test)",
        "written": dt.datetime.now().isoformat(timespec="seconds"),
    }


def _links(uri: str, experiment: str, configs: pd.DataFrame, selection: pd.DataFrame) -> dict:
    """MLflow training-view links of the sweep (runs table, parent, compare view of the 5 best
    by development accuracy), as report header lines."""
    from espb.tracking import sweep_links

    name = str(configs.attrs.get("parent", {}).get("tags", {}).get("sweep_name", ""))
    best = [str(r) for r in top_configs(selection, "T_all", 5)["run_id"] if r]
    return {f"MLflow {k}": v for k, v in sweep_links(uri, experiment, name, best).items()}


def report_sweep(
    tracking_uri: str,
    experiment: str,
    out_dir: Path,
    phase: str = "dev",
    log: bool = True,
    progress: Callable[[str], None] | None = None,
) -> SweepReport:
    """Read the sweep ``experiment`` (predictions downloaded to ``out_dir/predictions``), write
    its report to ``out_dir`` and, with ``log``, log it to the parent run under ``report/``.
    ``phase``: ``dev`` (the development period the search used) or ``all`` (development and
    test pooled in the tables and figures; the selection stays on the development period)."""
    if phase not in PHASES:
        raise EspbError(f"--phase must be dev or all, not {phase!r}")
    say = progress or (lambda msg: None)
    configs, preds, parent = load_sweep(tracking_uri, experiment, out_dir / "predictions", say)
    say("computing accuracies and drawing figures")
    t = sweep_tables(configs, preds, phase)
    meta = _meta(experiment, tracking_uri, parent, configs, phase)
    meta.update(_links(tracking_uri, experiment, configs, t.ranked))

    ranking = forecast_ranking(t.selection, configs.attrs.get("forecast", {}))
    paths = write_report(
        t.acc,
        t.shown,
        configs,
        out_dir,
        f"Parameter search report: {experiment}",
        meta,
        selection=None if phase == "dev" else t.selection,
        forecast=ranking,
        seeds=t.seeds,
    )
    if log:
        say(f"logging the report to parent run {parent}")
        log_report(tracking_uri, parent, paths)
    n_fin = int((configs["status"] == "FINISHED").sum())
    return SweepReport(
        experiment,
        parent,
        phase,
        configs,
        n_fin,
        len(t.shown),
        best_configs(t.ranked),
        paths,
        log,
        ranking,
        t.seeds,
    )
