"""The MLflow side of a run while it trains: opening (or re-opening) its MLflow run with its
params and tags, and the per-meta-epoch callbacks that save the snapshot and log the metrics."""

from __future__ import annotations

import torch
from omegaconf import OmegaConf

from espb.paper import FACTORS, notation
from espb.progress import Reporter
from espb.safeio import atomic_write
from espb.tracking import Tracker, flatten, provenance
from espb.training.autoencoder import AutoencoderInfo
from espb.training.inputs import RunInputs
from espb.training.plan import RunPlan


def _sweep_tags(plan: RunPlan, tracker: Tracker) -> dict[str, str]:
    tags = {str(k): str(v) for k, v in (plan.settings.tracking.tags or {}).items()}
    if plan.sweep:
        parent = tracker.ensure_parent(plan.sweep, lock_dir=plan.out_dir / "hydra")
        tags.update({"mlflow.parentRunId": parent, "sweep_name": plan.sweep, "sweep_role": "child"})
    return tags


def run_params(plan: RunPlan) -> dict:
    """Every setting of the resolved config (``run.*`` and ``tracking.*`` aside) and the six
    factors of Table 1 under their short names."""
    flat = flatten(plan.resolved)
    params = {k: v for k, v in flat.items() if not k.startswith(("run.", "tracking."))}
    params.update({f.short: OmegaConf.select(plan.cfg, f.key) for f in FACTORS})
    params["seed"] = plan.settings.training.weight_seed  # the replicate's initial-weight seed
    return params


def run_name(plan: RunPlan) -> str:
    """``<name>-<hash8> [150d, 0.35°, 4.5, MAE, 21d, OFF]``: the MLflow runs table shows run names
    by default, so a sweep's six factors are readable there without picking columns (issue 18)."""
    values = {f.short: OmegaConf.select(plan.cfg, f.key) for f in FACTORS}
    init = plan.settings.training.init_seed
    seed = f" seed {init}" if init is not None and init != plan.settings.training.seed else ""
    return f"{plan.name}-{plan.hash[:8]} {notation(values)}{seed}"


def open_tracked_run(
    plan: RunPlan,
    inputs: RunInputs,
    tracker: Tracker,
    state: dict,
    ae: AutoencoderInfo | None,
    device: str,
) -> str:
    """Start the run's MLflow run, or continue the one ``state`` names; log its params and tags.
    Updates ``state`` (run id, tracking URI, experiment, config hash) in place."""
    tags = _sweep_tags(plan, tracker)
    run_id = tracker.start(state.get("run_id"), run_name=run_name(plan), tags=tags)
    if tags:  # a resumed run too
        tracker.set_tags(tags)
    state.update(
        {
            "run_id": run_id,
            "tracking_uri": tracker.uri,
            "experiment": tracker.experiment,
            "config_hash": plan.hash,
        }
    )
    tracker.log_params(run_params(plan))
    tracker.set_tags(
        {
            "config_hash": plan.hash,
            "catalog_hash": inputs.cube.catalog_hash,
            "cube_key": inputs.cube.key,
            "autoencoder_key": ae.key if ae else "off",
            **provenance(),
            "device": device,
            "preset": plan.name,
        }
    )
    tracker.log_artifact(plan.run_dir / "config.yaml")
    return run_id


def run_callbacks(plan: RunPlan, tracker: Tracker, rep: Reporter):
    """``(on_meta_epoch, progress)`` for the trainer: save the snapshot ``weights/me_XXXX.pt``
    (logged as artifacts at the end) and log the meta-epoch's metrics; advance the bar."""
    wdir = plan.run_dir / "weights"
    wdir.mkdir(exist_ok=True)

    def on_me(me, rec, pred, state_dict):
        with atomic_write(wdir / f"me_{me.index:04d}.pt") as tmp:
            torch.save(state_dict, tmp)
        tracker.log_metrics({k: v for k, v in rec.items() if "/" in k}, step=me.index)

    def prog(done, total, rec):
        p = "test" if rec["phase"] == "test" else "val"
        text = f"{rec['date']} acc {rec[f'{p}/accuracy']:.2f} cum {rec[f'{p}/acc_cumulative']:.3f}"
        rep.bar("meta-epochs", done, total, text)

    return on_me, prog
