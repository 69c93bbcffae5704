"""The outputs of a run: the files of its run folder and what is logged to MLflow at its end.

Order matters: the ``espb_completed`` tag is set last, after every artifact and finisher, so a
run killed before it is not taken as finished and its re-run completes it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import pandas as pd

from espb.faults import failpoint
from espb.safeio import atomic_write
from espb.tracking import Tracker
from espb.training.figures import write_accuracy_figure
from espb.training.inputs import RunInputs
from espb.training.loop import LoopResult
from espb.training.plan import RunPlan
from espb.training.regions import annotations_of

if TYPE_CHECKING:
    from espb.training.run import Finisher, RunOutcome


def write_outputs(
    plan: RunPlan, inputs: RunInputs, res: LoopResult, tracker: Tracker
) -> pd.DataFrame:
    """``predictions.parquet`` (with cell-centre lat/lon) and ``metrics.csv`` in the run folder;
    the per-meta-epoch snapshots logged in one call. Returns the predictions."""
    pred = res.predictions
    if len(pred):
        pred = pred.copy()
        grid = inputs.samples.grid
        pred["lat"] = grid.lat0 + (pred["row"] + 0.5) * grid.res
        pred["lon"] = grid.lon0 + (pred["col"] + 0.5) * grid.res
        with atomic_write(plan.run_dir / "predictions.parquet") as tmp:
            pred.to_parquet(tmp, index=False)
    with atomic_write(plan.run_dir / "metrics.csv") as tmp:
        pd.DataFrame(res.records).to_csv(tmp, index=False)
    tracker.log_artifacts(plan.run_dir / "weights", "weights")  # one call: ~0.1 s per upload
    return pred


def _time_metrics(out: RunOutcome) -> dict[str, float]:
    t = out.timing
    if not t.train_steps:
        return {}
    return {
        "time/wall_s": out.wall_s,
        "time/fwd_bwd_s": t.fwd_bwd_s,
        "time/gather_s": t.gather_s,
        "time/validate_s": t.validate_s,
        "time/share_outside_fwd_bwd": 1 - t.fwd_bwd_s / out.wall_s,
        "time/train_samples_per_s": t.samples_per_s,
    }


def finish_run(out: RunOutcome, tracker: Tracker, finishers: Sequence[Finisher] = ()) -> None:
    """The end-of-run artifacts and summary metrics, the finishers, then the completion tags
    (``espb_completed_dev`` once every development meta-epoch is done, ``espb_completed`` once
    every meta-epoch is) and the run's end status (FINISHED, or KILLED for a run stopped early
    other than at the end of the development period when asked to).

    Idempotent: a run killed anywhere in here finishes on its next invocation (resumed from its
    last checkpoint with nothing left to train) with every metric logged exactly once and the
    artifacts written again over the same names."""
    run_dir = out.plan.run_dir
    if out.records:
        title = f"{out.plan.name}: accuracy per meta-epoch (Figure 5)"
        marks = annotations_of(out.plan.resolved)  # the region's large events, if any
        png = run_dir / "accuracy.png"
        fig = write_accuracy_figure(out.records, png, title=title, annotations=marks)
        tracker.log_artifact(fig)
    if len(out.predictions):
        tracker.log_artifact(run_dir / "predictions.parquet")
    tracker.log_artifact(run_dir / "metrics.csv")
    tracker.log_artifact(run_dir / "model.txt")
    step = len(out.records)
    tracker.log_metrics_once({f"summary/{k}": v for k, v in out.summary.items()}, step=step)
    tracker.log_metrics_once(_time_metrics(out), step=step)
    failpoint("finish_metrics")
    for fin in finishers:
        fin(out, tracker)
    done = {"espb_completed_dev": out.dev_completed, "espb_completed": out.completed}
    tracker.set_tags({k: "true" for k, v in done.items() if v})
    until_dev = out.plan.settings.run.until == "dev_end"
    tracker.end("FINISHED" if out.completed or (until_dev and out.dev_completed) else "KILLED")
