"""What a rate-forecast run leaves behind: the run folder (predictions, per-fold metrics, pyCSEP
table, alpha map, figures, summary.json) and its MLflow run (params, per-fold metrics at step =
test year, summary metrics, the files as artifacts), through espb's
:class:`~espb.tracking.Tracker`.
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict
from pathlib import Path

import pandas as pd
import yaml

from espb.rates import figures as fg
from espb.tracking import flatten, tracker_for

#: per-fold metrics logged to MLflow under fold/ (step: the fold's year, else its index)
FOLD_KEYS = ("deviance", "nll", "crps", "n")


def _figures(run_dir: Path, s, prep, folds, ev, label: str) -> list[Path]:
    out = run_dir / "figures"
    cells = fg.pick_cells(prep.grid, folds[0].start, s.figures.cells, s.figures.n_cells)
    series = fg.series_data(ev.per_row, prep.grid, cells, s.figures.interval)
    series.to_csv(run_dir / "series.csv", index=False)
    paths = [
        fg.save(
            fg.plot_series(series, f"{label}: observed vs forecast", s.figures.interval),
            out / "series.png",
        ),
        fg.save(
            fg.plot_alpha_map(ev.alpha, f"{label}: dispersion per cell"), out / "alpha_map.png"
        ),
        fg.save(fg.plot_pit(ev.pit, f"{label}: randomised PIT"), out / "pit.png"),
    ]
    dev = ev.per_fold.assign(model=label, year=ev.per_fold["label"])
    paths.append(
        fg.save(
            fg.plot_deviance_by_year(dev, f"{label}: Poisson deviance per fold"),
            out / "deviance_by_year.png",
        )
    )
    return paths


def _step(label: str, index: int) -> int:
    return int(label) if str(label).isdigit() else int(index)


def log_run(
    cfg, s, resolved, h, run_dir, prep, folds, pred, infos, ev, lrt, timing, t_start, commit
):
    """Write the run folder and the MLflow run; return the :class:`RateResult`."""
    from espb.rates.experiment import SUMMARY, RateResult

    label = s.label
    (run_dir / "config.yaml").write_text(yaml.safe_dump(resolved, sort_keys=False))
    ev.per_row.to_parquet(run_dir / "predictions.parquet", index=False)
    fold_tab = ev.per_fold.merge(
        pd.DataFrame(
            [{k: v for k, v in i.items() if k not in ("history", "notes", "label")} for i in infos]
        ),
        on="fold",
    )
    fold_tab.to_csv(run_dir / "folds.csv", index=False)
    hist = [dict(h_, fold=i["fold"]) for i in infos for h_ in i.get("history", [])]
    if hist:
        pd.DataFrame(hist).to_csv(run_dir / "training_history.csv", index=False)
    ev.alpha.to_dataframe().reset_index().to_csv(run_dir / "alpha_map.csv", index=False)
    if ev.csep_periods is not None:
        ev.csep_periods.to_csv(run_dir / "csep_periods.csv", index=False)
    fig_paths = _figures(run_dir, s, prep, folds, ev, label)
    metrics = ev.metrics()
    metrics.update({f"lrt/{k}": float(v) for k, v in asdict(lrt).items()})
    metrics.update({f"time/{k}": v for k, v in timing.items()})
    notes = [n for i in infos for n in i.get("notes", [])]
    tracker = tracker_for(dict(cfg.get("tracking", {}) or {}), cfg.out_dir, str(cfg.name))
    tags = {"config_hash": h, "rates_model": label, "git_commit": commit, "espb_layer": "rates"}
    tags.update({str(k): str(v) for k, v in (cfg.get("tracking", {}).get("tags") or {}).items()})
    run_id = tracker.start(
        run_name=f"{label} {s.data.cell_deg:g}deg {s.data.period_days}d", tags=tags
    )
    params = flatten(s.to_dict())
    params.update(
        {
            "model_label": label,
            "name": cfg.name,
            "catalog": json.dumps(dict(cfg.catalog)),
            **{f"counts.{k}": v for k, v in prep.grid.report.items()},
        }
    )
    tracker.log_params(params)
    for _, row in fold_tab.iterrows():
        step = _step(row["label"], row["fold"])
        fm = {f"fold/{k}": row[k] for k in fold_tab.columns if k not in ("fold", "label")}
        tracker.log_metrics(fm, step=step)
    for i in infos:
        for h_ in i.get("history", []):
            tracker.log_metrics({f"train/fold{i['fold']}_val_nll": h_["val_nll"]}, step=h_["epoch"])
    metrics["time/total_s"] = time.perf_counter() - t_start
    tracker.log_metrics(metrics, step=0)
    summary = {
        "label": label,
        "name": str(cfg.name),
        "config_hash": h,
        "settings": s.to_dict(),
        "metrics": metrics,
        "folds": fold_tab.to_dict(orient="records"),
        "notes": notes,
        "counts": prep.grid.report,
        "cube": prep.info,
        "run_id": run_id,
        "tracking_uri": tracker.uri,
        "experiment": tracker.experiment,
        "git_commit": commit,
    }
    (run_dir / SUMMARY).write_text(json.dumps(summary, indent=1, default=str))
    for p in [*fig_paths]:
        tracker.log_artifact(p, "figures")
    for name in (
        "predictions.parquet",
        "folds.csv",
        "alpha_map.csv",
        "series.csv",
        "config.yaml",
        "training_history.csv",
        "csep_periods.csv",
        SUMMARY,
    ):
        if (run_dir / name).exists():
            tracker.log_artifact(run_dir / name)
    tracker.set_tags({"espb_completed": "true"})
    tracker.end("FINISHED")
    return RateResult(
        run_dir,
        label,
        summary,
        ev,
        lrt,
        run_id,
        tracker.uri,
        tracker.experiment,
        metrics["time/total_s"],
        fold_info=infos,
    )


def finished_result(run_dir: Path, label: str, t_start: float):
    """A configuration that finished before: its summary, nothing recomputed or re-logged."""
    from espb.rates.experiment import SUMMARY, RateResult

    summ = json.loads((run_dir / SUMMARY).read_text())
    return RateResult(
        run_dir,
        summ.get("label", label),
        summ,
        None,
        None,
        summ.get("run_id"),
        summ.get("tracking_uri"),
        summ.get("experiment"),
        time.perf_counter() - t_start,
        already_done=True,
    )
