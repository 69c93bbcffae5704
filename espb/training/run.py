"""One configuration, end to end: what ``espb-train``, every sweep job and every Optuna trial run.

:func:`run_one` is a visible sequence of named steps, each in its layer:

1. plan the run (typed settings, config hash, run folder) - :mod:`espb.training.plan`;
2. skip it if MLflow holds it as finished;
3. build its inputs (catalog -> cube -> samples -> schedule) - :mod:`espb.training.inputs`;
4. the block source, with the autoencoder's residuals when it is on -
   :mod:`espb.training.autoencoder`;
5. open the tracked MLflow run (a new one, or the one to resume) - :mod:`espb.training.tracked`;
6. train the meta-epochs (paper Section 3.3) - :mod:`espb.training.loop`;
7. write and log the outputs, run the finishers (e.g. the run report), mark the run complete -
   :mod:`espb.training.outputs`.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
import torch
from omegaconf import DictConfig

from espb.faults import failpoint
from espb.progress import Reporter
from espb.safeio import atomic_write
from espb.tracking import Tracker, tracker_for
from espb.training.autoencoder import AutoencoderInfo, block_source
from espb.training.identity import check_same_inputs
from espb.training.inputs import RunCache, RunInputs, build_inputs, input_identity
from espb.training.lock import run_lock
from espb.training.loop import LoopResult, ProgressiveTrainer, Replica, Timing, make_fabric
from espb.training.outputs import finish_run, write_outputs
from espb.training.plan import RunPlan, plan_run
from espb.training.regions import resolve_auto
from espb.training.summary import run_summary
from espb.training.tracked import open_tracked_run, run_callbacks


@dataclass
class RunOutcome:
    """What one call of :func:`run_one` did."""

    plan: RunPlan
    run_id: str
    tracking_uri: str
    experiment: str
    #: one dict of metrics per completed meta-epoch (also ``metrics.csv``)
    records: list[dict]
    #: every validation prediction (also ``predictions.parquet``)
    predictions: pd.DataFrame
    #: :func:`espb.training.summary.run_summary` of the records and predictions
    summary: dict[str, float]
    #: every meta-epoch done
    completed: bool
    wall_s: float
    timing: Timing = field(default_factory=Timing)
    #: the configuration had finished before: nothing was trained or logged
    already_done: bool = False
    device: str = "cpu"
    autoencoder: AutoencoderInfo | None = None
    #: the meta-epoch the run resumed from (-1: started fresh)
    resumed_from: int = -1
    #: every development meta-epoch done
    dev_completed: bool = False
    #: with ``training.seeds``: every replicate's outcome, this one first (else empty)
    replicates: list[RunOutcome] = field(default_factory=list)

    @property
    def run_dir(self) -> Path:
        return self.plan.run_dir


#: a step run after the outputs are logged and before the run is marked complete (e.g. the run
#: report of espb.evaluation); it may log more artifacts through the tracker
Finisher = Callable[[RunOutcome, Tracker], None]


def _state_path(plan: RunPlan) -> Path:
    return plan.run_dir / "state.json"


def read_state(plan: RunPlan) -> dict:
    """``state.json`` of the run folder (the MLflow run to resume), empty when absent."""
    p = _state_path(plan)
    return json.loads(p.read_text()) if p.exists() else {}


def write_state(plan: RunPlan, state: dict) -> None:
    with atomic_write(_state_path(plan)) as tmp:
        tmp.write_text(json.dumps(state, indent=1))


def finished_before(
    plan: RunPlan, tracker: Tracker, ident: dict[str, str], rep: Reporter, t0: float
) -> RunOutcome | None:
    """The outcome of a configuration MLflow holds as finished on the same inputs ``ident``
    (catalog hash, cube key), or None. Nothing is trained or logged for it (``run.force=true``
    trains it again)."""
    if plan.settings.run.force:
        return None
    inputs = {"cube_key": ident["cube_key"]}
    run_id = tracker.find_finished(plan.hash, inputs)
    if run_id is None and plan.settings.run.until == "dev_end":
        run_id = tracker.find_finished(plan.hash, inputs, tag="espb_completed_dev")
    if run_id is None:
        return None
    where = (
        f"in MLflow experiment '{tracker.experiment}' ({tracker.uri}), run folder {plan.run_dir}"
    )
    rep.say(
        f"this configuration (hash {plan.hash}) already finished: {where}, MLflow run {run_id}; "
        "nothing to do (run.force=true trains it again)"
    )
    m, p = plan.run_dir / "metrics.csv", plan.run_dir / "predictions.parquet"
    records = pd.read_csv(m).to_dict("records") if m.exists() else []
    pred = pd.read_parquet(p) if p.exists() else pd.DataFrame()
    summ = run_summary(records, pred) if records else {}
    return RunOutcome(
        plan,
        run_id,
        tracker.uri,
        tracker.experiment,
        records,
        pred,
        summ,
        True,
        time.perf_counter() - t0,
        already_done=True,
    )


def check_resume_inputs(
    plan: RunPlan, state: dict, ident: dict[str, str], tracker: Tracker
) -> None:
    """Refuse to continue a run folder whose earlier part was computed from other inputs (a
    re-ingested catalog under the same path): it would mix two datasets in one MLflow run.
    The inputs are those ``state.json`` records, else the tags of the MLflow run it names."""
    if not (plan.run_dir / "checkpoint.pt").exists() and not state.get("run_id"):
        return
    found = {k: state[k] for k in ident if k in state}
    if not found and state.get("run_id"):
        from mlflow.exceptions import MlflowException

        try:
            tags = tracker.client.get_run(state["run_id"]).data.tags
        except MlflowException:  # the run is not in this store: nothing to mix into
            tags = {}
        found = {k: tags[k] for k in ident if k in tags}
    check_same_inputs(plan.run_dir, found, ident)


def _discard_checkpoint(plan: RunPlan) -> None:
    import shutil

    for f in ("checkpoint.pt", "state.json"):
        (plan.run_dir / f).unlink(missing_ok=True)
    shutil.rmtree(plan.run_dir / "weights", ignore_errors=True)


def _write_config(plan: RunPlan) -> None:
    from omegaconf import OmegaConf

    plan.run_dir.mkdir(parents=True, exist_ok=True)
    with atomic_write(plan.run_dir / "config.yaml") as tmp:
        tmp.write_text(OmegaConf.to_yaml(OmegaConf.create(plan.resolved)))


def train(
    plan: RunPlan,
    inputs: RunInputs,
    source,
    fabric,
    tracker: Tracker,
    rep: Reporter,
    ident: dict[str, str],
) -> LoopResult:
    """The progressive meta-epochs (paper Section 3.3), every one logged as it completes."""
    return train_replicates([(plan, tracker)], inputs, source, fabric, rep, ident)[0]


def train_replicates(
    members: Sequence[tuple[RunPlan, Tracker]],
    inputs: RunInputs,
    source,
    fabric,
    rep: Reporter,
    ident: dict[str, str],
) -> list[LoopResult]:
    """:func:`train` for one run, or for the seed replicates ``members`` of one configuration
    (plans that differ only in ``training.init_seed``) trained together on the same batches
    (docs/training.md "Seed replicates"), each logged to its own MLflow run."""
    from espb.models.classifier import describe, n_parameters

    plan0 = members[0][0]
    s_cfg, t_cfg = plan0.settings.samples, plan0.settings.training
    if plan0.settings.run.until == "dev_end":  # the parameter search: development period only
        n_dev = sum(m.phase == "dev" for m in inputs.meta_epochs)
        t_cfg.max_meta_epochs = min(t_cfg.max_meta_epochs or n_dev, n_dev)
    replicas = []
    for k, (plan, tracker) in enumerate(members):
        on_me, prog = run_callbacks(plan, tracker, rep)
        seed = plan.settings.training.weight_seed
        replicas.append(Replica(seed, plan.run_dir, on_me, prog if k == 0 else None))
    module_kwargs = dict(lookback=s_cfg.lookback, patch=s_cfg.patch, **vars(plan0.settings.model))
    trainer = ProgressiveTrainer(
        inputs.table,
        inputs.meta_epochs,
        source,
        t_cfg,
        module_kwargs,
        fabric,
        plan0.run_dir,
        inputs.samples.grid.date,
        identity=ident,
        replicas=replicas,
    )
    model = trainer.module.model
    seeds = f", {len(members)} seed replicates fused" if len(members) > 1 else ""
    rep.say(
        f"classifier: {n_parameters(model)} parameters, layout {model.layout}, "
        f"device {fabric.device}{seeds}"
    )
    for plan, _ in members:
        with atomic_write(plan.run_dir / "model.txt") as tmp:
            tmp.write_text(describe(model) + "\n")
    results = trainer.run_all(resume=plan0.settings.run.resume)
    for (plan, tracker), res in zip(members, results, strict=True):
        if res.resumed_from >= 0:
            which = f" (replicate {plan.run_dir.name})" if len(members) > 1 else ""
            rep.say(f"resumed from the checkpoint after meta-epoch {res.resumed_from - 1}{which}")

            # records logged before a kill may be missing from MLflow: log any step not there
            have = tracker.logged_steps("train/n_samples")
            for rec in res.records:
                if rec["meta_epoch"] not in have:
                    tracker.log_metrics(
                        {k: v for k, v in rec.items() if "/" in k}, step=rec["meta_epoch"]
                    )
    return results


def run_one(
    cfg: DictConfig,
    rep: Reporter | None = None,
    cache: RunCache | None = None,
    finishers: Sequence[Finisher] = (),
) -> RunOutcome:
    """Run (or resume, or skip when finished before) one configuration and log it to MLflow.
    One process at a time per configuration (:func:`espb.training.lock.run_lock`)."""
    t0 = time.perf_counter()
    rep, cache = rep or Reporter(), cache or RunCache()
    cfg = resolve_auto(cfg, rep.say)  # region=auto: derived from the catalog (else unchanged)
    plan = plan_run(cfg)  # 1
    if plan.settings.run.threads:
        torch.set_num_threads(int(plan.settings.run.threads))
    if plan.settings.training.seeds:  # seed replicates, fused (espb.training.replicates)
        from espb.training.replicates import run_replicates

        return run_replicates(cfg, rep, cache, finishers, t0)
    tracker = tracker_for(plan.settings.tracking, plan.out_dir, plan.name)
    with run_lock(plan.run_dir, plan.settings.run.on_lock, rep.say):
        ident = input_identity(plan, rep, cache)
        done = finished_before(plan, tracker, ident, rep, t0)  # 2
        if done is not None:
            return done
        return _train_and_log(plan, tracker, ident, rep, cache, finishers, t0)


def prepare_folder(plan: RunPlan, tracker: Tracker, ident: dict[str, str]) -> dict:
    """The run folder before training: a fresh start discards the old checkpoint; a resume
    checks it was computed from the same inputs; the config is written. Returns the state."""
    opts = plan.settings.run
    if opts.force or not opts.resume:  # a fresh start is a new MLflow run, never the old one
        _discard_checkpoint(plan)
    state = read_state(plan)
    check_resume_inputs(plan, state, ident, tracker)
    _write_config(plan)
    return state


def _train_and_log(plan, tracker, ident, rep, cache, finishers, t0) -> RunOutcome:
    state = prepare_folder(plan, tracker, ident)
    inputs = build_inputs(plan, rep, cache)  # 3

    failpoint("after_inputs")
    fabric = make_fabric(plan.settings.training)
    source, ae = block_source(plan, inputs, fabric.device, rep)  # 4
    run_id = open_tracked_run(plan, inputs, tracker, state, ae, str(fabric.device))  # 5
    state.update(ident)
    write_state(plan, state)
    failpoint("after_open_run")
    try:
        res = train(plan, inputs, source, fabric, tracker, rep, ident)  # 6
    except KeyboardInterrupt:  # Ctrl-C, or SIGTERM (a scheduler's stop: espb-train turns it)
        tracker.end("KILLED")  # not left RUNNING; the checkpoint resumes it
        raise

    return conclude(plan, tracker, state, inputs, res, run_id, fabric, ae, finishers, t0)


def conclude(plan, tracker, state, inputs, res, run_id, fabric, ae, finishers, t0) -> RunOutcome:
    """After training: the run's state, outputs, summary and finishers (step 7)."""
    # every invocation's time counts: a resumed run reports the time of all its parts
    wall = float(state.get("wall_s", 0.0)) + time.perf_counter() - t0
    state.update(
        {
            "completed": res.completed,
            "meta_epochs_done": len(res.records),
            "n_meta_epochs": len(inputs.meta_epochs),
            "wall_s": wall,
        }
    )
    write_state(plan, state)
    pred = write_outputs(plan, inputs, res, tracker)  # 7
    failpoint("after_outputs")
    summ = run_summary(res.records, pred) if res.records else {}
    n_dev = sum(m.phase == "dev" for m in inputs.meta_epochs)
    out = RunOutcome(
        plan,
        run_id,
        tracker.uri,
        tracker.experiment,
        res.records,
        pred,
        summ,
        res.completed,
        wall,
        res.timing,
        device=str(fabric.device),
        autoencoder=ae,
        resumed_from=res.resumed_from,
        dev_completed=len(res.records) >= n_dev,
    )
    finish_run(out, tracker, finishers)
    return out
