"""One configuration, run and logged: what ``espb-train`` and each Optuna trial do."""

from __future__ import annotations

import time
from dataclasses import dataclass

from omegaconf import DictConfig


@dataclass
class JobOutcome:
    result: object  # espb.training.experiment.ExperimentResult
    summary: dict
    wall_s: float


def log_outputs(res, summ: dict, wall: float) -> None:
    """The end-of-run artifacts and summary metrics (not for a run that had finished before);
    the ``espb_completed`` tag last, so a run killed before it is not taken as finished."""
    from espb.evaluation.figures import accuracy_figure

    if res.records:
        fig = accuracy_figure(
            res.records,
            res.run_dir / "accuracy.png",
            title=f"{res.config.get('name')}: validation accuracy per meta-epoch",
        )
        res.tracker.log_artifact(fig)
    if len(res.predictions):
        res.tracker.log_artifact(res.run_dir / "predictions.parquet")
    res.tracker.log_artifact(res.run_dir / "metrics.csv")
    res.tracker.log_artifact(res.run_dir / "model.txt")
    res.tracker.log_metrics({f"summary/{k}": v for k, v in summ.items()}, step=len(res.records))
    t = res.timing
    if t.get("train_steps"):
        res.tracker.log_metrics(
            {
                "time/wall_s": wall,
                "time/fwd_bwd_s": t["fwd_bwd_s"],
                "time/gather_s": t["gather_s"],
                "time/validate_s": t["validate_s"],
                "time/share_outside_fwd_bwd": 1 - t["fwd_bwd_s"] / wall,
                "time/train_samples_per_s": t["train_samples"]
                / max(t["fwd_bwd_s"] + t["gather_s"], 1e-9),
            },
            step=len(res.records),
        )
    if res.completed:
        res.tracker.set_tags({"espb_completed": "true"})
    res.tracker.end("FINISHED" if res.completed else "KILLED")


def run_job(cfg: DictConfig, rep=None) -> JobOutcome:
    """Run (or resume, or skip when finished before) one configuration and log it."""
    from espb.evaluation.summary import run_summary
    from espb.training.experiment import run_experiment

    t0 = time.perf_counter()
    res = run_experiment(cfg, rep)
    summ = run_summary(res.records, res.predictions) if res.records else {}
    wall = time.perf_counter() - t0
    if not res.already_done:
        log_outputs(res, summ, wall)
    return JobOutcome(res, summ, wall)
